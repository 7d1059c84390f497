"""RunAll: the whole pipeline over every partition found under the MSD root (or a chosen set)."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime

import luigi

from pipeline import config, staging
from pipeline.caches import forget_listings
from pipeline.errors import TerminalError
from pipeline.partitions import check_selection, discover_partitions
from pipeline.sources import registry
from pipeline.tasks.extract import ExtractPartition
from pipeline.tasks.finalize import FinalizeWarehouse
from pipeline.tasks.load import LoadPartition, WarehouseSchema
from pipeline.tasks.params import PartitionListParameter, or_exit

# Who launched this command: a host, a process and a time, fixed at import (forked task processes
# inherit it), so each command on each machine has a RunAll of its own.
LAUNCH_ID = f"{socket.gethostname()}-{os.getpid()}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}"


def every_partition(letters: str = "") -> list[str]:
    """Every partition under the MSD root (those of ``letters`` only, when given); none is an error."""
    root = config.msd().root
    found = discover_partitions(root)
    if letters:
        wanted = set(letters.replace(",", "").upper())
        found = [p for p in found if p[0] in wanted]
    if not found:
        raise TerminalError(
            f"No MSD partitions found under `{root}` (letters `{letters or 'any'}`). "
            f"Set [msd] root (environment MUSIC_ETL_MSD_ROOT) to the folder that holds A/, B/, …"
        )
    return found


# The partitions this command selected (RunAll, EnrichAll, ExtractAll): a source's batch step asks for all of them at
# once (batch_partitions). Set where the graph is built, so forked task processes inherit it.
_selected: tuple[str, ...] = ()


def batch_partitions(partition: str) -> tuple[str, ...]:
    """The partitions a batch step that ``partition`` needs covers: this command's selection when it holds
    ``partition`` (one request for 1,000 songs of many partitions, not one per partition), else ``partition``
    alone (``rerun A/B``)."""
    return _selected if partition in _selected else (partition,)


class PartitionSelection:
    """``--partitions A/A,B/D`` or ``--letters A``; neither means every partition found.

    The settings that shape the graph (``[sources] enabled``) are checked when the selection is
    made, before anything is scheduled: a bad one ends the command with one line and exit code 2."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        or_exit(registry.enabled)

    partitions = PartitionListParameter(default="", description="comma-separated partitions such as A/A,B/D")
    letters = luigi.Parameter(default="", description="first letters to run, such as AB")

    def selected_partitions(self) -> list[str]:
        global _selected
        root = config.msd().root
        selected = check_selection(self.partitions, root) if self.partitions else every_partition(self.letters)
        _selected = tuple(sorted(selected))
        return selected


class ExtractAll(PartitionSelection, luigi.WrapperTask):
    """Extraction of every selected partition."""

    def requires(self):
        return [ExtractPartition(partition=p) for p in self.selected_partitions()]


class EnrichAll(PartitionSelection, luigi.WrapperTask):
    """The enrichment (and the extraction it needs) of every selected partition by every enabled source,
    or by the sources ``--only`` names (with what they read), staged but not loaded."""

    only = luigi.Parameter(default="", description="comma-separated sources (default: every enabled source)")

    def requires(self):
        names = [n.strip() for n in self.only.split(",") if n.strip()]
        sources = [registry.get(n) for n in names] if names else registry.enabled()
        return [s.loaded_stage(p) for p in self.selected_partitions() for s in sources]


def partition_steps() -> tuple[type[luigi.Task], ...]:
    """A partition's tasks in the order they run, with the enabled sources'."""
    return (ExtractPartition, *(stage for source in registry.enabled() for stage in source.stages()), LoadPartition)


class RunAll(PartitionSelection, luigi.Task):
    """Entry point: ``luigi --module pipeline RunAll``: extract, enrich and load every selected
    partition (each load requires its partition's extraction and enrichment), then the
    whole-warehouse step.

    Each command has a RunAll of its own (``launched_by``), and, once the warehouse step is done,
    re-checks every task of the run through ``RunReport``. That is what lets several ``luigi``
    processes on one luigid each exit 0 when everything they selected is complete: Luigi counts
    a task another process ran as "not run" (exit code 25) unless this process saw it done.
    While a partition has failed (here or in another process) RunAll cannot run, and the
    command exits non-zero."""

    launched_by = luigi.Parameter(default=LAUNCH_ID, description="the command this RunAll belongs to (host-pid-time)")

    def requires(self):
        return FinalizeWarehouse(partitions=self.selected_partitions())

    def complete(self):
        return self.requires().complete()

    def run(self):
        yield RunReport(partitions=",".join(self.selected_partitions()), launched_by=self.launched_by)


class RunReport(luigi.Task):
    """What one command's run ended with: the selected partitions and the load each holds, in
    ``<staging root>/runs/<launched_by>.json``. It requires every task of the run, so the process
    that writes it has checked each one complete."""

    partitions = luigi.Parameter(description="comma-separated partitions of the run")
    launched_by = luigi.Parameter(description="the command this run belongs to (host-pid-time)")

    def _selected(self) -> list[str]:
        return self.partitions.split(",")

    def requires(self):
        tasks = [WarehouseSchema(), FinalizeWarehouse(partitions=self._selected())]
        for partition in self._selected():
            tasks += [step(partition=partition) for step in partition_steps()]
        return tasks

    def output(self):
        return staging.target(f"{staging.root()}/runs/{self.launched_by}.json")

    def complete(self):
        # Checked when the run is over, just before its requirements are: what this process listed
        # while scheduling predates the work of the run, its own and other processes'.
        forget_listings()
        return super().complete()

    def run(self):
        loads = {t.partition: t.output().update_id for t in self.requires() if isinstance(t, LoadPartition)}
        staging.write_json(self.output(), {"launched_by": self.launched_by, "partitions": self._selected(),
                                           "loads": loads, "finished_at": datetime.now(UTC).isoformat()})
