"""One partition's load: staged files → analytics tables, in one transaction, checked before commit.

The same SQL for every backend (only staging differs, pipeline/warehouse/backends.py):

1. lock (PostgreSQL advisory lock, Redshift LOCK; DuckDB has one writer);
2. tables owned by the partition (``songs``, each source's matches): delete the partition's rows;
   shared dimensions: delete the rows whose keys this load brings (a merge by key, so an
   artist met in many partitions is one row; an artist's terms, tags and similar artists go
   as a whole);
3. insert the staged rows, every row stamped with the load id: shared dimensions through a
   ``stage_<table>`` (their merge reads it), the rest straight from the staged file where the
   backend can add the load id on the way (DuckDB, PostgreSQL; Redshift stages everything);
5. data-quality checks (row counts, null keys, duplicate keys, matches pointing at loaded
   tracks of their source): any failure raises and the transaction rolls back;
6. the match histories follow the new decisions (pipeline/warehouse/snapshots.py);
7. replace the partition's marker row, commit.

The load id is a digest of the staged manifests' own digests (SHA-256 of their bytes, carried in
their names, pipeline/staging/paths.py) and the schema version, so reloading the same staging gives
identical tables, and new staging gives a new id that the marker does not know yet: the
partition loads again.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from pipeline import staging
from pipeline.errors import PipelineError
from pipeline.sources import registry
from pipeline.warehouse.backends import Backend, StagedFileError, literal
from pipeline.warehouse.schema import MARKER_TABLE, WAREHOUSE_SCHEMA_VERSION, Table, history_tables, tables
from pipeline.warehouse.snapshots import record_match_changes

STEP = "load"


class DataQualityError(PipelineError):
    def __init__(self, partition: str, problems: list[str]):
        self.problems = problems
        super().__init__(f"partition {partition}: load refused by data-quality checks, nothing was changed: "
                         + "; ".join(problems))


def load_id_for(partition: str, manifests: dict[str, staging.ManifestTarget]) -> str | None:
    """The load id of a partition's current staging, from its manifests' digests (in their names:
    no GET) and the schema version; None until every one exists. The stages are taken in the order
    given (extraction, then each enabled source in registry order), so a run without a source keeps the load
    ids it always had."""
    ids = [t.content_id() for t in manifests.values()]
    return None if None in ids else _load_id(partition, ids)


def _load_id(partition: str, content_ids: list[str]) -> str:
    basis = "|".join([partition, *content_ids, f"w{WAREHOUSE_SCHEMA_VERSION}"])
    return f"{partition.replace('/', '')}-{hashlib.sha1(basis.encode()).hexdigest()[:16]}"


def update_id_for(partition: str, load_id: str) -> str:
    return f"LoadPartition({partition})@{load_id}"


@dataclass(frozen=True)
class PartitionLoad:
    partition: str
    manifests: dict[str, dict]  # stage → its manifest
    load_id: str
    folders: dict[str, str]  # stage → the staged folder this load reads

    @property
    def msd_manifest(self) -> dict:
        return self.manifests["msd"]

    @property
    def enrich_run_ids(self) -> str | None:
        """Each source stage's run id (``spotify=…;deezer=…``), for the marker row."""
        ids = ";".join(f"{stage}={m['run_id']}" for stage, m in self.manifests.items() if stage != "msd" and m.get("run_id"))
        return ids[:256] or None

    @property
    def update_id(self) -> str:
        return update_id_for(self.partition, self.load_id)

    def tables(self) -> list[Table]:
        """The tables this load fills: those of the stages it has staging for."""
        return [t for t in tables() if t.stage in self.folders]

    def path(self, table: Table) -> str:
        return f"{self.folders[table.stage]}/{table.file}"

    def expected_rows(self, table: Table) -> int:
        if table.stage == "msd":
            files = {f["path"]: f["rows"] for f in self.msd_manifest["files"].values()}
            return files[table.file]
        return self.manifests[table.stage]["rows"][table.file]


def read_manifests(partition: str, manifests: dict[str, staging.ManifestTarget]) -> PartitionLoad:
    """Every manifest, each checked against the digest in its name; the load id comes from those
    digests, as ``load_id_for`` computes it from a listing."""
    read = {stage: target.read() for stage, target in manifests.items()}
    return PartitionLoad(partition, {stage: m for stage, (m, _) in read.items()},
                         _load_id(partition, [digest for _, digest in read.values()]),
                         {stage: target.folder for stage, target in manifests.items()})


