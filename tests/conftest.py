"""Hermetic test fixtures: isolated Luigi config, environment, storage, and a real S3 endpoint.

Luigi keeps its configuration and task instances in process-wide singletons; every test gets
a parser emptied and refilled from the test's own cfg only (its public ConfigParser methods),
restored afterwards, and a clean task instance cache.
"""

from __future__ import annotations

import glob
import os
import sys

import boto3
import luigi
import luigi.configuration
import pytest

from pipeline import staging
from pipeline.standins.msd_sample import generate_sample

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch):
    """Restore os.environ after each test; no AWS profile or real credentials leak in."""
    saved = dict(os.environ)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    yield
    os.environ.clear()
    os.environ.update(saved)


def use_config_files(*paths: str) -> None:
    """Make ``paths`` (read in order) the whole of Luigi's configuration in this process."""
    parser = luigi.configuration.get_config()
    for section in parser.sections():
        parser.remove_section(section)
    parser.read([str(p) for p in paths])
    luigi.task_register.Register.clear_instance_cache()
    staging.paths._clients.clear()
    from pipeline import forget_listings
    forget_listings()


@pytest.fixture(autouse=True)
def _restored_luigi_config():
    """Whatever a test does to Luigi's configuration is undone after it."""
    parser = luigi.configuration.get_config()
    saved = {section: dict(parser.items(section, raw=True)) for section in parser.sections()}
    yield
    for section in parser.sections():
        parser.remove_section(section)
    for section, values in saved.items():
        parser.add_section(section)
        for key, value in values.items():
            parser.set(section, key, value)
    luigi.task_register.Register.clear_instance_cache()


class LuigiConfig:
    """Writes the test's own luigi cfg and makes it the only one Luigi reads."""

    def __init__(self, path, monkeypatch):
        self.path = str(path)
        self._monkeypatch = monkeypatch
        self.sections: dict[str, dict[str, str]] = {}

    def set(self, section: str, **values) -> LuigiConfig:
        self.sections.setdefault(section, {}).update({k: str(v) for k, v in values.items()})
        return self.apply()

    def apply(self) -> LuigiConfig:
        with open(self.path, "w") as fh:
            for section, values in self.sections.items():
                fh.write(f"[{section}]\n")
                for key, value in values.items():
                    fh.write(f"{key} = {value}\n")
        use_config_files(self.path)
        return self


@pytest.fixture
def luigi_config(tmp_path, monkeypatch):
    cfg = LuigiConfig(tmp_path / "test-luigi.cfg", monkeypatch)
    cfg.set("core", log_level="WARNING", no_configure_logging="true")
    yield cfg
    luigi.task_register.Register.clear_instance_cache()


@pytest.fixture(scope="session")
def sample_root(tmp_path_factory):
    """A generated MSD sample shared by read-only tests: 90 tracks in three partitions."""
    root = tmp_path_factory.mktemp("msd") / "sample"
    generate_sample(str(root), songs=90, seed=5, partitions=["A/A", "A/B", "B/A"])
    return str(root)


@pytest.fixture
def local_pipeline(luigi_config, sample_root, tmp_path):
    """Config for a run on the sample with local staging; returns the staging folder."""
    staging_root = tmp_path / "staging"
    luigi_config.set("msd", root=sample_root)
    luigi_config.set("staging", root=staging_root)
    return str(staging_root)


@pytest.fixture(scope="session")
def moto_endpoint():
    """moto in server mode: a real HTTP S3 endpoint on 127.0.0.1, on a free port."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(moto_endpoint, luigi_config, request):
    """A fresh bucket on the moto server, and [s3] pointing at it."""
    name = "music-etl-" + request.node.name.lower().replace("_", "-")[:40].strip("-")
    luigi_config.set("s3", endpoint_url=moto_endpoint, region_name="us-east-1",
                     aws_access_key_id="testing", aws_secret_access_key="testing")
    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.create_bucket(Bucket=name)
    yield name, client


@pytest.fixture(scope="session")
def catalog(sample_root):
    """The Spotify sandbox's catalog for the shared sample."""
    from pipeline.standins.spotify_catalog import DEMO_CATALOG_SEED, build_catalog, load_identities

    return build_catalog(load_identities(sample_root), seed=DEMO_CATALOG_SEED)


