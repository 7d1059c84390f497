"""The offline MusicBrainz join: N MSD-shaped songs against a canonical dump, against the lookup endpoint's rate.

    .venv/bin/python bench/canonical_join.py                              # 1M songs, dumps of 1.575M and 3.15M rows
    .venv/bin/python bench/canonical_join.py --rows 1575000,3150000,31500000   # and the real size, once

Makes ``--songs`` MSD-shaped songs deterministically (cached under ``--work``): artist and title strings of the
MSD subset (``pipeline/standins/data/msd_subset_names.txt``), each real row once, then recombined (a word of a
real name swapped for a word of another) to reach N distinct songs in ~N/22 artists, so MSD's quirks keep their
real share: "(Album Version)" and other suffixes, "featuring" in artist names and titles, ``_`` for commas,
UTF-8. ~97% of artists carry an ``artist_mbid``; ~1% of artists share the name of another (another id), a tenth
of their songs the namesake's title. Each song is planted in the dump with probability ``--planted`` (0.8): it is
handed to ``write_synthetic_dump`` as an MSD row, which writes it spelled the MusicBrainz way (credit
"A feat. B", no packaging suffix, commas back) among synthetic filler rows. The rest are absent.

For each ``--rows`` size a dump is generated once (cached), then, each in a fresh subprocess so its peak RSS is
that step's own:

* ``index``: ``ensure_index`` (verify the SHA-256, stream the .tar.zst once into Parquet), the index removed
  first;
* ``join``: ``Resolver(profiles={}, index, gateway=None).resolve(songs)``, the dump route alone, with the
  songs already in memory (their loading is timed apart). Precision and recall are counted against the rows
  planted: a song is right when it resolves to the recording id its planted row carries in the dump, wrong when
  it resolves to anything else (another song's row, or any row for a song not planted).

The growth between the two smallest sizes (seconds per million dump rows) extrapolates both steps to the real
dump's 31.5M rows. The baseline is computed, not slept: the same songs through ListenBrainz's
``metadata/lookup`` (50 songs a request) and the length check (``metadata/recording``, 1,000 ids a request, for
every song the lookup answers: taken as the planted ones) at brainzutils' default rates, 30 requests per 10 s per
address (and 50 per 10 s per token, which applies when a valid token is sent).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import write_results  # noqa: E402

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAMES = os.path.join(PROJECT, "pipeline", "standins", "data", "msd_subset_names.txt")
GENERATOR = 2  # bump when the songs change: the cache keys on it
REAL_ROWS = 31_500_000
SONGS_PER_ARTIST = 22  # the MSD: 1,000,000 songs, 44,745 artists
# brainzutils ratelimit defaults (requests per 10 s window) and ListenBrainz's items per request.
PER_IP, PER_TOKEN, WINDOW_S, LOOKUPS_PER_REQUEST, IDS_PER_REQUEST = 30, 50, 10, 50, 1000

_LETTERS = re.compile(r"^[^\W\d_]{3,}$")
_NOT_NAME_WORDS = {"featuring", "feat", "the", "and", "with", "presents", "vs"}
_NOT_TITLE_WORDS = _NOT_NAME_WORDS | {"album", "version", "live", "remix", "mix", "edit", "explicit", "single", "radio",
                                      "remaster", "remastered", "acoustic", "instrumental", "demo", "reprise", "medley",
                                      "skit", "intro", "outro", "dub", "extended", "clean", "original", "digital"}
_CORE_END = re.compile(r"\s*[(\[]|\s+-\s+")
PATTERNS = {
    "featuring in artist": lambda a, t: re.search(r"\b(?:featuring|feat\.?|ft\.)\s", a, re.IGNORECASE) is not None,
    "featuring in title": lambda a, t: re.search(r"\b(?:featuring|feat\.|ft\.)\s", t, re.IGNORECASE) is not None,
    "suffix (…)/[…]/ - …": lambda a, t: _CORE_END.search(t) is not None,
    "_ for a comma": lambda a, t: "_" in a or "_" in t,
    "UTF-8": lambda a, t: not (a + t).isascii(),
}


def rss_mb() -> dict:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"peak_mb": round(own.ru_maxrss / 1024, 1), "children_peak_mb": round(kids.ru_maxrss / 1024, 1),
            "cpu_s": round(own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime, 1)}


def current_rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return round(int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1 << 20), 1)


# --- the songs --------------------------------------------------------------------------------------------

def read_real_names() -> list[tuple[str, str]]:
    rows = []
    with open(NAMES, encoding="utf-8") as fh:
        for line in fh.read().splitlines()[1:]:
            parts = line.split("<SEP>")
            if len(parts) == 4 and parts[2].strip() and parts[3].strip():
                rows.append((parts[2].strip(), parts[3].strip()))
    return rows


def _pool(texts, excluded: set[str]) -> list[str]:
    seen: dict[str, None] = {}
    for text in texts:
        for word in text.split():
            if _LETTERS.match(word) and word.casefold() not in excluded:
                seen.setdefault(word, None)
    return list(seen)


def _swap_words(text: str, pool: list[str], rnd: random.Random, end: int | None = None) -> str:
    """``text`` with one or two letters-only words before ``end`` replaced by words of ``pool``, or one inserted."""
    end = len(text) if end is None else end
    tokens = text[:end].split(" ")
    spots = [i for i, t in enumerate(tokens) if _LETTERS.match(t) and t.casefold() not in _NOT_NAME_WORDS]
    r = rnd.random()
    if not spots or r < 0.15:
        tokens.insert(rnd.randrange(len(tokens) + 1), rnd.choice(pool))
    else:
        for i in rnd.sample(spots, 2 if r > 0.75 and len(spots) > 1 else 1):
            tokens[i] = rnd.choice(pool)
    return " ".join(t for t in tokens if t) + (text[end:] if end < len(text) else "")


def _mbid(rnd: random.Random) -> str:
    return str(uuid.UUID(int=rnd.getrandbits(128), version=4))


def make_songs(n: int, seed: int, planted_share: float, mbid_share: float) -> dict[str, list]:
    """N distinct MSD-shaped songs as columns, with what the bench needs to score them: ``planted`` (handed to the
    dump), ``dump_key`` (the combined key of the row the dump writes for it), ``shadowed`` (a homonym's song whose
    row the dump drops: the namesake's row holds its key)."""
    from pipeline.sources.musicbrainz.resolve import MsdSong, combined_lookup, lookup_keys
    from pipeline.standins.canonical_dump import _msd_credit

    rnd = random.Random(f"canonical-join-{seed}")
    real = read_real_names()
    real_by_artist: dict[str, list[str]] = {}
    for artist, title in real:
        real_by_artist.setdefault(artist, []).append(title)
    real_artists = list(real_by_artist)
    real_titles = [t for _, t in real]
    artist_pool = _pool(real_artists, _NOT_NAME_WORDS)
    title_pool = _pool(real_titles, _NOT_TITLE_WORDS)
    album_names = [_CORE_END.split(t)[0] or t for t in real_titles]

    n_artists = max(len(real_artists), n // SONGS_PER_ARTIST)
    weights = [rnd.lognormvariate(0, 1.1) for _ in range(n_artists)]
    scale = 1.03 * n / sum(weights)
    artists: list[tuple[str, str | None, int | None]] = []  # (name, mbid, homonym of)
    names_seen: set[str] = set()
    for j in range(n_artists):
        homonym = None
        if j < len(real_artists):
            name = real_artists[j]
        elif rnd.random() < 0.01:
            homonym = rnd.randrange(j)
            name = artists[homonym][0]
        else:
            template = real_artists[j % len(real_artists)]
            name = _swap_words(template, artist_pool, rnd, _CORE_END.search(template).start()
                               if _CORE_END.search(template) else None)
            tries = 0
            while name.casefold() in names_seen:
                tries += 1
                name = _swap_words(template if tries < 5 else name, artist_pool, rnd)
        names_seen.add(name.casefold())
        artists.append((name, _mbid(rnd) if rnd.random() < mbid_share else None, homonym))

    cols: dict[str, list] = {k: [] for k in ("artist_name", "title", "release", "duration_s", "artist_mbid", "planted",
                                             "dump_key", "shadowed", "homonym")}
    claimed: set[str] = set()  # every key of every song, MSD side and dump side
    planted_keys: set[str] = set()
    titles_of: dict[int, list[str]] = {}
    collisions = 0
    for j, (artist, mbid, homonym) in enumerate(artists):
        if len(cols["title"]) >= n:
            break
        wanted = max(len(real_by_artist.get(artist, ())) if homonym is None else 0, round(weights[j] * scale))
        wanted = max(1, min(wanted, n - len(cols["title"])))
        own: list[str] = []
        own_set: set[str] = set()
        album, album_left = "", 0
        for s in range(wanted):
            reals = real_by_artist.get(artist, []) if homonym is None else []
            # A homonym's song now and then has a title of the namesake's (each once: not a duplicate of its own).
            free = [t for t in titles_of.get(homonym, ())[:64] if t not in own_set] if homonym is not None else []
            shared = bool(free) and rnd.random() < 0.1
            title = rnd.choice(free) if shared else (reals[s] if s < len(reals) else rnd.choice(real_titles))
            if album_left == 0:
                album, album_left = rnd.choice(album_names), rnd.randint(6, 16)
            album_left -= 1
            for attempt in range(40):
                if attempt or (not shared and s >= len(reals)):
                    cut = _CORE_END.search(title)
                    title = _swap_words(title, title_pool, rnd, cut.start() if cut and cut.start() > 0 else None)
                    shared = False
                row = {"artist_name": artist, "title": title, "artist_mbid": mbid or "", "release": album}
                credit, _, name = _msd_credit(row)
                dump_key = combined_lookup(credit, name)
                keys = lookup_keys(MsdSong("", "", None, artist, title, album, None, mbid))
                if not dump_key or not keys:
                    continue
                if shared or not (claimed.intersection(keys) or dump_key in claimed):
                    break
            else:
                continue
            claimed.update(keys)
            claimed.add(dump_key)
            shadowed = bool(shared and dump_key in planted_keys)
            collisions += bool(shared)
            planted = not shadowed and rnd.random() < planted_share
            if planted:
                planted_keys.add(dump_key)
            own.append(title)
            own_set.add(title)
            for k, v in (("artist_name", artist), ("title", title), ("release", album),
                         ("duration_s", round(rnd.uniform(60, 480), 3)), ("artist_mbid", mbid), ("planted", planted),
                         ("dump_key", dump_key), ("shadowed", shadowed), ("homonym", homonym is not None)):
                cols[k].append(v)
        titles_of[j] = own
    order = list(range(len(cols["title"])))
    rnd.shuffle(order)
    out = {k: [v[i] for i in order] for k, v in cols.items()}
    out["track_id"] = [f"TR{i:016X}" for i in range(len(order))]
    out["song_id"] = [f"SO{i * 7919 % (1 << 64):016X}" for i in range(len(order))]
    out["partition"] = [f"{chr(65 + i % 26)}/{chr(65 + i // 26 % 26)}" for i in range(len(order))]
    out["pattern"] = ["|".join(p for p, test in PATTERNS.items() if test(a, t)) for a, t in zip(out["artist_name"], out["title"],
                                                                                             strict=True)]
    print(f"  {len(order):,} songs, {len(artists):,} artists, {sum(out['planted']):,} planted, "
          f"{sum(out['shadowed']):,} shadowed by a namesake, {collisions:,} homonym collisions", file=sys.stderr)
    return out


def songs_file(args) -> str:
    return os.path.join(args.work, f"songs-g{GENERATOR}-{args.songs}-s{args.seed}-p{args.planted}.parquet")


def ensure_songs(args) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = songs_file(args)
    if os.path.exists(path):
        return {"file": path, "generated_s": None}
    print(f"making {args.songs:,} MSD-shaped songs into {path}", file=sys.stderr)
    started = time.perf_counter()
    cols = make_songs(args.songs, args.seed, args.planted, args.mbid_share)
    os.makedirs(args.work, exist_ok=True)
    pq.write_table(pa.table(cols), path + ".partial", compression="zstd")
    os.replace(path + ".partial", path)
    return {"file": path, "generated_s": round(time.perf_counter() - started, 1)}


# --- the steps, each in a process of its own ----------------------------------------------------------------

def dump_dir(args, rows: int) -> str:
    return os.path.join(args.work, f"dump-{rows}-songs{args.songs}-g{GENERATOR}-s{args.seed}-p{args.planted}")


def step_dump(args) -> dict:
    import pyarrow.parquet as pq

    from pipeline.standins.canonical_dump import write_synthetic_dump

    table = pq.read_table(songs_file(args), columns=["artist_name", "title", "artist_mbid", "release", "planted"])
    msd_rows = [{"artist_name": r["artist_name"], "title": r["title"], "artist_mbid": r["artist_mbid"] or "",
                 "release": r["release"]} for r in table.to_pylist() if r["planted"]]
    del table
    started = time.perf_counter()
    shown = [0]

    def progress(done: int, total: int) -> None:
        if done >= shown[0] + 1_000_000:
            shown[0] = done
            print(f"  dump: {done:,}/{total:,} rows, {done / (time.perf_counter() - started):,.0f} rows/s",
                  file=sys.stderr, flush=True)

    out = dump_dir(args, args.size)
    path = write_synthetic_dump(out, args.size, msd_rows, progress=progress)
    seconds = time.perf_counter() - started
    with open(path + ".sha256", encoding="ascii") as fh:
        sha = fh.read().strip()
    meta = {"path": path, "sha256": sha, "rows": args.size, "msd_rows": len(msd_rows), "bytes": os.path.getsize(path),
            "generated_s": round(seconds, 1), **rss_mb()}
    with open(os.path.join(out, "bench.json"), "w") as fh:
        json.dump(meta, fh)
    return meta


def step_index(args) -> dict:
    from pipeline.sources.musicbrainz import dump

    verify = {"s": 0.0}
    plain = dump.file_sha256

    def timed_sha256(path: str) -> str:
        t = time.perf_counter()
        try:
            return plain(path)
        finally:
            verify["s"] += time.perf_counter() - t

    dump.file_sha256 = timed_sha256
    index_dir = args.index_dir
    shutil.rmtree(index_dir, ignore_errors=True)
    started = time.perf_counter()
    index = dump.ensure_index(args.dump, args.sha256, index_dir)
    seconds = time.perf_counter() - started
    size = sum(os.path.getsize(os.path.join(index.folder, f)) for f in os.listdir(index.folder))
    return {"s": round(seconds, 2), "verify_s": round(verify["s"], 2), "rows": index.rows, "parquet_mb": round(size / 1e6, 1),
            **rss_mb()}


def step_join(args) -> dict:
    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipeline.matching.decide import AMBIGUOUS, MATCHED
    from pipeline.sources.musicbrainz.dump import ensure_index
    from pipeline.sources.musicbrainz.resolve import MsdSong, Resolver

    base_rss = current_rss_mb()
    started = time.perf_counter()
    table = pq.read_table(songs_file(args))
    songs = [MsdSong(*r) for r in zip(*(table.column(c).to_pylist() for c in (
        "track_id", "partition", "song_id", "artist_name", "title", "release", "duration_s", "artist_mbid")), strict=True)]
    truth_cols = table.select(["track_id", "planted", "dump_key", "pattern", "shadowed", "homonym"])
    del table
    load_s = time.perf_counter() - started
    songs_rss = current_rss_mb()
    index = ensure_index(args.dump, args.sha256, args.index_dir)  # built by the index step: reads index.json only

    started = time.perf_counter()
    resolved = Resolver(profiles={}, index=index, gateway=None, length_tolerance_s=10).resolve(songs)
    join_s = time.perf_counter() - started
    usage = rss_mb()  # the peak before the scoring below

    # The truth: the recording id the dump gave each planted row (found by the row's own key).
    planted = truth_cols.filter(truth_cols.column("planted"))
    con = duckdb.connect()
    con.register("planted", pa.table({"key": planted.column("dump_key")}))
    by_key = dict(con.execute("SELECT c.combined_lookup, c.recording_mbid FROM read_parquet(?) c JOIN planted p "
                              "ON p.key = c.combined_lookup", [index.data]).fetchall())
    con.close()
    truth = {t: by_key.get(k) for t, k in zip(planted.column("track_id").to_pylist(), planted.column("dump_key").to_pylist(),
                                               strict=True)}
    right = wrong = ambiguous = 0
    per: dict[str, list[int]] = {p: [0, 0, 0] for p in [*PATTERNS, "none of these", "homonym artists"]}  # planted, right, wrong
    for track, pattern, homonym in zip(truth_cols.column("track_id").to_pylist(), truth_cols.column("pattern").to_pylist(),
                                       truth_cols.column("homonym").to_pylist(), strict=True):
        r = resolved[track]
        ambiguous += r.status == AMBIGUOUS
        expected = truth.get(track)
        ok = r.status == MATCHED and expected is not None and r.recording_mbid == expected
        bad = r.status == MATCHED and not ok
        right += ok
        wrong += bad
        for p in (pattern.split("|") if pattern else ["none of these"]) + (["homonym artists"] if homonym else []):
            per[p][0] += expected is not None
            per[p][1] += ok
            per[p][2] += bad
    matched = right + wrong
    return {"s": round(join_s, 2), "load_songs_s": round(load_s, 1), "rss_before_songs_mb": base_rss,
            "rss_with_songs_mb": songs_rss, **usage, "songs": len(songs), "planted": len(truth),
            "planted_in_index": sum(v is not None for v in truth.values()), "shadowed": sum(truth_cols.column("shadowed").to_pylist()),
            "matched": matched, "right": right, "wrong": wrong, "ambiguous": ambiguous,
            "precision": round(right / matched, 5) if matched else None, "recall": round(right / len(truth), 5) if truth else None,
            "by_pattern": {p: {"planted": v[0], "right": v[1], "wrong": v[2], "recall": round(v[1] / v[0], 4) if v[0] else None}
                           for p, v in per.items()}}


STEPS = {"dump": step_dump, "index": step_index, "join": step_join}


def run_step(args, step: str, **extra) -> dict:
    """One step in a fresh interpreter: its peak RSS is its own."""
    cmd = [sys.executable, os.path.abspath(__file__), "--step", step, "--work", args.work, "--songs", str(args.songs),
           "--seed", str(args.seed), "--planted", str(args.planted), "--mbid-share", str(args.mbid_share)]
    for k, v in extra.items():
        cmd += [f"--{k.replace('_', '-')}", str(v)]
    started = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, cwd=PROJECT)
    if done.returncode:
        raise SystemExit(f"step {step} {extra} failed with exit code {done.returncode}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_s"] = round(time.perf_counter() - started, 1)
    return result


# --- the comparison -----------------------------------------------------------------------------------------

def lookup_baseline(songs: int, answered: int) -> dict:
    lookups, checks = math.ceil(songs / LOOKUPS_PER_REQUEST), math.ceil(answered / IDS_PER_REQUEST)
    out = {"lookup_requests": lookups, "recording_requests": checks, "songs_answered": answered}
    for who, limit in (("per_address", PER_IP), ("per_token", PER_TOKEN)):
        seconds = (lookups + checks) * WINDOW_S / limit
        out[who] = {"requests_per_10s": limit, "seconds": round(seconds), "hours": round(seconds / 3600, 2)}
    return out


def growth(sizes: list[dict], key: str) -> dict:
    """Seconds and peak MB per million dump rows between the two smallest sizes, and the straight line to 31.5M rows
    from the larger of them. A slope below zero (a step whose time does not grow with the dump: run-to-run noise)
    is taken as zero."""
    a, b = sizes[0], sizes[1]
    millions = (b["rows"] - a["rows"]) / 1e6
    slope = (b[key]["s"] - a[key]["s"]) / millions
    mem = (b[key]["peak_mb"] - a[key]["peak_mb"]) / millions
    ahead = (REAL_ROWS - b["rows"]) / 1e6
    return {"s_per_million_rows": round(slope, 2), "mb_per_million_rows": round(mem, 1),
            "s_at_31_5m": round(b[key]["s"] + max(0.0, slope) * ahead, 1),
            "peak_mb_at_31_5m": round(b[key]["peak_mb"] + max(0.0, mem) * ahead), "negative_slope_taken_as_zero": slope < 0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--songs", type=int, default=1_000_000)
    parser.add_argument("--rows", default="1575000,3150000", help="dump sizes (data rows), comma-separated; growth from the two smallest")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--planted", type=float, default=0.8, help="share of songs the dump holds")
    parser.add_argument("--mbid-share", type=float, default=0.97, help="share of artists with an artist_mbid")
    parser.add_argument("--work", default="/tmp/canonical-join-bench", help="songs, dumps and indexes (kept for reruns)")
    parser.add_argument("--out", default=None, help="JSON results (default bench/results/canonical_join.json if bench/results "
                                                    "exists, else <work>/canonical_join.json)")
    parser.add_argument("--step", choices=sorted(STEPS), help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--dump", help=argparse.SUPPRESS)
    parser.add_argument("--sha256", help=argparse.SUPPRESS)
    parser.add_argument("--index-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.step:
        print(json.dumps(STEPS[args.step](args)), flush=True)
        return 0

    sizes = sorted({int(r) for r in args.rows.split(",") if r.strip()})
    results_dir = os.path.join(PROJECT, "bench", "results")
    out = args.out or os.path.join(results_dir if os.path.isdir(results_dir) else args.work, "canonical_join.json")
    os.makedirs(args.work, exist_ok=True)
    results: dict = {"songs": args.songs, "seed": args.seed, "planted_share": args.planted, "mbid_share": args.mbid_share,
                     "cpus": os.cpu_count(), "songs_file": ensure_songs(args), "sizes": []}
    for rows in sizes:
        folder = dump_dir(args, rows)
        meta_path = os.path.join(folder, "bench.json")
        if os.path.exists(meta_path):
            with open(meta_path) as fh:
                meta = json.load(fh)
            print(f"dump of {rows:,} rows: cached ({meta['path']})", file=sys.stderr)
        else:
            free = shutil.disk_usage(args.work).free
            need = rows * 250  # the dump (~70 B/row), its frames while assembled, the index: with room to spare
            if free < need:
                print(f"dump of {rows:,} rows skipped: {free / 1e9:.1f} GB free under {args.work}, ~{need / 1e9:.1f} GB needed",
                      file=sys.stderr)
                continue
            print(f"dump of {rows:,} rows: generating", file=sys.stderr)
            meta = run_step(args, "dump", size=rows)
        where = {"dump": meta["path"], "sha256": meta["sha256"], "index_dir": os.path.join(args.work, f"index-{rows}")}
        print(f"  index ({rows:,} rows) ...", file=sys.stderr, flush=True)
        index = run_step(args, "index", **where)
        print(f"  {index['s']} s, peak {index['peak_mb']} MB; join ...", file=sys.stderr, flush=True)
        join = run_step(args, "join", **where)
        print(f"  {join['s']} s, peak {join['peak_mb']} MB, precision {join['precision']} recall {join['recall']}",
              file=sys.stderr, flush=True)
        results["sizes"].append({"rows": rows, "dump": meta, "dump_mb": round(meta["bytes"] / 1e6, 1), "index": index, "join": join})
        shutil.rmtree(where["index_dir"], ignore_errors=True)
        write_results(out, results)

    measured = results["sizes"]
    planted = measured[0]["join"]["planted"] if measured else round(args.songs * args.planted)
    results["baseline"] = lookup_baseline(args.songs, planted)
    if len(measured) >= 2:
        results["growth"] = {"index": growth(measured, "index"), "join": growth(measured, "join")}
        results["growth"]["index_plus_join_s_at_31_5m"] = round(results["growth"]["index"]["s_at_31_5m"]
                                                               + results["growth"]["join"]["s_at_31_5m"], 1)
    base = results["baseline"]["per_address"]["seconds"]
    for size in measured:
        total = size["index"]["s"] + size["join"]["s"]
        size["ratio"] = {"baseline_over_index_plus_join": round(base / total, 1), "baseline_over_join": round(base / size["join"]["s"], 1),
                         "per_token_over_index_plus_join": round(results["baseline"]["per_token"]["seconds"] / total, 1)}
    if "growth" in results:
        at_real = results["growth"]["index_plus_join_s_at_31_5m"]
        results["ratio_at_31_5m_extrapolated"] = {"per_address": round(base / at_real, 1),
                                                  "per_token": round(results["baseline"]["per_token"]["seconds"] / at_real, 1)}

    print(f"\n{args.songs:,} MSD-shaped songs ({planted:,} planted), {os.cpu_count()} cores")
    print(f"{'dump rows':>11} {'dump MB':>8} {'index s':>8} {'idx MB':>7} {'join s':>7} {'join MB':>8} {'matched':>9} "
          f"{'precision':>9} {'recall':>7} {'ratio':>6}")
    for s in measured:
        j = s["join"]
        print(f"{s['rows']:>11,} {s['dump_mb']:>8,.0f} {s['index']['s']:>8.1f} {s['index']['peak_mb']:>7,.0f} {j['s']:>7.1f} "
              f"{j['peak_mb']:>8,.0f} {j['matched']:>9,} {j['precision']:>9.4f} {j['recall']:>7.4f} "
              f"{s['ratio']['baseline_over_index_plus_join']:>5}x")
    if "growth" in results:
        g = results["growth"]
        print(f"growth: index {g['index']['s_per_million_rows']} s and join {g['join']['s_per_million_rows']} s per million dump "
              f"rows; at 31.5M rows: index {g['index']['s_at_31_5m']} s + join {g['join']['s_at_31_5m']} s = "
              f"{g['index_plus_join_s_at_31_5m']} s (target 600 s)")
    b = results["baseline"]
    print(f"lookup endpoint: {b['lookup_requests']:,} metadata/lookup + {b['recording_requests']:,} metadata/recording requests = "
          f"{b['per_address']['hours']} h at {PER_IP}/10 s per address ({b['per_token']['hours']} h at {PER_TOKEN}/10 s per token)")
    if "ratio_at_31_5m_extrapolated" in results:
        print(f"ratio at 31.5M rows (extrapolated): {results['ratio_at_31_5m_extrapolated']['per_address']}x per address, "
              f"{results['ratio_at_31_5m_extrapolated']['per_token']}x per token")
    write_results(out, results)
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
