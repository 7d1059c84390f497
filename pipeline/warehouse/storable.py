"""Whether a value can be stored in its warehouse column on every backend, said before a load would fail on it.

PostgreSQL and Redshift refuse a NUL character in text and JSON (``invalid byte sequence for encoding
"UTF8": 0x00``) and a string longer than its ``VARCHAR(n)``; one such value fails a whole partition's
load, on every rerun. DuckDB would take both, so a warehouse moved from DuckDB to PostgreSQL would
meet them late. Checked once, the same way for every backend: lengths in UTF-8 bytes, as Redshift
counts them (PostgreSQL counts characters, never more than the bytes).
"""

from __future__ import annotations

import re

import orjson

from pipeline.warehouse.table import Column

_VARCHAR = re.compile(r"VARCHAR\((\d+)\)", re.IGNORECASE)


def _holds_nul(value, column: Column) -> bool:
    if column.is_json:
        return b"\\u0000" in orjson.dumps(value)
    return type(value) is str and "\x00" in value


def _byte_limit(column: Column) -> int | None:
    """A text column's length in bytes (``VARCHAR(n)``), None for any other type."""
    match = _VARCHAR.fullmatch(column.type.strip())
    return int(match[1]) if match else None


def why_not(value, column: Column) -> str | None:
    """Why ``value`` cannot be stored in ``column`` (one phrase naming the column), or None when it can."""
    if value is None:
        return None
    if _holds_nul(value, column):
        return f"{column.name} holds a NUL character (U+0000), which PostgreSQL and Redshift cannot store"
    limit = _byte_limit(column)
    if limit is None or type(value) is not str:
        return None
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        return f"{column.name} is not valid UTF-8"
    if size > limit:
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"{column.name} {shown!r} is {size} bytes, longer than its warehouse column ({column.type})"
    return None


class RecordCheck:
    """Checks records against the columns of the tables they are loaded into.

    ``fields`` maps a record's field to its column; ``lists`` maps a field holding a list to the
    column each entry is loaded into (an artist's terms, one row per term)."""

    def __init__(self, fields: dict[str, Column], lists: dict[str, Column] | None = None):
        self.fields, self.lists = fields, lists or {}

    def why_not(self, record: dict) -> str | None:
        """The first reason the record cannot be stored, or None."""
        for name, column in self.fields.items():
            reason = why_not(record.get(name), column)
            if reason is not None:
                return reason
        for name, column in self.lists.items():
            for entry in record.get(name) or ():
                reason = why_not(entry, column)
                if reason is not None:
                    return f"{name}: {reason}"
        return None


def fitted(value, column: Column) -> tuple[object, str | None]:
    """``value`` made storable where that keeps its meaning, and what was done (None: nothing): NUL characters
    removed (in text, and in the strings of a JSON value); text longer than its ``VARCHAR(n)`` cut at the last
    whole character within ``n`` bytes. Raises ``UnicodeEncodeError`` for what cannot be mended (invalid UTF-8)."""
    if value is None:
        return None, None
    done = []
    if _holds_nul(value, column):
        value = _without_nul(value)
        done.append("NUL characters removed")
    limit = _byte_limit(column)
    if limit is not None and type(value) is str:
        encoded = value.encode("utf-8")
        if len(encoded) > limit:
            value = encoded[:limit].decode("utf-8", errors="ignore")
            done.append(f"cut to {column.type}")
    return value, "; ".join(done) or None


def _without_nul(value):
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    if isinstance(value, dict):
        return {k: _without_nul(v) for k, v in value.items()}
    return value
