"""Warehouse load speed: rows per second, the backends' bulk paths against row-by-row INSERT.

    .venv/bin/python bench/load.py --songs 1000 --seed 11 --json var/bench/load.json

Generates (once, cached under var/bench/) an MSD-format sample, extracts it and enriches it
against the Spotify sandbox (extended mode, so every Spotify table has rows), then in the same
run, for each backend, loads the same staged partitions twice into fresh, empty schemas:

* ``pipeline``: ``pipeline.warehouse.load.load_partition``, what LoadPartition runs: stage
  tables filled by COPY FROM STDIN (PostgreSQL) or read_json (DuckDB), deletes, merges,
  inserts, data-quality checks and the marker, one transaction per partition;
* ``baseline``: the same rows inserted one ``INSERT … VALUES`` at a time through the driver
  (psycopg2 / duckdb), one transaction per partition, no checks.

Target (issue 4): pipeline >= 20x the baseline on PostgreSQL; the DuckDB ratio is reported.
PostgreSQL comes from ``PIPELINE_TEST_PG_DSN`` (default postgresql://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import orjson  # noqa: E402

from bench import write_results  # noqa: E402
from pipeline import staging  # noqa: E402
from pipeline.partitions import discover_partitions  # noqa: E402
from pipeline.standins.msd_sample import generate_sample  # noqa: E402
from pipeline.standins.spotify_catalog import build_catalog, load_identities  # noqa: E402
from pipeline.standins.spotify_sandbox import SandboxServer, SandboxState  # noqa: E402
from pipeline.tasks import LoadPartition  # noqa: E402
from pipeline.warehouse import schema  # noqa: E402
from pipeline.warehouse.backends import DuckDBBackend, PostgresBackend  # noqa: E402
from pipeline.warehouse.load import PartitionLoad, load_partition, read_manifests  # noqa: E402

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PG_DSN = os.environ.get("PIPELINE_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def stage_sample(songs: int, seed: int, partitions: list[str]) -> tuple[str, str]:
    base = os.path.join(PROJECT, "var", "bench", f"load-{songs}-{seed}")
    msd_root, staging_root = os.path.join(base, "msd"), os.path.join(base, "staging")
    # The MSD and Spotify tables, as this benchmark has always loaded (Deezer, on by default since, would
    # need its own sandbox and staging, and change what is compared).
    os.environ.update(MUSIC_ETL_MSD_ROOT=msd_root, MUSIC_ETL_STAGING_ROOT=staging_root, MUSIC_ETL_SOURCES_ENABLED="spotify",
                      SPOTIPY_CLIENT_ID="sandbox-client", SPOTIPY_CLIENT_SECRET="sandbox-secret")
    if not os.path.exists(os.path.join(msd_root, "AdditionalFiles", "sample_manifest.json")):
        generate_sample(msd_root, songs=songs, seed=seed, partitions=partitions)
    import luigi

    from pipeline.sources.spotify.tasks import SpotifyEnrich

    server = SandboxServer(SandboxState(build_catalog(load_identities(msd_root), seed=3), mode="extended")).start()
    os.environ.update(MUSIC_ETL_SPOTIFY_API_URL=f"{server.url}/v1/", MUSIC_ETL_SPOTIFY_TOKEN_URL=f"{server.url}/api/token")
    try:
        ok = luigi.build([SpotifyEnrich(partition=p) for p in discover_partitions(msd_root)], local_scheduler=True,
                         log_level="WARNING")
    finally:
        server.stop()
    if not ok:
        raise SystemExit("staging the sample failed; see the log above")
    return msd_root, staging_root


def baseline_rows(load: PartitionLoad, table: schema.Table) -> list[tuple]:
    columns = [c for c in table.columns() if c.name != "load_id"]
    rows = []
    for record in staging.read_jsonl_gz(staging.target(load.path(table))):
        rows.append(tuple(orjson.dumps(record.get(c.name)).decode() if c.is_json and record.get(c.name) is not None
                          else record.get(c.name) for c in columns) + (load.load_id,))
    return rows


def run_baseline(backend, loads: list[PartitionLoad], placeholder: str) -> int:
    """Row-by-row INSERT, the way a first script loads data."""
    total = 0
    for load in loads:
        with backend.transaction():
            for table in load.tables():
                names = [c.name for c in table.columns()]
                sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join([placeholder] * len(names))})"
                rows = baseline_rows(load, table)
                cursor = backend.con.cursor() if isinstance(backend, PostgresBackend) else backend.con
                for row in rows:
                    cursor.execute(sql, row)
                total += len(rows)
    return total


def run_pipeline(backend, loads: list[PartitionLoad]) -> int:
    return sum(sum(load_partition(backend, load).values()) for load in loads)


def timed(fn) -> tuple[int, float]:
    started = time.perf_counter()
    rows = fn()
    return rows, time.perf_counter() - started


def _admin(sql: str) -> None:
    import psycopg2

    admin = psycopg2.connect(PG_DSN)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(sql)
    admin.close()


def postgres_backend(search_path: str) -> PostgresBackend:
    _admin(f"CREATE SCHEMA {search_path}")
    separator = "&" if "?" in PG_DSN else "?"
    backend = PostgresBackend(f"{PG_DSN}{separator}options=-csearch_path%3D{search_path}")
    backend.ensure_schema()
    return backend


def drop_schema(name: str) -> None:
    _admin(f"DROP SCHEMA IF EXISTS {name} CASCADE")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--songs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--partitions", default="A/A,A/B,B/A,B/B")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    _, _ = stage_sample(args.songs, args.seed, args.partitions.split(","))
    from pipeline.partitions import discover_partitions as discover

    loads = [read_manifests(p, LoadPartition(partition=p).input_manifests()) for p in discover(os.environ["MUSIC_ETL_MSD_ROOT"])]
    results = {"songs": args.songs, "partitions": len(loads), "backends": {}}

    # PostgreSQL: fresh schemas for each contender, baseline first then pipeline, then once more
    # in the other order; the best time of each counts.
    for backend_name in ("postgresql", "duckdb"):
        times: dict[str, list[float]] = {"pipeline": [], "baseline": []}
        rows: dict[str, int] = {}
        for round_ in range(2):
            order = ("baseline", "pipeline") if round_ == 0 else ("pipeline", "baseline")
            for contender in order:
                if backend_name == "postgresql":
                    name = f"bench_{uuid.uuid4().hex[:10]}"
                    backend = postgres_backend(name)
                else:
                    folder = tempfile.mkdtemp()
                    backend = DuckDBBackend(f"duckdb:///{folder}/bench.duckdb")
                    backend.ensure_schema()
                    name = None
                try:
                    placeholder = "%s" if backend_name == "postgresql" else "?"
                    fn = (lambda b=backend: run_pipeline(b, loads)) if contender == "pipeline" else \
                        (lambda b=backend, p=placeholder: run_baseline(b, loads, p))
                    count, seconds = timed(fn)
                finally:
                    backend.close()
                    if name:
                        drop_schema(name)
                rows[contender] = count
                times[contender].append(seconds)
        assert rows["pipeline"] == rows["baseline"], rows
        best = {k: min(v) for k, v in times.items()}
        results["backends"][backend_name] = {
            "rows": rows["pipeline"], "seconds": times,
            "rows_per_s": {k: round(rows[k] / best[k]) for k in best},
            "ratio": round(best["baseline"] / best["pipeline"], 1)}
        r = results["backends"][backend_name]
        print(f"{backend_name}: {r['rows']} rows; pipeline {r['rows_per_s']['pipeline']:,} rows/s, "
              f"row-by-row INSERT {r['rows_per_s']['baseline']:,} rows/s: {r['ratio']}x", flush=True)
    write_results(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
