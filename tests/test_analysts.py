"""Analysts on a shared warehouse (PostgreSQL): the read-only role the schema task grants reads
every table and the view, cannot write, reaches tables created later, and never sees a
partition half loaded."""

from __future__ import annotations

import dataclasses
import threading
import uuid

import luigi
import psycopg2
import pytest

from pipeline.tasks import LoadPartition
from pipeline.warehouse import grants, schema
from pipeline.warehouse.backends import warehouse_backend
from pipeline.warehouse.load import load_partition, read_manifests
from tests.conftest import run_luigi


@pytest.fixture
def analyst(postgres_url):
    """A login user made a member of the analyst role, as an administrator would (SETUP.md)."""
    name = f"analyst_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(postgres_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'music_etl_analyst') "
                    "THEN CREATE ROLE music_etl_analyst NOLOGIN; END IF; END $$")
        cur.execute(f"CREATE ROLE {name} LOGIN IN ROLE music_etl_analyst")
    dsn = postgres_url.replace("postgresql://postgres@", f"postgresql://{name}@")
    assert dsn != postgres_url, postgres_url
    yield dsn
    with admin.cursor() as cur:
        cur.execute(f"DROP ROLE {name}")
    admin.close()


def _connect(dsn):
    con = psycopg2.connect(dsn)
    con.autocommit = True
    return con


@pytest.mark.slow
@pytest.mark.parametrize("warehouse_url", ["postgresql"], indirect=True)
def test_the_analyst_reads_everything_writes_nothing_and_never_sees_half_a_load(loaded_warehouse, analyst,
                                                                                 warehouse_url):
    con = _connect(analyst)
    try:
        with con.cursor() as cur:
            cur.execute("SELECT current_user")
            assert cur.fetchone()[0].startswith("analyst_")
            for name in [t.name for t in schema.tables()] + [schema.MARKER_TABLE, schema.VIEW]:
                cur.execute(f"SELECT count(*) FROM {name}")
            cur.execute("SELECT count(*) FROM enriched_songs WHERE deezer_track_id IS NOT NULL")
            assert cur.fetchone()[0] > 0
            for statement in ("INSERT INTO songs (track_id, msd_partition, load_id) VALUES ('TRX', 'A/A', 'x')",
                              "DELETE FROM spotify_matches", "UPDATE deezer_tracks SET bpm = 1",
                              "DROP VIEW enriched_songs", "CREATE TABLE mine (x INTEGER)"):
                with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                    cur.execute(statement)
    finally:
        con.close()

    # A table the pipeline creates later (a new release's) is readable without a new grant.
    backend = warehouse_backend()
    try:
        with backend.transaction():
            backend.execute("CREATE TABLE later_table (x INTEGER)")
    finally:
        backend.close()
    con = _connect(analyst)
    try:
        with con.cursor() as cur:
            cur.execute("SELECT count(*) FROM later_table")
    finally:
        con.close()

    # A reload of A/A held mid-transaction (its songs replaced, its last table locked): the analyst
    # sees A/A's previous rows, then, once it commits, the new ones; never a mix.
    staged = read_manifests("A/A", LoadPartition(partition="A/A").input_manifests())
    load = dataclasses.replace(staged, load_id=staged.load_id[:-4] + "beef")  # the same rows, another load id
    admin, watcher, con = psycopg2.connect(warehouse_url), _connect(warehouse_url), _connect(analyst)
    loader, failure = warehouse_backend(), []

    def reload():
        try:
            load_partition(loader, load)
        except Exception as exc:  # reported below
            failure.append(exc)

    thread = threading.Thread(target=reload, daemon=True)
    try:
        with admin.cursor() as cur:
            cur.execute("SELECT count(*), min(load_id) FROM songs WHERE msd_partition = 'A/A'")
            songs_before, load_before = cur.fetchone()
            cur.execute("LOCK TABLE deezer_albums IN ACCESS EXCLUSIVE MODE")  # the load's last table waits
        thread.start()
        with watcher.cursor() as cur:  # until the load waits on the lock, its songs already written
            for _ in range(600):
                cur.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
                if cur.fetchone()[0]:
                    break
                threading.Event().wait(0.05)
            else:
                pytest.fail("the load never waited on the lock")
        with con.cursor() as cur:
            cur.execute("SELECT count(*), min(load_id), max(load_id) FROM songs WHERE msd_partition = 'A/A'")
            assert cur.fetchone() == (songs_before, load_before, load_before)
        admin.commit()  # releases the lock: the load goes on and commits
        thread.join(timeout=120)
        assert not failure, failure
        with con.cursor() as cur:
            cur.execute("SELECT count(*), min(load_id), max(load_id) FROM songs WHERE msd_partition = 'A/A'")
            assert cur.fetchone() == (songs_before, load.load_id, load.load_id)
    finally:
        for connection in (admin, watcher, con):
            connection.close()
        thread.join(timeout=120)
        loader.close()


def test_grants_name_the_role_and_schema_and_refuse_a_role_that_is_not_a_plain_name(luigi_config):
    assert grants.statements("duckdb", "music_etl_analyst", "main") == []
    postgres = grants.statements("postgresql", "music_etl_analyst", "analytics")
    assert "GRANT SELECT ON ALL TABLES IN SCHEMA analytics TO music_etl_analyst" in postgres
    assert "ALTER DEFAULT PRIVILEGES IN SCHEMA analytics GRANT SELECT ON TABLES TO music_etl_analyst" in postgres
    redshift = grants.statements("redshift", "music_etl_analyst", "analytics")
    assert redshift[0] == "CREATE ROLE music_etl_analyst" and all("TO ROLE music_etl_analyst" in s for s in redshift[1:])
    luigi_config.set("warehouse", analyst_role="analysts; DROP TABLE songs")
    from pipeline.errors import TerminalError
    with pytest.raises(TerminalError, match=r"\[warehouse\] analyst_role = `analysts; DROP TABLE songs`"):
        grants.analyst_role()
    luigi_config.set("warehouse", analyst_role="none")
    assert grants.analyst_role() == ""


@pytest.mark.parametrize("warehouse_url", ["postgresql"], indirect=True)
def test_a_warehouse_without_the_grants_gets_them_without_reloading(local_pipeline, luigi_config, spotify_at,
                                                                    warehouse_url, analyst):
    """Turning grants on later (or a new grant in sql/grants.sql) reruns the schema task only."""
    from pipeline.tasks import LoadPartition, RunAll

    spotify_at(mode="development")
    luigi_config.set("warehouse", analyst_role="none")
    assert run_luigi([RunAll(partitions="A/A")]).status == luigi.LuigiStatusCode.SUCCESS
    con = _connect(analyst)
    try:
        # Without USAGE on the schema PostgreSQL does not even look there: the table is not found.
        with con.cursor() as cur, pytest.raises((psycopg2.errors.InsufficientPrivilege, psycopg2.errors.UndefinedTable)):
            cur.execute("SELECT count(*) FROM songs")
    finally:
        con.close()
    load_marker = LoadPartition(partition="A/A").output().update_id
    luigi_config.set("warehouse", analyst_role="music_etl_analyst")
    assert run_luigi([RunAll(partitions="A/A")]).status == luigi.LuigiStatusCode.SUCCESS
    assert LoadPartition(partition="A/A").output().update_id == load_marker  # nothing reloaded
    con = _connect(analyst)
    try:
        with con.cursor() as cur:
            cur.execute("SELECT count(*) FROM enriched_songs")
            assert cur.fetchone()[0] > 0
    finally:
        con.close()
