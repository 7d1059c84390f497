"""Configuration: ``luigi.cfg`` sections read through Luigi ``Config`` classes.

Each path-like setting is found in this order: the value a config file gives (``luigi.cfg``,
then ``LUIGI_CONFIG_PATH=config/prod.cfg`` on top), else its ``MUSIC_ETL_…`` environment
variable, else the built-in default below, so a fresh checkout runs with nothing exported and
a deployment moves paths with the environment alone. Nothing here writes the environment.
Relative paths are relative to the directory the command runs in (the project root).

A parameter marked ``significant=False`` cannot change what a stage writes (timeouts, retries,
batch sizes, compression); every other one is part of its stage's output version
(pipeline/versioning.py).
"""

from __future__ import annotations

import json
import os

import luigi
import luigi.configuration

# Written by `make download-msd-subset` (pipeline/msd/download.py) next to what it unpacked.
SUBSET_MARKER = os.path.join("data", ".msd-download.json")


def downloaded_subset_root() -> str | None:
    """The MSD root `make download-msd-subset` unpacked, if it ran in this folder."""
    if not os.path.exists(SUBSET_MARKER):
        return None
    with open(SUBSET_MARKER, encoding="utf-8") as fh:
        return json.load(fh).get("msd_root")


class EnvironmentParameter(luigi.Parameter):
    """A setting that a config file gives, else the environment variable ``env``, else ``fallback``
    (a value, or a function of nothing for a default that depends on this machine)."""

    def __init__(self, env: str, fallback="", **kwargs):
        self.env, self.fallback = env, fallback
        kwargs.setdefault("description", "")
        kwargs["description"] += f" (environment {env} when the config file leaves it unset)"
        super().__init__(default="", **kwargs)

    def normalize(self, x):
        if x:
            return x
        if os.environ.get(self.env):
            return os.environ[self.env]
        return self.fallback() if callable(self.fallback) else self.fallback


def s3_options() -> dict:
    """boto3 options ``luigi.contrib.s3.S3Client`` takes on top of the ``[s3]`` section: the endpoint
    and region from the environment when that section does not set them (blank: AWS itself)."""
    section = luigi.configuration.get_config()
    options = {}
    for key, env, fallback in (("endpoint_url", "MUSIC_ETL_S3_ENDPOINT_URL", None),
                               ("region_name", "MUSIC_ETL_S3_REGION", "us-east-1")):
        if not section.has_option("s3", key) or not section.get("s3", key):
            options[key] = os.environ.get(env) or fallback
    return options


class msd(luigi.Config):  # noqa: N801 - Luigi maps the class name to the [msd] section
    root = EnvironmentParameter(
        "MUSIC_ETL_MSD_ROOT", lambda: downloaded_subset_root() or "data/msd",
        description="MSD root: the folder holding A/, B/, … (or MillionSongSubset/ with data/ inside); "
                    "default: the subset `make download-msd-subset` unpacked, else data/msd")
    # The 10,000-track subset (1.8 GB), `millionsongsubset_full.tar.gz`, first published at
    # static.echonest.com; point this at wherever you can reach a copy.
    subset_url = EnvironmentParameter("MUSIC_ETL_MSD_SUBSET_URL", "http://static.echonest.com/millionsongsubset_full.tar.gz",
                                      significant=False, description="where `make download-msd-subset` fetches the subset archive")


class staging(luigi.Config):  # noqa: N801
    root = EnvironmentParameter("MUSIC_ETL_STAGING_ROOT", "data/staging", significant=False,
                                description="where stage outputs go: a local folder or s3://bucket/prefix")


class extract(luigi.Config):  # noqa: N801
    # Whether an invalid file fails the partition, not what a finished partition holds.
    fail_on_quarantine = luigi.BoolParameter(
        default=False, significant=False,
        parsing=luigi.BoolParameter.EXPLICIT_PARSING,
        description="true: an invalid MSD file fails its partition; false: it is listed in the manifest and skipped",
    )
    gzip_level = luigi.IntParameter(default=1, significant=False, description="gzip level of the staged JSON Lines (1 fast … 9 small)")


class spotify(luigi.Config):  # noqa: N801
    """Where the Web API is and how enrichment may use it. Credentials are not here: they come from
    SPOTIPY_CLIENT_ID / SPOTIPY_CLIENT_SECRET in the environment only."""

    # Where the answers come from, not what is asked: the answer store keeps answers whichever URL gave them.
    api_url = EnvironmentParameter("MUSIC_ETL_SPOTIFY_API_URL", "https://api.spotify.com/v1/", significant=False,
                                   description="Web API base URL")
    token_url = EnvironmentParameter("MUSIC_ETL_SPOTIFY_TOKEN_URL", "https://accounts.spotify.com/api/token",
                                     significant=False, description="client-credentials token endpoint")
    max_retry_after = luigi.FloatParameter(
        default=60.0, significant=False, description="longest Retry-After (s) waited out; a longer 429 (daily quota) stops the task")
    timeout = luigi.FloatParameter(default=10.0, significant=False, description="seconds before one HTTP request is abandoned")
    retry_backoff = luigi.FloatParameter(
        default=0.5, significant=False, description="backoff factor (s) for 5xx and connection retries: waits of 0.5, 1, 2, 4 s")
    search_limit = luigi.IntParameter(default=10, description="results per search (Development Mode allows at most 10)")
    match_threshold = luigi.FloatParameter(default=0.80, description="lowest score (0..1) a candidate needs to match")
    crosswalk = EnvironmentParameter(
        "MUSIC_ETL_SPOTIFY_CROSSWALK", "",
        description="MSD id → Spotify id file (CSV or Echo Nest JSON); blank: search every song; "
                    "its content, not its path, versions enrichment")
    min_interval = luigi.FloatParameter(
        default=0.0, significant=False,
        description="seconds between requests from one worker (0: as fast as Spotify allows; after a 429 the "
                    "client slows to 90%% of the rate that met it)")
    fetch_artists = luigi.BoolParameter(default=True, parsing=luigi.BoolParameter.EXPLICIT_PARSING,
                                        description="look up matched tracks' artists (genres, popularity, followers)")
    fetch_audio_features = luigi.BoolParameter(default=True, parsing=luigi.BoolParameter.EXPLICIT_PARSING,
                                               description="fetch audio features where the app may")


