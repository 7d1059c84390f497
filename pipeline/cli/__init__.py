"""``python -m pipeline``: one module per command, each with ``add_parser(sub)`` and ``command(args)``.

    python -m pipeline run [--partitions A/A,B/D | --letters A] [--workers N] [--scheduler-url URL] [--dry-run]
    python -m pipeline extract [--partitions A/A,B/D | --letters A] [--workers N]
    python -m pipeline status
    python -m pipeline rerun A/B --force [--forget-journals] [--workers N]
    python -m pipeline report [--out data/report.html]
    python -m pipeline export [--format parquet|csv] [--out data/export]
    python -m pipeline refresh [--start YYYY-MM-DD] [--workers N] [--scheduler-url URL]

A bad setting or input ends the command with one line naming it and the fix, and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from pipeline.errors import TerminalError

COMMANDS = ("run", "extract", "status", "rerun", "report", "export", "refresh")


def _module(name: str):
    return importlib.import_module(f"pipeline.cli.{name}")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m pipeline", description="Music ETL: the MSD joined to today's music "
                                                                         "catalogs, as a Luigi pipeline.")
    sub = top.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        _module(name).add_parser(sub)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return _module(args.command).command(args)
    except TerminalError as exc:  # bad input or configuration: one line naming it and the fix
        print(f"error: {exc}", file=sys.stderr)
        return 2
