"""MSD letter partitions (``A/B`` is every track under ``<root>/A/B/``) and their discovery.

The root is a local folder or an S3 prefix (``s3://bucket/msd``, read with the ``[s3]`` settings
the staging uses): the same layout, listed with ``os.scandir`` or with S3's delimiter listings.
"""

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


def is_s3(path: str) -> bool:
    return path.startswith("s3://")


def join(base: str, *parts: str) -> str:
    """A path under a local folder or an S3 prefix."""
    return "/".join([base.rstrip("/"), *parts]) if is_s3(base) else os.path.join(base, *parts)


def _s3_list(prefix: str, delimiter: str | None = None):
    """Every page of an S3 listing under ``prefix`` (a folder: a trailing / is added)."""
    from pipeline import staging

    bucket, key = staging.split_s3_path(prefix.rstrip("/") + "/")
    client = staging.s3_client().s3.meta.client
    options = {"Bucket": bucket, "Prefix": key, **({"Delimiter": delimiter} if delimiter else {})}
    yield from client.get_paginator("list_objects_v2").paginate(**options)


def s3_folder_exists(prefix: str) -> bool:
    return any(page.get("KeyCount", 0) for page in _s3_list(prefix))


def s3_objects(prefix: str) -> list[dict]:
    """``{"path", "size", "etag"}`` of every object under ``prefix``, in key order."""
    bucket = prefix.removeprefix("s3://").split("/", 1)[0]
    return [{"path": f"s3://{bucket}/{item['Key']}", "size": item["Size"], "etag": item.get("ETag", "")}
            for page in _s3_list(prefix) for item in page.get("Contents", [])]


def check_selection(text: str, root: str) -> list[str]:
    """``A/A,B/D`` → the partitions, each checked for its form and for its folder under ``root``,
    before anything is scheduled (a typo is one clear line, not a failed task)."""
    partitions = [validate_partition(p.strip()) for p in text.split(",") if p.strip()]
    resolved = resolve_msd_root(root)
    for partition in partitions:
        folder = join(resolved, *partition.split("/"))
        if not (s3_folder_exists(folder) if is_s3(folder) else os.path.isdir(folder)):
            raise MissingPartitionError(partition, folder, root)
    return partitions


def resolve_msd_root(root: str) -> str:
    """The folder that holds the letter folders.

    The original subset unpacks to ``MillionSongSubset/data/A/…``; later re-packagings drop
    ``data/``. Either may be configured as ``[msd] root``.
    """
    data = join(root, "data")
    if not _letter_dirs(root) and _letter_dirs(data):
        return data
    return root.rstrip("/") if is_s3(root) else root


def _letter_dirs(path: str) -> list[str]:
    if is_s3(path):
        names = {p["Prefix"].rstrip("/").rsplit("/", 1)[-1] for page in _s3_list(path, "/")
                 for p in page.get("CommonPrefixes", [])}
        return sorted(n for n in names if _LETTER.match(n))
    try:
        with os.scandir(path) as it:
            return sorted(e.name for e in it if _LETTER.match(e.name) and e.is_dir())
    except (FileNotFoundError, NotADirectoryError):
        return []


def discover_partitions(root: str) -> list[str]:
    """Every ``X/Y`` partition folder under the MSD root, sorted (AdditionalFiles & co are ignored)."""
    base = resolve_msd_root(root)
    return [f"{first}/{second}" for first in _letter_dirs(base) for second in _letter_dirs(join(base, first))]


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
    bytes would cost the whole MSD at every run; a stat per file is what `make` and rsync trust too.
    On S3: each key's size and ETag, from one listing of the partition."""
    key = (root, partition)
    if key not in _input_ids and is_s3(root):
        folder = join(resolve_msd_root(root), *partition.split("/"))
        listing = [f"{o['path'][len(folder):]} {o['size']} {o['etag']}" for o in s3_objects(folder)
                   if o["path"].endswith(".h5")]
        _input_ids[key] = hashlib.sha256("\n".join(sorted(listing) or ["missing"]).encode()).hexdigest()[:12]
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