def record_marker(backend: Backend, update_id: str, partition: str, step: str, load_id: str,
                  extract_id: str | None = None, enrich_run_id: str | None = None, row_counts: str | None = None) -> None:
    """Replace the marker row of (partition, step); call it inside the transaction of the work it records."""
    def value(v):
        return "NULL" if v is None else literal(v)

    backend.execute(f"DELETE FROM {MARKER_TABLE} WHERE msd_partition = {literal(partition)} AND step = {literal(step)}")
    backend.execute(
        f"INSERT INTO {MARKER_TABLE} (update_id, msd_partition, step, load_id, warehouse_schema_version, extract_id, "
        f"enrich_run_id, row_counts, loaded_at) VALUES ({literal(update_id)}, {literal(partition)}, {literal(step)}, "
        f"{literal(load_id)}, {WAREHOUSE_SCHEMA_VERSION}, {value(extract_id)}, {value(enrich_run_id)}, "
        f"{value(row_counts)}, CURRENT_TIMESTAMP)")


def is_loaded(backend: Backend, update_id: str) -> bool:
    rows = backend.query(f"SELECT 1 FROM {MARKER_TABLE} WHERE update_id = {literal(update_id)}")
    return bool(rows)


def _direct(backend: Backend, table: Table) -> bool:
    """Tables no other statement reads a stage of go straight in: the partition's own tables and
    the per-artist lists. Shared dimensions keep a stage table, which their merge reads."""
    return backend.loads_directly and (table.owned or table.replace_from is not None)


def _replaced_rows(table: Table, partition: str) -> str:
    """A condition matching the rows a load of ``partition`` replaces in ``table``, through
    indexed columns: a partition's own tables by ``msd_partition``, a shared table by the keys its
    stage table holds (stage tables live until the load's transaction ends)."""
    if table.owned:
        return f"msd_partition = {literal(partition)}"
    source = f"stage_{table.replace_from or table.name}"
    return f"{table.replace_by} IN (SELECT {table.replace_by} FROM {source})"


def _delete_previous(backend: Backend, table: Table, partition: str) -> None:
    backend.execute(f"DELETE FROM {table.name} WHERE {_replaced_rows(table, partition)}")


def load_partition(backend: Backend, load: PartitionLoad) -> dict[str, int]:
    """Load one partition in one transaction; returns rows loaded per table."""
    partition, load_id = load.partition, load.load_id
    staged: dict[str, int] = {}
    backend.duplicates_in_load.clear()
    with backend.transaction():
        backend.lock_for_load()
        for table in load.tables():  # a table that feeds another's delete (artists) comes first in tables()
            if _direct(backend, table):
                _delete_previous(backend, table, partition)
                with _reading(backend, load, table):
                    backend.load_direct(table, load.path(table), load_id)
                staged[table.name] = load.expected_rows(table)  # compared with what was loaded below
                continue
            if backend.temp_tables_outlive_transactions:
                backend.execute(f"DROP TABLE IF EXISTS stage_{table.name}")
            backend.execute(backend.create_stage_sql(table))
            with _reading(backend, load, table):
                backend.fill_stage(table, load.path(table))
            staged[table.name] = load.expected_rows(table)  # the check compares it with what was loaded
            _delete_previous(backend, table, partition)
            names = ", ".join(c.name for c in table.columns() if c.name != "load_id")
            backend.execute(f"INSERT INTO {table.name} ({names}, load_id) SELECT {names}, {literal(load_id)} "
                            f"FROM stage_{table.name}")

        _raise_if(partition, check(backend, load, staged))
        for source in (s for s in history_tables() if s in load.folders):
            record_match_changes(backend, source, [partition], load_id, datetime.now(UTC))
        record_marker(backend, load.update_id, partition, STEP, load_id, extract_id=load.msd_manifest.get("extract_id"),
                      enrich_run_id=load.enrich_run_ids, row_counts=orjson.dumps(staged).decode())
        if backend.temp_tables_outlive_transactions:
            for table in load.tables():
                if not _direct(backend, table):
                    backend.execute(f"DROP TABLE IF EXISTS stage_{table.name}")
    return staged


