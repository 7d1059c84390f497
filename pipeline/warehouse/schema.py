"""The warehouse schema: ``sql/schema.sql`` rendered per dialect, and what each table loads from.

``sql/schema.sql`` is the one source of the DDL; this module renders its few dialect markers
and reads the column lists back from it, so the loaders never carry a second copy.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # as written in schema.sql, {{JSON}} included
    not_null: bool

    @property
    def is_json(self) -> bool:
        return self.type == "{{JSON}}"


@dataclass(frozen=True)
class Table:
    """Where a table's rows come from and how a partition's load writes them."""

    name: str
    stage: str  # staging stage folder: msd | spotify
    file: str  # staged file in <staging>/<stage>/A/B/
    key: tuple[str, ...]  # unique in the table (checked after every load)
    # owned: rows belong to one partition (msd_partition) and a reload replaces them;
    # merged: shared dimension, rows replaced by `replace_by` key values present in the load.
    owned: bool = False
    replace_by: str | None = None
    # the stage table whose `replace_by` values say which rows this load replaces (default: its own)
    replace_from: str | None = None

    def columns(self) -> list[Column]:
        return table_columns()[self.name]


TABLES = (
    Table("songs", "msd", "songs.jsonl.gz", key=("track_id",), owned=True),
    Table("artists", "msd", "artists.jsonl.gz", key=("artist_id",), replace_by="artist_id"),
    # An artist's terms, tags and similar artists are replaced as a whole, for every artist the partition met.
    Table("artist_terms", "msd", "artist_terms.jsonl.gz", key=("artist_id", "term"), replace_by="artist_id",
          replace_from="artists"),
    Table("artist_mbtags", "msd", "artist_mbtags.jsonl.gz", key=("artist_id", "mbtag"), replace_by="artist_id",
          replace_from="artists"),
    Table("similar_artists", "msd", "similar_artists.jsonl.gz", key=("artist_id", "similar_artist_id"),
          replace_by="artist_id", replace_from="artists"),
    Table("spotify_matches", "spotify", "matches.jsonl.gz", key=("track_id",), owned=True),
    Table("spotify_tracks", "spotify", "tracks.jsonl.gz", key=("spotify_track_id",), replace_by="spotify_track_id"),
    Table("spotify_artists", "spotify", "artists.jsonl.gz", key=("spotify_artist_id",), replace_by="spotify_artist_id"),
    Table("spotify_audio_features", "spotify", "audio_features.jsonl.gz", key=("spotify_track_id",),
          replace_by="spotify_track_id"),
    Table("deezer_matches", "deezer", "matches.jsonl.gz", key=("track_id",), owned=True),
    Table("deezer_tracks", "deezer", "tracks.jsonl.gz", key=("deezer_track_id",), replace_by="deezer_track_id"),
    Table("deezer_artists", "deezer", "artists.jsonl.gz", key=("deezer_artist_id",), replace_by="deezer_artist_id"),
    Table("deezer_albums", "deezer", "albums.jsonl.gz", key=("deezer_album_id",), replace_by="deezer_album_id"),
)
TABLE_BY_NAME = {t.name: t for t in TABLES}
# Written by the daily refresh (pipeline/warehouse/snapshots.py), a date and a source at a time, from
# <staging root>/refresh/<source>/<date>/A/B/.
SNAPSHOT_TABLES = (
    Table("track_popularity_daily", "refresh", "tracks.jsonl.gz",
          key=("snapshot_date", "source", "source_track_id", "msd_track_id")),
    Table("artist_popularity_daily", "refresh", "artists.jsonl.gz", key=("snapshot_date", "source", "source_artist_id")),
)
# Kept by SQL over the match tables and the snapshots, by partition loads and snapshot loads alike.
HISTORY_TABLES = {"spotify": "spotify_match_history", "deezer": "deezer_match_history"}


def row_order(name: str) -> tuple[str, ...]:
    """The columns that put a table's (or the view's) rows in a stable order: its key."""
    for table in (*TABLES, *SNAPSHOT_TABLES):
        if table.name == name:
            return table.key
    return ("track_id", "valid_from") if name in HISTORY_TABLES.values() else ("track_id",)


# Every table researchers read (exports, locks): the partition loads', the snapshots' and the histories.
ANALYTICS_TABLES = (*(t.name for t in TABLES), *(t.name for t in SNAPSHOT_TABLES), *HISTORY_TABLES.values())
MARKER_TABLE = "etl_load_markers"
VIEW = "enriched_songs"


@functools.cache
def source() -> str:
    with open(SCHEMA_FILE, encoding="utf-8") as fh:
        return fh.read()


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


@functools.cache
def table_columns() -> dict[str, list[Column]]:
    tables = {}
    for name, body in _CREATE.findall(source()):
        columns = []
        for line in body.strip().splitlines():
            match = _COLUMN.match(line)
            if not match:
                raise ValueError(f"sql/schema.sql, table {name}: cannot read column line `{line.strip()}`")
            columns.append(Column(match.group(1), match.group(2), line.rstrip(",").endswith("NOT NULL")))
        tables[name] = columns
    return tables


def column_type(column: Column, dialect: str) -> str:
    return JSON_TYPE[dialect] if column.is_json else column.type
