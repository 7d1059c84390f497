"""SpotifySearch and SpotifyEnrich against the Spotify sandbox over real HTTP: modes, quota,
failures, kill and resume, and the answer store shared by every partition."""

from __future__ import annotations

import glob
import gzip
import json
import os
import subprocess
import time
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import luigi
import pytest

from pipeline import staging
from pipeline.sources.spotify import client as client_module
from pipeline.sources.spotify.client import MissingCredentialsError, QuotaExhaustedError
from pipeline.sources.spotify.crosswalk import CrosswalkError, load_crosswalk
from pipeline.sources.spotify.enrich import SpotifyTransientError
from pipeline.sources.spotify.gateway import MAX_CONSECUTIVE_FAILURES
from pipeline.sources.spotify.tasks import SpotifyEnrich, SpotifySearch
from pipeline.tasks import EnrichAll, ExtractPartition
from tests.conftest import PROJECT_ROOT, FakeClock, kill_9_when, luigi_command, run_luigi, stage_folder, stored_answers


def read_lines(path):
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


@pytest.fixture
def spotify_pipeline(local_pipeline, spotify_at):
    """``spotify_at`` on the sample's local staging; ``.staging`` is the staging root."""
    def start(**options):
        return spotify_at(**options)
    start.staging = local_pipeline
    return start


def outputs(staging_root, partition):
    folder = stage_folder(staging_root, "spotify", partition)
    manifest = staging.ManifestTarget(folder).read()[0]
    return manifest, {name: read_lines(os.path.join(folder, name)) for name in
                      ("matches.jsonl.gz", "tracks.jsonl.gz", "artists.jsonl.gz", "audio_features.jsonl.gz")}


def parse_q(path):
    """The search query of a logged sandbox request."""
    return parse_qs(urlsplit(path).query)["q"][0]


def assert_matches_agree_with_ground_truth(matches, catalog):
    for row in matches:
        truth = catalog.ground_truth[row["track_id"]]
        if row["status"] == "matched":
            assert row["spotify_track_id"] == truth, row
        if truth is None:
            assert row["spotify_track_id"] is None, row
    held = [r for r in matches if catalog.ground_truth[r["track_id"]]]
    assert sum(r["status"] == "matched" for r in held) >= 0.9 * len(held)


def test_development_mode_uses_search_only_and_records_what_it_could_not_see(spotify_pipeline, catalog):
    server = spotify_pipeline(mode="development")
    assert run_luigi([SpotifyEnrich(partition="A/A")]).status == luigi.LuigiStatusCode.SUCCESS
    manifest, out = outputs(spotify_pipeline.staging, "A/A")
    songs = len(out["matches.jsonl.gz"])
    assert songs == manifest["songs"] == sum(manifest["statuses"].values()) > 0
    assert_matches_agree_with_ground_truth(out["matches.jsonl.gz"], catalog)
    caps = manifest["capabilities"]
    assert caps["artists_batch"]["available"] is False and caps["audio_features"]["available"] is False
    assert caps["artist_details"]["available"] is False
    # Fields the app cannot see are null, not zero; the search hit still gave ISRC, album and artists.
    assert out["tracks.jsonl.gz"] and all(t["popularity"] is None and t["isrc"] for t in out["tracks.jsonl.gz"])
    assert all(a["followers"] is None and a["name"] for a in out["artists.jsonl.gz"])
    assert out["audio_features.jsonl.gz"] == []
    requests = server.state.stats()["requests"]
    # One probe each for batch artists, a single artist and audio features; the rest is search.
    assert requests.get("artists") == 1 and requests.get("artist") == 1 and requests.get("audio-feature", 0) == 0
    assert requests["search"] <= 2 * songs
    assert manifest["requests"]["this_run"]["search"] == requests["search"]


def test_extended_mode_fetches_artists_and_audio_features_in_batches(spotify_pipeline, catalog):
    server = spotify_pipeline(mode="extended")
    assert run_luigi([EnrichAll()]).status == luigi.LuigiStatusCode.SUCCESS
    requests = server.state.stats()["requests"]
    assert "artist" not in requests and "audio-feature" not in requests  # batches only
    all_matches = []
    for partition in ("A/A", "A/B", "B/A"):
        manifest, out = outputs(spotify_pipeline.staging, partition)
        assert all(c["available"] for k, c in manifest["capabilities"].items() if k != "tracks_batch")
        tracks = out["tracks.jsonl.gz"]
        assert tracks and all(t["popularity"] is not None for t in tracks)
        assert {f["spotify_track_id"] for f in out["audio_features.jsonl.gz"]} == {t["spotify_track_id"] for t in tracks}
        assert all(a["followers"] is not None and a["genres"] is not None for a in out["artists.jsonl.gz"])
        all_matches += out["matches.jsonl.gz"]
    assert_matches_agree_with_ground_truth(all_matches, catalog)
    # Unicode names: every held song by an artist with a non-ASCII name is found.
    unicode_rows = [r for r in all_matches if has_non_ascii_artist(catalog, r["track_id"])]
    assert unicode_rows and all(r["status"] == "matched" for r in unicode_rows)


