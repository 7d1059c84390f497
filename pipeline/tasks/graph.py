"""Every task of the pipeline registered with Luigi: the graph's own, every registered source's stage
tasks, and Luigi's ``RangeDaily`` (``[core] autoload_range`` is off, so Luigi does not register it), for
``luigi --module pipeline RunAll`` and ``luigi --module pipeline RangeDaily --of DailyRefresh --start …``."""

from __future__ import annotations

from luigi.tools.range import RangeDaily

from pipeline.sources import registry
from pipeline.tasks import lifecycle  # noqa: F401  (task processes end with their command)
from pipeline.tasks.extract import ExtractPartition
from pipeline.tasks.finalize import FinalizeWarehouse
from pipeline.tasks.load import LoadPartition, WarehouseSchema
from pipeline.tasks.refresh import DailyRefresh, LoadSnapshot, PlanRefresh, RefreshPartition
from pipeline.tasks.run_all import EnrichAll, ExtractAll, RunAll, RunReport

SOURCE_STAGES = {stage.__name__: stage for source in registry.registered() for stage in source.stages()}

__all__ = ["DailyRefresh", "EnrichAll", "ExtractAll", "ExtractPartition", "FinalizeWarehouse", "LoadPartition",
           "LoadSnapshot", "PlanRefresh", "RangeDaily", "RefreshPartition", "RunAll", "RunReport", "SOURCE_STAGES",
           "WarehouseSchema"]
