"""AcousticBrainz at full size: reading the real-size rhythm and tonal dumps and keeping the MSD's MBIDs, against
decompression alone and plain DuckDB on an uncompressed copy; then coverage on the demo and the real subset names.

    .venv/bin/python bench/acousticbrainz.py read --work /tmp/ab-bench --json var/bench/acousticbrainz-read.json
    .venv/bin/python bench/acousticbrainz.py coverage --json var/bench/acousticbrainz-coverage.json

``read``: makes (once, cached under ``--work``, which must not be in the repository: ~2.2 GB of dumps and ~4.5 GB
of uncompressed copies) ``--songs`` MSD-shaped MusicBrainz identities (88% resolved, 4% of those to a recording
MusicBrainz merged since, so the song has two ids) and rhythm and tonal dumps of the published shape
(pipeline/standins/acousticbrainz_dumps.py ``write_synthetic_dumps``: ``--rows`` submissions of ~rows/3.9
recordings, 70% of the resolved songs' recordings planted among them, some under the merged id). The default
``--rows`` 27M gives the published compressed sizes (~1.3 GB + ~0.9 GB). Then, each step in a fresh subprocess
so its peak RSS is its own:

* ``decompress`` (baseline): both dumps through zstd → tar with pyarrow, the bytes thrown away: what reading them
  costs at the least;
* ``duckdb_csv`` (baseline): plain DuckDB ``read_csv`` of an uncompressed copy of each CSV into the same Parquet;
* ``index``: ``ensure_index`` of both (verify the SHA-256, stream zstd → tar → CSV → DuckDB → Parquet), the index
  removed first; then again (``rerun``: must read nothing);
* ``join``: ``features.joined`` for every song, fed a partition at a time (what ``AcousticBrainzJoin`` does for a
  command of the whole MSD), every partition's rows back.

Target: index + join ≤ 10 min and ≤ 2 GB on 2 cores.

``coverage``: ``RunAll`` with ``musicbrainz`` and ``acousticbrainz`` on the demo's sample (2,000 songs, seed 7, as
``make demo``) and on the real MSD subset names (9,715 songs in 52 partitions, as bench/metabrainz.py), each with its
stand-in dumps: the share of songs with a recording MBID and with AcousticBrainz features, and, against the
stand-in's truth, how many songs whose recording has submissions got them (recall) and how many got another's.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import resource
import shutil
import subprocess
import sys
import tarfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import write_results  # noqa: E402

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GENERATOR = 1  # bump when the songs or dumps change: the cache keys on it
RESOLVED, MERGED, PLANTED, PLANTED_OLD = 0.88, 0.04, 0.70, 0.5


def rss() -> dict:
    """This process's peak RSS since it started (VmHWM: ``ru_maxrss`` would keep the parent's at fork) and CPU time."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    with open("/proc/self/status") as fh:
        peak_kb = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
    return {"peak_mb": round(peak_kb / 1024, 1), "cpu_s": round(own.ru_utime + own.ru_stime, 1)}


def _uuid(rng) -> str:
    return str(uuid.UUID(bytes=rng.randbytes(16), version=4))


def make_identities(songs: int, seed: int = 5):
    """MSD-shaped MusicBrainz identity rows, and the MBIDs to plant (canonical ids, and some merged ones)."""
    import random

    rng = random.Random(seed)
    rows, planted = [], []
    for i in range(songs):
        track = f"TR{i:016X}"
        if rng.random() >= RESOLVED:
            rows.append({"track_id": track, "msd_partition": "A/A", "status": "not_found", "recording_mbid": None,
                         "canonical_recording_mbid": None})
            continue
        canonical = _uuid(rng)
        found = _uuid(rng) if rng.random() < MERGED else canonical
        rows.append({"track_id": track, "msd_partition": "A/A", "status": "matched", "recording_mbid": found,
                     "canonical_recording_mbid": canonical})
        if rng.random() < PLANTED:
            planted.append(canonical)
            if found != canonical and rng.random() < PLANTED_OLD:
                planted.append(found)
    return rows, planted


