"""LoadPartition: one partition's staged MSD files and every enabled source's → the warehouse, in one transaction."""

from __future__ import annotations

import hashlib
import logging

import luigi

from pipeline import config
from pipeline.sources import registry
from pipeline.tasks.extract import ExtractPartition
from pipeline.tasks.params import PartitionParameter
from pipeline.warehouse import grants
from pipeline.warehouse.backends import warehouse_backend
from pipeline.warehouse.load import load_id_for, load_partition, read_manifests, record_marker, update_id_for
from pipeline.warehouse.schema import WAREHOUSE_SCHEMA_VERSION
from pipeline.warehouse.schema import source as schema_source
from pipeline.warehouse.target import WarehouseMarker

logger = logging.getLogger("luigi-interface")


def warehouse_write_resources() -> dict[str, int]:
    """What a task writing the warehouse holds: DuckDB allows one writer per file; PostgreSQL and
    Redshift serialise loads with locks, and ``warehouse_load`` caps how many connections wait
    for them at once across the cluster (luigid ``[resources]``)."""
    return {"duckdb_warehouse": 1} if config.warehouse().url.startswith("duckdb:") else {"warehouse_load": 1}


class WarehouseSchema(luigi.Task):
    """Creates the warehouse's tables and view (``sql/schema.sql``) once, before any load: on
    Redshift two loads creating tables at once would collide; then grants the analyst role read
    access (``sql/grants.sql``, PostgreSQL and Redshift). Complete when the marker table records
    this schema version, DDL and grants."""

    def output(self):
        # The DDL's digest too: a table added to sql/schema.sql (CREATE … IF NOT EXISTS) reaches an
        # existing warehouse without a new schema version, so no load id changes and nothing reloads.
        digest = hashlib.sha1(schema_source().encode()).hexdigest()[:12]
        # The analysts' grants too, where they apply: a new role or grant is applied, nothing reloads.
        access = f"-{grants.digest()}" if grants.analyst_role() and not config.warehouse().url.startswith("duckdb:") else ""
        return WarehouseMarker(warehouse_backend, f"WarehouseSchema@v{WAREHOUSE_SCHEMA_VERSION}-{digest}{access}")

    def run(self):
        if self.output().exists_now():
            return
        backend = warehouse_backend()
        try:
            backend.ensure_schema()
            with backend.transaction():
                granted = grants.apply(backend)
                record_marker(backend, self.output().update_id, "*", "schema", f"schema-v{WAREHOUSE_SCHEMA_VERSION}")
        finally:
            backend.close()
        self.output().exists_now()  # remembered (for a bounded time) by this process's checks
        if granted:
            logger.info("analysts (role %s) may read every table and view", grants.analyst_role())


class LoadPartition(luigi.Task):
    """Complete when the marker table holds ``LoadPartition(A/B)@<load id>``, where the load id is
    a function of the staged manifests: new staging for a partition means a new load."""

    partition = PartitionParameter(description="MSD letter partition, e.g. A/B")

    def requires(self):
        return {"msd": ExtractPartition(partition=self.partition),
                **{source.name: source.loaded_stage(self.partition) for source in registry.enabled()},
                "schema": WarehouseSchema()}

    @property
    def resources(self):
        return warehouse_write_resources()

    def input_manifests(self):
        """The staged manifests this load reads, by stage: the extraction's, then each enabled source's, in
        registry order (the order its load id is taken over)."""
        inputs = self.input()
        return {stage: target for stage, target in inputs.items() if stage != "schema"}

    def output(self):
        load_id = load_id_for(self.partition, self.input_manifests())
        # No staging yet, so no load id: not loaded. (Luigi runs the requirements first.)
        return WarehouseMarker(warehouse_backend, update_id_for(self.partition, load_id or "pending"))

    def run(self):
        load = read_manifests(self.partition, self.input_manifests())
        if WarehouseMarker(warehouse_backend, load.update_id).exists_now():
            logger.info("%s already loaded; nothing to do", self)
            return
        backend = warehouse_backend()
        try:
            if self.set_status_message:
                self.set_status_message(f"loading {self.partition} into {backend.dialect}")
            counts = load_partition(backend, load)
        finally:
            backend.close()
        WarehouseMarker(warehouse_backend, load.update_id).exists_now()  # remembered (for a bounded time)
        logger.info("partition %s loaded (%s): %s", self.partition, load.load_id,
                    ", ".join(f"{k} {v}" for k, v in counts.items()))
