"""Extraction speed: MSD files per second on one core, output writing included.

    .venv/bin/python bench/extract.py --songs 2000 --seed 11

Generates (once, cached under var/bench/) an MSD-format sample, then in the same run and on
the same warm files measures:

* ``pipeline``: ``pipeline.msd.extract.extract_partition``, the code ExtractPartition runs,
  writing the staged gzipped JSON Lines to a temporary folder;
* ``baseline``: the same partition loop and the same writer, but each track read the
  ``hdf5_getters`` way (one dataset access per field; bench/hdf5_getters_baseline.py).

Both run in this one process, so CPU seconds are seconds of one core. Rounds alternate
between the two to spread any drift of the machine evenly. Targets (issue 2): ratio >= 8,
pipeline >= 1,000 files/s.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import sys
import tempfile
import time
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import luigi  # noqa: E402

from bench.hdf5_getters_baseline import read_track_getters_style  # noqa: E402
from pipeline import staging  # noqa: E402
from pipeline.msd import extract as extract_module  # noqa: E402
from pipeline.msd.reader import ReadResult  # noqa: E402
from pipeline.partitions import discover_partitions, resolve_msd_root  # noqa: E402
from pipeline.standins.msd_sample import generate_sample  # noqa: E402


def _baseline_read(path, expect_single_track=False, image=None):
    return ReadResult([read_track_getters_style(path)])


def h5py_floor(files: list[str]) -> float:
    """CPU seconds for the HDF5 work no reader can skip: open each file, open the 14 datasets
    the pipeline needs, read their raw chunks, close. No validation, decoding or writing."""
    import h5py

    from pipeline.msd import schema
    from pipeline.msd.reader import _file_access_plist
    needed = [t.path for t in schema.TABLES] + [schema.ARRAY_BY_NAME[n].path for n in schema.VALUE_ARRAYS]
    counted = [schema.ARRAY_BY_NAME[n].path for n in schema.COUNTED_ARRAYS.values()]
    cpu = time.process_time()
    for path in files:
        fid = h5py.h5f.open(path.encode(), h5py.h5f.ACC_RDONLY, fapl=_file_access_plist())  # the reader's settings
        for name in needed:
            dsid = h5py.h5d.open(fid, name.encode())
            if dsid.shape[0]:
                dsid.read_direct_chunk((0,))
        for name in counted:
            _ = h5py.h5d.open(fid, name.encode()).shape  # the length is what the pipeline keeps
        fid.close()
    return time.process_time() - cpu


def run_extraction(msd_root: str, partitions: list[str], out_dir: str, baseline: bool) -> tuple[int, float, float]:
    def open_writer(prefix):
        return lambda name: staging.JsonLinesWriter(luigi.LocalTarget(os.path.join(prefix, name), format=luigi.format.Nop))

    patch = mock.patch.object(extract_module, "read_msd_file", _baseline_read) if baseline else contextlib.nullcontext()
    files = 0
    with patch:
        wall, cpu = time.perf_counter(), time.process_time()
        for partition in partitions:
            manifest = extract_module.extract_partition(msd_root, partition, open_writer(os.path.join(out_dir, partition)))
            files += manifest["counts"]["tracks"]
        return files, time.perf_counter() - wall, time.process_time() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--songs", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--msd", default=None, help="use this MSD root instead of a generated sample")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()

    msd_root = args.msd or os.path.join("var", "bench", f"msd-{args.songs}-{args.seed}")
    if not args.msd:
        generate_sample(msd_root, args.songs, args.seed, ["A/A", "A/B", "A/C", "B/A"])
    partitions = discover_partitions(msd_root)
    # Warm the page cache so both contenders read from memory, not from the disk.
    for dirpath, _, names in os.walk(msd_root):
        for name in names:
            with open(os.path.join(dirpath, name), "rb") as fh:
                fh.read()

    results = {"pipeline": [], "baseline": [], "floor": []}
    all_files = sorted(glob.glob(os.path.join(resolve_msd_root(msd_root), "*", "*", "*", "*.h5")))
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            order = ("pipeline", "baseline") if r % 2 == 0 else ("baseline", "pipeline")
            for name in order:
                files, wall, cpu = run_extraction(msd_root, partitions, os.path.join(tmp, f"{name}-{r}"), name == "baseline")
                results[name].append({"files": files, "wall_s": wall, "cpu_s": cpu})
            results["floor"].append({"files": len(all_files), "cpu_s": h5py_floor(all_files)})

    def best(name):
        runs = results[name]
        cpu = min(r["cpu_s"] for r in runs)
        return runs[0]["files"], cpu, runs[0]["files"] / cpu

    files, p_cpu, p_rate = best("pipeline")
    _, b_cpu, b_rate = best("baseline")
    _, f_cpu, f_rate = best("floor")
    summary = {
        "files": files, "rounds": args.rounds,
        "pipeline_files_per_cpu_s": round(p_rate), "baseline_files_per_cpu_s": round(b_rate),
        "h5py_floor_files_per_cpu_s": round(f_rate),
        "ratio": round(p_rate / b_rate, 2), "runs": results,
    }
    print(f"files: {files} in {len(partitions)} partitions, best of {args.rounds} rounds, one core")
    print(f"pipeline reader + writer : {p_rate:8.0f} files/s  ({p_cpu:.2f} CPU s)")
    print(f"hdf5_getters-style + same writer: {b_rate:8.0f} files/s  ({b_cpu:.2f} CPU s)")
    print(f"h5py floor (open, 14 datasets, raw chunks, close; nothing else): {f_rate:8.0f} files/s  ({f_cpu:.2f} CPU s)")
    print(f"ratio: {p_rate / b_rate:.2f}x   targets: ratio >= 8, pipeline >= 1000 files/s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(summary, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
