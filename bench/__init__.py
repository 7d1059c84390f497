"""Benchmarks: each script measures the pipeline against a baseline in the same run (BENCHMARKS.md)."""

from __future__ import annotations

import json
import os


def write_results(path: str | None, results: dict) -> None:
    """Keep a run's full results (every round) as JSON when ``--json`` asks for it."""
    if path:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w") as fh:
            json.dump(results, fh, indent=1)
