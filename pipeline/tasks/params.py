"""Parameters shared by the tasks."""

from __future__ import annotations

import luigi

from pipeline.partitions import validate_partition


class PartitionParameter(luigi.Parameter):
    """An MSD letter partition such as ``A/B``, checked where it enters (command line or code)."""

    def normalize(self, x):
        return validate_partition(x)
