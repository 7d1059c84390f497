"""Staging storage: one place that turns ``<staging root>/<stage>/A/B/<file>`` into a Luigi target.

The root is a local folder (atomic writes by rename, ``luigi.LocalTarget``) or
``s3://bucket/prefix`` (atomic uploads on close, ``luigi.contrib.s3.S3Target``). Every target
is opened in bytes mode (``luigi.format.Nop``); callers add gzip or JSON on top.
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import io
import os
import time

import botocore.exceptions
import luigi
import luigi.format
import orjson
from luigi.contrib.s3 import S3Client, S3Target

from pipeline import config

MANIFEST = "_manifest.json"


class StagingS3Client(S3Client):
    """``luigi.contrib.s3.S3Client`` that treats a blank ``[s3]`` key as unset.

    luigi passes every ``[s3]`` key to boto3, and ``endpoint_url = ${MUSIC_ETL_S3_ENDPOINT_URL}``
    left blank would reach boto3 as ``""``, which it rejects ("Invalid endpoint").
    """

    @staticmethod
    def _get_s3_config(key=None):
        options = S3Client._get_s3_config()
        options = {k: v for k, v in options.items() if v != ""}
        return options.get(key) if key else options


_clients: dict[int, StagingS3Client] = {}


def s3_client() -> StagingS3Client:
    # One client (and boto3 resource) per process: luigi forks a process per task when
    # workers > 1, and a boto3 resource must not cross a fork.
    pid = os.getpid()
    if pid not in _clients:
        _clients.clear()
        _clients[pid] = StagingS3Client()
    return _clients[pid]


def is_s3(path: str) -> bool:
    return path.startswith("s3://")


def root() -> str:
    return config.staging().root.rstrip("/")


def partition_prefix(stage: str, partition: str) -> str:
    """``<staging root>/<stage>/A/B``: the folder of one stage's outputs for one partition."""
    return f"{root()}/{stage}/{partition}"


def remove_stale_temporaries(prefix: str) -> list[str]:
    """Delete what a killed writer left in a local partition folder (Luigi's ``*-luigi-tmp-*``).

    A process killed mid-write never renames its temporary file, so it never looks complete,
    but it would stay forever. S3 needs nothing: an upload that did not finish leaves no object.
    """
    if is_s3(prefix) or not os.path.isdir(prefix):
        return []
    stale = sorted(glob.glob(os.path.join(glob.escape(prefix), "*-luigi-tmp-*")))
    for path in stale:
        os.remove(path)
    return stale


def target(path: str):
    if is_s3(path):
        return S3Target(path, format=luigi.format.Nop, client=s3_client())
    return luigi.LocalTarget(path, format=luigi.format.Nop)


class ManifestIndex:
    """Which partitions of a stage have their ``_manifest.json`` on S3, from one listing per stage.

    Luigi asks every target whether it exists before it runs anything; on S3 a missing key
    costs a HEAD and a listing (``S3Client.exists`` looks for a folder too), so 676 partitions ×
    3 steps spend minutes on bookkeeping. One paginated listing of ``<root>/<stage>/`` answers
    them all. The listing can only be stale towards "missing" (manifests are written, never
    removed, while a run goes on; ``rerun --force`` removes them before the run starts): a task
    wrongly thought missing is scheduled, and its ``run()`` checks afresh and returns at once.
    Manifests this process writes are added as they are written. One index per process, so a
    forked worker lists again rather than trusting its parent's snapshot.
    """

    MAX_AGE_S = 5.0  # a "missing" answer from an older listing lists again (long runs, other workers)

    def __init__(self):
        self._pid = os.getpid()
        self._stages: dict[str, dict[str, str]] = {}
        self._listed_at: dict[str, float] = {}
        self._written: dict[str, str] = {}  # manifests this process wrote (a forked task need not list to know its own)

    def _etags(self, stage_prefix: str, refresh: bool = False) -> dict[str, str]:
        if stage_prefix not in self._stages or refresh:
            client = s3_client()
            bucket, key = client._path_to_bucket_and_key(stage_prefix + "/")
            found = {}
            paginator = client.s3.meta.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=bucket, Prefix=key):
                for item in page.get("Contents", []):
                    if item["Key"].endswith("/" + MANIFEST):
                        found[f"s3://{bucket}/{item['Key']}"] = item["ETag"].strip('"')
            self._stages[stage_prefix] = found
            self._listed_at[stage_prefix] = time.monotonic()
        return self._stages[stage_prefix]

    def etag(self, path: str) -> str | None:
        """The manifest's ETag (its MD5 for these small single-part uploads), or None if it is absent."""
        if path in self._written:
            return self._written[path]
        stage_prefix = path.rsplit("/", 3)[0]  # <root>/<stage> of <root>/<stage>/A/B/_manifest.json
        found = self._etags(stage_prefix).get(path)
        if found is None and time.monotonic() - self._listed_at.get(stage_prefix, 0.0) > self.MAX_AGE_S:
            found = self._etags(stage_prefix, refresh=True).get(path)
        return found

    def written(self, path: str, etag: str) -> None:
        self._written[path] = etag


