"""Enrichment of one partition: staged MSD songs → Spotify matches, tracks, artists, audio features.

Every request goes through ``Gateway``, which answers from the journal when it can and journals
every new answer before using it, and which discovers at run time what the app may see:

* ``tracks_batch`` / ``artists_batch``: the first 403 on ``GET /tracks?ids=`` or ``/artists?ids=``
  switches to single lookups (Development Mode since 2026-03);
* ``audio_features``: the first 403 turns audio features off for the partition;
* ``artist_details``: an artist answered without popularity, followers and genres (Development
  Mode strips them) stops artist lookups, since the search hit already holds the artist's
  id and name.

Capability decisions are journaled too, so a resumed run does not probe again.

Errors are kept apart as dlt does: a 4xx on one song's query is terminal for that song
(status ``error``, journaled, not retried); a 5xx or connection failure that outlasts the
retries is transient (not journaled), and the partition fails at the end so a rerun asks again
for exactly those; a quota 429 stops the partition at once (``QuotaExhaustedError``).
"""

from __future__ import annotations

import logging
import warnings
from collections import Counter
from collections.abc import Callable, Iterable

import requests
import spotipy

from pipeline.errors import TransientError
from pipeline.spotify import matching
from pipeline.spotify.client import SpotifyClient
from pipeline.spotify.journal import Journal, utc_now
from pipeline.spotify.matching import AMBIGUOUS, ERROR, MATCHED, NOT_FOUND, Song

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
BATCH = {"tracks": 50, "artists": 50, "audio_features": 100}
CAPABILITIES = ("tracks_batch", "artists_batch", "audio_features", "artist_details")
# Crosswalk ids come from Echo Nest's Rosetta data (high precision); the check only rejects
# ids that were relinked to something else since 2016.
CROSSWALK_THRESHOLD = 0.60
FEATURE_FIELDS = ("danceability", "energy", "key", "loudness", "mode", "speechiness", "acousticness",
                  "instrumentalness", "liveness", "valence", "tempo", "time_signature")
OUTPUT_FILES = ("matches.jsonl.gz", "tracks.jsonl.gz", "artists.jsonl.gz", "audio_features.jsonl.gz")


# An outage, not a bad request: after this many failures in a row the partition stops instead of
# spending minutes of backoff on every remaining song.
MAX_CONSECUTIVE_FAILURES = 5


class SpotifyTransientError(TransientError):
    def __init__(self, partition: str, failures: list[str], consecutive: bool = False):
        shown = "; ".join(failures[-3:])
        what = f"stopped after {len(failures)} consecutive failed requests" if consecutive else \
            f"{len(failures)} Spotify request(s) failed after retries"
        super().__init__(
            f"partition {partition}: {what} ({shown}). Every answer received is journaled: "
            f"rerun the partition later and only the missing ones are asked.")


class SpotifyOutage(Exception):  # noqa: N818 - internal signal, turned into SpotifyTransientError with the partition
    pass


# --- compact shapes: what the journal keeps and the outputs use --------------------------------

def compact_track(obj: dict) -> dict:
    album = obj.get("album") or {}
    markets = obj.get("available_markets")
    return {
        "id": obj["id"], "name": obj.get("name"), "duration_ms": obj.get("duration_ms"), "explicit": obj.get("explicit"),
        "isrc": (obj.get("external_ids") or {}).get("isrc"),
        # absent from Development-Mode answers: null means "not visible", not zero
        "popularity": obj.get("popularity"),
        "available_markets_count": len(markets) if isinstance(markets, list) else None,
        "artists": [{"id": a.get("id"), "name": a.get("name")} for a in obj.get("artists") or []],
        "album": {"id": album.get("id"), "name": album.get("name"), "album_type": album.get("album_type"),
                  "release_date": album.get("release_date"), "release_date_precision": album.get("release_date_precision")},
    }


def compact_artist(obj: dict) -> dict:
    followers = obj.get("followers")
    return {"id": obj["id"], "name": obj.get("name"), "genres": obj.get("genres"), "popularity": obj.get("popularity"),
            "followers": followers.get("total") if isinstance(followers, dict) else None}


