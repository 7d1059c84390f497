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

import contextlib
import json
import os
import threading
from collections.abc import Iterator

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
    """A setting that a config file gives, else the environment variable ``env`` (or one of the
    ``old_env`` names earlier versions read), else ``fallback`` (a value, or a function of nothing
    for a default that depends on this machine). ``env`` is ``MUSIC_ETL_<SECTION>_<KEY>``."""

    def __init__(self, env: str, fallback="", old_env: tuple[str, ...] = (), shown_default: str = "", **kwargs):
        self.env, self.old_env, self.fallback = env, tuple(old_env), fallback
        self.shown_default = shown_default  # how the reference shows a default that depends on the machine
        kwargs.setdefault("description", "")
        super().__init__(default="", **kwargs)

    def environment_value(self) -> str | None:
        for name in (self.env, *self.old_env):
            if os.environ.get(name):
                return os.environ[name]
        return None

    def default_value(self) -> str:
        return self.fallback() if callable(self.fallback) else self.fallback

    def normalize(self, x):
        if x:
            return x
        return self.environment_value() or self.default_value()


# (section, key) → its raw value before a stand-in overrode it in this process (None: no file set it).
_OVERRIDES: dict[tuple[str, str], str | None] = {}
_OVERRIDES_LOCK = threading.Lock()


@contextlib.contextmanager
def overridden(section: str, **values) -> Iterator[None]:
    """Settings a stand-in needs in this process only (the demo's sandbox pace), restored when it ends.
    ``configured`` still reads what the configuration files and the environment say, so what is written
    about the configuration (the report's forecast) is the same inside the demo as outside it."""
    parser = luigi.configuration.get_config()
    mine = []
    with _OVERRIDES_LOCK:
        before = {key: parser.get(section, key, raw=True) if parser.has_option(section, key) else None
                  for key in values}
        if not parser.has_section(section):
            parser.add_section(section)
        for key, value in values.items():
            if (section, key) not in _OVERRIDES:
                _OVERRIDES[(section, key)] = before[key]
                mine.append(key)
            parser.set(section, key, str(value))
    try:
        yield
    finally:
        with _OVERRIDES_LOCK:
            for key, value in before.items():
                if value is None:
                    parser.remove_option(section, key)
                else:
                    parser.set(section, key, value)
            for key in mine:
                _OVERRIDES.pop((section, key), None)


def configured(settings: type[luigi.Config], name: str):
    """Setting ``name`` of a settings class as the configuration files and the environment give it, not as a
    stand-in overrode it in this process (``overridden``)."""
    section = settings.get_task_family()
    parser = luigi.configuration.get_config()
    with _OVERRIDES_LOCK:
        if (section, name) not in _OVERRIDES:
            return getattr(settings(), name)
        # Luigi reads a setting from the parser: the configured value is put back for this one read.
        overriding, configured_raw = parser.get(section, name, raw=True), _OVERRIDES[(section, name)]
        if configured_raw is None:
            parser.remove_option(section, name)
        else:
            parser.set(section, name, configured_raw)
        try:
            return getattr(settings(), name)
        finally:
            parser.set(section, name, overriding)


# [s3] is read by luigi.contrib.s3 itself (every key goes to boto3); these two also come from the environment.
S3_SETTINGS = (
    ("endpoint_url", "MUSIC_ETL_S3_ENDPOINT_URL", (), None,
     "another S3-compatible endpoint (moto, MinIO); blank: AWS itself"),
    ("region_name", "MUSIC_ETL_S3_REGION_NAME", ("MUSIC_ETL_S3_REGION",), "us-east-1", "the staging bucket's region"),
)


def s3_options() -> dict:
    """boto3 options ``luigi.contrib.s3.S3Client`` takes on top of the ``[s3]`` section: the endpoint
    and region from the environment when that section does not set them (blank: AWS itself)."""
    section = luigi.configuration.get_config()
    options = {}
    for key, env, old_env, fallback, _ in S3_SETTINGS:
        if not section.has_option("s3", key) or not section.get("s3", key):
            options[key] = next((os.environ[n] for n in (env, *old_env) if os.environ.get(n)), None) or fallback
    return options


class msd(luigi.Config):  # noqa: N801 - Luigi maps the class name to the [msd] section
    root = EnvironmentParameter(
        "MUSIC_ETL_MSD_ROOT", lambda: downloaded_subset_root() or "data/msd",
        shown_default="data/msd",
        description="MSD root: the folder holding A/, B/, … (or MillionSongSubset/ with data/ inside); "
                    "default: the subset `make download-msd-subset` unpacked, else data/msd")
    # The 10,000-track subset (1.8 GB), `millionsongsubset_full.tar.gz`, first published at
    # static.echonest.com; point this at wherever you can reach a copy.
    subset_url = EnvironmentParameter("MUSIC_ETL_MSD_SUBSET_URL", "http://static.echonest.com/millionsongsubset_full.tar.gz",
                                      significant=False, description="where `make download-msd-subset` fetches the subset archive")


class staging(luigi.Config):  # noqa: N801
    root = EnvironmentParameter("MUSIC_ETL_STAGING_ROOT", "data/staging", significant=False,
                                description="where stage outputs go: a local folder or s3://bucket/prefix")


