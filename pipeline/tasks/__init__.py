"""The Luigi task graph."""

from pipeline.tasks import lifecycle  # noqa: F401  (task processes end with their command)
from pipeline.tasks.enrich import DeezerEnrich, EnrichPartition, SpotifySearch
from pipeline.tasks.extract import ExtractPartition
from pipeline.tasks.finalize import FinalizeWarehouse
from pipeline.tasks.load import LoadPartition, WarehouseSchema
from pipeline.tasks.refresh import DailyRefresh, LoadSnapshot, PlanRefresh, RefreshPartition
from pipeline.tasks.run_all import DeezerAll, EnrichAll, ExtractAll, RunAll, RunReport

__all__ = ["DailyRefresh", "DeezerAll", "DeezerEnrich", "EnrichAll", "EnrichPartition", "ExtractAll", "ExtractPartition",
           "FinalizeWarehouse", "LoadPartition", "LoadSnapshot", "PlanRefresh", "RefreshPartition", "RunAll", "RunReport",
           "SpotifySearch", "WarehouseSchema"]
