"""``make refresh-demo``: one day of the daily refresh against the demo's warehouse, every source played by its sandbox.

    python -m pipeline.demo_refresh [--mode development|extended] [--workers 2] [--sources …] [--day YYYY-MM-DD]

Run after ``make demo``, on the same settings (``data/msd``, ``data/staging``, ``data/warehouse.duckdb``). Each
enabled source starts its stand-in as the demo does (``Source.sandbox``), playing the calendar day refreshed:
ranks, popularity and fans moved as of that day and listen counts grown to it (pipeline/standins/demo_days.py),
so two days show movers. Then ``DailyRefresh`` runs that day (``python -m pipeline refresh``'s own
``refresh_days``, its clock set to the day), and the run report is written again beside the warehouse.

Which day: the day after the last one this warehouse refreshed; the first time, ``WEEK - 1`` days before today,
so each run adds the next day and a week of runs reaches today. A snapshot of a day to come cannot be taken:
once today is refreshed, a run says so and refreshes nothing (tomorrow brings a day more). A last day refreshed
more than a week ago is not caught up day by day: the next run starts the week before today again. ``--day``
refreshes that day instead (a backfill, when it is before the last one).
"""

from __future__ import annotations

import os
import sys
import time
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from zoneinfo import ZoneInfo

import luigi

from pipeline import config
from pipeline.cli import guarded
from pipeline.demo import demo_parser, demo_sources, demo_warehouse, print_received, report_path, sandboxes
from pipeline.errors import TerminalError
from pipeline.report.render import write_report
from pipeline.warehouse.backends import DuckDBBackend, warehouse_backend
from pipeline.warehouse.schema import MARKER_TABLE
from pipeline.warehouse.target import marker_table_exists_sql

WEEK = 7
SNAPSHOTS = "track_popularity_daily"


def refreshed_days() -> list[date]:
    """The days ``DailyRefresh`` completed in the configured warehouse, in order."""
    backend = warehouse_backend()
    try:
        if not backend.query(marker_table_exists_sql(backend.dialect)):
            return []
        steps = backend.query(f"SELECT step FROM {MARKER_TABLE} WHERE step LIKE 'refresh:%'")
    finally:
        backend.close()
    return sorted(date.fromisoformat(step.split(":", 1)[1]) for step, in steps)


def next_day(days: list[date], today: date) -> date | None:
    """The day a run refreshes (see the module's docstring); None when today is refreshed already."""
    earliest = today - timedelta(days=WEEK - 1)
    if not days:
        return earliest
    following = days[-1] + timedelta(days=1)
    return None if following > today else max(following, earliest)


def snapshot_counts() -> tuple[dict[date, dict[str, int]], dict[str, tuple[date, date, int, int]]]:
    """Snapshot rows per day and source; per source whose snapshots carry a measure (rank, popularity or
    listens) on two days or more: (first day, last day, tracks measured on both, how many of them moved)."""
    backend = warehouse_backend()
    try:
        per_day: dict[date, dict[str, int]] = {}
        for day, source, rows in backend.query(f"SELECT snapshot_date, source, count(*) FROM {SNAPSHOTS} "
                                               f"GROUP BY 1, 2 ORDER BY 1, 2"):
            per_day.setdefault(day, {})[source] = rows
        measure = "coalesce(popularity, listen_count)"
        moved = backend.query(
            f"WITH span AS (SELECT source, min(snapshot_date) AS first_day, max(snapshot_date) AS last_day "
            f"FROM {SNAPSHOTS} WHERE {measure} IS NOT NULL GROUP BY source HAVING min(snapshot_date) < max(snapshot_date)) "
            f"SELECT span.source, span.first_day, span.last_day, count(*), "
            f"sum(CASE WHEN coalesce(a.popularity, a.listen_count) <> coalesce(b.popularity, b.listen_count) "
            f"THEN 1 ELSE 0 END) FROM span "
            f"JOIN {SNAPSHOTS} a ON a.source = span.source AND a.snapshot_date = span.first_day "
            f"JOIN {SNAPSHOTS} b ON b.source = span.source AND b.snapshot_date = span.last_day "
            f"AND b.source_track_id = a.source_track_id AND b.msd_track_id = a.msd_track_id "
            f"WHERE coalesce(a.popularity, a.listen_count) IS NOT NULL AND coalesce(b.popularity, b.listen_count) IS NOT NULL "
            f"GROUP BY 1, 2, 3 ORDER BY 1")
    finally:
        backend.close()
    return per_day, {source: (first, last, both, int(changed)) for source, first, last, both, changed in moved}