def has_non_ascii_artist(catalog, track_id):
    spotify_id = catalog.ground_truth[track_id]
    return spotify_id is not None and any(not catalog.artists[a].name.isascii()
                                          for a in catalog.tracks[spotify_id].artist_ids)


def test_a_finished_partition_is_not_asked_again(spotify_pipeline):
    server = spotify_pipeline(mode="development")
    run_luigi([SpotifyEnrich(partition="A/A")])
    before = dict(server.state.stats()["requests"])
    assert run_luigi([SpotifyEnrich(partition="A/A")]).status == luigi.LuigiStatusCode.SUCCESS
    assert server.state.stats()["requests"] == before


def test_quota_stops_at_once_with_the_resume_time_and_the_rerun_repeats_nothing(spotify_pipeline, catalog, monkeypatch):
    server = spotify_pipeline(mode="development", daily_quota=12)
    run_luigi([ExtractPartition(partition="A/A")])
    task = SpotifySearch(partition="A/A")
    slept = []
    monkeypatch.setattr(client_module, "time", SimpleNamespace(sleep=slept.append, monotonic=time.monotonic))
    with pytest.raises(QuotaExhaustedError, match=r"rerun after \d{4}-\d\d-\d\d \d\d:\d\d UTC"):
        task.run()
    assert slept == []  # stopped at once instead of sleeping out the Retry-After
    monkeypatch.setattr(client_module, "time", time)
    assert not task.complete()
    assert not glob.glob(os.path.join(spotify_pipeline.staging, "spotify*", "A", "A", "*", "*"))
    journaled = {e["key"].split("|", 1)[1] for e in stored_answers(spotify_pipeline.staging) if e["kind"] == "search"}
    assert len(journaled) == 12
    asked_before = len(server.state.log)

    server.state.daily_quota = None  # the next day
    assert run_luigi([SpotifyEnrich(partition="A/A")]).status == luigi.LuigiStatusCode.SUCCESS
    asked_after = [path for endpoint, path in server.state.log[asked_before:] if endpoint == "search"]
    queries_after = [parse_q(p) for p in asked_after]
    assert not journaled & set(queries_after)
    assert len(queries_after) == len(set(queries_after))
    manifest, out = outputs(spotify_pipeline.staging, "A/A")
    assert manifest["requests"]["answered_from_store"] >= 12
    assert_matches_agree_with_ground_truth(out["matches.jsonl.gz"], catalog)


def test_short_rate_limits_are_waited_out_server_errors_retried_and_every_request_counted(
        spotify_pipeline, luigi_config, catalog, monkeypatch, caplog):
    clock = FakeClock()
    server = spotify_pipeline(mode="development", rate_limit=10, rate_window_s=1, fail_rate=0.15, seed=2,
                              clock=clock.monotonic, expire_tokens_every=15)
    monkeypatch.setattr(client_module, "time", SimpleNamespace(sleep=clock.sleep, monotonic=clock.monotonic))
    luigi_config.set("spotify", retry_backoff=0.01)
    assert run_luigi([SpotifyEnrich(partition="A/B")]).status == luigi.LuigiStatusCode.SUCCESS
    responses = server.state.stats()["responses"]
    manifest, out = outputs(spotify_pipeline.staging, "A/B")
    requests = manifest["requests"]
    assert responses.get("429", 0) == requests["rate_limited"] > 0  # every 429 waited out once, none given up on
    assert sum(v for k, v in responses.items() if k.startswith("5")) > 0 and responses.get("401", 0) > 0
    # Every request the sandbox received is counted: retried 5xx, 429s, 401s and token requests too.
    received = server.state.stats()["requests"]
    assert requests["sent"] == received and requests["sent_total"] == sum(received.values())
    assert requests["sent_total"] > requests["this_run_total"]
    # After the first 429 the client paces itself instead of running into the limit again and again.
    assert requests["rate_limited"] < requests["sent_total"] / 10
    assert any("Spotify rate limit" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)
    assert_matches_agree_with_ground_truth(out["matches.jsonl.gz"], catalog)
    assert all(r["status"] != "error" for r in out["matches.jsonl.gz"])


