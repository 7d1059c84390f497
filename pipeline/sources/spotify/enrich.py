"""Enrichment of one partition: staged MSD songs → Spotify matches, tracks, artists, audio features.

Every request goes through the gateway (gateway.py), which answers from the answer store when it
can; this module decides what to ask (the shared ladder, pipeline/matching/ladder.py), lets the
shared matcher decide (pipeline/matching/decide.py) and turns the answers into rows (rows.py).

Two phases, so a quota that runs out has bought matches first: ``match_songs`` (crosswalk
checks and searches) and the details (artists, audio features), which ``SpotifySearch`` and
``EnrichPartition`` run as two tasks, every partition's searches first.

Errors are kept apart as dlt does: a 4xx on one song's query is terminal for that song
(status ``error``, stored, not retried); a 5xx or connection failure that outlasts the
retries is transient (not stored), and the partition fails at the end so a rerun asks again
for exactly those; a quota 429 stops the partition at once (``QuotaExhaustedError``).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable

from pipeline.errors import TransientError
from pipeline.matching import decide as matching
from pipeline.matching import ladder
from pipeline.matching.decide import ERROR, MATCHED, Song
from pipeline.sources.answers import utc_now
from pipeline.sources.spotify.gateway import SpotifyGateway, SpotifyOutage
from pipeline.sources.spotify.rows import artist_row, match_row, track_row
from pipeline.sources.spotify.shapes import FEATURE_FIELDS

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 2
# Crosswalk ids come from Echo Nest's Rosetta data (high precision); the check only rejects
# ids that were relinked to something else since 2016.
CROSSWALK_THRESHOLD = 0.60
OUTPUT_FILES = ("matches.jsonl.gz", "tracks.jsonl.gz", "artists.jsonl.gz", "audio_features.jsonl.gz")


class SpotifyTransientError(TransientError):
    def __init__(self, partition: str, failures: list[str], consecutive: int = 0):
        shown = "; ".join(failures[-3:])
        what = f"stopped after {consecutive} consecutive failed requests" if consecutive else \
            f"{len(failures)} Spotify request(s) failed after retries"
        super().__init__(
            f"partition {partition}: {what} (Spotify: {shown}): the service is failing or the connection to it is. "
            f"Every answer received is stored: rerun the partition later and only the missing ones are asked (if it "
            f"persists, check [spotify] api_url, environment MUSIC_ETL_SPOTIFY_API_URL).")


def enrich_partition(partition: str, songs: list[Song], gateway: SpotifyGateway, threshold: float = matching.DEFAULT_THRESHOLD,
                     crosswalk: dict[str, list[str]] | None = None, fetch_artists: bool = True,
                     fetch_audio_features: bool = True,
                     progress: Callable[[int, int, str], None] | None = None) -> tuple[dict[str, list[dict]], dict]:
    """Both phases in one call (benchmarks, scripts): returns (rows per output file, manifest)."""
    matched, _ = match_songs(partition, songs, gateway, threshold, crosswalk, progress)
    return add_details(partition, songs, gateway, matched, fetch_artists, fetch_audio_features)


def match_songs(partition: str, songs: list[Song], gateway: SpotifyGateway, threshold: float = matching.DEFAULT_THRESHOLD,
                crosswalk: dict[str, list[str]] | None = None,
                progress: Callable[[int, int, str], None] | None = None) -> tuple[dict, dict]:
    """The first phase alone (crosswalk checks and searches): (the decisions, to stage for the
    details phase, and a summary for the search task's manifest)."""
    try:
        matched = _match(partition, songs, gateway, threshold, crosswalk, progress)
    except SpotifyOutage:
        raise SpotifyTransientError(partition, gateway.transient_failures, consecutive=gateway.consecutive_failures) from None
    if gateway.transient_failures:
        raise SpotifyTransientError(partition, gateway.transient_failures)
    statuses = Counter(r["status"] for r in matched["rows"].values())
    return matched, {"partition": partition, "stage": "spotify_search", "matcher_version": matching.MATCHER_VERSION,
                     "songs": len(songs), "statuses": {s: statuses.get(s, 0) for s in matching.STATUSES},
                     "requests": _requests(gateway), "rungs": matched["rungs"], "crosswalk": matched["crosswalk"],
                     "completed_at": utc_now()}


def staged_decisions(matched: dict) -> dict[str, list[dict]]:
    """The search phase's decisions as the files the search task stages: one row per song and
    the matched tracks as the search (or crosswalk lookup) answered them."""
    return {"matches.jsonl.gz": [matched["rows"][k] for k in sorted(matched["rows"])],
            "hits.jsonl.gz": [{"track": track, "fetched_at": at} for _, (track, at) in sorted(matched["hits"].items())]}


def decisions_from_staging(files: dict[str, list[dict]], rungs: dict, crosswalk: dict) -> dict:
    """What ``staged_decisions`` wrote, back in the shape the details phase reads."""
    return {"rows": {r["track_id"]: r for r in files["matches.jsonl.gz"]},
            "hits": {h["track"]["id"]: (h["track"], h["fetched_at"]) for h in files["hits.jsonl.gz"]},
            "rungs": rungs, "crosswalk": crosswalk}


def add_details(partition: str, songs: list[Song], gateway: SpotifyGateway, matched: dict, fetch_artists: bool = True,
                fetch_audio_features: bool = True) -> tuple[dict[str, list[dict]], dict]:
    """The second phase alone, on decisions the search phase staged."""
    try:
        return _details(partition, songs, gateway, matched, fetch_artists, fetch_audio_features)
    except SpotifyOutage:
        raise SpotifyTransientError(partition, gateway.transient_failures, consecutive=gateway.consecutive_failures) from None


def _requests(gateway: SpotifyGateway) -> dict:
    """The gateway's request counts, with a warning when Spotify was degraded."""
    counts = gateway.request_counts()
    # Beyond one request per call and the token requests: retries after 5xx, dropped connections or 401s, and 429s.
    extra = counts["sent_total"] - counts["this_run_total"] - counts["sent"].get("token", 0)
    if extra > 0:
        logger.warning("Spotify was degraded: %d requests sent for %d calls; %d were rate-limited (429), %d retried "
                       "after server errors, dropped connections or an expired token", counts["sent_total"],
                       counts["this_run_total"], counts["rate_limited"], extra - counts["rate_limited"])
    return counts


def _match(partition, songs, gateway, threshold, crosswalk, progress) -> dict:
    progress = progress or (lambda done, total, message: None)
    total = len(songs)
    rows: dict[str, dict] = {}
    hits: dict[str, tuple[dict, str]] = {}  # Spotify track id → (compact track, when it was fetched)
    rungs: Counter[str] = Counter()  # searches per rung (asked or answered from the store)

    # 1. Crosswalk: verify known ids instead of searching.
    crosswalk = crosswalk or {}
    wanted = {s.track_id: crosswalk.get(s.track_id) or crosswalk.get(s.song_id or "") or [] for s in songs}
    verified = 0
    by_id = gateway.tracks([i for ids in wanted.values() for i in ids]) if any(wanted.values()) else {}
    for song in songs:
        entries = [by_id[i] for i in wanted[song.track_id] if i in by_id and by_id[i].get("obj")]
        if not entries:
            if any(i not in by_id for i in wanted[song.track_id]):
                # Its id lookup failed transiently: searching now would pay for what the rerun verifies.
                rows[song.track_id] = match_row(song, partition, ERROR, "crosswalk", None, None, None, None,
                                                 error="transient failure")
            continue
        decision = matching.decide(song, [e["obj"] for e in entries], CROSSWALK_THRESHOLD)
        if decision.status == MATCHED:
            entry = next(e for e in entries if e["obj"]["id"] == decision.best.track["id"])
            rows[song.track_id] = match_row(song, partition, MATCHED, "crosswalk", None, None, decision, entry["at"])
            hits[decision.best.track["id"]] = (decision.best.track, entry["at"])
            verified += 1

    # 2. Search the rest; identical queries, in this partition or any other, are answered once (answer store).
    for done, song in enumerate(songs, start=1):
        if song.track_id not in rows:
            rows[song.track_id] = _search_song(song, partition, gateway, threshold, hits, rungs)
        if done % 25 == 0 or done == total:
            progress(done, total, f"{done}/{total} songs matched or tried")
    return {"rows": rows, "hits": hits, "rungs": dict(sorted(rungs.items())),
            "crosswalk": {"songs_with_ids": sum(1 for v in wanted.values() if v), "verified": verified}}


def _details(partition, songs, gateway, matched, fetch_artists, fetch_audio_features):
    rows, hits = matched["rows"], matched["hits"]
    total = len(songs)
    # 3. What the app may see about the matched tracks' artists and sound, beyond the search hits.
    artist_names: dict[str, str] = {}
    for track, _ in hits.values():
        for artist in track["artists"]:
            if artist.get("id"):
                artist_names.setdefault(artist["id"], artist.get("name"))
    artist_entries = gateway.artists(sorted(artist_names)) if fetch_artists and artist_names else {}
    feature_entries = gateway.audio_features(sorted(hits)) if fetch_audio_features and hits else {}

    if gateway.transient_failures:
        raise SpotifyTransientError(partition, gateway.transient_failures)

    outputs = {
        "matches.jsonl.gz": [rows[s.track_id] for s in sorted(songs, key=lambda s: s.track_id)],
        "tracks.jsonl.gz": [track_row(track, at) for _, (track, at) in sorted(hits.items())],
        "artists.jsonl.gz": [artist_row(aid, name, artist_entries.get(aid)) for aid, name in sorted(artist_names.items())],
        "audio_features.jsonl.gz": [{"spotify_track_id": tid, **{f: e["obj"].get(f) for f in FEATURE_FIELDS},
                                     "fetched_at": e["at"]}
                                    for tid, e in sorted(feature_entries.items()) if e.get("obj")],
    }
    statuses = Counter(r["status"] for r in rows.values())
    manifest = {
        "partition": partition, "stage": "spotify_enrich", "schema_version": SCHEMA_VERSION,
        "matcher_version": matching.MATCHER_VERSION,
        "songs": total, "statuses": {s: statuses.get(s, 0) for s in matching.STATUSES},
        "match_rate": round(statuses.get(MATCHED, 0) / total, 4) if total else None,
        "rows": {name: len(value) for name, value in outputs.items()},
        "requests": _requests(gateway), "rungs": matched["rungs"],
        "capabilities": gateway.capabilities,
        "crosswalk": matched["crosswalk"],
        "run_id": gateway.store.run_id, "completed_at": utc_now(),
    }
    return outputs, manifest


def spotify_filters(title: str, artist: str) -> str:
    """Spotify's field filters: single quotes (double quotes find nothing since 2025)."""
    return f"track:'{title}'" + (f" artist:'{artist}'" if artist else "")


def _search_song(song: Song, partition: str, gateway: SpotifyGateway, threshold: float, hits: dict,
                 rungs: Counter) -> dict:
    def search(rung: str, query: str) -> tuple[list[dict], str]:
        rungs[rung] += 1
        entry = gateway.search(query)
        if entry is None:  # transient: the partition fails at the end and a rerun asks again
            raise ladder.Unanswered("transient failure")
        if entry["status"] != 200:
            raise ladder.Unanswered(f"HTTP {entry['status']}: {entry.get('error')}", entry["at"])
        return entry["items"], entry["at"]

    climbed = ladder.climb(song, search, threshold, gateway.search_limit, spotify_filters)
    if climbed.best is not None:
        hits.setdefault(climbed.best["id"], (climbed.best, climbed.at))
    return match_row(song, partition, climbed.status, climbed.method, climbed.rung, climbed.query, climbed.decision,
                     climbed.at, error=climbed.error)


def merge_requests(*parts: dict) -> dict:
    """Request counts of several runs (the search task's and the details') as one."""
    calls: Counter[str] = Counter()
    sent: Counter[str] = Counter()
    for part in parts:
        calls.update(part.get("this_run") or {})
        sent.update(part.get("sent") or {})
    return {"this_run": dict(sorted(calls.items())), "this_run_total": sum(calls.values()),
            "sent": dict(sorted(sent.items())), "sent_total": sum(sent.values()),
            "rate_limited": sum(p.get("rate_limited", 0) for p in parts),
            "answered_from_store": sum(p.get("answered_from_store", 0) for p in parts)}
