"""The answer store: one per staging root, shared by every partition, safe with several processes."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
from urllib.parse import parse_qs, urlsplit

import luigi
import pytest

from pipeline.matching.decide import Song
from pipeline.sources.answers import AnswerStore, store_folder
from pipeline.sources.spotify.client import SpotifyClient
from pipeline.sources.spotify.enrich import match_songs
from pipeline.sources.spotify.gateway import SpotifyGateway
from pipeline.tasks import EnrichAll
from tests.conftest import PROJECT_ROOT, answers_root_of, run_luigi

WRITER = """
import sys
from pipeline.sources.answers import AnswerStore, store_folder
from tests.conftest import use_config_files
use_config_files(sys.argv[1])
store = AnswerStore(store_folder("spotify"), run_id=sys.argv[2])
for i in range(int(sys.argv[3]), int(sys.argv[4])):
    store.record("search", f"10|query {i}", status=200, items=[{"id": f"t{i}", "by": sys.argv[2]}])
"""


@pytest.mark.slow
@pytest.mark.parametrize("where", ["local", "s3"])
def test_two_processes_writing_the_store_at_once_lose_nothing(where, local_pipeline, luigi_config, request):
    if where == "s3":
        bucket, _ = request.getfixturevalue("s3_bucket")
        luigi_config.set("staging", root=f"s3://{bucket}/staging")
    n = 150 if where == "s3" else 400
    # Overlapping ranges: both write the middle third, each alone writes a third.
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, luigi_config.path, name, str(lo), str(hi)],
                                cwd=PROJECT_ROOT, stderr=subprocess.PIPE, text=True)
               for name, lo, hi in (("one", 0, 2 * n // 3), ("two", n // 3, n))]
    for writer in writers:
        assert writer.wait(timeout=300) == 0, writer.stderr.read()
    store = AnswerStore(store_folder("spotify"))
    for i in range(n):
        entry = store.get("search", f"10|query {i}")
        assert entry is not None and entry["items"][0]["id"] == f"t{i}", i
        assert entry["run_id"] == entry["items"][0]["by"]  # whole objects, never a mix of two writes
    assert store.get("search", "10|never asked") is None


def _song(track_id, artist, title):
    return Song(track_id, None, artist, title, None, 200.0, None)


def test_a_second_partition_sends_no_request_for_songs_the_first_answered(local_pipeline, sandbox, catalog):
    server = sandbox(mode="development")
    client = SpotifyClient(api_url=f"{server.url}/v1/", token_url=f"{server.url}/api/token",
                           client_id="sandbox-client", client_secret="sandbox-secret")
    first = [_song("TRAAAAA128F0000001", "Otis Reed", "Black Heart"), _song("TRAAAAA128F0000002", "Nina Simone", "Blue Moon")]
    second = [_song("TRBBBBB128F0000003", "Otis Reed", "Black Heart"),  # the same song, another MSD track
              _song("TRBBBBB128F0000004", "Etta James", "Golden Train")]
    match_songs("A/A", first, SpotifyGateway(client, AnswerStore(store_folder("spotify"))))
    asked = len(server.state.log)
    _, summary = match_songs("B/B", second, SpotifyGateway(client, AnswerStore(store_folder("spotify"))))
    queries_after = [parse_qs(urlsplit(path).query)["q"][0] for _, path in server.state.log[asked:]]
    assert queries_after and not any("Black Heart" in q for q in queries_after)
    assert summary["requests"]["answered_from_store"] >= 1


def test_searches_of_every_partition_go_before_any_details_and_capabilities_are_probed_once(
        local_pipeline, spotify_at):
    server = spotify_at(mode="development")
    assert run_luigi([EnrichAll()], workers=1).status == luigi.LuigiStatusCode.SUCCESS
    endpoints = [endpoint for endpoint, _ in server.state.log]
    last_search = max(i for i, e in enumerate(endpoints) if e == "search")
    assert all(i > last_search for i, e in enumerate(endpoints) if e in ("artists", "artist", "audio-features"))
    # Development Mode: one probe each for batch artists, an artist and audio features, for all three partitions.
    requests = server.state.stats()["requests"]
    assert requests.get("artists") == 1 and requests.get("artist") == 1 and requests.get("audio-features") == 1
    # Identical queries across partitions were sent once.
    searched = [parse_qs(urlsplit(path).query)["q"][0] for endpoint, path in server.state.log if endpoint == "search"]
    assert len(searched) == len(set(searched))
    capabilities = [json.load(open(p)) for p in glob.glob(os.path.join(answers_root_of(local_pipeline), "spotify",
                                                                       "capability", "*", "*.json"))]
    assert {c["key"]: c["available"] for c in capabilities} == {"artists_batch": False, "artist_details": False,
                                                                  "audio_features": False}


@pytest.mark.slow
@pytest.mark.parametrize("warehouse_url", ["duckdb"], indirect=True)
def test_a_mistyped_staging_root_is_named_by_status_and_costs_no_request(local_pipeline, luigi_config, spotify_at,
                                                                          warehouse_url, tmp_path, capsys):
    import luigi

    from pipeline.cli import status
    from pipeline.tasks import LoadPartition

    server = spotify_at(mode="development")
    assert run_luigi([LoadPartition(partition="A/A")]).status == luigi.LuigiStatusCode.SUCCESS
    asked = server.state.stats()["requests"], spotify_at.deezer.state.stats()["requests"]
    assert asked[0]["search"] and asked[1]["search"]

    # A typo: the staging root does not exist. status says so in one line; the answers, beside it, still answer.
    luigi_config.set("staging", root=tmp_path / "stagin")
    assert status.main() == 0
    out = capsys.readouterr().out
    assert (f"staging root {tmp_path / 'stagin'} does not exist ([staging] root, environment MUSIC_ETL_STAGING_ROOT): "
            f"nothing was staged there, yet the warehouse holds loads of 1 partition(s): is the root mistyped?") in out
    assert run_luigi([LoadPartition(partition="A/A")]).status == luigi.LuigiStatusCode.SUCCESS
    assert (server.state.stats()["requests"], spotify_at.deezer.state.stats()["requests"]) == asked

    # A staging root elsewhere, with the answers root named: still not a request; status says where the loads came from.
    elsewhere = tmp_path / "elsewhere" / "staging"
    luigi_config.set("staging", root=elsewhere).set("answers", root=answers_root_of(local_pipeline))
    elsewhere.mkdir(parents=True)
    assert status.main() == 0
    out = capsys.readouterr().out
    assert ("the warehouse holds loads of 1 partition(s) this staging root never staged (A/A): they were loaded from "
            "another staging root; check [staging] root (environment MUSIC_ETL_STAGING_ROOT)") in out
    assert run_luigi([LoadPartition(partition="A/A")]).status == luigi.LuigiStatusCode.SUCCESS
    assert (server.state.stats()["requests"], spotify_at.deezer.state.stats()["requests"]) == asked