def compact_features(obj: dict) -> dict:
    return {"id": obj["id"], **{f: obj.get(f) for f in FEATURE_FIELDS}}


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class Gateway:
    """Journaled, capability-aware Spotify lookups for one partition."""

    def __init__(self, client: SpotifyClient, journal: Journal, search_limit: int = 10):
        self.client, self.journal, self.search_limit = client, journal, search_limit
        self.requests: Counter[str] = Counter()
        self.answered_from_journal = 0
        self.transient_failures: list[str] = []
        self.consecutive_failures = 0
        self.capabilities: dict[str, dict] = {name: {"available": None, "reason": "not needed in this run"}
                                              for name in CAPABILITIES}
        for entry in journal.of_kind("capability"):
            self.capabilities[entry["key"]] = {"available": entry["available"], "reason": entry["reason"]}

    # --- plumbing ----------------------------------------------------------------------

    def _call(self, endpoint: str, fn: Callable, *args, **kwargs):
        """One request; returns (status, body). Transient failures return (None, None)."""
        self.requests[endpoint] += 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # spotipy flags audio_features as deprecated
                answer = 200, self.client.call(endpoint, fn, *args, **kwargs)
        except spotipy.SpotifyException as exc:
            if exc.http_status is not None and exc.http_status >= 500:
                return self._transient(f"{endpoint}: HTTP {exc.http_status}")
            answer = exc.http_status, {"message": exc.msg, "reason": exc.reason}
        except requests.RequestException as exc:
            return self._transient(f"{endpoint}: {type(exc).__name__}")
        self.consecutive_failures = 0
        return answer

    def _transient(self, what: str) -> tuple[None, None]:
        self.transient_failures.append(what)
        self.consecutive_failures += 1
        if self.consecutive_failures >= MAX_CONSECUTIVE_FAILURES:
            raise SpotifyOutage()
        return None, None

    def _set_capability(self, name: str, available: bool, reason: str) -> None:
        if self.capabilities[name]["available"] is available:
            return
        self.capabilities[name] = {"available": available, "reason": reason}
        self.journal.record("capability", name, available=available, reason=reason)
        if not available:
            logger.info("Spotify capability `%s` unavailable for this app: %s", name, reason)

    def _cached(self, kind: str, key: str) -> dict | None:
        entry = self.journal.get(kind, key)
        if entry is not None:
            self.answered_from_journal += 1
        return entry

    # --- search ------------------------------------------------------------------------

    def search(self, query: str) -> dict | None:
        """The journal entry for a query: ``status``, ``items`` (compact tracks), ``at``; None if transient."""
        key = f"{self.search_limit}|{query}"
        entry = self._cached("search", key)
        if entry is not None:
            return entry
        status, body = self._call("search", self.client.sp.search, q=query, type="track", limit=self.search_limit)
        if status is None:
            return None
        if status == 200:
            tracks = body.get("tracks") or {}
            items = [compact_track(t) for t in tracks.get("items") or [] if t and t.get("id")]
            return self.journal.record("search", key, status=200, items=items, total=tracks.get("total"))
        return self.journal.record("search", key, status=status, items=[], error=body.get("message"))

    # --- lookups by id -------------------------------------------------------------------

    def _lookup(self, kind: str, ids: list[str], batch_capability: str | None, batch_fn: Callable | None,
                single_fn: Callable, unwrap: str, compact: Callable[[dict], dict], stop: Callable[[], bool]) -> dict[str, dict]:
        """id → journal entry (``obj`` is the compact object or None) for every id answered."""
        out: dict[str, dict] = {}
        missing = []
        for item_id in dict.fromkeys(ids):
            entry = self._cached(kind, item_id)
            if entry is not None:
                out[item_id] = entry
            else:
                missing.append(item_id)
        if batch_capability and self.capabilities[batch_capability]["available"] is not False:
            for chunk in _chunks(missing, BATCH[unwrap]):
                if stop():
                    return out
                status, body = self._call(f"{kind}s (batch)", batch_fn, chunk)
                if status == 403:
                    self._set_capability(batch_capability, False, f"GET /{unwrap.replace('_', '-')}?ids= answered 403")
                    break
                if status != 200:
                    continue  # transient (counted) or a 4xx on the batch: the singles below retry these ids
                self._set_capability(batch_capability, True, "batch lookups answered")
                objs = body.get(unwrap) if isinstance(body, dict) else body
                for item_id, obj in zip(chunk, objs or [], strict=False):
                    out[item_id] = self.journal.record(kind, item_id, status=200 if obj else 404,
                                                       obj=compact(obj) if obj else None)
        for item_id in missing:
            if item_id in out:
                continue
            if stop():
                break
            status, body = self._call(kind, single_fn, item_id)
            if status is None:
                continue
            if status == 200:
                out[item_id] = self.journal.record(kind, item_id, status=200, obj=compact(body))
            elif status == 403:
                return out  # the caller's capability rule decides (audio features)
            else:
                out[item_id] = self.journal.record(kind, item_id, status=status, obj=None, error=body.get("message"))
        return out

    def tracks(self, ids: list[str]) -> dict[str, dict]:
        return self._lookup("track", ids, "tracks_batch", self.client.sp.tracks, self.client.sp.track,
                            "tracks", compact_track, stop=lambda: False)

    def artists(self, ids: list[str]) -> dict[str, dict]:
        def details_invisible() -> bool:
            return self.capabilities["artist_details"]["available"] is False

        if details_invisible():
            return {}
        out: dict[str, dict] = {}
        # Probe with one artist first: if the app cannot see details, no further lookup is worth paying for.
        pending = list(dict.fromkeys(ids))
        while pending and not details_invisible():
            step = pending[:1] if self.capabilities["artist_details"]["available"] is None else pending
            pending = pending[len(step):]
            got = self._lookup("artist", step, "artists_batch", self.client.sp.artists, self.client.sp.artist,
                               "artists", compact_artist, stop=details_invisible)
            out.update(got)
            for entry in got.values():
                obj = entry.get("obj")
                if obj:
                    visible = any(obj.get(f) is not None for f in ("popularity", "followers", "genres"))
                    self._set_capability("artist_details", visible,
                                         "artists answered with popularity/followers/genres" if visible else
                                         "GET /artists/{id} answers without popularity, followers or genres; "
                                         "search hits already hold id and name")
                    break
        return out

    def audio_features(self, ids: list[str]) -> dict[str, dict]:
        if self.capabilities["audio_features"]["available"] is False:
            return {}
        out: dict[str, dict] = {}
        todo = []
        for item_id in dict.fromkeys(ids):
            entry = self._cached("audio_features", item_id)
            if entry is not None:
                out[item_id] = entry
            else:
                todo.append(item_id)
        for chunk in _chunks(todo, BATCH["audio_features"]):
            status, body = self._call("audio-features (batch)", self.client.sp.audio_features, chunk)
            if status == 403:
                self._set_capability("audio_features", False, "GET /audio-features answered 403")
                break
            if status != 200:
                continue
            self._set_capability("audio_features", True, "audio features answered")
            for item_id, obj in zip(chunk, body or [], strict=False):
                out[item_id] = self.journal.record("audio_features", item_id, status=200 if obj else 404,
                                                   obj=compact_features(obj) if obj else None)
        return out


