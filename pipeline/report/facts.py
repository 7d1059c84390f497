"""What the run report shows, read with SQL every backend runs (DuckDB, PostgreSQL, Redshift) and
from the staging root (requests spent, quota, capabilities).

Each section is gathered on its own and says why when it cannot be shown (no tables yet, no
Deezer data, no snapshots, staging not readable), so an empty or partial warehouse still gets a
report. The SQL sticks to what the three dialects share: CASE, integer bins by ``floor``,
``log`` (base 10 in all three), ``%``; lists stored as JSON are counted in Python.
"""

from __future__ import annotations

import json
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pipeline import answers, config, staging
from pipeline.warehouse.backends import Backend
from pipeline.warehouse.target import tables_present_sql

logger = logging.getLogger(__name__)

SCORE_BINS = 20  # match scores 0..1 in bins of 0.05
RANK_BIN = 50_000  # Deezer rank (0 to about 1M) in bins of 50k
SNAPSHOT_TABLE = "track_popularity_daily"
SOURCES = ("spotify", "deezer")
SPOTIFY_CAPABILITIES = ("tracks_batch", "artists_batch", "audio_features", "artist_details")
DEEZER_CAPABILITIES = ("track_isrc",)


@dataclass
class Section:
    """One part of the report: its facts, or why it has none."""

    available: bool = True
    why: str = ""
    facts: dict = field(default_factory=dict)

    @classmethod
    def missing(cls, why: str) -> Section:
        return cls(available=False, why=why)


def _matched(alias: str) -> str:
    return f"sum(CASE WHEN {alias}.status = 'matched' THEN 1 ELSE 0 END)"


def _present_tables(backend: Backend) -> set[str]:
    names = ["songs", "spotify_matches", "spotify_tracks", "deezer_matches", "deezer_tracks", "deezer_artists",
             "deezer_albums", "etl_load_markers", SNAPSHOT_TABLE]
    return {r[0] for r in backend.query(tables_present_sql(backend.dialect, names))}


def gather(backend: Backend, progress=None) -> dict[str, Section]:
    """Every section's facts: overview, coverage, scores, agreement, popularity, snapshots, spend,
    capabilities. ``progress(name)`` is called as each section is done."""
    tables = _present_tables(backend)
    empty = "songs" not in tables or not backend.scalar("SELECT count(*) FROM songs")
    why = ("the warehouse has no songs yet: run `python -m pipeline run` (or `make demo`) first"
           if empty else "")
    deezer = not empty and "deezer_matches" in tables and bool(backend.scalar("SELECT count(*) FROM deezer_matches"))
    no_deezer = "no Deezer matches are loaded ([sources] enabled leaves Deezer out, or its enrichment has not run)"
    steps = {
        "overview": lambda: Section.missing(why) if empty else _overview(backend, deezer),
        "coverage": lambda: Section.missing(why) if empty else _coverage(backend, deezer),
        "scores": lambda: Section.missing(why) if empty else _scores(backend, deezer),
        "agreement": lambda: Section.missing(why or no_deezer) if not deezer else _agreement(backend),
        "popularity": lambda: Section.missing(why or no_deezer) if not deezer else _popularity(backend),
        "snapshots": lambda: _snapshots(backend, tables),
        "spend": lambda: _guarded("requests and quota", lambda: _spend(sections["overview"].facts)),
        "capabilities": lambda: _guarded("capabilities", _capabilities),
    }
    sections: dict[str, Section] = {}
    for name, step in steps.items():
        sections[name] = step()
        if progress:
            progress(name)
    return sections


def _guarded(what: str, gather_section) -> Section:
    """Staging-side sections: an unreadable staging root (an analyst without S3 access) is said, not fatal."""
    try:
        return gather_section()
    except Exception as exc:  # S3 errors, missing folders, permissions alike
        logger.warning("report: %s not readable from %s: %s", what, staging.root(), exc)
        return Section.missing(f"the staging root {staging.root()} could not be read: {str(exc).splitlines()[0]}")


def _overview(backend: Backend, deezer: bool) -> Section:
    songs, partitions = backend.query("SELECT count(*), count(DISTINCT msd_partition) FROM songs")[0]
    facts = {"songs": songs, "partitions": partitions,
             "spotify_matched": backend.scalar("SELECT count(*) FROM spotify_matches WHERE status = 'matched'") or 0,
             "deezer_matched": (backend.scalar("SELECT count(*) FROM deezer_matches WHERE status = 'matched'") or 0)
             if deezer else None,
             "both_matched": backend.scalar("SELECT count(*) FROM deezer_matches WHERE agrees_with_spotify IS NOT NULL")
             if deezer else None}
    return Section(facts=facts)


