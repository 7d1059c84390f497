"""The Spotify gateway: every Spotify request, answered from the answer store when it can be.

``SpotifyGateway`` (on pipeline/sources/base.py's ``StoredGateway``) stores every new answer before
using it (pipeline/sources/answers.py: one store per staging root, shared by every partition), and
discovers what the app may see once per run:

* ``tracks_batch`` / ``artists_batch``: the first 403 on ``GET /tracks?ids=`` or ``/artists?ids=``
  switches to single lookups (Development Mode since 2026-03);
* ``audio_features``: the first 403 turns audio features off for the partition;
* ``artist_details``: an artist answered without popularity, followers and genres (Development
  Mode strips them) stops artist lookups, since the search hit already holds the artist's
  id and name.

Capability decisions are stored too (for ``CAPABILITY_MAX_AGE``), so no other partition or
resumed run probes again. A 5xx or connection failure that outlasts the client's retries is
counted, not stored; after
``MAX_CONSECUTIVE_FAILURES`` in a row the gateway signals an outage.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterable

import requests
import spotipy

from pipeline.sources.answers import AnswerStore
from pipeline.sources.base import StoredGateway
from pipeline.sources.spotify.client import SpotifyClient
from pipeline.sources.spotify.shapes import CAPABILITIES, compact_artist, compact_features, compact_track

logger = logging.getLogger(__name__)

BATCH = {"tracks": 50, "artists": 50, "audio_features": 100}

# An outage, not a bad request: after this many failures in a row the partition stops instead of
# spending minutes of backoff on every remaining song.
MAX_CONSECUTIVE_FAILURES = 5


class SpotifyOutage(Exception):  # noqa: N818 - internal signal, turned into SpotifyTransientError with the partition
    pass


def search_key(limit: int, query: str) -> str:
    """How the answer store keys a search: the page size is part of the question."""
    return f"{limit}|{query}"


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class SpotifyGateway(StoredGateway):
    """Stored, capability-aware Spotify lookups. ``client`` may be a function that makes one at the
    first request, so a run answered wholly from the store needs no credentials and opens no connection."""

    capability_names = CAPABILITIES
    counts_rate_limits = True

    def __init__(self, client: SpotifyClient | Callable[[], SpotifyClient], store: AnswerStore, search_limit: int = 10):
        super().__init__("spotify", client, store)
        self.search_limit = search_limit
        self.transient_failures: list[str] = []
        self.consecutive_failures = 0

    def _call(self, endpoint: str, method: str, *args, **kwargs):
        """One request through spotipy's ``method``; returns (status, body). Transient failures
        return (None, None)."""
        fn = getattr(self.client.sp, method)
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
        if self.set_capability(name, available, reason) and not available:
            logger.info("Spotify capability `%s` unavailable for this app: %s", name, reason)

    # --- search ------------------------------------------------------------------------

    def search(self, query: str) -> dict | None:
        """The stored answer for a query: ``status``, ``items`` (compact tracks), ``at``; None if transient."""
        key = search_key(self.search_limit, query)
        entry = self.stored("search", key)
        if entry is not None:
            return entry
        status, body = self._call("search", "search", q=query, type="track", limit=self.search_limit)
        if status is None:
            return None
        if status == 200:
            tracks = body.get("tracks") or {}
            items = [compact_track(t) for t in tracks.get("items") or [] if t and t.get("id")]
            return self.store.record("search", key, status=200, items=items, total=tracks.get("total"))
        return self.store.record("search", key, status=status, items=[], error=body.get("message"))

    # --- lookups by id -------------------------------------------------------------------

    def _lookup(self, kind: str, ids: list[str], batch_capability: str | None, batch_method: str | None,
                single_method: str, unwrap: str, compact: Callable[[dict], dict], stop: Callable[[], bool]) -> dict[str, dict]:
        """id → stored answer (``obj`` is the compact object or None) for every id answered."""
        out: dict[str, dict] = {}
        missing = []
        endpoint = kind.split("@")[0]  # a dated kind (track@2026-11-30) calls the same endpoint
        for item_id in dict.fromkeys(ids):
            entry = self.stored(kind, item_id)
            if entry is not None:
                out[item_id] = entry
            else:
                missing.append(item_id)
        if batch_capability and self.capabilities[batch_capability]["available"] is not False:
            for chunk in _chunks(missing, BATCH[unwrap]):
                if stop():
                    return out
                status, body = self._call(f"{endpoint}s (batch)", batch_method, chunk)
                if status == 403:
                    self._set_capability(batch_capability, False, f"GET /{unwrap.replace('_', '-')}?ids= answered 403")
                    break
                if status != 200:
                    continue  # transient (counted) or a 4xx on the batch: the singles below retry these ids
                self._set_capability(batch_capability, True, "batch lookups answered")
                objs = body.get(unwrap) if isinstance(body, dict) else body
                for item_id, obj in zip(chunk, objs or [], strict=False):
                    out[item_id] = self.store.record(kind, item_id, status=200 if obj else 404,
                                                       obj=compact(obj) if obj else None)
        for item_id in missing:
            if item_id in out:
                continue
            if stop():
                break
            status, body = self._call(endpoint, single_method, item_id)
            if status is None:
                continue
            if status == 200:
                out[item_id] = self.store.record(kind, item_id, status=200, obj=compact(body))
            elif status == 403:
                return out  # the caller's capability rule decides (audio features)
            else:
                out[item_id] = self.store.record(kind, item_id, status=status, obj=None, error=body.get("message"))
        return out

    # --- dated answers (the daily refresh): one per id and day, so a day resumed asks nothing twice

    def tracks_on(self, day: str, ids: list[str]) -> dict[str, dict]:
        """What ``GET /tracks/{id}`` (or the batch, where the app may) says on ``day``."""
        return self._lookup(f"track@{day}", ids, "tracks_batch", "tracks", "track", "tracks", compact_track,
                            stop=lambda: False)

    def artists_on(self, day: str, ids: list[str]) -> dict[str, dict]:
        """Artists' followers and popularity on ``day``; nothing is asked unless the app is known to see them."""
        if self.capabilities["artist_details"]["available"] is not True:
            return {}
        return self._lookup(f"artist@{day}", ids, "artists_batch", "artists", "artist", "artists", compact_artist,
                            stop=lambda: False)

    def tracks(self, ids: list[str]) -> dict[str, dict]:
        return self._lookup("track", ids, "tracks_batch", "tracks", "track",
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
            got = self._lookup("artist", step, "artists_batch", "artists", "artist",
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
            entry = self.stored("audio_features", item_id)
            if entry is not None:
                out[item_id] = entry
            else:
                todo.append(item_id)
        for chunk in _chunks(todo, BATCH["audio_features"]):
            status, body = self._call("audio-features (batch)", "audio_features", chunk)
            if status == 403:
                self._set_capability("audio_features", False, "GET /audio-features answered 403")
                break
            if status != 200:
                continue
            self._set_capability("audio_features", True, "audio features answered")
            for item_id, obj in zip(chunk, body or [], strict=False):
                out[item_id] = self.store.record("audio_features", item_id, status=200 if obj else 404,
                                                   obj=compact_features(obj) if obj else None)
        return out