class deezer(luigi.Config):  # noqa: N801
    """Deezer's keyless public API: ``DeezerEnrich`` per partition, on unless ``[sources] enabled`` leaves it out."""

    api_url = EnvironmentParameter("MUSIC_ETL_DEEZER_API_URL", "https://api.deezer.com/", significant=False,
                                   description="API base URL")
    rate_limit = luigi.IntParameter(default=50, significant=False,
                                    description="requests per rate_window seconds for every process on this host")
    rate_window = luigi.FloatParameter(default=5.0, significant=False, description="seconds of Deezer's rate window")
    pace_file = EnvironmentParameter("MUSIC_ETL_DEEZER_PACE_FILE", "", significant=False,
                                     description="the file every process on the host paces through (blank: one in the "
                                                 "system's temporary folder)")
    timeout = luigi.FloatParameter(default=10.0, significant=False, description="seconds before one request is abandoned")
    search_limit = luigi.IntParameter(default=10, description="results per search")
    match_threshold = luigi.FloatParameter(default=0.80, description="lowest score (0..1) a candidate needs to match")


class refresh(luigi.Config):  # noqa: N801
    """The daily refresh (``DailyRefresh``): what it may spend, and whose day it runs on. None of it
    changes what a day's snapshot holds once its plan is made (a day is planned once)."""

    spotify_budget = luigi.IntParameter(
        default=500, significant=False,
        description="Spotify requests a day's refresh may plan; a Development-Mode app has ~1-2.6k a day for "
                    "everything, enrichment included")
    deezer_budget = luigi.IntParameter(
        default=100_000, significant=False,
        description="Deezer requests a day's refresh may plan (at 50 per 5 s, 100,000 take about 2 h 47 min)")
    timezone = EnvironmentParameter(
        "MUSIC_ETL_REFRESH_TIMEZONE", "UTC", significant=False,
        description="the IANA time zone whose calendar names the days (`python -m pipeline refresh` runs up to "
                    "today there; a date later than that is refused)")
    days_back = luigi.IntParameter(
        default=30, significant=False,
        description="how many missed days `python -m pipeline refresh` catches up (RangeDaily's days_back)")


SOURCES = ("spotify", "deezer")


def parse_sources(value: str) -> list[str]:
    """``spotify, deezer`` → ``["spotify", "deezer"]``, each name checked (TerminalError naming the fix)."""
    names = [n.strip().lower() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in SOURCES]
    if unknown or "spotify" not in names:
        from pipeline.errors import TerminalError
        raise TerminalError(f"[sources] enabled = `{value}` (environment MUSIC_ETL_SOURCES): expected `spotify, deezer` "
                            f"(the default) or `spotify`; Spotify cannot be left out, Deezer matches by the ISRCs "
                            f"it finds.")
    return names


class sources(luigi.Config):  # noqa: N801
    # Spotify is always on (Deezer reads its ISRCs); Deezer can be turned off.
    enabled = EnvironmentParameter("MUSIC_ETL_SOURCES", "spotify, deezer", significant=False,
                                   description="enrichment sources, comma-separated: spotify, deezer (the default) "
                                               "or spotify alone")


def enabled_sources() -> list[str]:
    """``[sources] enabled`` as a list, each name checked."""
    return parse_sources(sources().enabled)


class warehouse(luigi.Config):  # noqa: N801
    url = EnvironmentParameter(
        "MUSIC_ETL_WAREHOUSE_URL", "duckdb:///data/warehouse.duckdb", significant=False,
        description="duckdb:///path.duckdb, postgresql://user@host:5432/db or redshift://user@cluster:5439/db; "
                    "passwords from PGPASSWORD or ~/.pgpass, never in this URL")
    analyst_role = EnvironmentParameter(
        "MUSIC_ETL_ANALYST_ROLE", "music_etl_analyst", significant=False,
        description="role granted read-only access to every table and view (PostgreSQL, Redshift); analysts log in "
                    "as users made members of it; none: no grants")


class redshift(luigi.Config):  # noqa: N801
    iam_role = EnvironmentParameter("MUSIC_ETL_REDSHIFT_IAM_ROLE", "", significant=False,
                                    description="ARN of the IAM role Redshift assumes for COPY from the staging bucket")
    region = luigi.Parameter(default="", significant=False, description="staging bucket region, when it differs from the cluster's")
