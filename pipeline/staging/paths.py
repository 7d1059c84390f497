"""Where staged files live: ``<staging root>/<stage>/A/B/…`` as Luigi targets, locally or on S3.

The root is a local folder (atomic writes by rename, ``luigi.LocalTarget``) or ``s3://bucket/prefix``
(atomic uploads on close, ``luigi.contrib.s3.S3Target``). Every target is opened in bytes mode
(``luigi.format.Nop``); callers add gzip or JSON on top.
"""

from __future__ import annotations

import glob
import os
from urllib.parse import urlsplit

import luigi
import luigi.format
from luigi.contrib.s3 import S3Client, S3Target

from pipeline import config

_clients: dict[int, S3Client] = {}


def s3_client() -> S3Client:
    """One client (and boto3 resource) per process: luigi forks a process per task when
    workers > 1, and a boto3 resource must not cross a fork."""
    pid = os.getpid()
    if pid not in _clients:
        _clients.clear()
        _clients[pid] = S3Client(**config.s3_options())
    return _clients[pid]


def split_s3_path(path: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` → (``bucket``, ``a/b``)."""
    parts = urlsplit(path, allow_fragments=False)
    return parts.netloc, parts.path.lstrip("/")


def is_s3(path: str) -> bool:
    return path.startswith("s3://")


def root() -> str:
    return config.staging().root.rstrip("/")


def partition_prefix(stage: str, partition: str) -> str:
    """``<staging root>/<stage>/A/B``: every version of one stage's outputs for one partition."""
    return f"{root()}/{stage}/{partition}"


def remove_stale_temporaries(prefix: str) -> list[str]:
    """Delete what a killed writer left in a local folder (Luigi's ``*-luigi-tmp-*``).

    A process killed mid-write never renames its temporary file, so it never looks complete,
    but it would stay forever. S3 needs nothing: an upload that did not finish leaves no object.
    """
    if is_s3(prefix) or not os.path.isdir(prefix):
        return []
    stale = sorted(glob.glob(os.path.join(glob.escape(prefix), "*-luigi-tmp-*")))
    for path in stale:
        os.remove(path)
    return stale


def list_files(folder: str, suffix: str) -> list[str]:
    """The files of ``folder`` whose names end with ``suffix``, sorted; [] when it has none or does
    not exist (one LIST on S3, where a prefix with no keys is simply empty)."""
    if is_s3(folder):
        return sorted(p for p in s3_client().listdir(folder) if p.endswith(suffix))
    return sorted(glob.glob(os.path.join(glob.escape(folder), f"*{suffix}")))


def target(path: str):
    if is_s3(path):
        return S3Target(path, format=luigi.format.Nop, client=s3_client())
    return luigi.LocalTarget(path, format=luigi.format.Nop)


def read_bytes(path: str) -> bytes:
    if is_s3(path):
        return s3_client().get_as_bytes(path)
    with open(path, "rb") as fh:
        return fh.read()
