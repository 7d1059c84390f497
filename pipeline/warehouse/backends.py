"""Warehouse backends selected by ``[warehouse] url``: DuckDB (embedded default), PostgreSQL, Redshift.

Each backend does three things its own way: connect, open one transaction, and fill a
temporary ``stage_<table>`` from a staged gzipped JSON Lines file. Everything else (deletes,
inserts, merges, checks, markers) is the same SQL for all three (pipeline/warehouse/load.py).

* ``duckdb:///data/warehouse.duckdb``: ``read_json`` reads the staged file directly (S3 staging
  is downloaded to a temporary file first: the httpfs extension would need the internet).
  DuckDB allows one writing process per file: LoadPartition declares the ``duckdb_warehouse``
  Luigi resource (luigi.cfg ``[resources]``) so several workers take turns.
* ``postgresql://user@host:5432/db``: ``COPY … FROM STDIN`` in PostgreSQL's text format, never
  row-by-row INSERT, handed over in blocks of rows (``CopyText``) so the server inserts one block
  while the next is encoded; a transaction-scoped advisory lock serialises concurrent loads so two
  workers never merge the same dimension key at once. Password: ``PGPASSWORD`` or ``~/.pgpass``.
* ``redshift://user@cluster:5439/db``: ``COPY … FROM 's3://…' IAM_ROLE … FORMAT AS JSON 'auto'
  GZIP`` from the staging bucket (staging must be on S3); ``LOCK`` on the tables instead of the
  advisory lock; no TRUNCATE (it would commit the transaction).
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import os
import re
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import orjson

from pipeline import config, staging
from pipeline.errors import TerminalError, TransientError
from pipeline.redaction import redact_text, redact_url
from pipeline.warehouse import schema
from pipeline.warehouse.copy_text import CopyText
from pipeline.warehouse.schema import DUCKDB, POSTGRESQL, REDSHIFT, Column, Table

logger = logging.getLogger(__name__)

# Any constant works: every Music ETL load takes the same lock, so loads run one at a time.
ADVISORY_LOCK_KEY = 0x4D5345544C  # "MSETL"


class WarehouseConfigError(TerminalError):
    pass


class WarehouseSessionLostError(TransientError):
    def __init__(self, url: str, cause: BaseException):
        reason = redact_text((str(cause).strip().splitlines() or [type(cause).__name__])[0], url)
        super().__init__(
            f"the warehouse at {redact(url)} ended the session during a transaction ({reason}); nothing of it was "
            f"committed. Rerun; if it happens again, the server's log says why it ended the session.")


class StagedFileError(TerminalError):
    def __init__(self, partition: str, path: str, reason: str):
        self.partition, self.path = partition, path
        super().__init__(
            f"partition {partition}: staged file {path} cannot be read ({reason}); nothing was loaded. Restage it with "
            f"`python -m pipeline rerun {partition} --force` (its answers are kept).")


def redact(url: str) -> str:
    """The URL without its password (userinfo, ``?password=``, any secret-named parameter), for logs and
    errors: pipeline/redaction.py says how."""
    return redact_url(url)


def literal(value: str) -> str:
    """A SQL string literal for the pipeline's own values (partition names, load ids)."""
    return "'" + str(value).replace("'", "''") + "'"


