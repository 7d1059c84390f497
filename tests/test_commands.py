"""Everyday commands as a user types them: what they keep, what they refuse, what they say."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT, subprocess_env_for_deezer


def _tree(root) -> set[str]:
    return {os.path.relpath(os.path.join(folder, name), root) for folder, _, names in os.walk(root) for name in names}


def test_clean_data_keeps_both_sources_answers_and_forgetting_them_takes_their_name(tmp_path):
    data = tmp_path / "data"
    files = ["staging/msd/A/A/v-1/songs.jsonl.gz", "staging/msd/A/A/v-1/_manifest-0123456789abcdef.json",
             "staging/spotify/A/A/v-2/matches.jsonl.gz", "staging/spotify/A/A/journal/run-1.jsonl",
             "staging/spotify/B/C/journal/run-2.jsonl", "staging/answers/spotify/search/ab/ab12.json",
             "staging/answers/spotify/_ledger/run-1-SpotifySearch-AA.json", "staging/runs/host-1.json",
             "staging/answers/deezer/track_isrc/cd/cd34.json", "answers/spotify/search/ef/ef56.json",
             "answers/deezer/album/01/0123.json", "warehouse.duckdb", "msd/A/A/x.h5"]
    for name in files:
        (data / name).parent.mkdir(parents=True, exist_ok=True)
        (data / name).write_bytes(b"paid for" if "journal" in name or "answers" in name else b"x")
    clean = subprocess.run(["make", "--no-print-directory", "clean-data", f"DATA={data}"], cwd=PROJECT_ROOT,
                           capture_output=True, text=True, timeout=60)
    assert clean.returncode == 0, clean.stderr
    assert _tree(data) == {"staging/spotify/A/A/journal/run-1.jsonl", "staging/spotify/B/C/journal/run-2.jsonl",
                           "staging/answers/spotify/search/ab/ab12.json",
                           "staging/answers/spotify/_ledger/run-1-SpotifySearch-AA.json",
                           "staging/answers/deezer/track_isrc/cd/cd34.json", "answers/spotify/search/ef/ef56.json",
                           "answers/deezer/album/01/0123.json", "msd/A/A/x.h5"}
    assert "kept every source's answers" in clean.stdout
    unnamed = subprocess.run(["make", "--no-print-directory", "forget-answers", f"DATA={data}"],
                             cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert unnamed.returncode != 0 and "make forget-answers SOURCE=<name>" in unnamed.stdout
    assert len(_tree(data)) == 8  # nothing removed without a name
    # The generic target, then one of the old per-source names.
    for target, left in ((["forget-answers", "SOURCE=spotify"], {"staging/answers/deezer/track_isrc/cd/cd34.json",
                                                                 "answers/deezer/album/01/0123.json", "msd/A/A/x.h5"}),
                         (["forget-deezer-answers"], {"msd/A/A/x.h5"})):
        forget = subprocess.run(["make", "--no-print-directory", *target, f"DATA={data}"],
                                cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
        assert forget.returncode == 0, forget.stderr
        assert _tree(data) == left


def _status(env):
    return subprocess.run([os.path.join(os.path.dirname(sys.executable), "python"), "-m", "pipeline", "status"],
                          cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_status_says_what_is_wrong_and_exits_non_zero(tmp_path, sample_root):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSIC_ETL_")}
    env.pop("LUIGI_CONFIG_PATH", None)
    missing = _status(env | {"MUSIC_ETL_MSD_ROOT": str(tmp_path / "nowhere")})
    assert missing.returncode == 2 and missing.stderr.startswith("error: no MSD partitions under")
    assert "MUSIC_ETL_MSD_ROOT" in missing.stderr and len(missing.stderr.strip().splitlines()) == 1
    unreachable = _status(env | {"MUSIC_ETL_MSD_ROOT": sample_root, "MUSIC_ETL_STAGING_ROOT": str(tmp_path / "staging"),
                                 "MUSIC_ETL_WAREHOUSE_URL": "postgresql://etl:s3cret@127.0.0.1:1/none"})
    assert unreachable.returncode == 1
    assert "warehouse not readable" in unreachable.stderr and "s3cret" not in unreachable.stdout + unreachable.stderr
    assert "0/3 partitions loaded" in unreachable.stdout  # what is staged is still shown
    unknown = _status(env | {"MUSIC_ETL_MSD_ROOT": sample_root, "MUSIC_ETL_WAREHOUSE_URL": "mysql://x@y/z"})
    assert unknown.returncode == 2 and unknown.stderr.startswith("error: [warehouse] url `mysql://x@y/z`: unknown scheme")
    assert len(unknown.stderr.strip().splitlines()) == 1


def test_a_forced_rerun_answered_from_the_store_needs_no_credentials(local_pipeline, luigi_config, spotify_at,
                                                                       monkeypatch, tmp_path, capsys):
    from pipeline.cli import main as front_end

    server = spotify_at(mode="development")
    luigi_config.set("warehouse", url=f"duckdb:///{tmp_path}/warehouse.duckdb")
    assert front_end(["run", "--partitions", "A/A"]) == 0
    asked = dict(server.state.stats()["requests"])
    asked_deezer = dict(spotify_at.deezer.state.stats()["requests"])
    assert asked_deezer
    monkeypatch.delenv("SPOTIPY_CLIENT_ID")
    monkeypatch.delenv("SPOTIPY_CLIENT_SECRET")
    # Deezer's API is gone too: a rerun answered from the store does not need it.
    luigi_config.set("deezer", api_url="http://127.0.0.1:9/")
    assert front_end(["rerun", "A/A", "--force"]) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert "removed" in out and "deezer/A/A" in out  # Deezer's staging went too, not its answers
    assert "partitions loaded this run: 1" in out
    assert server.state.stats()["requests"] == asked  # not even a token was asked for
    assert spotify_at.deezer.state.stats()["requests"] == asked_deezer


def _make(target, tmp_path, port, timeout=120):
    return subprocess.run(["make", "--no-print-directory", target, f"LUIGID_DIR={tmp_path / 'luigid'}",
                           f"SCHEDULER_PORT={port}"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout)


def test_make_scheduler_says_started_only_when_luigid_answers_and_cleans_a_stale_pid(tmp_path):
    import socket

    pid_file = tmp_path / "luigid" / "luigid.pid"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        refused = _make("scheduler", tmp_path, port)
        assert refused.returncode != 0 and "started" not in refused.stdout
        assert f"luigid did not answer at http://127.0.0.1:{port}" in refused.stderr
        assert not pid_file.exists()
    stopped = _make("scheduler-stop", tmp_path, port)
    assert stopped.returncode == 0 and "not running" in stopped.stdout

    pid_file.write_text("999999\n")  # a luigid that died without its pid file going
    stale = _make("scheduler-stop", tmp_path, port)
    assert stale.returncode == 0 and "stale pid file" in stale.stdout and not pid_file.exists()

    started = _make("scheduler", tmp_path, port)  # the port is free now
    try:
        assert started.returncode == 0 and "luigid started" in started.stdout, started.stderr
        from pipeline.luigid import answers
        assert answers(f"http://127.0.0.1:{port}")
    finally:
        assert _make("scheduler-stop", tmp_path, port).stdout.strip() == "luigid stopped"


def test_status_rates_each_source_over_the_partitions_it_enriched(local_pipeline, luigi_config, spotify_at, capsys):
    import luigi

    from pipeline.cli import status
    from pipeline.sources.deezer.tasks import DeezerEnrich
    from pipeline.sources.spotify.tasks import SpotifyEnrich
    from pipeline.tasks import ExtractAll
    from tests.conftest import run_luigi, staged_manifest

    spotify_at(mode="development")
    assert run_luigi([ExtractAll(), SpotifyEnrich(partition="A/A"),
                      DeezerEnrich(partition="A/B")]).status == luigi.LuigiStatusCode.SUCCESS
    assert status.main() == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.split()}
    spotify = [staged_manifest(local_pipeline, "spotify", p) for p in ("A/A", "A/B")]
    deezer = staged_manifest(local_pipeline, "deezer", "A/B")
    # Each source's rate over the songs it was asked about, not diluted by the partitions it has not seen.
    _, _, _, matched, rate, _, deezer_matched, deezer_rate, deezer_sent, *_ = lines["total"].split()
    assert int(matched) == sum(m["statuses"]["matched"] for m in spotify)
    assert rate == f"{int(matched) / sum(m['songs'] for m in spotify):.2f}"
    assert int(deezer_matched) == deezer["statuses"]["matched"] and deezer_rate == f"{int(deezer_matched) / deezer['songs']:.2f}"
    assert int(deezer_sent) == sum(spotify_at.deezer.state.stats()["requests"].values()) > 0
    assert "not enriched on Deezer" in lines["A/A"] and "not enriched" in lines["B/A"]
    assert f"Deezer requests sent by every run so far: {deezer_sent} in 1 task run" in out


def _front_end(env, *args):
    return subprocess.run([os.path.join(os.path.dirname(sys.executable), "python"), "-m", "pipeline", *args],
                          cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)


def _snapshot(root):
    """Every staged, stored and loaded file under ``root`` with its digest; the commands' own logs (logs/) aside."""
    import hashlib
    return {name: hashlib.sha256(open(os.path.join(root, name), "rb").read()).hexdigest() for name in _tree(root)
            if not name.startswith("logs" + os.sep)}


