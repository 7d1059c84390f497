"""``[acousticbrainz]``: the pinned AcousticBrainz low-level feature dumps (rhythm, tonal) and where their index goes."""

from __future__ import annotations

import os

import luigi

from pipeline.config import EnvironmentParameter, staging


def index_beside_staging() -> str:
    """``acousticbrainz`` in the folder holding a local staging root (``data/acousticbrainz``); with S3 staging,
    this machine's cache folder: DuckDB reads a local copy of the dumps' index."""
    root = staging().root.rstrip("/")
    if root.startswith("s3://"):
        return os.path.join(os.path.expanduser("~"), ".cache", "music-etl", "acousticbrainz")
    return os.path.join(os.path.dirname(os.path.normpath(root)), "acousticbrainz")


class acousticbrainz(luigi.Config):  # noqa: N801
    """AcousticBrainz's features of every MSD song MusicBrainz resolved: ``AcousticBrainzJoin`` once per run's songs,
    ``AcousticBrainzFeatures`` per partition; on when ``[sources] enabled`` names it (with ``musicbrainz``)."""

    rhythm_dump = EnvironmentParameter(
        "MUSIC_ETL_ACOUSTICBRAINZ_RHYTHM_DUMP", "", significant=False,
        description="the rhythm dump (acousticbrainz-lowlevel-features-20220623-rhythm.tar.zst: bpm, danceability, "
                    "onset rate): a local path, s3://… or https://…; blank: no rhythm features")
    rhythm_dump_sha256 = EnvironmentParameter(
        "MUSIC_ETL_ACOUSTICBRAINZ_RHYTHM_DUMP_SHA256", "",
        description="the SHA-256 the rhythm dump must have (its line in the sha256sums file beside it); a dump with "
                    "another digest is refused")
    tonal_dump = EnvironmentParameter(
        "MUSIC_ETL_ACOUSTICBRAINZ_TONAL_DUMP", "", significant=False,
        description="the tonal dump (acousticbrainz-lowlevel-features-20220623-tonal.tar.zst: key, scale, tuning): "
                    "a local path, s3://… or https://…; blank: no key features")
    tonal_dump_sha256 = EnvironmentParameter(
        "MUSIC_ETL_ACOUSTICBRAINZ_TONAL_DUMP_SHA256", "",
        description="the SHA-256 the tonal dump must have (its line in sha256sums); another digest is refused")
    index_dir = EnvironmentParameter(
        "MUSIC_ETL_ACOUSTICBRAINZ_INDEX_DIR", index_beside_staging, significant=False,
        shown_default="acousticbrainz beside a local staging root (data/acousticbrainz); "
                      "~/.cache/music-etl/acousticbrainz with S3",
        description="a local folder for each dump's index (its submissions as Parquet, built once per dump version) "
                    "and downloaded dumps")
    memory_limit = luigi.Parameter(
        default="512MB", significant=False,
        description="DuckDB's memory limit while a dump is indexed and joined (it spills to index_dir beyond it)")