def beside_staging(name: str, on_s3: str | None = None) -> str:
    """``name`` in the folder that holds the staging root (``data/staging`` → ``data/answers``); with staging on S3,
    the same place in its bucket, or ``on_s3`` (a local folder) when given."""
    root = staging().root.rstrip("/")
    if root.startswith("s3://"):
        if on_s3 is not None:
            return on_s3
        bucket, _, prefix = root[len("s3://"):].partition("/")
        parent = prefix.rpartition("/")[0]
        return f"s3://{bucket}/{parent + '/' if parent else ''}{name}"
    return os.path.join(os.path.dirname(os.path.normpath(root)), name)


def answers_beside_staging() -> str:
    """``answers`` beside the staging root, not inside it, so a mistyped staging root (``data/stagin``) still
    finds them."""
    return beside_staging("answers")


class answers(luigi.Config):  # noqa: N801
    root = EnvironmentParameter(
        "MUSIC_ETL_ANSWERS_ROOT", answers_beside_staging, significant=False,
        shown_default="answers beside the staging root (data/answers)",
        description="every source's paid-for answers and request ledgers: a local folder or s3://bucket/prefix; "
                    "blank: `answers` in the folder holding the staging root. Answers earlier versions kept "
                    "under <staging root>/answers/ are still read")


def logs_beside_staging() -> str:
    """``logs`` beside a local staging root (``data/logs``); with staging on S3, ``data/logs`` here: a log is this
    machine's record of its own commands."""
    return beside_staging("logs", on_s3=os.path.join("data", "logs"))


class logs(luigi.Config):  # noqa: N801
    dir = EnvironmentParameter(
        "MUSIC_ETL_LOGS_DIR", logs_beside_staging, significant=False,
        shown_default="logs beside a local staging root (data/logs)",
        description="where `run`, `rerun`, `refresh` and `extract` write Luigi's log and the tracebacks of failed "
                    "tasks, one file per command (the command prints its path when something fails; `--verbose` "
                    "shows the log on the screen too)")


class extract(luigi.Config):  # noqa: N801
    # Whether an invalid file fails the partition, not what a finished partition holds.
    fail_on_quarantine = luigi.BoolParameter(
        default=False, significant=False,
        parsing=luigi.BoolParameter.EXPLICIT_PARSING,
        description="true: an invalid MSD file fails its partition; false: it is listed in the manifest and skipped",
    )
    gzip_level = luigi.IntParameter(default=1, significant=False, description="gzip level of the staged JSON Lines (1 fast … 9 small)")


class refresh(luigi.Config):  # noqa: N801
    """The daily refresh (``DailyRefresh``): whose day it runs on. What each source may spend on a day is
    its own section's ``refresh_budget``. None of it changes what a day's snapshot holds once its plan
    is made (a day is planned once)."""

    timezone = EnvironmentParameter(
        "MUSIC_ETL_REFRESH_TIMEZONE", "UTC", significant=False,
        description="the IANA time zone whose calendar names the days (`python -m pipeline refresh` runs up to "
                    "today there; a date later than that is refused)")
    days_back = luigi.IntParameter(
        default=30, significant=False,
        description="how many missed days `python -m pipeline refresh` catches up (RangeDaily's days_back)")


class sources(luigi.Config):  # noqa: N801
    enabled = EnvironmentParameter(
        "MUSIC_ETL_SOURCES_ENABLED", "", old_env=("MUSIC_ETL_SOURCES",), significant=False,
        description="enrichment sources, comma-separated (`python -m pipeline status` lists them); blank: every "
                    "source that is on by default")
    plugins = EnvironmentParameter(
        "MUSIC_ETL_SOURCES_PLUGINS", "", significant=False,
        description="modules outside this package that each define a source (SOURCE), comma-separated; "
                    "see docs/ADDING_A_SOURCE.md")


class warehouse(luigi.Config):  # noqa: N801
    url = EnvironmentParameter(
        "MUSIC_ETL_WAREHOUSE_URL", "duckdb:///data/warehouse.duckdb", significant=False,
        description="duckdb:///path.duckdb, postgresql://user@host:5432/db or redshift://user@cluster:5439/db; "
                    "passwords from PGPASSWORD or ~/.pgpass, never in this URL")
    analyst_role = EnvironmentParameter(
        "MUSIC_ETL_WAREHOUSE_ANALYST_ROLE", "music_etl_analyst", old_env=("MUSIC_ETL_ANALYST_ROLE",), significant=False,
        description="role granted read-only access to every table and view (PostgreSQL, Redshift); analysts log in "
                    "as users made members of it; none: no grants")


class redshift(luigi.Config):  # noqa: N801
    iam_role = EnvironmentParameter("MUSIC_ETL_REDSHIFT_IAM_ROLE", "", significant=False,
                                    description="ARN of the IAM role Redshift assumes for COPY from the staging bucket")
    region = luigi.Parameter(default="", significant=False, description="staging bucket region, when it differs from the cluster's")


# Every section above, in the order the configuration reference (docs/CONFIGURATION.md) lists them;
# each source's own section follows from its folder (pipeline/sources/<name>/settings.py).
CORE_SECTIONS = (msd, staging, answers, logs, extract, sources, warehouse, redshift, refresh)
