"""MusicBrainz identity and ListenBrainz popularity on real MSD subset names: precision, recall and requests.

    .venv/bin/python bench/metabrainz.py --songs 9715 --seed 11 --json var/bench/metabrainz.json

Generates (once, cached under var/bench/) an MSD-format sample whose artist and title strings are the real
strings of the MSD subset, builds the MusicBrainz world of the stand-ins from it (what MusicBrainz holds of each
song, its merges, homonyms and spellings: pipeline/standins/musicbrainz_world.py), writes the canonical dump in its
published layout and the Echo Nest profiles, and serves ListenBrainz from a sandbox. Then, in one process:

* ``run``: ``RunAll`` with the ``musicbrainz`` and ``listenbrainz`` sources on, into a fresh DuckDB warehouse;
  precision and recall of the recording MBIDs against the world's truth (recall over the songs MusicBrainz holds),
  per route; every request the sandbox received, per 1,000 songs (targets: popularity <= 3, identity lookups and
  length checks <= 10);
* ``years_and_tags``: the share of songs MSD has no year for (``year`` 0) that get ``mb_first_release_year``, of
  those MusicBrainz holds and of those matched, that year against the world's first release year (the same, or
  later where ListenBrainz gives only the canonical release's year), against MSD's year where MSD has one; the
  share of songs with MusicBrainz tags (recording, artist, release group; genres apart);
* ``rerun``: the same command again (target: 0 requests);
* ``upgrade``: the stored ``metadata/recording`` answers put back in the shape the version before years and tags
  kept (no tags, no dates), then the identity resolved again, as after an upgrade: the requests that costs;
* ``refresh``: one ``DailyRefresh`` (target: <= 2 popularity requests per 1,000 songs).

The baseline in the same run is what a per-song client would ask: one popularity request per recording and per
artist, one lookup per unresolved song (the lookup endpoint's documented batch of 50 is what the pipeline uses).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import luigi  # noqa: E402

from bench import write_results  # noqa: E402
from bench.daily import all_partitions, configure  # noqa: E402
from pipeline.standins.canonical_dump import write_canonical_dump  # noqa: E402
from pipeline.standins.listenbrainz_sandbox import SANDBOX_TOKEN, ListenBrainzSandboxServer, ListenBrainzState  # noqa: E402
from pipeline.standins.msd_sample import generate_sample  # noqa: E402
from pipeline.standins.musicbrainz_world import build_world, write_echo_nest_profiles  # noqa: E402
from pipeline.standins.spotify_catalog import load_identities  # noqa: E402

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def requests_of(server) -> Counter:
    return Counter({k: v for k, v in server.state.stats()["requests"].items() if v})


def spent(before: Counter, after: Counter) -> dict[str, int]:
    diff = Counter(after)
    diff.subtract(before)
    return {k: v for k, v in sorted(diff.items()) if v}


def per_1000(n: int, songs: int) -> float:
    return round(1000 * n / songs, 2) if songs else 0.0


def share(n: int, of: int) -> float | None:
    return round(n / of, 4) if of else None


def years_and_tags(world) -> dict:
    """Coverage of ``mb_first_release_year`` over the songs MSD has no year for, its agreement with the world, and
    the songs with MusicBrainz tags, from the warehouse."""
    from pipeline.warehouse.backends import warehouse_backend

    backend = warehouse_backend()
    try:
        songs = backend.query("SELECT e.track_id, s.year, e.mb_first_release_year, e.canonical_recording_mbid, "
                              "e.mb_status FROM enriched_songs e JOIN songs s ON s.track_id = e.track_id")
        tagged = {kind: {r[0] for r in backend.query(sql)} for kind, sql in {
            "recording": "SELECT m.track_id FROM musicbrainz_matches m JOIN musicbrainz_tags t ON t.mbid = "
                         "m.canonical_recording_mbid",
            "artist": "SELECT m.track_id FROM musicbrainz_matches m JOIN musicbrainz_tags t ON t.mbid = "
                      "m.canonical_artist_mbid",
            "release_group": "SELECT m.track_id FROM musicbrainz_matches m JOIN musicbrainz_recordings r ON "
                             "r.canonical_recording_mbid = m.canonical_recording_mbid JOIN musicbrainz_tags t ON "
                             "t.mbid = r.release_group_mbid",
            "genre": "SELECT m.track_id FROM musicbrainz_matches m JOIN musicbrainz_recordings r ON "
                     "r.canonical_recording_mbid = m.canonical_recording_mbid JOIN musicbrainz_tags t ON t.mbid IN "
                     "(m.canonical_recording_mbid, m.canonical_artist_mbid, r.release_group_mbid) "
                     "WHERE t.genre_mbid IS NOT NULL"}.items()}
        tags = backend.query("SELECT entity, count(*), sum(CASE WHEN genre_mbid IS NOT NULL THEN 1 ELSE 0 END) "
                             "FROM musicbrainz_tags GROUP BY 1 ORDER BY 1")
        no_mbtags = {r[0] for r in backend.query("SELECT s.track_id FROM songs s WHERE NOT EXISTS (SELECT 1 FROM "
                                                 "artist_mbtags a WHERE a.artist_id = s.artist_id)")}
    finally:
        backend.close()
    yearless = [r for r in songs if r[1] is None]
    held = [r for r in yearless if world.truth.get(r[0])]
    matched = [r for r in yearless if r[4] == "matched"]
    filled = [r for r in yearless if r[2] is not None]
    truth = {r[0]: world.recordings[world.truth[r[0]]].first_release_year for r in filled if world.truth.get(r[0])}
    dated = [r for r in songs if r[2] is not None]
    with_msd = [r for r in dated if r[1] is not None]
    any_tag = tagged["recording"] | tagged["artist"] | tagged["release_group"]
    matched_ids = {r[0] for r in songs if r[4] == "matched"}
    return {
        "songs": len(songs), "msd_year_0": len(yearless), "msd_year_0_share": share(len(yearless), len(songs)),
        "msd_year_0_held_by_musicbrainz": len(held), "msd_year_0_matched": len(matched),
        "msd_year_0_with_mb_first_release_year": len(filled),
        "filled_share_of_msd_year_0": share(len(filled), len(yearless)),
        "filled_share_of_those_musicbrainz_holds": share(len(filled), len(held)),
        "filled_share_of_those_matched": share(len(filled), len(matched)),
        "filled_year_is_the_worlds_first_release_year": share(sum(1 for r in filled if truth.get(r[0]) == r[2]),
                                                               len(filled)),
        "filled_year_later_than_the_worlds": sum(1 for r in filled if truth.get(r[0]) and r[2] > truth[r[0]]),
        "songs_with_mb_first_release_year": len(dated),
        "agrees_with_msd_year_where_both": share(sum(1 for r in with_msd if r[1] == r[2]), len(with_msd)),
        "before_msd_year_where_both": share(sum(1 for r in with_msd if r[2] < r[1]), len(with_msd)),
        "latest_mb_first_release_year": max((r[2] for r in dated), default=None),
        "songs_with_tags_share": {**{k: share(len(v), len(songs)) for k, v in tagged.items()},
                                  "any": share(len(any_tag), len(songs)),
                                  "any_of_matched": share(len(any_tag & matched_ids), len(matched_ids)),
                                  # an artist's tags reach its songs whose recording did not match
                                  "any_of_not_matched": share(len(any_tag - matched_ids), len(songs) - len(matched_ids))},
        "songs_without_msd_artist_mbtags": len(no_mbtags),
        "of_those_with_a_musicbrainz_genre": share(len(no_mbtags & tagged["genre"]), len(no_mbtags)),
        "tag_rows": {entity: {"tags": n, "genres": g} for entity, n, g in tags}}


def as_before_tags(folder: str) -> int:
    """The stored recording answers rewritten as the version before years and tags kept them; how many."""
    import glob
    import json

    old = ("mbid", "name", "length_ms", "artist_credit_name", "artist_mbids", "release_mbid", "release_name")
    n = 0
    for path in glob.glob(os.path.join(folder, "recording", "*", "*.json")):
        with open(path, encoding="utf-8") as fh:
            entry = json.load(fh)
        if entry.get("obj"):
            entry["obj"] = {k: entry["obj"].get(k) for k in old}
            n += 1
            with open(path, "w", encoding="utf-8") as fh:
                json.dump(entry, fh)
    return n


def stand_ins(root: str, songs: int, seed: int, partitions: list[str]):
    """The sample of real subset names under ``root`` (made once), its MusicBrainz world, and the canonical dump and
    Echo Nest profiles the world writes (once): (world, dump path, profiles folder)."""

    if not os.path.exists(os.path.join(root, "AdditionalFiles", "sample_manifest.json")):
        generate_sample(root, songs=songs, seed=seed, partitions=partitions, names="real")
    world = build_world(load_identities(root))
    folder = os.path.join(root, "AdditionalFiles", "musicbrainz-bench")
    dump = os.path.join(folder, "musicbrainz-canonical-dump-20261201-000000.tar.zst")
    if not os.path.exists(dump + ".sha256"):
        dump = write_canonical_dump(world, folder, stamp="20261201-000000")
    profiles = os.path.join(folder, "profiles")
    if not os.path.isdir(profiles):
        write_echo_nest_profiles(world, profiles)
    return world, dump, profiles


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--songs", type=int, default=9715)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--partitions", type=int, default=52, help="the first N partitions A/A, A/B, …")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--exact-lookup", action="store_true",
                        help="the lookup without its fuzzy stage, as the real bulk endpoint answers at 0a119846")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    partitions = all_partitions(args.partitions)
    root = os.path.join(PROJECT, "var", "bench", f"metabrainz-msd-{args.songs}-{args.seed}-{args.partitions}")
    world, dump, profiles = stand_ins(root, args.songs, args.seed, partitions)
    sha256 = open(dump + ".sha256", encoding="ascii").read().split()[0]
    truth = world.truth
    songs = len(truth)
    held = sum(1 for t in truth.values() if t)
    print(f"{songs} songs (real MSD subset names) in {len(partitions)} partitions; MusicBrainz holds {held}", flush=True)

    os.environ["LISTENBRAINZ_TOKEN"] = SANDBOX_TOKEN
    server = ListenBrainzSandboxServer(ListenBrainzState(world, rate_limit=None, token_rate_limit=None,
                                                         fuzzy_lookup=not args.exact_lookup)).start()
    results: dict = {"songs": songs, "held": held, "partitions": len(partitions), "exact_lookup": args.exact_lookup}
    try:
        with tempfile.TemporaryDirectory() as work:
            configure(os.path.join(work, "luigi.cfg"), {
                "core": {"log_level": "WARNING", "no_configure_logging": "true"},
                "msd": {"root": root}, "staging": {"root": f"{work}/staging"},
                "warehouse": {"url": f"duckdb:///{work}/warehouse.duckdb"},
                "sources": {"enabled": "musicbrainz, listenbrainz"},
                "musicbrainz": {"canonical_dump": dump, "canonical_dump_sha256": sha256, "echo_nest_profiles": profiles,
                                "lookup_url": server.url, "index_dir": f"{work}/index"},
                "listenbrainz": {"api_url": server.url}})
            from pipeline.tasks import DailyRefresh, RunAll
            from pipeline.tasks.refresh import local_today
            from pipeline.warehouse.backends import warehouse_backend

            before = requests_of(server)
            started = time.monotonic()
            ok = luigi.build([RunAll()], workers=args.workers, local_scheduler=True, log_level="WARNING")
            run_s = time.monotonic() - started
            run = spent(before, requests_of(server))
            backend = warehouse_backend()
            try:
                rows = backend.query("SELECT track_id, status, method, canonical_recording_mbid FROM musicbrainz_matches")
                counted = backend.scalar("SELECT count(*) FROM listenbrainz_recordings WHERE total_listen_count IS NOT NULL")
                artists = backend.scalar("SELECT count(*) FROM listenbrainz_artists")
                recordings = backend.scalar("SELECT count(DISTINCT recording_mbid) FROM listenbrainz_recordings")
            finally:
                backend.close()
            matched = {r[0]: (r[2], r[3]) for r in rows if r[1] == "matched"}
            right = {t for t, (_, mbid) in matched.items() if truth.get(t) == mbid}
            by_route = {}
            for route in sorted({m for m, _ in matched.values()}):
                mine = [t for t, (m, _) in matched.items() if m == route]
                by_route[route] = {"matched": len(mine), "right": sum(1 for t in mine if t in right)}
            popularity = run.get("popularity_recording", 0) + run.get("popularity_artist", 0)
            identity = run.get("metadata_lookup", 0) + run.get("metadata_recording", 0)
            unresolved_offline = sum(1 for _, (m, _) in matched.items() if m == "lookup") + (songs - len(matched))
            results["run"] = {
                "ok": ok, "seconds": round(run_s, 1), "requests": run, "matched": len(matched),
                "precision": round(len(right) / len(matched), 4) if matched else None,
                "recall": round(len(right) / held, 4) if held else None, "by_route": by_route,
                "popularity_requests_per_1000_songs": per_1000(popularity, songs),
                "identity_requests_per_1000_songs": per_1000(identity, songs),
                "songs_with_listen_counts": counted, "artists_asked": artists, "recordings_asked": recordings,
                "baseline_per_song_requests": {"popularity": recordings + artists, "lookup": unresolved_offline},
                "baseline_popularity_per_1000_songs": per_1000(recordings + artists, songs)}
            print(f"run: {results['run']}", flush=True)
            results["years_and_tags"] = years_and_tags(world)
            print(f"years_and_tags: {results['years_and_tags']}", flush=True)

            luigi.task_register.Register.clear_instance_cache()
            before = requests_of(server)
            luigi.build([RunAll()], workers=args.workers, local_scheduler=True, log_level="WARNING")
            results["rerun"] = {"requests": spent(before, requests_of(server))}
            print(f"rerun: {results['rerun']}", flush=True)

            from pipeline.sources.musicbrainz import resolve

            answers = os.path.join(work, "answers", "musicbrainz")
            made_old = as_before_tags(answers)
            resolve.SCHEMA_VERSION += 1  # what an upgrade does: the identity resolved again, from the store
            luigi.task_register.Register.clear_instance_cache()
            before = requests_of(server)
            luigi.build([RunAll()], workers=args.workers, local_scheduler=True, log_level="WARNING")
            upgrade = spent(before, requests_of(server))
            results["upgrade"] = {"answers_without_tags": made_old, "requests": upgrade,
                                  "requests_per_1000_songs": per_1000(sum(upgrade.values()), songs)}
            print(f"upgrade: {results['upgrade']}", flush=True)

            luigi.task_register.Register.clear_instance_cache()
            before = requests_of(server)
            day = local_today(datetime.now(UTC))
            started = time.monotonic()
            ok = luigi.build([DailyRefresh(date=day)], workers=args.workers, local_scheduler=True, log_level="WARNING")
            refresh = spent(before, requests_of(server))
            daily = refresh.get("popularity_recording", 0) + refresh.get("popularity_artist", 0)
            results["refresh"] = {"ok": ok, "seconds": round(time.monotonic() - started, 1), "requests": refresh,
                                  "popularity_requests_per_1000_songs": per_1000(daily, songs)}
            print(f"refresh: {results['refresh']}", flush=True)
    finally:
        server.stop()
    write_results(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
