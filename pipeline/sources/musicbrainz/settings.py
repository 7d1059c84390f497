"""``[musicbrainz]``: where MusicBrainz identities come from, cheapest first: Echo Nest profiles, the canonical dump,
then ListenBrainz's metadata lookup."""

from __future__ import annotations

import os

import luigi

from pipeline.config import EnvironmentParameter, staging


def index_beside_staging() -> str:
    """``musicbrainz`` in the folder holding a local staging root (``data/musicbrainz``); with S3 staging, this
    machine's cache folder: DuckDB joins a local copy of the dump's index."""
    root = staging().root.rstrip("/")
    if root.startswith("s3://"):
        return os.path.join(os.path.expanduser("~"), ".cache", "music-etl", "musicbrainz")
    return os.path.join(os.path.dirname(os.path.normpath(root)), "musicbrainz")


class musicbrainz(luigi.Config):  # noqa: N801
    """MusicBrainz identity of every MSD song: ``MusicBrainzResolve`` once per run's songs, ``MusicBrainzIdentity`` per
    partition; on when ``[sources] enabled`` names it."""

    canonical_dump = EnvironmentParameter(
        "MUSIC_ETL_MUSICBRAINZ_CANONICAL_DUMP", "", significant=False,
        description="the MusicBrainz canonical dump (musicbrainz-canonical-dump-….tar.zst): a local path, s3://… or "
                    "https://…; blank: no offline join")
    canonical_dump_sha256 = EnvironmentParameter(
        "MUSIC_ETL_MUSICBRAINZ_CANONICAL_DUMP_SHA256", "",
        description="the SHA-256 the dump must have (its .sha256 file); a dump with another digest is refused")
    echo_nest_profiles = EnvironmentParameter(
        "MUSIC_ETL_MUSICBRAINZ_ECHO_NEST_PROFILES", "", significant=False,
        description="Echo Nest song/profile JSON files (a file or a folder) whose musicbrainz:track: entries name "
                    "recordings; blank: none")
    index_dir = EnvironmentParameter(
        "MUSIC_ETL_MUSICBRAINZ_INDEX_DIR", index_beside_staging, significant=False,
        shown_default="musicbrainz beside a local staging root (data/musicbrainz); ~/.cache/music-etl/musicbrainz with S3",
        description="a local folder for the dump's index (built once per dump version) and downloaded dumps")
    lookup = luigi.BoolParameter(
        default=True, description="ask ListenBrainz's metadata lookup for songs the profiles and the dump did not "
                                  "resolve (needs LISTENBRAINZ_TOKEN), and check every match's length with "
                                  "metadata/recording, whose answers give the first release years and tags; false: "
                                  "no request at all, and no years or tags (the dump has neither)")
    lookup_url = EnvironmentParameter("MUSIC_ETL_MUSICBRAINZ_LOOKUP_URL", "https://api.listenbrainz.org",
                                      significant=False, description="the ListenBrainz API that answers metadata lookups")
    length_tolerance_s = luigi.FloatParameter(
        default=10.0, description="seconds a looked-up recording's length may differ from MSD's duration")
    timeout = luigi.FloatParameter(default=30.0, significant=False, description="seconds before one request is abandoned")
    max_rate_limit_waits = luigi.IntParameter(
        default=5, significant=False,
        description="429 answers in a row waited out (each for its X-RateLimit-Reset-In) before the task stops")
