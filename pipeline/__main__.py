"""``python -m pipeline``: run the pipeline, see where partitions stand, rerun one partition.

    python -m pipeline run [--partitions A/A,B/D | --letters A] [--workers N] [--scheduler-url URL] [--dry-run]
    python -m pipeline extract [--partitions A/A,B/D | --letters A] [--workers N]
    python -m pipeline status
    python -m pipeline rerun A/B --force [--forget-spotify-answers] [--workers N]
    python -m pipeline report [--out data/report.html]
    python -m pipeline export [--format parquet|csv] [--out data/export]
    python -m pipeline refresh [--start YYYY-MM-DD] [--workers N] [--scheduler-url URL]

A thin front end over ``luigi.build`` (the same tasks as ``luigi --module pipeline RunAll``):
it prints a run summary and exits non-zero, naming what failed, when anything did.

``rerun --force`` removes the partition's staged files and warehouse markers, then runs it
again from the Spotify answers already stored (they were paid for, and are shared by every
partition); ``--forget-spotify-answers`` also removes the partition's pre-store journal.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from datetime import UTC, date, datetime, time, timedelta

import luigi

from pipeline import config, forget_listings, progress, staging, status
from pipeline.errors import TerminalError
from pipeline.partitions import validate_partition
from pipeline.preflight import check_rerun
from pipeline.scheduling import WorkerSchedulerFactory
from pipeline.spotify.journal import JOURNAL_DIR
from pipeline.tasks import (
    DeezerEnrich,
    EnrichPartition,
    ExtractAll,
    ExtractPartition,
    LoadPartition,
    RunAll,
    SpotifySearch,
)
from pipeline.tasks.enrich import QUOTA_STATE, sent_total
from pipeline.tasks.run_all import partition_steps
from pipeline.warehouse.backends import literal, redact, warehouse_backend
from pipeline.warehouse.load import read_manifests
from pipeline.warehouse.schema import MARKER_TABLE
from pipeline.warehouse.target import marker_table_exists_sql


def stopped_at(partition: str) -> str | None:
    """The first step of a partition that is not complete (``EnrichPartition(A/B)``), None if loaded."""
    for step in partition_steps():
        if not step(partition=partition).complete():
            return f"{step.__name__}({partition})"
    return None


def run_summary(before: dict[str, str | None], after: dict[str, str | None]) -> tuple[str, list[str]]:
    """Partitions loaded / already loaded / not loaded, songs, match rate, Spotify requests, quota,
    where the data is: judged by the targets before and after the run, so the work of other
    processes on the same scheduler counts as it should."""
    loaded = [p for p in after if after[p] is None and before[p] is not None]
    skipped = [p for p in after if before[p] is None]
    failed = sorted(step for step in after.values() if step is not None)
    songs = matched = requests = deezer_requests = 0
    agreement = {"both_matched": 0, "disagree": 0}
    deezer_on = "deezer" in config.enabled_sources()
    for partition in after:
        if before[partition] in (None, f"LoadPartition({partition})"):
            continue  # enriched before this run
        enrich = EnrichPartition(partition=partition).output()
        if enrich.exists():
            manifest = enrich.read()[0]
            songs, matched = songs + manifest["songs"], matched + manifest["statuses"]["matched"]
            requests += sent_total(manifest)
        deezer = DeezerEnrich(partition=partition).output() if deezer_on else None
        if deezer is not None and deezer.exists():
            manifest = deezer.read()[0]
            deezer_requests += sent_total(manifest)
            for key in agreement:
                agreement[key] += manifest["agreement"][key]
    lines = [f"partitions loaded this run: {len(loaded)}, already loaded: {len(skipped)}, failed: {len(failed)}",
             f"songs enriched this run: {songs}, matched {matched}"
             + (f" ({matched / songs:.1%})" if songs else "")
             + f", Spotify requests sent {requests} (every one: retries, rate-limited and token requests included)"]
    if deezer_on:
        lines.append(f"Deezer requests sent {deezer_requests}; Spotify and Deezer both matched "
                     f"{agreement['both_matched']} songs this run, {agreement['disagree']} disagree on the recording "
                     f"(see enriched_songs.sources_agree)")
    quota = staging.target(f"{staging.root()}/spotify/{QUOTA_STATE}")
    if quota.exists():
        state = staging.read_json(quota)
        if datetime.fromisoformat(state["resume_at"]) > datetime.now(UTC):
            lines.append(f"Spotify quota exhausted (partition {state['partition']}): rerun after {state['resume_at']}; "
                         f"answers so far are stored")
    lines.append(f"staging {staging.root()}; warehouse {redact(config.warehouse().url)}")
    if failed:
        lines.append("not complete: " + ", ".join(failed))
    return "\n".join(lines), failed


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
    """Run ``run`` with Luigi, print the run summary; 0 when everything it selected is complete."""
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
    print(f"run did not succeed ({result.status.name}): " + (", ".join(failed) or "the warehouse step did not finish"),
          file=sys.stderr)
    return 1


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
        print("extraction did not succeed: " + ", ".join(f"ExtractPartition({p})" for p in missing), file=sys.stderr)
        return 1
    return 0


def forget_partition(partition: str, forget_spotify_answers: bool = False) -> list[str]:
    """Remove a partition's staged files and warehouse markers; returns what was removed."""
    removed = []
    for stage in (ExtractPartition.stage, SpotifySearch.stage, EnrichPartition.stage, DeezerEnrich.stage):
        prefix = staging.partition_prefix(stage, partition)
        keep_journal = stage == EnrichPartition.stage and not forget_spotify_answers
        removed += _remove_prefix(prefix, keep=f"{prefix}/{JOURNAL_DIR}/" if keep_journal else None)
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


