"""The daily refresh: dated snapshots of what changes (ranks, popularity, fans, availability, as each
source that refreshes shows them) for every matched track.

    DailyRefresh(date)                      the day, done when every enabled source's snapshot is loaded
      LoadSnapshot(date, source)            that source's rows of the date, one transaction
        RefreshPartition(date, source, A/B)   the partition's planned tracks, asked and staged
          PlanRefresh(date)                    which tracks the day refreshes, within each budget
            FinalizeWarehouse(every partition)   the day's run: new or changed MSD files picked up

``luigi --module pipeline RangeDaily --of DailyRefresh --start 2026-11-01`` backfills and catches up
missed days; ``RangeDaily`` sees which days are done from one query of the marker table
(``DailyRefresh.bulk_complete``). ``python -m pipeline refresh`` does the same for the days of
``[refresh] timezone`` (RangeDaily's own "today" is UTC's).
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import luigi
import orjson
from luigi.task import MixinNaiveBulkComplete

from pipeline import config, staging
from pipeline.errors import TerminalError
from pipeline.refresh.plan import PLAN_VERSION, plan_source
from pipeline.sources import answers, registry
from pipeline.sources.base import store_for
from pipeline.tasks.base import StagedPartitionTask
from pipeline.tasks.finalize import FinalizeWarehouse
from pipeline.tasks.load import warehouse_write_resources
from pipeline.tasks.run_all import every_partition
from pipeline.warehouse.backends import warehouse_backend
from pipeline.warehouse.load import record_marker
from pipeline.warehouse.snapshots import SNAPSHOT_STEP_VERSION, load_snapshot, snapshot_load_id
from pipeline.warehouse.target import WarehouseMarker

logger = logging.getLogger("luigi-interface")

REFRESH_STAGE = "refresh"


def refreshed_sources() -> list:
    """The enabled sources that take part in the daily refresh, in pipeline order."""
    return [s for s in registry.enabled() if s.refreshes]


class SourceParameter(luigi.Parameter):
    """The name of a source that refreshes (``python -m pipeline status`` lists the sources)."""

    def normalize(self, x):
        refreshing = [s.name for s in registry.registered() if s.refreshes]
        if x not in refreshing:
            raise TerminalError(f"--source {x}: expected one of {', '.join(refreshing)} (the sources that refresh)")
        return x


def local_today(now: datetime | None = None) -> date:
    """Today in ``[refresh] timezone``."""
    zone = config.refresh().timezone
    try:
        tz = ZoneInfo(zone)
    except (KeyError, ValueError) as exc:
        raise TerminalError(f"[refresh] timezone `{zone}` (environment MUSIC_ETL_REFRESH_TIMEZONE) is not an IANA time "
                            f"zone; use one such as UTC or Europe/Berlin") from exc
    return (now or datetime.now(UTC)).astimezone(tz).date()


def plan_target(day: date):
    return staging.target(f"{staging.root()}/{REFRESH_STAGE}/plans/{day.isoformat()}.json")


def read_plan(day: date) -> dict:
    return staging.read_json(plan_target(day))


class PlanRefresh(luigi.Task):
    """Which matched tracks each enabled source refreshes on ``date``: oldest snapshot first, within
    ``[refresh] <source>_budget`` requests. Made once per date and kept, so a day resumed completes
    exactly its plan."""

    date = luigi.DateParameter(description="the snapshot date")

    def requires(self):
        return FinalizeWarehouse(partitions=every_partition())

    def output(self):
        return plan_target(self.date)

    def run(self):
        today = local_today()
        if self.date > today:
            raise TerminalError(f"DailyRefresh date {self.date} is after today ({today} in [refresh] timezone "
                                f"{config.refresh().timezone}): a snapshot holds what the sources say when it is taken")
        backend = warehouse_backend()
        try:
            sources = {}
            for source in refreshed_sources():
                capabilities = store_for(source.name).capabilities(source.capabilities)
                sources[source.name] = plan_source(source.refresh_candidates(backend, self.date), self.date,
                                                   source.refresh_budget(), source.track_cost(capabilities),
                                                   source.artist_cost(capabilities))
        finally:
            backend.close()
        staging.write_json(self.output(), {"date": self.date.isoformat(), "plan_version": PLAN_VERSION,
                                           "planned_at": answers.utc_now(), "sources": sources})
        logger.info("refresh of %s planned: %s", self.date, ", ".join(
            f"{s} {p['tracks_planned']} of {p['tracks_due']} tracks, {p['requests_planned']} requests"
            for s, p in sources.items()))


class RefreshPartition(StagedPartitionTask):
    """One partition's planned tracks of one source on one date → ``<staging root>/refresh/<source>/<date>/A/B/``
    (``tracks.jsonl.gz``, ``artists.jsonl.gz``, manifest); every answer stored under its date."""

    date = luigi.DateParameter(description="the snapshot date")
    source = SourceParameter(description="a source that refreshes")

    stage = REFRESH_STAGE

    def requires(self):
        return PlanRefresh(date=self.date)

    @property
    def resources(self):
        return {registry.get(self.source).resource: 1}

    def version_settings(self) -> dict:
        return {"plan_version": PLAN_VERSION}  # what a day's rows hold is fixed by its plan

    @property
    def folder(self) -> str:
        return f"{staging.root()}/{REFRESH_STAGE}/{self.source}/{self.date.isoformat()}/{self.partition}"

    def lease_name(self) -> str:
        return f"RefreshPartition/{self.source}/{self.date.isoformat()}/{self.partition}"

    def run(self):
        if not self.start():
            return
        day = self.date.isoformat()
        plan = read_plan(self.date)["sources"][self.source]
        task = f"RefreshPartition-{self.source}-{day}-{self.partition.replace('/', '')}"
        source = registry.get(self.source)
        gateway = source.gateway()
        with source.refresh_paid_for(gateway, task, self.partition):
            rows = source.refresh_partition(gateway, day, plan["partitions"][self.partition], self.partition, plan)
        self.write_files(rows)
        self.write_manifest({"date": day, "source": self.source, "partition": self.partition,
                             "rows": {name: len(r) for name, r in rows.items()}, "requests_sent": gateway.sent()["total"],
                             "answered_from_store": gateway.answered_from_store})


class LoadSnapshot(luigi.Task):
    """``source``'s snapshot rows of ``date``, replaced in one transaction, with the match history
    following what the day found. Complete when the marker table records it."""

    date = luigi.DateParameter(description="the snapshot date")
    source = SourceParameter(description="a source that refreshes")

    def requires(self):
        return PlanRefresh(date=self.date)

    @property
    def resources(self):
        return warehouse_write_resources()

    def output(self):
        return WarehouseMarker(warehouse_backend, f"LoadSnapshot({self.source},{self.date})@s{SNAPSHOT_STEP_VERSION}")

    def run(self):
        planned = read_plan(self.date)["sources"].get(self.source, {"partitions": {}})["partitions"]
        parts = [RefreshPartition(date=self.date, source=self.source, partition=p) for p in planned]
        if parts:
            yield parts  # every planned partition asked and staged first (a quota stop ends the task here)
        if self.output().exists_now():
            return
        day = self.date.isoformat()
        # Each manifest read (and checked against its name): a listing this process made while scheduling
        # may predate the staging another worker did since.
        load_id = snapshot_load_id(self.source, day, [t.output().read()[1] for t in parts])
        backend = warehouse_backend()
        try:
            with backend.transaction():
                backend.lock_for_load()
                counts = load_snapshot(backend, self.source, day, {t.partition: t.folder for t in parts}, load_id,
                                       datetime.now(UTC))
                record_marker(backend, self.output().update_id, "*", f"snapshot:{self.source}:{day}", load_id,
                              row_counts=orjson.dumps(counts).decode())
        finally:
            backend.close()
        self.output().exists_now()
        logger.info("%s snapshot of %s loaded: %s", self.source, day, counts)


class DailyRefresh(MixinNaiveBulkComplete, luigi.Task):
    """Entry point of a day: ``luigi --module pipeline DailyRefresh --date 2026-11-30`` (or RangeDaily
    over it). Runs the day's pipeline (new MSD files picked up), plans, refreshes and loads every
    enabled source's snapshot, then writes the day's summary to ``<staging root>/runs/refresh-<date>.json``."""

    date = luigi.DateParameter(description="the snapshot date")

    def requires(self):
        return [LoadSnapshot(date=self.date, source=s.name) for s in refreshed_sources()]

    def output(self):
        return WarehouseMarker(warehouse_backend, f"DailyRefresh({self.date})@s{SNAPSHOT_STEP_VERSION}")

    def run(self):
        if self.output().exists_now():
            return
        summary = day_summary(self.date)
        staging.write_json(summary_target(self.date), summary)
        backend = warehouse_backend()
        try:
            with backend.transaction():
                record_marker(backend, self.output().update_id, "*", f"refresh:{self.date}", f"refresh-{self.date}",
                              row_counts=orjson.dumps(summary["sources"]).decode())
        finally:
            backend.close()
        self.output().exists_now()
        logger.info("%s", summary_line(summary))


def summary_target(day: date):
    return staging.target(f"{staging.root()}/runs/refresh-{day.isoformat()}.json")


def day_summary(day: date) -> dict:
    """Per source: tracks refreshed that day (of those due), and, after it, the matched tracks never
    snapshotted (on any date) and how old the oldest track's latest snapshot is on the day (0 when every
    track has one on the day or later, as after a backfilled day)."""
    plan = read_plan(day)
    backend = warehouse_backend()
    try:
        sources = {}
        for source, planned in plan["sources"].items():
            rows = registry.get(source).refresh_candidates(backend, None)  # snapshots of every date
            lasts = {r[2]: r[4] for r in rows if r[2] is not None}  # tracks; an artist refreshed alone has none
            dated = [v for v in lasts.values() if v is not None]
            oldest = min(dated) if dated else None
            sources[source] = {
                "tracks_refreshed": planned["tracks_planned"], "tracks_due": planned["tracks_due"],
                "requests_planned": planned["requests_planned"], "budget": planned["budget"],
                "oldest_snapshot_age_days": max(0, (day - oldest).days) if oldest is not None else None,
                "never_snapshotted": sum(1 for v in lasts.values() if v is None)}
    finally:
        backend.close()
    return {"date": day.isoformat(), "sources": sources, "finished_at": answers.utc_now()}


def summary_line(summary: dict) -> str:
    parts = [f"{source}: {s['tracks_refreshed']} of {s['tracks_due']} tracks refreshed ({s['requests_planned']} of "
             f"{s['budget']} requests budgeted), oldest snapshot {s['oldest_snapshot_age_days']} days old"
             + (f", {s['never_snapshotted']} never snapshotted" if s["never_snapshotted"] else "")
             for source, s in summary["sources"].items()]
    return f"refresh {summary['date']}: " + "; ".join(parts)

