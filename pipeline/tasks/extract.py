"""ExtractPartition: MSD HDF5 files of one letter partition → staged JSON Lines + manifest."""

from __future__ import annotations

import logging

from pipeline import config, staging
from pipeline.msd.extract import extract_partition
from pipeline.tasks.base import StagedPartitionTask

logger = logging.getLogger("luigi-interface")


class ExtractPartition(StagedPartitionTask):
    """Every track under ``<msd root>/A/B/*/*.h5`` → ``<staging root>/msd/A/B/``.

    Complete when ``_manifest.json`` exists; it is written after every data file is in place,
    so an interrupted run never looks finished and a rerun simply redoes the partition.
    """

    stage = "msd"

    def run(self):
        if not self.start():
            return
        settings = config.extract()
        prefix = self.prefix
        manifest = extract_partition(
            msd_root=config.msd().root,
            partition=self.partition,
            open_writer=lambda name: staging.JsonLinesWriter(staging.target(f"{prefix}/{name}"), settings.gzip_level),
            fail_on_quarantine=settings.fail_on_quarantine,
            progress=lambda done, total: self.report_progress(done, total, f"{done}/{total} MSD files read"),
        )
        if manifest["quarantined"]:
            logger.warning("partition %s: %d file(s) quarantined, listed in %s",
                           self.partition, len(manifest["quarantined"]), self.output().path)
        staging.write_json(self.output(), manifest)
