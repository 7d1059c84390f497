"""``python -m pipeline export``: the warehouse as files researchers take away (Parquet, or CSV).

    python -m pipeline export [--format parquet|csv] [--out data/export]
    python -m pipeline export --open-only [--out data/export-open]      # only what may be republished
    python -m pipeline export --crosswalk [--open-only] [--out data/crosswalk]   # song_ids, Parquet and CSV

Every analytics table and the views (``enriched_songs``, the ``song_ids`` crosswalk) become one file each, typed
and described as DATA_DICTIONARY.md describes them (pipeline/dictionary.py): in Parquet each column carries its
description (source and null rule), its warehouse type and its source and licence (pipeline/licences.py) as
field metadata, and the file its table's description; JSON lists become lists of strings. A short README.md lists
the files, their rows, every column's source and licence and how to open them, and the dictionary (with each
column's licence) is copied beside them.

``--open-only`` writes only what its owners let a researcher republish (``Source.republishable``): those sources'
tables, their rows of the daily snapshots, their columns of ``enriched_songs`` and their ids of ``song_ids``, with
the MSD's track and song ids as join keys (pipeline/msd/terms.py says why); nothing of a source whose terms forbid
it, nor the MSD's other columns. ``--crosswalk`` writes ``song_ids`` alone, as Parquet and CSV both.

All tables are read in one transaction (repeatable read on PostgreSQL, a snapshot on DuckDB and
Redshift), so a load committed while the export runs is in every file or in none; rows stream
from the warehouse in batches, never a whole table in memory. Each file is written under a
temporary name and renamed when complete: a file in the folder is never half written, and files
of other names are left alone.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from tqdm import tqdm

from pipeline import dictionary, licences
from pipeline.errors import TerminalError
from pipeline.sources import registry
from pipeline.warehouse import crosswalk, schema
from pipeline.warehouse.backends import Backend, literal, redact, warehouse_backend
from pipeline.warehouse.target import tables_present_sql

FORMATS = ("parquet", "csv")
DEFAULT_OUT = os.path.join("data", "export")
OPEN_OUT = os.path.join("data", "export-open")
CROSSWALK_OUT = os.path.join("data", "crosswalk")
BATCH_ROWS = 50_000

_SCALARS = {"DOUBLE PRECISION": pa.float64(), "INTEGER": pa.int32(), "SMALLINT": pa.int16(), "BIGINT": pa.int64(),
            "BOOLEAN": pa.bool_(), "TIMESTAMP": pa.timestamp("us"), "DATE": pa.date32(), "JSON": pa.list_(pa.string())}


def arrow_type(sql_type: str) -> pa.DataType:
    """The Arrow type of a dictionary type: VARCHAR(n) → string, JSON lists → list<string>, …"""
    if sql_type.startswith("VARCHAR"):
        return pa.string()
    try:
        return _SCALARS[sql_type]
    except KeyError:
        raise ValueError(f"DATA_DICTIONARY.md type `{sql_type}` has no Arrow type in pipeline/export.py") from None


def exported_tables() -> list[dictionary.TableDoc]:
    """The analytics tables and the views, as documented (the load markers are bookkeeping, not data)."""
    docs = dictionary.warehouse_tables()
    return [docs[name] for name in [*schema.analytics_tables(), schema.VIEW, schema.CROSSWALK]]


@dataclasses.dataclass(frozen=True)
class ExportedFile:
    """One file's worth: its documented columns (all, or those an open export keeps), what they are read from (a
    table, a view, or a SELECT of its own) and which rows, and each column's owners (pipeline/licences.py)."""

    doc: dictionary.TableDoc
    relation: str
    where: str = ""
    owners: dict = dataclasses.field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.doc.name

    @property
    def columns(self):
        return self.doc.columns


