"""`python -m pipeline.demo` (what `make demo` runs) end to end on a small sample, and its rerun."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys

import pytest

from pipeline.standins.msd_sample import generate_sample
from tests.conftest import PROJECT_ROOT


@pytest.mark.slow
def test_demo_runs_everything_then_a_rerun_changes_nothing(tmp_path):
    generate_sample(str(tmp_path / "msd"), songs=60, seed=9, partitions=["A/A", "B/B"], names="real")  # as make demo
    env = dict(os.environ, MUSIC_ETL_MSD_ROOT=str(tmp_path / "msd"), MUSIC_ETL_STAGING_ROOT=str(tmp_path / "staging"),
               MUSIC_ETL_WAREHOUSE_URL=f"duckdb:///{tmp_path}/warehouse.duckdb",
               SPOTIPY_CLIENT_SECRET="a-real-secret-that-must-not-leak")
    env.pop("LUIGI_CONFIG_PATH", None)
    command = [sys.executable, "-m", "pipeline.demo", "--workers", "2"]
    first = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "2/2 partitions loaded" in first.stdout and "Match rate by decade" in first.stdout
    assert "done    LoadPartition(A/A)" in first.stdout and "done    FinalizeWarehouse" in first.stdout
    assert "a-real-secret-that-must-not-leak" not in first.stdout + first.stderr
    assert "done    DeezerEnrich(A/A)" in first.stdout and "disagree on the recording" in first.stdout
    assert "requests the Deezer sandbox received this run, every one: 0" not in first.stdout
    # It ends with the report, beside the warehouse, every figure drawn from the demo's data.
    report = re.search(r"^report: (\S+\.html)", first.stdout, re.MULTILINE)
    assert report and report.group(1) == str(tmp_path / "report.html")
    page = open(report.group(1), encoding="utf-8").read()
    drawn = re.findall(r'<figure id="(fig-[a-z-]+)">\s*<svg', page)
    assert len(drawn) == page.count("<figure id=") and "<script" not in page  # every figure drawn, nothing to run
    assert {"fig-rate-by-partition", "fig-agreement", "fig-scores-musicbrainz", "fig-lb-song-listens",
            "fig-lb-artist-listens"} <= set(drawn)  # all four sources' figures
    for source in ("MusicBrainz", "ListenBrainz"):
        assert f"requests the {source} sandbox received this run, every one: 0" not in first.stdout
    digest = hashlib.sha256((tmp_path / "warehouse.duckdb").read_bytes()).hexdigest()
    again = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "partitions loaded this run: 0, already loaded: 2, failed: 0" in again.stdout
    assert "songs enriched this run: 0" in again.stdout and "done    " not in again.stdout  # no task ran
    assert "requests the Spotify sandbox received this run, every one: 0" in again.stdout
    assert "requests the Deezer sandbox received this run, every one: 0" in again.stdout
    assert "requests the ListenBrainz sandbox received this run, every one: 0" in again.stdout
    assert "requests the MusicBrainz sandbox received this run, every one: 0" in again.stdout
    assert hashlib.sha256((tmp_path / "warehouse.duckdb").read_bytes()).hexdigest() == digest
