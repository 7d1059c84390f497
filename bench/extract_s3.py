"""Extraction with the MSD on S3 against the same files on a local disk: files per second.

    .venv/bin/python bench/extract_s3.py --songs 2000 --seed 11 --json var/bench/extract_s3.json

The sample bench/extract.py generates (cached under var/bench/) is uploaded to a moto server
run as its own process (``moto_server``, so its request handling does not share this
interpreter's lock with the reader), and each round extracts every partition twice with
``pipeline.msd.extract.extract_partition``, the code ExtractPartition runs: once with
``[msd] root`` a local folder (page cache warm), once with it ``s3://…`` (objects listed, each
GET into memory, h5py on the bytes; ``S3_READS_IN_FLIGHT`` GETs at once). Rounds alternate the
order. Reported: wall-clock files/s for each and their ratio, and the staged records compared
(they must be identical). moto answers on loopback in well under a millisecond; a real region's
GET takes 10-30 ms, which the reads in flight hide only as far as their number allows
(docs/SCALING.md works that out). Target (issue 16): report it; no ratio was set.
"""

from __future__ import annotations

import argparse
import glob
import gzip
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import boto3  # noqa: E402
import luigi  # noqa: E402
import luigi.configuration  # noqa: E402

from bench import start_moto_server, write_results  # noqa: E402
from pipeline import staging  # noqa: E402
from pipeline.msd import extract as extract_module  # noqa: E402
from pipeline.partitions import discover_partitions  # noqa: E402
from pipeline.standins.msd_sample import generate_sample  # noqa: E402

BUCKET = "msd-extract-bench"


def extract_all(root: str, partitions: list[str], out_dir: str) -> tuple[int, float]:
    started = time.perf_counter()
    files = 0
    for partition in partitions:
        folder = os.path.join(out_dir, partition)

        def open_writer(name, folder=folder):
            return staging.JsonLinesWriter(luigi.LocalTarget(os.path.join(folder, name), format=luigi.format.Nop))
        manifest = extract_module.extract_partition(root, partition, open_writer)
        files += manifest["counts"]["tracks"]
    return files, time.perf_counter() - started


def staged(out_dir: str) -> dict[str, bytes]:
    return {os.path.relpath(p, out_dir): gzip.decompress(open(p, "rb").read())
            for p in sorted(glob.glob(os.path.join(out_dir, "*", "*", "*.jsonl.gz")))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--songs", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    local_root = os.path.join("var", "bench", f"msd-{args.songs}-{args.seed}")
    generate_sample(local_root, args.songs, args.seed, ["A/A", "A/B", "A/C", "B/A"])
    partitions = discover_partitions(local_root)
    for path in glob.glob(os.path.join(local_root, "*", "*", "*", "*.h5")):  # page cache warm
        with open(path, "rb") as fh:
            fh.read()

    server, endpoint = start_moto_server()
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", MUSIC_ETL_S3_ENDPOINT_URL=endpoint)
    luigi.configuration.get_config().remove_section("s3") if luigi.configuration.get_config().has_section("s3") else None
    staging.paths._clients.clear()
    try:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        paths = sorted(glob.glob(os.path.join(local_root, "*", "*", "*", "*.h5")))
        for path in paths:
            s3.upload_file(path, BUCKET, f"msd/{os.path.relpath(path, local_root)}")
        s3_root = f"s3://{BUCKET}/msd"
        rounds = []
        work = tempfile.mkdtemp(prefix="extract-s3-bench-")
        for r in range(args.rounds):
            order = (("local", local_root), ("s3", s3_root))
            result = {}
            for name, root in order if r % 2 == 0 else order[::-1]:
                out = os.path.join(work, f"{name}-{r}")
                files, seconds = extract_all(root, partitions, out)
                result[name] = {"files": files, "wall_s": round(seconds, 3), "files_per_s": round(files / seconds)}
            same = staged(os.path.join(work, f"local-{r}")) == staged(os.path.join(work, f"s3-{r}"))
            result["identical_output"] = same
            rounds.append(result)
            print(f"round {r + 1}: local {result['local']['files_per_s']} files/s, S3 {result['s3']['files_per_s']} "
                  f"files/s, identical staged output: {same}", flush=True)
        shutil.rmtree(work, ignore_errors=True)
    finally:
        server.terminate()
        server.wait()
    best = {name: max(r[name]["files_per_s"] for r in rounds) for name in ("local", "s3")}
    results = {"files": rounds[0]["local"]["files"], "partitions": len(partitions), "rounds": rounds,
               "best_files_per_s": best, "s3_over_local": round(best["s3"] / best["local"], 2),
               "reads_in_flight": extract_module.S3_READS_IN_FLIGHT,
               "identical_output": all(r["identical_output"] for r in rounds)}
    print(f"best: local {best['local']} files/s, S3 (moto on loopback) {best['s3']} files/s: "
          f"{results['s3_over_local']}x; staged output identical in every round: {results['identical_output']}")
    write_results(args.json, results)
    return 0 if results["identical_output"] else 1


if __name__ == "__main__":
    sys.exit(main())
