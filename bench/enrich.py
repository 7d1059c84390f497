"""Enrichment quality and cost against the Spotify sandbox, in both app modes.

    .venv/bin/python bench/enrich.py --songs 1000 --seed 11 --latency-ms 10 --json var/bench/enrich.json

Generates (once, cached under var/bench/) an MSD-format sample, builds the sandbox catalog and
its ground truth from it, and for each mode (``development``, ``extended``) measures in the
same run:

* ``pipeline``: ``pipeline.spotify.enrich.enrich_partition``, the code EnrichPartition runs,
  partition by partition with a fresh journal;
* ``naive``: the loop most scripts start with: per song one free-text search
  ``<artist> <title>``, the first hit taken, then ``GET /tracks/{id}``, ``GET /artists/{id}``
  for its artists and ``GET /audio-features/{id}``, each answer used as it comes;
* ``interrupted``: the pipeline again on a fresh journal, stopped by the daily quota halfway,
  then resumed: the share of the resumed run's requests that repeat one answered before the
  stop (target 0).

Reported per contender: precision and recall against the ground truth (recall over the songs
the catalog holds), requests per song by endpoint (token requests apart) and songs per second
at the sandbox's latency. Targets (issue 3): precision >= 0.99, recall >= 0.95, at most 1.1
requests per song in development mode and 1.2 in extended mode.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import tempfile
import time
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import spotipy  # noqa: E402

from bench import write_results  # noqa: E402
from pipeline.msd.reader import read_msd_file  # noqa: E402
from pipeline.partitions import discover_partitions  # noqa: E402
from pipeline.spotify.client import QuotaExhaustedError, SpotifyClient  # noqa: E402
from pipeline.spotify.enrich import enrich_partition  # noqa: E402
from pipeline.spotify.gateway import Gateway  # noqa: E402
from pipeline.spotify.journal import Journal  # noqa: E402
from pipeline.spotify.matching import Song  # noqa: E402
from pipeline.standins.msd_sample import generate_sample  # noqa: E402
from pipeline.standins.spotify_catalog import build_catalog, load_identities  # noqa: E402
from pipeline.standins.spotify_sandbox import SandboxServer, SandboxState  # noqa: E402

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


def quality(found: dict[str, str | None], truth: dict[str, str | None]) -> dict:
    right = sum(1 for t, s in found.items() if s and s == truth[t])
    wrong = sum(1 for t, s in found.items() if s and s != truth[t])
    held = sum(1 for t in found if truth[t])
    return {"matched": right + wrong, "precision": round(right / (right + wrong), 4) if right + wrong else None,
            "recall": round(right / held, 4) if held else None}


def run_pipeline(server: SandboxServer, songs: dict[str, list[Song]], journal_root: str) -> dict[str, str | None]:
    found = {}
    client = client_for(server)
    for partition, partition_songs in songs.items():
        journal = Journal(os.path.join(journal_root, partition)).load()
        try:
            outputs, _ = enrich_partition(partition, partition_songs, Gateway(client, journal))
        finally:
            journal.close()
        found.update({r["track_id"]: r["spotify_track_id"] for r in outputs["matches.jsonl.gz"]})
    return found


def run_naive(server: SandboxServer, songs: dict[str, list[Song]]) -> dict[str, str | None]:
    sp = client_for(server).sp  # spotipy with our session: no hidden sleeps, same transport as the pipeline
    found = {}
    for partition_songs in songs.values():
        for song in partition_songs:
            items = sp.search(q=f"{song.artist_name or ''} {song.title or ''}".replace("_", ","), type="track",
                              limit=10)["tracks"]["items"]
            found[song.track_id] = items[0]["id"] if items else None
            if not items:
                continue
            track = sp.track(items[0]["id"])
            for artist in track["artists"]:
                sp.artist(artist["id"])
            try:
                sp.audio_features([items[0]["id"]])
            except spotipy.SpotifyException:
                pass  # 403 in development mode, every time: the naive loop does not learn
    return found


def measure(name: str, server: SandboxServer, n_songs: int, fn) -> dict:
    before = Counter(server.state.stats()["requests"])
    started = time.perf_counter()
    found = fn()
    seconds = time.perf_counter() - started
    spent = Counter(server.state.stats()["requests"]) - before
    spent.pop("token", None)
    total = sum(spent.values())
    return {"contender": name, "found": found, "seconds": round(seconds, 2), "songs_per_s": round(n_songs / seconds, 1),
            "requests": total, "requests_per_song": round(total / n_songs, 4),
            "per_song_by_endpoint": {k: round(v / n_songs, 4) for k, v in sorted(spent.items())}}


def interrupted_share(catalog, mode: str, latency_ms: float, songs: dict[str, list[Song]], expected: int) -> dict:
    """Stop the pipeline by quota halfway, lift the quota, resume; count the requests paid twice.

    ``expected`` is what the uninterrupted pipeline asked for the same songs. Answered before the
    stop plus asked after it, minus that, is what the interruption cost: 0 when nothing is asked
    twice. (The same query in two partitions is asked once per partition in both runs, since
    each partition has its own journal, so it is not counted.)"""
    server = SandboxServer(SandboxState(catalog, mode=mode, latency_ms=latency_ms, daily_quota=expected // 2)).start()
    try:
        with tempfile.TemporaryDirectory() as journals:
            stopped = False
            try:
                run_pipeline(server, songs, journals)
            except QuotaExhaustedError:
                stopped = True
            answered_before = len(server.state.log) - 1  # the last one was refused with the 429
            server.state.daily_quota = None
            found = run_pipeline(server, songs, journals)
            after = len(server.state.log) - answered_before - 1
            repeated = answered_before + after - expected
            return {"stopped_by_quota": stopped, "requests_before_stop": answered_before, "requests_after": after,
                    "repeated": repeated, "repeated_share": round(repeated / after, 4) if after else 0.0,
                    "quality_after_resume": quality(found, catalog.ground_truth)}
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--songs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--catalog-seed", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=10.0, help="sandbox latency per request")
    parser.add_argument("--partitions", default="A/A,A/B,B/A,B/B")
    parser.add_argument("--json", default=None, help="write the full results here")
    args = parser.parse_args(argv)

    root = os.path.join(PROJECT, "var", "bench", f"enrich-msd-{args.songs}-{args.seed}")
    if not os.path.exists(os.path.join(root, "AdditionalFiles", "sample_manifest.json")):
        generate_sample(root, songs=args.songs, seed=args.seed, partitions=args.partitions.split(","))
    songs = load_songs(root)
    n_songs = sum(len(v) for v in songs.values())
    catalog = build_catalog(load_identities(root), seed=args.catalog_seed)
    truth = catalog.ground_truth
    held = sum(1 for t in truth.values() if t)
    print(f"{n_songs} songs in {len(songs)} partitions; the catalog holds {held} of them; "
          f"sandbox latency {args.latency_ms:g} ms", flush=True)

    results = {"songs": n_songs, "held": held, "latency_ms": args.latency_ms, "modes": {}}
    for mode in ("development", "extended"):
        server = SandboxServer(SandboxState(catalog, mode=mode, latency_ms=args.latency_ms)).start()
        try:
            with tempfile.TemporaryDirectory() as journals:
                rows = [measure("pipeline", server, n_songs, lambda: run_pipeline(server, songs, journals)),  # noqa: B023
                        measure("naive", server, n_songs, lambda: run_naive(server, songs))]  # noqa: B023
        finally:
            server.stop()
        for row in rows:
            row.update(quality(row.pop("found"), truth))
        interrupted = interrupted_share(catalog, mode, args.latency_ms, songs, rows[0]["requests"])
        results["modes"][mode] = {"contenders": rows, "interrupted": interrupted}
        print(f"\n{mode}:")
        for row in rows:
            print(f"  {row['contender']:<9} precision {row['precision']}  recall {row['recall']}  "
                  f"{row['requests_per_song']} requests/song {row['per_song_by_endpoint']}  {row['songs_per_s']} songs/s")
        pipeline, naive = rows
        print(f"  pipeline vs naive: {naive['requests_per_song'] / pipeline['requests_per_song']:.2f}x fewer requests, "
              f"{pipeline['songs_per_s'] / naive['songs_per_s']:.2f}x the songs/s")
        print(f"  interrupted by quota after {interrupted['requests_before_stop']} requests, resumed with "
              f"{interrupted['requests_after']}: {interrupted['repeated']} repeated "
              f"(share {interrupted['repeated_share']}); after resume {interrupted['quality_after_resume']}")
    write_results(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
