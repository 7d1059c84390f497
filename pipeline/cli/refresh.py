"""``python -m pipeline refresh``: the daily refresh (DailyRefresh through RangeDaily) up to today in
``[refresh] timezone``, missed days caught up.

    python -m pipeline refresh [--start YYYY-MM-DD | --date YYYY-MM-DD] [--workers N] [--scheduler-url URL]
"""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime, time, timedelta

import luigi

from pipeline import config, progress, staging
from pipeline.caches import forget_listings
from pipeline.cli import console
from pipeline.cli.run import add_scheduling
from pipeline.errors import TerminalError
from pipeline.luigid import check_scheduler
from pipeline.scheduling import WorkerSchedulerFactory
from pipeline.warehouse.backends import warehouse_backend
from pipeline.warehouse.schema import MARKER_TABLE
from pipeline.warehouse.target import marker_table_exists_sql


def add_parser(sub) -> None:
    refresh = sub.add_parser("refresh", help="the daily refresh (DailyRefresh through RangeDaily) up to today in "
                                             "[refresh] timezone, missed days caught up")
    refresh.add_argument("--start", type=date.fromisoformat, default=None,
                         help="first day to make sure of (default: the first day ever refreshed, else today)")
    refresh.add_argument("--now", type=datetime.fromisoformat, default=None,
                         help="the time to take as now, with its UTC offset (default: the clock)")
    refresh.add_argument("--date", type=date.fromisoformat, default=None,
                         help="refresh this one day only (a backfill), not every day up to today")
    add_scheduling(refresh)


def command(args: argparse.Namespace) -> int:
    if args.date is not None:
        if args.start is not None:
            raise TerminalError("refresh: give --date (one day) or --start (every day from it), not both")
        return refresh_days(args.date, args.workers, args.scheduler_url, args.now, last=args.date)
    return refresh_days(args.start, args.workers, args.scheduler_url, args.now)


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


def range_of_days(start: date, last: date, today: date):
    """``RangeDaily`` over ``DailyRefresh`` from ``start`` to ``last``, ``today`` being today in ``[refresh] timezone``."""
    from luigi.tools.range import RangeDaily

    from pipeline.tasks import DailyRefresh

    # RangeDaily's "today" is UTC's: at 07:00 in Tokyo it is still yesterday there. Its clock is set to
    # noon (UTC) of the local date instead, and its days_back to reach back to `start`, which it would
    # otherwise drop in silence. param_name given: Luigi's default (None) draws a "not of type string" warning.
    clock = int(datetime.combine(today, time(12), tzinfo=UTC).timestamp())
    return RangeDaily(of=DailyRefresh, param_name="date", start=start, stop=last + timedelta(days=1), now=clock,
                      days_back=max(config.refresh().days_back, (today - start).days + 1))


def refresh_days(start: date | None, workers: int, scheduler_url: str | None, now: datetime | None = None,
                 last: date | None = None) -> int:
    """``RangeDaily`` over ``DailyRefresh`` up to today in ``[refresh] timezone`` (or up to ``last``): every day
    from ``start`` (default: the first day ever refreshed, else today; at most ``[refresh] days_back``
    days back) that is not complete is run, missed days included. 0 when every one is complete."""
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
        raise TerminalError(f"refresh --{'date' if last else 'start'} {start} is after today ({today} in [refresh] "
                            f"timezone {config.refresh().timezone}): a snapshot holds what the sources say when it is "
                            f"taken; give a day up to {today}")
    last = last or today
    if console.log_path() is None:
        console.start("refresh")
    check_scheduler(scheduler_url)
    task = range_of_days(start, last, today)
    kwargs = {"scheduler_url": scheduler_url} if scheduler_url else {"local_scheduler": True}
    progress.install()
    luigi.build([task], workers=workers, detailed_summary=True, worker_scheduler_factory=WorkerSchedulerFactory(),
                **kwargs)
    forget_listings()
    days = [start + timedelta(days=i) for i in range((last - start).days + 1)]
    missing = [d for d in days if not DailyRefresh(date=d).complete()]
    for day in days:
        if day not in missing:
            print(summary_line(staging.read_json(summary_target(day))))
    if missing:
        console.print_failure(console.failures(), "refresh did not complete: " + ", ".join(
            f"DailyRefresh({d})" for d in missing) + "; rerun to continue: what each day was answered is stored and "
            "its plan kept")
        return 1
    return 0