class Backend:
    # Errors that mean a staged file itself cannot be read (truncated gzip, broken JSON), as opposed
    # to the warehouse failing: the load names the file and how to restage it.
    @staticmethod
    def unreadable_file_errors() -> tuple[type[BaseException], ...]:
        return (EOFError, zlib.error, gzip.BadGzipFile, orjson.JSONDecodeError)

    dialect: str

    def __init__(self, url: str):
        self.url = url
        self.statements: list[str] = []  # every statement run, for dry runs and tests
        # table → rows repeating a key within one load, where the backend counted them client-side
        self.duplicates_in_load: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({redact(self.url)!r})"

    # --- connection and transaction --------------------------------------------------------

    def execute(self, sql: str) -> None:
        self.statements.append(sql)
        self._execute(sql)

    def scalar(self, sql: str):
        rows = self.query(sql)
        return rows[0][0] if rows else None

    def query(self, sql: str) -> list[tuple]:
        raise NotImplementedError

    def stream(self, sql: str, batch_rows: int = 50_000) -> Iterator[list[tuple]]:
        """The rows of ``sql`` in batches, never all in memory at once (exports of whole tables)."""
        raise NotImplementedError
        yield

    def _execute(self, sql: str) -> None:
        raise NotImplementedError

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        raise NotImplementedError
        yield

    def close(self) -> None:
        pass

    def ensure_schema(self) -> None:
        with self.transaction():
            # Two workers creating the tables at once collide in PostgreSQL's catalog even with IF NOT EXISTS.
            self.lock_for_schema()
            for statement in schema.statements(self.dialect):
                self.execute(statement)

    def lock_for_schema(self) -> None:
        """Serialise schema creation between processes (no-op where the backend has one writer)."""

    def lock_for_load(self) -> None:
        """Serialise loads that share dimension keys (no-op where the backend has one writer)."""

    def maintenance_statements(self) -> list[str]:
        """Run after a set of loads, outside a transaction (see ``autocommit``)."""
        return []

    @contextlib.contextmanager
    def autocommit(self) -> Iterator[None]:
        yield

    # --- staging ---------------------------------------------------------------------------

    # PostgreSQL drops its stage tables at commit (ON COMMIT DROP); the others keep them for the session.
    temp_tables_outlive_transactions = True

    def stage_columns(self, table: Table) -> list[Column]:
        return [c for c in table.columns() if c.name != "load_id"]

    def create_stage_sql(self, table: Table) -> str:
        columns = ", ".join(f"{c.name} {schema.column_type(c, self.dialect)}" for c in self.stage_columns(table))
        return f"CREATE TEMP TABLE stage_{table.name} ({columns})"

    def fill_stage(self, table: Table, path: str) -> None:
        raise NotImplementedError

    # Whether a staged file can go straight into its table with the load id added (saves the
    # stage table for the big per-artist tables); Redshift's COPY cannot add a constant column.
    loads_directly = False

    def load_direct(self, table: Table, path: str, load_id: str) -> None:
        raise NotImplementedError


class WarehouseLockedError(TerminalError):
    def __init__(self, path: str, holder: int | None, waited_s: float):
        super().__init__(f"warehouse {path} is still locked by {_process(holder)} after {waited_s:.0f} s: DuckDB lets "
                         f"one process open the file. Close that program (a DuckDB shell, a notebook, another "
                         f"`python -m pipeline` command) and rerun.")


def lock_holder(message: str) -> int | None:
    """The PID DuckDB names in its lock error ("Conflicting lock is held in /usr/bin/python3 (PID 4242)")."""
    found = re.search(r"\(PID (\d+)\)", message)
    return int(found.group(1)) if found else None


def _process(pid: int | None) -> str:
    if pid is None:
        return "another process"
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            command = fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        command = ""
    return f"PID {pid}" + (f" ({redact_text(command)[:120]})" if command else "")


def _same_command(pid: int | None) -> bool:
    """Whether ``pid`` is a worker of this very command (Luigi forks them in its process group)."""
    if pid is None:
        return False
    try:
        return os.getpgid(pid) == os.getpgrp()
    except OSError:
        return False


def _say(line: str) -> None:
    logger.warning("%s", line)
    print(line, file=sys.stderr, flush=True)


