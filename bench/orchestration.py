"""Orchestration overhead at full scale: 676 partitions × 3 steps, trivial bodies, staging on S3.

    .venv/bin/python bench/orchestration.py --partitions 676 --json var/bench/orchestration.json

A moto server on 127.0.0.1 plays S3. Two contenders run the same graph shape (Extract →
Enrich → Load per partition, under one wrapper task), each on its own prefix of one bucket,
with task bodies that only write their completion file:

* ``plain``: Luigi as it comes: ``S3Target`` outputs (``exists()`` is a HEAD, and for a missing
  key a folder check too) and Luigi's default run-time re-check of every dependency;
* ``pipeline``: the project's ``StagedPartitionTask`` with ``ManifestTarget`` outputs (existence
  from one listing per stage; before its work each task asks the store with one LIST of its own
  folder; a manifest is one PUT), ``[worker] check_unfulfilled_deps = false``
  as luigi.cfg sets it, and the local scheduler ``python -m pipeline run`` uses (no pruning of
  the task table on every ``get_work``).

Three scenarios each, in this order: a fresh run (nothing exists), a rerun with half the load
outputs deleted, a no-op rerun. One worker, local scheduler, so the numbers are bookkeeping,
not parallelism. Targets (issue 5): fresh at most 1/4 of plain's time, half-done at most 1/3,
no-op under 2 s.
"""

from __future__ import annotations

import argparse
import os
import string
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import boto3  # noqa: E402
import luigi  # noqa: E402
import luigi.configuration  # noqa: E402
import luigi.format  # noqa: E402
from luigi.contrib.s3 import S3Target  # noqa: E402

from bench import write_results  # noqa: E402
from pipeline import staging  # noqa: E402
from pipeline.scheduling import WorkerSchedulerFactory  # noqa: E402
from pipeline.tasks.base import StagedPartitionTask  # noqa: E402

BUCKET = "orchestration-bench"


def all_partitions(n: int) -> list[str]:
    letters = string.ascii_uppercase
    return [f"{a}/{b}" for a in letters for b in letters][:n]


# --- the pipeline's way ----------------------------------------------------------------------

class _Trivial(StagedPartitionTask):
    def run(self):
        if not self.start():
            return
        self.write_manifest({"partition": self.partition, "stage": self.stage})


class PExtract(_Trivial):
    stage = "p_msd"


class PEnrich(_Trivial):
    stage = "p_spotify"

    def requires(self):
        return PExtract(partition=self.partition)


class PLoad(_Trivial):
    stage = "p_load"

    def requires(self):
        return PEnrich(partition=self.partition)


class PAll(luigi.WrapperTask):
    partitions = luigi.ListParameter()

    def requires(self):
        return [PLoad(partition=p) for p in self.partitions]


# --- plain Luigi -----------------------------------------------------------------------------

class _Plain(luigi.Task):
    partition = luigi.Parameter()
    stage = ""

    def output(self):
        return S3Target(f"{staging.root()}/{self.stage}/{self.partition}/_manifest.json", format=luigi.format.Nop,
                        client=staging.s3_client())

    def run(self):
        with self.output().open("w") as fh:
            fh.write(b'{"done": true}')


class QExtract(_Plain):
    stage = "q_msd"


class QEnrich(_Plain):
    stage = "q_spotify"

    def requires(self):
        return QExtract(partition=self.partition)


class QLoad(_Plain):
    stage = "q_load"

    def requires(self):
        return QEnrich(partition=self.partition)


class QAll(luigi.WrapperTask):
    partitions = luigi.ListParameter()

    def requires(self):
        return [QLoad(partition=p) for p in self.partitions]


def run(task, ours: bool) -> float:
    """One run as a new command would do it: plain Luigi's defaults, or ``python -m pipeline run``'s."""
    luigi.configuration.get_config().set("worker", "check_unfulfilled_deps", "false" if ours else "true")
    luigi.task_register.Register.clear_instance_cache()
    staging.reset_manifest_index()  # a new run is a new process
    factory = {"worker_scheduler_factory": WorkerSchedulerFactory()} if ours else {}
    started = time.perf_counter()
    ok = luigi.build([task], local_scheduler=True, workers=1, log_level="WARNING", **factory)
    seconds = time.perf_counter() - started
    if not ok:
        raise SystemExit(f"{task} failed")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--partitions", type=int, default=676)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's access log

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", MUSIC_ETL_S3_ENDPOINT_URL=endpoint,
                      MUSIC_ETL_STAGING_ROOT=f"s3://{BUCKET}/staging")
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    partitions = all_partitions(args.partitions)
    results = {"partitions": len(partitions), "tasks": 3 * len(partitions) + 1, "contenders": {}}
    try:
        for name, wrapper, load_stage, ours in (("plain", QAll, "q_load", False), ("pipeline", PAll, "p_load", True)):
            fresh = run(wrapper(partitions=partitions), ours)
            for p in partitions[::2]:
                for item in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"staging/{load_stage}/{p}/")["Contents"]:
                    if "_manifest" in item["Key"]:
                        s3.delete_object(Bucket=BUCKET, Key=item["Key"])
            half = run(wrapper(partitions=partitions), ours)
            noop = run(wrapper(partitions=partitions), ours)
            results["contenders"][name] = {"fresh_s": round(fresh, 2), "half_done_s": round(half, 2), "noop_s": round(noop, 2)}
            print(f"{name:<9} fresh {fresh:7.2f} s   half-done rerun {half:6.2f} s   no-op rerun {noop:5.2f} s", flush=True)
    finally:
        server.stop()
    plain, ours = results["contenders"]["plain"], results["contenders"]["pipeline"]
    ratios = {k: round(plain[k] / ours[k], 2) for k in plain}
    results["plain_over_pipeline"] = ratios
    print(f"plain / pipeline: fresh {ratios['fresh_s']}x (target >= 4), half-done {ratios['half_done_s']}x "
          f"(target >= 3), no-op {ours['noop_s']} s (target < 2 s)")
    write_results(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