def prepare(work: str, songs: int, rows: int) -> dict:
    """Identities and dumps, made once per (songs, rows, generator) and kept under ``work``."""
    from pipeline.standins.acousticbrainz_dumps import read_sha256sums, write_synthetic_dumps

    folder = os.path.join(work, f"g{GENERATOR}-{songs}-{rows}")
    identities = os.path.join(folder, "identities.jsonl")
    if not os.path.exists(identities):
        os.makedirs(folder, exist_ok=True)
        made, planted = make_identities(songs)
        started = time.monotonic()
        paths = write_synthetic_dumps(os.path.join(folder, "dumps"), rows, planted,
                                      progress=lambda d, n: print(f"  {d:,}/{n:,} rows", flush=True)
                                      if d % 5_000_000 == 0 or d == n else None)
        print(f"dumps written in {time.monotonic() - started:.0f} s: {paths}", flush=True)
        with open(identities + ".partial", "w") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in made)
        os.replace(identities + ".partial", identities)
    dumps = sorted(glob.glob(os.path.join(folder, "dumps", "*", "*.tar.zst")))
    sums = read_sha256sums(os.path.dirname(dumps[0]))
    kinds = {("rhythm" if p.endswith("-rhythm.tar.zst") else "tonal"): p for p in dumps}
    return {"folder": folder, "identities": identities,
            "dumps": {k: {"path": p, "sha256": sums[os.path.basename(p)], "bytes": os.path.getsize(p)}
                      for k, p in kinds.items()}}


# --- the steps, each in a process of its own --------------------------------------------------------

def step_decompress(plan: dict) -> dict:
    import pyarrow as pa

    out = {}
    for kind, d in plan["dumps"].items():
        started = time.monotonic()
        total = 0
        with pa.OSFile(d["path"], "rb") as raw, pa.CompressedInputStream(raw, "zstd") as stream, \
                tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                if member.isfile():
                    fh = tar.extractfile(member)
                    while chunk := fh.read(8 << 20):
                        total += len(chunk)
        seconds = time.monotonic() - started
        out[kind] = {"seconds": round(seconds, 1), "csv_bytes": total, "mb_per_s": round(total / seconds / 1e6, 1)}
    return out


def _uncompressed(plan: dict, kind: str) -> str:
    """The dump's CSV extracted once beside it (the baseline's input; not timed)."""
    import pyarrow as pa

    path = os.path.join(plan["folder"], f"{kind}.csv")
    if not os.path.exists(path):
        with pa.OSFile(plan["dumps"][kind]["path"], "rb") as raw, pa.CompressedInputStream(raw, "zstd") as stream, \
                tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                if member.name.endswith(".csv"):
                    with open(path + ".partial", "wb") as out:
                        shutil.copyfileobj(tar.extractfile(member), out, 8 << 20)
                    break
        os.replace(path + ".partial", path)
    return path


def step_duckdb_csv(plan: dict) -> dict:
    import duckdb

    from pipeline.sources.acousticbrainz.dump import KEPT

    out = {}
    for kind in plan["dumps"]:
        csv = _uncompressed(plan, kind)
        target = os.path.join(plan["folder"], f"baseline-{kind}.parquet")
        con = duckdb.connect()
        con.execute("SET memory_limit = '512MB'; SET preserve_insertion_order = false")
        started = time.monotonic()
        measures = ", ".join(f"{c}::FLOAT AS {c}" if c not in ("key_key", "key_scale") else c for c in KEPT[kind])
        con.execute(f"COPY (SELECT TRY_CAST(mbid AS UUID) AS mbid, submission_offset::INTEGER AS submission_offset, "
                    f"{measures} FROM read_csv('{csv}', header = true, all_varchar = true)) TO '{target}' "
                    f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1000000)")
        out[kind] = {"seconds": round(time.monotonic() - started, 1), "csv_bytes": os.path.getsize(csv)}
        con.close()
        os.remove(target)
    return out


def step_index(plan: dict) -> dict:
    from pipeline.sources.acousticbrainz import dump

    index_dir = os.path.join(plan["folder"], "index")
    shutil.rmtree(index_dir, ignore_errors=True)
    out = {}
    for kind, d in plan["dumps"].items():
        started = time.monotonic()
        digest_started = time.monotonic()
        dump.file_sha256(d["path"])
        digest_s = time.monotonic() - digest_started
        built = dump.ensure_index(kind, d["path"], d["sha256"], index_dir)
        out[kind] = {"seconds": round(time.monotonic() - started, 1), "of_which_sha256_s": round(digest_s, 1),
                     "rows": built.rows, "recordings": built.recordings,
                     "index_bytes": os.path.getsize(built.submissions)}
        # the digest was taken twice here (once apart to time it): count it once
        out[kind]["seconds"] = round(out[kind]["seconds"] - digest_s, 1)
    started = time.monotonic()
    before = dump.reads
    for kind, d in plan["dumps"].items():
        dump.ensure_index(kind, d["path"], d["sha256"], index_dir)
    out["rerun"] = {"seconds": round(time.monotonic() - started, 3), "dumps_read": dump.reads - before}
    return out


