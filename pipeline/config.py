"""Configuration: ``luigi.cfg`` sections read through Luigi ``Config`` classes.

Every path in ``luigi.cfg`` is written as ``${MUSIC_ETL_…}`` so the environment can move it;
the defaults below are set (only where the variable is unset) when ``pipeline`` is imported,
so a fresh checkout runs with nothing exported. A whole file can also be layered on top with
``LUIGI_CONFIG_PATH=config/prod.cfg``, which Luigi reads after ``luigi.cfg``.
Relative paths are relative to the directory the command runs in (the project root).
"""

from __future__ import annotations

import os

import luigi

ENVIRONMENT_DEFAULTS = {
    "MUSIC_ETL_MSD_ROOT": "data/msd",
    "MUSIC_ETL_STAGING_ROOT": "data/staging",
    # Blank means AWS's own endpoint; set it for moto, MinIO or another S3-compatible store.
    "MUSIC_ETL_S3_ENDPOINT_URL": "",
    "MUSIC_ETL_S3_REGION": "us-east-1",
}


def apply_environment_defaults() -> None:
    for name, value in ENVIRONMENT_DEFAULTS.items():
        os.environ.setdefault(name, value)


apply_environment_defaults()


class msd(luigi.Config):  # noqa: N801 - Luigi maps the class name to the [msd] section
    root = luigi.Parameter(
        default=ENVIRONMENT_DEFAULTS["MUSIC_ETL_MSD_ROOT"],
        description="MSD root: the folder holding A/, B/, … (or MillionSongSubset/ with data/ inside)",
    )


class staging(luigi.Config):  # noqa: N801
    root = luigi.Parameter(
        default=ENVIRONMENT_DEFAULTS["MUSIC_ETL_STAGING_ROOT"],
        description="where stage outputs go: a local folder or s3://bucket/prefix",
    )


class extract(luigi.Config):  # noqa: N801
    fail_on_quarantine = luigi.BoolParameter(
        default=False,
        parsing=luigi.BoolParameter.EXPLICIT_PARSING,
        description="true: an invalid MSD file fails its partition; false: it is listed in the manifest and skipped",
    )
    gzip_level = luigi.IntParameter(default=1, description="gzip level of the staged JSON Lines (1 fast … 9 small)")
