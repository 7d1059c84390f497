"""The daily run's cost when there is nothing to refresh, against today's no-op rerun, over 676 partitions.

    .venv/bin/python bench/daily.py --partitions 676 --songs-per-partition 2 --json var/bench/daily.json

The real graph, not a model of it: a generated MSD sample with every one of the 676 letter
partitions, the Spotify sandbox (Development Mode) and the Deezer sandbox, local staging and a
DuckDB warehouse. Everything is run and loaded once (not timed), then, alternately, each round:

* ``noop_rerun``: ``RunAll`` over every partition with everything done (today's no-op rerun,
  5 tasks per partition checked complete, the MSD folders listed for their input ids);
* ``daily_nothing_to_refresh``: ``DailyRefresh`` of a new date with both budgets at 0: the same
  ``RunAll`` check, then the plan (one query per source over the matches and snapshots), empty
  snapshot loads, the match-history step and the day's summary;
* ``day_already_done``: ``python -m pipeline refresh`` over that finished day (``RangeDaily``,
  one marker query).

Each measurement is a new command's view (listings and task instances forgotten), in this
process, one worker, local scheduler. Target (issue 14): the daily run with nothing to refresh
costs at most 2x today's no-op rerun.
"""

from __future__ import annotations

import argparse
import os
import statistics
import string
import sys
import tempfile
import time
from datetime import date, timedelta

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import luigi  # noqa: E402
import luigi.configuration  # noqa: E402

from bench import write_results  # noqa: E402
from pipeline import forget_listings  # noqa: E402
from pipeline.standins.deezer_catalog import build_deezer_catalog  # noqa: E402
from pipeline.standins.deezer_sandbox import DeezerSandboxServer, DeezerState  # noqa: E402
from pipeline.standins.msd_sample import generate_sample  # noqa: E402
from pipeline.standins.spotify_catalog import DEMO_CATALOG_SEED, build_catalog, load_identities  # noqa: E402
from pipeline.standins.spotify_sandbox import SandboxServer, SandboxState  # noqa: E402

FIRST_DAY = date(2026, 1, 1)


def all_partitions(n: int) -> list[str]:
    letters = string.ascii_uppercase
    return [f"{a}/{b}" for a in letters for b in letters][:n]


def configure(path: str, sections: dict[str, dict]) -> None:
    with open(path, "w") as fh:
        for section, values in sections.items():
            fh.write(f"[{section}]\n" + "".join(f"{k} = {v}\n" for k, v in values.items()))
    parser = luigi.configuration.get_config()
    for section in parser.sections():
        parser.remove_section(section)
    parser.read([os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "luigi.cfg"), path])


def staging_bytes(staging_root: str) -> dict[str, int]:
    """Bytes under each top-level folder of the staging root (msd, spotify, answers, …)."""
    out = {}
    for stage in sorted(os.listdir(staging_root)):
        out[stage] = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(os.path.join(staging_root, stage))
                         for f in fs)
    return out


def timed(task) -> float:
    """One run as a new command sees it."""
    from pipeline.scheduling import WorkerSchedulerFactory

    forget_listings()
    luigi.task_register.Register.clear_instance_cache()
    started = time.perf_counter()
    ok = luigi.build([task], local_scheduler=True, workers=1, log_level="WARNING",
                     worker_scheduler_factory=WorkerSchedulerFactory())
    seconds = time.perf_counter() - started
    if not ok:
        raise SystemExit(f"{task} failed")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--partitions", type=int, default=676)
    parser.add_argument("--songs-per-partition", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    from luigi.tools.range import RangeDaily

    from pipeline.tasks import DailyRefresh, RunAll

    work = tempfile.mkdtemp(prefix="music-etl-daily-bench-")
    partitions = all_partitions(args.partitions)
    root = os.path.join(work, "msd")
    started = time.perf_counter()
    generate_sample(root, songs=args.songs_per_partition * len(partitions), seed=args.seed, partitions=partitions)
    identities = load_identities(root)
    catalog = build_catalog(identities, seed=DEMO_CATALOG_SEED)
    spotify = SandboxServer(SandboxState(catalog, mode="development")).start()
    deezer = DeezerSandboxServer(DeezerState(build_deezer_catalog(identities, catalog, seed=DEMO_CATALOG_SEED),
                                             rate_limit=None)).start()
    os.environ.update(SPOTIPY_CLIENT_ID="sandbox-client", SPOTIPY_CLIENT_SECRET="sandbox-secret")
    sections = {
        "core": {"no_configure_logging": "true", "log_level": "WARNING"},
        "msd": {"root": root}, "staging": {"root": os.path.join(work, "staging")},
        "warehouse": {"url": f"duckdb:///{work}/warehouse.duckdb"},
        "spotify": {"api_url": f"{spotify.url}/v1/", "token_url": f"{spotify.url}/api/token", "refresh_budget": 0},
        "deezer": {"api_url": f"{deezer.url}/", "pace_file": os.path.join(work, "pace"), "rate_limit": 2000,
                   "rate_window": 1, "refresh_budget": 0},
    }
    configure(os.path.join(work, "bench.cfg"), sections)
    try:
        first = timed(RunAll())
        songs = args.songs_per_partition * len(partitions)
        print(f"{len(partitions)} partitions, {songs} songs: generated and run "
              f"once in {time.perf_counter() - started:.0f} s (the run {first:.0f} s)", flush=True)
        sizes = staging_bytes(os.path.join(work, "staging"))
        msd_bytes = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(root) for f in fs if f.endswith(".h5"))
        print("bytes per song: MSD files " + f"{msd_bytes / songs:,.0f}; staged "
              + ", ".join(f"{stage} {n / songs:,.0f}" for stage, n in sizes.items()), flush=True)
        rounds = []
        for i in range(args.rounds):
            day = FIRST_DAY + timedelta(days=i)
            noop = timed(RunAll())
            daily = timed(DailyRefresh(date=day))
            done = timed(RangeDaily(of=DailyRefresh, start=day, stop=day + timedelta(days=1)))
            rounds.append({"noop_rerun_s": round(noop, 3), "daily_nothing_to_refresh_s": round(daily, 3),
                           "day_already_done_s": round(done, 3)})
            print(f"round {i + 1}: no-op rerun {noop:6.2f} s   daily, nothing to refresh {daily:6.2f} s   "
                  f"day already done {done:5.2f} s", flush=True)
    finally:
        spotify.stop()
        deezer.stop()
    medians = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    ratio = medians["daily_nothing_to_refresh_s"] / medians["noop_rerun_s"]
    results = {"partitions": len(partitions), "songs": songs, "rounds": rounds, "msd_bytes": msd_bytes,
               "staging_bytes": sizes,
               "medians_s": medians, "daily_over_noop": round(ratio, 2), "target": "<= 2.0"}
    print(f"medians: no-op rerun {medians['noop_rerun_s']:.2f} s, daily with nothing to refresh "
          f"{medians['daily_nothing_to_refresh_s']:.2f} s ({ratio:.2f}x, target <= 2), day already done "
          f"{medians['day_already_done_s']:.2f} s")
    write_results(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
