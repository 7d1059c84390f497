"""What the per-partition staging tasks share: where their files go and how they start and report."""

from __future__ import annotations

import logging

import luigi

from pipeline import staging
from pipeline.tasks.params import PartitionParameter

logger = logging.getLogger("luigi-interface")


class StagedPartitionTask(luigi.Task):
    """One stage of one partition: files under ``<staging root>/<stage>/A/B/``, completion target
    ``_manifest.json`` written last, so an interrupted run never looks finished."""

    partition = PartitionParameter(description="MSD letter partition, e.g. A/B")

    stage: str  # the staging folder of the subclass: msd, spotify

    @property
    def prefix(self) -> str:
        return staging.partition_prefix(self.stage, self.partition)

    def output(self):
        return staging.ManifestTarget(f"{self.prefix}/{staging.MANIFEST}")

    def start(self) -> bool:
        """False when there is nothing to do; otherwise clears what a killed run left behind."""
        # Another worker may have finished it while this one waited (gokart's complete_check_at_run).
        # On S3 the answer comes from the stage listing, listed again when a "missing" is older than
        # a few seconds: a HEAD per task would double the requests of a fresh run, and with luigid
        # the scheduler already hands a task to one worker only.
        if self.output().exists():
            logger.info("%s already complete; nothing to do", self)
            return False
        for path in staging.remove_stale_temporaries(self.prefix):
            logger.warning("removed %s, left by an interrupted run", path)
        return True

    def report_progress(self, done: int, total: int, message: str) -> None:
        # Wired by the worker; None when run() is called directly (tests, scripts).
        if self.set_progress_percentage:
            self.set_progress_percentage(round(100 * done / total) if total else 100)
        if self.set_status_message:
            self.set_status_message(message)
