"""A song's AcousticBrainz features: the submissions of its recording in the dumps' indexes, aggregated.

A song MusicBrainz resolved has two ids: the recording found (an Echo Nest profile may name one merged since) and
the one MusicBrainz uses now (``canonical_recording_mbid``). A submitter's tagger wrote whichever it knew, so the
song's submissions are those tagged with either; every other MBID of the dumps is left out. Over them, with DuckDB:

* ``bpm``: the median of the submissions' ``bpm`` (a file analysed at double or half tempo is outvoted when others
  agree); ``bpm_spread``: the largest minus the smallest (0 for one submission; near ``bpm`` when files disagree
  by an octave);
* ``danceability``, ``onset_rate``, ``tuning_frequency``: medians;
* ``key_name``/``key_scale``: the most frequent (key, scale) pair of the submissions that have one, ties to the
  first by name; ``key_share``: the share of those submissions that give it; ``key`` (0 = C … 11 = B) and ``mode``
  (1 major, 0 minor) as MSD counts them;
* ``submissions``: distinct submissions (MBID, ``submission_offset``) in either dump.

Medians over no value (a feature every submission lacked) are null.

The songs go into a DuckDB file beside the indexes a batch at a time (a partition's identities), the features are
computed for all of them at once, and each partition's rows come back in turn: Python never holds more than a
partition, and DuckDB spills to that file beyond its memory limit, so a command of the whole MSD (a million songs)
fits the same memory as one of fifteen.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import Iterable, Iterator

logger = logging.getLogger(__name__)

MATCHED, NOT_FOUND, NO_RECORDING = "matched", "not_found", "no_recording"
STATUSES = (MATCHED, NOT_FOUND, NO_RECORDING)
PITCH_CLASS = {"C": 0, "B#": 0, "C#": 1, "Db": 1, "D": 2, "D#": 3, "Eb": 3, "E": 4, "Fb": 4, "F": 5, "E#": 5, "F#": 6,
               "Gb": 6, "G": 7, "G#": 8, "Ab": 8, "A": 9, "A#": 10, "Bb": 10, "B": 11, "Cb": 11}
MODE = {"major": 1, "minor": 0}
FEATURE_FIELDS = ("submissions", "bpm", "bpm_spread", "danceability", "onset_rate", "key_name", "key_scale", "key",
                  "mode", "key_share", "tuning_frequency")
_UUID_SQL = "'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'"
_IDENTITY = ("track_id", "msd_partition", "status", "recording_mbid", "canonical_recording_mbid")


def _valid(column: str) -> str:
    """SQL: the column as an MBID the dumps would write (lower-case, hyphenated), or NULL when it is not one."""
    return f"CASE WHEN regexp_matches(lower({column}), {_UUID_SQL}) THEN lower({column}) END"


def _median(table: str, column: str) -> str:
    """SQL: each song's median of a column, exactly (the mean of the middle one or two values), by a window over
    the song's values in order: DuckDB's ``median`` keeps every group's values in memory, which a million songs'
    do not fit in 512 MB; a window sorts, and spills when it must."""
    return (f"SELECT track_id, avg({column}) AS {column} FROM (SELECT track_id, {column}, row_number() OVER "
            f"(PARTITION BY track_id ORDER BY {column}) AS i, count(*) OVER (PARTITION BY track_id) AS n FROM {table} "
            f"WHERE {column} IS NOT NULL) WHERE i IN ((n + 1) // 2, (n + 2) // 2) GROUP BY track_id")


_STEPS = (
    # A resolved song's ids: the recording found and the canonical one, each when it is an MBID.
    ("song_keys", f"""SELECT DISTINCT track_id, CAST(mbid AS UUID) AS mbid FROM (
        SELECT track_id, {_valid("recording_mbid")} AS mbid FROM songs WHERE status = 'matched'
        UNION ALL SELECT track_id, {_valid("canonical_recording_mbid")} FROM songs WHERE status = 'matched')
        WHERE mbid IS NOT NULL"""),
    ("r", "SELECT k.track_id, d.mbid, d.submission_offset, d.bpm::DOUBLE AS bpm, d.danceability::DOUBLE AS "
          "danceability, d.onset_rate::DOUBLE AS onset_rate FROM {rhythm} d JOIN song_keys k ON k.mbid = d.mbid"),
    ("t", "SELECT k.track_id, d.mbid, d.submission_offset, d.key_key, d.key_scale, d.tuning_frequency::DOUBLE AS "
          "tuning_frequency FROM {tonal} d JOIN song_keys k ON k.mbid = d.mbid"),
    ("submitted", "SELECT track_id, mbid, submission_offset FROM r UNION SELECT track_id, mbid, submission_offset FROM t"),
    # At most two ids a song: the distinct ones are its least and its greatest (no list to hold per group).
    ("counted", "SELECT track_id, count(*) AS submissions, CAST(min(mbid) AS VARCHAR) AS first_mbid, "
                "CAST(max(mbid) AS VARCHAR) AS last_mbid FROM submitted GROUP BY track_id"),
    ("spread", "SELECT track_id, max(bpm) - min(bpm) AS bpm_spread FROM r GROUP BY track_id"),
    ("bpm", _median("r", "bpm")),
    ("danceability", _median("r", "danceability")),
    ("onset_rate", _median("r", "onset_rate")),
    ("tuning_frequency", _median("t", "tuning_frequency")),
    ("keys", "SELECT track_id, key_key, key_scale, count(*) AS n FROM t WHERE key_key IS NOT NULL AND key_scale IS NOT "
             "NULL GROUP BY track_id, key_key, key_scale"),
    ("ranked", "SELECT track_id, key_key, key_scale, n, sum(n) OVER (PARTITION BY track_id) AS keyed, row_number() OVER "
               "(PARTITION BY track_id ORDER BY n DESC, key_key, key_scale) AS rank FROM keys"),
    # Every song, found or not: each aggregate a table of its own first, then one join (DuckDB plans the one
    # statement of them all several times slower).
    ("features", f"""SELECT s.track_id, s.msd_partition,
            CASE WHEN c.track_id IS NOT NULL THEN 'matched' WHEN hk.track_id IS NOT NULL THEN 'not_found'
                 ELSE 'no_recording' END AS status,
            CASE WHEN hk.track_id IS NOT NULL THEN coalesce({_valid("s.canonical_recording_mbid")},
                                                            {_valid("s.recording_mbid")}) END AS recording_mbid,
            CASE WHEN c.track_id IS NULL THEN NULL WHEN c.first_mbid = c.last_mbid THEN [c.first_mbid]
                 ELSE [c.first_mbid, c.last_mbid] END AS submission_mbids,
            c.submissions, b.bpm, sp.bpm_spread, d.danceability, o.onset_rate, k.key_key AS key_name, k.key_scale,
            k.n / k.keyed AS key_share, tf.tuning_frequency
        FROM songs s
        LEFT JOIN (SELECT DISTINCT track_id FROM song_keys) hk ON hk.track_id = s.track_id
        LEFT JOIN counted c ON c.track_id = s.track_id
        LEFT JOIN spread sp ON sp.track_id = s.track_id
        LEFT JOIN bpm b ON b.track_id = s.track_id
        LEFT JOIN danceability d ON d.track_id = s.track_id
        LEFT JOIN onset_rate o ON o.track_id = s.track_id
        LEFT JOIN (SELECT * FROM ranked WHERE rank = 1) k ON k.track_id = s.track_id
        LEFT JOIN tuning_frequency tf ON tf.track_id = s.track_id"""),
)
_NO_RHYTHM = ("(SELECT NULL::UUID AS mbid, NULL::INTEGER AS submission_offset, NULL::FLOAT AS bpm, NULL::FLOAT AS "
              "danceability, NULL::FLOAT AS onset_rate WHERE false)")
_NO_TONAL = ("(SELECT NULL::UUID AS mbid, NULL::INTEGER AS submission_offset, NULL::VARCHAR AS key_key, NULL::VARCHAR "
             "AS key_scale, NULL::FLOAT AS tuning_frequency WHERE false)")


def _quoted(path: str) -> str:
    return "'" + path.replace("'", "''") + "'"


def joined(batches: Iterable[list[dict]], rhythm: str | None, tonal: str | None, memory_limit: str = "512MB",
           work_dir: str | None = None) -> Iterator[tuple[str, list[dict]]]:
    """(partition, one row per song of it) for every song of ``batches`` (lists of MusicBrainz identity rows:
    ``track_id``, ``msd_partition``, ``status``, ``recording_mbid``, ``canonical_recording_mbid``), partitions in
    order, songs by ``track_id``: its status and, when found, its features. ``rhythm``/``tonal``: the indexes'
    Parquet files (None: that dump is not configured). ``work_dir``: where DuckDB's file goes (and spills)."""
    import duckdb
    import pyarrow as pa

    database = (os.path.join(work_dir, f"join-{os.getpid()}-{uuid.uuid4().hex[:8]}.duckdb") if work_dir else ":memory:")
    if work_dir:
        os.makedirs(work_dir, exist_ok=True)
    con = duckdb.connect(database)
    try:
        con.execute(f"SET memory_limit = '{memory_limit}'")
        con.execute("SET preserve_insertion_order = false")
        con.execute(f"CREATE TABLE songs ({', '.join(f'{c} VARCHAR' for c in _IDENTITY)})")
        for batch in batches:
            if batch:
                con.register("batch", pa.table({c: [row.get(c) for row in batch] for c in _IDENTITY},
                                                schema=pa.schema([(c, pa.string()) for c in _IDENTITY])))
                con.execute("INSERT INTO songs SELECT * FROM batch")
                con.unregister("batch")
        sources = {"rhythm": f"read_parquet({_quoted(rhythm)})" if rhythm else _NO_RHYTHM,
                   "tonal": f"read_parquet({_quoted(tonal)})" if tonal else _NO_TONAL}
        for name, sql in _STEPS:  # placeholders by replace: the SQL's regular expression has braces of its own
            con.execute(f"CREATE TABLE {name} AS " + sql.replace("{rhythm}", sources["rhythm"])
                        .replace("{tonal}", sources["tonal"]))
        partitions = [p for p, in con.execute("SELECT DISTINCT msd_partition FROM features ORDER BY 1").fetchall()]
        for partition in partitions:
            cursor = con.execute("SELECT * FROM features WHERE msd_partition = ? ORDER BY track_id", [partition])
            names = [d[0] for d in cursor.description]
            yield partition, [_row(dict(zip(names, values, strict=True))) for values in cursor.fetchall()]
    finally:
        con.close()
        if work_dir:
            for suffix in ("", ".wal"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(database + suffix)


def _row(row: dict) -> dict:
    """A features row as staged: measures rounded, key and mode as MSD counts them."""
    for name in ("bpm", "bpm_spread", "danceability", "onset_rate", "key_share", "tuning_frequency"):
        row[name] = _round(row[name])
    row["key"] = PITCH_CLASS.get(row["key_name"]) if row["key_name"] else None
    row["mode"] = MODE.get(row["key_scale"]) if row["key_scale"] else None
    return row


def _round(value: float | None) -> float | None:
    """Six decimals: the dumps' float32 measures carry no more."""
    return None if value is None else round(float(value), 6)


def song_features(identities: list[dict], rhythm: str | None, tonal: str | None, **options) -> dict[str, dict]:
    """track_id → its row, for a list of identities in one go (``joined`` for one batch)."""
    return {row["track_id"]: row for _, rows in joined([identities], rhythm, tonal, **options) for row in rows}
