"""FinalizeWarehouse: the whole-warehouse step after a run's partition loads."""

from __future__ import annotations

import hashlib
import logging

import luigi

from pipeline.tasks.load import LoadPartition, WarehouseSchema
from pipeline.warehouse.backends import warehouse_backend
from pipeline.warehouse.load import record_marker
from pipeline.warehouse.schema import table_columns, view_statements
from pipeline.warehouse.target import WarehouseMarker

logger = logging.getLogger("luigi-interface")


class FinalizeWarehouse(luigi.Task):
    """After the selected partitions are loaded: the view is (re)created and the backend's
    statistics refreshed (ANALYZE on PostgreSQL and Redshift, plus VACUUM on Redshift;
    CHECKPOINT on DuckDB). Complete when the marker table records it for exactly the loads it
    followed, so any new load makes it run again."""

    partitions = luigi.ListParameter(description="the partitions whose loads this follows")

    def requires(self):
        # The schema task too: a complete run with a new table or grant (sql/) is not complete until it ran.
        return [WarehouseSchema()] + [LoadPartition(partition=p) for p in self.partitions]

    def output(self):
        loads = [t.output().update_id for t in self.requires()[1:]]
        if any(update_id.endswith("@pending") for update_id in loads):
            return WarehouseMarker(warehouse_backend, "FinalizeWarehouse@pending")
        # The view's definition and the schema step's id too: a changed view (a renamed column), table or
        # grant reaches an unchanged warehouse without reloading a partition.
        schema_id = WarehouseSchema().output().update_id
        digest = hashlib.sha1("\n".join(sorted(loads) + view_statements("duckdb") + [schema_id]).encode()).hexdigest()[:16]
        return WarehouseMarker(warehouse_backend, f"FinalizeWarehouse@{digest}")

    def run(self):
        if self.output().exists_now():
            return
        backend = warehouse_backend()
        update_id = self.output().update_id
        try:
            with backend.transaction():
                backend.lock_for_load()
                for statement in view_statements(backend.dialect):
                    backend.execute(statement)
                if backend.dialect == "postgresql":
                    # The warehouse's own tables, by name: a bare ANALYZE visits every table of the database, waits on
                    # other schemas' locks while this one holds the load lock, and reads what is not ours to read.
                    backend.execute("ANALYZE " + ", ".join(sorted(table_columns())))
                record_marker(backend, update_id, "*", "finalize", update_id.split("@")[1])
            # Outside any transaction: Redshift's VACUUM and DuckDB's CHECKPOINT refuse to run in one.
            with backend.autocommit():
                for statement in backend.maintenance_statements():
                    backend.execute(statement)
        finally:
            backend.close()
        self.output().exists_now()  # remembered for this process's checks
        logger.info("warehouse finalized after %d partition loads", len(self.partitions))