def _remove_prefix(prefix: str, keep: str | None) -> list[str]:
    if staging.is_s3(prefix):
        client = staging.s3_client()
        paths = [p for p in client.listdir(prefix) if not (keep and p.startswith(keep))]
        for path in paths:
            client.remove(path)
        return paths
    if not os.path.isdir(prefix):
        return []
    removed = []
    for name in sorted(os.listdir(prefix)):
        path = os.path.join(prefix, name)
        if keep and (path + "/").startswith(keep):
            continue
        shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
        removed.append(path)
    return removed


def dry_run(partitions: str, letters: str) -> int:
    """What a run would do: each partition's targets and whether they exist, the schema and one
    partition's load statements for the configured backend. Reads; writes and sends nothing."""
    from pipeline.warehouse.dry_run import recording
    from pipeline.warehouse.load import load_partition
    from pipeline.warehouse.schema import statements

    selected = RunAll(partitions=partitions, letters=letters).selected_partitions()
    settings = config.spotify()
    print(f"MSD root {config.msd().root}\nstaging {staging.root()}\nwarehouse {redact(config.warehouse().url)}\n"
          f"Spotify API {settings.api_url}")
    print(f"Deezer API {config.deezer().api_url}\n" if "deezer" in config.enabled_sources() else "Deezer off\n")
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


def first_refreshed_day() -> date | None:
    """The earliest day ``DailyRefresh`` completed in this warehouse, if any."""
    backend = warehouse_backend()
    try:
        if not backend.query(marker_table_exists_sql(backend.dialect)):
            return None
        first = backend.scalar(f"SELECT min(step) FROM {MARKER_TABLE} WHERE step LIKE 'refresh:%'")
    finally:
        backend.close()
    return date.fromisoformat(first.split(":", 1)[1]) if first else None


