"""WarehouseMarker: a Luigi target that exists when the warehouse's marker table holds an update id.

The twin of ``luigi.contrib.postgres.PostgresTarget`` (its ``table_updates``), for every backend
and with versioned ids: ``LoadPartition(A/B)@<load id>``. The marker row is written by the load
itself, inside its transaction, so the data and the marker commit together.

Luigi asks every task whether it is complete before running anything: one query per target
would be one connection per partition. ``exists()`` answers from one query of all update ids
per process, and a listing older than ``LISTING_MAX_AGE_S`` is queried again before it answers
either way, so a load or a ``rerun --force`` made by another process is seen within that bound;
``exists_now()`` asks the table itself, which is what a task does before it does work, and
what this process learns from it is added to the listing (and ages with it).
"""

from __future__ import annotations

import os
import time

import luigi

from pipeline.staging import manifests
from pipeline.warehouse.backends import Backend, DuckDBBackend
from pipeline.warehouse.load import is_loaded
from pipeline.warehouse.schema import MARKER_TABLE

_known: dict[tuple[int, str], tuple[float, set[str]]] = {}


def forget_known_markers() -> None:
    _known.clear()


class WarehouseMarker(luigi.Target):
    def __init__(self, backend_factory, update_id: str):
        self._backend_factory = backend_factory
        self.update_id = update_id

    def exists(self) -> bool:
        backend: Backend = self._backend_factory()
        key = (os.getpid(), backend.url)
        listed_at, known = _known.get(key, (float("-inf"), set()))
        if time.monotonic() - listed_at > manifests.LISTING_MAX_AGE_S:
            if isinstance(backend, DuckDBBackend) and not os.path.exists(backend.path):
                return False  # nothing loaded yet; connecting would create the file
            try:
                exists = backend.query(marker_table_exists_sql(backend.dialect))
                rows = backend.query(f"SELECT update_id FROM {MARKER_TABLE}") if exists else []
            finally:
                backend.close()
            known = {r[0] for r in rows}
            _known[key] = (time.monotonic(), known)
        return self.update_id in known

    def exists_now(self) -> bool:
        backend: Backend = self._backend_factory()
        try:
            found = bool(backend.query(marker_table_exists_sql(backend.dialect))) and is_loaded(backend, self.update_id)
        finally:
            backend.close()
        if found:
            listing = _known.get((os.getpid(), backend.url))
            if listing is not None:
                listing[1].add(self.update_id)
        return found

    def __repr__(self) -> str:
        return f"WarehouseMarker({self.update_id!r})"


def tables_present_sql(dialect: str, names: list[str]) -> str:
    """Which of ``names`` (tables or views) exist in the warehouse's own schema: one column of names.
    current_schema(): another schema's tables (another warehouse in the same database) are not ours."""
    catalog = "svv_tables" if dialect == "redshift" else "information_schema.tables"  # Redshift's lists views too
    listed = ", ".join(f"'{n}'" for n in names)
    return f"SELECT table_name FROM {catalog} WHERE table_schema = current_schema() AND table_name IN ({listed})"


def marker_table_exists_sql(dialect: str) -> str:
    if dialect == "redshift":
        return f"SELECT 1 FROM pg_table_def WHERE tablename = '{MARKER_TABLE}' LIMIT 1"
    # current_schema(): another schema's marker table (another warehouse in the same database) is not ours
    return f"SELECT 1 FROM information_schema.tables WHERE table_name = '{MARKER_TABLE}' AND table_schema = current_schema()"
