"""Music ETL: the Million Song Dataset joined to today's music catalogs, as a Luigi pipeline.

Importing the package loads nothing heavy: ``pipeline.matching`` or a source's client imports without
Luigi's task graph. ``luigi --module pipeline RunAll`` imports this package and then looks the task up in
Luigi's registry, so when Luigi's command line is what imports it, the whole graph is registered
(pipeline/tasks/graph.py, RangeDaily included). ``from pipeline import RunAll`` works as it always did.
"""

from __future__ import annotations

import sys

_TASKS = ("DailyRefresh", "EnrichAll", "ExtractAll", "ExtractPartition", "FinalizeWarehouse", "LoadPartition",
          "RunAll", "RunReport", "WarehouseSchema")
__all__ = [*_TASKS, "RangeDaily", "forget_listings"]


def __getattr__(name: str):
    if name in _TASKS or name == "RangeDaily":
        from pipeline.tasks import graph

        return getattr(graph, name)
    if name == "forget_listings":
        from pipeline.caches import forget_listings

        return forget_listings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _imported_by_luigis_command_line() -> bool:
    """Whether Luigi's command-line parser (``luigi --module pipeline …``, ``luigi.run([...])``) is importing us."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_globals.get("__name__") == "luigi.cmdline_parser":
            return True
        frame = frame.f_back
    return False


if _imported_by_luigis_command_line():
    from pipeline.tasks import graph  # noqa: F401  (registers every task before Luigi looks one up)
