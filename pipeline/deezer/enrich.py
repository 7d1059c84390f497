"""Deezer enrichment of one partition: matches, full tracks, artists and albums, every answer stored.

A source turns a song into queries and answers into candidates; the shared matcher
(pipeline/matching/decide.py) decides. For Deezer:

1. a song Spotify matched with an ISRC is looked up by it (``track/isrc:``): one request gives
   the candidate and the full track (bpm, gain, release date), checked by the matcher like a
   crosswalk id, since an ISRC can be shared by another recording's re-release;
2. the rest are searched with the same ladder as Spotify (free text, then Deezer's
   ``artist:"…" track:"…"`` filters when the first answer says it can help), and a match's full
   track is fetched (search hits lack bpm, gain and ISRC);
3. albums (genres, label, fans) and lead artists (fans) are looked up once each per staging
   root, after every song is matched. A featured artist is kept in the track's ``artist_ids``
   but not looked up: the fans researchers read are the lead artist's, and each lookup costs a
   request of the same limited rate.

What the service serves is recorded as a capability (``track_isrc``, valid 24 h like Spotify's):
``track/isrc:`` is undocumented, and if Deezer ever refuses it every partition searches instead
of asking it again.

Every answer, "no data" included, goes to the answer store (``answers/deezer/``), shared by
every partition, so nothing is asked twice and a killed run resumes where it stopped.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable

from pipeline.answers import AnswerStore, utc_now
from pipeline.deezer.client import DeezerClient, DeezerRequestError
from pipeline.matching import decide as matching
from pipeline.matching import ladder
from pipeline.matching.decide import MATCHED, NOT_FOUND, Song
from pipeline.matching.names import fold, parse_title

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 3  # 3: lead artists only in artists.jsonl.gz; requests counted as sent
AGREE_DURATION_S = 3.0
ISRC_THRESHOLD = 0.60  # as for crosswalk ids: the ISRC is strong evidence, the check rejects another recording
CAPABILITIES = ("track_isrc",)


def deezer_filters(title: str, artist: str) -> str:
    """Deezer's advanced search: double quotes, as its documentation writes them."""
    return f'artist:"{artist}" track:"{title}"' if artist else f'track:"{title}"'


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


class DeezerGateway:
    """Stored Deezer lookups. ``client`` may be a function that makes one at the first request."""

    def __init__(self, client: DeezerClient | Callable[[], DeezerClient], store: AnswerStore, search_limit: int = 10):
        self._client, self.store, self.search_limit = client, store, search_limit
        self.requests: Counter[str] = Counter()
        self.answered_from_store = 0
        # What this gateway's work sent is the client's count since it started (a client can be shared).
        self._sent_before = Counter(client.sent) if isinstance(client, DeezerClient) else None
        self.capabilities = store.capabilities(CAPABILITIES)

    @property
    def client(self) -> DeezerClient:
        if not isinstance(self._client, DeezerClient):
            self._client = self._client()
            self._sent_before = Counter(self._client.sent)
        return self._client

    def sent(self) -> dict:
        """Every HTTP request this gateway's work sent (retries and error objects included), by endpoint."""
        if self._sent_before is None:
            return {"by_endpoint": {}, "total": 0}
        spent = Counter(self._client.sent)
        spent.subtract(self._sent_before)
        spent = +spent
        return {"by_endpoint": dict(sorted(spent.items())), "total": sum(spent.values())}

    def request_counts(self) -> dict:
        """What the gateway asked (calls) and sent (every HTTP request), so far: the manifest's and the ledger's shape."""
        sent = self.sent()
        return {"this_run": dict(sorted(self.requests.items())), "this_run_total": sum(self.requests.values()),
                "sent": sent["by_endpoint"], "sent_total": sent["total"], "answered_from_store": self.answered_from_store}

    def _set_capability(self, name: str, available: bool, reason: str) -> None:
        if self.capabilities[name]["available"] is available:
            return
        self.capabilities[name] = {"available": available, "reason": reason}
        self.store.record("capability", name, available=available, reason=reason)

    def _stored(self, kind: str, key: str, path: str, params: dict | None, keep: Callable[[dict], dict]) -> dict:
        entry = self.store.get(kind, key)
        if entry is not None:
            self.answered_from_store += 1
            return entry
        self.requests[kind] += 1
        body = self.client.get(path, params)
        return self.store.record(kind, key, status=200 if body is not None else 404,
                                 obj=keep(body) if body is not None else None)

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
            self._set_capability("track_isrc", False, str(exc))
            return None
        if self.requests["track_isrc"] > asked:  # the service answered one now (not the store)
            self._set_capability("track_isrc", True, "ISRC lookups answered")
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


