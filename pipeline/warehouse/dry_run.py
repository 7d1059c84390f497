"""A backend that sends nothing: it records every statement a load would run and answers the
counts a healthy load would see. ``python -m pipeline run --dry-run`` prints what it recorded;
tests use it to check the Redshift SQL, which no local server can run."""

from __future__ import annotations

import contextlib
import re

from pipeline.warehouse.backends import Backend, DuckDBBackend, PostgresBackend, RedshiftBackend
from pipeline.warehouse.schema import Table


def top_level_subqueries(sql: str) -> list[str]:
    """``SELECT (q1), (q2), …`` → [q1, q2, …] (the load's checks come back in one query)."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(sql):
        if char == "(":
            depth += 1
            if depth == 1:
                start = i + 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                parts.append(sql[start:i])
    return parts


class _Recording:
    expected: dict[str, int]

    def _execute(self, sql: str) -> None:
        pass

    def query(self, sql: str) -> list[tuple]:
        self.statements.append(sql)
        parts = top_level_subqueries(sql) if sql.startswith("SELECT (") else [sql]
        return [tuple(self._count(part) for part in parts)]

    def _count(self, sql: str) -> int:
        # The "rows loaded" counts (pipeline/warehouse/load.py check): ``… WHERE <where> AND load_id = '…'``.
        loaded = re.fullmatch(r"SELECT count\(\*\) FROM (\w+) WHERE (?:.* AND )?load_id = '[^']+'", sql)
        return self.expected.get(loaded.group(1), 0) if loaded else 0

    @contextlib.contextmanager
    def transaction(self):
        yield

    @contextlib.contextmanager
    def autocommit(self):
        yield

    def close(self) -> None:
        pass

    # Staged files are named, not read.
    def _copy(self, into, columns, path, load_id=None, key=()):
        self.statements.append(f"COPY {into} ({', '.join(c.name for c in columns)}"
                               f"{', load_id' if load_id else ''}) FROM STDIN  -- rows of {path}")
        return 0

    def _insert_from_file(self, into: str, table: Table, path: str, load_id: str | None = None) -> None:
        self.statements.append(f"INSERT INTO {into} SELECT … FROM read_json('{path}', …)")


def recording(backend: Backend, expected: dict[str, int]) -> Backend:
    """The same backend (same dialect, same SQL) with nothing sent anywhere."""
    for cls in (RedshiftBackend, PostgresBackend, DuckDBBackend):
        if isinstance(backend, cls):
            recorder = type(f"Recording{cls.__name__}", (_Recording, cls), {})
            twin = recorder.__new__(recorder)
            twin.__dict__.update(backend.__dict__)
            twin.statements, twin.duplicates_in_load, twin.expected = [], {}, expected
            return twin
    raise TypeError(f"no recording twin for {type(backend).__name__}")