@pytest.fixture
def sandbox(catalog):
    """Starts Spotify sandboxes on free loopback ports (``sandbox(mode=..., rate_limit=...)``); stops them after."""
    from pipeline.standins.spotify_sandbox import SandboxServer, SandboxState

    yield from _servers(lambda **options: SandboxServer(SandboxState(catalog, **options)))


def _servers(make):
    """A fixture body: ``start(**options)`` makes and starts a server; every one is stopped after the test."""
    servers = []

    def start(**options):
        server = make(**options).start()
        servers.append(server)
        return server
    yield start
    for server in servers:
        server.stop()


def fresh_process_view():
    """What a new command sees: no listing, no task instance carried over."""
    from pipeline import forget_listings

    forget_listings()
    luigi.task_register.Register.clear_instance_cache()


def query(sql: str) -> list[tuple]:
    """Rows of ``sql`` in the configured warehouse."""
    from pipeline.warehouse.backends import warehouse_backend

    backend = warehouse_backend()
    try:
        return backend.query(sql)
    finally:
        backend.close()


def run_luigi(tasks, **kwargs):
    """luigi.build in-process, returning the detailed result."""
    kwargs.setdefault("local_scheduler", True)
    kwargs.setdefault("workers", 1)
    kwargs.setdefault("log_level", "WARNING")
    return luigi.build(tasks, detailed_summary=True, **kwargs)


PG_DSN = os.environ.get("PIPELINE_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def _postgres_reachable() -> str | None:
    """None if PostgreSQL answers at PG_DSN (creating its database if needed), else why not."""
    import psycopg2
    from psycopg2 import sql

    try:
        psycopg2.connect(PG_DSN, connect_timeout=3).close()
        return None
    except psycopg2.OperationalError as exc:
        if "does not exist" not in str(exc):
            return str(exc).strip()
    admin = PG_DSN.rsplit("/", 1)[0] + "/postgres"
    try:
        con = psycopg2.connect(admin, connect_timeout=3)
        con.autocommit = True
        with con.cursor() as cur:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(PG_DSN.rsplit("/", 1)[1].split("?")[0])))
        con.close()
        return None
    except psycopg2.Error as exc:
        return str(exc).strip()



@pytest.fixture
def postgres_url():
    """A schema of its own in the test PostgreSQL database, as a URL with search_path set; dropped after."""
    problem = _postgres_reachable()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but PostgreSQL is not reachable at {PG_DSN}: {problem}")
        pytest.skip(f"PostgreSQL not reachable at {PG_DSN} ({problem}); set PIPELINE_TEST_PG_DSN or start it")
    import uuid

    import psycopg2

    name = f"t_{uuid.uuid4().hex[:12]}"
    con = psycopg2.connect(PG_DSN)
    con.autocommit = True
    with con.cursor() as cur:
        cur.execute(f"CREATE SCHEMA {name}")
    separator = "&" if "?" in PG_DSN else "?"
    yield f"{PG_DSN}{separator}options=-csearch_path%3D{name}"
    with con.cursor() as cur:
        cur.execute(f"DROP SCHEMA {name} CASCADE")
    con.close()


@pytest.fixture(params=["duckdb", "postgresql"])
def warehouse_url(request, tmp_path, luigi_config):
    """A fresh warehouse: a DuckDB file, or a schema of its own in the test PostgreSQL database."""
    if request.param == "duckdb":
        url = f"duckdb:///{tmp_path}/warehouse.duckdb"
        luigi_config.set("warehouse", url=url)
        yield url
        return
    url = request.getfixturevalue("postgres_url")
    luigi_config.set("warehouse", url=url.replace("%", "%%"))  # luigi.cfg interpolates %
    yield url