@contextlib.contextmanager
def _reading(backend: Backend, load: PartitionLoad, table: Table):
    """A staged file that cannot be read fails the load naming the file, the partition and the fix."""
    try:
        yield
    except backend.unreadable_file_errors() as exc:
        raise StagedFileError(load.partition, load.path(table), str(exc).splitlines()[0]) from None


def check(backend: Backend, load: PartitionLoad, staged: dict[str, int]) -> list[str]:
    """Post-load checks inside the load's transaction; each problem names the table and the numbers.

    All counts come back in one query (one round trip, not 28). Each count reads only the rows
    this load could have written, found through the indexed partition or key columns (see
    ``_rows_of``), so checking a partition costs the same in an empty warehouse and in one
    holding the other 675 partitions."""
    partition = load.partition
    counts: dict[tuple[str, str], str] = {}
    for table in load.tables():
        keys = ", ".join(table.key)
        mine = _rows_of(table, load)
        counts[(table.name, "loaded")] = f"SELECT count(*) FROM {table.name} WHERE {mine}"
        counts[(table.name, "null_keys")] = (f"SELECT count(*) FROM {table.name} WHERE {mine} AND ("
                                             + " OR ".join(f"{k} IS NULL" for k in table.key) + ")")
        if table.replace_from and table.name in backend.duplicates_in_load:
            continue  # earlier rows of these artists were deleted above; the backend counted in-load repeats
        if table.replace_from:
            counts[(table.name, "duplicates")] = (f"SELECT count(*) FROM (SELECT {keys} FROM {table.name} WHERE {mine} "
                                                  f"GROUP BY {keys} HAVING count(*) > 1) d")
        else:
            key = table.key[0]
            counts[(table.name, "duplicates")] = (
                f"SELECT count(*) FROM (SELECT {key} FROM {table.name} WHERE {key} IN "
                f"(SELECT {key} FROM {table.name} WHERE {mine}) GROUP BY {key} HAVING count(*) > 1) d")
    matching = [s for s in registry.registered() if s.matches and s.name in load.folders]
    for source in matching:
        column = source.track_id_column
        counts[(source.match_table, "dangling")] = (
            f"SELECT count(*) FROM {source.match_table} m LEFT JOIN {source.track_table} t "
            f"ON t.{column} = m.{column} WHERE m.msd_partition = {literal(partition)} "
            f"AND m.{column} IS NOT NULL AND t.{column} IS NULL")
    row = backend.query("SELECT " + ", ".join(f"({sql})" for sql in counts.values()))[0]
    found = dict(zip(counts, row, strict=True))

    problems = []
    for table in load.tables():
        loaded = found[(table.name, "loaded")]
        if loaded != staged[table.name]:
            problems.append(f"{table.name}: {staged[table.name]} rows staged "
                            f"({load.path(table)} and its manifest), {loaded} loaded")
        if found[(table.name, "null_keys")]:
            problems.append(f"{table.name}: {found[(table.name, 'null_keys')]} rows with a null key ({', '.join(table.key)})")
        duplicates = found.get((table.name, "duplicates"), backend.duplicates_in_load.get(table.name, 0))
        if duplicates:
            problems.append(f"{table.name}: {duplicates} duplicated keys ({', '.join(table.key)})")
    for source in matching:
        if found[(source.match_table, "dangling")]:
            problems.append(f"{source.match_table}: {found[(source.match_table, 'dangling')]} matches point at no loaded "
                            f"{source.track_table} row")
    return problems


def _rows_of(table: Table, load: PartitionLoad) -> str:
    """A condition matching the rows this load wrote to ``table``: those it replaced, now with
    its load id. ``load_id = …`` alone would match the same rows but read the whole table for
    every count. A row the load wrote outside the replaced keys would be a row the staged
    artists do not list; it is then missing from the count, and the count check fails, naming
    the table."""
    return f"{_replaced_rows(table, load.partition)} AND load_id = {literal(load.load_id)}"


def _raise_if(partition: str, problems: list[str]) -> None:
    if problems:
        raise DataQualityError(partition, problems)
