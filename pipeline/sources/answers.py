"""The answer store: every answer a source gave, one object per request, shared by all partitions.

``<answers root>/<source>/<kind>/<h[:2]>/<h>.json`` (``[answers] root``; by default ``answers`` beside the
staging root, so ``data/answers``) where ``h`` is the SHA-256 of the
request's key (``search`` + the query, ``track`` + an id, ``capability`` + a name …). A search
answered for ``A/A`` is not asked again for ``B/B``; the same (artist, title) in two partitions is
one request; an interrupted run resumes without repeating one.

Why one object per answer, not an append-only log per run or partition:

* every answer is durable the moment it arrives, on S3 too (no append there; a segmented log
  loses the segment in progress on ``kill -9``);
* a task reads only the answers it needs (a GET or an open per request), never the whole store,
  which for the full MSD is gigabytes;
* several workers and processes, on one machine or many, write at once without a lock: each
  object is written whole (a temporary file renamed into place locally, one PUT on S3), two
  writers of one key write the same request's answer, and different keys never touch.

Paid-for answers are never deleted implicitly: ``make forget-answers SOURCE=<name>`` removes them by
name. Answers kept by earlier versions, in the staging root's ``answers/`` or in per-partition
journals (``<stage>/A/B/journal/``), are read as a fallback and copied into the store when used.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import signal
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import orjson
from botocore.exceptions import ClientError

from pipeline import staging

logger = logging.getLogger(__name__)

ANSWERS_DIR = "answers"
# What every task run sent, one small file per run and task, kept beside the answers they bought.
LEDGER_DIR = "_ledger"
# What an app may see is re-discovered when its record is older than this (an app can be upgraded).
CAPABILITY_MAX_AGE = timedelta(hours=24)


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def precise_now() -> str:
    """``utc_now`` to the millisecond: a ledger line's asking time (``started`` … ``until``)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_run_id() -> str:
    return f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{os.getpid()}-{secrets.token_hex(2)}"


def answers_root() -> str:
    from pipeline import config

    return config.answers().root.rstrip("/")


def store_folder(source: str, root: str | None = None) -> str:
    """``<answers root>/<source>`` (``[answers] root``)."""
    return f"{(root or answers_root()).rstrip('/')}/{source}"


def staged_store_folder(source: str) -> str:
    """Where versions before ``[answers] root`` kept a source's answers: ``<staging root>/answers/<source>``."""
    return f"{staging.root().rstrip('/')}/{ANSWERS_DIR}/{source}"


def ledger_folders(source: str) -> list[str]:
    """Every folder holding the source's request ledger: the answer store's, and the staging root's of earlier versions."""
    folders = [f"{store_folder(source)}/{LEDGER_DIR}"]
    legacy = f"{staged_store_folder(source)}/{LEDGER_DIR}"
    return folders if legacy == folders[0] else [*folders, legacy]


