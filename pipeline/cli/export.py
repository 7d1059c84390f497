"""``python -m pipeline export``: every analytics table and enriched_songs as files (pipeline/export.py)."""

from __future__ import annotations

import argparse
import os


def add_parser(sub) -> None:
    export = sub.add_parser("export", help="every analytics table and enriched_songs as Parquet (or CSV) files, "
                                           "described by the data dictionary")
    export.add_argument("--format", choices=("parquet", "csv"), default="parquet", help="the files' format")
    export.add_argument("--out", default=os.path.join("data", "export"), help="the folder the files go to")


def command(args: argparse.Namespace) -> int:
    from pipeline.export import export

    counts = export(args.out, args.format)
    print(f"exported {len(counts)} tables ({sum(counts.values())} rows) as {args.format} to "
          f"{os.path.abspath(args.out)}; README.md there says what each file holds")
    return 0
