"""Whose facts each warehouse column holds, under which licence or terms, and what may be republished.

Nothing here is written per column: a column belongs to the owner of its table, so a new table or view column
gets its source and licence without an edit here.

* The MSD's tables (``songs``, ``artists``, …) are the MSD's (``pipeline/msd/terms.py``).
* A source's tables and its match history are the source's (or the terms it gives one of them,
  ``Source.table_terms``).
* Each ``enriched_songs`` column is the MSD's or the source's whose view.sql gives it.
* Each id of ``song_ids`` (and its status, score and source columns) is the sources' that may give it; its MSD ids
  are the MSD's.
* The daily snapshots hold rows of several sources: each row is the source's its ``source`` column names.
* ``etl_load_markers`` is the pipeline's own bookkeeping.

``export --open-only`` keeps what every owner lets a researcher republish (``Source.republishable``), and the MSD's
join keys (``MSD.join_keys``: why, in pipeline/msd/terms.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.msd.terms import MSD
from pipeline.sources import registry
from pipeline.warehouse import crosswalk, schema


@dataclass(frozen=True)
class Origin:
    """Where facts come from and what their licence or terms allow."""

    name: str
    title: str
    data_licence: str  # an SPDX id, or "" when only the terms apply
    licence_url: str
    terms: str
    republishable: bool

    @property
    def licence(self) -> str:
        """The SPDX id, or what applies instead."""
        if self.data_licence:
            return self.data_licence
        return "none needed: no third party's facts" if self.name == PIPELINE.name else "no open licence: its terms"

    def label(self) -> str:
        """``MusicBrainz (CC0-1.0)``, ``Spotify (no open licence: its terms)``."""
        return f"{self.title} ({self.licence})"


PIPELINE = Origin("pipeline", "Music ETL", "", "", "The pipeline's own bookkeeping (load ids, times, row counts): no "
                                                    "third party's facts.", True)


def origin(declared, table: str | None = None) -> Origin:
    """A source's (or the MSD's) declaration as an Origin; for ``table``, the terms the source gives it."""
    terms = declared.table_terms(table) if table is not None and hasattr(declared, "table_terms") else None
    if terms is not None:
        return Origin(declared.name, declared.title, terms.data_licence, terms.licence_url, terms.terms,
                      terms.republishable)
    return Origin(declared.name, declared.title, declared.data_licence, declared.licence_url, declared.terms,
                  declared.republishable)


def msd() -> Origin:
    return origin(MSD)


def origins() -> list[Origin]:
    """The MSD, then every registered source, in pipeline order."""
    return [origin(MSD), *(origin(s) for s in registry.registered())]


def _table_sources() -> dict[str, object]:
    out = {}
    for source in registry.registered():
        for table in source.tables:
            out[table.name] = source
        if source.history_table:
            out[source.history_table] = source
    return out


def rows_by_source(table: str) -> bool:
    """A table whose rows are of several sources, each its ``source`` column's (the daily snapshots)."""
    return table in {t.name for t in schema.SNAPSHOT_TABLES}


def snapshot_sources() -> list:
    """The sources whose rows the snapshot tables may hold: those that take part in the daily refresh."""
    return [s for s in registry.registered() if s.refreshes]


def column_owners(table: str, columns: list[str]) -> dict[str, tuple[Origin, ...]]:
    """Each column of ``table`` (a table or one of the views) → the origins of its facts."""
    msd_only = (msd(),)
    if table == schema.VIEW:
        by_name = {s.name: s for s in registry.registered()}
        sources = schema.view_column_sources()
        return {c: msd_only if sources.get(c, "songs") == "songs" else (origin(by_name[sources[c]]),) for c in columns}
    if table == schema.CROSSWALK:
        given = crosswalk.column_sources(registry.registered())
        return {c: tuple(origin(s) for s in given[c]) if c in given else msd_only for c in columns}
    if rows_by_source(table):
        return {c: tuple(origin(s) for s in snapshot_sources()) for c in columns}
    if table == schema.MARKER_TABLE:
        return {c: (PIPELINE,) for c in columns}
    if table in {t.name for t in schema.MSD_TABLES}:
        return {c: msd_only for c in columns}
    owner = _table_sources().get(table)
    if owner is None:
        raise KeyError(f"no source or MSD table owns `{table}`: declare it in a source's tables (pipeline/sources/"
                       f"<name>/source.py) or in pipeline/warehouse/schema.py")
    return {c: (origin(owner, table),) for c in columns}


def is_open(owners: tuple[Origin, ...], column: str) -> bool:
    """Whether ``export --open-only`` may write a column: every owner lets it be republished, or it is one of the
    MSD's join keys."""
    if all(o.republishable for o in owners):
        return True
    return owners == (msd(),) and column in MSD.join_keys


def describe(owners: tuple[Origin, ...], table: str) -> str:
    """A column's source and licence as the dictionary and the export's README write it."""
    text = "; ".join(o.label() for o in owners)
    return f"each row its `source`'s: {text}" if rows_by_source(table) else text