@pytest.mark.slow
def test_a_rerun_that_cannot_succeed_is_refused_before_anything_is_removed(tmp_path, sample_root, sandbox, deezer):
    server, deezer_server = sandbox(mode="development"), deezer(rate_limit=None)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MUSIC_ETL_", "SPOTIPY_"))}
    env |= {"MUSIC_ETL_MSD_ROOT": sample_root, "MUSIC_ETL_STAGING_ROOT": str(tmp_path / "data" / "staging"),
            "MUSIC_ETL_WAREHOUSE_URL": f"duckdb:///{tmp_path}/data/warehouse.duckdb",
            "MUSIC_ETL_SPOTIFY_API_URL": f"{server.url}/v1/", "MUSIC_ETL_SPOTIFY_TOKEN_URL": f"{server.url}/api/token",
            **subprocess_env_for_deezer(deezer_server, tmp_path)}
    creds = {"SPOTIPY_CLIENT_ID": "sandbox-client", "SPOTIPY_CLIENT_SECRET": "sandbox-secret"}
    first = _front_end(env | creds, "run", "--partitions", "A/A,A/B")
    assert first.returncode == 0, first.stderr[-2000:]
    answers_dir = tmp_path / "data" / "answers" / "spotify" / "search"
    # Some of A/B's answers are gone (as if another version had never asked them): its rerun must ask Spotify.
    import shutil
    shutil.move(str(answers_dir), str(tmp_path / "kept-aside"))
    before = _snapshot(tmp_path / "data")

    no_credentials = _front_end(env, "rerun", "A/B", "--force")
    assert no_credentials.returncode == 2
    assert "SPOTIPY_CLIENT_ID" in no_credentials.stderr and "never searched" in no_credentials.stderr
    assert "nothing was removed" in no_credentials.stderr and len(no_credentials.stderr.strip().splitlines()) == 1
    unreachable = _front_end(env | creds | {"MUSIC_ETL_SPOTIFY_API_URL": "http://127.0.0.1:9/v1/"}, "rerun", "A/B", "--force")
    assert unreachable.returncode == 2 and "http://127.0.0.1:9/v1/" in unreachable.stderr
    assert "MUSIC_ETL_SPOTIFY_API_URL" in unreachable.stderr and "nothing was removed" in unreachable.stderr
    missing = _front_end(env | creds, "rerun", "Q/Q", "--force")
    assert missing.returncode == 2 and "Q/Q" in missing.stderr and "MUSIC_ETL_MSD_ROOT" in missing.stderr
    bad_warehouse = _front_end(env | creds | {"MUSIC_ETL_WAREHOUSE_URL": "postgresql://etl:s3cret@127.0.0.1:1/none"},
                               "rerun", "A/B", "--force")
    assert bad_warehouse.returncode == 2 and "cannot connect to the warehouse" in bad_warehouse.stderr
    assert "s3cret" not in bad_warehouse.stderr
    assert _snapshot(tmp_path / "data") == before  # staged files, answers and warehouse untouched

    shutil.move(str(tmp_path / "kept-aside"), str(answers_dir))
    # Spotify's answers are all stored now, Deezer's albums are not: the rerun must ask Deezer, which is not there.
    deezer_albums = tmp_path / "data" / "answers" / "deezer" / "album"
    shutil.move(str(deezer_albums), str(tmp_path / "albums-aside"))
    before = _snapshot(tmp_path / "data")
    no_deezer = _front_end(env | {"MUSIC_ETL_DEEZER_API_URL": "http://127.0.0.1:9/"}, "rerun", "A/B", "--force")
    assert no_deezer.returncode == 2 and "must ask Deezer" in no_deezer.stderr
    assert "MUSIC_ETL_DEEZER_API_URL" in no_deezer.stderr and "nothing was removed" in no_deezer.stderr
    assert len(no_deezer.stderr.strip().splitlines()) == 1
    assert _snapshot(tmp_path / "data") == before
    shutil.move(str(tmp_path / "albums-aside"), str(deezer_albums))

    asked = sum(server.state.stats()["requests"].values())
    asked_deezer = sum(deezer_server.state.stats()["requests"].values())
    answered = _front_end(env | {"MUSIC_ETL_DEEZER_API_URL": "http://127.0.0.1:9/"},
                          "rerun", "A/B", "--force")  # every answer stored: no credentials, no Deezer needed
    assert answered.returncode == 0, answered.stderr[-2000:]
    assert sum(server.state.stats()["requests"].values()) == asked
    assert sum(deezer_server.state.stats()["requests"].values()) == asked_deezer


