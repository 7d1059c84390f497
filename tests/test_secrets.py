"""No password given in ``[warehouse] url`` reaches anything the pipeline prints or writes.

Each way a password reaches libpq (``user:password@``, ``?password=``, a key=value string, ``PGPASSWORD``
in the environment) gets a marker of its own. The pipeline runs through the CLI in subprocesses (on
luigid, and with the local scheduler), then ``status``, a dry run, ``report``, ``export``, a forced
``rerun``, a load the warehouse refuses and commands whose warehouse does not answer. Every byte they
printed, every file under the test's folder (staging, answers, ledgers, logs, the report, the
exports, the pace file, luigid's state and log; the commands run in that folder, so whatever they
write under ``data/`` is there too) and what luigid's API serves are searched for the markers: none
may hold one.
"""

from __future__ import annotations

import configparser
import gzip
import os
import re
import signal
import subprocess
import sys
import urllib.request
from urllib.parse import urlsplit

import pytest

from tests.conftest import PROJECT_ROOT, deezer_cfg_lines, start_luigid, subprocess_env_for_deezer

BIN = os.path.dirname(sys.executable)
MARKER_USERINFO, MARKER_QUERY, MARKER_KEYWORD, MARKER_ENVIRONMENT = "MARKERPW1", "MARKERPW2", "MARKERPW3", "MARKERPW4"
MARKERS = (MARKER_USERINFO, MARKER_QUERY, MARKER_KEYWORD, MARKER_ENVIRONMENT)


def with_password(url: str, form: str) -> str:
    """``url`` (a PostgreSQL URL without a password) carrying a marker password in ``form``."""
    parts = urlsplit(url)
    if form == "userinfo":
        user, _, host = parts.netloc.rpartition("@")
        return parts._replace(netloc=f"{user.split(':')[0] or 'postgres'}:{MARKER_USERINFO}@{host}").geturl()
    separator = "&" if parts.query else "?"
    return f"{url}{separator}password={MARKER_QUERY}"


def unreachable(url: str) -> str:
    """The same URL, password and all, pointing at a port nothing listens on."""
    parts = urlsplit(url)
    userinfo, at, _ = parts.netloc.rpartition("@")
    return parts._replace(netloc=f"{userinfo}{at}127.0.0.1:9").geturl()


def readable(path: str) -> bytes:
    """A file's bytes as a reader would see them: gzipped staging decompressed, Parquet read back."""
    with open(path, "rb") as fh:
        data = fh.read()
    if data[:2] == b"\x1f\x8b":
        try:
            data += gzip.decompress(data)
        except (OSError, EOFError):
            pass
    if path.endswith(".parquet"):
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        data += repr(table.schema.metadata).encode() + repr(table.to_pylist()).encode()
    return data


def leaks(text: bytes) -> list[str]:
    return [m for m in MARKERS if m.lower().encode() in text.lower()]


def leaking_files(folder) -> dict[str, list[str]]:
    found = {}
    for here, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(here, name)
            if os.path.isfile(path) and not os.path.islink(path) and leaks(readable(path)):
                found[os.path.relpath(path, folder)] = leaks(readable(path))
    return found


def files_text(folder) -> str:
    return "".join(readable(os.path.join(here, n)).decode(errors="replace") for here, _, names in os.walk(folder)
                   for n in names if os.path.isfile(os.path.join(here, n)))


@pytest.fixture
def luigid_with_state(tmp_path, commands):
    """A luigid whose state file and log are in the test's folder, reading the commands' configuration (a
    failed task is not retried); ``stop()`` makes it write its state."""
    state = tmp_path / "luigid" / "state.pickle"
    state.parent.mkdir()
    log = open(tmp_path / "luigid" / "luigid.log", "wb")  # noqa: SIM115 - open for the server's lifetime
    server, url = start_luigid(state, cwd=tmp_path / "luigid", stdout=log, stderr=log,
                               env=dict(os.environ, LUIGI_CONFIG_PATH=str(commands.cfg)))

    def stop():
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)  # luigid writes its state file on the way out
            server.wait(timeout=30)
        log.close()
    stop.url, stop.state = url, state
    yield stop
    stop()


@pytest.fixture
def commands(tmp_path, sample_root, sandbox, deezer):
    """``commands(url, *args)`` runs ``python -m pipeline *args`` in the test's folder with ``[warehouse] url``
    set to ``url``; every command's output is kept in ``commands.outputs``."""
    server, deezer_server = sandbox(mode="development"), deezer(rate_limit=None)
    work = tmp_path / "work"
    work.mkdir()
    # The project's luigi.cfg (resources, retcodes, keep-alive) and the sandbox's Deezer pace, read from a
    # folder that is not the project's: the commands run in the test's folder.
    settings = configparser.ConfigParser(interpolation=None)
    settings.read([os.path.join(PROJECT_ROOT, "luigi.cfg")])
    settings.read_string(deezer_cfg_lines())
    cfg = tmp_path / "luigi.cfg"
    with open(cfg, "w", encoding="utf-8") as fh:
        settings.write(fh)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MUSIC_ETL_", "SPOTIPY_", "PG"))}
    env |= subprocess_env_for_deezer(deezer_server, tmp_path)
    del env["MUSIC_ETL_DEEZER_PACE_FILE"]  # the default place: beside the staging root
    env |= {"LUIGI_CONFIG_PATH": str(cfg), "PYTHONPATH": PROJECT_ROOT,
            "MUSIC_ETL_MSD_ROOT": sample_root, "MUSIC_ETL_STAGING_ROOT": str(work / "data" / "staging"),
            "MUSIC_ETL_SPOTIFY_API_URL": f"{server.url}/v1/", "MUSIC_ETL_SPOTIFY_TOKEN_URL": f"{server.url}/api/token",
            "SPOTIPY_CLIENT_ID": "sandbox-client", "SPOTIPY_CLIENT_SECRET": "sandbox-secret",
            "PGPASSWORD": MARKER_ENVIRONMENT}  # libpq's own: never in a URL, never printed (trust ignores it)

    def run(url: str, *args: str) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=work,
                                env=env | {"MUSIC_ETL_WAREHOUSE_URL": url}, capture_output=True, timeout=300)
        run.outputs.append((args, result))
        return result
    run.outputs, run.cfg = [], cfg
    return run


