"""Echo Nest ``song/profile`` JSON files (the AcousticBrainz "Million Song Dataset Echo Nest mapping archive", one file
per MSD song): the catalog ids the Echo Nest knew for each song, read for any catalog.

A file holds ``response.songs[]``, each with an ``id`` (the MSD song id, ``SO…``) and ``tracks[]`` whose
``catalog`` (``spotify``, ``spotify-WW``, ``musicbrainz``, …) says what ``foreign_id`` (``<catalog>:track:<id>``) is.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import orjson

from pipeline.errors import TerminalError


class ProfileError(TerminalError):
    pass


def profile_files(path: str) -> list[str]:
    """The JSON files under ``path`` (a file or a folder), in a stable order."""
    if not os.path.isdir(path):
        return [path]
    return [os.path.join(folder, name) for folder, _, names in sorted(os.walk(path)) for name in sorted(names)
            if name.endswith(".json")]


def profile_tracks(path: str) -> Iterator[tuple[str, str, str]]:
    """(MSD song id, catalog, foreign id) of every track entry in one profile file."""
    try:
        with open(path, "rb") as fh:
            doc = orjson.loads(fh.read())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ProfileError(f"Echo Nest profile {path} is not readable JSON ({exc}); remove it or fix it") from None
    for song in (doc.get("response") or {}).get("songs") or []:
        song_id = song.get("id")
        if not song_id:
            continue
        for track in song.get("tracks") or []:
            yield song_id, str(track.get("catalog", "")), str(track.get("foreign_id", ""))
