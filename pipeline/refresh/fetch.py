"""One partition's share of a day's refresh, per source: the dated answers, as snapshot rows.

Each answer is stored under its day (``track@2026-11-30``…, pipeline/answers.py), so a day run
again, or resumed after a quota stop, is answered from the store: nothing is bought twice.
"""

from __future__ import annotations

from pipeline.deezer.enrich import DeezerGateway
from pipeline.errors import TransientError
from pipeline.spotify.gateway import Gateway

AVAILABLE, RELINKED, GONE, UNAVAILABLE = "available", "relinked", "gone", "unavailable"


class UnansweredError(TransientError):
    def __init__(self, source: str, partition: str, day: str, missing: int):
        super().__init__(f"{source} left {missing} track(s) of partition {partition} unanswered on {day} (server errors); "
                         f"rerun the day: every answer received is stored and will not be asked again")


def _track_rows(day: str, partition_tracks: list, state_of) -> list[dict]:
    rows = []
    for track_id, msd_tracks in partition_tracks:
        popularity, availability, relinked_to, at = state_of(track_id)
        rows += [{"snapshot_date": day, "source_track_id": track_id, "msd_track_id": msd_track,
                  "msd_partition": partition, "popularity": popularity, "availability": availability,
                  "relinked_to": relinked_to, "fetched_at": at} for msd_track, partition in msd_tracks]
    return rows


def deezer_partition(gateway: DeezerGateway, day: str, part: dict) -> dict[str, list[dict]]:
    def state_of(track_id: str):
        entry = gateway.track_on(day, track_id)
        obj = entry.get("obj")
        if obj is None:
            return None, GONE, None, entry["at"]
        if obj["id"] != track_id:
            return obj.get("rank"), RELINKED, obj["id"], entry["at"]
        if obj.get("readable") is False:
            if obj.get("alternative"):
                return obj.get("rank"), RELINKED, obj["alternative"], entry["at"]
            return obj.get("rank"), UNAVAILABLE, None, entry["at"]
        return obj.get("rank"), AVAILABLE, None, entry["at"]

    tracks = _track_rows(day, part["tracks"], state_of)
    artists = []
    for artist_id in part["artists"]:
        entry = gateway.artist_on(day, artist_id)
        artists.append({"snapshot_date": day, "source_artist_id": artist_id,
                        "followers": (entry.get("obj") or {}).get("nb_fan"), "popularity": None, "fetched_at": entry["at"]})
    return _with_source("deezer", tracks, artists)


def spotify_partition(gateway: Gateway, day: str, part: dict, partition: str) -> dict[str, list[dict]]:
    ids = [track_id for track_id, _ in part["tracks"]]
    answers = gateway.tracks_on(day, ids)
    if len(answers) < len(ids):  # transient failures: the day is not done until each has its answer
        raise UnansweredError("Spotify", partition, day, len(ids) - len(answers))

    def state_of(track_id: str):
        entry = answers[track_id]
        obj = entry.get("obj")
        if obj is None:
            return None, GONE, None, entry["at"]
        if obj["id"] != track_id:  # relinked: Spotify answered for another instance of the track
            return obj.get("popularity"), RELINKED, obj["id"], entry["at"]
        return obj.get("popularity"), AVAILABLE, None, entry["at"]

    tracks = _track_rows(day, part["tracks"], state_of)
    artists = [{"snapshot_date": day, "source_artist_id": artist_id, "followers": (e.get("obj") or {}).get("followers"),
                "popularity": (e.get("obj") or {}).get("popularity"), "fetched_at": e["at"]}
               for artist_id, e in sorted(gateway.artists_on(day, part["artists"]).items())]
    return _with_source("spotify", tracks, artists)


def _with_source(source: str, tracks: list[dict], artists: list[dict]) -> dict[str, list[dict]]:
    return {"tracks.jsonl.gz": [{"source": source, **r} for r in tracks],
            "artists.jsonl.gz": [{"source": source, **r} for r in artists]}
