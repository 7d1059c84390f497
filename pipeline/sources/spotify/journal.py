"""Answers kept by earlier versions: one journal per partition, read as the answer store's fallback.

Until matcher version 3 every Spotify answer of a partition was appended to
``<staging root>/spotify/A/B/journal/<run id>[-<segment>].jsonl`` (one JSON object per line,
``{"kind", "key", …}``). Those answers were paid for: the answer store (pipeline/sources/answers.py)
reads them when it has no answer of its own and copies each one it uses. Nothing writes here
any more and nothing deletes it implicitly (``make forget-answers SOURCE=spotify`` does, by name).
"""

from __future__ import annotations

import logging

import orjson

from pipeline import staging

logger = logging.getLogger(__name__)

JOURNAL_DIR = "journal"


def read_legacy_journal(partition_prefix: str) -> dict[tuple[str, str], dict]:
    """(kind, key) → entry for every complete line of a partition's old journal; {} when it has none."""
    folder = f"{partition_prefix}/{JOURNAL_DIR}"
    entries: dict[tuple[str, str], dict] = {}
    skipped = 0
    for path in staging.list_files(folder, ".jsonl"):
        for line in staging.read_bytes(path).splitlines():
            if not line.strip():
                continue
            try:
                entry = orjson.loads(line)
            except orjson.JSONDecodeError:
                skipped += 1  # the tail of a write cut off by a kill
                continue
            entries[(entry["kind"], entry["key"])] = entry
    if skipped:
        logger.warning("journal %s: skipped %d incomplete line(s) left by an interrupted run", folder, skipped)
    return entries