def refresh_days(start: date | None, workers: int, scheduler_url: str | None, now: datetime | None = None) -> int:
    """``RangeDaily`` over ``DailyRefresh`` up to today in ``[refresh] timezone``: every day from
    ``start`` (default: the first day ever refreshed, else today; at most ``[refresh] days_back``
    days back) that is not complete is run, missed days included. 0 when every one is complete."""
    from luigi.tools.range import RangeDaily

    from pipeline.tasks import DailyRefresh
    from pipeline.tasks.refresh import local_today, summary_line, summary_target

    if now is not None and now.tzinfo is None:
        raise TerminalError(f"refresh --now {now.isoformat()} has no UTC offset; give one, e.g. "
                            f"{now.isoformat()}+09:00, or Z for UTC")
    now = now or datetime.now(UTC)
    today = local_today(now)
    days_back = config.refresh().days_back
    if start is None:
        start = max(first_refreshed_day() or today, today - timedelta(days=days_back))
    if start > today:
        raise TerminalError(f"refresh --start {start} is after today ({today} in [refresh] timezone "
                            f"{config.refresh().timezone})")
    # RangeDaily's "today" is UTC's: at 07:00 in Tokyo it is still yesterday there. Its clock is set to
    # noon (UTC) of the local date instead, and its days_back to reach back to `start`, which it would
    # otherwise drop in silence.
    clock = int(datetime.combine(today, time(12), tzinfo=UTC).timestamp())
    task = RangeDaily(of=DailyRefresh, start=start, stop=today + timedelta(days=1), now=clock,
                      days_back=max(days_back, (today - start).days + 1))
    kwargs = {"scheduler_url": scheduler_url} if scheduler_url else {"local_scheduler": True}
    progress.install()
    luigi.build([task], workers=workers, detailed_summary=True, worker_scheduler_factory=WorkerSchedulerFactory(),
                **kwargs)
    forget_listings()
    days = [start + timedelta(days=i) for i in range((today - start).days + 1)]
    missing = [d for d in days if not DailyRefresh(date=d).complete()]
    for day in days:
        if day not in missing:
            print(summary_line(staging.read_json(summary_target(day))))
    if missing:
        print("refresh did not complete: " + ", ".join(f"DailyRefresh({d})" for d in missing)
              + "; rerun later: what each day was answered is stored and its plan kept", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="RunAll over every partition (or a chosen set)")
    run.add_argument("--partitions", default="")
    run.add_argument("--letters", default="")
    run.add_argument("--dry-run", action="store_true",
                     help="print the partitions, their targets and the SQL a run would send; change nothing")
    extract_only = sub.add_parser("extract", help="ExtractAll: stage the MSD partitions (or a chosen set), nothing else")
    extract_only.add_argument("--partitions", default="")
    extract_only.add_argument("--letters", default="")
    extract_only.add_argument("--workers", type=int, default=1)
    rerun = sub.add_parser("rerun", help="redo one partition from scratch")
    rerun.add_argument("partition")
    rerun.add_argument("--force", action="store_true", required=True,
                       help="required: removes the partition's staged files and warehouse markers first")
    rerun.add_argument("--forget-spotify-answers", action="store_true",
                       help="also drop its pre-store Spotify journal (spotify/A/B/journal/); the answer store shared by "
                            "every partition stays (make forget-spotify-answers removes it)")
    for p in (run, rerun):
        p.add_argument("--workers", type=int, default=1)
        p.add_argument("--scheduler-url", default=None, help="luigid, e.g. http://127.0.0.1:8082 (default: local scheduler)")
    sub.add_parser("status", help="where each partition stands")
    report = sub.add_parser("report", help="one self-contained HTML page: coverage, scores, agreement, popularity, "
                                           "requests and quota, with figures")
    report.add_argument("--out", default=os.path.join("data", "report.html"))
    export = sub.add_parser("export", help="every analytics table and enriched_songs as Parquet (or CSV) files, "
                                           "described by the data dictionary")
    export.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    export.add_argument("--out", default=os.path.join("data", "export"))
    refresh = sub.add_parser("refresh", help="the daily refresh (DailyRefresh through RangeDaily) up to today in "
                                             "[refresh] timezone, missed days caught up")
    refresh.add_argument("--start", type=date.fromisoformat, default=None,
                         help="first day to make sure of (default: the first day ever refreshed, else today)")
    refresh.add_argument("--now", type=datetime.fromisoformat, default=None,
                         help="the time to take as now, with its UTC offset (default: the clock)")
    refresh.add_argument("--workers", type=int, default=1)
    refresh.add_argument("--scheduler-url", default=None, help="luigid, e.g. http://127.0.0.1:8082")
    args = parser.parse_args(argv)
    try:
        return _command(args)
    except TerminalError as exc:  # bad input or configuration: one line naming it and the fix
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _command(args: argparse.Namespace) -> int:
    if args.command == "status":
        return status.main()
    if args.command == "report":
        from pipeline.report.render import write_report

        print(f"report written to {write_report(args.out)}")
        return 0
    if args.command == "export":
        from pipeline.export import export

        counts = export(args.out, args.format)
        print(f"exported {len(counts)} tables ({sum(counts.values())} rows) as {args.format} to "
              f"{os.path.abspath(args.out)}; README.md there says what each file holds")
        return 0
    if args.command == "refresh":
        return refresh_days(args.start, args.workers, args.scheduler_url, args.now)
    if args.command == "run" and args.dry_run:
        return dry_run(args.partitions, args.letters)
    if args.command == "extract":
        return extract(ExtractAll(partitions=args.partitions, letters=args.letters), args.workers)
    if args.command == "run":
        return build(RunAll(partitions=args.partitions, letters=args.letters), args.workers, args.scheduler_url)
    partition = validate_partition(args.partition)
    check_rerun(partition)  # what the rerun will need, before anything is removed
    for item in forget_partition(partition, args.forget_spotify_answers):
        print(f"removed {item}")
    return build(RunAll(partitions=partition), args.workers, args.scheduler_url)


if __name__ == "__main__":
    sys.exit(main())