def _file(doc: dictionary.TableDoc, keep: list[str] | None = None, relation: str | None = None, where: str = "",
          rows_of: list | None = None) -> ExportedFile:
    """``keep``: the columns written (all by default); ``rows_of``: the sources whose rows alone are written (a
    table of several sources' rows), whose they then are."""
    columns = tuple(c for c in doc.columns if keep is None or c.name in keep)
    doc = dictionary.TableDoc(doc.name, doc.description, columns)
    owners = licences.column_owners(doc.name, [c.name for c in columns])
    if rows_of is not None:
        owners = {c: tuple(licences.origin(s) for s in rows_of) for c in owners}
    return ExportedFile(doc, relation or doc.name, where, owners)


def planned(open_only: bool = False, only_crosswalk: bool = False) -> list[ExportedFile]:
    """The files an export writes: every table and view, or the crosswalk alone; with ``open_only``, only what may
    be republished (whole tables of republishable owners, their snapshot rows, their view columns and crosswalk
    ids, and the MSD's join keys)."""
    docs = exported_tables()
    if only_crosswalk:
        docs = [d for d in docs if d.name == schema.CROSSWALK]
    if not open_only:
        return [_file(d) for d in docs]
    out = []
    open_sources = [s for s in registry.registered() if licences.origin(s).republishable]
    for doc in docs:
        if doc.name == schema.CROSSWALK:  # only the open sources' ids, coalesced among themselves
            select = crosswalk.select_sql(open_sources)
            out.append(_file(doc, crosswalk.column_names(open_sources), f"({select}) AS {doc.name}"))
            continue
        owners = licences.column_owners(doc.name, [c.name for c in doc.columns])
        if licences.rows_by_source(doc.name):
            kept = [s for s in licences.snapshot_sources() if licences.origin(s).republishable]
            if kept:
                out.append(_file(doc, where=f"WHERE source IN ({', '.join(literal(s.name) for s in kept)})", rows_of=kept))
            continue
        keep = [c for c, o in owners.items() if licences.is_open(o, c)]
        if doc.name == schema.VIEW:
            if any(owners[c] != (licences.msd(),) for c in keep):
                out.append(_file(doc, keep))
        elif len(keep) == len(owners):  # a table is written whole, or not at all
            out.append(_file(doc))
    return out


def arrow_schema(doc: dictionary.TableDoc | ExportedFile) -> pa.Schema:
    owners = doc.owners if isinstance(doc, ExportedFile) else {}

    def metadata(c) -> dict[str, str]:
        out = {"description": c.description, "warehouse_type": c.type}
        if c.name in owners:
            out["source_and_licence"] = licences.describe(owners[c.name], doc.name)
        return out
    fields = [pa.field(c.name, arrow_type(c.type), metadata=metadata(c)) for c in doc.columns]
    return pa.schema(fields, metadata={"table": doc.name, "description": doc.doc.description
                                       if isinstance(doc, ExportedFile) else doc.description})


def _json_list(value):
    if value is None:
        return None
    items = json.loads(value) if isinstance(value, str) else value
    return [item if isinstance(item, str) else json.dumps(item) for item in items]


def _json_text(value):
    """A JSON list as JSON text, whether the backend gave text (DuckDB, Redshift) or a list (PostgreSQL)."""
    return value if value is None or isinstance(value, str) else json.dumps(value)