# --- the partition ---------------------------------------------------------------------------

def _match_row(song: Song, partition: str, status: str, method: str | None, rung: str | None, query: str | None,
               decision: matching.Decision | None, at: str | None, error: str | None = None) -> dict:
    best = decision.best if decision else None
    matched = status == MATCHED and best is not None
    return {
        "track_id": song.track_id, "song_id": song.song_id, "msd_partition": partition, "status": status,
        "spotify_track_id": best.track["id"] if matched else None,
        "score": best.score if best else None,
        "title_similarity": best.title_sim if best else None,
        "artist_similarity": best.artist_sim if best else None,
        "duration_diff_s": best.duration_diff_s if best else None,
        "method": method, "rung": rung, "query": query,
        "candidate_ids": ([best.track["id"], *(r.track["id"] for r in decision.rivals)]
                          if best and status == AMBIGUOUS else None),
        "error": error, "matched_at": at,
    }


def enrich_partition(partition: str, songs: list[Song], gateway: Gateway, threshold: float = matching.DEFAULT_THRESHOLD,
                     crosswalk: dict[str, list[str]] | None = None, fetch_artists: bool = True,
                     fetch_audio_features: bool = True,
                     progress: Callable[[int, int, str], None] | None = None) -> tuple[dict[str, list[dict]], dict]:
    """Match every song and fetch what the app may see; returns (rows per output file, manifest)."""
    try:
        return _enrich(partition, songs, gateway, threshold, crosswalk, fetch_artists, fetch_audio_features, progress)
    except SpotifyOutage:
        raise SpotifyTransientError(partition, gateway.transient_failures, consecutive=True) from None


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
                rows[song.track_id] = _match_row(song, partition, ERROR, "crosswalk", None, None, None, None,
                                                 error="transient failure")
            continue
        decision = matching.decide(song, [e["obj"] for e in entries], CROSSWALK_THRESHOLD)
        if decision.status == MATCHED:
            entry = next(e for e in entries if e["obj"]["id"] == decision.best.track["id"])
            rows[song.track_id] = _match_row(song, partition, MATCHED, "crosswalk", None, None, decision, entry["at"])
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
        "tracks.jsonl.gz": [_track_row(track, at) for _, (track, at) in sorted(hits.items())],
        "artists.jsonl.gz": [_artist_row(aid, name, artist_entries.get(aid)) for aid, name in sorted(artist_names.items())],
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
        return _match_row(song, partition, NOT_FOUND, "unsearchable", None, None, None, None,
                          error="artist_name or title is empty")
    last = None
    for rung, query in ladder:
        entry = gateway.search(query)
        if entry is None:  # transient: the partition fails at the end and a rerun asks again
            return _match_row(song, partition, ERROR, "search", rung, query, None, None, error="transient failure")
        if entry["status"] != 200:
            return _match_row(song, partition, ERROR, "search", rung, query, None, entry["at"],
                              error=f"HTTP {entry['status']}: {entry.get('error')}")
        decision = matching.decide(song, entry["items"], threshold)
        if decision.status in (MATCHED, AMBIGUOUS):
            if decision.status == MATCHED:
                hits.setdefault(decision.best.track["id"], (decision.best.track, entry["at"]))
            return _match_row(song, partition, decision.status, "search", rung, query, decision, entry["at"])
        last = (rung, query, decision, entry["at"])
    rung, query, decision, at = last
    return _match_row(song, partition, NOT_FOUND, "search", rung, query, decision, at)