@pytest.fixture
def loaded_warehouse(local_pipeline, luigi_config, spotify_at, warehouse_url):
    """The sample run through both sources into the warehouse (DuckDB or PostgreSQL); returns the
    Spotify and Deezer sandboxes."""
    from pipeline.tasks import RunAll

    spotify = spotify_at(mode="development")
    assert run_luigi([RunAll()]).status == luigi.LuigiStatusCode.SUCCESS
    return spotify, spotify_at.deezer


def stage_folder(staging_root: str, stage: str, partition: str) -> str:
    """The output folder of one partition stage (``<root>/<stage>/A/B/v-…``): the only one, as a
    test that does not change settings leaves it."""
    folders = staging.manifest_folders(f"{staging_root}/{stage}/{partition}")
    assert len(folders) == 1, folders
    return folders[0]


def staged_manifest(staging_root: str, stage: str, partition: str) -> dict:
    return staging.ManifestTarget(stage_folder(staging_root, stage, partition)).read()[0]


def rewrite_manifest(folder: str, manifest: dict) -> None:
    """Replace a folder's manifest (tests that doctor staging): the old one goes, the new one is
    named by its own digest."""
    for path in glob.glob(os.path.join(folder, staging.MANIFEST_GLOB)):
        os.remove(path)
    staging.ManifestTarget(folder).write(manifest)


class FakeClock:
    """Time that passes only when someone sleeps: the sandbox's rate window reads ``monotonic``,
    the client waits with ``sleep``, so rate-limit tests count waits instead of racing a clock."""

    def __init__(self):
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


# The sandbox is not Deezer: tests pace at this rate, not Deezer's 50 per 5 s (pacing has tests of its own).
SANDBOX_DEEZER_RATE = {"rate_limit": 2000, "rate_window": 1}


def deezer_config(server, tmp_path) -> dict[str, str]:
    """``[deezer]`` settings pointing at a sandbox, paced through a file of the test's own."""
    return {"api_url": f"{server.url}/", "pace_file": str(tmp_path / "deezer-pace"),
            **{k: str(v) for k, v in SANDBOX_DEEZER_RATE.items()}}


def subprocess_env_for_deezer(server, tmp_path) -> dict[str, str]:
    """What a ``luigi`` or ``python -m pipeline`` subprocess needs to reach a Deezer sandbox at the
    sandbox's pace: the URL in the environment, the pace in a config file read on top of luigi.cfg.
    A test with a config file of its own adds ``deezer_cfg_lines()`` to it instead."""
    cfg = tmp_path / "deezer-sandbox.cfg"
    cfg.write_text(deezer_cfg_lines())
    return {"MUSIC_ETL_DEEZER_API_URL": f"{server.url}/", "MUSIC_ETL_DEEZER_PACE_FILE": str(tmp_path / "deezer-pace"),
            "LUIGI_CONFIG_PATH": str(cfg)}


def deezer_cfg_lines() -> str:
    return "[deezer]\n" + "".join(f"{k} = {v}\n" for k, v in SANDBOX_DEEZER_RATE.items())


@pytest.fixture
def spotify_at(luigi_config, sandbox, deezer, tmp_path, monkeypatch):
    """``spotify_at(mode=..., ...)``: starts a Spotify sandbox and points ``[spotify]`` and the
    credentials variables at it, and, since Deezer is on by default, a Deezer sandbox with
    ``[deezer]`` at it (``spotify_at.deezer`` is that server); returns the Spotify server. A test
    of a Spotify-only run sets ``[sources] enabled = spotify``."""
    monkeypatch.setenv("SPOTIPY_CLIENT_ID", "sandbox-client")
    monkeypatch.setenv("SPOTIPY_CLIENT_SECRET", "sandbox-secret")

    def start(**options):
        server = sandbox(**options)
        luigi_config.set("spotify", api_url=f"{server.url}/v1/", token_url=f"{server.url}/api/token")
        start.deezer = deezer(rate_limit=None)
        luigi_config.set("deezer", **deezer_config(start.deezer, tmp_path))
        return server
    return start


