"""Parameters shared by the tasks."""

from __future__ import annotations

import sys

import luigi

from pipeline import config
from pipeline.errors import TerminalError
from pipeline.partitions import check_selection, validate_partition


def or_exit(check, *args):
    """``check(*args)``, or, when it raises a TerminalError, that error as one line on stderr and
    exit code 2: what a command gets for a bad setting instead of a traceback or a failed task."""
    try:
        return check(*args)
    except TerminalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


class PartitionParameter(luigi.Parameter):
    """An MSD letter partition such as ``A/B``, checked where it enters (command line or code)."""

    def parse(self, x):
        return or_exit(validate_partition, x)  # from the command line: one line and exit code 2

    def normalize(self, x):
        return validate_partition(x)


class PartitionListParameter(luigi.Parameter):
    """Comma-separated partitions (``A/A,B/D``). From the command line or a config file each is
    checked, form and folder, before anything is scheduled: a wrong one ends the command with one
    line naming it and the fix, and exit code 2, instead of a traceback or a failed task."""

    def parse(self, x):
        if x:
            or_exit(check_selection, x, config.msd().root)
        return x
