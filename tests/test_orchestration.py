"""RunAll against a real luigid with several worker processes, partial reruns, failures, the front end."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import duckdb
import luigi
import pytest

from pipeline.cli import main as front_end
from pipeline.luigid import alive
from pipeline.tasks import LoadPartition, RunAll
from tests.conftest import (
    PROJECT_ROOT,
    deezer_cfg_lines,
    read_pty,
    run_luigi,
    staged_manifest,
    start_luigid,
    subprocess_env_for_deezer,
)

BIN = os.path.dirname(sys.executable)


@pytest.fixture
def luigid(tmp_path):
    server, url = start_luigid(tmp_path / "luigid-state.pickle")
    yield int(url.rsplit(":", 1)[1])
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=10)


@pytest.fixture
def pipeline_env(sample_root, tmp_path, sandbox, deezer):
    """Both sources' sandboxes (Deezer is on by default) and the environment a subprocess reaches them with."""
    server, deezer_server = sandbox(mode="development", latency_ms=5), deezer(rate_limit=None)
    env = dict(os.environ, MUSIC_ETL_MSD_ROOT=sample_root, MUSIC_ETL_STAGING_ROOT=str(tmp_path / "staging"),
               MUSIC_ETL_WAREHOUSE_URL=f"duckdb:///{tmp_path}/warehouse.duckdb",
               MUSIC_ETL_SPOTIFY_API_URL=f"{server.url}/v1/", MUSIC_ETL_SPOTIFY_TOKEN_URL=f"{server.url}/api/token",
               SPOTIPY_CLIENT_ID="sandbox-client", SPOTIPY_CLIENT_SECRET="sandbox-secret",
               **subprocess_env_for_deezer(deezer_server, tmp_path))
    env["server"], env["deezer"] = server, deezer_server  # not passed to subprocesses (see _env)
    return env


def _env(env):
    return {k: v for k, v in env.items() if isinstance(v, str)}


def warehouse_counts(env) -> dict:
    from pipeline.warehouse.backends import backend_for

    backend = backend_for(env["MUSIC_ETL_WAREHOUSE_URL"])
    try:
        return {
            "markers": dict(backend.query("SELECT msd_partition, count(*) FROM etl_load_markers WHERE step = 'load' "
                                          "GROUP BY 1")),
            "songs": dict(backend.query("SELECT msd_partition, count(*) FROM songs GROUP BY 1")),
            "distinct_songs": backend.scalar("SELECT count(DISTINCT track_id) FROM songs"),
            "finalized": backend.scalar("SELECT count(*) FROM etl_load_markers WHERE step = 'finalize'"),
        }
    finally:
        backend.close()


def staged_songs(env, partition) -> int:
    return staged_manifest(env["MUSIC_ETL_STAGING_ROOT"], "msd", partition)["counts"]["tracks"]


