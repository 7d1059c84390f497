"""``python -m pipeline extract``: stage the MSD partitions (or a chosen set), nothing else.

    python -m pipeline extract [--partitions A/A,B/D | --letters A] [--workers N]
"""

from __future__ import annotations

import argparse

import luigi

from pipeline import progress
from pipeline.caches import forget_listings
from pipeline.cli import console
from pipeline.cli.run import add_selection
from pipeline.scheduling import WorkerSchedulerFactory
from pipeline.tasks.extract import ExtractPartition
from pipeline.tasks.run_all import ExtractAll


def add_parser(sub) -> None:
    extract_only = sub.add_parser("extract", help="ExtractAll: stage the MSD partitions (or a chosen set), nothing else")
    add_selection(extract_only)
    extract_only.add_argument("--workers", type=int, default=1, help="partitions extracted at once, each in a process "
                                                                     "of its own")


def command(args: argparse.Namespace) -> int:
    return extract(ExtractAll(partitions=args.partitions, letters=args.letters), args.workers)


def extract(task: ExtractAll, workers: int) -> int:
    """Extraction only (``ExtractAll``), with the same display as a run: 0 when every selected
    partition is extracted."""
    progress.install()
    selected = task.selected_partitions()
    todo = [p for p in selected if not ExtractPartition(partition=p).complete()]
    with progress.run_bar(len(todo) + 1 if todo else 0, len(todo), step="ExtractPartition"):
        luigi.build([task], workers=workers, local_scheduler=True, detailed_summary=True,
                    worker_scheduler_factory=WorkerSchedulerFactory())
    forget_listings()
    missing = [p for p in selected if not ExtractPartition(partition=p).complete()]
    tracks = quarantined = 0
    for partition in (p for p in todo if p not in missing):
        counts = ExtractPartition(partition=partition).output().read()[0]["counts"]
        tracks, quarantined = tracks + counts["tracks"], quarantined + counts["quarantined"]
    print(f"partitions extracted this run: {len(todo) - len(missing)}, already extracted: {len(selected) - len(todo)}, "
          f"failed: {len(missing)}; tracks staged this run: {tracks}, quarantined {quarantined}")
    if missing:
        console.print_failure(console.failures(), "extraction did not succeed: " + ", ".join(
            f"ExtractPartition({p})" for p in missing))
        return 1
    return 0
