"""The Deezer sandbox and client over real HTTP: shapes, HTTP-200 error objects, pacing across processes."""

from __future__ import annotations

import glob
import gzip
import json
import os
import subprocess
import sys
from urllib.parse import parse_qs, unquote, urlsplit

import luigi
import pytest
import requests

from pipeline.sources.deezer.client import (
    BUSY,
    MAX_QUOTA_WAITS,
    NO_DATA,
    QUOTA,
    DeezerBusyError,
    DeezerClient,
    DeezerQuotaError,
    DeezerRequestError,
    HostPacer,
)
from pipeline.sources.deezer.tasks import DeezerEnrich
from pipeline.sources.spotify.tasks import SpotifyEnrich
from pipeline.standins.spotify_catalog import load_identities
from tests.conftest import (
    PROJECT_ROOT,
    FakeClock,
    kill_9_when,
    luigi_command,
    run_luigi,
    stage_folder,
    stored_answers,
    subprocess_env_for_deezer,
)


def client_for(server, tmp_path, clock=None, **pacing):
    clock = clock or FakeClock()
    pacer = HostPacer(str(tmp_path / "pace"), clock=clock.monotonic, sleep=clock.sleep, **pacing)
    return DeezerClient(api_url=f"{server.url}/", pacer=pacer, sleep=clock.sleep, backoff_factor=0.01)


def test_catalog_follows_spotifys_with_deezers_own_facts(deezer_catalog, catalog):
    truth = deezer_catalog.ground_truth
    assert set(truth) == set(catalog.ground_truth)
    both = [t for t in truth if truth[t] and catalog.ground_truth[t]]
    same_isrc = [t for t in both if deezer_catalog.tracks[truth[t]].isrc == catalog.tracks[catalog.ground_truth[t]].isrc]
    assert 0.8 <= len(same_isrc) / len(both) < 1.0  # most pairs share the recording's ISRC, not all
    assert any(truth[t] and not catalog.ground_truth[t] for t in truth)  # some songs only Deezer holds
    assert any(t.bpm == 0 for t in deezer_catalog.tracks.values())  # bpm 0 means unknown
    assert all(a.genres for a in deezer_catalog.albums.values())


def test_search_and_lookups_answer_in_deezers_shapes(deezer, deezer_catalog, tmp_path):
    server = deezer()
    client = client_for(server, tmp_path)
    track = next(iter(deezer_catalog.tracks.values()))
    artist = deezer_catalog.artists[track.artist_id]
    found = client.get("search/track", {"q": f'artist:"{artist.name}" track:"{track.title_short}"'})
    hit = next(h for h in found["data"] if h["id"] == track.id)
    assert {"bpm", "gain", "isrc", "contributors"}.isdisjoint(hit)  # only the full track has them
    assert hit["duration"] == track.duration and hit["artist"]["name"] == artist.name and found["total"] >= 1
    full = client.get(f"track/{track.id}")
    assert full["isrc"] == track.isrc and full["bpm"] == track.bpm and full["album"]["release_date"]
    assert client.get(f"track/isrc:{track.isrc}")["isrc"] == track.isrc
    assert client.get(f"artist/{artist.id}")["nb_fan"] == artist.nb_fan
    album = client.get(f"album/{track.album_id}")
    assert album["genres"]["data"] and album["label"] and album["fans"] >= 0
    longer = client.get("search/track", {"q": f'artist:"{artist.name}" track:"{track.title_short}" '
                                                         f"dur_min:{track.duration + 5}"})
    assert track.id not in [h["id"] for h in longer["data"]]


