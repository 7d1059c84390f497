"""ExtractPartition: MSD HDF5 files of one letter partition → staged JSON Lines + manifest."""

from __future__ import annotations

import functools
import logging
import os

from pipeline import config, staging, versioning
from pipeline.matching.decide import Song
from pipeline.msd import extract as msd_extract
from pipeline.msd.reader import READER_VERSION
from pipeline.partitions import is_s3, resolve_msd_root
from pipeline.tasks.base import StagedPartitionTask

logger = logging.getLogger("luigi-interface")


def _absolute_msd_root(root: str) -> str:
    if is_s3(root):
        return _resolved(root, None)
    # Keyed by the folder's modification time too: a subset unpacked under it later is seen.
    try:
        signature = os.stat(root).st_mtime_ns
    except OSError:
        signature = None
    return _resolved(root, signature)


@functools.lru_cache(maxsize=8)
def _resolved(root: str, signature: int | None) -> str:
    resolved = resolve_msd_root(root)
    return resolved if is_s3(resolved) else os.path.abspath(resolved)


class ExtractPartition(StagedPartitionTask):
    """Every track under ``<msd root>/A/B/*/*.h5`` → ``<staging root>/msd/A/B/v-…/``.

    Complete when the manifest exists; it is written after every data file is in place, so an
    interrupted run never looks finished and a rerun simply redoes the partition.
    """

    stage = "msd"

    @classmethod
    def output_settings(cls) -> dict:
        # Another MSD root is other input (the demo sample, then the real subset, in one staging root).
        return {"msd_root": _absolute_msd_root(config.msd().root), "reader_version": READER_VERSION,
                "extract_schema_version": msd_extract.SCHEMA_VERSION, **versioning.significant_settings(config.extract())}

    def origin(self):
        from pipeline.msd.terms import MSD

        return MSD

    def run(self):
        if not self.start():
            return
        settings = config.extract()
        folder = self.folder
        manifest = msd_extract.extract_partition(
            msd_root=config.msd().root,
            partition=self.partition,
            open_writer=lambda name: staging.JsonLinesWriter(staging.target(f"{folder}/{name}"), settings.gzip_level),
            fail_on_quarantine=settings.fail_on_quarantine,
            progress=lambda done, total: self.report_progress(done, total, f"{done}/{total} MSD files read"),
        )
        if manifest["quarantined"]:
            logger.warning("partition %s: %d file(s) quarantined, listed in the manifest in %s",
                           self.partition, len(manifest["quarantined"]), folder)
        self.write_manifest(manifest)


def staged_songs(partition: str) -> list[Song] | None:
    """The partition's songs as its current extraction staged them; None when it has not."""
    songs_file = staging.target(f"{ExtractPartition(partition=partition).folder}/songs.jsonl.gz")
    if not songs_file.exists():
        return None
    return [Song.from_staged(r) for r in staging.read_jsonl_gz(songs_file)]