@pytest.mark.slow
def test_two_worker_processes_on_one_luigid_run_each_task_once(luigid, pipeline_env, postgres_url):
    """Production shape: luigid, separate worker processes, a server warehouse (DuckDB allows one
    writing process per file, so its loads take turns within one command's workers instead)."""
    pipeline_env = pipeline_env | {"MUSIC_ETL_WAREHOUSE_URL": postgres_url}
    command = [sys.executable, "-m", "pipeline", "run", "--scheduler-url", f"http://127.0.0.1:{luigid}", "--workers", "2"]
    workers = [subprocess.Popen(command, cwd=PROJECT_ROOT, env=_env(pipeline_env), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [w.communicate(timeout=300)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    counts = warehouse_counts(pipeline_env)
    partitions = ["A/A", "A/B", "B/A"]
    assert counts["markers"] == {p: 1 for p in partitions}
    assert counts["songs"] == {p: staged_songs(pipeline_env, p) for p in partitions}
    assert counts["distinct_songs"] == sum(counts["songs"].values()) and counts["finalized"] == 1
    # Each partition's enrichment ran once: one search ladder per song, not two.
    searches = pipeline_env["server"].state.stats()["requests"]["search"]
    assert searches <= 2 * counts["distinct_songs"]
    assert all("partitions loaded this run" in o for o in outputs)
    # luigid's API shows the tasks and the progress they reported.
    tasks = json.loads(urllib.request.urlopen(
        f"http://127.0.0.1:{luigid}/api/task_list?data=" + urllib.request.quote(json.dumps({"status": "DONE"}))).read())
    search = {k: v for k, v in tasks["response"].items() if k.startswith("SpotifySearch")}
    assert len(search) == 3 and all(v["progress_percentage"] == 100 for v in search.values())
    assert all("songs matched or tried" in (v["status_message"] or "") for v in search.values())
    enrich = {k: v for k, v in tasks["response"].items() if k.startswith("SpotifyEnrich")}
    assert len(enrich) == 3 and all("details of" in (v["status_message"] or "") for v in enrich.values())


def _luigi_command(port, workers=2):
    return [os.path.join(BIN, "luigi"), "--module", "pipeline", "RunAll", "--scheduler-host", "127.0.0.1",
            "--scheduler-port", str(port), "--workers", str(workers)]


@pytest.mark.slow
@pytest.mark.parametrize("warehouse", ["duckdb", "postgresql"])
def test_two_plain_luigi_commands_on_one_luigid_each_exit_0_when_everything_is_done(luigid, pipeline_env, warehouse,
                                                                                   request):
    """The design card's command, as EC2 workers run it: each process exits 0 once everything is
    loaded, however the work was shared between them."""
    if warehouse == "postgresql":
        pipeline_env = pipeline_env | {"MUSIC_ETL_WAREHOUSE_URL": request.getfixturevalue("postgres_url")}
    workers = [subprocess.Popen(_luigi_command(luigid), cwd=PROJECT_ROOT, env=_env(pipeline_env),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [w.communicate(timeout=300)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], [o[-3000:] for o in outputs]
    counts = warehouse_counts(pipeline_env)
    partitions = ["A/A", "A/B", "B/A"]
    assert counts["markers"] == {p: 1 for p in partitions} and counts["finalized"] == 1
    assert counts["songs"] == {p: staged_songs(pipeline_env, p) for p in partitions}
    # Each process ran part of the work (or found it done), and neither ran a partition twice.
    searches = pipeline_env["server"].state.stats()["requests"]["search"]
    assert searches <= 2 * counts["distinct_songs"]
    # A rerun of the same command finds everything complete.
    again = subprocess.run(_luigi_command(luigid), cwd=PROJECT_ROOT, env=_env(pipeline_env), capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]


@pytest.mark.slow
def test_two_plain_luigi_commands_exit_non_zero_and_name_the_partition_that_failed(luigid, pipeline_env, tmp_path,
                                                                                   sample_root):
    import shutil
    broken = tmp_path / "msd"
    shutil.copytree(sample_root, broken)
    for path in (broken / "A" / "B").rglob("*.h5"):
        path.write_bytes(b"not hdf5")
    cfg = tmp_path / "fatal.cfg"
    cfg.write_text("[extract]\nfail_on_quarantine = true\n" + deezer_cfg_lines())
    env = _env(pipeline_env) | {"MUSIC_ETL_MSD_ROOT": str(broken), "LUIGI_CONFIG_PATH": str(cfg)}
    workers = [subprocess.Popen(_luigi_command(luigid), cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [w.communicate(timeout=300)[0] for w in workers]
    assert all(w.returncode != 0 for w in workers), [o[-3000:] for o in outputs]
    summaries = [o.split("===== Luigi Execution Summary =====")[1] for o in outputs]
    # The command that ran the broken extraction reports it failed; the other lists it as not run,
    # while it ran or saw done every other partition.
    assert sum("failed:\n    - 1 ExtractPartition(partition=A/B)" in s for s in summaries) == 1, summaries
    assert all(re.search(r"ExtractPartition\(partition=[A-Z/,]*A/B", s) for s in summaries), summaries
    assert set(warehouse_counts(pipeline_env)["markers"]) == {"A/A", "B/A"}


def test_a_failing_partition_does_not_stop_the_others_and_the_exit_code_names_it(pipeline_env, tmp_path, sample_root):
    import shutil
    broken = tmp_path / "msd"
    shutil.copytree(sample_root, broken)
    for path in (broken / "A" / "B").rglob("*.h5"):
        path.write_bytes(b"not hdf5")  # every file quarantined is fine; a fatal switch makes it fail
    env = _env(pipeline_env) | {"MUSIC_ETL_MSD_ROOT": str(broken)}
    cfg = tmp_path / "fatal.cfg"
    cfg.write_text("[extract]\nfail_on_quarantine = true\n" + deezer_cfg_lines())
    env["LUIGI_CONFIG_PATH"] = str(cfg)
    result = subprocess.run([sys.executable, "-m", "pipeline", "run", "--workers", "2"], cwd=PROJECT_ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "ExtractPartition(A/B)" in result.stderr
    assert "partitions loaded this run: 2, already loaded: 0, failed: 1" in result.stdout
    counts = warehouse_counts(pipeline_env | {"MUSIC_ETL_STAGING_ROOT": env["MUSIC_ETL_STAGING_ROOT"]})
    assert set(counts["markers"]) == {"A/A", "B/A"}


@pytest.mark.slow
def test_rerun_of_one_partition_leaves_the_others_untouched(local_pipeline, luigi_config, spotify_at, monkeypatch, tmp_path):
    server = spotify_at(mode="development")
    luigi_config.set("warehouse", url=f"duckdb:///{tmp_path}/warehouse.duckdb")
    assert run_luigi([RunAll()], workers=2).status == luigi.LuigiStatusCode.SUCCESS
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    before = con.execute("SELECT msd_partition, load_id, count(*) FROM songs GROUP BY 1, 2 ORDER BY 1").fetchall()
    con.close()
    other_files = {p: os.path.getmtime(p) for p in _files(local_pipeline) if not _of_a_b(p)}
    searches_before = server.state.stats()["requests"]["search"]
    assert front_end(["rerun", "A/B", "--force"]) == 0
    luigi.task_register.Register.clear_instance_cache()
    assert LoadPartition(partition="A/B").complete()
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    after = con.execute("SELECT msd_partition, load_id, count(*) FROM songs GROUP BY 1, 2 ORDER BY 1").fetchall()
    con.close()
    assert [r for r in after if r[0] != "A/B"] == [r for r in before if r[0] != "A/B"]
    assert [r[2] for r in after if r[0] == "A/B"] == [r[2] for r in before if r[0] == "A/B"]
    assert next(r[1] for r in after if r[0] == "A/B") != next(r[1] for r in before if r[0] == "A/B")
    assert {p: os.path.getmtime(p) for p in _files(local_pipeline) if not _of_a_b(p)} == other_files
    # The journal was kept: the re-enrichment asked Spotify nothing.
    assert server.state.stats()["requests"]["search"] == searches_before


def _of_a_b(path: str) -> bool:
    """A/B's staging, or its stages' leases (``_leases/<task>/A/B.json``)."""
    return "/A/B/" in path or path.endswith("/A/B.json")


def _files(root):
    return [os.path.join(folder, name) for folder, _, names in os.walk(root) for name in names]


def test_kill_9_in_the_middle_of_a_load_leaves_nothing_half_loaded(local_pipeline, luigi_config, spotify_at, monkeypatch,
                                                                  postgres_url, sample_root):
    import psycopg2

    from pipeline.sources.deezer.tasks import DeezerEnrich
    from pipeline.tasks import WarehouseSchema

    spotify_at(mode="development")
    luigi_config.set("warehouse", url=postgres_url.replace("%", "%%"))
    assert run_luigi([DeezerEnrich(partition="A/A"), WarehouseSchema()]).status == luigi.LuigiStatusCode.SUCCESS
    # Hold the last table the load writes, so the load stops mid-transaction with songs already inserted.
    blocker = psycopg2.connect(postgres_url)
    with blocker.cursor() as cur:
        cur.execute("LOCK TABLE spotify_audio_features IN ACCESS EXCLUSIVE MODE")
    env = dict(os.environ, MUSIC_ETL_MSD_ROOT=sample_root, MUSIC_ETL_STAGING_ROOT=local_pipeline,
               MUSIC_ETL_WAREHOUSE_URL=postgres_url)
    env.pop("LUIGI_CONFIG_PATH", None)
    worker = subprocess.Popen([os.path.join(BIN, "luigi"), "--module", "pipeline", "LoadPartition", "--partition", "A/A",
                               "--local-scheduler"], cwd=PROJECT_ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    watcher = psycopg2.connect(postgres_url)
    watcher.autocommit = True
    deadline = time.monotonic() + 60
    waiting = False
    while not waiting and time.monotonic() < deadline:
        with watcher.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND query LIKE 'DELETE FROM spotify_audio_features%'")
            waiting = cur.fetchone()[0] == 1
        time.sleep(0.05)
    assert waiting, "the load never reached spotify_audio_features"
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    blocker.rollback()
    blocker.close()
    with watcher.cursor() as cur:  # the server rolls the dead session's transaction back
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'DELETE FROM spotify_audio_features%'")
            if cur.fetchone()[0] == 0:
                break
            time.sleep(0.05)
        cur.execute("SELECT (SELECT count(*) FROM songs), (SELECT count(*) FROM etl_load_markers WHERE step = 'load')")
        assert cur.fetchone() == (0, 0)
    watcher.close()
    luigi.task_register.Register.clear_instance_cache()
    assert run_luigi([LoadPartition(partition="A/A")]).status == luigi.LuigiStatusCode.SUCCESS
    counts = warehouse_counts({"MUSIC_ETL_WAREHOUSE_URL": postgres_url})
    assert counts["markers"] == {"A/A": 1}
    assert counts["songs"] == {"A/A": staged_songs({"MUSIC_ETL_STAGING_ROOT": local_pipeline}, "A/A")}


def test_the_local_schedulers_pending_count_is_luigis_own():
    """The shortcut (no upstream walk while nothing is disabled) answers what Luigi's walk answers."""
    from luigi import scheduler as luigi_scheduler
    from luigi.task_status import DISABLED, DONE, FAILED, PENDING

    from pipeline.scheduling import LocalScheduler

    def fill(sch):
        sch.add_task(worker="w", task_id="extract", status=DONE)
        sch.add_task(worker="w", task_id="enrich", status=PENDING, deps=["extract"])
        sch.add_task(worker="w", task_id="load", status=PENDING, deps=["enrich"])
        sch.add_task(worker="other", task_id="load", status=PENDING, deps=["enrich"])
        sch.add_task(worker="w", task_id="broken", status=FAILED)
        sch.add_task(worker="w", task_id="after-broken", status=PENDING, deps=["broken"])
        return sch

    # retry_count explicit: a failed task stays FAILED (not disabled) whatever luigi.cfg says
    ours, theirs = fill(LocalScheduler(retry_count=5)), fill(luigi_scheduler.Scheduler(retry_count=5))
    before = ours.count_pending("w")
    assert before == theirs.count_pending("w") and before["n_pending_tasks"] >= 3
    for sch in (ours, theirs):  # a disabled task: its dependents no longer count as pending
        sch._state.set_status(sch._state.get_task("broken"), DISABLED)
    assert ours.count_pending("w") == theirs.count_pending("w")
    assert ours.count_pending("w")["n_pending_tasks"] < before["n_pending_tasks"]


def test_the_run_summary_says_when_the_spotify_quota_allows_a_resume(local_pipeline, luigi_config, spotify_at, monkeypatch,
                                                                    tmp_path, capsys):
    spotify_at(mode="development", daily_quota=20)
    luigi_config.set("warehouse", url=f"duckdb:///{tmp_path}/warehouse.duckdb")
    luigi_config.set("scheduler", retry_count=1)
    assert front_end(["run", "--partitions", "A/A,A/B"]) == 1
    out, err = capsys.readouterr()
    assert re.search(r"Spotify quota exhausted \(partition A/[AB]\): rerun after \d{4}-\d\d-\d\dT", out), out
    assert "partitions loaded this run: 0" in out and "SpotifySearch(A/" in err
    assert f"staging {local_pipeline}" in out


def test_dry_run_prints_partitions_targets_and_sql_and_changes_nothing(local_pipeline, luigi_config, spotify_at,
                                                                      monkeypatch, tmp_path, capsys):
    from pipeline.sources.deezer.tasks import DeezerEnrich

    server = spotify_at(mode="development")
    luigi_config.set("warehouse", url=f"duckdb:///{tmp_path}/warehouse.duckdb")
    assert run_luigi([DeezerEnrich(partition="A/A")]).status == luigi.LuigiStatusCode.SUCCESS
    before = {p: os.path.getmtime(p) for p in _files(local_pipeline)}
    requests = [dict(s.state.stats()["requests"]) for s in (server, spotify_at.deezer)]
    assert front_end(["run", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "A/A:\n  ExtractPartition done" in out and "SpotifySearch done" in out and "LoadPartition to run" in out
    assert "DeezerEnrich done" in out and f"Deezer: {spotify_at.deezer.url}/" in out
    assert "A/B:\n  ExtractPartition to run" in out
    assert "DELETE FROM songs WHERE msd_partition = 'A/A'" in out and "INSERT INTO etl_load_markers" in out
    assert "DELETE FROM deezer_matches WHERE msd_partition = 'A/A'" in out
    assert {p: os.path.getmtime(p) for p in _files(local_pipeline)} == before
    assert not os.path.exists(tmp_path / "warehouse.duckdb")  # not even created
    assert [s.state.stats()["requests"] for s in (server, spotify_at.deezer)] == requests


def test_a_selection_that_names_no_partition_is_one_line_and_exit_2(local_pipeline, luigi_config, tmp_path, capsys):
    luigi_config.set("msd", root=tmp_path / "nowhere")
    assert front_end(["run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: No MSD partitions found under") and len(err.strip().splitlines()) == 1
    assert front_end(["run", "--partitions", "A/B,b/a"]) == 2
    assert "Invalid MSD partition `'b/a'`" in capsys.readouterr().err


def _children(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii") as fh:
                    fields = fh.read().rsplit(") ", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.add(int(entry))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_killed_run_leaves_no_worker_calling_spotify(pipeline_env, sandbox, tmp_path):
    slow = sandbox(mode="development", latency_ms=150)  # a partition's enrichment takes seconds
    env = _env(pipeline_env) | {"MUSIC_ETL_SPOTIFY_API_URL": f"{slow.url}/v1/",
                                "MUSIC_ETL_SPOTIFY_TOKEN_URL": f"{slow.url}/api/token"}
    run = subprocess.Popen([sys.executable, "-m", "pipeline", "run", "--workers", "2"], cwd=PROJECT_ROOT, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while slow.state.stats()["requests"].get("search", 0) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    workers = _children(run.pid)
    assert workers, "the run had no task process when Spotify was first asked"
    run.send_signal(signal.SIGKILL)
    run.wait()
    deadline = time.monotonic() + 60
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(pid) for pid in workers), "task processes outlived the command"
    # They stopped mid-partition: no enrichment was finished after the command was killed.
    staged = os.path.join(env["MUSIC_ETL_STAGING_ROOT"], "spotify")
    manifests = [f for folder, _, files in os.walk(staged) for f in files if f.startswith("_manifest-")]
    assert manifests == []


@pytest.mark.slow
def test_a_run_on_a_terminal_shows_a_bar_with_partitions_loaded_and_a_piped_run_does_not(pipeline_env, tmp_path):
    command = [sys.executable, "-m", "pipeline", "run", "--workers", "2"]
    shown = read_pty(command, _env(pipeline_env))
    assert re.search(r"run: 100%\|[^\r]*\| 19/19 \[[0-9:]+<00:00, [^\r]*partitions loaded 3/3\]", shown), shown[-2000:]
    elsewhere = _env(pipeline_env) | {"MUSIC_ETL_STAGING_ROOT": str(tmp_path / "piped"),
                                      "MUSIC_ETL_WAREHOUSE_URL": f"duckdb:///{tmp_path}/piped.duckdb"}
    piped = subprocess.run(command, cwd=PROJECT_ROOT, env=elsewhere, capture_output=True, text=True, timeout=300)
    assert piped.returncode == 0, piped.stderr[-2000:]
    assert "partitions loaded this run: 3" in piped.stdout
    assert "tasks/s" not in piped.stderr + piped.stdout and "\r" not in piped.stderr + piped.stdout
