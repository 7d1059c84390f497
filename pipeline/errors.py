"""Errors that name what is wrong and how to fix it.

Terminal errors will fail again on retry (bad input, bad configuration): rerunning without
changing the input or the configuration is pointless, and the message says what to change.
Transient ones may pass later (a quota that refills, a service that recovers): the run stops,
keeps what it finished, and a rerun resumes.
"""

from __future__ import annotations


class PipelineError(Exception):
    """Base of the errors this project raises on purpose."""


class TerminalError(PipelineError):
    """Retrying without changing input or configuration will fail the same way."""


class TransientError(PipelineError):
    """May pass on a later attempt: stop now, resume later."""


class InvalidPartitionError(TerminalError, ValueError):
    def __init__(self, value):
        self.value = value
        super().__init__(
            f"Invalid MSD partition `{value!r}`: expected two upper-case letters joined by '/', "
            f"such as `A/B` (the tracks under <msd root>/A/B/). Fix the partition you gave: `--partition` of one "
            f"partition's task, or `--partitions` (comma-separated) of RunAll and `python -m pipeline run`."
        )


class MissingPartitionError(TerminalError, FileNotFoundError):
    def __init__(self, partition: str, path: str, root: str):
        self.partition, self.path, self.root = partition, path, root
        super().__init__(
            f"MSD partition `{partition}` has no folder at `{path}`. Check `[msd] root` "
            f"(now `{root}`, environment MUSIC_ETL_MSD_ROOT) or pick a partition that exists there."
        )


class InvalidMSDFileError(TerminalError):
    """A file that is not a valid MSD track; extraction quarantines it (or fails, if so configured)."""

    def __init__(self, path: str, reason: str):
        self.path, self.reason = path, reason
        super().__init__(f"{path}: {reason}")


class QuarantineError(TerminalError):
    def __init__(self, partition: str, quarantined: list[dict]):
        self.partition, self.quarantined = partition, quarantined
        listing = "; ".join(f"{q['path']}: {q['reason']}" for q in quarantined[:5])
        more = f" (and {len(quarantined) - 5} more)" if len(quarantined) > 5 else ""
        super().__init__(
            f"Partition `{partition}`: {len(quarantined)} invalid MSD file(s) and "
            f"`[extract] fail_on_quarantine` is true: {listing}{more}. Replace or remove these files, "
            f"or set fail_on_quarantine = false to quarantine them and go on."
        )


class UnstorableIdError(TerminalError):
    def __init__(self, task, table: str, column, value: str):
        super().__init__(f"{task}: {table}.{column.name} {value[:60]!r} is longer than its column ({column.type}): the "
                         f"source's ids changed shape. Nothing was staged for the partition; report it (the column "
                         f"needs widening in the source's schema.sql).")
