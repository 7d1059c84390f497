"""LoadPartition: one partition's staged MSD and Spotify files → the warehouse, in one transaction."""

from __future__ import annotations

import logging

import luigi

from pipeline import config
from pipeline.tasks.enrich import EnrichPartition
from pipeline.tasks.extract import ExtractPartition
from pipeline.tasks.params import PartitionParameter
from pipeline.warehouse.backends import Backend, backend_for
from pipeline.warehouse.load import load_partition, read_manifests
from pipeline.warehouse.target import WarehouseMarker

logger = logging.getLogger("luigi-interface")


def warehouse_backend() -> Backend:
    settings = config.redshift()
    return backend_for(config.warehouse().url, iam_role=settings.iam_role, region=settings.region)


class LoadPartition(luigi.Task):
    """Complete when the marker table holds ``LoadPartition(A/B)@<load id>``, where the load id is
    a function of the staged manifests: new staging for a partition means a new load."""

    partition = PartitionParameter(description="MSD letter partition, e.g. A/B")

    def requires(self):
        return {"msd": ExtractPartition(partition=self.partition), "spotify": EnrichPartition(partition=self.partition)}

    @property
    def resources(self):
        # DuckDB allows one writer per file; PostgreSQL and Redshift serialise loads with locks instead.
        return {"duckdb_warehouse": 1} if config.warehouse().url.startswith("duckdb:") else {}

    def output(self):
        if not all(t.complete() for t in luigi.task.flatten(self.requires())):
            # No staging yet, so no load id: not loaded. (Luigi runs the requirements first.)
            return WarehouseMarker(warehouse_backend, f"LoadPartition({self.partition})@pending")
        return WarehouseMarker(warehouse_backend, read_manifests(self.partition).update_id)

    def run(self):
        load = read_manifests(self.partition)
        backend = warehouse_backend()
        try:
            backend.ensure_schema()
            if self.set_status_message:
                self.set_status_message(f"loading {self.partition} into {backend.dialect}")
            counts = load_partition(backend, load)
        finally:
            backend.close()
        logger.info("partition %s loaded (%s): %s", self.partition, load.load_id,
                    ", ".join(f"{k} {v}" for k, v in counts.items()))