_index: ManifestIndex | None = None


def manifest_index() -> ManifestIndex:
    global _index
    if _index is None or _index._pid != os.getpid():
        _index = ManifestIndex()
    return _index


def reset_manifest_index() -> None:
    """Forget the listing (after removing manifests, e.g. ``rerun --force``)."""
    global _index
    _index = None


class ManifestTarget(luigi.Target):
    """A partition stage's ``_manifest.json``: exists() from the stage listing on S3, a stat locally.

    ``exists_now()`` asks the store itself, for the check a task makes before doing work."""

    def __init__(self, path: str):
        self.path = path
        self._target = target(path)

    def exists(self) -> bool:
        if is_s3(self.path):
            return manifest_index().etag(self.path) is not None
        return self._target.exists()

    def exists_now(self) -> bool:
        if not is_s3(self.path):
            return self._target.exists()
        # One HEAD on the key itself: S3Client.exists would also look for a "folder" of that name.
        client = s3_client()
        bucket, key = client._path_to_bucket_and_key(self.path)
        try:
            head = client.s3.meta.client.head_object(Bucket=bucket, Key=key)
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        manifest_index().written(self.path, head["ETag"].strip('"'))
        return True

    def open(self, mode="r"):
        return self._target.open(mode)

    def content_id(self) -> str | None:
        """A digest of the manifest's bytes (S3: its ETag from the listing, no GET), None if absent."""
        if is_s3(self.path):
            return manifest_index().etag(self.path)
        if not os.path.exists(self.path):
            return None
        with open(self.path, "rb") as fh:
            return hashlib.md5(fh.read()).hexdigest()  # noqa: S324 - an identity, not security

    def __repr__(self) -> str:
        return f"ManifestTarget({self.path!r})"


class JsonLinesWriter:
    """Gzipped JSON Lines into a target, atomically: the file appears only when ``commit()`` runs.

    orjson encodes (about 20x faster than the json module on these small rows: on the
    extraction path that is a third of the time). It writes NaN and infinities as null,
    which is also the null rule for them, so staged files are always strict JSON.
    """

    _FLUSH_EVERY = 256

    def __init__(self, tgt, gzip_level: int = 1):
        self._raw = tgt.open("w")
        # mtime=0 keeps the bytes identical for identical content (reruns, checksums).
        self._gz = gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=gzip_level, mtime=0)
        self._pending: list[bytes] = []
        self.rows = 0

    def write(self, record: dict) -> None:
        self._pending.append(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))
        self.rows += 1
        if len(self._pending) >= self._FLUSH_EVERY:
            self._flush()

    def write_lines(self, lines: list[bytes]) -> None:
        """Rows already encoded as JSON lines (each ending in a newline), for callers that build
        many small rows of a fixed shape (pipeline/msd/extract.py)."""
        self._pending.extend(lines)
        self.rows += len(lines)
        if len(self._pending) >= self._FLUSH_EVERY:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._gz.write(b"".join(self._pending))
            self._pending = []

    def commit(self) -> None:
        self._flush()
        self._gz.close()
        self._raw.close()  # the atomic move / upload happens here

    def abort(self) -> None:
        """Drop what was written: nothing reaches the final path."""
        self._gz.close()
        # Luigi's atomic files move (or upload) in close(); the plain BufferedWriter close does not.
        io.BufferedWriter.close(self._raw)
        tmp = getattr(self._raw, "tmp_path", None)
        if tmp and os.path.exists(tmp):
            os.remove(tmp)


def write_json(tgt, payload: dict) -> None:
    data = orjson.dumps(payload, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    if isinstance(tgt, ManifestTarget) and is_s3(tgt.path):
        # One PUT is atomic on S3 (the object appears whole or not at all); Luigi's atomic file
        # would stage it locally and hand it to boto3's threaded transfer manager, 5 ms a file.
        client = s3_client()
        bucket, key = client._path_to_bucket_and_key(tgt.path)
        answer = client.s3.meta.client.put_object(Bucket=bucket, Key=key, Body=data)
        manifest_index().written(tgt.path, answer["ETag"].strip('"'))
        return
    with tgt.open("w") as fh:
        fh.write(data)


def read_json(tgt) -> dict:
    with tgt.open("r") as fh:
        return orjson.loads(fh.read())


def read_jsonl_gz(tgt) -> list[dict]:
    with tgt.open("r") as fh:
        data = gzip.decompress(fh.read())
    return [orjson.loads(line) for line in data.splitlines() if line]
