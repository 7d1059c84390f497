"""``python -m pipeline export``: every analytics table and view as files (pipeline/export.py); ``--open-only``: only
what may be republished; ``--crosswalk``: the ``song_ids`` crosswalk alone, as Parquet and CSV."""

from __future__ import annotations

import argparse
import os


def add_parser(sub) -> None:
    export = sub.add_parser("export", help="every analytics table, enriched_songs and the song_ids crosswalk as Parquet "
                                           "(or CSV) files, described by the data dictionary")
    export.add_argument("--format", choices=("parquet", "csv"), default=None,
                        help="the files' format (default parquet; --crosswalk writes both)")
    export.add_argument("--out", default=None, help="the folder the files go to (default data/export; data/export-open "
                                                    "with --open-only; data/crosswalk with --crosswalk)")
    export.add_argument("--open-only", action="store_true",
                        help="only what may be republished: the tables and columns of sources whose data licence "
                             "allows it (CC0), with the MSD's track and song ids to join them")
    export.add_argument("--crosswalk", action="store_true",
                        help="song_ids alone (every MSD track's ids in each source, with each match's status, score "
                             "and source), as Parquet and CSV")


def default_out(open_only: bool, crosswalk: bool) -> str:
    from pipeline.export import CROSSWALK_OUT, DEFAULT_OUT, OPEN_OUT

    base = CROSSWALK_OUT if crosswalk else OPEN_OUT if open_only else DEFAULT_OUT
    return f"{base}-open" if crosswalk and open_only else base


def command(args: argparse.Namespace) -> int:
    from pipeline.errors import TerminalError
    from pipeline.export import export

    if args.crosswalk and args.format:
        raise TerminalError(f"--crosswalk writes song_ids as both Parquet and CSV: leave out --format {args.format}")
    out = args.out or default_out(args.open_only, args.crosswalk)
    fmt = args.format or "parquet"
    counts = export(out, fmt, open_only=args.open_only, only_crosswalk=args.crosswalk)
    what = (f"the song_ids crosswalk ({sum(counts.values())} rows) as parquet and csv" if args.crosswalk
            else f"{len(counts)} tables ({sum(counts.values())} rows) as {fmt}")
    print(f"exported {what}{' (open data only)' if args.open_only else ''} to {os.path.abspath(out)}; README.md there "
          f"says what each file holds and each column's source and licence")
    return 0
