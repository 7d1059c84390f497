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

Every request goes through the gateway (gateway.py): answered from the store when it can be.
"""

from __future__ import annotations

import logging
from collections import Counter

from pipeline.matching import decide as matching
from pipeline.matching import ladder
from pipeline.matching.decide import MATCHED, Song
from pipeline.matching.names import fold, parse_title
from pipeline.sources.answers import utc_now
from pipeline.sources.deezer.gateway import DeezerGateway

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 3  # 3: lead artists only in artists.jsonl.gz; requests counted as sent
AGREE_DURATION_S = 3.0
ISRC_THRESHOLD = 0.60  # as for crosswalk ids: the ISRC is strong evidence, the check rejects another recording


def deezer_filters(title: str, artist: str) -> str:
    """Deezer's advanced search: double quotes, as its documentation writes them."""
    return f'artist:"{artist}" track:"{title}"' if artist else f'track:"{title}"'


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
    def search(rung: str, query: str) -> tuple[list[dict], str]:
        entry = gateway.search(query)
        return (entry.get("obj") or {}).get("items") or [], entry["at"]

    climbed = ladder.climb(song, search, threshold, gateway.search_limit, deezer_filters)
    track = None
    if climbed.best is not None:  # search hits lack bpm, gain and ISRC: the full track
        track = gateway.track(climbed.best["id"]).get("obj") or climbed.best
    return {"status": climbed.status, "track": track, "method": climbed.method, "rung": climbed.rung,
            "query": climbed.query, "decision": climbed.decision, "at": climbed.at}


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
                # "no data" for ids Deezer's own answers named (a fault, most likely): asked again by the next command
                "no_data_named": dict(sorted(gateway.no_data_named.items())),
                "ask_again": sorted([list(k) for k in gateway.ask_again]),
                # legitimate "not found" answers used (an ISRC no track has, a search without a hit), by kind
                "not_found": dict(sorted(gateway.not_found.items())),
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
