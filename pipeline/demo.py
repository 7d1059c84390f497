"""``make demo``: the whole pipeline on the embedded default, every enabled source played by its sandbox.

    python -m pipeline.demo [--mode development|extended] [--workers 2] [--sources spotify,deezer]

Each enabled source starts its stand-in (its ``sandbox`` hook: the catalog built from the generated
sample under ``[msd] root``, a free loopback port, the configuration pointed at it), then ``RunAll``
runs into the DuckDB warehouse, and the demo prints what is staged and loaded, each source's example
queries, and writes the run report next to the warehouse (``data/report.html``); the sandboxes stop.
A second run finds every target complete and changes nothing in the warehouse.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import sys
import time
from datetime import date

from pipeline import config
from pipeline.cli import PlainParser, guarded, status
from pipeline.cli.run import build
from pipeline.errors import TerminalError
from pipeline.report.render import write_report
from pipeline.sources import registry
from pipeline.tasks.run_all import RunAll
from pipeline.warehouse.backends import DuckDBBackend, redact


def demo_warehouse() -> str | None:
    """The configured warehouse URL when it is the embedded DuckDB the demo runs on; else None, said on stderr."""
    url = config.warehouse().url
    if not url.startswith("duckdb:"):
        print(f"The demo runs on the embedded DuckDB warehouse; [warehouse] url is {redact(url)}.", file=sys.stderr)
        return None
    return url


def demo_sources(names: str) -> list | None:
    """The sources ``names`` lists (default: every registered source: each has its stand-in), enabled for this
    process and the workers it starts; None when a name is wrong, said on stderr."""
    try:
        sources = registry.parse_enabled(names or ",".join(s.name for s in registry.registered()))
    except TerminalError as exc:
        print(f"error: --sources: {exc}", file=sys.stderr)
        return None
    os.environ["MUSIC_ETL_SOURCES_ENABLED"] = ", ".join(s.name for s in sources)
    return sources


@contextlib.contextmanager
def sandboxes(sources, msd_root: str, mode: str, latency_ms: float = 0.0, day: date | None = None):
    """Every source's stand-in started (each points the configuration at itself, ``Source.sandbox``) and its line
    printed; yields {source: Sandbox}; all stopped after. ``day``: the calendar day they play (``make
    refresh-demo``, pipeline/standins/demo_days.py); without it, the catalogs the demo enriches from."""
    played = {} if day is None else {"day": day}
    with contextlib.ExitStack() as stack:
        started = {}
        for source in sources:
            sandbox = stack.enter_context(source.sandbox(msd_root, mode=mode, latency_ms=latency_ms, **played))
            if sandbox is not None:
                started[source] = sandbox
                print(sandbox.description, flush=True)
        write_settings(settings_path())
        yield started


def settings_path() -> str:
    """``demo.env`` beside the demo's warehouse (``data/demo.env``)."""
    return os.path.join(os.path.dirname(DuckDBBackend(config.warehouse().url).path) or ".", "demo.env")


def write_settings(path: str) -> dict[str, str]:
    """The settings the demo runs with that outlive its sandboxes (its MSD root, staging and warehouse, the sources
    enabled, the stand-in dumps and profiles on disk; not a sandbox's loopback address), as a shell file: the everyday commands read them so
    that, after the demo, they see its data as it made it (`set -a; . data/demo.env; set +a`; the Makefile's
    status, report and export do so)."""
    kept = {k: v for k, v in sorted(os.environ.items())
            if k.startswith("MUSIC_ETL_") and not v.startswith(("http://127.0.0.1", "http://localhost"))}
    lines = ["# Written by `make demo` / `make refresh-demo`: the settings the demo's sources ran with that outlive its",
             "# sandboxes. Commands on the demo's data read them with:  set -a; . data/demo.env; set +a",
             *(f"{key}={shlex.quote(value)}" for key, value in kept.items())]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    return kept


def print_received(received: dict, what: str) -> None:
    for source, spent in received.items():
        print(f"requests the {source.title} sandbox received {what}, every one: "
              f"{sum(spent.values())} {dict(sorted(spent.items()))}")


def report_path(url: str) -> str:
    """The report beside the demo's warehouse (``data/report.html``)."""
    return os.path.join(os.path.dirname(DuckDBBackend(url).path) or ".", "report.html")


def _print_queries(url: str, sources) -> None:
    import duckdb

    con = duckdb.connect(DuckDBBackend(url).path, read_only=True)
    try:
        for source in sources:
            for title, sql in source.example_queries():
                print(f"\n-- {title}\n{sql}")
                print(con.sql(sql))
    finally:
        con.close()


def demo_parser(prog: str, doc: str) -> PlainParser:
    """The options the demo and `make refresh-demo` share: what the sandboxes play, how many workers."""
    parser = PlainParser(prog=prog, description=doc.split("\n\n")[0])
    parser.add_argument("--mode", choices=["development", "extended"], default="development",
                        help="what the Spotify sandbox's app may see (development: 2026's default for new apps; "
                             "extended: popularity too; make's SPOTIFY_MODE)")
    parser.add_argument("--workers", type=int, default=2, help="tasks run at once")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="each sandbox answer's delay")
    parser.add_argument("--sources", default="", help="enrichment sources (default: every source: each has its "
                                                      "stand-in); refresh-demo takes those the demo ran with")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = demo_parser("python -m pipeline.demo", __doc__)
    args = parser.parse_args(argv)

    msd_root = config.msd().root
    url = demo_warehouse()
    sources = demo_sources(args.sources)
    if url is None or sources is None:
        return 2
    print(f"MSD sample {msd_root}; warehouse {redact(url)}", flush=True)
    started = time.monotonic()
    with sandboxes(sources, msd_root, args.mode, args.latency_ms) as running:
        code = build(RunAll(), args.workers, None, log_level="WARNING")
        received = {source: sandbox.requests() for source, sandbox in running.items()}
    print_received(received, "this run")
    print(f"the pipeline took {time.monotonic() - started:.1f} s (sandboxes started, RunAll, the report)")
    if code:
        print("RunAll did not finish", file=sys.stderr)
        return code
    status.main()
    _print_queries(url, sources)
    print(f"report: {write_report(report_path(url))} (open it in a browser; `python -m pipeline report` writes it "
          f"again; `make refresh-demo` adds a day of snapshots)")
    print_exports(url)
    return 0


def print_exports(url: str) -> None:
    """The crosswalk (song_ids as Parquet and CSV) and the open-data export, beside the warehouse, and where."""
    from pipeline.export import export

    folder = os.path.dirname(DuckDBBackend(url).path) or "."
    crosswalk, open_data = os.path.join(folder, "crosswalk"), os.path.join(folder, "export-open")
    rows = export(crosswalk, only_crosswalk=True)["song_ids"]
    tables = export(open_data, open_only=True)
    print(f"crosswalk: {crosswalk} (song_ids.parquet and .csv: {rows} songs, their ids in every source with each "
          f"match's status, score and source; `python -m pipeline export --crosswalk`)")
    print(f"open data: {open_data} ({len(tables)} files of what may be republished, CC0 and the MSD's ids to join; "
          f"`python -m pipeline export --open-only`)")


if __name__ == "__main__":
    sys.exit(guarded(main))