def test_error_objects_come_with_http_200_and_each_is_acted_on(deezer, tmp_path):
    server = deezer(busy_rate=0.0)
    client = client_for(server, tmp_path)
    raw = requests.get(f"{server.url}/track/999", timeout=5)
    assert raw.status_code == 200 and raw.json()["error"]["code"] == NO_DATA
    assert client.get("track/999") is None  # "no data" is an answer: not found
    with pytest.raises(DeezerRequestError, match=r"Wrong parameter: limit \(code 500\)"):
        client.get("search/track", {"q": "love", "limit": 1000})
    busy = client_for(deezer(busy_rate=1.0), tmp_path)
    with pytest.raises(DeezerBusyError, match="code 700"):
        busy.get("search/track", {"q": "love"})
    assert busy.errors[BUSY] == 4 and busy.sent["search"] == 4  # retried with backoff, then given up on


def test_a_quota_error_is_waited_out_and_a_quota_that_never_lifts_stops(deezer, tmp_path):
    clock = FakeClock()
    server = deezer(rate_limit=3, rate_window_s=5, clock=clock.monotonic)
    # A pacer that believes in a higher rate than the server allows meets code 4, and waits a window.
    client = client_for(server, tmp_path, clock, limit=10, window_s=5)
    for _ in range(5):
        assert "data" in client.get("search/track", {"q": "love"})
    assert client.errors[QUOTA] >= 1 and client.sent["search"] == 5 + client.errors[QUOTA]
    stuck = client_for(deezer(rate_limit=0), tmp_path)
    with pytest.raises(DeezerQuotaError, match="code 4"):
        stuck.get("search/track", {"q": "love"})
    assert stuck.errors[QUOTA] == MAX_QUOTA_WAITS + 1


PACED = """
import sys
from pipeline.sources.deezer.client import DeezerClient, HostPacer
client = DeezerClient(api_url=sys.argv[1], pacer=HostPacer(sys.argv[2], limit=10, window_s=1.0))
for _ in range(int(sys.argv[3])):
    client.get("search/track", {"q": "love"})
print(sum(client.errors.values()))
"""


