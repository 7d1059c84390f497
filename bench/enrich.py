"""Enrichment quality and cost against the Spotify sandbox, on real MSD names, in both app modes.

    .venv/bin/python bench/enrich.py --names real --songs 3000 --seed 11 --json var/bench/enrich.json

Generates (once, cached under var/bench/) an MSD-format sample whose artist and title strings
are real rows of the MSD subset (``--names real``; ``synthetic`` keeps the made-up names),
builds the sandbox catalog and its ground truth from it, and serves it with faults on: a rate
limit (429 + Retry-After), ``--fail-rate`` server errors and tokens that expire every
``--expire-tokens-every`` requests. For each mode (``development``, ``extended``) it measures in
the same run:

* ``pipeline``: what SpotifySearch and SpotifyEnrich run (``match_songs`` for every partition,
  then ``add_details``), with one answer store for all partitions;
* ladder variants, to choose the rungs with numbers: ``one_rung`` (free text only),
  ``always_narrow`` (a filtered query after every unmatched free-text answer) and
  ``fielded_first`` (matcher v2's order: filters first, free text after any miss);
* ``naive``: per song one free-text search, the first hit taken, then ``GET /tracks/{id}``,
  ``GET /artists/{id}`` per artist and ``GET /audio-features/{id}``;
* ``interrupted``: the pipeline on a fresh store, stopped by the daily quota halfway, then
  resumed: requests paid twice (target 0).

Every request the sandbox received counts: searches, lookups, retries of 5xx answers, 429s and
token requests. Reported per contender: precision and recall against the ground truth (recall
over the songs the catalog holds), overall and per real-name pattern (featuring, suffix,
apostrophe, tie, plain), requests per song per endpoint, searches per rung and the recall each
rung added. Targets (issue 12): precision >= 0.99, recall >= 0.97, <= 1.15 requests per song in
development mode, <= 1.05 in extended mode with artists and audio features.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import tempfile
import time
from collections import Counter
from contextlib import contextmanager

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import spotipy  # noqa: E402

from bench import write_results  # noqa: E402
from pipeline.matching import ladder  # noqa: E402
from pipeline.matching.decide import Song  # noqa: E402
from pipeline.msd.reader import read_msd_file  # noqa: E402
from pipeline.partitions import discover_partitions  # noqa: E402
from pipeline.sources.answers import AnswerStore  # noqa: E402
from pipeline.sources.spotify.client import QuotaExhaustedError, SpotifyClient  # noqa: E402
from pipeline.sources.spotify.enrich import add_details, match_songs  # noqa: E402
from pipeline.sources.spotify.gateway import SpotifyGateway  # noqa: E402
from pipeline.standins.msd_sample import generate_sample  # noqa: E402
from pipeline.standins.spotify_catalog import build_catalog, load_identities  # noqa: E402
from pipeline.standins.spotify_sandbox import SandboxServer, SandboxState, _parse_rate  # noqa: E402

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_songs(root: str) -> dict[str, list[Song]]:
    out = {}
    for partition in discover_partitions(root):
        files = sorted(glob.glob(os.path.join(root, *partition.split("/"), "*", "*.h5")))
        out[partition] = [Song.from_staged(r) for f in files for r in read_msd_file(f).records]
    return out


def client_for(server: SandboxServer) -> SpotifyClient:
    return SpotifyClient(api_url=f"{server.url}/v1/", token_url=f"{server.url}/api/token",
                         client_id="sandbox-client", client_secret="sandbox-secret")


def quality(found: dict[str, str | None], truth: dict[str, str | None], only: set[str] | None = None) -> dict:
    tracks = [t for t in found if only is None or t in only]
    right = sum(1 for t in tracks if found[t] and found[t] == truth[t])
    wrong = sum(1 for t in tracks if found[t] and found[t] != truth[t])
    held = sum(1 for t in tracks if truth[t])
    return {"songs": len(tracks), "held": held, "matched": right + wrong,
            "precision": round(right / (right + wrong), 4) if right + wrong else None,
            "recall": round(right / held, 4) if held else None}


# --- ladder variants (the pipeline's ladder with one rule changed) ----------------------

_FIRST, _NEXT = ladder.first_query, ladder.next_query

def _one_rung(song, asked, items, decision, page_size, filters):
    return None


def _always_narrow(song, asked, items, decision, page_size, filters):
    step = _NEXT(song, asked, items, decision, page_size, filters)
    if step is None and ladder.NARROW not in asked:
        parts = ladder._parts(song)  # noqa: SLF001 - the bench varies the module's own rule
        return (ladder.NARROW, filters(parts[1], parts[0])) if parts else None
    return step


def _fielded_first(song):
    parts = ladder._parts(song)  # noqa: SLF001
    return None if parts is None else (ladder.NARROW, f"track:'{parts[1]}' artist:'{parts[0]}'")


def _free_text_after_fielded(song, asked, items, decision, page_size, filters):
    parts = ladder._parts(song)  # noqa: SLF001
    return (ladder.FREE_TEXT, f"{parts[0]} {parts[1]}") if parts and ladder.FREE_TEXT not in asked else None


VARIANTS = {
    "pipeline": (_FIRST, _NEXT),
    "one_rung": (_FIRST, _one_rung),
    "always_narrow": (_FIRST, _always_narrow),
    "fielded_first": (_fielded_first, _free_text_after_fielded),
}


@contextmanager
def variant_of_ladder(name: str):
    saved = ladder.first_query, ladder.next_query
    ladder.first_query, ladder.next_query = VARIANTS[name]
    try:
        yield
    finally:
        ladder.first_query, ladder.next_query = saved


def run_pipeline(server: SandboxServer, songs: dict[str, list[Song]], store_root: str, rungs: Counter | None = None,
                 matched_by_rung: Counter | None = None) -> dict[str, str | None]:
    """Searches of every partition first, then details, as the tasks run them; one answer store."""
    client = client_for(server)
    decided = {}
    for partition, partition_songs in songs.items():
        decided[partition], summary = match_songs(partition, partition_songs, SpotifyGateway(client, AnswerStore(store_root)))
        if rungs is not None:
            rungs.update(summary["rungs"])
    found = {}
    for partition, partition_songs in songs.items():
        outputs, _ = add_details(partition, partition_songs, SpotifyGateway(client, AnswerStore(store_root)), decided[partition])
        for row in outputs["matches.jsonl.gz"]:
            found[row["track_id"]] = row["spotify_track_id"]
            if matched_by_rung is not None and row["spotify_track_id"]:
                matched_by_rung[row["rung"] or row["method"]] += 1
    return found


def run_naive(server: SandboxServer, songs: dict[str, list[Song]]) -> dict[str, str | None]:
    client = client_for(server)  # spotipy behind our 429/401 policy: the same transport as the pipeline
    sp = client.sp
    found = {}
    for partition_songs in songs.values():
        for song in partition_songs:
            items = client.call("search", sp.search, q=f"{song.artist_name or ''} {song.title or ''}".replace("_", ","),
                                type="track", limit=10)["tracks"]["items"]
            found[song.track_id] = items[0]["id"] if items else None
            if not items:
                continue
            try:
                track = client.call("track", sp.track, items[0]["id"])
                for artist in track["artists"]:
                    client.call("artist", sp.artist, artist["id"])
                client.call("audio-features", sp.audio_features, [items[0]["id"]])
            except spotipy.SpotifyException:
                pass  # 403 in development mode, every time: the naive loop does not learn
    return found


def measure(name: str, server: SandboxServer, n_songs: int, fn) -> dict:
    with server.state.lock:
        server.state.recent.clear()  # each contender starts with the rate window its own, as on a day of its own
    before = Counter(server.state.stats()["requests"])
    responses_before = Counter(server.state.stats()["responses"])
    started = time.perf_counter()
    found = fn()
    seconds = time.perf_counter() - started
    spent = Counter(server.state.stats()["requests"]) - before
    answered = Counter(server.state.stats()["responses"]) - responses_before
    total = sum(spent.values())
    return {"contender": name, "found": found, "seconds": round(seconds, 2), "songs_per_s": round(n_songs / seconds, 1),
            "requests": total, "requests_per_song": round(total / n_songs, 4),
            "per_song_by_endpoint": {k: round(v / n_songs, 4) for k, v in sorted(spent.items())},
            "responses": dict(sorted(answered.items()))}


def interrupted_share(state_args: dict, songs: dict[str, list[Song]], expected: int, truth: dict) -> dict:
    """Stop the pipeline by quota halfway, lift the quota, resume; count the requests paid twice.

    ``expected`` is what the uninterrupted pipeline asked for the same songs (with no faults,
    so the difference is the interruption's). Answered before the stop plus asked after it,
    minus that, is what the interruption cost: 0 when nothing is asked twice."""
    server = SandboxServer(SandboxState(**state_args, daily_quota=expected // 2)).start()
    try:
        with tempfile.TemporaryDirectory() as store:
            stopped = False
            try:
                run_pipeline(server, songs, store)
            except QuotaExhaustedError:
                stopped = True
            api_before = server.state.quota_used
            server.state.daily_quota = None
            found = run_pipeline(server, songs, store)
            after = server.state.quota_used - api_before
            repeated = api_before + after - expected
            return {"stopped_by_quota": stopped, "requests_before_stop": api_before, "requests_after": after,
                    "repeated": repeated, "quality_after_resume": quality(found, truth)}
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--names", choices=("real", "synthetic"), default="real")
    parser.add_argument("--songs", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--catalog-seed", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=2.0, help="sandbox latency per request")
    parser.add_argument("--rate-limit", default="1500/30s",
                        help="N/Ms: at most N requests per rolling window (Spotify counts over 30 s)")
    parser.add_argument("--fail-rate", type=float, default=0.02, help="share of API requests answered 5xx")
    parser.add_argument("--expire-tokens-every", type=int, default=500, help="tokens die after this many requests")
    parser.add_argument("--partitions", default="A/A,A/B,B/A,B/B")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="ladder variants to measure")
    parser.add_argument("--json", default=None, help="write the full results here")
    args = parser.parse_args(argv)

    root = os.path.join(PROJECT, "var", "bench", f"enrich-msd-{args.names}-{args.songs}-{args.seed}")
    if not os.path.exists(os.path.join(root, "AdditionalFiles", "sample_manifest.json")):
        generate_sample(root, songs=args.songs, seed=args.seed, partitions=args.partitions.split(","), names=args.names)
    songs = load_songs(root)
    n_songs = sum(len(v) for v in songs.values())
    catalog = build_catalog(load_identities(root), seed=args.catalog_seed)
    truth = catalog.ground_truth
    held = sum(1 for t in truth.values() if t)
    rate, window = _parse_rate(args.rate_limit)
    faults = {"rate_limit": rate, "rate_window_s": window, "fail_rate": args.fail_rate,
              "expire_tokens_every": args.expire_tokens_every}
    print(f"{n_songs} songs ({args.names} names) in {len(songs)} partitions; the catalog holds {held} of them; "
          f"sandbox latency {args.latency_ms:g} ms, faults {faults}", flush=True)
    by_pattern: dict[str, set[str]] = {}
    for track_id, patterns in catalog.patterns.items():
        for pattern in patterns:
            by_pattern.setdefault(pattern, set()).add(track_id)

    results = {"songs": n_songs, "held": held, "names": args.names, "latency_ms": args.latency_ms, "faults": faults,
               "patterns": {p: len(v) for p, v in sorted(by_pattern.items())}, "modes": {}}
    for mode in ("development", "extended"):
        state_args = {"catalog": catalog, "mode": mode, "latency_ms": args.latency_ms}
        server = SandboxServer(SandboxState(**state_args, **faults, seed=args.seed)).start()
        rows = []
        try:
            for variant in args.variants.split(","):
                rungs, by_rung = Counter(), Counter()
                with tempfile.TemporaryDirectory() as store, variant_of_ladder(variant):
                    row = measure(variant, server, n_songs,
                                  lambda: run_pipeline(server, songs, store, rungs, by_rung))  # noqa: B023
                row["searches_per_rung"] = dict(sorted(rungs.items()))
                row["matched_by_rung"] = dict(sorted(by_rung.items()))
                rows.append(row)
            rows.append(measure("naive", server, n_songs, lambda: run_naive(server, songs)))  # noqa: B023
        finally:
            server.stop()
        for row in rows:
            found = row.pop("found")
            row.update(quality(found, truth))
            row["by_pattern"] = {p: quality(found, truth, ids) for p, ids in sorted(by_pattern.items())}
        clean = SandboxServer(SandboxState(**state_args)).start()
        try:
            with tempfile.TemporaryDirectory() as store:
                expected = measure("no faults", clean, n_songs, lambda: run_pipeline(clean, songs, store))  # noqa: B023
        finally:
            clean.stop()
        interrupted = interrupted_share(state_args, songs, clean.state.quota_used, truth)
        results["modes"][mode] = {"contenders": rows, "interrupted": interrupted,
                                  "without_faults_requests_per_song": expected["requests_per_song"]}
        print(f"\n{mode}:")
        for row in rows:
            print(f"  {row['contender']:<14} precision {row['precision']}  recall {row['recall']}  "
                  f"{row['requests_per_song']} requests/song {row['per_song_by_endpoint']}")
            if "searches_per_rung" in row:
                print(f"  {'':<14} searches per rung {row['searches_per_rung']}, matched by rung {row['matched_by_rung']}")
        pipeline = rows[0]
        print("  pipeline by pattern: " + ", ".join(f"{p} {q['precision']}/{q['recall']} ({q['songs']})"
                                                   for p, q in pipeline["by_pattern"].items()))
        print(f"  without faults: {expected['requests_per_song']} requests/song")
        print(f"  interrupted by quota after {interrupted['requests_before_stop']} requests, resumed with "
              f"{interrupted['requests_after']}: {interrupted['repeated']} repeated; "
              f"after resume {interrupted['quality_after_resume']}")
    write_results(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