@pytest.fixture(scope="session")
def deezer_catalog(sample_root, catalog):
    from pipeline.standins.deezer_catalog import build_deezer_catalog
    from pipeline.standins.spotify_catalog import DEMO_CATALOG_SEED, load_identities

    return build_deezer_catalog(load_identities(sample_root), catalog, seed=DEMO_CATALOG_SEED)


@pytest.fixture
def deezer(deezer_catalog):
    """Starts Deezer sandboxes on free loopback ports (``deezer(rate_limit=..., busy_rate=...)``); stops them after."""
    from pipeline.standins.deezer_sandbox import DeezerSandboxServer, DeezerState

    yield from _servers(lambda **options: DeezerSandboxServer(DeezerState(deezer_catalog, **options)))


@pytest.fixture
def deezer_at(luigi_config, deezer, tmp_path):
    """``deezer_at(...)``: a Deezer sandbox with options of the test's (error rates, …) and
    ``[deezer]`` pointing at it."""
    def start(**options):
        options.setdefault("rate_limit", None)  # pacing has tests of its own
        server = deezer(**options)
        luigi_config.set("deezer", **deezer_config(server, tmp_path))
        return server
    return start


def answers_root_of(staging_root) -> str:
    """The answer store a staging root uses by default: ``answers`` beside it ([answers] root)."""
    return os.path.join(os.path.dirname(os.path.normpath(str(staging_root))), "answers")


def stored_answers(staging_root, source: str = "spotify") -> list[dict]:
    """Every answer in the answer store a staging root uses for ``source`` (shared by all partitions)."""
    import glob
    import json

    entries = []
    for path in glob.glob(os.path.join(answers_root_of(staging_root), source, "*", "*", "*.json")):
        with open(path, encoding="utf-8") as fh:
            entries.append(json.load(fh))
    return entries


def luigi_command(task: str, partition: str) -> list[str]:
    """The plain ``luigi`` command a user types for one partition's task."""
    return [os.path.join(os.path.dirname(sys.executable), "luigi"), "--module", "pipeline", task,
            "--partition", partition, "--local-scheduler"]


def kill_9_when(command: list[str], env: dict, ready, timeout_s: float = 60) -> None:
    """Start ``command``, poll ``ready()`` until it holds (the work it waits for is under way), then
    ``kill -9`` the process, as a crash would."""
    import signal
    import subprocess
    import time

    worker = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout_s
    while not ready() and time.monotonic() < deadline:
        time.sleep(0.02)
    worker.send_signal(signal.SIGKILL)
    worker.wait()


def read_pty(command: list[str], env: dict, timeout_s: float = 300) -> str:
    """Run ``command`` with stdout and stderr on a pseudo-terminal of 120 columns (as a person's
    terminal), and return everything it wrote there."""
    import fcntl
    import pty
    import struct
    import subprocess
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=slave, stderr=slave)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the other side closed: the command is done
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert process.wait(timeout=timeout_s) == 0, out.decode(errors="replace")[-3000:]
    return out.decode(errors="replace")


def free_port() -> int:
    """A loopback port nothing listens on once this returns (a server may take it; a test of a refused
    connection uses it as it is)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_luigid(state_path, **popen_kwargs):
    """A luigid on a free loopback port with its state file at ``state_path``: (the process, its URL), once its
    API answers (pipeline/luigid.py ``wait``, as `make scheduler` waits), else the test fails."""
    import subprocess

    from pipeline.luigid import wait

    port = free_port()
    popen_kwargs.setdefault("stdout", subprocess.DEVNULL)
    popen_kwargs.setdefault("stderr", subprocess.DEVNULL)
    server = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "luigid"), "--port", str(port),
                               "--address", "127.0.0.1", "--state-path", str(state_path)], **popen_kwargs)
    url = f"http://127.0.0.1:{port}"
    if not wait(url, server.pid, 30):
        server.kill()
        pytest.fail("luigid did not start")
    return server, url
