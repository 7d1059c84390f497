"""Manifests, each a partition stage's completion file, and the index of them a stage listing gives.

A stage's outputs for one partition live in a folder named by what produced them (see
``pipeline/versioning.py``): ``<root>/<stage>/A/B/v-<settings digest>/``. The folder's completion
file is its manifest, written last and named by the SHA-256 of its own bytes:
``_manifest-<16 hex>.json``. So a stage listing says both *whether* a partition stage is done and
*which* staging it is (the load id is built from those names), without a GET and without trusting
how a store computes ETags (S3's ETag is not an MD5 under SSE-KMS, SSE-C or multipart uploads).
Whoever reads a manifest checks its bytes against its name.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import time

import luigi
import orjson

from pipeline.errors import TerminalError
from pipeline.staging.paths import is_s3, read_bytes, s3_client, split_s3_path, target

MANIFEST_GLOB = "_manifest-*.json"
_MANIFEST_NAME = re.compile(r"_manifest-([0-9a-f]{16})\.json$")

# Every answer this process keeps about what a store holds (listings of manifests, warehouse
# markers) is trusted for at most this long; then the store is asked again. Work done by other
# processes (workers, `rerun --force` elsewhere) is seen within this bound.
LISTING_MAX_AGE_S = 5.0
# The check a task makes before it works asks the store for the task's folder, unless a listing of
# the stage made less than this long ago answers (a run of short tasks in one process: a listing
# every few seconds instead of a request per task; BENCHMARKS.md measures a request per task at
# 2.5x plain Luigi's fresh run against 4.2x). The check is check-then-act at any age; luigid is
# what hands a task to one worker.
FRESH_LISTING_S = 5.0


class ManifestMismatchError(TerminalError):
    def __init__(self, path: str, digest: str):
        super().__init__(
            f"{path}: its bytes hash to {digest}, not to the digest in its name, so it was changed after it was "
            f"written. Remove the folder that holds it (or run `python -m pipeline rerun <partition> --force`) and "
            f"the stage is redone.")


def content_digest(data: bytes) -> str:
    """The identity of a staged manifest: the first 16 hex digits of the SHA-256 of its bytes."""
    return hashlib.sha256(data).hexdigest()[:16]


def manifest_digest(name: str) -> str | None:
    match = _MANIFEST_NAME.search(name)
    return match.group(1) if match else None


class ManifestIndex:
    """The manifests of a stage on S3, from one paginated listing of ``<root>/<stage>/``.

    Luigi asks every target whether it exists before it runs anything; on S3 a missing key
    costs a HEAD and a listing (``S3Client.exists`` looks for a folder too), so 676 partitions ×
    3 steps would spend minutes on bookkeeping. One listing answers them all. A listing older
    than ``LISTING_MAX_AGE_S`` is listed again before it answers, whatever it says: work done or
    removed by other processes is seen within that bound. One index per process, so a forked
    worker lists again rather than trusting its parent's snapshot.
    """

    def __init__(self):
        self._pid = os.getpid()
        self._stages: dict[str, dict[str, list[str]]] = {}  # stage prefix → folder → manifest names
        self._listed_at: dict[str, float] = {}
        self._pages: dict[str, int] = {}

    def _listing(self, stage_prefix: str, max_age_s: float | None = None) -> dict[str, list[str]]:
        max_age_s = LISTING_MAX_AGE_S if max_age_s is None else max_age_s
        if time.monotonic() - self._listed_at.get(stage_prefix, float("-inf")) > max_age_s:
            bucket, key = split_s3_path(stage_prefix + "/")
            found: dict[str, list[str]] = {}
            paginator = s3_client().s3.meta.client.get_paginator("list_objects_v2")
            self._pages[stage_prefix] = 0
            for page in paginator.paginate(Bucket=bucket, Prefix=key):
                self._pages[stage_prefix] += 1
                for item in page.get("Contents", []):
                    folder, _, name = item["Key"].rpartition("/")
                    if manifest_digest(name):
                        found.setdefault(f"s3://{bucket}/{folder}", []).append(name)
            self._stages[stage_prefix] = found
            self._listed_at[stage_prefix] = time.monotonic()
        return self._stages[stage_prefix]

    def fresh_names(self, folder: str) -> list[str] | None:
        """``folder``'s manifests from a listing of its stage made less than ``FRESH_LISTING_S`` ago,
        listing the stage again when its last listing was one page (one request either way, and
        this one answers for every folder); None when asking for the folder alone is cheaper."""
        stage_prefix = _stage_of(folder)
        if stage_prefix not in self._stages:
            return None
        if time.monotonic() - self._listed_at[stage_prefix] >= FRESH_LISTING_S and self._pages.get(stage_prefix) != 1:
            return None
        return sorted(self._listing(stage_prefix, FRESH_LISTING_S).get(folder, []))

    def names(self, folder: str) -> list[str]:
        """The manifest names in ``folder`` (``<root>/<stage>/A/B/<version>``), sorted."""
        return sorted(self._listing(_stage_of(folder)).get(folder, []))

    def folders(self, stage_prefix: str) -> dict[str, list[str]]:
        """Every folder of a stage that holds a manifest (all partitions, all versions)."""
        return self._listing(stage_prefix)

    def learned(self, folder: str, names: list[str]) -> None:
        """What this process learned from the store itself about one folder (kept only while the
        stage's listing is; a stage not listed yet is not listed for it)."""
        listing = self._stages.get(_stage_of(folder))
        if listing is not None:
            if names:
                listing[folder] = sorted(set(names))
            else:
                listing.pop(folder, None)

    def wrote(self, folder: str, name: str) -> None:
        self.learned(folder, [*self._stages.get(_stage_of(folder), {}).get(folder, []), name])


def _stage_of(folder: str) -> str:
    """``<root>/<stage>`` of a partition stage's folder ``<root>/<stage>/A/B/<version>``."""
    return folder.rsplit("/", 3)[0]


_index: ManifestIndex | None = None


def manifest_index() -> ManifestIndex:
    global _index
    if _index is None or _index._pid != os.getpid():
        _index = ManifestIndex()
    return _index


def reset_manifest_index() -> None:
    """Forget the listings (after removing manifests, e.g. ``rerun --force``)."""
    global _index
    _index = None


def _local_names(folder: str) -> list[str]:
    return sorted(os.path.basename(p) for p in glob.glob(os.path.join(glob.escape(folder), MANIFEST_GLOB))
                  if manifest_digest(os.path.basename(p)))


class ManifestTarget(luigi.Target):
    """A partition stage's completion file, ``<folder>/_manifest-<digest>.json``.

    ``exists()`` answers from the stage listing on S3 (at most ``LISTING_MAX_AGE_S`` old) and a
    glob locally; ``exists_now()``, the check a task makes before doing work, asks the store
    itself (or a listing made in the last ``FRESH_LISTING_S``).
    Should two writers have raced on one folder (two processes without a shared scheduler),
    the folder holds two manifests; every reader takes the same one, the last by name.
    """

    def __init__(self, folder: str):
        self.folder = folder

    def _names(self) -> list[str]:
        return manifest_index().names(self.folder) if is_s3(self.folder) else _local_names(self.folder)

    def _names_now(self) -> list[str]:
        if not is_s3(self.folder):
            return _local_names(self.folder)
        fresh = manifest_index().fresh_names(self.folder)
        if fresh is not None:
            return fresh
        bucket, key = split_s3_path(f"{self.folder}/_manifest-")
        answer = s3_client().s3.meta.client.list_objects_v2(Bucket=bucket, Prefix=key)
        names = [item["Key"].rsplit("/", 1)[1] for item in answer.get("Contents", [])]
        names = sorted(n for n in names if manifest_digest(n))
        manifest_index().learned(self.folder, names)
        return names

    def name(self) -> str | None:
        names = self._names()
        return names[-1] if names else None

    @property
    def path(self) -> str | None:
        name = self.name()
        return f"{self.folder}/{name}" if name else None

    def exists(self) -> bool:
        return self.name() is not None

    def exists_now(self) -> bool:
        return bool(self._names_now())

    def content_id(self) -> str | None:
        """The digest of the manifest's bytes, from its name (no GET); None if absent."""
        name = self.name()
        return manifest_digest(name) if name else None

    def read(self) -> tuple[dict, str]:
        """The manifest and its digest, checked against its name."""
        names = self._names_now()
        if not names:
            raise FileNotFoundError(f"no {MANIFEST_GLOB} in {self.folder}")
        path = f"{self.folder}/{names[-1]}"
        data = read_bytes(path)
        digest = content_digest(data)
        if digest != manifest_digest(names[-1]):
            raise ManifestMismatchError(path, digest)
        return orjson.loads(data), digest

    def write(self, payload: dict) -> str:
        """Write the manifest (the folder's data files must already be in place); returns its digest."""
        data = orjson.dumps(payload, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
        digest = content_digest(data)
        name = f"_manifest-{digest}.json"
        path = f"{self.folder}/{name}"
        if is_s3(path):
            # One PUT is atomic on S3 (the object appears whole or not at all); Luigi's atomic file
            # would stage it locally and hand it to boto3's threaded transfer manager, 5 ms a file.
            bucket, key = split_s3_path(path)
            s3_client().s3.meta.client.put_object(Bucket=bucket, Key=key, Body=data)
            manifest_index().wrote(self.folder, name)
        else:
            with target(path).open("w") as fh:
                fh.write(data)
        return digest

    def __repr__(self) -> str:
        return f"ManifestTarget({self.folder!r})"


def manifest_folders(prefix: str) -> list[str]:
    """The folders under ``prefix`` (``<root>/<stage>/A/B``) that hold a manifest: every output
    version of one partition stage that was completed."""
    if is_s3(prefix):
        return sorted(f for f in manifest_index().folders(prefix.rsplit("/", 2)[0]) if f.startswith(prefix + "/"))
    found = glob.glob(os.path.join(glob.escape(prefix), "*", MANIFEST_GLOB))
    return sorted({os.path.dirname(p) for p in found if manifest_digest(os.path.basename(p))})
