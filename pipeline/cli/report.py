"""``python -m pipeline report``: one self-contained HTML page with figures (pipeline/report/)."""

from __future__ import annotations

import argparse
import os


def add_parser(sub) -> None:
    report = sub.add_parser("report", help="one self-contained HTML page: coverage, scores, each source's facts, "
                                           "requests and quota, with figures")
    report.add_argument("--out", default=os.path.join("data", "report.html"))


def command(args: argparse.Namespace) -> int:
    from pipeline.report.render import write_report

    print(f"report written to {write_report(args.out)}")
    return 0
