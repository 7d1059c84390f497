"""WarehouseMarker: a Luigi target that exists when the warehouse's marker table holds an update id.

The twin of ``luigi.contrib.postgres.PostgresTarget`` (its ``table_updates``), for every backend
and with versioned ids: ``LoadPartition(A/B)@<load id>``. The marker row is written by the load
itself, inside its transaction, so the data and the marker commit together.
"""

from __future__ import annotations

import luigi

from pipeline.warehouse.backends import Backend
from pipeline.warehouse.load import is_loaded
from pipeline.warehouse.schema import MARKER_TABLE


class WarehouseMarker(luigi.Target):
    def __init__(self, backend_factory, update_id: str):
        self._backend_factory = backend_factory
        self.update_id = update_id

    def exists(self) -> bool:
        backend: Backend = self._backend_factory()
        try:
            if not backend.query(marker_table_exists_sql(backend.dialect)):
                return False
            return is_loaded(backend, self.update_id)
        finally:
            backend.close()

    def __repr__(self) -> str:
        return f"WarehouseMarker({self.update_id!r})"


def marker_table_exists_sql(dialect: str) -> str:
    if dialect == "redshift":
        return f"SELECT 1 FROM pg_table_def WHERE tablename = '{MARKER_TABLE}' LIMIT 1"
    # current_schema(): another schema's marker table (another warehouse in the same database) is not ours
    return f"SELECT 1 FROM information_schema.tables WHERE table_name = '{MARKER_TABLE}' AND table_schema = current_schema()"
