"""``make demo``: the whole pipeline on the embedded default, against the Spotify and Deezer sandboxes.

    python -m pipeline.demo [--mode development|extended] [--workers 2] [--sources spotify,deezer]

Builds the sandboxes' catalogs from the generated sample under ``[msd] root``, starts them on
free loopback ports, points ``[spotify]`` (with the sandbox's own credentials: real ones in the
environment are neither used nor sent) and ``[deezer]`` at them (``--sources spotify`` leaves Deezer out), runs
``RunAll`` into the DuckDB warehouse, prints what is staged and loaded and three example
queries, writes the run report next to the warehouse (``data/report.html``) and stops the
sandboxes. A second run finds every target complete and changes nothing in the warehouse.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import luigi

from pipeline import config, status
from pipeline.__main__ import build
from pipeline.errors import TerminalError
from pipeline.report.render import write_report
from pipeline.standins.deezer_catalog import build_deezer_catalog
from pipeline.standins.deezer_sandbox import DeezerSandboxServer, DeezerState
from pipeline.standins.spotify_catalog import DEMO_CATALOG_SEED, build_catalog, load_identities
from pipeline.standins.spotify_sandbox import DEV, EXTENDED, SandboxServer, SandboxState
from pipeline.tasks import RunAll
from pipeline.warehouse.backends import DuckDBBackend

DEMO_DEEZER_RATE = 500  # requests per second the demo's Deezer sandbox is paced at

QUERIES = [
    ("Match rate by decade (MSD year)",
     "SELECT CASE WHEN year IS NULL THEN 'unknown' ELSE CAST(year - year % 10 AS VARCHAR) || 's' END AS decade, "
     "count(*) AS songs, sum(CASE WHEN match_status = 'matched' THEN 1 ELSE 0 END) AS matched, "
     "round(avg(CASE WHEN match_status = 'matched' THEN 1.0 ELSE 0.0 END), 3) AS match_rate "
     "FROM enriched_songs GROUP BY 1 ORDER BY 1"),
    ("Most-matched artists, with their Spotify id and ISRC coverage",
     "SELECT spotify_artist_name, count(*) AS songs, count(spotify_isrc) AS with_isrc, min(spotify_artist_id) AS spotify_artist_id "
     "FROM enriched_songs WHERE match_status = 'matched' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5"),
    ("MSD year against Spotify's album year for matched songs",
     "SELECT count(*) AS matched_with_both_years, sum(CASE WHEN year = spotify_release_year THEN 1 ELSE 0 END) AS same_year, "
     "sum(CASE WHEN spotify_release_year > year THEN 1 ELSE 0 END) AS spotify_later "
     "FROM enriched_songs WHERE match_status = 'matched' AND year IS NOT NULL"),
    ("Songs both Spotify and Deezer matched: do they agree, and what Deezer adds (rank, bpm, fans)",
     "SELECT count(*) AS both_matched, sum(CASE WHEN sources_agree THEN 1 ELSE 0 END) AS agree, "
     "round(avg(deezer_rank)) AS mean_deezer_rank, round(avg(deezer_bpm), 1) AS mean_bpm, "
     "max(deezer_artist_fans) AS most_artist_fans FROM enriched_songs WHERE sources_agree IS NOT NULL"),
]


def _print_queries(url: str) -> None:
    import duckdb

    con = duckdb.connect(DuckDBBackend(url).path, read_only=True)
    try:
        for title, sql in QUERIES:
            print(f"\n-- {title}\n{sql}")
            print(con.sql(sql))
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=[DEV, EXTENDED], default=DEV,
                        help="what the sandbox app may see (development: 2026's default for new apps)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--sources", default="spotify,deezer",
                        help="enrichment sources: spotify,deezer (both sandboxes) or spotify")
    args = parser.parse_args(argv)

    msd_root = config.msd().root
    url = config.warehouse().url
    if not url.startswith("duckdb:"):
        print(f"The demo runs on the embedded DuckDB warehouse; [warehouse] url is {url}.", file=sys.stderr)
        return 2
    catalog = build_catalog(load_identities(msd_root), seed=DEMO_CATALOG_SEED)
    state = SandboxState(catalog, mode=args.mode, latency_ms=args.latency_ms)
    server = SandboxServer(state).start()
    os.environ["MUSIC_ETL_SPOTIFY_API_URL"] = f"{server.url}/v1/"
    os.environ["MUSIC_ETL_SPOTIFY_TOKEN_URL"] = f"{server.url}/api/token"
    os.environ["SPOTIPY_CLIENT_ID"], os.environ["SPOTIPY_CLIENT_SECRET"] = state.client_id, state.client_secret
    print(f"Spotify sandbox ({args.mode} mode) on {server.url}: {len(catalog.tracks)} tracks; "
          f"MSD sample {msd_root}; warehouse {url}", flush=True)
    try:
        os.environ["MUSIC_ETL_SOURCES"] = ", ".join(config.parse_sources(args.sources))
    except TerminalError as exc:
        print(f"error: --sources: {exc}", file=sys.stderr)
        return 2
    deezer = None
    if "deezer" in os.environ["MUSIC_ETL_SOURCES"]:
        deezer_catalog = build_deezer_catalog(load_identities(msd_root), catalog, seed=DEMO_CATALOG_SEED)
        deezer = DeezerSandboxServer(DeezerState(deezer_catalog, rate_limit=None)).start()
        os.environ["MUSIC_ETL_DEEZER_API_URL"] = f"{deezer.url}/"
        # The sandbox is not Deezer: its own pace, not Deezer's 50 per 5 s, so the demo takes seconds, not minutes.
        luigi.configuration.get_config().set("deezer", "rate_limit", str(DEMO_DEEZER_RATE))
        luigi.configuration.get_config().set("deezer", "rate_window", "1")
        print(f"Deezer sandbox on {deezer.url}: {len(deezer_catalog.tracks)} tracks", flush=True)
    started = time.monotonic()
    try:
        code = build(RunAll(), args.workers, None, log_level="WARNING")
    finally:
        server.stop()
        if deezer is not None:
            deezer.stop()
    if deezer is not None:
        deezer_spent = deezer.state.stats()["requests"]
        print(f"requests the Deezer sandbox received this run: {sum(deezer_spent.values())} "
              f"{dict(sorted(deezer_spent.items()))}")
    spent = state.stats()["requests"]
    print(f"requests the sandbox received this run, token requests included: {sum(spent.values())} "
          f"{dict(sorted(spent.items()))}; "
          f"{time.monotonic() - started:.1f} s")
    if code:
        print("RunAll did not finish", file=sys.stderr)
        return code
    status.main()
    _print_queries(url)
    print(f"report: {write_report(os.path.join(os.path.dirname(DuckDBBackend(url).path) or '.', 'report.html'))} "
          f"(open it in a browser; `python -m pipeline report` writes it again)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