def test_an_outage_stops_the_partition_early_and_keeps_the_answers(spotify_pipeline, luigi_config):
    server = spotify_pipeline(mode="development")
    luigi_config.set("spotify", retry_backoff=0.01)
    run_luigi([ExtractPartition(partition="A/A")])
    task = SpotifySearch(partition="A/A")
    answered = {"n": 0}

    def outage_after_some_answers(done, total, message):
        answered["n"] = len(server.state.log)
        server.state.fail_rate = 1.0
    task.report_progress = outage_after_some_answers
    with pytest.raises(SpotifyTransientError,
                       match=f"partition A/A: stopped after {MAX_CONSECUTIVE_FAILURES} consecutive failed requests .*rerun"):
        task.run()
    failing = len(server.state.log) - answered["n"]
    # Five requests in a row failed (each after its own retries), then the partition stopped.
    assert 0 < failing <= MAX_CONSECUTIVE_FAILURES * 5
    assert not task.complete()
    journaled = {e["key"] for e in stored_answers(spotify_pipeline.staging) if e["kind"] == "search"}
    answered_before_outage = {f"10|{parse_q(p)}" for e, p in server.state.log[:answered["n"]] if e == "search"}
    assert answered_before_outage and answered_before_outage <= journaled
    server.state.fail_rate = 0.0
    log_before = len(server.state.log)
    luigi.task_register.Register.clear_instance_cache()  # a fresh task, without the outage hook
    assert run_luigi([SpotifyEnrich(partition="A/A")]).status == luigi.LuigiStatusCode.SUCCESS
    again = {f"10|{parse_q(p)}" for e, p in server.state.log[log_before:] if e == "search"}
    assert not journaled & again


def test_an_expired_token_mid_partition_is_refreshed(spotify_pipeline):
    server = spotify_pipeline(mode="development", latency_ms=20)
    run_luigi([ExtractPartition(partition="A/A")])
    task = SpotifySearch(partition="A/A")
    calls = {"n": 0}

    def expire_midway(done, total, message):
        calls["n"] += 1
        server.state.expire_tokens()
    task.report_progress = expire_midway
    task.run()
    assert calls["n"] >= 1 and server.state.stats()["requests"]["token"] >= 2
    assert server.state.stats()["responses"].get("401", 0) >= 1
    assert task.complete()


@pytest.mark.slow
def test_kill_9_mid_partition_then_resume_repeats_no_stored_request(spotify_pipeline, sample_root, tmp_path):
    server = spotify_pipeline(mode="development", latency_ms=40)
    staging_root = spotify_pipeline.staging
    run_luigi([ExtractPartition(partition="A/A")])
    env = dict(os.environ, MUSIC_ETL_MSD_ROOT=sample_root, MUSIC_ETL_STAGING_ROOT=staging_root,
               MUSIC_ETL_SPOTIFY_API_URL=f"{server.url}/v1/", MUSIC_ETL_SPOTIFY_TOKEN_URL=f"{server.url}/api/token",
               SPOTIPY_CLIENT_ID="sandbox-client", SPOTIPY_CLIENT_SECRET="sandbox-secret")
    env.pop("LUIGI_CONFIG_PATH", None)
    command = luigi_command("SpotifyEnrich", "A/A")
    kill_9_when(command, env, ready=lambda: len(stored_answers(staging_root)) >= 8)
    journaled = {(e["kind"], e["key"]) for e in stored_answers(staging_root)}
    assert len(journaled) >= 8
    assert not glob.glob(os.path.join(staging_root, "spotify*", "A", "A", "v-*", staging.MANIFEST_GLOB))
    asked_before = len(server.state.log)

    rerun = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    searches_after = [parse_q(p) for e, p in server.state.log[asked_before:] if e == "search"]
    journaled_queries = {key.split("|", 1)[1] for kind, key in journaled if kind == "search"}
    assert searches_after and not journaled_queries & set(searches_after)
    manifest, _ = outputs(staging_root, "A/A")
    assert manifest["requests"]["answered_from_store"] >= len(journaled)


def test_crosswalk_songs_skip_search_and_are_verified_by_id(spotify_pipeline, luigi_config, catalog, tmp_path):
    server = spotify_pipeline(mode="development")
    run_luigi([ExtractPartition(partition="A/A")])
    songs = read_lines(os.path.join(stage_folder(spotify_pipeline.staging, "msd", "A/A"), "songs.jsonl.gz"))
    held = [s for s in songs if catalog.ground_truth[s["track_id"]]][:6]
    stale = held.pop()  # its crosswalk id no longer exists: verified, refused, then searched
    path = tmp_path / "crosswalk.csv"
    lines = ["msd_id,spotify_track_id"] + [f"{s['song_id']},spotify:track:{catalog.ground_truth[s['track_id']]}" for s in held]
    lines.append(f"{stale['track_id']},https://open.spotify.com/track/{'Z' * 22}")
    path.write_text("\n".join(lines) + "\n")
    luigi_config.set("spotify", crosswalk=path)
    assert run_luigi([SpotifyEnrich(partition="A/A")]).status == luigi.LuigiStatusCode.SUCCESS
    manifest, out = outputs(spotify_pipeline.staging, "A/A")
    by_track = {r["track_id"]: r for r in out["matches.jsonl.gz"]}
    assert all(by_track[s["track_id"]]["method"] == "crosswalk" for s in held)
    assert by_track[stale["track_id"]]["method"] == "search"
    assert by_track[stale["track_id"]]["spotify_track_id"] == catalog.ground_truth[stale["track_id"]]
    assert manifest["crosswalk"] == {"songs_with_ids": len(held) + 1, "verified": len(held)}
    assert manifest["capabilities"]["tracks_batch"]["available"] is False  # 403 in development mode → single lookups
    requests = server.state.stats()["requests"]
    assert requests["tracks"] == 1 and requests["track"] == len(held) + 1
    searched = {parse_q(p) for e, p in server.state.log if e == "search"}
    assert len(searched) <= 2 * (len(songs) - len(held))


