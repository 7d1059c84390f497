"""ExtractPartition: MSD HDF5 files of one letter partition → staged JSON Lines + manifest."""

from __future__ import annotations

import logging

import luigi

from pipeline import config, staging
from pipeline.msd.extract import extract_partition
from pipeline.tasks.params import PartitionParameter

logger = logging.getLogger("luigi-interface")


class ExtractPartition(luigi.Task):
    """Every track under ``<msd root>/A/B/*/*.h5`` → ``<staging root>/msd/A/B/``.

    Complete when ``_manifest.json`` exists; it is written after every data file is in place,
    so an interrupted run never looks finished and a rerun simply redoes the partition.
    """

    partition = PartitionParameter(description="MSD letter partition, e.g. A/B")

    stage = "msd"

    def output(self):
        return staging.target(f"{staging.partition_prefix(self.stage, self.partition)}/{staging.MANIFEST}")

    def run(self):
        # Another worker may have finished it while this one waited (gokart's complete_check_at_run).
        if self.complete():
            logger.info("%s already complete; nothing to do", self)
            return
        settings = config.extract()
        prefix = staging.partition_prefix(self.stage, self.partition)
        for path in staging.remove_stale_temporaries(prefix):
            logger.warning("removed %s, left by an interrupted run", path)
        manifest = extract_partition(
            msd_root=config.msd().root,
            partition=self.partition,
            open_writer=lambda name: staging.JsonLinesWriter(staging.target(f"{prefix}/{name}"), settings.gzip_level),
            fail_on_quarantine=settings.fail_on_quarantine,
            progress=self._report_progress,
        )
        if manifest["quarantined"]:
            logger.warning("partition %s: %d file(s) quarantined, listed in %s",
                           self.partition, len(manifest["quarantined"]), self.output().path)
        staging.write_json(self.output(), manifest)

    def _report_progress(self, done: int, total: int) -> None:
        # set_progress_percentage is wired by the worker; it is None when run() is called directly.
        if self.set_progress_percentage:
            self.set_progress_percentage(round(100 * done / total))
        if self.set_status_message:
            self.set_status_message(f"{done}/{total} MSD files read")
