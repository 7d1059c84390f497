"""The crosswalk: ``song_ids``, one row per MSD track with every id the sources that match songs give it.

Each source declares the ids it gives (``Source.crosswalk_ids``: the crosswalk's column and the SQL that reads it
from its match table); this module turns the declarations into the view's SELECT, naming no source itself. Per id
the view has four columns:

* ``<id>``: the id, from the first source in pipeline order whose match gives one (an ISRC from the first source
  that found the song with an ISRC);
* ``<id>_status``, ``<id>_score``: the status and score of that source's match; when no source gives the id, those
  of the first source that looked for the song (``not_found``, ``ambiguous``, … or ``matched`` to a track that has
  no such id);
* ``<id>_source``: the source the status and score are of; null when no source looked (none enabled, or the song's
  partition not enriched by one).

The MSD's own columns come first: ``msd_track_id``, ``msd_song_id``, ``msd_partition``. The same SELECT over a
subset of the sources (the republishable ones) is what ``export --open-only`` writes.
"""

from __future__ import annotations

from collections.abc import Iterable

NAME = "song_ids"
MSD_COLUMNS = (("msd_track_id", "s.track_id"), ("msd_song_id", "s.song_id"), ("msd_partition", "s.msd_partition"))
SUFFIXES = ("status", "score", "source")
KEY = ("msd_track_id",)


def contributions(sources: Iterable) -> dict[str, list[tuple[object, object]]]:
    """Crosswalk column → [(source, its CrosswalkId)], columns in the order first declared, sources in pipeline order."""
    out: dict[str, list[tuple[object, object]]] = {}
    msd = {name for name, _ in MSD_COLUMNS}
    for source in sources:
        if source.crosswalk_ids and not source.matches:
            raise ValueError(f"source {source.name} declares crosswalk ids but matches no songs (Source.matches): the "
                             f"crosswalk takes each id's status and score from the source's match table")
        for declared in source.crosswalk_ids:
            if declared.column in msd or declared.column.endswith(tuple(f"_{s}" for s in SUFFIXES)):
                raise ValueError(f"source {source.name}: crosswalk id `{declared.column}` clashes with the crosswalk's "
                                 f"own columns; name it for what it is (e.g. `{source.name}_track_id`)")
            out.setdefault(declared.column, []).append((source, declared))
    return out


def column_names(sources: Iterable) -> list[str]:
    """The view's columns, in order."""
    names = [name for name, _ in MSD_COLUMNS]
    for column in contributions(sources):
        names += [column, *(f"{column}_{suffix}" for suffix in SUFFIXES)]
    return names


def column_sources(sources: Iterable) -> dict[str, list]:
    """Each id column (and its status, score and source columns) → the sources that may fill it."""
    out = {}
    for column, given in contributions(sources).items():
        for name in (column, *(f"{column}_{suffix}" for suffix in SUFFIXES)):
            out[name] = [source for source, _ in given]
    return out


def _alias(source) -> str:
    return f"x_{source.name}"


def select_sql(sources: Iterable) -> str:
    """The crosswalk's SELECT over ``songs s`` and the match tables of ``sources`` that declare ids."""
    sources = list(sources)
    given = contributions(sources)
    contributing = [s for s in sources if s.crosswalk_ids]
    columns = [f"{expression} AS {name}" if not expression.endswith(f".{name}") else expression
               for name, expression in MSD_COLUMNS]
    for column, pairs in given.items():
        aliases = [(_alias(source), source.name) for source, _ in pairs]
        if len(aliases) == 1:
            (a, name), = aliases
            columns += [f"{a}.{column}", f"{a}.status AS {column}_status", f"{a}.score AS {column}_score",
                        f"CASE WHEN {a}.status IS NOT NULL THEN '{name}' END AS {column}_source"]
            continue
        # The first source that gives the id; else the first that looked for the song.
        whens = [(f"{a}.{column} IS NOT NULL", a, name) for a, name in aliases]
        whens += [(f"{a}.status IS NOT NULL", a, name) for a, name in aliases]
        status, score, source = (" ".join(f"WHEN {condition} THEN {pick(a, name)}" for condition, a, name in whens)
                                 for pick in (lambda a, _: f"{a}.status", lambda a, _: f"{a}.score",
                                              lambda _, name: f"'{name}'"))
        columns += [f"COALESCE({', '.join(f'{a}.{column}' for a, _ in aliases)}) AS {column}",
                    f"CASE {status} END AS {column}_status", f"CASE {score} END AS {column}_score",
                    f"CASE {source} END AS {column}_source"]
    joins = []
    for source in contributing:
        values = ", ".join(f"{d.value} AS {d.column}" for d in source.crosswalk_ids)
        inner = " ".join(dict.fromkeys(d.joins.strip() for d in source.crosswalk_ids if d.joins.strip()))
        joins.append(f"LEFT JOIN (SELECT m.track_id, m.status, m.score, {values} FROM {source.match_table} m"
                     f"{' ' + inner if inner else ''}) {_alias(source)} ON {_alias(source)}.track_id = s.track_id")
    return "SELECT\n    " + ",\n    ".join(columns) + "\nFROM songs s" + "".join(f"\n{j}" for j in joins)
