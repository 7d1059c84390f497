"""Music ETL: the Million Song Dataset joined to today's Spotify catalog.

``luigi --module pipeline RunAll`` imports this package, which registers the tasks.
"""

from pipeline import config  # noqa: F401  (sets the environment defaults luigi.cfg refers to)
from pipeline.tasks import (
    EnrichAll,
    EnrichPartition,
    ExtractAll,
    ExtractPartition,
    FinalizeWarehouse,
    LoadPartition,
    RunAll,
    WarehouseSchema,
)

__all__ = ["EnrichAll", "EnrichPartition", "ExtractAll", "ExtractPartition", "FinalizeWarehouse", "LoadPartition", "RunAll",
           "WarehouseSchema"]
