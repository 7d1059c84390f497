"""Deezer enrichment quality, requests per song and throughput against its sandbox, on real MSD names.

    .venv/bin/python bench/deezer.py --songs 1000 --seed 13 --json var/bench/deezer.json

Uses the real-names sample bench/enrich.py generates (the same command generates it if absent),
builds the Spotify and Deezer sandbox catalogs from it, enriches every partition with Spotify
first (Development Mode, so each match brings its ISRC) and then with Deezer through
``pipeline.sources.deezer.enrich``, one answer store per source, against the Deezer sandbox at its
documented rate (50 requests per 5 s) with 2% "service busy" answers. Every request the Deezer
sandbox received counts, error objects included.

Reported: precision and recall against the Deezer ground truth (recall over the songs Deezer
holds), requests per song by endpoint, split into the songs' own (``track/isrc:``, search, full
track) and the once-each album and lead-artist lookups, whose cost per song falls as a sample
grows and shares more albums and artists (``--songs 9716`` is the whole real subset; ``--rate
1000/1`` runs it in minutes, the rate then not Deezer's), how songs were matched (by ISRC, by
search), and the request rate against the configured limit. Targets (issue 13): precision >= 0.99, recall >= 0.97,
<= 1.6 requests per song with track details and the once-each album and artist lookups,
throughput within 10% of the rate limit.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import write_results  # noqa: E402
from bench.enrich import PROJECT, client_for, load_songs  # noqa: E402
from pipeline.sources.answers import AnswerStore  # noqa: E402
from pipeline.sources.deezer.client import DeezerClient, HostPacer  # noqa: E402
from pipeline.sources.deezer.enrich import enrich_partition  # noqa: E402
from pipeline.sources.deezer.gateway import DeezerGateway  # noqa: E402
from pipeline.sources.spotify.enrich import enrich_partition as spotify_enrich  # noqa: E402
from pipeline.sources.spotify.gateway import SpotifyGateway  # noqa: E402
from pipeline.standins.deezer_catalog import build_deezer_catalog  # noqa: E402
from pipeline.standins.deezer_sandbox import DeezerSandboxServer, DeezerState  # noqa: E402
from pipeline.standins.msd_sample import generate_sample  # noqa: E402
from pipeline.standins.spotify_catalog import build_catalog, load_identities  # noqa: E402
from pipeline.standins.spotify_sandbox import SandboxServer, SandboxState  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--songs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--catalog-seed", type=int, default=3)
    parser.add_argument("--rate", default="50/5", help="Deezer's limit, N/S: requests per S seconds")
    parser.add_argument("--busy-rate", type=float, default=0.02)
    parser.add_argument("--partitions", default="A/A,A/B,B/A,B/B")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    limit, window = (float(x) for x in args.rate.split("/"))

    root = os.path.join(PROJECT, "var", "bench", f"enrich-msd-real-{args.songs}-{args.seed}")
    if not os.path.exists(os.path.join(root, "AdditionalFiles", "sample_manifest.json")):
        generate_sample(root, songs=args.songs, seed=args.seed, partitions=args.partitions.split(","), names="real")
    songs = load_songs(root)
    identities = load_identities(root)
    spotify_catalog = build_catalog(identities, seed=args.catalog_seed)
    deezer_catalog = build_deezer_catalog(identities, spotify_catalog, seed=args.catalog_seed)
    truth = deezer_catalog.ground_truth
    n_songs = sum(len(v) for v in songs.values())
    held = sum(1 for t in truth.values() if t)
    print(f"{n_songs} songs; Deezer holds {held}, Spotify {sum(1 for t in spotify_catalog.ground_truth.values() if t)}",
          flush=True)

    with tempfile.TemporaryDirectory() as stores:
        spotify = SandboxServer(SandboxState(spotify_catalog, mode="development")).start()
        isrcs: dict[str, str] = {}
        try:
            client = client_for(spotify)
            for partition, partition_songs in songs.items():
                outputs, _ = spotify_enrich(partition, partition_songs,
                                            SpotifyGateway(client, AnswerStore(os.path.join(stores, "spotify"))))
                by_id = {t["spotify_track_id"]: t["isrc"] for t in outputs["tracks.jsonl.gz"]}
                isrcs.update({m["track_id"]: by_id[m["spotify_track_id"]] for m in outputs["matches.jsonl.gz"]
                              if m["spotify_track_id"] and by_id.get(m["spotify_track_id"])})
        finally:
            spotify.stop()

        deezer = DeezerSandboxServer(DeezerState(deezer_catalog, rate_limit=int(limit), rate_window_s=window,
                                                 busy_rate=args.busy_rate, seed=args.seed)).start()
        try:
            client = DeezerClient(api_url=f"{deezer.url}/", backoff_factor=0.05,
                                  pacer=HostPacer(os.path.join(stores, "pace"), limit=int(limit), window_s=window))
            found, methods = {}, Counter()
            started = time.perf_counter()
            for partition, partition_songs in songs.items():
                outputs, _ = enrich_partition(partition, partition_songs,
                                              DeezerGateway(client, AnswerStore(os.path.join(stores, "deezer"))), isrcs)
                for row in outputs["matches.jsonl.gz"]:
                    found[row["track_id"]] = int(row["deezer_track_id"]) if row["deezer_track_id"] else None
                    methods[f"{row['method']}:{row['status']}"] += 1
            seconds = time.perf_counter() - started
            stats = deezer.state.stats()
        finally:
            deezer.stop()

    per_song_endpoints = ("search", "track", "track_isrc")
    songs_own = sum(v for k, v in stats["requests"].items() if k in per_song_endpoints)
    right = sum(1 for t, d in found.items() if d and d == truth[t])
    wrong = sum(1 for t, d in found.items() if d and d != truth[t])
    sent = sum(stats["requests"].values())
    results = {
        "songs": n_songs, "held": held, "precision": round(right / (right + wrong), 4) if right + wrong else None,
        "recall": round(right / held, 4) if held else None, "requests": sent, "requests_per_song": round(sent / n_songs, 4),
        "per_song_by_endpoint": {k: round(v / n_songs, 4) for k, v in sorted(stats["requests"].items())},
        "songs_own_per_song": round(songs_own / n_songs, 4),
        "albums_and_artists_per_song": round((sent - songs_own) / n_songs, 4),
        "errors": stats["errors"], "methods": dict(sorted(methods.items())), "seconds": round(seconds, 1),
        "requests_per_s": round(sent / seconds, 2), "limit_per_s": round(limit / window, 2),
    }
    print(f"precision {results['precision']}  recall {results['recall']}  {results['requests_per_song']} requests/song "
          f"{results['per_song_by_endpoint']}: the songs' own {results['songs_own_per_song']}, albums and lead "
          f"artists {results['albums_and_artists_per_song']}\nerrors {results['errors']}; matched {results['methods']}\n"
          f"{results['requests_per_s']} requests/s against a limit of {results['limit_per_s']} "
          f"({results['requests_per_s'] / results['limit_per_s']:.1%})")
    write_results(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
