"""The request ledger survives interruption: what a source received is what the ledger says was sent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from pipeline.sources import answers
from tests.conftest import PROJECT_ROOT, answers_root_of, stored_answers, subprocess_env_for_deezer


def _received(server) -> int:
    return sum(server.state.stats()["requests"].values())


def _ledger_total(answers_root: str, source: str) -> int:
    import glob
    import json

    return sum(json.load(open(p, encoding="utf-8"))["sent_total"]
               for p in glob.glob(os.path.join(answers_root, source, "_ledger", "*.json")))


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_run_stopped_mid_enrichment_has_every_request_it_sent_in_the_ledger(signum, sandbox, deezer, sample_root,
                                                                             tmp_path):
    spotify, deezer_server = sandbox(mode="development", latency_ms=30), deezer(rate_limit=None, latency_ms=30)
    staging_root = tmp_path / "staging"
    env = dict(os.environ, MUSIC_ETL_MSD_ROOT=sample_root, MUSIC_ETL_STAGING_ROOT=str(staging_root),
               MUSIC_ETL_WAREHOUSE_URL=f"duckdb:///{tmp_path}/warehouse.duckdb",
               MUSIC_ETL_SPOTIFY_API_URL=f"{spotify.url}/v1/", MUSIC_ETL_SPOTIFY_TOKEN_URL=f"{spotify.url}/api/token",
               SPOTIPY_CLIENT_ID="sandbox-client", SPOTIPY_CLIENT_SECRET="sandbox-secret",
               **subprocess_env_for_deezer(deezer_server, tmp_path))
    run = subprocess.Popen([sys.executable, "-m", "pipeline", "run"], cwd=PROJECT_ROOT, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Stopped when both sources are being asked: Spotify's searches done for a partition, Deezer's under way.
    while len(stored_answers(staging_root, "deezer")) < 10 and run.poll() is None:
        time.sleep(0.02)
    assert run.poll() is None, "the run ended before it could be interrupted"
    run.send_signal(signum)
    run.wait(timeout=60)
    assert run.returncode != 0
    root = answers_root_of(staging_root)
    assert _received(spotify) > 0 and _received(deezer_server) > 0
    assert _ledger_total(root, "spotify") == _received(spotify)
    assert _ledger_total(root, "deezer") == _received(deezer_server)


def test_a_ledger_line_is_rewritten_as_the_task_asks_so_a_kill_9_loses_one_interval_at_most(tmp_path, monkeypatch):
    """The ledger line is rewritten while the task asks: a kill -9 (no handler runs) finds it at most
    LEDGER_FLUSH_S behind."""
    monkeypatch.setattr(answers, "LEDGER_FLUSH_S", 0.05)
    monkeypatch.setattr(answers, "store_folder", lambda source, root=None: str(tmp_path / source))
    sent = {"sent_total": 0}
    flushed = []
    real = answers.record_spent

    def record(*args):
        real(*args)
        flushed.append(args[-1]["sent_total"])
    monkeypatch.setattr(answers, "record_spent", record)
    with answers.ledger_line("deezer", "DeezerEnrich-AA", "run-1", lambda: dict(sent)):
        for _ in range(3):
            sent["sent_total"] += 7
            while not flushed or flushed[-1] != sent["sent_total"]:  # written by the flusher, not at the end
                time.sleep(0.01)
    assert flushed == [7, 14, 21]  # each count written once, as it moved; nothing more at the end
    assert _ledger_total(str(tmp_path), "deezer") == 21


@pytest.mark.slow
@pytest.mark.parametrize("warehouse_url", ["duckdb"], indirect=True)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_refresh_stopped_mid_day_has_every_request_it_sent_in_the_ledger(signum, loaded_warehouse, luigi_config,
                                                                          local_pipeline):
    from datetime import UTC, datetime

    spotify, deezer = loaded_warehouse
    luigi_config.set("deezer", refresh_budget=10_000).set("spotify", refresh_budget=10_000)
    root = answers_root_of(local_pipeline)
    assert _ledger_total(root, "deezer") == _received(deezer)  # the enrichment's, in-process
    for server in (spotify, deezer):
        server.state.latency_s = 0.03
    env = dict(os.environ, LUIGI_CONFIG_PATH=luigi_config.path)
    today = datetime.now(UTC).date().isoformat()
    run = subprocess.Popen([sys.executable, "-m", "pipeline", "refresh", "--now", f"{today}T12:00:00+00:00"],
                           cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    refreshed = f"track@{today}"
    while sum(e["kind"] == refreshed for e in stored_answers(local_pipeline, "deezer")) < 10 and run.poll() is None:
        time.sleep(0.02)
    assert run.poll() is None, "the refresh ended before it could be interrupted"
    run.send_signal(signum)
    run.wait(timeout=60)
    assert run.returncode != 0
    assert _ledger_total(root, "deezer") == _received(deezer)
    assert _ledger_total(root, "spotify") == _received(spotify)
