"""Music ETL: the Million Song Dataset joined to today's Spotify and Deezer catalogs.

``luigi --module pipeline RunAll`` imports this package, which registers the tasks, and Luigi's
``RangeDaily`` for ``luigi --module pipeline RangeDaily --of DailyRefresh --start YYYY-MM-DD``
(``[core] autoload_range`` is off, so Luigi does not register it by itself).
"""

from luigi.tools.range import RangeDaily

from pipeline.caches import forget_listings
from pipeline.tasks import (
    DailyRefresh,
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

__all__ = ["DailyRefresh", "EnrichAll", "EnrichPartition", "ExtractAll", "ExtractPartition", "FinalizeWarehouse",
           "LoadPartition", "RangeDaily", "RunAll", "RunReport", "WarehouseSchema", "forget_listings"]

