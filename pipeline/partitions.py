"""MSD letter partitions (``A/B`` is every track under ``<root>/A/B/``) and their discovery."""

from __future__ import annotations

import os
import re

from pipeline.errors import InvalidPartitionError, MissingPartitionError

PARTITION_PATTERN = re.compile(r"^[A-Z]/[A-Z]$")
_LETTER = re.compile(r"^[A-Z]$")


def validate_partition(value: str) -> str:
    """Return ``value`` if it names a letter partition such as ``A/B``, else raise a clear error."""
    if not isinstance(value, str) or not PARTITION_PATTERN.match(value):
        raise InvalidPartitionError(value)
    return value


def check_selection(text: str, root: str) -> list[str]:
    """``A/A,B/D`` → the partitions, each checked for its form and for its folder under ``root``,
    before anything is scheduled (a typo is one clear line, not a failed task)."""
    partitions = [validate_partition(p.strip()) for p in text.split(",") if p.strip()]
    resolved = resolve_msd_root(root)
    for partition in partitions:
        folder = os.path.join(resolved, *partition.split("/"))
        if not os.path.isdir(folder):
            raise MissingPartitionError(partition, folder, root)
    return partitions


def resolve_msd_root(root: str) -> str:
    """The folder that holds the letter folders.

    The original subset unpacks to ``MillionSongSubset/data/A/…``; later re-packagings drop
    ``data/``. Either may be configured as ``[msd] root``.
    """
    data = os.path.join(root, "data")
    if not _letter_dirs(root) and _letter_dirs(data):
        return data
    return root


def _letter_dirs(path: str) -> list[str]:
    try:
        with os.scandir(path) as it:
            return sorted(e.name for e in it if _LETTER.match(e.name) and e.is_dir())
    except (FileNotFoundError, NotADirectoryError):
        return []


def discover_partitions(root: str) -> list[str]:
    """Every ``X/Y`` partition folder under the MSD root, sorted (AdditionalFiles & co are ignored)."""
    base = resolve_msd_root(root)
    return [f"{first}/{second}" for first in _letter_dirs(base) for second in _letter_dirs(os.path.join(base, first))]
