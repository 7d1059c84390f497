"""A day's refresh plan: which matched tracks each source refreshes that day, within its budget.

Every matched source track is due; they are taken never-snapshotted first (no snapshot on any date,
whatever order the days are run in: a backfilled day before an existing one takes the tracks no day
holds, not the ones the later day refreshed), then by their latest snapshot, oldest first, then by id
(the same order on every run); each costs what its requests cost,
as its source says (``Source.track_cost``, ``artist_cost``: a lead artist is asked once a day, and
only where the source shows something about artists worth a request).

With N tracks due and a budget of B tracks a day, no track's snapshot gets older than ⌈N/B⌉ days.
A plan is made once per date and kept (``<staging root>/refresh/plans/<date>.json``): a day resumed
after a quota stop completes exactly that plan, and asks nothing it was already answered.
"""

from __future__ import annotations

import math
from datetime import date

from pipeline.sources.base import Source
from pipeline.warehouse.backends import Backend, literal

PLAN_VERSION = 1


def matched_tracks(backend: Backend, source: Source, day: date | None) -> list[tuple]:
    """(msd track, partition, source track, lead artist, latest snapshot) of every match the warehouse holds for
    ``source``: the latest snapshot on any date but ``day`` itself (a day's plan is made before its own rows
    exist, and remade only if its plan is lost), on any date at all when ``day`` is None; None for a track no
    such date holds. The dates as ``date`` whatever the driver returns."""
    column = source.track_id_column
    rows = backend.query(
        f"SELECT m.track_id, m.msd_partition, m.{column}, t.primary_artist_id, last.snapshot_date "
        f"FROM {source.match_table} m JOIN {source.track_table} t ON t.{column} = m.{column} "
        f"LEFT JOIN (SELECT source_track_id, max(snapshot_date) AS snapshot_date FROM track_popularity_daily "
        f"WHERE source = {literal(source.name)}{_other_days(day)} "
        f"GROUP BY source_track_id) last ON last.source_track_id = m.{column} "
        f"WHERE m.status = 'matched' ORDER BY m.track_id")
    return [(*r[:4], None if r[4] is None else _as_date(r[4])) for r in rows]


def last_snapshots(backend: Backend, source: str, day: date | None) -> dict[str, date]:
    """Source track id → its latest snapshot on any date but ``day`` (any date at all when None)."""
    rows = backend.query(f"SELECT source_track_id, max(snapshot_date) FROM track_popularity_daily WHERE source = "
                         f"{literal(source)}{_other_days(day)} GROUP BY 1")
    return {r[0]: _as_date(r[1]) for r in rows}


def _other_days(day: date | None) -> str:
    return "" if day is None else f" AND snapshot_date <> DATE {literal(day.isoformat())}"


def plan_source(rows: list[tuple], day: date, budget: int, track_cost: float, artist_cost: float | None) -> dict:
    """The day's plan of one source from ``matched_tracks`` rows. ``artist_cost`` None: artists are not read."""
    tracks: dict[str, dict] = {}
    # A row without a source track is an artist to refresh alone (a song whose recording is unknown, whose artist is).
    artist_only = sorted({(partition, artist_id) for _, partition, track_id, artist_id, _ in rows
                          if track_id is None and artist_id})
    for msd_track, partition, track_id, artist_id, last in rows:
        if track_id is None:
            continue
        entry = tracks.setdefault(track_id, {"msd": [], "artist": artist_id, "last": last})
        entry["msd"].append([msd_track, partition])
    due = sorted(tracks.items(), key=lambda kv: (kv[1]["last"] is not None, kv[1]["last"] or day, kv[0]))
    spent, artists = 0.0, set()
    partitions: dict[str, dict] = {}
    planned = 0
    for track_id, entry in due:
        cost = track_cost
        new_artist = artist_cost is not None and entry["artist"] and entry["artist"] not in artists
        if new_artist:
            cost += artist_cost
        if math.ceil(spent + cost - 1e-9) > budget:
            break
        spent += cost
        planned += 1
        # A source track belongs to the partition of its first MSD track; its other MSD tracks come along.
        partition = min(p for _, p in entry["msd"])
        part = partitions.setdefault(partition, {"tracks": [], "artists": []})
        part["tracks"].append([track_id, entry["msd"]])
        if new_artist:
            artists.add(entry["artist"])
            part["artists"].append(entry["artist"])
    for partition, artist_id in artist_only if artist_cost is not None and planned == len(tracks) else ():
        if artist_id in artists:
            continue
        if math.ceil(spent + artist_cost - 1e-9) > budget:
            break
        spent += artist_cost
        artists.add(artist_id)
        partitions.setdefault(partition, {"tracks": [], "artists": []})["artists"].append(artist_id)
    # A backfilled day may have later snapshots; how old a track's snapshot was on the day counts earlier ones only.
    ages = [(day - e["last"]).days for e in tracks.values() if e["last"] is not None and e["last"] < day]
    return {"budget": budget, "requests_planned": math.ceil(spent - 1e-9), "tracks_due": len(tracks),
            "tracks_planned": planned, "artists_planned": len(artists),
            "never_snapshotted": sum(1 for e in tracks.values() if e["last"] is None),
            "oldest_snapshot_age_days_before": max(ages) if ages else None,
            "partitions": dict(sorted(partitions.items()))}


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