def _coverage(backend: Backend, deezer: bool) -> Section:
    joins = ("FROM songs s LEFT JOIN spotify_matches m ON m.track_id = s.track_id"
             + (" LEFT JOIN deezer_matches d ON d.track_id = s.track_id" if deezer else ""))
    columns = f"count(*), count(m.track_id), {_matched('m')}" + (f", count(d.track_id), {_matched('d')}" if deezer else "")

    def rows(group: str) -> list[dict]:
        out = []
        for row in backend.query(f"SELECT {group} AS g, {columns} {joins} GROUP BY 1"):
            key, songs, asked, matched, *rest = row
            item = {"key": key, "songs": songs, "spotify_asked": asked, "spotify_matched": matched or 0}
            if deezer:
                item |= {"deezer_asked": rest[0], "deezer_matched": rest[1] or 0}
            out.append(item)
        return sorted(out, key=lambda r: (r["key"] is None, r["key"] or 0))

    statuses = {source: dict(backend.query(f"SELECT status, count(*) FROM {source}_matches GROUP BY 1"))
                for source in (SOURCES if deezer else SOURCES[:1])}
    return Section(facts={"by_partition": rows("s.msd_partition"),
                          "by_decade": rows("CASE WHEN s.year > 0 THEN s.year - s.year % 10 END"),
                          "statuses": statuses})


def _scores(backend: Backend, deezer: bool) -> Section:
    bins = {}
    for source in SOURCES if deezer else SOURCES[:1]:
        counts: dict[str, list[int]] = defaultdict(lambda: [0] * SCORE_BINS)
        for b, status, n in backend.query(f"SELECT CAST(floor(score * {SCORE_BINS}) AS INTEGER), status, count(*) "
                                          f"FROM {source}_matches WHERE score IS NOT NULL GROUP BY 1, 2"):
            counts[status][min(max(int(b), 0), SCORE_BINS - 1)] += n  # a perfect 1.0 goes in the top bin
        bins[source] = dict(counts)
    return Section(facts={"bins": bins, "bin_width": 1 / SCORE_BINS})


def _agreement(backend: Backend) -> Section:
    by_method = defaultdict(lambda: {"agree": 0, "disagree": 0})
    for agrees, method, n in backend.query("SELECT agrees_with_spotify, method, count(*) FROM deezer_matches "
                                           "WHERE agrees_with_spotify IS NOT NULL GROUP BY 1, 2"):
        by_method[method]["agree" if agrees else "disagree"] += n
    agree = sum(v["agree"] for v in by_method.values())
    disagree = sum(v["disagree"] for v in by_method.values())
    return Section(facts={"agree": agree, "disagree": disagree, "both_matched": agree + disagree,
                          "by_method": dict(sorted(by_method.items()))})


def _popularity(backend: Backend) -> Section:
    ranks = dict(backend.query(f"SELECT CAST(floor(popularity_rank / {RANK_BIN}.0) AS INTEGER), count(*) "
                               f"FROM deezer_tracks WHERE popularity_rank IS NOT NULL GROUP BY 1"))
    fans = dict(backend.query("SELECT CAST(floor(log(CAST(nb_fan AS DOUBLE PRECISION) + 1)) AS INTEGER), count(*) "
                              "FROM deezer_artists WHERE nb_fan IS NOT NULL GROUP BY 1"))
    bpm = dict(backend.query("SELECT CAST(floor(bpm / 10) AS INTEGER), count(*) FROM deezer_tracks "
                             "WHERE bpm IS NOT NULL GROUP BY 1"))
    genres: Counter[str] = Counter()
    for (value,) in backend.query("SELECT genres FROM deezer_albums WHERE genres IS NOT NULL"):
        genres.update(json.loads(value) if isinstance(value, str) else value)
    tracks, known_bpm = backend.query("SELECT count(*), count(bpm) FROM deezer_tracks")[0]
    spotify_visible = backend.scalar("SELECT count(popularity) FROM spotify_tracks")
    return Section(facts={"rank_bins": ranks, "rank_bin": RANK_BIN, "fan_decades": fans, "bpm_bins": bpm,
                          "genres": genres.most_common(15), "tracks": tracks, "known_bpm": known_bpm,
                          "spotify_popularity_visible": spotify_visible or 0})


