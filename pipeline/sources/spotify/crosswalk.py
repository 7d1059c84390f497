"""MSD → Spotify crosswalk: songs with a known Spotify id skip search and are verified by id.

``[spotify] crosswalk`` points at one of:

* a CSV (comma or tab separated, header optional) of two columns: an MSD song id (``SO…``)
  or track id (``TR…``), and a Spotify track id, ``spotify:track:<id>`` URI or
  ``open.spotify.com/track/<id>`` URL; several rows per song are allowed;
* an Echo Nest ``song/profile`` JSON file, or a folder of them (the AcousticBrainz "Million
  Song Dataset Echo Nest mapping archive", one file per song), read from
  ``response.songs[].tracks[]`` entries whose ``catalog`` is ``spotify`` or ``spotify-WW``.

The archive holds a million small files; convert it once with
``python -m pipeline.sources.spotify.crosswalk ARCHIVE_DIR --out crosswalk.csv`` and point the config
at the CSV, which every partition then reads in about a second.
"""

from __future__ import annotations

import argparse
import csv
import functools
import hashlib
import os
import re
import sys

import orjson

from pipeline.errors import TerminalError
from pipeline.msd.echo_nest import ProfileError, profile_files, profile_tracks

_SPOTIFY_ID = re.compile(r"(?:spotify(?:-WW)?:track:|open\.spotify\.com/track/)?([0-9A-Za-z]{22})(?:\?.*)?$")
_MSD_ID = re.compile(r"^(SO|TR)[A-Z0-9]{16}$")


class CrosswalkError(TerminalError):
    pass


def spotify_track_id(value: str) -> str | None:
    match = _SPOTIFY_ID.search(value.strip())
    return match.group(1) if match else None


def _from_csv(path: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        sample = fh.read(4096)
        fh.seek(0)
        dialect = "excel-tab" if "\t" in sample.splitlines()[0] else "excel"
        for number, row in enumerate(csv.reader(fh, dialect), start=1):
            if not row or not any(cell.strip() for cell in row):
                continue
            if len(row) < 2:
                raise CrosswalkError(f"crosswalk {path}, line {number}: expected two columns (MSD id, Spotify id), got {row!r}")
            key, value = row[0].strip(), row[1].strip()
            if number == 1 and not _MSD_ID.match(key):
                continue  # header
            spotify_id = spotify_track_id(value)
            if not _MSD_ID.match(key) or spotify_id is None:
                raise CrosswalkError(
                    f"crosswalk {path}, line {number}: `{key}`, `{value}` is not an MSD song/track id "
                    f"(SO…/TR…, 18 characters) and a Spotify track id; fix or remove the line")
            ids = out.setdefault(key, [])
            if spotify_id not in ids:
                ids.append(spotify_id)
    return out


def _from_echo_nest_json(path: str, out: dict[str, list[str]]) -> None:
    try:
        for song_id, catalog, foreign_id in profile_tracks(path):
            if catalog.startswith("spotify"):
                spotify_id = spotify_track_id(foreign_id)
                if spotify_id:
                    ids = out.setdefault(song_id, [])
                    if spotify_id not in ids:
                        ids.append(spotify_id)
    except ProfileError as exc:
        raise CrosswalkError(f"crosswalk file {path} is not readable JSON ({str(exc).split('(', 1)[-1].rsplit(')', 1)[0]}); "
                             f"remove it or fix it") from None


def load_crosswalk(path: str) -> dict[str, list[str]]:
    """MSD song or track id → Spotify track ids, in the order the source lists them."""
    if not os.path.exists(path):
        raise CrosswalkError(f"[spotify] crosswalk `{path}` does not exist; point it at a CSV or Echo Nest JSON, or leave it blank")
    return _load(path, _signature(path))


def crosswalk_digest(path: str) -> str:
    """What the crosswalk says, as a digest: the same mapping in another file or format has the
    same digest, an edited one another."""
    return _digest(path, _signature(path))


def _signature(path: str) -> tuple:
    # A long-lived worker re-reads a crosswalk that was edited since it last read it.
    stat = os.stat(path)
    return stat.st_size, stat.st_mtime_ns


@functools.lru_cache(maxsize=2)
def _digest(path: str, signature: tuple) -> str:
    mapping = load_crosswalk(path)
    return hashlib.sha256(orjson.dumps(mapping, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


@functools.lru_cache(maxsize=2)
def _load(path: str, signature: tuple) -> dict[str, list[str]]:
    if os.path.isdir(path):
        out: dict[str, list[str]] = {}
        for file in profile_files(path):
            _from_echo_nest_json(file, out)
        return out
    if path.endswith(".json"):
        out = {}
        _from_echo_nest_json(path, out)
        return out
    return _from_csv(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.sources.spotify.crosswalk",
                                     description="Convert an Echo Nest JSON archive (or any accepted crosswalk) to the two-column CSV.")
    parser.add_argument("source")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    mapping = load_crosswalk(args.source)
    with open(args.out, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["msd_id", "spotify_track_id"])
        for key in sorted(mapping):
            for spotify_id in mapping[key]:
                writer.writerow([key, spotify_id])
    print(f"{len(mapping)} songs → {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