class DuckDBBackend(Backend):
    @staticmethod
    def unreadable_file_errors() -> tuple[type[BaseException], ...]:
        import duckdb

        return (*Backend.unreadable_file_errors(), duckdb.IOException, duckdb.InvalidInputException)

    dialect = DUCKDB

    def __init__(self, url: str, lock_wait_s: float = 120.0):
        super().__init__(url)
        rest = url.removeprefix("duckdb://")
        # duckdb:///data/w.duckdb is relative to the working folder, duckdb:////srv/w.duckdb absolute
        self.path = rest[1:] if rest.startswith("/") else rest
        if not self.path:
            raise WarehouseConfigError(f"[warehouse] url `{redact(url)}` names no file; use duckdb:///data/warehouse.duckdb")
        self._con = None
        self._lock_wait_s = lock_wait_s

    @property
    def con(self):
        if self._con is None:
            import duckdb

            if os.path.dirname(self.path):
                os.makedirs(os.path.dirname(self.path), exist_ok=True)
            # One process may hold the file; another worker's load may have it for a moment.
            deadline = time.monotonic() + self._lock_wait_s
            said = False
            while True:
                try:
                    self._con = duckdb.connect(self.path)
                    break
                except duckdb.IOException as exc:
                    if "lock" not in str(exc).lower():
                        raise
                    holder = lock_holder(str(exc))
                    if time.monotonic() > deadline:
                        raise WarehouseLockedError(self.path, holder, self._lock_wait_s) from None
                    if not said and not _same_command(holder):
                        said = True  # the wait is said once, when it starts; a worker of this command is not news
                        _say(f"warehouse {self.path} is locked by {_process(holder)}: waiting up to "
                             f"{self._lock_wait_s:.0f} s for it to let go (close that program, or stop it, if it "
                             f"should not hold the file)")
                    time.sleep(0.2)
        return self._con

    def _execute(self, sql: str) -> None:
        self.con.execute(sql)

    def query(self, sql: str) -> list[tuple]:
        self.statements.append(sql)
        return self.con.execute(sql).fetchall()

    def stream(self, sql: str, batch_rows: int = 50_000) -> Iterator[list[tuple]]:
        self.statements.append(sql)
        result = self.con.execute(sql)
        while rows := result.fetchmany(batch_rows):
            yield rows

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def maintenance_statements(self) -> list[str]:
        return ["CHECKPOINT"]

    def _insert_from_file(self, into: str, table: Table, path: str, load_id: str | None = None) -> None:
        names = ", ".join(c.name for c in self.stage_columns(table))
        columns = "{" + ", ".join(f"'{c.name}': '{schema.column_type(c, DUCKDB)}'" for c in self.stage_columns(table)) + "}"
        stamp = ("", "") if load_id is None else (", load_id", f", {literal(load_id)}")
        with _local_copy(path) as local:
            self.execute(f"INSERT INTO {into} ({names}{stamp[0]}) SELECT {names}{stamp[1]} FROM read_json({literal(local)}, "
                         f"format = 'newline_delimited', compression = 'gzip', columns = {columns})")

    def fill_stage(self, table: Table, path: str) -> None:
        self._insert_from_file(f"stage_{table.name}", table, path)

    loads_directly = True

    def load_direct(self, table: Table, path: str, load_id: str) -> None:
        self._insert_from_file(table.name, table, path, load_id)


class PostgresBackend(Backend):
    dialect = POSTGRESQL

    def __init__(self, url: str):
        super().__init__(url)
        self._con = None

    def dsn(self) -> str:
        return self.url

    @property
    def con(self):
        if self._con is None:
            import psycopg2

            try:
                self._con = psycopg2.connect(self.dsn(), connect_timeout=10)
            except (psycopg2.OperationalError, psycopg2.ProgrammingError) as exc:  # unreachable; a DSN libpq refuses
                raise WarehouseConfigError(
                    f"cannot connect to the warehouse at {redact(self.url)}: {redact_text(str(exc).strip(), self.url)}. "
                    f"Check [warehouse] url (MUSIC_ETL_WAREHOUSE_URL) and that the server is up; "
                    f"the password comes from PGPASSWORD or ~/.pgpass") from None
        return self._con

    def _execute(self, sql: str) -> None:
        with self.con.cursor() as cur:
            cur.execute(sql)

    def query(self, sql: str) -> list[tuple]:
        self.statements.append(sql)
        with self.con.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()

    def stream(self, sql: str, batch_rows: int = 50_000) -> Iterator[list[tuple]]:
        self.statements.append(sql)
        # A named cursor is a server-side cursor: the server keeps the result and sends a batch at a time.
        with self.con.cursor(name=f"music_etl_stream_{len(self.statements)}") as cur:
            cur.itersize = batch_rows
            cur.execute(sql)
            while rows := cur.fetchmany(batch_rows):
                yield rows

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        import psycopg2

        con = self.con
        try:
            yield
        except BaseException as exc:
            if not con.closed:
                con.rollback()
                raise
            # The server ended the session: nothing was committed, and rollback cannot run.
            self._con = None
            if isinstance(exc, psycopg2.Error):
                raise WarehouseSessionLostError(self.url, exc) from None
            raise
        con.commit()

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def lock_for_load(self) -> None:
        self.execute(f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK_KEY})")

    @contextlib.contextmanager
    def autocommit(self) -> Iterator[None]:
        self.con.autocommit = True
        try:
            yield
        finally:
            self.con.autocommit = False

    def lock_for_schema(self) -> None:
        self.lock_for_load()

    temp_tables_outlive_transactions = False

    def create_stage_sql(self, table: Table) -> str:
        return super().create_stage_sql(table) + " ON COMMIT DROP"

    def _copy(self, into: str, columns: list[Column], path: str, load_id: str | None = None,
              key: tuple[str, ...] = ()) -> int:
        """COPY FROM STDIN in PostgreSQL's text format, the rows encoded here from the staged JSON;
        returns how many rows repeat an earlier row's ``key``."""
        with staging.target(path).open("r") as fh:
            lines = gzip.decompress(fh.read()).splitlines()
        rows = CopyText(lines, columns, load_id, key)
        names = ", ".join(c.name for c in columns) + (", load_id" if load_id is not None else "")
        sql = f"COPY {into} ({names}) FROM STDIN"
        self.statements.append(sql)
        with self.con.cursor() as cur:
            cur.copy_expert(sql, rows)
        return rows.duplicates

    def fill_stage(self, table: Table, path: str) -> None:
        self._copy(f"stage_{table.name}", self.stage_columns(table), path)

    loads_directly = True

    def load_direct(self, table: Table, path: str, load_id: str) -> None:
        # Counted while encoding: for these tables that is the whole duplicate check (see load.check).
        self.duplicates_in_load[table.name] = self._copy(table.name, self.stage_columns(table), path, load_id, table.key)


