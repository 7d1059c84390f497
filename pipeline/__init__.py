"""Music ETL: the Million Song Dataset joined to today's Spotify and Deezer catalogs.

``luigi --module pipeline RunAll`` imports this package, which registers the tasks.
"""

from pipeline.caches import forget_listings
from pipeline.tasks import (
    EnrichAll,
    EnrichPartition,
    ExtractAll,
    ExtractPartition,
    FinalizeWarehouse,
    LoadPartition,
    RunAll,
    RunReport,
    WarehouseSchema,
)

__all__ = ["EnrichAll", "EnrichPartition", "ExtractAll", "ExtractPartition", "FinalizeWarehouse", "LoadPartition", "RunAll",
           "RunReport", "WarehouseSchema", "forget_listings"]

