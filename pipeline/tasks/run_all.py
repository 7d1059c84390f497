"""RunAll: the whole pipeline over every partition found under the MSD root (or a chosen set)."""

from __future__ import annotations

import luigi

from pipeline import config
from pipeline.errors import TerminalError
from pipeline.partitions import discover_partitions, validate_partition
from pipeline.tasks.enrich import EnrichPartition
from pipeline.tasks.extract import ExtractPartition
from pipeline.tasks.finalize import FinalizeWarehouse


class PartitionSelection:
    """``--partitions A/A,B/D`` or ``--letters A``; neither means every partition found."""

    partitions = luigi.Parameter(default="", description="comma-separated partitions such as A/A,B/D")
    letters = luigi.Parameter(default="", description="first letters to run, such as AB")

    def selected_partitions(self) -> list[str]:
        root = config.msd().root
        if self.partitions:
            return [validate_partition(p.strip()) for p in self.partitions.split(",") if p.strip()]
        found = discover_partitions(root)
        if self.letters:
            wanted = set(self.letters.replace(",", "").upper())
            found = [p for p in found if p[0] in wanted]
        if not found:
            raise TerminalError(
                f"No MSD partitions found under `{root}` (letters `{self.letters or 'any'}`). "
                f"Set [msd] root (environment MUSIC_ETL_MSD_ROOT) to the folder that holds A/, B/, …"
            )
        return found


class ExtractAll(PartitionSelection, luigi.WrapperTask):
    """Extraction of every selected partition."""

    def requires(self):
        return [ExtractPartition(partition=p) for p in self.selected_partitions()]


class EnrichAll(PartitionSelection, luigi.WrapperTask):
    """Spotify enrichment (and the extraction it needs) of every selected partition."""

    def requires(self):
        return [EnrichPartition(partition=p) for p in self.selected_partitions()]


class RunAll(PartitionSelection, luigi.WrapperTask):
    """Entry point: ``luigi --module pipeline RunAll``: extract, enrich and load every selected
    partition (each load requires its partition's extraction and enrichment), then the
    whole-warehouse step."""

    def requires(self):
        return FinalizeWarehouse(partitions=self.selected_partitions())