def test_crosswalk_formats_and_errors(tmp_path):
    archive = tmp_path / "echonest" / "S" / "O"
    archive.mkdir(parents=True)
    (archive / "SOAAAAA12A8C000001.json").write_text(json.dumps({"response": {"status": {"code": 0}, "songs": [
        {"id": "SOAAAAA12A8C000001", "tracks": [
            {"catalog": "spotify", "foreign_id": "spotify:track:" + "a" * 22, "id": "TRAAAAA128F0000001"},
            {"catalog": "spotify-WW", "foreign_id": "spotify-WW:track:" + "b" * 22},
            {"catalog": "7digital-US", "foreign_id": "7digital-US:track:123"}]}]}}))
    assert load_crosswalk(str(tmp_path / "echonest")) == {"SOAAAAA12A8C000001": ["a" * 22, "b" * 22]}
    tsv = tmp_path / "crosswalk.tsv"
    tsv.write_text(f"TRAAAAA128F0000001\t{'c' * 22}\n")
    assert load_crosswalk(str(tsv)) == {"TRAAAAA128F0000001": ["c" * 22]}
    bad = tmp_path / "bad.csv"
    bad.write_text(f"SOAAAAA12A8C000001,{'c' * 22}\nSOAAAAA12A8C000002,not-an-id\n")
    with pytest.raises(CrosswalkError, match=r"bad.csv, line 2: .*not-an-id"):
        load_crosswalk(str(bad))


def test_missing_credentials_fail_before_any_request_and_stage_nothing(spotify_pipeline, monkeypatch):
    server = spotify_pipeline(mode="development")
    monkeypatch.delenv("SPOTIPY_CLIENT_SECRET")
    run_luigi([ExtractPartition(partition="A/A")])
    with pytest.raises(MissingCredentialsError, match="SPOTIPY_CLIENT_SECRET"):
        SpotifySearch(partition="A/A").run()
    assert server.state.stats()["requests"] == {}
    assert not glob.glob(os.path.join(spotify_pipeline.staging, "spotify*", "A", "A"))


def test_s3_answer_store_survives_a_quota_stop(spotify_pipeline, s3_bucket, luigi_config, catalog):
    bucket, client = s3_bucket
    luigi_config.set("staging", root=f"s3://{bucket}/staging")
    server = spotify_pipeline(mode="extended", daily_quota=13)
    run_luigi([ExtractPartition(partition="B/A")])
    with pytest.raises(QuotaExhaustedError):
        SpotifySearch(partition="B/A").run()
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix="answers/spotify/")["Contents"]
            if "/_ledger/" not in o["Key"]]
    assert len(keys) == 13  # one object per answer, each durable the moment it arrived
    assert "Contents" not in client.list_objects_v2(Bucket=bucket, Prefix="staging/spotify-search/B/A/")
    asked_before = len(server.state.log)
    server.state.daily_quota = None
    assert run_luigi([SpotifyEnrich(partition="B/A")]).status == luigi.LuigiStatusCode.SUCCESS
    searches_before = [parse_q(p) for e, p in server.state.log[:asked_before] if e == "search"]
    searches_after = [parse_q(p) for e, p in server.state.log[asked_before:] if e == "search"]
    # 13 answered and stored; the 14th was refused (429), so it is the one asked again.
    assert len(searches_before) == 14
    assert not set(searches_before[:13]) & set(searches_after) and searches_before[13] in searches_after
    folder = SpotifyEnrich(partition="B/A").folder.split(f"s3://{bucket}/", 1)[1]
    body = client.get_object(Bucket=bucket, Key=f"{folder}/matches.jsonl.gz")["Body"].read()
    rows = [json.loads(line) for line in gzip.decompress(body).splitlines()]
    assert_matches_agree_with_ground_truth(rows, catalog)
