"""The Luigi task graph: thin tasks that wire the stages of each partition and the day.

Importing this package loads nothing; ``pipeline.tasks.graph`` registers every task with Luigi (what
``luigi --module pipeline …`` needs), and ``from pipeline.tasks import RunAll`` loads the module a name
lives in (a source's stage tasks live in its folder, pipeline/sources/<name>/tasks.py).
"""

from __future__ import annotations

import importlib

_HOME = {
    "ExtractPartition": "pipeline.tasks.extract",
    "FinalizeWarehouse": "pipeline.tasks.finalize",
    "LoadPartition": "pipeline.tasks.load",
    "WarehouseSchema": "pipeline.tasks.load",
    "DailyRefresh": "pipeline.tasks.refresh",
    "LoadSnapshot": "pipeline.tasks.refresh",
    "PlanRefresh": "pipeline.tasks.refresh",
    "RefreshPartition": "pipeline.tasks.refresh",
    "EnrichAll": "pipeline.tasks.run_all",
    "ExtractAll": "pipeline.tasks.run_all",
    "RunAll": "pipeline.tasks.run_all",
    "RunReport": "pipeline.tasks.run_all",
}

__all__ = sorted(_HOME)


def __getattr__(name: str):
    if name in _HOME:
        return getattr(importlib.import_module(_HOME[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