def _snapshots(backend: Backend, tables: set[str]) -> Section:
    if SNAPSHOT_TABLE not in tables:
        return Section.missing(f"no dated popularity snapshots yet (table {SNAPSHOT_TABLE}): a daily refresh writes "
                               f"them; until then popularity is the one reading each load took")
    rows = backend.query(f"SELECT snapshot_date, source_track_id, popularity FROM {SNAPSHOT_TABLE} "
                         f"WHERE source = 'deezer' ORDER BY snapshot_date")
    if not rows:
        return Section.missing(f"{SNAPSHOT_TABLE} holds no Deezer snapshot yet")
    series: dict[str, list[tuple]] = defaultdict(list)
    for day, track, popularity in rows:
        series[track].append((day, popularity))
    movers = sorted(series, key=lambda t: -abs((series[t][-1][1] or 0) - (series[t][0][1] or 0)))[:10]
    return Section(facts={"movers": {t: series[t] for t in movers}, "dates": len({r[0] for r in rows})})


def _spend(overview: dict) -> Section:
    from pipeline.partitions import discover_partitions
    from pipeline.tasks.enrich import QUOTA_STATE

    songs = overview.get("songs") or 0
    facts: dict = {"sources": {}}
    for source in SOURCES:
        spent = answers.total_spent(source)  # one read of the ledger: totals and the days
        facts["sources"][source] = {"sent_total": spent["sent_total"], "runs": spent["runs"], "by_day": spent["by_day"],
                                    "per_song": round(spent["sent_total"] / songs, 3) if songs else None}
    quota_file = staging.target(f"{staging.root()}/spotify/{QUOTA_STATE}")
    quota = staging.read_json(quota_file) if quota_file.exists() else None
    facts["quota"] = quota
    facts["quota_active"] = bool(quota) and datetime.fromisoformat(quota["resume_at"]) > datetime.now(UTC)
    # The observed quota: what Spotify answered on the day it stopped answering; else the busiest day seen,
    # which the quota is at least.
    spotify_days = facts["sources"]["spotify"]["by_day"]
    stop_day = quota["resume_at"][:10] if quota else None
    if quota and spotify_days:
        stopped = max((d for d in spotify_days if d <= stop_day), default=max(spotify_days))
        facts["daily_quota"] = spotify_days[stopped]
        facts["daily_quota_basis"] = f"spent on {stopped}, when Spotify stopped answering"
    elif spotify_days:
        busiest = max(spotify_days, key=spotify_days.get)
        facts["daily_quota"] = spotify_days[busiest]
        facts["daily_quota_basis"] = f"the most spent in a day ({busiest}); no quota stop seen, so the quota is at least this"
    else:
        facts["daily_quota"], facts["daily_quota_basis"] = None, "no request recorded yet"
    try:
        partitions = len(discover_partitions(config.msd().root))
    except Exception as exc:  # the MSD root may not be reachable from where the report runs
        logger.warning("report: MSD root not readable: %s", exc)
        partitions = None
    facts["msd_partitions"] = partitions
    loaded = overview.get("partitions") or 0
    if partitions and loaded and songs:
        remaining = max(round(songs / loaded * partitions) - songs, 0)
        facts["remaining_songs"] = remaining
        facts["remaining_basis"] = (f"{partitions - loaded} of {partitions} partitions under the MSD root not loaded, "
                                    f"at {songs / loaded:.0f} songs per loaded partition")
        spotify_per_song = facts["sources"]["spotify"]["per_song"]
        if facts["daily_quota"] and spotify_per_song:
            facts["spotify_days_left"] = round(remaining * spotify_per_song / facts["daily_quota"], 1)
        deezer_per_song = facts["sources"]["deezer"]["per_song"]
        settings = config.deezer()
        # The pacer keeps 5% under the rate (pipeline/deezer/client.py).
        deezer_daily = settings.rate_limit / settings.rate_window * 86_400 / 1.05
        facts["deezer_daily"] = round(deezer_daily)
        if deezer_per_song:
            facts["deezer_days_left"] = round(remaining * deezer_per_song / deezer_daily, 2)
    facts["generated_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    return Section(facts=facts)


def _capabilities() -> Section:
    out = {}
    for source, names in (("spotify", SPOTIFY_CAPABILITIES), ("deezer", DEEZER_CAPABILITIES)):
        store = answers.AnswerStore(answers.store_folder(source))
        for name in names:
            entry = store.get("capability", name)
            out[f"{source}.{name}"] = ({"available": entry.get("available"), "reason": entry.get("reason"),
                                        "at": entry.get("at")} if entry else None)
    return Section(facts={"capabilities": out})
