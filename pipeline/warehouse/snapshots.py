"""Dated snapshots and match histories in the warehouse.

* ``load_snapshot``: one source's rows of one date, from the partitions' staged refresh files,
  in one transaction: that date's rows of that source are replaced, no other date is touched.
* ``record_match_changes``: the match histories (``<source>_match_history``,
  SCD type 2). A track's state is its current decision (the match table) and its latest
  availability (the latest snapshot); where it differs from the open history row, that row is
  closed and a new one opened. Partition loads and snapshot loads both call it, inside their own
  transactions, so a history never disagrees with the tables it follows.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from pipeline.warehouse.backends import Backend, literal
from pipeline.warehouse.schema import SNAPSHOT_TABLES, Table, history_tables

SNAPSHOT_STEP_VERSION = 1
INSERT_ROWS = 500  # rows per INSERT … VALUES of the history (a partition holds ~1,500 tracks)


def snapshot_load_id(source: str, day: str, manifest_ids: list[str]) -> str:
    digest = hashlib.sha1("|".join([source, day, *manifest_ids, f"s{SNAPSHOT_STEP_VERSION}"]).encode()).hexdigest()
    return f"{source}-{day}-{digest[:12]}"


def insert_staged(backend: Backend, table: Table, path: str, load_id: str) -> None:
    """A staged file's rows into ``table``, each stamped with ``load_id``."""
    if backend.loads_directly:
        backend.load_direct(table, path, load_id)
        return
    if backend.temp_tables_outlive_transactions:
        backend.execute(f"DROP TABLE IF EXISTS stage_{table.name}")
    backend.execute(backend.create_stage_sql(table))
    backend.fill_stage(table, path)
    names = ", ".join(c.name for c in table.columns() if c.name != "load_id")
    backend.execute(f"INSERT INTO {table.name} ({names}, load_id) SELECT {names}, {literal(load_id)} FROM stage_{table.name}")
    backend.execute(f"DROP TABLE stage_{table.name}")


def load_snapshot(backend: Backend, source: str, day: str, folders: dict[str, str], load_id: str, at: datetime) -> dict:
    """Replace ``source``'s snapshot of ``day`` with the staged partitions (``folders``: partition →
    its staged refresh folder); call it in a transaction. Returns the rows now held per table."""
    counts = {}
    for table in SNAPSHOT_TABLES:
        backend.execute(f"DELETE FROM {table.name} WHERE snapshot_date = DATE {literal(day)} AND source = {literal(source)}")
        for folder in folders.values():
            insert_staged(backend, table, f"{folder}/{table.file}", load_id)
        counts[table.name] = backend.scalar(f"SELECT count(*) FROM {table.name} WHERE snapshot_date = DATE {literal(day)} "
                                            f"AND source = {literal(source)}")
    counts["history_changes"] = record_match_changes(backend, source, sorted(folders), load_id, at)
    return counts


def _current_states(backend: Backend, source: str, where: str) -> dict[str, tuple]:
    """track_id → (partition, status, source track id, availability, relinked_to): the decision and the
    latest snapshot of the matched id."""
    rows = backend.query(
        f"SELECT m.track_id, m.msd_partition, m.status, m.{source}_track_id, s.availability, s.relinked_to "
        f"FROM {source}_matches m LEFT JOIN (SELECT source_track_id, availability, relinked_to, "
        f"row_number() OVER (PARTITION BY source_track_id ORDER BY snapshot_date DESC) AS latest "
        f"FROM track_popularity_daily WHERE source = {literal(source)} AND {where}) s "
        f"ON s.source_track_id = m.{source}_track_id AND s.latest = 1 WHERE m.{where}")
    return {r[0]: tuple(r[1:]) for r in rows}


def _reason(before: tuple | None, now: tuple) -> str:
    if before is None:
        return "first_seen"
    if before[1:3] != now[1:3]:
        return "rematched"
    return now[3] or "available"


def record_match_changes(backend: Backend, source: str, partitions: list[str], load_id: str, at: datetime) -> int:
    """Bring ``source``'s match history of ``partitions`` in step with its match table and latest
    snapshots, stamping changes with ``at``; returns how many rows were opened or closed."""
    if not partitions or source not in history_tables():
        return 0
    history = history_tables()[source]
    where = f"msd_partition IN ({', '.join(literal(p) for p in partitions)})"
    now = _current_states(backend, source, where)
    open_rows = {r[0]: tuple(r[1:]) for r in backend.query(
        f"SELECT track_id, msd_partition, status, {source}_track_id, availability, relinked_to FROM {history} "
        f"WHERE {where} AND valid_to IS NULL")}
    changed = [t for t, state in now.items() if open_rows.get(t) != state]
    gone_from_msd = [t for t in open_rows if t not in now]  # its MSD file was removed: closed, nothing opened
    stamp = literal(at.strftime("%Y-%m-%d %H:%M:%S"))
    closing = [t for t in changed if t in open_rows] + gone_from_msd
    for i in range(0, len(closing), INSERT_ROWS):
        ids = ", ".join(literal(t) for t in closing[i:i + INSERT_ROWS])
        backend.execute(f"UPDATE {history} SET valid_to = TIMESTAMP {stamp} WHERE valid_to IS NULL AND track_id IN ({ids})")
    for i in range(0, len(changed), INSERT_ROWS):
        values = ", ".join(
            "(" + ", ".join([literal(t), *(_value(v) for v in now[t]), literal(_reason(open_rows.get(t), now[t])),
                             f"TIMESTAMP {stamp}", "NULL", literal(load_id)]) + ")"
            for t in changed[i:i + INSERT_ROWS])
        backend.execute(f"INSERT INTO {history} (track_id, msd_partition, status, {source}_track_id, availability, "
                        f"relinked_to, change_reason, valid_from, valid_to, load_id) VALUES {values}")
    return len(closing) + len(changed)


def _value(v) -> str:
    return "NULL" if v is None else literal(v)
