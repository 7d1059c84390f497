"""The rows SpotifyEnrich stages: one per MSD song (matches), per matched track, artist and feature set;
and what another source reads of them (``staged_matches``)."""

from __future__ import annotations

from pipeline import staging
from pipeline.matching import decide as matching
from pipeline.matching.decide import AMBIGUOUS, MATCHED, Song


def match_row(song: Song, partition: str, status: str, method: str | None, rung: str | None, query: str | None,
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


def track_row(track: dict, fetched_at: str) -> dict:
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


def artist_row(artist_id: str, name: str | None, entry: dict | None) -> dict:
    obj = (entry or {}).get("obj") or {}
    genres = obj.get("genres")
    return {"spotify_artist_id": artist_id, "name": obj.get("name") or name,
            "genres": genres, "popularity": obj.get("popularity"), "followers": obj.get("followers"),
            "fetched_at": (entry or {}).get("at")}


def staged_matches(folder: str) -> tuple[dict[str, dict], dict[str, str]]:
    """What another source reads of a partition's Spotify enrichment (``folder``): MSD track id → the staged
    Spotify track it matched (with its lead artist's name, for agreement), and → its ISRC where it has one."""
    artist_names = {a["spotify_artist_id"]: a["name"]
                    for a in staging.read_jsonl_gz(staging.target(f"{folder}/artists.jsonl.gz"))}
    tracks = {t["spotify_track_id"]: {**t, "primary_artist_name": artist_names.get(t["primary_artist_id"])}
              for t in staging.read_jsonl_gz(staging.target(f"{folder}/tracks.jsonl.gz"))}
    matched = {m["track_id"]: tracks[m["spotify_track_id"]]
               for m in staging.read_jsonl_gz(staging.target(f"{folder}/matches.jsonl.gz"))
               if m.get("spotify_track_id") in tracks}
    return matched, {track_id: t["isrc"] for track_id, t in matched.items() if t.get("isrc")}
