"""The warehouse schema: ``sql/schema.sql`` rendered per dialect, and what each table loads from.

``sql/schema.sql`` is the one source of the DDL; this module renders its few dialect markers
and reads the column lists back from it, so the loaders never carry a second copy.
"""

from __future__ import annotations

import functools
import os
import re

from pipeline.warehouse.table import Column, Table

SQL_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "sql")
SCHEMA_FILE = os.path.join(SQL_DIR, "schema.sql")
# Bump when a table or column changes: loads are versioned by it (marker ids, load ids).
WAREHOUSE_SCHEMA_VERSION = 1

DUCKDB, POSTGRESQL, REDSHIFT = "duckdb", "postgresql", "redshift"
DIALECTS = (DUCKDB, POSTGRESQL, REDSHIFT)
JSON_TYPE = {DUCKDB: "JSON", POSTGRESQL: "JSONB", REDSHIFT: "SUPER"}

_ONLY = re.compile(r"\{\{([a-z,]+):\s*(.*?)\}\}", re.DOTALL)
_CREATE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+) \((.*?)\n\)", re.DOTALL)
_COLUMN = re.compile(r"^\s*(\w+) (.+?)(?: NOT NULL)?,?$")
_VIEW_PART = re.compile(r"^\s*SELECT\s+(.*?)\s+FROM\s+songs\s+s\b\s*(.*?)\s*$", re.DOTALL | re.IGNORECASE)
_OUTPUT_NAME = re.compile(r"(?:\bAS\s+|\.)(\w+)\s*$", re.IGNORECASE)

__all__ = ["Column", "Table"]  # declared in pipeline/warehouse/table.py, used by every loader through here

# The MSD's own tables, loaded from <staging root>/msd/A/B/.
MSD_TABLES = (
    Table("songs", "msd", "songs.jsonl.gz", key=("track_id",), owned=True),
    Table("artists", "msd", "artists.jsonl.gz", key=("artist_id",), replace_by="artist_id"),
    # An artist's terms, tags and similar artists are replaced as a whole, for every artist the partition met.
    Table("artist_terms", "msd", "artist_terms.jsonl.gz", key=("artist_id", "term"), replace_by="artist_id",
          replace_from="artists"),
    Table("artist_mbtags", "msd", "artist_mbtags.jsonl.gz", key=("artist_id", "mbtag"), replace_by="artist_id",
          replace_from="artists"),
    Table("similar_artists", "msd", "similar_artists.jsonl.gz", key=("artist_id", "similar_artist_id"),
          replace_by="artist_id", replace_from="artists"),
)
# Written by the daily refresh (pipeline/warehouse/snapshots.py), a date and a source at a time, from
# <staging root>/refresh/<source>/<date>/A/B/.
SNAPSHOT_TABLES = (
    Table("track_popularity_daily", "refresh", "tracks.jsonl.gz",
          key=("snapshot_date", "source", "source_track_id", "msd_track_id")),
    Table("artist_popularity_daily", "refresh", "artists.jsonl.gz", key=("snapshot_date", "source", "source_artist_id")),
)
MARKER_TABLE = "etl_load_markers"
VIEW = "enriched_songs"
CROSSWALK = "song_ids"  # the crosswalk view (pipeline/warehouse/crosswalk.py)


def _sources():
    from pipeline.sources import registry

    return registry.registered()


def tables() -> tuple[Table, ...]:
    """Every table a partition load fills: the MSD's, then each source's, in the order they load (a
    table that feeds another's delete, such as artists, comes first)."""
    return (*MSD_TABLES, *(t for source in _sources() for t in source.tables))


def history_tables() -> dict[str, str]:
    """Source name → its match history (SCD type 2), kept by partition loads and snapshot loads alike."""
    return {s.name: s.history_table for s in _sources() if s.history_table}


def analytics_tables() -> tuple[str, ...]:
    """Every table researchers read (exports, locks): the partition loads', the snapshots' and the histories."""
    return (*(t.name for t in tables()), *(t.name for t in SNAPSHOT_TABLES), *history_tables().values())


def row_order(name: str) -> tuple[str, ...]:
    """The columns that put a table's (or the view's) rows in a stable order: its key."""
    for table in (*tables(), *SNAPSHOT_TABLES):
        if table.name == name:
            return table.key
    if name == CROSSWALK:
        from pipeline.warehouse import crosswalk

        return crosswalk.KEY
    return ("track_id", "valid_from") if name in history_tables().values() else ("track_id",)