def printed(result: subprocess.CompletedProcess) -> str:
    return (result.stdout + result.stderr).decode(errors="replace")


@pytest.mark.slow
@pytest.mark.parametrize("form", ["userinfo", "query"])
def test_no_output_of_any_command_holds_the_warehouse_password(form, postgres_url, commands, luigid_with_state,
                                                                 tmp_path):
    url = with_password(postgres_url, form)
    import psycopg2

    try:
        psycopg2.connect(url, connect_timeout=5).close()
    except psycopg2.OperationalError as exc:
        pytest.skip(f"the test PostgreSQL does not take any password (trust authentication): {exc}")
    luigid = luigid_with_state

    first = commands(url, "run", "--partitions", "A/A", "--scheduler-url", luigid.url)
    assert first.returncode == 0, printed(first)[-3000:]
    again = commands(url, "run", "--partitions", "A/A")  # the local scheduler: everything done, the summary again
    assert again.returncode == 0, printed(again)[-3000:]
    dry = commands(url, "run", "--partitions", "A/A,A/B", "--dry-run")
    assert dry.returncode == 0, printed(dry)[-3000:]
    status = commands(url, "status")
    assert status.returncode == 0, printed(status)[-3000:]
    report = commands(url, "report")
    assert report.returncode == 0, printed(report)[-3000:]
    for fmt in ("parquet", "csv"):
        export = commands(url, "export", "--format", fmt, "--out", f"data/export-{fmt}")
        assert export.returncode == 0, printed(export)[-3000:]
    rerun = commands(url, "rerun", "A/A", "--force")
    assert rerun.returncode == 0, printed(rerun)[-3000:]

    # A load the warehouse refuses (its session is read-only): the task fails in its run, the FAILED line and
    # luigid's record of the failure carry the error.
    read_only = re.sub(r"(options=[^&]*)", r"\1%20-cdefault_transaction_read_only%3Don", url)
    refused = commands(read_only, "run", "--partitions", "A/B", "--scheduler-url", luigid.url)
    assert refused.returncode != 0 and "read-only transaction" in printed(refused), printed(refused)[-3000:]
    # The warehouse does not answer: the connection's error is printed or logged.
    down = unreachable(url)
    for args in (("run", "--partitions", "A/B", "--scheduler-url", luigid.url), ("status",), ("rerun", "A/A", "--force"),
                 ("report", "--out", "data/down.html"), ("export", "--out", "data/export-down"),
                 ("run", "--partitions", "A/A", "--dry-run")):
        result = commands(down, *args)
        assert result.returncode != 0 or "--dry-run" in args, (args, printed(result)[-3000:])
    assert "cannot connect to the warehouse" in printed(result) + "".join(
        printed(r) for _, r in commands.outputs[-6:]) + files_text(tmp_path / "work")
    # A libpq key=value string is not a URL the pipeline takes: the line refusing it shows it masked.
    keywords = commands(f"host=127.0.0.1 port=9 user=postgres password={MARKER_KEYWORD} dbname=test", "status")
    assert keywords.returncode == 2, printed(keywords)

    served = urllib.request.urlopen(f"{luigid.url}/api/task_list?data=%7B%7D").read()
    luigid()  # stopped: its state file is written
    assert luigid.state.exists()
    state = luigid.state.read_bytes()
    assert b"LoadPartition" in state and b"read-only transaction" in state  # the failure reached luigid

    in_output = {" ".join(args): leaks(result.stdout + result.stderr) for args, result in commands.outputs}
    assert not {k: v for k, v in in_output.items() if v}, in_output
    assert leaks(served) == []
    assert leaking_files(tmp_path) == {}
    assert "password=***" in printed(keywords)
    # The outputs searched do name the warehouse, masked: the search looked where the URL is.
    masked = "postgres:***@" if form == "userinfo" else "password=***"
    assert masked in printed(status) and masked in printed(first)
    assert masked in (tmp_path / "work" / "data" / "report.html").read_text()
    assert masked in (tmp_path / "work" / "data" / "export-csv" / "README.md").read_text()
    # Deezer paced itself through the default pace file: beside the staging root, in a folder of the user's own.
    assert (tmp_path / "work" / "data" / ".private" / "deezer-pace").stat().st_size > 0