def print_warehouse(sources) -> None:
    per_day, moved = snapshot_counts()
    titles = {s.name: s.title for s in sources}
    if not per_day:
        print("the demo warehouse holds no snapshot yet")
        return
    days = sorted(per_day)
    print(f"the demo warehouse holds {len(days)} refreshed day{'s' if len(days) > 1 else ''}, "
          f"{sum(sum(d.values()) for d in per_day.values())} snapshots in all ({SNAPSHOTS} rows; per day and source):")
    for day in days:
        print(f"  {day}  " + ", ".join(f"{titles.get(s, s)} {n}" for s, n in sorted(per_day[day].items())))
    for source, (first, last, both, changed) in moved.items():
        what = "listen count" if source == "listenbrainz" else "rank" if source == "deezer" else "popularity"
        print(f"{titles.get(source, source)}: {changed} of the {both} tracks snapshotted on {first} and on {last} "
              f"changed {what}")


def main(argv: list[str] | None = None) -> int:
    parser = demo_parser("python -m pipeline.demo_refresh", __doc__)
    parser.add_argument("--day", type=date.fromisoformat, default=None,
                        help="refresh this day (YYYY-MM-DD, up to today) instead of the next one")
    args = parser.parse_args(argv)

    msd_root = config.msd().root
    url = demo_warehouse()
    sources = demo_sources(args.sources)
    if url is None or sources is None:
        return 2
    path = DuckDBBackend(url).path
    if not os.path.exists(path):
        print(f"no demo warehouse at {path}: run `make demo` first", file=sys.stderr)
        return 2
    from pipeline.cli.refresh import refresh_days
    from pipeline.tasks.finalize import FinalizeWarehouse
    from pipeline.tasks.refresh import local_today
    from pipeline.tasks.run_all import every_partition

    try:
        today = local_today()
        days = refreshed_days()
        day = args.day or next_day(days, today)
        if day is not None and day > today:
            raise TerminalError(f"--day {day} is after today ({today} in [refresh] timezone "
                                f"{config.refresh().timezone}): a snapshot holds what the sources say on its day")
    except TerminalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    code = 0
    if day is None:
        print(f"every day up to today ({today}) is refreshed in {path}: a snapshot of a day to come cannot be taken; "
              f"the next day is tomorrow's (or give --day YYYY-MM-DD to refresh an earlier one)")
    else:
        print(f"refreshing {day} in {path}" + (" (a backfill: later days are refreshed already)"
                                               if days and day < days[-1] else ""), flush=True)
        # Luigi's own INFO lines would bury the day's; its warnings and errors still show.
        luigi.configuration.get_config().set("core", "log_level", "WARNING")
        # The refresh command's clock, set to the day's noon: it refreshes that day alone, as if it were today.
        noon = datetime.combine(day, clock_time(12), tzinfo=ZoneInfo(config.refresh().timezone))
        started = time.monotonic()
        with sandboxes(sources, msd_root, args.mode, args.latency_ms, day=day) as running:
            try:
                # What the day's refresh requires first, with the sandboxes' settings in place (the MusicBrainz dump
                # they name versions its stage): complete after the demo, else the refresh would enrich anew.
                if not FinalizeWarehouse(partitions=every_partition()).complete():
                    raise TerminalError(f"the demo warehouse {path} does not hold every partition of {msd_root} "
                                        f"loaded by {', '.join(s.name for s in sources)}: run `make demo` first "
                                        f"(with the same --sources)")
                code = refresh_days(day, args.workers, None, noon)
            except TerminalError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            received = {source: sandbox.requests() for source, sandbox in running.items()}
        print_received(received, f"for {day}")
        print(f"the refresh of {day} took {time.monotonic() - started:.1f} s (sandboxes started, DailyRefresh)")
    print_warehouse(sources)
    print(f"report: {write_report(report_path(url))} (its \"Popularity over time\" shows the biggest movers)")
    if code:
        print(f"the refresh of {day} did not finish: `make refresh-demo` again continues it "
              f"(with --day {day} once a later day is refreshed)", file=sys.stderr)
        return code
    following = next_day(refreshed_days(), today)
    print(f"next: `make refresh-demo` refreshes {following}" if following else
          f"every day up to today ({today}) is refreshed now; `make refresh-demo` tomorrow adds the next")
    return 0


if __name__ == "__main__":
    sys.exit(guarded(main))
