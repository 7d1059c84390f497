"""``python -m pipeline run``: RunAll over every partition (or a chosen set), and what a run shares with
``rerun``: the run summary, judged by the targets before and after the run.

    python -m pipeline run [--partitions A/A,B/D | --letters A] [--workers N] [--scheduler-url URL] [--dry-run]

A thin front end over ``luigi.build`` (the same tasks as ``luigi --module pipeline RunAll``): it prints
a run summary and exits non-zero, naming what failed, when anything did.
"""

from __future__ import annotations

import argparse

import luigi

from pipeline import config, progress, staging
from pipeline.caches import forget_listings
from pipeline.cli import console
from pipeline.luigid import check_scheduler
from pipeline.scheduling import WorkerSchedulerFactory
from pipeline.sources import answers, registry
from pipeline.tasks.extract import ExtractPartition
from pipeline.tasks.load import LoadPartition
from pipeline.tasks.run_all import RunAll, partition_steps
from pipeline.warehouse.backends import redact, warehouse_backend
from pipeline.warehouse.load import read_manifests


def add_parser(sub) -> None:
    run = sub.add_parser("run", help="RunAll over every partition (or a chosen set)")
    add_selection(run)
    run.add_argument("--dry-run", action="store_true",
                     help="print the partitions, their targets and the SQL a run would send; change nothing")
    add_scheduling(run)


def add_selection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--partitions", default="", help="comma-separated MSD partitions, e.g. A/A,B/D (default: every "
                                                         "partition under [msd] root)")
    parser.add_argument("--letters", default="", help="every partition under these first letters, e.g. A or AB")


def add_scheduling(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=int, default=1, help="tasks run at once, each in a process of its own")
    parser.add_argument("--scheduler-url", default=None,
                        help="luigid to schedule on, e.g. http://127.0.0.1:8082 (`make scheduler`); "
                             "default: a local scheduler in this process")


def command(args: argparse.Namespace) -> int:
    if args.dry_run:
        return dry_run(args.partitions, args.letters)
    return build(RunAll(partitions=args.partitions, letters=args.letters), args.workers, args.scheduler_url)


def stopped_at(partition: str) -> str | None:
    """The first step of a partition that is not complete (``SpotifyEnrich(A/B)``), None if loaded."""
    for step in partition_steps():
        if not step(partition=partition).complete():
            return f"{step.__name__}({partition})"
    return None


def run_summary(before: dict[str, str | None], after: dict[str, str | None]) -> tuple[str, list[str]]:
    """Partitions loaded / already loaded / not loaded, songs, each source's matches and requests, standing
    conditions (a quota stop), where the data is: judged by the targets before and after the run, so the
    work of other processes on the same scheduler counts as it should."""
    loaded = [p for p in after if after[p] is None and before[p] is not None]
    skipped = [p for p in after if before[p] is None]
    failed = sorted(step for step in after.values() if step is not None)
    enriched = [p for p in after if before[p] not in (None, f"LoadPartition({p})")]  # not enriched before this run
    sources = registry.enabled()
    manifests: dict[str, list[dict]] = {s.name: [] for s in sources}
    songs = 0
    for partition in enriched:
        counted = 0
        for source in sources:
            target = source.loaded_stage(partition).output()
            if target.exists():
                manifest = target.read()[0]
                manifests[source.name].append(manifest)
                counted = max(counted, manifest.get("songs", 0))
        songs += counted
    lines = [f"partitions loaded this run: {len(loaded)}, already loaded: {len(skipped)}, failed: {len(failed)}",
             f"songs enriched this run: {songs}"]
    lines += quarantine_lines(loaded)
    for source in sources:
        done = manifests[source.name]
        asked = sum(m.get("songs", 0) for m in done)
        matched = sum((m.get("statuses") or {}).get("matched", 0) for m in done)
        spent = answers.total_spent(source.name)
        lines.append(f"{source.title}: matched {matched}" + (f" of {asked} ({matched / asked:.1%})" if asked else "")
                     + f", requests sent by this command {spent['this_command']}, by every command so far "
                       f"{spent['sent_total']}")
        if done:
            lines += source.summary(done)
    if sources:
        lines.append("(requests: every one sent, retries, rate-limited and token requests included, failed and "
                     "interrupted tasks' too)")
    if failed:  # a standing condition (a quota stop) explains what is left; after a whole run nothing is left
        for source in sources:
            lines += source.notes()
    lines.append(f"staging {staging.root()}; warehouse {redact(config.warehouse().url)}")
    if failed:
        lines.append("not complete: " + ", ".join(failed))
    return "\n".join(lines), failed


