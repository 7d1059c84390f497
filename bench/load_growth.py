"""Loading a partition into a warehouse that already holds many others (PostgreSQL).

    .venv/bin/python bench/load_growth.py --copies 50 --json var/bench/load_growth.json

Stages the same sample as bench/load.py (cached under var/bench/), loads its 4 partitions
into a fresh schema, then fills every table with ``--copies`` altered copies of those rows
(other keys, partition ``Z/Z``, other load ids), as if other partitions had been loaded
before. It then reloads the 4 partitions, alternating two contenders, and keeps the best time:

* ``pipeline``: ``load_partition`` as LoadPartition runs it; its data-quality checks find
  this load's rows through the indexed partition and key columns;
* ``baseline``: the same load with the checks counting rows by ``load_id`` alone (as the
  checks were written before), which reads whole tables for every count.

The full MSD holds 1,000 times this sample's songs, so the warehouse a late partition meets
is ~1,000 times the sample; ``--copies`` sets how far toward that this run goes.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import write_results  # noqa: E402
from bench.load import drop_schema, postgres_backend, stage_sample  # noqa: E402
from pipeline.partitions import discover_partitions  # noqa: E402
from pipeline.tasks import LoadPartition  # noqa: E402
from pipeline.warehouse import load as load_module  # noqa: E402
from pipeline.warehouse.backends import literal  # noqa: E402
from pipeline.warehouse.schema import tables  # noqa: E402


def fill_with_copies(backend, copies: int) -> None:
    """Every table gets ``copies`` copies of its rows under other keys, partition and load id."""
    with backend.transaction():
        for table in tables():
            names = [c.name for c in table.columns()]
            altered = []
            for name in names:
                if name in table.key or name == table.replace_by:
                    altered.append(f"left({name}, 13) || to_char(i, 'FM00000')")  # ids are VARCHAR(18)
                elif name == "load_id":
                    altered.append("'other-load-' || i")
                elif name == "msd_partition":
                    altered.append("'Z/Z'")
                else:
                    altered.append(name)
            backend.execute(f"INSERT INTO {table.name} ({', '.join(names)}) SELECT {', '.join(altered)} "
                            f"FROM {table.name}, generate_series(1, {copies}) i")
    with backend.autocommit():
        backend.execute("ANALYZE")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--songs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--partitions", default="A/A,A/B,B/A,B/B")
    parser.add_argument("--copies", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    stage_sample(args.songs, args.seed, args.partitions.split(","))
    loads = [load_module.read_manifests(p, LoadPartition(partition=p).input_manifests())
             for p in discover_partitions(os.environ["MUSIC_ETL_MSD_ROOT"])]

    indexed = load_module._rows_of

    def by_load_id_only(table, load):
        return f"load_id = {literal(load.load_id)}"

    name = f"bench_{uuid.uuid4().hex[:10]}"
    backend = postgres_backend(name)
    results: dict = {"copies": args.copies, "partitions": len(loads), "seconds": {"pipeline": [], "baseline": []}}
    try:
        for load in loads:
            load_module.load_partition(backend, load)
        fill_with_copies(backend, args.copies)
        results["rows_in_warehouse"] = {t.name: backend.scalar(f"SELECT count(*) FROM {t.name}")
                                        for t in tables()}
        for round_ in range(args.rounds):
            order = ("pipeline", "baseline") if round_ % 2 == 0 else ("baseline", "pipeline")
            for contender in order:
                load_module._rows_of = indexed if contender == "pipeline" else by_load_id_only
                started = time.perf_counter()
                for load in loads:
                    load_module.load_partition(backend, load)
                results["seconds"][contender].append(time.perf_counter() - started)
    finally:
        load_module._rows_of = indexed
        backend.close()
        drop_schema(name)
    best = {k: min(v) for k, v in results["seconds"].items()}
    results["ratio"] = round(best["baseline"] / best["pipeline"], 2)
    rows = results["rows_in_warehouse"]
    print(f"warehouse: {rows['songs']:,} songs, {rows['similar_artists']:,} similar_artists rows, "
          f"{sum(rows.values()):,} rows in all")
    print(f"reloading {len(loads)} partitions: pipeline {best['pipeline']:.3f} s, checks by load_id only "
          f"{best['baseline']:.3f} s: {results['ratio']}x")
    write_results(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