@pytest.mark.slow
def test_a_wrong_partition_is_one_line_and_exit_2_before_scheduling(tmp_path, sample_root):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSIC_ETL_")}
    env.pop("LUIGI_CONFIG_PATH", None)
    env |= {"MUSIC_ETL_MSD_ROOT": sample_root, "MUSIC_ETL_STAGING_ROOT": str(tmp_path / "staging"),
            "MUSIC_ETL_WAREHOUSE_URL": f"duckdb:///{tmp_path}/warehouse.duckdb"}
    luigi_bin = os.path.join(os.path.dirname(sys.executable), "luigi")
    for command, wanted in (([luigi_bin, "--module", "pipeline", "RunAll", "--partitions", "AB", "--local-scheduler"],
                             "Invalid MSD partition `'AB'`"),
                            ([luigi_bin, "--module", "pipeline", "RunAll", "--partitions", "A/A,Q/Q", "--local-scheduler"],
                             "MSD partition `Q/Q` has no folder"),
                            ([luigi_bin, "--module", "pipeline", "ExtractPartition", "--partition", "AB", "--local-scheduler"],
                             "Invalid MSD partition `'AB'`"),
                            ([sys.executable, "-m", "pipeline", "run", "--partitions", "Q/Q"], "MUSIC_ETL_MSD_ROOT"),
                            ([luigi_bin, "--module", "pipeline", "RunAll", "--local-scheduler", "--sources-enabled",
                              "spotify, lastfm"], "[sources] enabled = `spotify, lastfm`"),
                            ([sys.executable, "-m", "pipeline", "run"], "[sources] enabled = `deezer`")):
        bad_sources = {"MUSIC_ETL_SOURCES": "deezer"} if command[-1] == "run" else {}
        result = subprocess.run(command, cwd=PROJECT_ROOT, env=env | bad_sources, capture_output=True, text=True,
                                timeout=120)
        assert result.returncode == 2, (command, result.stderr[-2000:])
        assert wanted in result.stderr and "Traceback" not in result.stderr + result.stdout
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not os.path.exists(tmp_path / "staging")  # nothing was scheduled, so nothing was staged
