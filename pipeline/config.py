"""Configuration: ``luigi.cfg`` sections read through Luigi ``Config`` classes.

Every path in ``luigi.cfg`` is written as ``${MUSIC_ETL_…}`` so the environment can move it;
the defaults below are set (only where the variable is unset) when ``pipeline`` is imported,
so a fresh checkout runs with nothing exported. A whole file can also be layered on top with
``LUIGI_CONFIG_PATH=config/prod.cfg``, which Luigi reads after ``luigi.cfg``.
Relative paths are relative to the directory the command runs in (the project root).
"""

from __future__ import annotations

import json
import os

import luigi

ENVIRONMENT_DEFAULTS = {
    "MUSIC_ETL_MSD_ROOT": "data/msd",
    # The 10,000-track subset (1.8 GB), `millionsongsubset_full.tar.gz`, first published at
    # static.echonest.com; point this at wherever you can reach a copy.
    "MUSIC_ETL_MSD_SUBSET_URL": "http://static.echonest.com/millionsongsubset_full.tar.gz",
    "MUSIC_ETL_STAGING_ROOT": "data/staging",
    # Blank means AWS's own endpoint; set it for moto, MinIO or another S3-compatible store.
    "MUSIC_ETL_S3_ENDPOINT_URL": "",
    "MUSIC_ETL_S3_REGION": "us-east-1",
    # Spotify's own; the sandbox (python -m pipeline.spotify.sandbox) or any Web API stand-in can replace them.
    "MUSIC_ETL_SPOTIFY_API_URL": "https://api.spotify.com/v1/",
    "MUSIC_ETL_SPOTIFY_TOKEN_URL": "https://accounts.spotify.com/api/token",
    "MUSIC_ETL_SPOTIFY_CROSSWALK": "",
    # The embedded default: a DuckDB file under the working folder.
    "MUSIC_ETL_WAREHOUSE_URL": "duckdb:///data/warehouse.duckdb",
    "MUSIC_ETL_REDSHIFT_IAM_ROLE": "",
}


# Written by `make download-msd-subset` (pipeline/msd/download.py) next to what it unpacked.
SUBSET_MARKER = os.path.join("data", ".msd-download.json")


def downloaded_subset_root() -> str | None:
    """The MSD root `make download-msd-subset` unpacked, if it ran in this folder."""
    if not os.path.exists(SUBSET_MARKER):
        return None
    with open(SUBSET_MARKER, encoding="utf-8") as fh:
        return json.load(fh).get("msd_root")


def apply_environment_defaults() -> None:
    """Unset variables get their defaults; the MSD root is the downloaded subset once there is one."""
    for name, value in ENVIRONMENT_DEFAULTS.items():
        if name == "MUSIC_ETL_MSD_ROOT":
            value = downloaded_subset_root() or value
        os.environ.setdefault(name, value)


apply_environment_defaults()


class msd(luigi.Config):  # noqa: N801 - Luigi maps the class name to the [msd] section
    root = luigi.Parameter(
        default=ENVIRONMENT_DEFAULTS["MUSIC_ETL_MSD_ROOT"],
        description="MSD root: the folder holding A/, B/, … (or MillionSongSubset/ with data/ inside)",
    )
    subset_url = luigi.Parameter(default=ENVIRONMENT_DEFAULTS["MUSIC_ETL_MSD_SUBSET_URL"],
                                 description="where `make download-msd-subset` fetches the subset archive")


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


class spotify(luigi.Config):  # noqa: N801
    """Where the Web API is and how enrichment may use it. Credentials are not here: they come from
    SPOTIPY_CLIENT_ID / SPOTIPY_CLIENT_SECRET in the environment only."""

    api_url = luigi.Parameter(default=ENVIRONMENT_DEFAULTS["MUSIC_ETL_SPOTIFY_API_URL"], description="Web API base URL")
    token_url = luigi.Parameter(default=ENVIRONMENT_DEFAULTS["MUSIC_ETL_SPOTIFY_TOKEN_URL"],
                                description="client-credentials token endpoint")
    max_retry_after = luigi.FloatParameter(
        default=60.0, description="longest Retry-After (s) waited out; a longer 429 (daily quota) stops the task")
    timeout = luigi.FloatParameter(default=10.0, description="seconds before one HTTP request is abandoned")
    retry_backoff = luigi.FloatParameter(
        default=0.5, description="backoff factor (s) for 5xx and connection retries: waits of 0.5, 1, 2, 4 s")
    search_limit = luigi.IntParameter(default=10, description="results per search (Development Mode allows at most 10)")
    match_threshold = luigi.FloatParameter(default=0.80, description="lowest score (0..1) a candidate needs to match")
    crosswalk = luigi.Parameter(
        default="", description="MSD id → Spotify id file (CSV or Echo Nest JSON); blank: search every song")
    fetch_artists = luigi.BoolParameter(default=True, parsing=luigi.BoolParameter.EXPLICIT_PARSING,
                                        description="look up matched tracks' artists (genres, popularity, followers)")
    fetch_audio_features = luigi.BoolParameter(default=True, parsing=luigi.BoolParameter.EXPLICIT_PARSING,
                                               description="fetch audio features where the app may")
    journal_segment_size = luigi.IntParameter(
        default=50, description="S3 staging: answers per journal upload (a kill -9 may lose up to this many)")


class warehouse(luigi.Config):  # noqa: N801
    url = luigi.Parameter(
        default=ENVIRONMENT_DEFAULTS["MUSIC_ETL_WAREHOUSE_URL"],
        description="duckdb:///path.duckdb, postgresql://user@host:5432/db or redshift://user@cluster:5439/db; "
                    "passwords from PGPASSWORD or ~/.pgpass, never in this URL")


class redshift(luigi.Config):  # noqa: N801
    iam_role = luigi.Parameter(default="", description="ARN of the IAM role Redshift assumes for COPY from the staging bucket")
    region = luigi.Parameter(default="", description="staging bucket region, when it differs from the cluster's")
