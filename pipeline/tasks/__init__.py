"""The Luigi task graph."""

from pipeline.tasks.extract import ExtractPartition
from pipeline.tasks.run_all import ExtractAll, RunAll

__all__ = ["ExtractAll", "ExtractPartition", "RunAll"]
