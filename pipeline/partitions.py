"""MSD letter partitions (``A/B`` is every track under ``<root>/A/B/``) and their discovery."""

from __future__ import annotations

import hashlib
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


# partition → (root, its input id): what this process has seen of the MSD files; forget_input_ids()
# (through caches.forget_listings) makes the next question list the folder again.
_input_ids: dict[tuple[str, str], str] = {}


def forget_input_ids() -> None:
    _input_ids.clear()


def input_id(root: str, partition: str) -> str:
    """A digest of the partition's MSD files as the folder lists them: each ``.h5``'s path under
    the partition, size and modification time. Every stage of the partition is versioned by it
    (tasks/base.py), so a file added, replaced or removed makes that partition, and only it,
    extract, enrich and load again; a partition whose files did not change is a no-op. Reading the
    bytes would cost the whole MSD at every run; a stat per file is what `make` and rsync trust too."""
    key = (root, partition)
    if key not in _input_ids:
        folder = os.path.join(resolve_msd_root(root), *partition.split("/"))
        listing = []
        try:
            with os.scandir(folder) as leaves:
                for leaf in leaves:
                    if not leaf.is_dir():
                        continue
                    with os.scandir(leaf.path) as entries:
                        for e in entries:
                            if e.name.endswith(".h5") and e.is_file():
                                st = e.stat()
                                listing.append(f"{leaf.name}/{e.name} {st.st_size} {st.st_mtime_ns}")
        except FileNotFoundError:
            listing = ["missing"]
        _input_ids[key] = hashlib.sha256("\n".join(sorted(listing)).encode()).hexdigest()[:12]
    return _input_ids[key]
