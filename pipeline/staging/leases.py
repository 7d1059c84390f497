"""Leases: one payer per (source, stage, partition) across processes and machines that share a staging root.

luigid already runs each task once across every worker connected to it. Two commands that do not share
one (two ``python -m pipeline run`` on the default local scheduler, a cron job and a hand-started run)
would each run the same stage and each buy its answers (and two extractions of one partition would remove
each other's files in progress). Before a stage asks its source anything, or extracts, it takes
the stage's lease, ``<staging root>/_leases/<task>/A/B.json``; a second command that meets a held lease
says who holds it and waits, then finds the stage done (or, if the holder failed, runs it answered from
the store the holder filled).

* **Local staging**: an ``flock`` on the lease file. The kernel frees it when the holder exits, however it
  exits (``kill -9`` included), so no expiry is needed; the file keeps who holds it, for the message.
* **S3 staging**: a conditional write. The lease object is created with ``If-None-Match: *`` (one creator
  wins), kept alive by a heartbeat thread that rewrites it with ``If-Match: <its ETag>`` every
  ``ttl_s / 3``, and deleted with ``If-Match`` at the end. A holder that crashed stops beating: a waiter
  that sees the same ETag for ``ttl_s`` by its own clock (no clock is compared across machines) takes
  the lease over with ``If-Match`` on that ETag, so of two waiters only one can.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import orjson
from botocore.exceptions import ClientError

from pipeline.errors import TerminalError
from pipeline.staging.paths import is_s3, root, s3_client, split_s3_path

logger = logging.getLogger("luigi-interface")

LEASE_DIR = "_leases"
TTL_S = 60.0  # a lease on S3 not renewed for this long is free
POLL_S = 1.0  # how often a waiter looks again
SAY_AGAIN_S = 60.0  # how often a waiter says it still waits


def lease_path(name: str, staging_root: str | None = None) -> str:
    """``<staging root>/_leases/<name>.json``; ``name`` is the task's (``DeezerEnrich/A/B``)."""
    return f"{(staging_root or root()).rstrip('/')}/{LEASE_DIR}/{name}.json"