def quarantine_lines(partitions: list[str]) -> list[str]:
    """What the loads of ``partitions`` left out: MSD files their extraction quarantined (unreadable, or holding
    a value no warehouse can store), with where each one is named."""
    quarantined = {}
    for partition in partitions:
        target = ExtractPartition(partition=partition).output()
        if target.exists():
            listed = target.read()[0].get("quarantined") or []
            if listed:
                quarantined[partition] = listed
    if not quarantined:
        return []
    first = next(iter(quarantined.values()))[0]
    total = sum(map(len, quarantined.values()))
    return [f"quarantined, not loaded: {total} MSD file(s) in {', '.join(sorted(quarantined))} (e.g. {first['path']}: "
            f"{first['reason']}); each partition's extraction manifest lists them with the reason "
            f"(`python -m pipeline status` counts them)"]


def tasks_to_run(before: dict[str, str | None]) -> tuple[int, int]:
    """(tasks, partitions) a run has ahead of it, from where each partition stopped: its steps from
    the first incomplete one, and the run-wide steps (schema, finalize, RunAll, RunReport) when any."""
    steps = [step.__name__ for step in partition_steps()]
    tasks = partitions = 0
    for stopped in before.values():
        if stopped is not None:
            tasks += len(steps) - steps.index(stopped.split("(")[0])
            partitions += 1
    return (tasks + 4 if tasks else 0), partitions


def build(run: RunAll, workers: int, scheduler_url: str | None, **luigi_options) -> int:
    """Run ``run`` with Luigi, print the run summary; 0 when everything it selected is complete. When something
    failed, the last line printed is the first failure's cause (pipeline/cli/console.py)."""
    if console.log_path() is None:
        console.start("run")
    check_scheduler(scheduler_url)
    progress.install()
    selected = run.selected_partitions()
    before = {p: stopped_at(p) for p in selected}
    kwargs = {"scheduler_url": scheduler_url} if scheduler_url else {"local_scheduler": True}
    with progress.run_bar(*tasks_to_run(before)):
        result = luigi.build([run], workers=workers, detailed_summary=True,
                             worker_scheduler_factory=WorkerSchedulerFactory(), **kwargs, **luigi_options)
    forget_listings()  # what this process listed while scheduling predates the run's work
    after = {p: stopped_at(p) for p in selected}
    summary, failed = run_summary(before, after)
    print(summary)
    if not failed and run.complete():
        return 0
    console.print_failure(console.failures(), f"the run did not finish ({result.status.name}): "
                          + (", ".join(failed) or "the warehouse step did not finish") + "; rerun to continue")
    return 1


def dry_run(partitions: str, letters: str) -> int:
    """What a run would do: each partition's targets and whether they exist, the schema and one
    partition's load statements for the configured backend. Reads; writes and sends nothing."""
    from pipeline.warehouse.dry_run import recording
    from pipeline.warehouse.load import load_partition
    from pipeline.warehouse.schema import statements

    selected = RunAll(partitions=partitions, letters=letters).selected_partitions()
    print(f"MSD root {config.msd().root}\nstaging {staging.root()}\nwarehouse {redact(config.warehouse().url)}")
    for source in registry.enabled():
        print(f"{source.title}: " + (", ".join(redact(url) for url, _ in source.endpoints()) or "no service asked"))
    off = [s.title for s in registry.registered() if s not in registry.enabled()]
    print(f"off ([sources] enabled): {', '.join(off)}\n" if off else "")
    to_load = []
    for partition in selected:
        steps = []
        for task in (step(partition=partition) for step in partition_steps()):
            try:
                state = "done" if task.complete() else "to run"
            except Exception as exc:  # e.g. the warehouse is not reachable from here
                state = f"unknown ({type(exc).__name__})"
            steps.append(f"{type(task).__name__} {state} -> {getattr(task.output(), 'folder', None) or task.output().update_id}")
        print(f"{partition}:\n  " + "\n  ".join(steps))
        if all(s.split()[1] == "done" for s in steps[:-1]) and steps[-1].split()[1] != "done":
            to_load.append(partition)
    backend = warehouse_backend()
    print(f"\n-- schema ({backend.dialect}), created once if missing")
    for statement in statements(backend.dialect):
        print(statement.split("(")[0].strip() + " …;" if statement.startswith("CREATE TABLE") else statement + ";")
    if to_load:
        load = read_manifests(to_load[0], LoadPartition(partition=to_load[0]).input_manifests())
        twin = recording(backend, {t.name: load.expected_rows(t) for t in load.tables()})
        load_partition(twin, load)
        print(f"\n-- the load of {to_load[0]} ({len(to_load)} partition(s) staged and waiting), one transaction")
        for statement in twin.statements:
            print(statement + ";")
    else:
        print("\n-- no partition is staged and waiting for its load: no load statements to show yet")
    return 0
