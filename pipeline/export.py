"""``python -m pipeline export``: the warehouse as files researchers take away (Parquet, or CSV).

    python -m pipeline export [--format parquet|csv] [--out data/export]

Every analytics table and the ``enriched_songs`` view becomes one file, typed and described as
DATA_DICTIONARY.md describes it (pipeline/dictionary.py): in Parquet each column carries its
description (source and null rule) and its warehouse type as field metadata, and the file its
table's description; JSON lists become lists of strings. A short README.md lists the files, their
rows and how to open them, and the dictionary is copied beside them.

All tables are read in one transaction (repeatable read on PostgreSQL, a snapshot on DuckDB and
Redshift), so a load committed while the export runs is in every file or in none; rows stream
from the warehouse in batches, never a whole table in memory. Each file is written under a
temporary name and renamed when complete: a file in the folder is never half written, and files
of other names are left alone.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from tqdm import tqdm

from pipeline import dictionary
from pipeline.errors import TerminalError
from pipeline.sources import registry
from pipeline.warehouse import schema
from pipeline.warehouse.backends import Backend, redact, warehouse_backend
from pipeline.warehouse.target import tables_present_sql

FORMATS = ("parquet", "csv")
DEFAULT_OUT = os.path.join("data", "export")
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
    """The analytics tables and the view, as documented (the load markers are bookkeeping, not data)."""
    docs = dictionary.warehouse_tables()
    return [docs[name] for name in [*schema.analytics_tables(), schema.VIEW]]


def arrow_schema(doc: dictionary.TableDoc) -> pa.Schema:
    fields = [pa.field(c.name, arrow_type(c.type), metadata={"description": c.description, "warehouse_type": c.type})
              for c in doc.columns]
    return pa.schema(fields, metadata={"table": doc.name, "description": doc.description})


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


def missing_tables(backend: Backend) -> list[str]:
    wanted = [t.name for t in exported_tables()]
    present = {r[0] for r in backend.query(tables_present_sql(backend.dialect, wanted))}
    return [n for n in wanted if n not in present]


def export(out_dir: str, fmt: str = "parquet", backend: Backend | None = None) -> dict[str, int]:
    """Write every table and the view to ``out_dir``; returns rows per table."""
    if fmt not in FORMATS:
        raise TerminalError(f"--format {fmt}: expected one of {', '.join(FORMATS)}")
    own = backend is None
    backend = backend or warehouse_backend()
    try:
        with backend.transaction():  # its own: the snapshot below must begin with the transaction
            missing = missing_tables(backend)
        if missing:
            what = "Music ETL tables" if len(missing) == len(exported_tables()) else ", ".join(missing)
            raise TerminalError(f"the warehouse at {redact(backend.url)} has no {what} yet: run "
                                f"`python -m pipeline run` (or make demo) first; nothing was exported")
        os.makedirs(out_dir, exist_ok=True)
        counts = {}
        with backend.transaction():
            if backend.dialect == schema.POSTGRESQL:
                # One snapshot for every table, a load committing meanwhile in all files or none (DuckDB's
                # transactions and Redshift's serializable isolation are snapshots already).
                backend.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            for doc in exported_tables():
                counts[doc.name] = _write_table(backend, doc, out_dir, fmt)
        _write_readme(out_dir, fmt, counts, redact(backend.url))
        with open(os.path.join(out_dir, "DATA_DICTIONARY.md"), "w", encoding="utf-8") as fh:
            fh.write(dictionary.combined_text())
        return counts
    finally:
        if own:
            backend.close()


def _write_table(backend: Backend, doc: dictionary.TableDoc, out_dir: str, fmt: str) -> int:
    table_schema = arrow_schema(doc)
    json_columns = {c.name for c in doc.columns if c.type == "JSON"}
    if fmt == "csv":  # CSV has no lists: JSON lists are written as JSON text
        table_schema = pa.schema([f.with_type(pa.string()) if f.name in json_columns else f for f in table_schema])
    key = schema.row_order(doc.name)
    total = backend.scalar(f"SELECT count(*) FROM {doc.name}")
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
            sql = f"SELECT {', '.join(c.name for c in doc.columns)} FROM {doc.name} ORDER BY {', '.join(key)}"
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


def _write_readme(out_dir: str, fmt: str, counts: dict[str, int], warehouse: str) -> None:
    docs = {d.name: d for d in exported_tables()}
    lines = [
        "# Music ETL export",
        "",
        f"Exported {datetime.now(UTC).isoformat(timespec='seconds')} from the warehouse {warehouse}, all tables read "
        f"in one transaction. One {fmt.upper()} file per table; `enriched_songs` is the view most analyses start from "
        f"(every MSD song with what each source found for it).",
        "",
        "| file | rows | what it holds |",
        "|---|---:|---|",
        *[f"| `{name}.{fmt}` | {rows} | {docs[name].description.split('. ')[0].rstrip('.')}. |"
          for name, rows in counts.items()],
        "",
        "Every column is described in `DATA_DICTIONARY.md` (copied here)"
        + (", and in each Parquet file's field metadata (`description`, `warehouse_type`); JSON lists are lists "
           "of strings." if fmt == "parquet" else "; JSON lists are written as JSON text."),
        "",
        "```python",
        f"import pandas as pd;  songs = pd.read_{'parquet' if fmt == 'parquet' else 'csv'}('enriched_songs.{fmt}')",
        f"import polars as pl;  songs = pl.read_{fmt}('enriched_songs.{fmt}')",
        f"import duckdb;        duckdb.sql(\"SELECT year, count(*) FROM 'enriched_songs.{fmt}' GROUP BY ALL\")",
        "```",
        "",
        f"In R: `arrow::read_{'parquet' if fmt == 'parquet' else 'csv_arrow'}(\"enriched_songs.{fmt}\")`.",
        "",
        *[line for s in registry.enabled() if s.terms for line in (s.terms, "")],
    ]
    with open(os.path.join(out_dir, "README.md"), "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines))