def match_songs(songs: list[Song], gateway: DeezerGateway, spotify_isrcs: dict[str, str] | None = None,
                threshold: float = matching.DEFAULT_THRESHOLD) -> dict[str, dict]:
    """MSD track id → {status, track (compact, full when matched), method, rung, query, decision}."""
    spotify_isrcs = spotify_isrcs or {}
    out: dict[str, dict] = {}
    for song in songs:
        isrc = spotify_isrcs.get(song.track_id)
        entry = gateway.track_by_isrc(isrc) if isrc else None
        if entry is not None and entry.get("obj"):
            decision = matching.decide(song, [entry["obj"]], ISRC_THRESHOLD)
            if decision.status == MATCHED:
                out[song.track_id] = {"status": MATCHED, "track": entry["obj"], "method": "isrc", "rung": None,
                                      "query": isrc, "decision": decision, "at": entry["at"]}
                continue
        out[song.track_id] = _search(song, gateway, threshold)
    return out


def _search(song: Song, gateway: DeezerGateway, threshold: float) -> dict:
    step = ladder.first_query(song)
    if step is None:
        return {"status": NOT_FOUND, "track": None, "method": "unsearchable", "rung": None, "query": None,
                "decision": None, "at": None}
    asked: list[str] = []
    while True:
        rung, query = step
        asked.append(rung)
        entry = gateway.search(query)
        items = (entry.get("obj") or {}).get("items") or []
        decision = matching.decide(song, items, threshold)
        if decision.status == MATCHED:
            full = gateway.track(decision.best.track["id"]).get("obj") or decision.best.track
            return {"status": MATCHED, "track": full, "method": "search", "rung": rung, "query": query,
                    "decision": decision, "at": entry["at"]}
        step = None if decision.status != NOT_FOUND else ladder.next_query(
            song, asked, items, decision, gateway.search_limit, filters=deezer_filters)
        if step is None:
            return {"status": decision.status, "track": None, "method": "search", "rung": rung, "query": query,
                    "decision": decision, "at": entry["at"]}


def sources_agree(spotify: dict | None, deezer: dict | None) -> bool | None:
    """Whether two sources matched a song to the same recording: the ISRC where both have one,
    otherwise the length (within 3 s) and the normalised title and lead artist. None unless both
    matched. ``spotify`` is a staged Spotify track row, ``deezer`` a compact Deezer track."""
    if not spotify or not deezer:
        return None
    if spotify.get("isrc") and deezer.get("isrc"):
        return spotify["isrc"].upper() == deezer["isrc"].upper()
    lengths = spotify.get("duration_ms"), deezer.get("duration_ms")
    if None in lengths or abs(lengths[0] - lengths[1]) > AGREE_DURATION_S * 1000:
        return False
    same_title = fold(parse_title(spotify.get("name")).core) == fold(parse_title(deezer.get("name")).core)
    leads = fold(spotify.get("primary_artist_name") or ""), fold((deezer["artists"] or [{}])[0].get("name") or "")
    return same_title and leads[0] == leads[1]


