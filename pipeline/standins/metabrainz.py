"""The demo's MetaBrainz: a canonical dump in the published layout, Echo Nest profiles and a ListenBrainz sandbox,
all from one MusicBrainz world built from the generated sample (pipeline/standins/musicbrainz_world.py).

The dump and the profiles are written once beside the sample (``<msd root>/AdditionalFiles/musicbrainz/``): the
same sample gives the same bytes, so the dump's SHA-256 pin holds across demo runs. Each source starts its own
sandbox server on the same world (the requests each receives are that source's).
"""

from __future__ import annotations

import contextlib
import functools
import os
from datetime import date

from pipeline.standins.canonical_dump import write_canonical_dump
from pipeline.standins.listenbrainz_sandbox import SANDBOX_TOKEN, ListenBrainzSandboxServer, ListenBrainzState
from pipeline.standins.musicbrainz_world import build_world, write_echo_nest_profiles
from pipeline.standins.spotify_catalog import load_identities

DEMO_STAMP = "20261201-000000"


def demo_folder(msd_root: str) -> str:
    return os.path.join(msd_root, "AdditionalFiles", "musicbrainz")


def written(msd_root: str, world) -> tuple[str, str, str]:
    """(dump path, its SHA-256, the profiles folder), written once per sample."""
    folder = demo_folder(msd_root)
    dump = os.path.join(folder, f"musicbrainz-canonical-dump-{DEMO_STAMP}.tar.zst")
    profiles = os.path.join(folder, "echo_nest_profiles")
    if not os.path.exists(dump + ".sha256"):
        os.makedirs(folder, exist_ok=True)
        dump = write_canonical_dump(world, folder, stamp=DEMO_STAMP)
    if not os.path.isdir(profiles):
        write_echo_nest_profiles(world, profiles + ".partial")
        os.replace(profiles + ".partial", profiles)
    with open(dump + ".sha256", encoding="ascii") as fh:
        sha256 = fh.read().split()[0]
    return dump, sha256, profiles


def world_of(msd_root: str):
    """The sample's world, built once per process and identities file (both sources' hooks start on it)."""
    path = os.path.join(msd_root, "AdditionalFiles", "sample_identities.jsonl")
    return _world(msd_root, os.stat(path).st_mtime_ns if os.path.exists(path) else None)


@functools.lru_cache(maxsize=2)
def _world(msd_root: str, signature):
    return build_world(load_identities(msd_root))


@contextlib.contextmanager
def started(msd_root: str, for_source: str, day: date | None = None):
    """A ListenBrainz sandbox on the sample's world, the configuration pointed at the demo's dump, profiles and
    token; yields (server, world, dump path). Its counts are those of ``day`` (default: today, as the clock says)."""
    world = world_of(msd_root)
    dump, sha256, profiles = written(msd_root, world)
    os.environ["MUSIC_ETL_MUSICBRAINZ_CANONICAL_DUMP"] = dump
    os.environ["MUSIC_ETL_MUSICBRAINZ_CANONICAL_DUMP_SHA256"] = sha256
    os.environ["MUSIC_ETL_MUSICBRAINZ_ECHO_NEST_PROFILES"] = profiles
    os.environ.setdefault("LISTENBRAINZ_TOKEN", SANDBOX_TOKEN)
    server = ListenBrainzSandboxServer(ListenBrainzState(world, today=date.today if day is None else lambda: day)).start()
    try:
        yield server, world, dump
    finally:
        server.stop()