def step_join(plan: dict) -> dict:
    """What ``AcousticBrainzJoin`` does for a command of the whole MSD: the songs fed a partition at a time (676
    partitions, as the MSD's letters make them), every partition's rows back."""
    import string
    from collections import Counter

    from pipeline.sources.acousticbrainz import dump, features

    index_dir = os.path.join(plan["folder"], "index")
    built = {k: dump.ensure_index(k, d["path"], d["sha256"], index_dir) for k, d in plan["dumps"].items()}
    with open(plan["identities"]) as fh:
        songs = sum(1 for _ in fh)
    partitions = [f"{a}/{b}" for a in string.ascii_uppercase for b in string.ascii_uppercase]
    per_partition = -(-songs // len(partitions))

    def batches():
        with open(plan["identities"]) as fh:
            batch = []
            for i, line in enumerate(fh):
                batch.append({**json.loads(line), "msd_partition": partitions[i // per_partition]})
                if len(batch) == per_partition:
                    yield batch
                    batch = []
            if batch:
                yield batch

    started = time.monotonic()
    statuses, two_ids, seen = Counter(), 0, 0
    for _, rows in features.joined(batches(), built["rhythm"].submissions, built["tonal"].submissions,
                                   work_dir=os.path.join(index_dir, "join")):
        seen += 1
        statuses.update(r["status"] for r in rows)
        two_ids += sum(1 for r in rows if r["submission_mbids"] and len(r["submission_mbids"]) > 1)
    seconds = time.monotonic() - started
    return {"songs": songs, "partitions": seen, "seconds": round(seconds, 1), "statuses": dict(statuses),
            "songs_with_two_ids_found": two_ids}


STEPS = {"decompress": step_decompress, "duckdb_csv": step_duckdb_csv, "index": step_index, "join": step_join}


def run_step(name: str, plan: dict) -> dict:
    load = os.getloadavg()[0]  # the machine is shared: what else ran says how far to trust a time
    done = subprocess.run([sys.executable, __file__, "step", name, "--plan", json.dumps(plan)], capture_output=True,
                          text=True, cwd=PROJECT)
    if done.returncode:
        raise RuntimeError(f"step {name} failed:\n{done.stderr[-3000:]}")
    result = {**json.loads(done.stdout.strip().splitlines()[-1]), "load_before": round(load, 2),
              "load_after": round(os.getloadavg()[0], 2)}
    print(f"{name}: {result}", flush=True)
    return result


def read(args) -> dict:
    if os.path.abspath(args.work).startswith(PROJECT + os.sep):
        raise SystemExit(f"--work {args.work} is inside the repository: put the dumps elsewhere (/tmp)")
    plan = prepare(args.work, args.songs, args.rows)
    results = {"songs": args.songs, "rows": args.rows, "dumps": {k: d["bytes"] for k, d in plan["dumps"].items()}}
    print(f"dumps: {results['dumps']}", flush=True)
    for name in args.steps.split(","):
        results[name] = run_step(name, plan)
    if {"index", "join"} <= set(results):
        index_s = sum(results["index"][k]["seconds"] for k in plan["dumps"])
        results["total_s"] = round(index_s + results["join"]["seconds"], 1)
        results["peak_mb"] = max(results["index"]["peak_mb"], results["join"]["peak_mb"])
        if "decompress" in results:
            base = sum(results["decompress"][k]["seconds"] for k in plan["dumps"])
            results["index_over_decompress"] = round(index_s / base, 2)
        if "duckdb_csv" in results:
            base = sum(results["duckdb_csv"][k]["seconds"] for k in plan["dumps"])
            results["index_over_duckdb_csv"] = round(index_s / base, 2)
    return results


# --- coverage on the demo and on the real subset names ----------------------------------------------------

def coverage_of(root: str, partitions: list[str], songs: int, seed: int, label: str, workers: int) -> dict:
    import tempfile

    import luigi

    from bench.daily import configure
    from bench.metabrainz import stand_ins
    from pipeline.standins import acousticbrainz_dumps
    from pipeline.standins.listenbrainz_sandbox import SANDBOX_TOKEN, ListenBrainzSandboxServer, ListenBrainzState

    world, dump, profiles = stand_ins(root, songs, seed, partitions)
    submissions = acousticbrainz_dumps.world_submissions(world, acousticbrainz_dumps.msd_analysis(root, world.truth))
    ab_folder = os.path.join(root, "AdditionalFiles", "acousticbrainz-bench")
    paths = acousticbrainz_dumps.write_dumps(submissions, ab_folder)
    sums = acousticbrainz_dumps.read_sha256sums(os.path.dirname(paths["rhythm"]))
    submitted = {s.mbid for s in submissions}
    os.environ["LISTENBRAINZ_TOKEN"] = SANDBOX_TOKEN
    server = ListenBrainzSandboxServer(ListenBrainzState(world, rate_limit=None, token_rate_limit=None)).start()
    try:
        with tempfile.TemporaryDirectory() as work:
            configure(os.path.join(work, "luigi.cfg"), {
                "core": {"log_level": "WARNING", "no_configure_logging": "true"},
                "msd": {"root": root}, "staging": {"root": f"{work}/staging"},
                "warehouse": {"url": f"duckdb:///{work}/warehouse.duckdb"},
                "sources": {"enabled": "musicbrainz, acousticbrainz"},
                "musicbrainz": {"canonical_dump": dump, "canonical_dump_sha256": open(dump + ".sha256").read().split()[0],
                                "echo_nest_profiles": profiles, "lookup_url": server.url, "index_dir": f"{work}/mb"},
                "acousticbrainz": {**{f"{k}_dump": p for k, p in paths.items()},
                                   **{f"{k}_dump_sha256": sums[os.path.basename(p)] for k, p in paths.items()},
                                   "index_dir": f"{work}/ab"}})
            from pipeline.tasks import RunAll
            from pipeline.warehouse.backends import warehouse_backend

            started = time.monotonic()
            ok = luigi.build([RunAll()], workers=workers, local_scheduler=True, log_level="WARNING")
            seconds = time.monotonic() - started
            backend = warehouse_backend()
            try:
                rows = backend.query("SELECT f.track_id, f.status, m.recording_mbid, m.canonical_recording_mbid "
                                     "FROM acousticbrainz_features f JOIN musicbrainz_matches m ON m.track_id = f.track_id")
            finally:
                backend.close()
    finally:
        server.stop()
    total = len(rows)
    with_mbid = sum(1 for r in rows if r[1] != "no_recording")
    with_features = sum(1 for r in rows if r[1] == "matched")
    # Truth: songs whose true recording (or the id merged into it) has submissions in the stand-in.
    merged_into = {}
    for old, new in world.merged_recordings.items():
        merged_into.setdefault(new, set()).add(old)
    truly = {t for t, m in world.truth.items() if m and ({m} | merged_into.get(m, set())) & submitted}
    got = {r[0] for r in rows if r[1] == "matched"}
    right = {r[0] for r in rows if r[1] == "matched" and world.truth.get(r[0]) == r[3]}
    return {"label": label, "ok": ok, "seconds": round(seconds, 1), "songs": total, "with_mbid": with_mbid,
            "with_mbid_share": round(with_mbid / total, 4), "with_features": with_features,
            "with_features_share": round(with_features / total, 4),
            "features_of_resolved_share": round(with_features / with_mbid, 4) if with_mbid else None,
            "truly_submitted": len(truly), "recalled": len(got & truly),
            "recall": round(len(got & truly) / len(truly), 4) if truly else None, "own_recording": len(right),
            "precision": round(len(right) / len(got), 4) if got else None}


def coverage(args) -> dict:
    from bench.daily import all_partitions

    demo_root = os.path.join(PROJECT, "var", "bench", "acousticbrainz-demo-msd-2000-7")
    real_root = os.path.join(PROJECT, "var", "bench", "metabrainz-msd-9715-11-52")
    results = {"demo": coverage_of(demo_root, ["A/A", "A/B", "A/C", "B/A", "B/B"], 2000, 7, "the demo's sample",
                                   args.workers)}
    print(f"demo: {results['demo']}", flush=True)
    results["real_names"] = coverage_of(real_root, all_partitions(52), 9715, 11, "real MSD subset names", args.workers)
    print(f"real names: {results['real_names']}", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("read")
    r.add_argument("--work", default="/tmp/ab-bench")
    r.add_argument("--songs", type=int, default=1_000_000)
    r.add_argument("--rows", type=int, default=27_000_000)
    r.add_argument("--steps", default="decompress,duckdb_csv,index,join")
    r.add_argument("--json")
    c = sub.add_parser("coverage")
    c.add_argument("--workers", type=int, default=2)
    c.add_argument("--json")
    s = sub.add_parser("step")
    s.add_argument("name", choices=sorted(STEPS))
    s.add_argument("--plan", required=True)
    args = parser.parse_args(argv)
    if args.command == "step":
        result = STEPS[args.name](json.loads(args.plan))
        print(json.dumps({**result, **rss()}))
        return 0
    results = read(args) if args.command == "read" else coverage(args)
    write_results(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