def enrich_partition(partition: str, songs: list[Song], gateway: DeezerGateway,
                     spotify_isrcs: dict[str, str] | None = None,
                     threshold: float = matching.DEFAULT_THRESHOLD,
                     spotify_tracks: dict[str, dict] | None = None) -> tuple[dict[str, list[dict]], dict]:
    """Match every song, then look up each album and artist once; returns (rows per file, manifest).
    ``spotify_tracks`` (MSD track id → the staged Spotify track it matched) gives each match its
    cross-source agreement."""
    matched = match_songs(songs, gateway, spotify_isrcs, threshold)
    spotify_tracks = spotify_tracks or {}
    for track_id, m in matched.items():
        m["agrees"] = sources_agree(spotify_tracks.get(track_id), m["track"] if m["status"] == MATCHED else None)
    tracks = {m["track"]["id"]: m["track"] for m in matched.values() if m["status"] == MATCHED}
    artist_ids = sorted({t["artists"][0]["id"] for t in tracks.values() if t["artists"]})
    album_ids = sorted({t["album"]["id"] for t in tracks.values() if t["album"]["id"]})
    artists = {a: gateway.artist(a) for a in artist_ids}
    albums = {a: gateway.album(a) for a in album_ids}
    outputs = {
        "matches.jsonl.gz": [_match_row(song, partition, matched[song.track_id])
                             for song in sorted(songs, key=lambda s: s.track_id)],
        "tracks.jsonl.gz": [_track_row(t) for _, t in sorted(tracks.items())],
        "artists.jsonl.gz": [{"deezer_artist_id": a, **{k: (e.get("obj") or {}).get(k) for k in ("name", "nb_fan", "nb_album")},
                              "fetched_at": e.get("at")} for a, e in sorted(artists.items())],
        "albums.jsonl.gz": [_album_row(a, e) for a, e in sorted(albums.items())],
    }
    statuses = Counter(m["status"] for m in matched.values())
    agreement = Counter(m["agrees"] for m in matched.values() if m["agrees"] is not None)
    manifest = {"partition": partition, "stage": "deezer_enrich", "schema_version": SCHEMA_VERSION,
                "matcher_version": matching.MATCHER_VERSION, "songs": len(songs),
                "statuses": {s: statuses.get(s, 0) for s in matching.STATUSES},
                "agreement": {"both_matched": sum(agreement.values()), "agree": agreement[True],
                              "disagree": agreement[False]},
                "rows": {name: len(rows) for name, rows in outputs.items()},
                "requests": gateway.request_counts(),
                "capabilities": gateway.capabilities,
                "completed_at": utc_now()}
    return outputs, manifest


def _match_row(song: Song, partition: str, m: dict) -> dict:
    best = m["decision"].best if m["decision"] else None
    return {"track_id": song.track_id, "msd_partition": partition, "status": m["status"],
            "deezer_track_id": m["track"]["id"] if m["status"] == MATCHED else None,
            "score": best.score if best else None, "method": m["method"], "rung": m["rung"], "query": m["query"],
            "agrees_with_spotify": m.get("agrees"), "matched_at": m["at"]}


def _track_row(t: dict) -> dict:
    return {"deezer_track_id": t["id"], "title": t["name"], "isrc": t.get("isrc"),
            "duration_s": (t.get("duration_ms") or 0) // 1000 or None, "popularity_rank": t.get("rank"),
            # Deezer's bpm 0 means "not measured", not a tempo.
            "bpm": t.get("bpm") or None, "gain": t.get("gain"), "explicit": t.get("explicit"),
            "release_date": t.get("release_date"), "primary_artist_id": t["artists"][0]["id"] if t["artists"] else None,
            "artist_ids": [a["id"] for a in t["artists"]], "album_id": t["album"]["id"]}


def _album_row(album_id: str, entry: dict) -> dict:
    obj = entry.get("obj") or {}
    return {"deezer_album_id": album_id, "title": obj.get("title"), "genres": obj.get("genres"),
            "record_label": obj.get("label"), "fans": obj.get("fans"), "release_date": obj.get("release_date"),
            "record_type": obj.get("record_type"), "fetched_at": entry.get("at")}
