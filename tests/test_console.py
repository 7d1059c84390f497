"""What the commands show: the project's lines on the screen, Luigi's log in a file, and one line naming the fix
when something is wrong (pipeline/cli/console.py, progress.py, the clients' address errors)."""

from __future__ import annotations

import glob
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from datetime import UTC, date, datetime, timedelta

import pytest

from pipeline.cli import console
from pipeline.errors import TerminalError, TransientError
from pipeline.retrying import ServiceFailingError, ServiceUnreachableError
from tests.conftest import PROJECT_ROOT, free_port, subprocess_env_for_deezer

PYTHON = os.path.join(os.path.dirname(sys.executable), "python")


def _env(tmp_path, sample_root, **extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MUSIC_ETL_", "SPOTIPY_", "AWS_"))}
    env.pop("LUIGI_CONFIG_PATH", None)
    return env | {"MUSIC_ETL_MSD_ROOT": sample_root, "MUSIC_ETL_STAGING_ROOT": str(tmp_path / "data" / "staging"),
                  "MUSIC_ETL_WAREHOUSE_URL": f"duckdb:///{tmp_path}/data/warehouse.duckdb", **extra}


def _command(env, *args, timeout=300):
    return subprocess.run([PYTHON, "-m", "pipeline", *args], cwd=PROJECT_ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def _logs(tmp_path, command: str) -> list[str]:
    return sorted(glob.glob(str(tmp_path / "data" / "logs" / f"{command}-*.log")))


@pytest.fixture
def sandboxed(tmp_path, sample_root, sandbox, deezer):
    """The environment of a run against Spotify and Deezer sandboxes (``sandboxed.deezer``: the Deezer server)."""
    spotify, deezer_server = sandbox(mode="development"), deezer(rate_limit=None)
    env = _env(tmp_path, sample_root, MUSIC_ETL_SPOTIFY_API_URL=f"{spotify.url}/v1/",
               MUSIC_ETL_SPOTIFY_TOKEN_URL=f"{spotify.url}/api/token", SPOTIPY_CLIENT_ID="sandbox-client",
               SPOTIPY_CLIENT_SECRET="sandbox-secret", **subprocess_env_for_deezer(deezer_server, tmp_path))
    return env


@pytest.mark.slow
def test_a_run_shows_its_tasks_and_summary_and_keeps_luigis_log_in_a_file(tmp_path, sandboxed):
    first = _command(sandboxed, "run", "--partitions", "A/A")
    assert first.returncode == 0, first.stderr[-3000:]
    assert "INFO" not in first.stdout + first.stderr and "Luigi Execution Summary" not in first.stdout + first.stderr
    assert "  done    LoadPartition(A/A)" in first.stdout and "partitions loaded this run: 1" in first.stdout
    [log] = _logs(tmp_path, "run")
    text = open(log, encoding="utf-8").read()
    assert "Luigi Execution Summary" in text and "Informed scheduler" in text and "partition A/A loaded" in text

    # A quota stop recorded by an earlier run is no news after a run that left nothing to do.
    quota = tmp_path / "data" / "staging" / "spotify" / "_quota_exhausted.json"
    quota.write_text(json.dumps({"partition": "A/A", "retry_after_s": 86400, "message": "quota",
                                 "resume_at": (datetime.now(UTC) + timedelta(hours=20)).isoformat(timespec="seconds")}))
    again = _command(sandboxed, "run", "--partitions", "A/A")
    assert again.returncode == 0 and again.stderr == ""
    assert "already loaded: 1" in again.stdout and "quota" not in again.stdout
    assert len(again.stdout.splitlines()) <= 8, again.stdout  # the summary, not Luigi's 80-odd lines
    verbose = _command(sandboxed, "run", "--partitions", "A/A", "--verbose")
    assert verbose.returncode == 0 and "Informed scheduler" in verbose.stderr and "Execution Summary" in verbose.stderr


@pytest.mark.slow
def test_an_unreachable_source_is_the_last_line_naming_its_address_setting(tmp_path, sandboxed):
    port = free_port()
    failed = _command(sandboxed | {"MUSIC_ETL_DEEZER_API_URL": f"http://127.0.0.1:{port}/"}, "run", "--workers", "2")
    assert failed.returncode == 1
    lines = failed.stderr.strip().splitlines()
    cause = (f"Deezer: nothing answered at http://127.0.0.1:{port}/ (connection refused). Check [deezer] api_url "
             f"(environment MUSIC_ETL_DEEZER_API_URL); if it is right, the service is down: rerun later (every answer "
             f"received so far is stored).")
    assert lines[-1] == f"error: DeezerEnrich(A/A) and 2 other tasks: {cause}"
    # Each partition's task failed the same way: the cause is said once as it happens, then referred to.
    failed_lines = [line for line in failed.stderr.splitlines() if line.startswith("  FAILED  DeezerEnrich(")]
    assert len(failed_lines) == 3 and sum(line.endswith(cause) for line in failed_lines) == 1
    assert sum(line.endswith(": the same cause as above") for line in failed_lines) == 2
    assert lines[-2] == f"log: {_logs(tmp_path, 'run')[0]}" and "Traceback" not in failed.stderr
    assert "Traceback" in open(_logs(tmp_path, "run")[0], encoding="utf-8").read()  # kept where it helps


class _Failing(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_GET  # noqa: N815

    def log_message(self, *args):
        pass


@pytest.fixture
def failing_service():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_every_source_names_its_address_setting_when_nothing_answers_or_it_fails(failing_service, monkeypatch,
                                                                                  luigi_config, tmp_path):
    from pipeline.sources.deezer.client import DeezerClient
    from pipeline.sources.listenbrainz.client import ListenBrainzClient
    from pipeline.sources.musicbrainz.tasks import musicbrainz_gateway

    luigi_config.set("deezer", pace_file=str(tmp_path / "pace"))
    closed = f"http://127.0.0.1:{free_port()}"
    luigi_config.set("musicbrainz", lookup_url=closed)
    asks = {
        "[deezer] api_url (environment MUSIC_ETL_DEEZER_API_URL)":
            lambda url: DeezerClient(f"{url}/", backoff_factor=0).get("search", {"q": "x"}),
        "[listenbrainz] api_url (environment MUSIC_ETL_LISTENBRAINZ_API_URL)":
            lambda url: ListenBrainzClient(url, backoff_factor=0).post("popularity/recording", {"recording_mbids": []}),
    }
    for setting, ask in asks.items():
        with pytest.raises(ServiceUnreachableError) as unreachable:
            ask(closed)
        assert f"nothing answered at {closed}" in str(unreachable.value) and setting in str(unreachable.value)
        with pytest.raises(ServiceFailingError) as failing:
            ask(failing_service)
        assert "HTTP 503" in str(failing.value) and setting in str(failing.value)
        assert isinstance(failing.value, TransientError) and isinstance(unreachable.value, TransientError)
    # MusicBrainz asks through ListenBrainz's client, at an address of its own setting.
    with pytest.raises(ServiceUnreachableError, match=r"\[musicbrainz\] lookup_url \(environment "
                                                      r"MUSIC_ETL_MUSICBRAINZ_LOOKUP_URL\)"):
        musicbrainz_gateway().client.post("metadata/recording", {"recording_mbids": []})


def test_the_last_line_is_the_cause_to_fix_and_each_cause_is_said_once():
    failures = [console.Failure(f"RefreshPartition(deezer, {p}, 2026-12-07)", "ServiceUnreachableError", "Deezer: down.",
                                terminal=False, transient=True) for p in ("A/A", "A/B")]
    failures += [console.Failure(f"RefreshPartition(spotify, {p}, 2026-12-07)", "MissingCredentialsError",
                                 "Spotify credentials missing: set SPOTIPY_CLIENT_ID.", terminal=True, transient=False)
                 for p in ("A/A", "A/B", "B/A")]
    lines = console.last_lines(failures, "fallback")
    assert lines[-1] == ("error: RefreshPartition(spotify, A/A, 2026-12-07) and 2 other tasks: Spotify credentials "
                         "missing: set SPOTIPY_CLIENT_ID.")
    assert lines[-2] == "error: RefreshPartition(deezer, A/A, 2026-12-07) and 1 other task: Deezer: down."
    assert console.last_lines([], "the run did not finish")[-1] == "error: the run did not finish"


@pytest.mark.slow
def test_ctrl_c_ends_with_one_line_counting_the_requests(tmp_path, sample_root, sandbox, deezer):
    spotify, deezer_server = sandbox(mode="development", latency_ms=30), deezer(rate_limit=None)
    env = _env(tmp_path, sample_root, MUSIC_ETL_SPOTIFY_API_URL=f"{spotify.url}/v1/",
               MUSIC_ETL_SPOTIFY_TOKEN_URL=f"{spotify.url}/api/token", SPOTIPY_CLIENT_ID="sandbox-client",
               SPOTIPY_CLIENT_SECRET="sandbox-secret", **subprocess_env_for_deezer(deezer_server, tmp_path))
    # A terminal's Ctrl-C reaches the whole foreground process group: the command and the workers it forked.
    run = subprocess.Popen([PYTHON, "-m", "pipeline", "run", "--workers", "2"], cwd=PROJECT_ROOT, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    while sum(spotify.state.stats()["requests"].values()) < 20 and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.05)
    os.killpg(run.pid, signal.SIGINT)
    out, err = run.communicate(timeout=120)
    assert run.returncode == 130, err[-3000:]
    assert "Traceback" not in out + err and "KeyboardInterrupt" not in out + err
    last = err.strip().splitlines()[-1]
    assert last.startswith("interrupted; ") and last.endswith(" requests counted; rerun to continue"), err[-3000:]
    assert int(last.split()[1]) > 0


def test_s3_staging_without_aws_credentials_is_one_line(tmp_path, sample_root):
    env = _env(tmp_path, sample_root, MUSIC_ETL_STAGING_ROOT="s3://music-etl-staging/staging",
               MUSIC_ETL_S3_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}", AWS_EC2_METADATA_DISABLED="true",
               AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
               MUSIC_ETL_LOGS_DIR=str(tmp_path / "logs"))
    for command in (["status"], ["run", "--partitions", "A/A"]):
        result = _command(env, *command, timeout=120)
        assert result.returncode == 2, result.stderr[-3000:]
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("error: no AWS credentials were found for staging root s3://music-etl-staging/staging")
        assert "AWS_ACCESS_KEY_ID" in line and "MUSIC_ETL_STAGING_ROOT" in line


def test_a_luigid_that_does_not_answer_is_one_line_before_anything_is_scheduled(tmp_path, sample_root):
    url = f"http://127.0.0.1:{free_port()}"
    env = _env(tmp_path, sample_root)
    for command in (["run", "--partitions", "A/A"], ["refresh"]):
        result = _command(env, *command, "--scheduler-url", url, timeout=120)
        assert result.returncode == 2
        assert result.stderr.strip().splitlines() == [
            f"error: luigid at {url} does not answer (Connection refused): start it with `make scheduler` (or `luigid "
            f"--port 8082`), fix --scheduler-url, or leave --scheduler-url out to run with the local scheduler"]
    assert not os.path.exists(tmp_path / "data" / "staging")  # nothing was staged


def test_a_locked_duckdb_file_is_said_when_the_wait_starts_naming_the_holder(tmp_path, capsys):
    from pipeline.warehouse.backends import DuckDBBackend, WarehouseLockedError

    path = tmp_path / "warehouse.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", f"import duckdb, sys; c = duckdb.connect({str(path)!r}); "
                               "print('holding', flush=True); sys.stdin.read()"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        backend = DuckDBBackend(f"duckdb:///{path}", lock_wait_s=0.5)
        with pytest.raises(WarehouseLockedError) as locked:
            backend.query("SELECT 1")
        said = capsys.readouterr().err.strip().splitlines()
        assert len(said) == 1 and said[0].startswith(f"warehouse {path} is locked by PID {holder.pid} (")
        assert f"still locked by PID {holder.pid}" in str(locked.value) and "Close that program" in str(locked.value)
    finally:
        holder.communicate("")
    DuckDBBackend(f"duckdb:///{path}").con.close()  # let go: it opens at once


def test_a_future_day_and_a_broken_selection_end_the_refresh_with_one_line(tmp_path, sample_root):
    env = _env(tmp_path, sample_root)
    tomorrow = (datetime.now(UTC) + timedelta(days=2)).date()
    future = _command(env, "refresh", "--date", tomorrow.isoformat(), timeout=120)
    assert future.returncode == 2 and len(future.stderr.strip().splitlines()) == 1
    assert f"refresh --date {tomorrow} is after today" in future.stderr
    # A task whose requires() fails while the graph is built: before, the worker (keep_alive) waited for ever.
    broken = _command(env | {"MUSIC_ETL_SOURCES_ENABLED": "deezer"}, "refresh", timeout=120)
    assert broken.returncode == 1 and "Warning" not in broken.stderr
    assert broken.stderr.strip().splitlines()[-1] == (
        "error: DailyRefresh(" + date.today().isoformat() + "): [sources] enabled = `deezer` (environment "
        "MUSIC_ETL_SOURCES_ENABLED): deezer reads what spotify finds, so enable spotify too, or leave deezer out")


def test_library_warnings_go_to_the_log_not_the_screen(tmp_path):
    # In a process of its own: pytest records warnings itself, which is not what a command's process does.
    code = ("import warnings; from pipeline.cli import console; path = console.start('check'); "
            "warnings.warn(\"a library's warning\", UserWarning); console.stop(); print(path)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSIC_ETL_")}
    result = subprocess.run([PYTHON, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60,
                            env=env | {"MUSIC_ETL_LOGS_DIR": str(tmp_path / "logs")})
    assert result.returncode == 0 and "a library's warning" not in result.stderr, result.stderr
    assert "a library's warning" in open(result.stdout.strip(), encoding="utf-8").read()


def test_the_refresh_range_draws_no_warning_from_luigi():
    from luigi.tools.range import RangeDaily

    from pipeline.cli.refresh import range_of_days
    from pipeline.tasks import DailyRefresh

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        task = range_of_days(date(2026, 12, 1), date(2026, 12, 7), date(2026, 12, 7))
        task.requires()
    assert isinstance(task, RangeDaily) and task.of is DailyRefresh


def test_help_is_plain_text_with_defaults():
    help_text = subprocess.run([PYTHON, "-m", "pipeline", "run", "--help"], cwd=PROJECT_ROOT, capture_output=True,
                               text=True, timeout=60).stdout
    assert "--workers WORKERS" in help_text and "(default: 1)" in help_text and "``" not in help_text
    assert "--verbose" in help_text
    for command in ("refresh", "export", "report", "status", "rerun", "extract"):
        text = subprocess.run([PYTHON, "-m", "pipeline", command, "--help"], cwd=PROJECT_ROOT, capture_output=True,
                              text=True, timeout=60).stdout
        assert text.startswith("usage: python -m pipeline " + command) and "``" not in text


def test_a_terminal_error_says_its_fix_and_exits_2(tmp_path, sample_root):
    result = _command(_env(tmp_path, sample_root), "refresh", "--now", "2026-12-07T10:00:00")
    assert result.returncode == 2 and result.stderr.startswith("error: refresh --now 2026-12-07T10:00:00 has no UTC")
    assert issubclass(ServiceUnreachableError, TransientError) and not issubclass(ServiceUnreachableError, TerminalError)


def test_ctrl_c_anywhere_in_a_guarded_command_is_one_line_and_a_closed_pipe_is_no_traceback(tmp_path, sample_root):
    code = ("import os, signal, sys; from pipeline.cli import guarded; "
            "sys.exit(guarded(lambda: os.kill(os.getpid(), signal.SIGINT) or 0))")
    env = _env(tmp_path, sample_root)
    interrupted = subprocess.run([PYTHON, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                                 timeout=60)
    assert interrupted.returncode == 130
    assert interrupted.stderr.strip().splitlines() == ["interrupted; 0 requests counted; rerun to continue"]
    # `status | head -1`: the reader goes away after one line.
    piped = subprocess.run(f"{PYTHON} -m pipeline status | head -1", shell=True, cwd=PROJECT_ROOT, env=env,
                           capture_output=True, text=True, timeout=120)
    assert len(piped.stdout.splitlines()) == 1 and "Traceback" not in piped.stderr and "BrokenPipe" not in piped.stderr