def test_two_processes_sharing_the_pacer_never_meet_the_quota(deezer, tmp_path):
    server = deezer(rate_limit=10, rate_window_s=1.0)
    workers = [subprocess.Popen([sys.executable, "-c", PACED, f"{server.url}/", str(tmp_path / "pace"), "15"],
                                cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(2)]
    results = [w.communicate(timeout=120) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], results
    assert [out.strip() for out, _ in results] == ["0", "0"]  # no error object of any kind
    stats = json.loads(requests.get(f"{server.url}/sandbox/stats", timeout=5).text)
    assert stats["requests"]["search"] == 30 and stats["errors"] == {}


def test_enrichment_matches_by_isrc_or_search_and_looks_up_albums_and_artists_once(deezer, deezer_catalog, catalog,
                                                                                    sample_root, tmp_path):
    from pipeline.matching.decide import Song
    from pipeline.sources.answers import AnswerStore
    from pipeline.sources.deezer.enrich import enrich_partition
    from pipeline.sources.deezer.gateway import DeezerGateway

    server = deezer(rate_limit=None)  # pacing is tested above; here the fake clock would starve a real window
    identities = load_identities(sample_root)
    songs = [Song(i["track_id"], i["song_id"], i["artist_name"], i["title"], i["release"], i["duration"], i["year"])
             for i in identities]
    truth = deezer_catalog.ground_truth
    # Spotify's ISRCs for the songs it matched (as its enrichment stages them).
    isrcs = {i["track_id"]: catalog.tracks[catalog.ground_truth[i["track_id"]]].isrc
             for i in identities if catalog.ground_truth[i["track_id"]]}
    client = client_for(server, tmp_path)
    half = len(songs) // 2
    outputs, manifest = enrich_partition("A/A", songs[:half], DeezerGateway(client, AnswerStore(str(tmp_path / "answers"))),
                                         isrcs)
    rows = outputs["matches.jsonl.gz"]
    assert {r["method"] for r in rows if r["status"] == "matched"} == {"isrc", "search"}
    for row in rows:
        if row["deezer_track_id"]:
            assert int(row["deezer_track_id"]) == truth[row["track_id"]], row
    held = [r for r in rows if truth[r["track_id"]]]
    assert sum(r["status"] == "matched" for r in held) >= 0.9 * len(held)
    tracks = outputs["tracks.jsonl.gz"]
    assert tracks and all(t["isrc"] and t["gain"] is not None for t in tracks)
    assert any(t["bpm"] is None for t in tracks)  # Deezer's 0 is "unknown", not a tempo
    requests = json.loads(requests_get(server))["requests"]
    assert requests.get("album", 0) == len(outputs["albums.jsonl.gz"])  # each album once
    assert requests.get("artist", 0) == len(outputs["artists.jsonl.gz"])
    assert all(a["genres"] for a in outputs["albums.jsonl.gz"])
    # The same songs again, in another partition: every answer comes from the store.
    before = sum(requests.values())
    again, manifest = enrich_partition("B/B", songs[:half], DeezerGateway(client, AnswerStore(str(tmp_path / "answers"))),
                                       isrcs)
    assert sum(json.loads(requests_get(server))["requests"].values()) == before
    assert manifest["requests"]["this_run_total"] == 0 and again["tracks.jsonl.gz"] == tracks
    assert manifest["requests"]["sent_total"] == 0


def test_lead_artists_only_and_every_request_sent_counted(deezer, deezer_catalog, catalog, sample_root, tmp_path):
    """Featured artists stay in the track's artist ids without a lookup each; the manifest counts
    every request the service received, "service busy" retries included."""
    from pipeline.sources.answers import AnswerStore
    from pipeline.sources.deezer.enrich import enrich_partition
    from pipeline.sources.deezer.gateway import DeezerGateway

    server = deezer(rate_limit=None, busy_rate=0.1)
    songs, isrcs = _songs_and_isrcs(sample_root, catalog)
    outputs, manifest = enrich_partition("A/A", songs, DeezerGateway(client_for(server, tmp_path),
                                                                     AnswerStore(str(tmp_path / "answers"))), isrcs)
    tracks = outputs["tracks.jsonl.gz"]
    assert any(len(t["artist_ids"]) > 1 for t in tracks)  # the sample has featured artists
    assert {a["deezer_artist_id"] for a in outputs["artists.jsonl.gz"]} == {t["primary_artist_id"] for t in tracks}
    stats = json.loads(requests_get(server))
    assert stats["errors"].get("700")  # some answers were "service busy" and asked again
    assert manifest["requests"]["sent_total"] == sum(stats["requests"].values())
    assert manifest["requests"]["sent"] == stats["requests"]
    assert manifest["requests"]["sent_total"] > manifest["requests"]["this_run_total"]


def test_a_refused_isrc_lookup_is_a_capability_recorded_once_and_every_song_is_searched(
        deezer, deezer_catalog, catalog, sample_root, tmp_path):
    from pipeline.sources.answers import AnswerStore
    from pipeline.sources.deezer.enrich import enrich_partition
    from pipeline.sources.deezer.gateway import DeezerGateway

    server = deezer(rate_limit=None, isrc_lookups=False)
    songs, isrcs = _songs_and_isrcs(sample_root, catalog)
    client = client_for(server, tmp_path)
    store = str(tmp_path / "answers")
    outputs, manifest = enrich_partition("A/A", songs, DeezerGateway(client, AnswerStore(store)), isrcs)
    assert json.loads(requests_get(server))["requests"]["track_isrc"] == 1  # refused once, never asked again
    assert manifest["capabilities"]["track_isrc"]["available"] is False
    assert "Unknown path components" in manifest["capabilities"]["track_isrc"]["reason"]
    matched = [r for r in outputs["matches.jsonl.gz"] if r["status"] == "matched"]
    assert matched and {r["method"] for r in matched} == {"search"}
    assert all(int(r["deezer_track_id"]) == deezer_catalog.ground_truth[r["track_id"]] for r in matched)
    # Another partition, another run: the stored capability holds, no ISRC is asked.
    enrich_partition("B/B", songs, DeezerGateway(client, AnswerStore(store)), isrcs)
    assert json.loads(requests_get(server))["requests"]["track_isrc"] == 1


def _songs_and_isrcs(sample_root, catalog):
    from pipeline.matching.decide import Song

    identities = load_identities(sample_root)
    songs = [Song(i["track_id"], i["song_id"], i["artist_name"], i["title"], i["release"], i["duration"], i["year"])
             for i in identities]
    isrcs = {i["track_id"]: catalog.tracks[catalog.ground_truth[i["track_id"]]].isrc
             for i in identities if catalog.ground_truth[i["track_id"]]}
    return songs, isrcs


def requests_get(server):
    return requests.get(f"{server.url}/sandbox/stats", timeout=5).text


# --- the DeezerEnrich task ---------------------------------------------------------------------------

@pytest.fixture
def deezer_pipeline(local_pipeline, spotify_at, deezer_at):
    """Spotify (development mode) and Deezer sandboxes, [deezer] pointing at the latter."""
    def start(**options):
        spotify_at(mode="development")
        return deezer_at(**options)
    start.staging = local_pipeline
    return start


def _asked(path):
    """(kind, key) of a logged Deezer sandbox request, as the answer store keys it."""
    url = urlsplit(path)
    parts = [unquote(p) for p in url.path.strip("/").split("/")]
    if parts[0] == "search":
        query = parse_qs(url.query)
        return "search", f"{query['limit'][0]}|{query['q'][0]}"
    if parts[0] == "track" and parts[1].startswith("isrc:"):
        return "track_isrc", parts[1][5:]
    return parts[0], parts[1]


def test_deezer_enrich_stages_matches_tracks_artists_and_albums(deezer_pipeline, deezer_catalog, catalog):
    server = deezer_pipeline(rate_limit=None)
    assert run_luigi([DeezerEnrich(partition="A/A")]).status == luigi.LuigiStatusCode.SUCCESS
    folder = stage_folder(deezer_pipeline.staging, "deezer", "A/A")
    rows = {name: [json.loads(line) for line in gzip.open(os.path.join(folder, name), "rt", encoding="utf-8")]
            for name in ("matches.jsonl.gz", "tracks.jsonl.gz", "artists.jsonl.gz", "albums.jsonl.gz")}
    truth = deezer_catalog.ground_truth
    assert all(int(r["deezer_track_id"]) == truth[r["track_id"]] for r in rows["matches.jsonl.gz"] if r["deezer_track_id"])
    assert {r["method"] for r in rows["matches.jsonl.gz"] if r["deezer_track_id"]} >= {"isrc"}
    assert rows["tracks.jsonl.gz"] and rows["albums.jsonl.gz"] and rows["artists.jsonl.gz"]
    # Cross-source agreement: by ISRC where both have one, for every song both sources matched.
    both = [r for r in rows["matches.jsonl.gz"] if r["agrees_with_spotify"] is not None]
    spotify_isrc = {t: catalog.tracks[s].isrc for t, s in catalog.ground_truth.items() if s}
    assert both and {r["agrees_with_spotify"] for r in both} == {True, False}
    for row in both:
        assert row["agrees_with_spotify"] == (deezer_catalog.tracks[int(row["deezer_track_id"])].isrc
                                              == spotify_isrc[row["track_id"]]), row
    manifest = json.load(open(glob.glob(os.path.join(folder, "_manifest-*.json"))[0], encoding="utf-8"))
    assert manifest["agreement"]["disagree"] == sum(not r["agrees_with_spotify"] for r in both)
    asked = sum(json.loads(requests_get(server))["requests"].values())
    assert run_luigi([DeezerEnrich(partition="A/A")]).status == luigi.LuigiStatusCode.SUCCESS
    assert sum(json.loads(requests_get(server))["requests"].values()) == asked  # complete: nothing asked again


@pytest.mark.slow
def test_kill_9_of_a_deezer_enrichment_then_resume_repeats_no_stored_request(deezer_pipeline, sample_root, tmp_path):
    server = deezer_pipeline(rate_limit=None, latency_ms=40)
    staging_root = deezer_pipeline.staging
    assert run_luigi([SpotifyEnrich(partition="A/A")]).status == luigi.LuigiStatusCode.SUCCESS  # Spotify first
    env = dict(os.environ, MUSIC_ETL_MSD_ROOT=sample_root, MUSIC_ETL_STAGING_ROOT=staging_root,
               **subprocess_env_for_deezer(server, tmp_path))
    command = luigi_command("DeezerEnrich", "A/A")
    kill_9_when(command, env, ready=lambda: len(stored_answers(staging_root, "deezer")) >= 8)
    stored = {(e["kind"], e["key"]) for e in stored_answers(staging_root, "deezer")}
    assert len(stored) >= 8
    asked_before = len(server.state.log)
    rerun = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    asked_after = [_asked(path) for _, path in server.state.log[asked_before:]]
    assert asked_after and not stored & set(asked_after)


def test_sources_agree_by_isrc_else_by_length_and_names():
    from pipeline.sources.deezer.enrich import sources_agree

    spotify = {"isrc": "USAAA0000001", "duration_ms": 200_000, "name": "Black Heart - Remastered 2011",
               "primary_artist_name": "Otis Reed"}
    deezer = {"isrc": "USAAA0000001", "duration_ms": 201_000, "name": "Black Heart (Remastered 2011)",
              "artists": [{"id": "1", "name": "Otis Reed"}]}
    assert sources_agree(spotify, deezer) is True
    assert sources_agree(spotify, {**deezer, "isrc": "GB0000000001"}) is False  # two ISRCs: two recordings
    assert sources_agree({**spotify, "isrc": None}, deezer) is True  # no ISRC on one side: length and names
    assert sources_agree({**spotify, "isrc": None}, {**deezer, "duration_ms": 260_000}) is False
    assert sources_agree({**spotify, "isrc": None}, {**deezer, "artists": [{"id": "2", "name": "Nina Simone"}]}) is False
    assert sources_agree(None, deezer) is None and sources_agree(spotify, None) is None


@pytest.mark.slow
@pytest.mark.parametrize("warehouse_url", ["duckdb"], indirect=True)
def test_spurious_no_data_for_named_ids_is_asked_again_and_a_clean_rerun_loads_what_a_fault_free_run_does(
        luigi_config, sample_root, spotify_at, deezer, tmp_path, monkeypatch, warehouse_url):
    from pipeline import forget_listings
    from pipeline.cli.run import run_summary
    from pipeline.sources import answers, ask_again
    from pipeline.tasks import LoadPartition
    from pipeline.warehouse.backends import warehouse_backend
    from pipeline.warehouse.schema import tables
    from tests.conftest import deezer_config, staged_manifest

    partitions = ("A/A", "A/B")
    spotify_at(mode="development")

    def new_command(name: str, staging_root, warehouse) -> None:
        monkeypatch.setattr(answers, "COMMAND_ID", name)
        ask_again.forget()
        forget_listings()
        luigi.task_register.Register.clear_instance_cache()
        luigi_config.set("msd", root=sample_root).set("staging", root=staging_root)
        luigi_config.set("warehouse", url=f"duckdb:///{warehouse}")

    def deezer_facts(warehouse) -> dict[str, list]:
        backend = warehouse_backend()
        try:
            out = {}
            for table in (t for t in tables() if t.name.startswith("deezer_")):
                names = [c.name for c in table.columns() if c.name not in ("fetched_at", "matched_at", "load_id")]
                out[table.name] = sorted(map(repr, backend.query(f"SELECT {', '.join(names)} FROM {table.name}")))
            return out
        finally:
            backend.close()

    # A fault-free run: what the warehouse should hold.
    new_command("clean", tmp_path / "clean" / "staging", tmp_path / "clean.duckdb")
    assert run_luigi([LoadPartition(partition=p) for p in partitions]).status == luigi.LuigiStatusCode.SUCCESS
    truth = deezer_facts(tmp_path / "clean.duckdb")

    # 20% of artist and album lookups answer "no data": the run ends, says so, and loads what it has.
    faulty = deezer(rate_limit=None, spurious_no_data_rate=0.2, seed=3)
    luigi_config.set("deezer", **deezer_config(faulty, tmp_path))
    new_command("faulty", tmp_path / "faulty" / "staging", tmp_path / "faulty.duckdb")
    assert run_luigi([LoadPartition(partition=p) for p in partitions]).status == luigi.LuigiStatusCode.SUCCESS
    again = [k for p in partitions for k in staged_manifest(str(tmp_path / "faulty" / "staging"), "deezer", p)["ask_again"]]
    assert {kind for kind, _ in again} == {"artist", "album"}
    summary, failed = run_summary({p: f"ExtractPartition({p})" for p in partitions}, {p: None for p in partitions})
    assert not failed and f"Deezer answered \"no data\" for {len(again)} id(s) its own answers named" in summary
    assert "ISRC lookups without a track" in summary and "[deezer] not_found_max_age_days (365)" in summary
    assert deezer_facts(tmp_path / "faulty.duckdb") != truth
    asked_before = sum(faulty.state.stats()["requests"].values())

    # The faults gone, the next command asks those ids again (and nothing else) and reloads: as if they never were.
    faulty.state.spurious_no_data_rate = 0.0
    new_command("clean rerun", tmp_path / "faulty" / "staging", tmp_path / "faulty.duckdb")
    assert run_luigi([LoadPartition(partition=p) for p in partitions]).status == luigi.LuigiStatusCode.SUCCESS
    assert sum(faulty.state.stats()["requests"].values()) - asked_before == len(set(map(tuple, again)))
    assert deezer_facts(tmp_path / "faulty.duckdb") == truth
    assert all(not DeezerEnrich(partition=p).output().read()[0]["ask_again"] for p in partitions)  # none left


def test_a_not_found_is_believed_until_it_is_older_than_the_setting_says(deezer, tmp_path):
    from datetime import UTC, datetime, timedelta

    from pipeline.sources.answers import AnswerStore
    from pipeline.sources.deezer.gateway import DeezerGateway

    server = deezer(rate_limit=None)
    store = AnswerStore(str(tmp_path / "answers"))

    def asked() -> int:
        return json.loads(requests_get(server))["requests"].get("track_isrc", 0)

    def stored_not_found(isrc: str, days_old: int) -> None:
        at = (datetime.now(UTC) - timedelta(days=days_old)).isoformat(timespec="seconds").replace("+00:00", "Z")
        store.record("track_isrc", isrc, status=404, obj=None, at=at)  # as an earlier run stored it, days ago

    stored_not_found("USAAA0000001", days_old=10)
    stored_not_found("USAAA0000002", days_old=400)
    gateway = DeezerGateway(client_for(server, tmp_path), AnswerStore(store.folder), not_found_max_age_days=365)
    assert gateway.track_by_isrc("USAAA0000001")["status"] == 404 and asked() == 0  # believed: 10 days old
    assert gateway.track_by_isrc("USAAA0000002")["status"] == 404 and asked() == 1  # 400 days: asked again
    assert gateway.not_found == {"track_isrc": 2}
    # Asked again today, it is believed again: no third request.
    again = DeezerGateway(client_for(server, tmp_path), AnswerStore(store.folder), not_found_max_age_days=365)
    again.track_by_isrc("USAAA0000002")
    assert asked() == 1
    forever = DeezerGateway(client_for(server, tmp_path), AnswerStore(store.folder))
    stored_not_found("USAAA0000003", days_old=4000)
    forever.track_by_isrc("USAAA0000003")
    assert asked() == 1  # 0 days set: believed forever
