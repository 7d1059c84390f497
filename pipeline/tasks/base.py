"""What the per-partition staging tasks share: where their files go and how they start and report, and
what a source's stage tasks share on top (the Luigi resource that caps how many ask it at once)."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime

import luigi

from pipeline import config, staging, versioning
from pipeline.errors import UnstorableIdError
from pipeline.partitions import input_id
from pipeline.staging import leases
from pipeline.tasks import lifecycle  # noqa: F401  (task processes end with their command)
from pipeline.tasks.params import PartitionParameter

logger = logging.getLogger("luigi-interface")


class StagedPartitionTask(luigi.Task):
    """One stage of one partition: files under ``<staging root>/<stage>/A/B/v-<digest>/``, where
    the digest is taken over ``output_settings()`` and the partition's MSD input, and a completion target, the manifest,
    written last, so an interrupted run never looks finished."""

    partition = PartitionParameter(description="MSD letter partition, e.g. A/B")

    stage: str  # the staging folder of the subclass: msd, or a source's stage

    @classmethod
    def output_settings(cls) -> dict:
        """The settings and code versions that change this stage's output (recorded in its manifest)."""
        return {}

    def msd_input(self) -> str:
        """The partition's MSD files, as a digest (pipeline/partitions.py): part of every stage's version."""
        return input_id(config.msd().root, self.partition)

    def version_settings(self) -> dict:
        """What names this output's folder: the stage's settings and the partition's input."""
        return {**self.output_settings(), "msd_input": self.msd_input()}

    @property
    def folder(self) -> str:
        return f"{staging.partition_prefix(self.stage, self.partition)}/{versioning.folder_name(self.version_settings())}"

    def output(self):
        return staging.ManifestTarget(self.folder)

    def lease_name(self) -> str | None:
        """The lease this stage holds while it runs (``<staging root>/_leases/<name>.json``): two commands that share
        no luigid never run one stage at once (neither pays twice for a source's answers, nor removes the other's
        files in progress as left by an interrupted run). None: no lease."""
        return f"{type(self).__name__}/{self.partition}"

    def start(self) -> bool:
        """False when there is nothing to do; otherwise takes the stage's lease (waiting while another command
        holds it) and clears what a killed run left behind."""
        # Another worker may have finished it while this one waited (gokart's complete_check_at_run):
        # the store answers, or a listing of it made in the last few seconds (staging.FRESH_LISTING_S).
        if self.output().exists_now():
            logger.info("%s already complete; nothing to do", self)
            return False
        name = self.lease_name()
        if name is not None:
            self._lease = leases.acquire(leases.lease_path(name), str(self))
            if self._lease.waited and self.output().exists_now():  # the command that held it finished it
                logger.info("%s completed by the command that held it; nothing to do", self)
                self.release_lease()
                return False
        for path in staging.remove_stale_temporaries(self.folder):
            logger.warning("removed %s, left by an interrupted run", path)
        return True

    def release_lease(self) -> None:
        lease = getattr(self, "_lease", None)
        if lease is not None:
            self._lease = None
            lease.release()

    # Luigi calls these after run() in the process that ran it, whatever the end.
    def on_success(self):
        self.release_lease()
        return super().on_success()

    def on_failure(self, exception):
        self.release_lease()
        return super().on_failure(exception)

    def write_files(self, outputs: dict[str, list[dict]]) -> None:
        """Every data file, all or none (the manifest, written after, is what says the stage is done)."""
        staging.write_jsonl_files({f"{self.folder}/{name}": rows for name, rows in outputs.items()})

    def origin(self):
        """Whose external data the stage reads (a ``Source``, or the MSD's declaration): the source it is a stage of
        (its ``source``), else None."""
        return _origin(getattr(self, "source", None))

    def write_manifest(self, manifest: dict) -> None:
        """Last step of a run: the manifest, with the settings the output was produced with and the external data
        it used (``provenance``: the dumps, files and services its origin's settings name)."""
        settings = self.version_settings()
        origin = self.origin()
        self.output().write({**manifest, "provenance": origin.provenance() if origin is not None else [],
                             "output_version": versioning.folder_name(settings), "settings": settings,
                             "written_at": datetime.now(UTC).isoformat()})
        self.release_lease()  # done: a command waiting for it finds the manifest

    def report_progress(self, done: int, total: int, message: str) -> None:
        # Wired by the worker; None when run() is called directly (tests, scripts).
        if self.set_progress_percentage:
            self.set_progress_percentage(round(100 * done / total) if total else 100)
        if self.set_status_message:
            self.set_status_message(message)