def _holder(what: str) -> dict:
    return {"what": what, "host": socket.gethostname(), "pid": os.getpid(),
            "since": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")}


def describe(holder: dict | None) -> str:
    if not holder:
        return "another process"
    return f"pid {holder.get('pid')} on {holder.get('host')} (since {holder.get('since')})"


class Lease:
    """A held lease; ``release()`` frees it (idempotent). ``waited``: another command held it first, so what
    it was waited for may be done by now."""

    waited = False

    def release(self) -> None:
        raise NotImplementedError


class _LocalLease(Lease):
    def __init__(self, fh):
        self._fh = fh

    def release(self) -> None:
        if self._fh is not None:
            fh, self._fh = self._fh, None
            fh.close()  # closing the file drops the flock


class _S3Lease(Lease):
    def __init__(self, path: str, etag: str, holder: dict, ttl_s: float):
        self.path, self._etag, self._holder, self._ttl_s = path, etag, holder, ttl_s
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._beat, name=f"lease {path}", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        bucket, key = split_s3_path(self.path)
        client = s3_client().s3.meta.client
        while not self._stop.wait(self._ttl_s / 3):
            with self._lock:
                if self._stop.is_set():
                    return
                # A new body each time: the ETag is the body's MD5, and a waiter sees a live holder by its ETag moving.
                self._holder["renewals"] = self._holder.get("renewals", 0) + 1
                try:
                    answer = client.put_object(Bucket=bucket, Key=key, Body=orjson.dumps(self._holder), IfMatch=self._etag)
                    self._etag = answer["ETag"]
                except ClientError as exc:
                    if _code(exc) in ("PreconditionFailed", "412", "NoSuchKey", "404"):
                        logger.error("the lease %s was taken over (this process did not renew it for %.0f s); "
                                     "its answers are stored, nothing is lost", self.path, self._ttl_s)
                        return
                    logger.warning("could not renew the lease %s: %s", self.path, exc)

    def release(self) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            self._stop.set()
        bucket, key = split_s3_path(self.path)
        try:
            s3_client().s3.meta.client.delete_object(Bucket=bucket, Key=key, IfMatch=self._etag)
        except ClientError as exc:
            if _code(exc) not in ("PreconditionFailed", "412", "NoSuchKey", "404"):
                raise
            if _code(exc) in ("PreconditionFailed", "412"):
                logger.warning("the lease %s was not released (another process holds it now, or the store did not "
                               "honour If-Match); a command waiting for it takes it over after %.0f s", self.path,
                               self._ttl_s)


class LeaseError(TerminalError):
    def __init__(self, path: str, etag: str):
        super().__init__(f"the S3 store refused three times to replace the lease {path} by its own ETag {etag}: it does "
                         f"not honour conditional writes (If-Match, If-None-Match), which leases need (AWS S3 has them "
                         f"since 2024). Use a store that does, or [staging] root on a local or network folder.")


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


# Leases this process holds, by path: a task run again in the same process (a task's run() called twice
# by a script, a failure Luigi never reported) takes over its own lease instead of waiting on itself.
_held: dict[str, tuple[int, Lease]] = {}


def acquire(path: str, what: str, ttl_s: float = TTL_S, poll_s: float = POLL_S,
            sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> Lease:
    """Take the lease at ``path`` for ``what`` (a task, as people read it), waiting while another holds it."""
    mine = _held.pop(path, None)
    if mine is not None and mine[0] == os.getpid():
        mine[1].release()
    lease = (_acquire_s3 if is_s3(path) else _acquire_local)(path, what, ttl_s, poll_s, sleep, clock)
    _held[path] = (os.getpid(), lease)
    return lease


def _acquire_local(path, what, ttl_s, poll_s, sleep, clock) -> Lease:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    waiting = _Waiting(what, path, clock)
    while True:
        fh = open(path, "a+b")  # noqa: SIM115 - held open while the lease is: closing it frees the lock
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = _parse(fh.read())
            fh.close()
            waiting.on(holder)
            sleep(poll_s)
            continue
        fh.seek(0)
        fh.truncate()
        fh.write(orjson.dumps(_holder(what)))
        fh.flush()
        return waiting.over(_LocalLease(fh))


def _acquire_s3(path, what, ttl_s, poll_s, sleep, clock) -> Lease:
    bucket, key = split_s3_path(path)
    client = s3_client().s3.meta.client
    holder = _holder(what)
    seen_etag, seen_since = None, None  # the held lease's ETag and when this process first saw it
    waiting = _Waiting(what, path, clock)
    refused: dict[str, int] = {}  # takeovers refused, by the ETag they named
    while True:
        try:
            answer = client.put_object(Bucket=bucket, Key=key, Body=orjson.dumps(holder), IfNoneMatch="*")
            return waiting.over(_S3Lease(path, answer["ETag"], holder, ttl_s))
        except ClientError as exc:
            if _code(exc) not in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409"):
                raise
        try:
            current = client.get_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in ("NoSuchKey", "404"):
                continue  # released between the two requests
            raise
        etag, held_by = current["ETag"], _parse(current["Body"].read())
        now = clock()
        if etag != seen_etag:
            seen_etag, seen_since = etag, now
        elif now - seen_since >= ttl_s:  # not renewed for a whole ttl: its holder is gone
            try:
                answer = client.put_object(Bucket=bucket, Key=key, Body=orjson.dumps(holder), IfMatch=etag)
                logger.warning("%s: took over the lease of %s, not renewed for %.0f s", what, describe(held_by), ttl_s)
                return waiting.over(_S3Lease(path, answer["ETag"], holder, ttl_s))
            except ClientError as exc:
                if _code(exc) not in ("PreconditionFailed", "412", "NoSuchKey", "404", "ConditionalRequestConflict", "409"):
                    raise
                refused[etag] = refused.get(etag, 0) + 1
                if refused[etag] >= 3:  # the same ETag it just gave out, refused each time: conditions not honoured
                    raise LeaseError(path, etag) from None
                continue  # another waiter took it first
        waiting.on(held_by)
        sleep(poll_s)


def _parse(data: bytes) -> dict | None:
    try:
        return orjson.loads(data) if data else None
    except orjson.JSONDecodeError:
        return None


class _Waiting:
    """What a waiter says: who holds the lease when it starts waiting, again every ``SAY_AGAIN_S``, and that it
    goes on once the lease is its own."""

    def __init__(self, what: str, path: str, clock: Callable[[], float]):
        self.what, self.path, self.clock = what, path, clock
        self.since = self.said_at = None

    def on(self, holder: dict | None) -> None:
        now = self.clock()
        if self.since is None:
            self.since = self.said_at = now
            logger.warning("%s is being run by another command: %s holds %s. Waiting for it, then this command uses "
                           "what it stored instead of asking again.", self.what, describe(holder), self.path)
        elif now - self.said_at >= SAY_AGAIN_S:
            self.said_at = now
            logger.warning("%s: still waiting for %s (%.0f s so far)", self.what, describe(holder), now - self.since)

    def over(self, lease: Lease) -> Lease:
        if self.since is not None:
            lease.waited = True
            logger.info("%s: the lease is free; going on (answers the other command stored are not asked again)",
                        self.what)
        return lease