def _batch(rows: list[tuple], table_schema: pa.Schema, json_columns: set[str]) -> pa.RecordBatch:
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in table_schema]
    arrays = []
    for field, values in zip(table_schema, columns, strict=True):
        if field.name in json_columns:
            values = [_json_list(v) for v in values] if pa.types.is_list(field.type) else [_json_text(v) for v in values]
        arrays.append(pa.array(values, type=field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=table_schema)


def missing_tables(backend: Backend, wanted: list[str] | None = None) -> list[str]:
    """Tables and views of ``wanted`` (every exported one by default) the warehouse does not have yet: a
    crosswalk's view, say, before the schema that adds it reached the warehouse."""
    wanted = wanted if wanted is not None else [t.name for t in exported_tables()]
    present = {r[0] for r in backend.query(tables_present_sql(backend.dialect, wanted))}
    return [n for n in wanted if n not in present]


def export(out_dir: str, fmt: str = "parquet", backend: Backend | None = None, open_only: bool = False,
           only_crosswalk: bool = False) -> dict[str, int]:
    """Write every table and view to ``out_dir`` (``open_only``: only what may be republished; ``only_crosswalk``:
    ``song_ids`` alone, in every format); returns rows per table."""
    if fmt not in FORMATS:
        raise TerminalError(f"--format {fmt}: expected one of {', '.join(FORMATS)}")
    formats = FORMATS if only_crosswalk else (fmt,)
    files = planned(open_only, only_crosswalk)
    own = backend is None
    backend = backend or warehouse_backend()
    try:
        with backend.transaction():  # its own: the snapshot below must begin with the transaction
            missing = missing_tables(backend)
            needed = [n for n in missing if n in {f.name for f in files}]
        if needed:
            what = "Music ETL tables" if len(missing) == len(exported_tables()) else ", ".join(needed)
            fix = ("run `python -m pipeline run` (or make demo) first" if len(missing) == len(exported_tables())
                   else "run `python -m pipeline run` once, which brings the warehouse's schema up to this version")
            raise TerminalError(f"the warehouse at {redact(backend.url)} has no {what} yet: {fix}; nothing was exported")
        os.makedirs(out_dir, exist_ok=True)
        counts = {}
        with backend.transaction():
            if backend.dialect == schema.POSTGRESQL:
                # One snapshot for every table, a load committing meanwhile in all files or none (DuckDB's
                # transactions and Redshift's serializable isolation are snapshots already).
                backend.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            for file in files:
                for each in formats:
                    counts[file.name] = _write_table(backend, file, out_dir, each)
        _write_readme(out_dir, formats, files, counts, redact(backend.url), open_only)
        with open(os.path.join(out_dir, "DATA_DICTIONARY.md"), "w", encoding="utf-8") as fh:
            fh.write(dictionary.licensed_text())
        return counts
    finally:
        if own:
            backend.close()


def _write_table(backend: Backend, doc: ExportedFile, out_dir: str, fmt: str) -> int:
    table_schema = arrow_schema(doc)
    json_columns = {c.name for c in doc.columns if c.type == "JSON"}
    if fmt == "csv":  # CSV has no lists: JSON lists are written as JSON text
        table_schema = pa.schema([f.with_type(pa.string()) if f.name in json_columns else f for f in table_schema])
    key = schema.row_order(doc.name)
    source = f"{doc.relation}{' ' + doc.where if doc.where else ''}"
    total = backend.scalar(f"SELECT count(*) FROM {source}")
    path = os.path.join(out_dir, f"{doc.name}.{fmt}")
    tmp = os.path.join(out_dir, f".{doc.name}.{fmt}.tmp")
    rows = 0
    bar = tqdm(total=total, desc=f"{doc.name:<24}", unit=" rows", disable=not sys.stderr.isatty(), leave=False)
    try:
        if fmt == "parquet":
            writer = pq.ParquetWriter(tmp, table_schema, compression="zstd")
        else:
            writer = pacsv.CSVWriter(tmp, table_schema)
        try:
            sql = f"SELECT {', '.join(c.name for c in doc.columns)} FROM {source} ORDER BY {', '.join(key)}"
            for batch_rows in backend.stream(sql, BATCH_ROWS):
                writer.write_batch(_batch(batch_rows, table_schema, json_columns))
                rows += len(batch_rows)
                bar.update(len(batch_rows))
        finally:
            writer.close()
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    finally:
        bar.close()
    return rows


def _write_readme(out_dir: str, formats: tuple[str, ...], files: list[ExportedFile], counts: dict[str, int],
                  warehouse: str, open_only: bool) -> None:
    fmt = formats[0]
    crosswalk_only = [f.name for f in files] == [schema.CROSSWALK]
    title = "Music ETL crosswalk" if crosswalk_only else "Music ETL export"
    first = schema.CROSSWALK if crosswalk_only else schema.VIEW
    exts = " and ".join(f.upper() for f in formats)
    lines = [
        f"# {title}{': open data only' if open_only else ''}",
        "",
        f"Exported {datetime.now(UTC).isoformat(timespec='seconds')} from the warehouse {warehouse}, all tables read "
        f"in one transaction. One {exts} file per table; "
        + ("`song_ids` is one row per MSD track with every id the sources gave it (each with the status and score "
           "of its match and the source that gave it)." if crosswalk_only else
           "`enriched_songs` is the view most analyses start from (every MSD song with what each source found for "
           "it), `song_ids` the crosswalk of its ids."),
        "",
        "| file | rows | what it holds | sources (licence) |",
        "|---|---:|---|---|",
        *[f"| {', '.join(f'`{f.name}.{e}`' for e in formats)} | {counts[f.name]} | "
          f"{f.doc.description.split('. ')[0].rstrip('.')}. | {_sources_of(f)} |" for f in files],
        "",
    ]
    if open_only:
        kept = sorted({o.title for f in files for owners in f.owners.values() for o in owners if o.republishable})
        lines += [
            "## Only what may be republished",
            "",
            f"This export holds the facts whose licence lets anyone republish them ({', '.join(kept) or 'none'}), and "
            "nothing of a source whose terms forbid it. Of the Million Song Dataset's own columns it keeps only the "
            "track and song ids (and the partition, the track id's letters), as join keys to your own copy of the MSD: "
            "the MSD publishes them in its openly downloadable id lists and every companion dataset of the MSD "
            "republishes them as its key; its titles, names and Echo Nest features stay out (its terms below).",
            "",
        ]
    lines += ["## Sources and licences", "", "| source | licence | may be republished | terms |", "|---|---|---|---|"]
    present = {o.name for f in files for owners in f.owners.values() for o in owners}
    for o in licences.origins():
        if o.name in present:
            licence = f"[{o.licence}]({o.licence_url})" if o.licence_url else o.licence
            lines.append(f"| {o.title} | {licence} | {'yes' if o.republishable else 'no'} | {o.terms} |")
    lines += ["", "## Every column's source and licence", ""]
    for f in files:
        lines.append(f"`{f.name}`:")
        groups: dict[str, list[str]] = {}
        for column in f.columns:
            groups.setdefault(licences.describe(f.owners[column.name], f.name), []).append(column.name)
        lines += [f"* {label}: {', '.join(f'`{c}`' for c in columns)}" for label, columns in groups.items()]
        lines.append("")
    lines += [
        "Every column is described in `DATA_DICTIONARY.md` (copied here, each column's source and licence in its "
        "last cell)"
        + (", and in each Parquet file's field metadata (`description`, `warehouse_type`, `source_and_licence`); "
           "JSON lists are lists of strings." if "parquet" in formats else "; JSON lists are written as JSON text."),
        "",
        "```python",
        f"import pandas as pd;  songs = pd.read_{'parquet' if fmt == 'parquet' else 'csv'}('{first}.{fmt}')",
        f"import polars as pl;  songs = pl.read_{fmt}('{first}.{fmt}')",
        f"import duckdb;        duckdb.sql(\"SELECT count(*) FROM '{first}.{fmt}'\")",
        "```",
        "",
        f"In R: `arrow::read_{'parquet' if fmt == 'parquet' else 'csv_arrow'}(\"{first}.{fmt}\")`.",
        "",
    ]
    with open(os.path.join(out_dir, "README.md"), "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines))


def _sources_of(file: ExportedFile) -> str:
    labels = dict.fromkeys(o.label() for owners in file.owners.values() for o in owners)
    prefix = "each row its `source`'s: " if licences.rows_by_source(file.name) else ""
    return prefix + "; ".join(labels)
