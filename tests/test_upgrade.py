"""Moving to the source shape costs nothing: a staging root, answer store and warehouse written by the
version before it (the code of commit 04e99a4, kept as tests/data/previous_version_04e99a4.tar.gz: its
pipeline/, sql/ and luigi.cfg) are used as they are. The first run after the upgrade asks no source
anything and reloads no partition."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile

import duckdb
import pytest

from tests.conftest import PROJECT_ROOT, subprocess_env_for_deezer

PREVIOUS = os.path.join(PROJECT_ROOT, "tests", "data", "previous_version_04e99a4.tar.gz")


def _loads(warehouse: str) -> dict[str, tuple]:
    con = duckdb.connect(warehouse, read_only=True)
    try:
        return {r[0]: r[1:] for r in con.sql("SELECT msd_partition, load_id, loaded_at FROM etl_load_markers "
                                             "WHERE step = 'load'").fetchall()}
    finally:
        con.close()


@pytest.mark.slow
def test_the_previous_versions_staging_and_warehouse_cost_no_request_and_no_reload(tmp_path, sample_root, sandbox, deezer):
    previous = tmp_path / "previous"
    with tarfile.open(PREVIOUS) as archive:
        archive.extractall(previous, filter="data")
    spotify, deezer_server = sandbox(mode="development"), deezer(rate_limit=None)
    warehouse = tmp_path / "warehouse.duckdb"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MUSIC_ETL_", "LUIGI_CONFIG_PATH"))}
    env.update(MUSIC_ETL_MSD_ROOT=sample_root, MUSIC_ETL_STAGING_ROOT=str(tmp_path / "staging"),
               MUSIC_ETL_WAREHOUSE_URL=f"duckdb:///{warehouse}",
               MUSIC_ETL_SPOTIFY_API_URL=f"{spotify.url}/v1/", MUSIC_ETL_SPOTIFY_TOKEN_URL=f"{spotify.url}/api/token",
               SPOTIPY_CLIENT_ID="sandbox-client", SPOTIPY_CLIENT_SECRET="sandbox-secret",
               **subprocess_env_for_deezer(deezer_server, tmp_path))
    command = [sys.executable, "-m", "pipeline", "run", "--partitions", "A/A,A/B", "--workers", "2"]

    # The previous version runs from its own tree (its luigi.cfg, its package first on the path).
    first = subprocess.run(command, cwd=previous, env={**env, "PYTHONPATH": str(previous)}, capture_output=True,
                           text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "partitions loaded this run: 2" in first.stdout
    asked = {name: dict(server.state.stats()["requests"]) for name, server in (("spotify", spotify),
                                                                               ("deezer", deezer_server))}
    assert all(sum(counts.values()) > 0 for counts in asked.values())
    loads = _loads(str(warehouse))

    upgraded = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert upgraded.returncode == 0, upgraded.stderr[-3000:]
    assert "partitions loaded this run: 0, already loaded: 2, failed: 0" in upgraded.stdout
    assert "done    LoadPartition" not in upgraded.stdout
    assert {name: dict(server.state.stats()["requests"]) for name, server in (("spotify", spotify),
                                                                              ("deezer", deezer_server))} == asked
    assert _loads(str(warehouse)) == loads  # the same load ids, loaded at the same moment: nothing reloaded
    status = subprocess.run([sys.executable, "-m", "pipeline", "status"], cwd=PROJECT_ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert status.returncode == 0 and "2/3 partitions loaded" in status.stdout, status.stdout + status.stderr
