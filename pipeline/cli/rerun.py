"""``python -m pipeline rerun A/B --force``: redo one partition from scratch.

The partition's staged files (every stage of every source) and its warehouse markers are removed, then it
runs again from the answers already stored (they were paid for, and are shared by every partition);
``--forget-journals`` also removes pre-store journals (Spotify's ``spotify/A/B/journal/`` of early
versions). What the rerun will need is checked before anything is removed (pipeline/preflight.py).
"""

from __future__ import annotations

import argparse
import os
import shutil

from pipeline import staging
from pipeline.caches import forget_listings
from pipeline.cli.run import add_scheduling, build
from pipeline.partitions import validate_partition
from pipeline.preflight import check_rerun
from pipeline.sources import registry
from pipeline.tasks.extract import ExtractPartition
from pipeline.tasks.run_all import RunAll
from pipeline.warehouse.backends import literal, warehouse_backend
from pipeline.warehouse.schema import MARKER_TABLE
from pipeline.warehouse.target import marker_table_exists_sql


def add_parser(sub) -> None:
    rerun = sub.add_parser("rerun", help="redo one partition from scratch")
    rerun.add_argument("partition")
    rerun.add_argument("--force", action="store_true", required=True,
                       help="required: removes the partition's staged files and warehouse markers first")
    rerun.add_argument("--forget-journals", "--forget-spotify-answers", dest="forget_journals", action="store_true",
                       help="also drop its pre-store journals (spotify/A/B/journal/ of early versions); the answer store "
                            "shared by every partition stays (make forget-answers SOURCE=… removes it)")
    add_scheduling(rerun)


def command(args: argparse.Namespace) -> int:
    partition = validate_partition(args.partition)
    check_rerun(partition)  # what the rerun will need, before anything is removed
    for item in forget_partition(partition, args.forget_journals):
        print(f"removed {item}")
    return build(RunAll(partitions=partition), args.workers, args.scheduler_url)


def forget_partition(partition: str, forget_journals: bool = False) -> list[str]:
    """Remove a partition's staged files (every stage of every source) and warehouse markers; returns
    what was removed. Answers are never removed; pre-store journals only when ``forget_journals``."""
    removed = _remove_prefix(staging.partition_prefix(ExtractPartition.stage, partition), keep=())
    for source in registry.registered():
        for stage in source.stages():
            prefix = staging.partition_prefix(stage.stage, partition)
            keep = () if forget_journals else tuple(f"{prefix}/{journal}/" for journal in source.journals())
            removed += _remove_prefix(prefix, keep=keep)
    backend = warehouse_backend()
    try:
        if backend.query(marker_table_exists_sql(backend.dialect)):
            with backend.transaction():
                backend.execute(f"DELETE FROM {MARKER_TABLE} WHERE msd_partition = {literal(partition)}")
            removed.append(f"{MARKER_TABLE} rows of {partition}")
    finally:
        backend.close()
    forget_listings()  # what this process listed before is out of date now
    return removed


def _remove_prefix(prefix: str, keep: tuple[str, ...]) -> list[str]:
    if staging.is_s3(prefix):
        client = staging.s3_client()
        paths = [p for p in client.listdir(prefix) if not p.startswith(keep)]
        for path in paths:
            client.remove(path)
        return paths
    if not os.path.isdir(prefix):
        return []
    removed = []
    for name in sorted(os.listdir(prefix)):
        path = os.path.join(prefix, name)
        if (path + "/").startswith(keep):
            continue
        shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
        removed.append(path)
    return removed
