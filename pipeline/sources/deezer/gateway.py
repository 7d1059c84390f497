"""The Deezer gateway: every Deezer request, answered from the answer store when it can be.

``DeezerGateway`` (on pipeline/sources/base.py's ``StoredGateway``) keeps every answer, "no data"
included, in ``answers/deezer/``, shared by every partition, so nothing is asked twice and a killed
run resumes where it stopped. What the service serves is recorded as a capability (``track_isrc``,
valid 24 h): ``track/isrc:`` is undocumented, and if Deezer ever refuses it every partition searches
instead of asking it again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from pipeline.sources.answers import AnswerStore
from pipeline.sources.base import StoredGateway
from pipeline.sources.deezer.client import DeezerClient, DeezerRequestError
from pipeline.sources.deezer.source import CAPABILITIES

logger = logging.getLogger(__name__)


def compact_track(obj: dict) -> dict:
    """A Deezer track (search hit or full) in the shape the shared matcher reads."""
    album = obj.get("album") or {}
    artists = [obj.get("artist") or {}] + [c for c in obj.get("contributors") or []
                                           if c.get("id") != (obj.get("artist") or {}).get("id")]
    return {
        "id": str(obj["id"]), "name": obj.get("title"), "duration_ms": (obj.get("duration") or 0) * 1000 or None,
        "isrc": obj.get("isrc"), "rank": obj.get("rank"), "explicit": obj.get("explicit_lyrics"),
        "bpm": obj.get("bpm"), "gain": obj.get("gain"), "release_date": obj.get("release_date"),
        "artists": [{"id": str(a["id"]), "name": a.get("name")} for a in artists if a.get("id")],
        "album": {"id": str(album["id"]) if album.get("id") else None, "name": album.get("title"),
                  "release_date": album.get("release_date") or obj.get("release_date")},
    }


class DeezerGateway(StoredGateway):
    """Stored Deezer lookups. ``client`` may be a function that makes one at the first request."""

    capability_names = CAPABILITIES
    # Ids a search hit or a track named: "no data" for one is asked again by a later command (sources/ask_again.py).
    named_kinds = ("track", "artist", "album")

    def __init__(self, client: DeezerClient | Callable[[], DeezerClient], store: AnswerStore, search_limit: int = 10,
                 not_found_max_age_days: int = 0):
        super().__init__("deezer", client, store)
        self.search_limit = search_limit
        self.not_found_max_age = timedelta(days=not_found_max_age_days) if not_found_max_age_days else None

    def is_not_found(self, kind: str, entry: dict) -> bool:
        if kind == "search":
            return not ((entry.get("obj") or {}).get("items"))
        return kind == "track_isrc" and entry.get("status") == 404

    def _stored(self, kind: str, key: str, path: str, params: dict | None, keep: Callable[[dict], dict]) -> dict:
        def ask() -> dict:
            body = self.client.get(path, params)
            return {"status": 200 if body is not None else 404, "obj": keep(body) if body is not None else None}
        return self.asked(kind, key, ask)

    def search(self, query: str) -> dict:
        return self._stored("search", f"{self.search_limit}|{query}", "search/track",
                            {"q": query, "limit": self.search_limit},
                            lambda body: {"items": [compact_track(t) for t in body.get("data") or []],
                                          "total": body.get("total")})

    def track(self, track_id: str) -> dict:
        return self._stored("track", track_id, f"track/{track_id}", None, compact_track)

    def track_by_isrc(self, isrc: str) -> dict | None:
        """The track Deezer files under ``isrc`` (its ``obj`` None for "no data"); None when the
        service refuses ISRC lookups, recorded so that no partition asks again for 24 h."""
        if self.capabilities["track_isrc"]["available"] is False:
            return None
        asked = self.requests["track_isrc"]
        try:
            entry = self._stored("track_isrc", isrc, f"track/isrc:{isrc}", None, compact_track)
        except DeezerRequestError as exc:
            logger.warning("Deezer refuses ISRC lookups (%s): every song is searched instead", exc)
            self.set_capability("track_isrc", False, str(exc))
            return None
        if self.requests["track_isrc"] > asked:  # the service answered one now (not the store)
            self.set_capability("track_isrc", True, "ISRC lookups answered")
        return entry

    def artist(self, artist_id: str) -> dict:
        return self._stored("artist", artist_id, f"artist/{artist_id}", None, _compact_artist)

    # --- dated answers (the daily refresh): one per id and day, so a day resumed asks nothing twice

    def track_on(self, day: str, track_id: str) -> dict:
        """What ``track/{id}`` says on ``day``: rank, and whether the id still plays or was relinked."""
        return self._stored(f"track@{day}", track_id, f"track/{track_id}", None, _track_state)

    def artist_on(self, day: str, artist_id: str) -> dict:
        return self._stored(f"artist@{day}", artist_id, f"artist/{artist_id}", None, _compact_artist)

    def album(self, album_id: str) -> dict:
        return self._stored("album", album_id, f"album/{album_id}", None,
                            lambda a: {"id": str(a["id"]), "title": a.get("title"), "label": a.get("label"),
                                       "fans": a.get("fans"), "release_date": a.get("release_date"),
                                       "record_type": a.get("record_type"), "upc": a.get("upc"),
                                       "genres": [g.get("name") for g in (a.get("genres") or {}).get("data") or []]})


def _compact_artist(a: dict) -> dict:
    return {"id": str(a["id"]), "name": a.get("name"), "nb_fan": a.get("nb_fan"), "nb_album": a.get("nb_album")}


def _track_state(t: dict) -> dict:
    """What a refresh keeps of a full track: its popularity and whether it can still be played (an
    unreadable track may name the ``alternative`` Deezer offers instead)."""
    alternative = t.get("alternative") or {}
    return {"id": str(t["id"]), "rank": t.get("rank"), "readable": t.get("readable", True),
            "alternative": str(alternative["id"]) if alternative.get("id") else None}
