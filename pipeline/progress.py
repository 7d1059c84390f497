"""A one-line-per-task progress display for runs started from this package (demo, front end).

Luigi fires task events in the process that runs the task (a forked child when workers > 1),
so each line is printed where the work happened; lines from two workers interleave, whole.
"""

from __future__ import annotations

import sys

import luigi

_installed = False


def _describe(task: luigi.Task) -> str:
    partition = getattr(task, "partition", None)
    return f"{type(task).__name__}({partition})" if partition else type(task).__name__


def install() -> None:
    """Print a line when a task starts work, succeeds or fails (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True

    @luigi.Task.event_handler(luigi.Event.SUCCESS)
    def _done(task):
        print(f"  done    {_describe(task)}", flush=True)

    @luigi.Task.event_handler(luigi.Event.FAILURE)
    def _failed(task, exception):
        print(f"  FAILED  {_describe(task)}: {str(exception).splitlines()[0][:200]}", file=sys.stderr, flush=True)

    @luigi.Task.event_handler(luigi.Event.PROCESSING_TIME)
    def _timed(task, seconds):
        if seconds >= 5:
            print(f"          {_describe(task)} took {seconds:.0f} s", flush=True)
