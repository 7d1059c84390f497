"""Enrichment of one partition: staged MSD songs → Spotify matches, tracks, artists, audio features.

Every request goes through the gateway (pipeline/spotify/gateway.py), which answers from the
journal when it can; this module decides what to ask and turns the answers into rows
(pipeline/spotify/rows.py).

Errors are kept apart as dlt does: a 4xx on one song's query is terminal for that song
(status ``error``, journaled, not retried); a 5xx or connection failure that outlasts the
retries is transient (not journaled), and the partition fails at the end so a rerun asks again
for exactly those; a quota 429 stops the partition at once (``QuotaExhaustedError``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from pipeline.errors import TransientError
from pipeline.spotify import matching
from pipeline.spotify.gateway import Gateway, SpotifyOutage
from pipeline.spotify.journal import utc_now
from pipeline.spotify.matching import AMBIGUOUS, ERROR, MATCHED, NOT_FOUND, Song
from pipeline.spotify.rows import artist_row, match_row, track_row
from pipeline.spotify.shapes import FEATURE_FIELDS

SCHEMA_VERSION = 1
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
            f"partition {partition}: {what} ({shown}). Every answer received is journaled: "
            f"rerun the partition later and only the missing ones are asked.")


def enrich_partition(partition: str, songs: list[Song], gateway: Gateway, threshold: float = matching.DEFAULT_THRESHOLD,
                     crosswalk: dict[str, list[str]] | None = None, fetch_artists: bool = True,
                     fetch_audio_features: bool = True,
                     progress: Callable[[int, int, str], None] | None = None) -> tuple[dict[str, list[dict]], dict]:
    """Match every song and fetch what the app may see; returns (rows per output file, manifest)."""
    try:
        return _enrich(partition, songs, gateway, threshold, crosswalk, fetch_artists, fetch_audio_features, progress)
    except SpotifyOutage:
        raise SpotifyTransientError(partition, gateway.transient_failures, consecutive=gateway.consecutive_failures) from None


def _enrich(partition, songs, gateway, threshold, crosswalk, fetch_artists, fetch_audio_features, progress):
    progress = progress or (lambda done, total, message: None)
    total = len(songs)
    rows: dict[str, dict] = {}
    hits: dict[str, tuple[dict, str]] = {}  # Spotify track id → (compact track, when it was fetched)

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

    # 2. Search the rest, one ladder per song; identical queries are answered once (journal).
    for done, song in enumerate(songs, start=1):
        if song.track_id not in rows:
            rows[song.track_id] = _search_song(song, partition, gateway, threshold, hits)
        if done % 25 == 0 or done == total:
            progress(done, total, f"{done}/{total} songs matched or tried")

    # 3. What the app may see about the matched tracks' artists and sound.
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
        "requests": {"this_run": dict(sorted(gateway.requests.items())), "this_run_total": sum(gateway.requests.values()),
                     "answered_from_journal": gateway.answered_from_journal,
                     "journal_entries_at_start": gateway.journal.loaded_entries},
        "capabilities": gateway.capabilities,
        "crosswalk": {"songs_with_ids": sum(1 for v in wanted.values() if v), "verified": verified},
        "run_id": gateway.journal.run_id, "completed_at": utc_now(),
    }
    return outputs, manifest


def _search_song(song: Song, partition: str, gateway: Gateway, threshold: float, hits: dict) -> dict:
    ladder = matching.search_queries(song)
    if not ladder:
        return match_row(song, partition, NOT_FOUND, "unsearchable", None, None, None, None,
                          error="artist_name or title is empty")
    last = None
    for rung, query in ladder:
        entry = gateway.search(query)
        if entry is None:  # transient: the partition fails at the end and a rerun asks again
            return match_row(song, partition, ERROR, "search", rung, query, None, None, error="transient failure")
        if entry["status"] != 200:
            return match_row(song, partition, ERROR, "search", rung, query, None, entry["at"],
                              error=f"HTTP {entry['status']}: {entry.get('error')}")
        decision = matching.decide(song, entry["items"], threshold)
        if decision.status in (MATCHED, AMBIGUOUS):
            if decision.status == MATCHED:
                hits.setdefault(decision.best.track["id"], (decision.best.track, entry["at"]))
            return match_row(song, partition, decision.status, "search", rung, query, decision, entry["at"])
        last = (rung, query, decision, entry["at"])
    rung, query, decision, at = last
    return match_row(song, partition, NOT_FOUND, "search", rung, query, decision, at)