class AnswerStore:
    """Answers of one source under one staging root. ``fallback`` holds older answers (legacy
    per-partition journals) consulted when the store has none."""

    def __init__(self, folder: str, run_id: str | None = None, fallback: dict[tuple[str, str], dict] | None = None,
                 earlier_folder: str | None = None):
        self.folder = folder.rstrip("/")
        # A store an earlier version kept elsewhere (under the staging root): read when this one has no
        # answer, and the answer copied here, never moved.
        self.earlier_folder = earlier_folder.rstrip("/") if earlier_folder and earlier_folder.rstrip("/") != self.folder else None
        self.run_id = run_id or new_run_id()
        self.fallback = fallback or {}
        self._memory: dict[tuple[str, str], dict | None] = {}
        self.found = 0  # answers read from the store (or the fallback) instead of asked
        self.written = 0

    def path(self, kind: str, key: str, folder: str | None = None) -> str:
        digest = hashlib.sha256(f"{kind}\n{key}".encode()).hexdigest()
        return f"{folder or self.folder}/{kind}/{digest[:2]}/{digest}.json"

    # --- reading -----------------------------------------------------------------------

    def get(self, kind: str, key: str) -> dict | None:
        if (kind, key) not in self._memory:
            entry = self._read(kind, key)
            if entry is None and self.earlier_folder is not None:
                entry = self._read(kind, key, self.earlier_folder)
                if entry is not None:
                    entry = self._write(entry)  # copied, never moved
            if entry is None and (kind, key) in self.fallback:
                entry = self._write(self.fallback[(kind, key)])  # copied, never moved
            self._memory[(kind, key)] = entry
        entry = self._memory[(kind, key)]
        if entry is not None:
            self.found += 1
        return entry

    def capability(self, name: str) -> dict | None:
        """A recent capability record, or None when it must be discovered (again)."""
        entry = self.get("capability", name)
        if entry is None:
            return None
        try:
            at = datetime.fromisoformat(entry["at"].replace("Z", "+00:00"))
        except (KeyError, ValueError):
            return None
        return entry if datetime.now(UTC) - at <= CAPABILITY_MAX_AGE else None

    def capabilities(self, names) -> dict[str, dict]:
        """Each capability's recent record as ``{available, reason}``; unknown ones "not needed in this run"."""
        out = {}
        for name in names:
            entry = self.capability(name)
            out[name] = ({"available": entry["available"], "reason": entry["reason"]} if entry is not None
                         else {"available": None, "reason": "not needed in this run"})
        return out

    def _read(self, kind: str, key: str, folder: str | None = None) -> dict | None:
        path = self.path(kind, key, folder)
        try:
            data = staging.read_bytes(path)
        except FileNotFoundError:
            return None
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        try:
            entry = orjson.loads(data)
        except orjson.JSONDecodeError:
            logger.warning("answer store: %s is not JSON; the request will be asked again", path)
            return None
        return entry if entry.get("kind") == kind and entry.get("key") == key else None

    # --- writing -----------------------------------------------------------------------

    def record(self, kind: str, key: str, **payload) -> dict:
        entry = {"kind": kind, "key": key, "at": utc_now(), "run_id": self.run_id, **payload}
        self._memory[(kind, key)] = self._write(entry)
        return entry

    def _write(self, entry: dict) -> dict:
        path = self.path(entry["kind"], entry["key"])
        data = orjson.dumps(entry)
        if staging.is_s3(path):
            staging.s3_client().put_string(data, path)
        else:
            folder = os.path.dirname(path)
            os.makedirs(folder, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                os.replace(tmp, path)  # whole or not at all: a reader never sees half an answer
            except BaseException:
                if os.path.exists(tmp):
                    os.remove(tmp)
                raise
        self.written += 1
        return entry


# Which command (the process the user started; forked task processes inherit it) sent what: the run
# summary shows this command's spend beside every command's.
COMMAND_ID = f"{socket.gethostname()}-{os.getpid()}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
# How often a task's line in the ledger is rewritten while it asks: a kill -9 loses at most this much of its count.
LEDGER_FLUSH_S = 5.0


def _ledger_path(source: str, task: str, run_id: str) -> str:
    return f"{store_folder(source)}/{LEDGER_DIR}/{COMMAND_ID}--{run_id}-{task}.json"


def record_spent(source: str, task: str, run_id: str, requests: dict) -> None:
    """Write one task run's requests to the source's ledger (also while it runs, and when it failed or
    stopped on the quota: what was sent was paid for); a later write of the same run replaces it."""
    if not requests.get("sent_total"):
        return
    staging.write_json(staging.target(_ledger_path(source, task, run_id)),
                       {"task": task, "run_id": run_id, "command": COMMAND_ID, "at": utc_now(), **requests})


@contextlib.contextmanager
def ledger_line(source: str, task: str, run_id: str, counts: Callable[[], dict]) -> Iterator[None]:
    """Keep a task's ledger line current while it asks: rewritten every ``LEDGER_FLUSH_S`` when its count
    moved, at the end however the task ends (an exception, Ctrl-C), and on SIGTERM before the process
    ends as SIGTERM ends it (what the parent command sends its task processes when it is stopped)."""
    # Re-entrant: SIGTERM's handler runs in the main thread, which may be inside a flush of its own already.
    lock = threading.RLock()
    written: list[int] = [0]
    started = precise_now()  # with ``until``, the time the task was asking: the report's observed pace

    def flush(wait_s: float = -1) -> None:
        if not lock.acquire(timeout=wait_s):
            return  # the flusher thread is stuck writing; SIGTERM does not wait for it
        try:
            now = _settled(counts)
            if now.get("sent_total", 0) != written[0]:
                record_spent(source, task, run_id, {**now, "started": started, "until": precise_now()})
                written[0] = now.get("sent_total", 0)
        finally:
            lock.release()

    stop = threading.Event()

    def keep_flushing() -> None:
        while not stop.wait(LEDGER_FLUSH_S):
            try:
                flush()
            except Exception as exc:  # noqa: BLE001 - the next flush, or the last one, tries again
                logger.warning("ledger of %s: could not write %s's count yet: %s", source, task, exc)

    flusher = threading.Thread(target=keep_flushing, name=f"ledger {task}", daemon=True)
    flusher.start()
    restore = _flush_on_sigterm(flush)
    try:
        yield
    finally:
        stop.set()
        flusher.join()
        restore()
        flush()


def _settled(counts: Callable[[], dict]) -> dict:
    # The counters grow in the thread that asks while this one copies them: copy again if one grew mid-copy.
    for _ in range(10):
        try:
            return counts()
        except RuntimeError:
            continue
    return counts()


def _flush_on_sigterm(flush: Callable[..., None]) -> Callable[[], None]:
    """SIGTERM writes the ledger line, then ends the process as SIGTERM would have; returns what restores
    the handler before. Only the main thread may set handlers (a task run by a thread keeps its periodic flush)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum, frame):
        try:
            flush(wait_s=5.0)
        finally:
            signal.signal(signal.SIGTERM, previous)
            if callable(previous):
                previous(signum, frame)
            else:
                os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_sigterm)
    return lambda: signal.signal(signal.SIGTERM, previous)


def total_spent(source: str, command: str | None = None) -> dict:
    """Requests sent over every command (for the answer store the settings name, and the staging root's of
    earlier versions): ``sent_total``, ``runs``, ``rate_limited``, ``by_day`` (UTC date → requests sent that
    day), ``this_command``: what the command ``command`` (default: this one) sent, and the pace it was sent at:
    ``asking_s``, the seconds in which at least one task was asking (lines that say when they started), and
    ``timed_sent``, what those lines sent."""
    command = command or COMMAND_ID
    totals = {"sent_total": 0, "rate_limited": 0, "runs": 0, "by_day": {}, "this_command": 0, "asking_s": 0.0,
              "timed_sent": 0}
    spans = []
    for path in (p for folder in ledger_folders(source) for p in staging.list_files(folder, ".json")):
        entry = orjson.loads(staging.read_bytes(path))
        totals["sent_total"] += entry.get("sent_total", 0)
        totals["rate_limited"] += entry.get("rate_limited", 0)
        totals["runs"] += 1
        if entry.get("command") == command:
            totals["this_command"] += entry.get("sent_total", 0)
        day = entry.get("at", "")[:10]
        totals["by_day"][day] = totals["by_day"].get(day, 0) + entry.get("sent_total", 0)
        span = _span(entry)
        if span:
            spans.append(span)
            totals["timed_sent"] += entry.get("sent_total", 0)
    totals["by_day"] = dict(sorted(totals["by_day"].items()))
    totals["asking_s"] = _covered_s(spans)
    return totals


def _span(entry: dict) -> tuple[datetime, datetime] | None:
    """When a ledger line's task started asking and when it last wrote its count; None for lines of earlier
    versions (no ``started``) or unreadable times."""
    try:
        start, end = (datetime.fromisoformat(entry[k].replace("Z", "+00:00")) for k in ("started", "until"))
    except (KeyError, TypeError, ValueError):
        return None
    return (start, end) if end >= start else None


def _covered_s(spans: list[tuple[datetime, datetime]]) -> float:
    """Seconds covered by the union of the spans: tasks asking at once count their shared seconds once."""
    covered, reach = 0.0, None
    for start, end in sorted(spans):
        if reach is None or start > reach:
            covered += (end - start).total_seconds()
            reach = end
        elif end > reach:
            covered += (end - reach).total_seconds()
            reach = end
    return covered