class RedshiftBackend(PostgresBackend):
    dialect = REDSHIFT

    def __init__(self, url: str, iam_role: str = "", region: str = ""):
        super().__init__(url)
        self.iam_role, self.region = iam_role, region

    def dsn(self) -> str:
        parts = urlsplit(self.url)
        return urlunsplit(parts._replace(scheme="postgresql", netloc=parts.netloc if parts.port else parts.netloc + ":5439"))

    def lock_for_load(self) -> None:
        # Redshift has no advisory locks; LOCK makes concurrent loads wait instead of failing
        # with a serializable-isolation violation at commit.
        self.execute("LOCK " + ", ".join([*schema.analytics_tables(), schema.MARKER_TABLE]))

    temp_tables_outlive_transactions = True

    def create_stage_sql(self, table: Table) -> str:
        return Backend.create_stage_sql(self, table)

    def lock_for_schema(self) -> None:
        pass  # no advisory locks: WarehouseSchema creates the tables once, before any load

    def maintenance_statements(self) -> list[str]:
        # Deletes leave Redshift's sort order and space behind; VACUUM restores them, ANALYZE the planner's statistics.
        return ["VACUUM", "ANALYZE"]

    loads_directly = False

    def copy_sql(self, table: Table, path: str) -> str:
        if not staging.is_s3(path):
            raise WarehouseConfigError(
                f"Redshift loads with COPY from S3, but `{path}` is local: set [staging] root to s3://bucket/prefix")
        if not re.fullmatch(r"arn:aws[\w-]*:iam::\d{12}:role/[\w+=,.@/-]+", self.iam_role or ""):
            raise WarehouseConfigError(
                f"[redshift] iam_role `{self.iam_role}` is not an IAM role ARN (arn:aws:iam::<account>:role/<name>); "
                f"set it (MUSIC_ETL_REDSHIFT_IAM_ROLE) to the role Redshift assumes to read the staging bucket")
        region = f" REGION {literal(self.region)}" if self.region else ""
        names = ", ".join(c.name for c in self.stage_columns(table))
        return (f"COPY stage_{table.name} ({names}) FROM {literal(path)} IAM_ROLE {literal(self.iam_role)} "
                f"FORMAT AS JSON 'auto' GZIP TIMEFORMAT 'auto' ACCEPTINVCHARS{region}")

    def fill_stage(self, table: Table, path: str) -> None:
        self.execute(self.copy_sql(table, path))


@contextlib.contextmanager
def _local_copy(path: str) -> Iterator[str]:
    if not staging.is_s3(path):
        yield path
        return
    with tempfile.NamedTemporaryFile(suffix=".jsonl.gz") as tmp:
        tmp.write(staging.s3_client().get_as_bytes(path))
        tmp.flush()
        yield tmp.name


def backend_for(url: str, iam_role: str = "", region: str = "") -> Backend:
    scheme = urlsplit(url).scheme
    if scheme == "duckdb":
        return DuckDBBackend(url)
    if scheme in ("postgresql", "postgres"):
        return PostgresBackend(url)
    if scheme == "redshift":
        return RedshiftBackend(url, iam_role=iam_role, region=region)
    raise WarehouseConfigError(
        f"[warehouse] url `{redact(url)}`: unknown scheme `{scheme}`; use duckdb:///path.duckdb, "
        f"postgresql://user@host:5432/db or redshift://user@cluster:5439/db")



def warehouse_backend() -> Backend:
    """The warehouse the configuration names (``[warehouse] url``, ``[redshift]``): a new connection."""
    settings = config.redshift()
    return backend_for(config.warehouse().url, iam_role=settings.iam_role, region=settings.region)