def _track_row(track: dict, fetched_at: str) -> dict:
    album = track.get("album") or {}
    artist_ids = [a["id"] for a in track.get("artists") or [] if a.get("id")]
    release = album.get("release_date") or ""
    return {
        "spotify_track_id": track["id"], "name": track.get("name"), "artist_ids": artist_ids,
        "primary_artist_id": artist_ids[0] if artist_ids else None,
        "album_id": album.get("id"), "album_name": album.get("name"), "album_type": album.get("album_type"),
        "release_date": release or None, "release_date_precision": album.get("release_date_precision"),
        "release_year": int(release[:4]) if release[:4].isdigit() else None,
        "duration_ms": track.get("duration_ms"), "explicit": track.get("explicit"), "isrc": track.get("isrc"),
        "popularity": track.get("popularity"), "available_markets_count": track.get("available_markets_count"),
        "fetched_at": fetched_at,
    }


def _artist_row(artist_id: str, name: str | None, entry: dict | None) -> dict:
    obj = (entry or {}).get("obj") or {}
    genres = obj.get("genres")
    return {"spotify_artist_id": artist_id, "name": obj.get("name") or name,
            "genres": genres, "popularity": obj.get("popularity"), "followers": obj.get("followers"),
            "fetched_at": (entry or {}).get("at")}
