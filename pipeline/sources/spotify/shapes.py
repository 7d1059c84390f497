"""What the journal keeps of Spotify's objects: compact shapes of tracks, artists and audio features.

Shared by the gateway (which journals them) and the output rows (which are built from them).
"""

from __future__ import annotations

# What a Spotify app may or may not see, discovered once and stored (the gateway's module docstring says how).
CAPABILITIES = ("tracks_batch", "artists_batch", "audio_features", "artist_details")
FEATURE_FIELDS = ("danceability", "energy", "key", "loudness", "mode", "speechiness", "acousticness",
                  "instrumentalness", "liveness", "valence", "tempo", "time_signature")


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
