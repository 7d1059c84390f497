"""The enrichment journal: every Spotify answer of a partition, appended as it arrives.

A run reads the journal first and answers every request it holds from there, so a run cut short
(quota, crash, ``kill -9``) resumes without paying again for anything it already got. It also
keeps the evidence (raw candidates per query) so matching can be re-tuned offline.

Layout: ``<staging root>/spotify/A/B/journal/<run id>[-<segment>].jsonl``, one JSON object per
line: ``{"kind": "search"|"track"|"artist"|"audio_features"|"capability", "key": …, …}``.

* Local staging: each run appends to its own file and flushes after every answer, so a killed
  process loses nothing it was answered. (A power cut can still lose what the OS had not
  written; those requests are then made again, never wrongly reused.)
* S3 staging: S3 has no append. Answers are uploaded in segments of ``segment_size`` answers
  (and whatever is pending when the run stops, fails or runs out of quota). A ``kill -9`` loses
  at most the answers of the segment in progress; ``segment_size = 1`` makes that zero at one
  PUT per answer.

A line cut off by a kill is skipped on reading; it is the only line that can be incomplete.
"""

from __future__ import annotations

import glob
import logging
import os
import secrets
from datetime import UTC, datetime

import orjson

from pipeline import staging

logger = logging.getLogger(__name__)

JOURNAL_DIR = "journal"


def new_run_id() -> str:
    return f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{os.getpid()}-{secrets.token_hex(2)}"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Journal:
    def __init__(self, partition_prefix: str, run_id: str | None = None, segment_size: int = 50):
        self.folder = f"{partition_prefix}/{JOURNAL_DIR}"
        self.run_id = run_id or new_run_id()
        self.segment_size = max(1, segment_size)
        self.entries: dict[tuple[str, str], dict] = {}
        self.loaded_entries = 0
        self.skipped_lines = 0
        self._pending: list[bytes] = []
        self._segment = 0
        self._local_file = None

    # --- reading -----------------------------------------------------------------------

    def load(self) -> Journal:
        for path in self._journal_files():
            for line in self._read(path).splitlines():
                if not line.strip():
                    continue
                try:
                    entry = orjson.loads(line)
                except orjson.JSONDecodeError:
                    self.skipped_lines += 1  # the tail of a write cut off by a kill
                    continue
                self.entries[(entry["kind"], entry["key"])] = entry
        self.loaded_entries = len(self.entries)
        if self.skipped_lines:
            logger.warning("journal %s: skipped %d incomplete line(s) left by an interrupted run",
                           self.folder, self.skipped_lines)
        return self

    def _journal_files(self) -> list[str]:
        if staging.is_s3(self.folder):
            client = staging.s3_client()
            return sorted(p for p in client.listdir(self.folder) if p.endswith(".jsonl"))
        return sorted(glob.glob(os.path.join(glob.escape(self.folder), "*.jsonl")))

    @staticmethod
    def _read(path: str) -> bytes:
        if staging.is_s3(path):
            return staging.s3_client().get_as_bytes(path)
        with open(path, "rb") as fh:
            return fh.read()

    def get(self, kind: str, key: str) -> dict | None:
        return self.entries.get((kind, key))

    def of_kind(self, kind: str) -> list[dict]:
        return [e for (k, _), e in self.entries.items() if k == kind]

    # --- writing -----------------------------------------------------------------------

    def record(self, kind: str, key: str, **payload) -> dict:
        entry = {"kind": kind, "key": key, "at": utc_now(), "run_id": self.run_id, **payload}
        self.entries[(kind, key)] = entry
        line = orjson.dumps(entry, option=orjson.OPT_APPEND_NEWLINE)
        if staging.is_s3(self.folder):
            self._pending.append(line)
            if len(self._pending) >= self.segment_size:
                self.flush()
        else:
            if self._local_file is None:
                os.makedirs(self.folder, exist_ok=True)
                self._local_file = open(os.path.join(self.folder, f"{self.run_id}.jsonl"), "ab")  # noqa: SIM115
            self._local_file.write(line)
            self._local_file.flush()
        return entry

    def flush(self) -> None:
        if self._pending:
            path = f"{self.folder}/{self.run_id}-{self._segment:06d}.jsonl"
            staging.s3_client().put_string(b"".join(self._pending), path)
            self._pending = []
            self._segment += 1

    def close(self) -> None:
        self.flush()
        if self._local_file is not None:
            self._local_file.close()
            self._local_file = None