def source() -> str:
    """The whole schema: sql/schema.sql with every registered source's tables and view part put in."""
    return _composed(_sources())


def view_column_sources() -> dict[str, str]:
    """Each ``enriched_songs`` column → where it comes from: ``songs`` (the MSD's) or the name of the source whose
    view.sql gives it."""
    return dict(_view_parts(_sources())[0])


def _core() -> str:
    with open(SCHEMA_FILE, encoding="utf-8") as fh:
        return fh.read()


@functools.lru_cache(maxsize=8)
def _composed(sources: tuple) -> str:
    from pipeline.warehouse import crosswalk

    core = _core()
    ddl = "\n".join(f"-- {s.title}: pipeline/sources/{s.name}/schema.sql\n{s.ddl().strip()}\n" for s in sources if s.ddl())
    _, columns, joins = _view_parts(sources)
    return (core.replace("{{source_tables}}", ddl.strip())
            .replace("{{source_columns}}", "".join(f",\n    {c}" for c in columns))
            .replace("{{source_joins}}", "".join(f"\n{j}" for j in joins))
            .replace("{{crosswalk}}", crosswalk.select_sql(sources)))


@functools.lru_cache(maxsize=8)
def _view_parts(sources: tuple) -> tuple[tuple[tuple[str, str], ...], list[str], list[str]]:
    """The view's column owners (column → ``songs`` or a source's name), and each source's columns and joins."""
    core = _core()
    columns, joins = [], []
    names = {n: "songs" for n in _output_names(core[core.index("CREATE OR REPLACE VIEW"):].split("SELECT", 1)[1]
                                               .split("{{source_columns}}")[0])}
    for s in sources:
        part = s.view()
        if part is None:
            continue
        body = "\n".join(line for line in part.splitlines() if not line.lstrip().startswith("--"))
        match = _VIEW_PART.match(body)
        if match is None:
            raise ValueError(f"pipeline/sources/{s.name}/view.sql: expected `SELECT <columns> FROM songs s <joins>`")
        for name in _output_names(match.group(1)):
            if name in names:
                raise ValueError(f"enriched_songs column `{name}` comes from both {names[name]} and {s.name}; "
                                 f"rename one in its view.sql")
            names[name] = s.name
        columns.append(match.group(1).strip())
        if match.group(2).strip():
            joins.append(match.group(2).strip())
    return tuple(names.items()), columns, joins


def _output_names(select_list: str) -> list[str]:
    """The column names a SELECT list gives (``t.name AS x`` → x, ``t.name`` → name)."""
    out = []
    for item in select_list.split(","):
        match = _OUTPUT_NAME.search(item.strip())
        if match:
            out.append(match.group(1))
    return out


def render_markers(text: str, dialect: str) -> str:
    """``{{postgresql: …}}`` kept (unwrapped) for that dialect, dropped for the others."""
    if dialect not in DIALECTS:
        raise ValueError(f"unknown SQL dialect `{dialect}`; expected one of {', '.join(DIALECTS)}")
    return _ONLY.sub(lambda m: m.group(2) if dialect in m.group(1).split(",") else "", text)


def render(dialect: str) -> str:
    """schema.sql for one dialect: markers for other dialects removed, ``{{JSON}}`` typed."""
    return render_markers(source(), dialect).replace("{{JSON}}", JSON_TYPE[dialect])


def statements(dialect: str) -> list[str]:
    """The rendered schema as single statements, comments and blanks dropped."""
    body = "\n".join(line for line in render(dialect).splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in body.split(";") if s.strip()]


def view_statements(dialect: str) -> list[str]:
    """The statements that (re)create the view, in order: a drop, then the definition."""
    return [s for s in statements(dialect) if s.startswith(("DROP VIEW", "CREATE OR REPLACE VIEW"))]


def table_columns() -> dict[str, list[Column]]:
    return _table_columns(source())


@functools.lru_cache(maxsize=8)
def _table_columns(ddl: str) -> dict[str, list[Column]]:
    tables = {}
    for name, body in _CREATE.findall(ddl):
        columns = []
        for line in body.strip().splitlines():
            match = _COLUMN.match(line)
            if not match:
                raise ValueError(f"schema of table {name}: cannot read column line `{line.strip()}`")
            columns.append(Column(match.group(1), match.group(2), line.rstrip(",").endswith("NOT NULL")))
        tables[name] = columns
    return tables


def column_type(column: Column, dialect: str) -> str:
    return JSON_TYPE[dialect] if column.is_json else column.type