class SourceStage(StagedPartitionTask):
    """A stage of one source (``source``, its registry name) for one partition."""

    source: str

    @property
    def resources(self):
        # luigid ([resources] in its config, 1 when unset) caps how many tasks ask one source at once across
        # every worker connected to it, so the cluster's rate is at most that many tasks' own pace (docs/SCALING.md).
        from pipeline.sources import registry

        return {registry.get(self.source).resource: 1}

    def write_files(self, outputs: dict[str, list[dict]]) -> None:
        """A source's strings fitted to the warehouse before they are staged (pipeline/warehouse/storable.py):
        NUL characters removed, text cut to its column; an id that does not fit is refused in one line. A bad
        string from a service must not fail the partition's load on every rerun, as one once did."""
        from pipeline.sources import registry
        from pipeline.warehouse.storable import fitted

        self.fitted_values: Counter[str] = Counter()
        for table in registry.get(self.source).tables:
            if table.stage != self.stage or table.file not in outputs:
                continue
            columns = [c for c in table.columns() if c.type.startswith(("VARCHAR", "{{JSON}}"))]
            for row in outputs[table.file]:
                for column in columns:
                    value, done = fitted(row.get(column.name), column)
                    if done is None:
                        continue
                    if "cut to" in done and (column.name in table.key or column.name.endswith("_id")):
                        raise UnstorableIdError(self, table.name, column, row[column.name])
                    row[column.name] = value
                    self.fitted_values[f"{table.name}.{column.name}: {done}"] += 1
        if self.fitted_values:
            logger.warning("%s: %s", self, "; ".join(f"{k} ({n})" for k, n in sorted(self.fitted_values.items())))
        super().write_files(outputs)

    def version_settings(self) -> dict:
        # A stage whose answers held a "no data" likely to be a fault is staged again by the next command, under
        # a new round (pipeline/sources/ask_again.py); round 0 adds nothing, so every other output keeps its folder.
        from pipeline.sources import ask_again

        settings = super().version_settings()
        if not hasattr(self, "_ask_again_round"):  # once per task instance: output() asks for it often
            self._ask_again_round = ask_again.round_of(self.source, type(self).__name__, self.partition)
        round_ = self._ask_again_round
        return {**settings, "ask_again_round": round_} if round_ else settings

    def write_manifest(self, manifest: dict) -> None:
        if getattr(self, "fitted_values", None):
            manifest = {**manifest, "fitted_values": dict(sorted(self.fitted_values.items()))}
        super().write_manifest(manifest)
        if manifest.get("ask_again"):
            from pipeline.sources import ask_again

            ask_again.schedule(self.source, type(self).__name__, self.partition, [tuple(k) for k in manifest["ask_again"]])
            logger.warning("%s: %s answered \"no data\" for %d id(s) its own answers named (a fault, most likely): "
                           "the next run asks them again", self, self.source, len(manifest["ask_again"]))

    def ledger_name(self) -> str:
        """How the task's line in its source's ledger is named (``SpotifySearch-AB``)."""
        return f"{type(self).__name__}-{self.partition.replace('/', '')}"


def _origin(source: str | None):
    if not source:
        return None
    from pipeline.sources import registry

    return registry.get(source)


BATCHES = "_batches"


class BatchStep(luigi.Task):
    """A source's step over many partitions at once, for a service that answers 50 or 1,000 songs a request (a
    subset partition holds ~15): asked once for the command's partitions (``batch_partitions`` in
    pipeline/tasks/run_all.py), its answers stored, its files and manifest in ``<staging root>/_batches/<source>/
    <step>/v-<digest>/``; each partition's stage then reads the store and sends nothing. Like a partition stage it
    holds a lease while it runs (two commands never both pay) and its source's Luigi resource."""

    partitions = luigi.ListParameter(description="the partitions asked together (the command's selection)")

    source: str
    step: str

    def version_settings(self) -> dict:
        """What names the output's folder: the step's settings and the versions of the outputs it reads."""
        raise NotImplementedError

    def ask(self) -> dict:
        """Ask, store, write the step's files into ``folder``; returns its manifest."""
        raise NotImplementedError

    def input_versions(self) -> list[str]:
        """``A/B:v-…`` of each partition output it reads (``requires()`` by partition)."""
        return sorted(f"{p}:{t.folder.rsplit('/', 1)[1]}" for p, t in self.requires().items())

    @property
    def resources(self):
        from pipeline.sources import registry

        return {registry.get(self.source).resource: 1}

    @property
    def folder(self) -> str:
        return f"{staging.root()}/{BATCHES}/{self.source}/{self.step}/{versioning.folder_name(self.version_settings())}"

    def output(self):
        return staging.ManifestTarget(self.folder)

    def run(self):
        if self.output().exists_now():
            return
        name = type(self).__name__
        lease = leases.acquire(leases.lease_path(f"{name}/{self.folder.rsplit('/', 1)[1]}"), name)
        try:
            if self.output().exists_now():  # the command that held the lease finished it
                return
            manifest = self.ask()
            self.output().write({**manifest, "provenance": _origin(self.source).provenance(),
                                 "settings": self.version_settings(), "written_at": datetime.now(UTC).isoformat()})
        finally:
            lease.release()
