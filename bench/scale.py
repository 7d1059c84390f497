"""Scale simulation: the whole pipeline over 676 partitions with luigid and 1, 2 and 4 worker processes.

    .venv/bin/python bench/scale.py --partitions 676 --songs-per-partition 1 --workers 1,2,4 --json var/bench/scale.json

A benchmark, not a test. On this machine: a generated MSD sample with every letter partition,
a moto server (its own process) for S3 staging, the Spotify sandbox (Development Mode, 20 ms a
request) and the Deezer sandbox at Deezer's documented limit (50 requests per 5 s, 20 ms a
request), one luigid (its own process, ``[resources]`` from luigi.cfg: ``spotify_api`` 2,
``deezer_api`` 1, ``duckdb_warehouse`` 1), and for each worker count a fresh staging prefix,
answer stores, DuckDB warehouse and sandboxes, so every configuration pays for every request.
The command run is ``python -m pipeline run --scheduler-url <luigid> --workers N``.

Reported per worker count: wall time, tasks per second, the scheduler's latency (its API timed
every half second by a probe while the workers use it: median and 95th percentile), and each
source's requests per second (mean over the span it was asked, and the busiest 5 s) against its
limit. Where a source's busiest rate meets its limit, throughput is bound by it; the worker
count from which wall time stops falling is where it saturates.

With one song per partition a task is mostly bookkeeping, so a second part (``--deezer-partitions``
× ``--deezer-songs``, local staging) runs Deezer's stage alone on partitions large enough that a
task is mostly requests, as a full-MSD partition's is, for each worker count:
``luigi --module pipeline EnrichAll --only deezer`` against a fresh luigid, with a fresh Deezer answer store.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import string
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import boto3  # noqa: E402

from bench import free_port, start_moto_server, write_results  # noqa: E402
from pipeline.luigid import wait as luigid_answers  # noqa: E402
from pipeline.standins.deezer_catalog import build_deezer_catalog  # noqa: E402
from pipeline.standins.deezer_sandbox import DeezerSandboxServer, DeezerState  # noqa: E402
from pipeline.standins.msd_sample import generate_sample  # noqa: E402
from pipeline.standins.spotify_catalog import DEMO_CATALOG_SEED, build_catalog, load_identities  # noqa: E402
from pipeline.standins.spotify_sandbox import SandboxServer, SandboxState  # noqa: E402

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
BUCKET = "scale-bench"
DEEZER_LIMIT, DEEZER_WINDOW_S = 50, 5.0


def all_partitions(n: int) -> list[str]:
    letters = string.ascii_uppercase
    return [f"{a}/{b}" for a in letters for b in letters][:n]


class Sampler(threading.Thread):
    """Every ``every_s``: each sandbox's request count, and the scheduler API's latency."""

    def __init__(self, scheduler_url: str, sandboxes: dict, every_s: float = 0.5):
        super().__init__(daemon=True)
        self.url, self.sandboxes, self.every_s = scheduler_url, sandboxes, every_s
        self.counts: list[tuple[float, dict[str, int]]] = []
        self.latencies: list[float] = []
        self.stop = threading.Event()

    def run(self):
        query = urllib.request.quote(json.dumps({"status": "RUNNING", "upstream_status": "", "search": ""}))
        while not self.stop.is_set():
            now = time.monotonic()
            self.counts.append((now, {name: sum(s.state.stats()["requests"].values())
                                      for name, s in self.sandboxes.items()}))
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(f"{self.url}/api/task_list?data={query}", timeout=10) as answer:
                    answer.read()
                self.latencies.append(time.perf_counter() - started)
            except OSError:
                pass
            self.stop.wait(self.every_s)


def rates(counts: list[tuple[float, dict[str, int]]], name: str, window_s: float = 5.0) -> dict:
    series = [(t, c[name]) for t, c in counts]
    active = [(t, c) for i, (t, c) in enumerate(series) if i and c > series[i - 1][1]]
    if not active:
        return {"requests": series[-1][1] if series else 0, "mean_per_s": 0.0, "busiest_5s_per_s": 0.0}
    first = next(series[i - 1][0] for i, (t, c) in enumerate(series) if i and c > series[i - 1][1])
    span = active[-1][0] - first
    busiest = 0.0
    for i, (t, c) in enumerate(series):
        j = next((k for k in range(i, len(series)) if series[k][0] - t >= window_s), None)
        if j is None:
            break
        busiest = max(busiest, (series[j][1] - c) / (series[j][0] - t))
    return {"requests": series[-1][1], "active_s": round(span, 1), "mean_per_s": round(series[-1][1] / span, 2) if span else 0.0,
            "busiest_5s_per_s": round(busiest, 2)}


def run_against_luigid(command, env: dict, folder: str, sandboxes: dict):
    """Start a fresh luigid, run ``command(port)`` against it while a ``Sampler`` watches, and stop it:
    (the finished process, its wall time, the sampler, the tasks luigid saw done)."""
    port = free_port()
    luigid = subprocess.Popen([os.path.join(BIN, "luigid"), "--address", "127.0.0.1", "--port", str(port),
                               "--state-path", os.path.join(folder, f"state-{port}.pickle"), "--logdir", folder],
                              cwd=PROJECT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        if not luigid_answers(url, luigid.pid, timeout_s=20):
            raise SystemExit(f"luigid did not start on port {port}")
        sampler = Sampler(url, sandboxes)
        sampler.start()
        started = time.perf_counter()
        run = subprocess.run(command(port), cwd=PROJECT, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
        sampler.stop.set()
        sampler.join()
        query = urllib.request.quote(json.dumps({"status": "DONE", "upstream_status": "", "search": ""}))
        with urllib.request.urlopen(f"{url}/api/task_list?data={query}", timeout=30) as answer:
            tasks = len(json.loads(answer.read())["response"])
    finally:
        luigid.terminate()
        luigid.wait()
    return run, wall, sampler, tasks


def one_configuration(workers: int, root: str, identities, work: str, endpoint: str) -> dict:
    catalog = build_catalog(identities, seed=DEMO_CATALOG_SEED)
    spotify = SandboxServer(SandboxState(catalog, mode="development", latency_ms=20)).start()
    deezer = DeezerSandboxServer(DeezerState(build_deezer_catalog(identities, catalog, seed=DEMO_CATALOG_SEED),
                                             rate_limit=DEEZER_LIMIT, rate_window_s=DEEZER_WINDOW_S,
                                             latency_ms=20)).start()
    folder = os.path.join(work, f"workers-{workers}")
    os.makedirs(folder)
    cfg = os.path.join(folder, "scale.cfg")
    with open(cfg, "w") as fh:
        fh.write(f"[core]\nlog_level = WARNING\n[msd]\nroot = {root}\n"
                 f"[staging]\nroot = s3://{BUCKET}/workers-{workers}\n"
                 f"[s3]\nendpoint_url = {endpoint}\nregion_name = us-east-1\n"
                 f"[warehouse]\nurl = duckdb:///{folder}/warehouse.duckdb\n"
                 f"[spotify]\napi_url = {spotify.url}/v1/\ntoken_url = {spotify.url}/api/token\n"
                 f"[deezer]\napi_url = {deezer.url}/\npace_file = {folder}/deezer-pace\n")
    env = {**os.environ, "LUIGI_CONFIG_PATH": cfg, "SPOTIPY_CLIENT_ID": "sandbox-client",
           "SPOTIPY_CLIENT_SECRET": "sandbox-secret", "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
    run, wall, sampler, tasks = run_against_luigid(
        lambda port: [sys.executable, "-m", "pipeline", "run", "--scheduler-url", f"http://127.0.0.1:{port}",
                      "--workers", str(workers)], env, folder, {"spotify": spotify, "deezer": deezer})
    spotify.stop()
    deezer.stop()
    if run.returncode != 0:
        raise SystemExit(f"workers={workers}: the run failed ({run.returncode}):\n{run.stdout[-2000:]}\n{run.stderr[-3000:]}")
    latencies = sorted(sampler.latencies)
    return {
        "workers": workers, "wall_s": round(wall, 1), "tasks_run": tasks, "tasks_per_s": round(tasks / wall, 2),
        "scheduler_latency_ms": {"median": round(1000 * statistics.median(latencies), 1),
                                 "p95": round(1000 * latencies[int(0.95 * (len(latencies) - 1))], 1),
                                 "samples": len(latencies)},
        "spotify": rates(sampler.counts, "spotify"),
        "deezer": {**rates(sampler.counts, "deezer"), "limit_per_s": DEEZER_LIMIT / DEEZER_WINDOW_S},
        "summary": [line for line in run.stdout.splitlines() if not line.lstrip().startswith("done ")][-4:],
    }


def deezer_saturation(workers_list: list[int], partitions: int, songs_per_partition: int, seed: int) -> list[dict]:
    """Deezer's stage alone on partitions large enough that a task is mostly requests, as a full-MSD
    partition's is (1,480 songs): extraction and Spotify first (not timed), then for each worker
    count a fresh Deezer answer store and staging, ``luigi … EnrichAll --only deezer`` against a fresh luigid."""
    import shutil

    work = tempfile.mkdtemp(prefix="music-etl-scale-deezer-")
    root = os.path.join(work, "msd")
    generate_sample(root, songs=songs_per_partition * partitions, seed=seed, partitions=all_partitions(partitions))
    identities = load_identities(root)
    catalog = build_catalog(identities, seed=DEMO_CATALOG_SEED)
    spotify = SandboxServer(SandboxState(catalog, mode="development", latency_ms=20)).start()
    deezer_catalog = build_deezer_catalog(identities, catalog, seed=DEMO_CATALOG_SEED)
    staging_root = os.path.join(work, "staging")
    out = []
    try:
        for workers in [0, *workers_list]:  # 0: the untimed extraction and Spotify enrichment
            deezer = DeezerSandboxServer(DeezerState(deezer_catalog, rate_limit=DEEZER_LIMIT, rate_window_s=DEEZER_WINDOW_S,
                                                     latency_ms=20)).start()
            cfg = os.path.join(work, f"deezer-{workers}.cfg")
            with open(cfg, "w") as fh:
                fh.write(f"[core]\nlog_level = WARNING\n[msd]\nroot = {root}\n[staging]\nroot = {staging_root}\n"
                         f"[spotify]\napi_url = {spotify.url}/v1/\ntoken_url = {spotify.url}/api/token\n"
                         f"[deezer]\napi_url = {deezer.url}/\npace_file = {work}/deezer-pace-{workers}\n")
            env = {**os.environ, "LUIGI_CONFIG_PATH": cfg, "SPOTIPY_CLIENT_ID": "sandbox-client",
                   "SPOTIPY_CLIENT_SECRET": "sandbox-secret"}
            if workers == 0:
                subprocess.run([os.path.join(BIN, "luigi"), "--module", "pipeline", "EnrichAll", "--local-scheduler",
                                "--workers", "2"], cwd=PROJECT, env=env, check=True, capture_output=True)
                deezer.stop()
                continue
            for folder in ("deezer", os.path.join("answers", "deezer")):
                shutil.rmtree(os.path.join(staging_root, folder), ignore_errors=True)
            run, wall, sampler, _ = run_against_luigid(
                lambda port, workers=workers: [os.path.join(BIN, "luigi"), "--module", "pipeline", "EnrichAll", "--only", "deezer",
                                               "--scheduler-host", "127.0.0.1", "--scheduler-port", str(port),
                                               "--workers", str(workers)],
                env, work, {"deezer": deezer})
            deezer.stop()
            if run.returncode != 0:
                raise SystemExit(f"EnrichAll --only deezer with {workers} workers failed:\n{run.stderr[-3000:]}")
            result = {"workers": workers, "wall_s": round(wall, 1), "deezer": {**rates(sampler.counts, "deezer"),
                                                                                "limit_per_s": DEEZER_LIMIT / DEEZER_WINDOW_S}}
            out.append(result)
            d = result["deezer"]
            print(f"Deezer stage alone, workers {workers}: {result['wall_s']:6.1f} s, {d['requests']} requests, "
                  f"{d['mean_per_s']}/s mean, {d['busiest_5s_per_s']}/s busiest 5 s (limit {d['limit_per_s']}/s)",
                  flush=True)
    finally:
        spotify.stop()
        shutil.rmtree(work, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--partitions", type=int, default=676)
    parser.add_argument("--songs-per-partition", type=int, default=1)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--seed", type=int, default=31)
    parser.add_argument("--deezer-partitions", type=int, default=20,
                        help="the Deezer saturation run: partitions of --deezer-songs songs each (0: skip it)")
    parser.add_argument("--deezer-songs", type=int, default=40)
    parser.add_argument("--only-deezer", action="store_true", help="run the Deezer saturation part alone")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    workers_list = [int(w) for w in args.workers.split(",")]
    if args.only_deezer:
        write_results(args.json, {"deezer_stage": deezer_saturation(workers_list, args.deezer_partitions,
                                                                    args.deezer_songs, args.seed)})
        return 0

    work = tempfile.mkdtemp(prefix="music-etl-scale-")
    partitions = all_partitions(args.partitions)
    root = os.path.join(work, "msd")
    generate_sample(root, songs=args.songs_per_partition * len(partitions), seed=args.seed, partitions=partitions)
    identities = load_identities(root)
    moto, endpoint = start_moto_server()
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench",
                 aws_secret_access_key="bench").create_bucket(Bucket=BUCKET)
    results = {"partitions": len(partitions), "songs": args.songs_per_partition * len(partitions),
               "cores": os.cpu_count(), "configurations": []}
    try:
        for workers in workers_list:
            result = one_configuration(workers, root, identities, work, endpoint)
            results["configurations"].append(result)
            d, s = result["deezer"], result["spotify"]
            print(f"workers {workers}: {result['wall_s']:7.1f} s, {result['tasks_run']} tasks, "
                  f"{result['tasks_per_s']:5.2f} tasks/s; scheduler latency median "
                  f"{result['scheduler_latency_ms']['median']} ms, p95 {result['scheduler_latency_ms']['p95']} ms; "
                  f"Deezer {d['requests']} requests, {d['mean_per_s']}/s mean, {d['busiest_5s_per_s']}/s busiest 5 s "
                  f"(limit {d['limit_per_s']}/s); Spotify {s['requests']} requests, {s['mean_per_s']}/s mean, "
                  f"{s['busiest_5s_per_s']}/s busiest", flush=True)
    finally:
        moto.terminate()
        moto.wait()
    if args.deezer_partitions:
        results["deezer_stage"] = deezer_saturation(workers_list, args.deezer_partitions, args.deezer_songs, args.seed)
    write_results(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
