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


def forget_listings() -> None:
    """Drop this process's listings of staged manifests and warehouse markers.

    ``complete()`` answers from them for up to 5 s; code that asks again right after a run whose
    tasks ran in other processes (``workers > 1``, luigid) calls this first."""
    from pipeline import staging
    from pipeline.warehouse.target import forget_known_markers

    staging.reset_manifest_index()
    forget_known_markers()
