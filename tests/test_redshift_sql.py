"""The Redshift path, which no local server can run: every statement it would send, parsed with
sqlglot's Redshift dialect, and the COPY options checked."""

from __future__ import annotations

import re

import luigi
import psycopg2.errors
import pytest
import sqlglot
from sqlglot import exp

from pipeline.sources.deezer.tasks import DeezerEnrich
from pipeline.sources.spotify.tasks import SpotifyEnrich
from pipeline.tasks import LoadPartition
from pipeline.warehouse import schema
from pipeline.warehouse.backends import PostgresBackend, RedshiftBackend, WarehouseConfigError, backend_for
from pipeline.warehouse.dry_run import recording
from pipeline.warehouse.load import load_partition, read_manifests
from tests.conftest import run_luigi

ROLE = "arn:aws:iam::123456789012:role/music-etl-redshift-copy"


def parse(sql: str):
    return sqlglot.parse_one(sql, read="redshift", error_level=sqlglot.ErrorLevel.RAISE)


def test_the_redshift_ddl_parses_with_distribution_and_sort_keys():
    statements = schema.statements("redshift")
    tables = {}
    for sql in statements:
        tree = parse(sql)
        if isinstance(tree, exp.Create) and tree.kind == "TABLE":
            tables[tree.this.this.name] = sql
    assert set(tables) == set(schema.analytics_tables()) | {schema.MARKER_TABLE}
    assert "DISTKEY (msd_track_id)" in tables["track_popularity_daily"]
    assert "SORTKEY (snapshot_date," in tables["track_popularity_daily"]
    assert "SORTKEY (snapshot_date," in tables["artist_popularity_daily"]
    assert "DISTKEY (track_id)" in tables["songs"] and "SORTKEY (msd_partition, track_id)" in tables["songs"]
    assert "DISTSTYLE ALL" in tables["artists"] and "SUPER" in tables["spotify_artists"]
    assert not any("JSONB" in s or "{{" in s for s in statements)
    # The other dialects do not get Redshift's clauses.
    assert not any("DISTKEY" in s for s in schema.statements("postgresql") + schema.statements("duckdb"))


@pytest.mark.slow
@pytest.mark.parametrize("deezer_on", [False, True])
def test_every_load_statement_parses_and_copy_uses_the_iam_role_only(local_pipeline, luigi_config, spotify_at,
                                                                     s3_bucket, deezer_on):
    bucket, _ = s3_bucket
    luigi_config.set("staging", root=f"s3://{bucket}/staging")
    spotify_at(mode="development")
    if not deezer_on:
        luigi_config.set("sources", enabled="spotify")
    staged = [SpotifyEnrich(partition="A/A")] + ([DeezerEnrich(partition="A/A")] if deezer_on else [])
    assert run_luigi(staged).status == luigi.LuigiStatusCode.SUCCESS
    load = read_manifests("A/A", LoadPartition(partition="A/A").input_manifests())
    backend = recording(RedshiftBackend("redshift://etl@cluster.example:5439/music", iam_role=ROLE, region="us-east-1"),
                        expected={t.name: load.expected_rows(t) for t in load.tables()})
    load_partition(backend, load)
    copies = [s for s in backend.statements if s.startswith("COPY")]
    # The MSD's tables and those of the enabled sources: one COPY each.
    from pipeline.sources import registry

    enabled = [t for s in registry.enabled() for t in s.tables]
    assert len(copies) == len(load.tables()) == len(schema.MSD_TABLES) + len(enabled)
    assert any(t.name == "deezer_matches" for t in enabled) is deezer_on
    for sql in backend.statements:
        tree = parse(sql)
        assert not isinstance(tree, exp.Command) or sql.startswith("LOCK "), sql  # parsed, not passed through
        assert "TRUNCATE" not in sql.upper()  # TRUNCATE commits in Redshift: never inside the load
    for sql in copies:
        assert isinstance(parse(sql), exp.Copy)
        assert re.search(rf"FROM 's3://{bucket}/staging/(msd|spotify|deezer)/A/A/v-[0-9a-f]{{12}}/\w+\.jsonl\.gz'", sql)
        assert f"IAM_ROLE '{ROLE}'" in sql and "FORMAT AS JSON 'auto'" in sql and " GZIP" in sql
        for forbidden in ("ACCESS_KEY_ID", "SECRET_ACCESS_KEY", "SESSION_TOKEN", "CREDENTIALS"):
            assert forbidden not in sql.upper()
        assert "testing" not in sql  # the AWS keys of this test's environment
    assert backend.statements[0].startswith("LOCK songs, artists")
    assert any(s.startswith("INSERT INTO etl_load_markers") for s in backend.statements)


def test_redshift_refuses_local_staging_and_a_missing_role(local_pipeline):
    backend = backend_for("redshift://etl@cluster:5439/music", iam_role="")
    table = schema.tables()[0]
    with pytest.raises(WarehouseConfigError, match="is local: set \\[staging\\] root to s3://"):
        backend.copy_sql(table, "data/staging/msd/A/A/songs.jsonl.gz")
    with pytest.raises(WarehouseConfigError, match="iam_role `` is not an IAM role ARN"):
        backend.copy_sql(table, "s3://bucket/staging/msd/A/A/songs.jsonl.gz")
    assert backend.dsn() == "postgresql://etl@cluster:5439/music"


def test_maintenance_after_the_loads_parses_and_runs_outside_a_transaction(postgres_url):
    backend = RedshiftBackend("redshift://etl@cluster:5439/music", iam_role=ROLE)
    assert backend.maintenance_statements() == ["VACUUM", "ANALYZE"]
    for sql in backend.maintenance_statements():
        parse(sql)
    # Redshift refuses VACUUM inside a transaction, and so does PostgreSQL: the autocommit that
    # Redshift inherits from the PostgreSQL backend is proven on a real PostgreSQL connection.
    assert RedshiftBackend.autocommit is PostgresBackend.autocommit
    postgres = PostgresBackend(postgres_url)
    try:
        with pytest.raises(psycopg2.errors.ActiveSqlTransaction, match="VACUUM cannot run inside a transaction block"):
            postgres.execute("VACUUM")
        postgres.con.rollback()
        with postgres.autocommit():
            for sql in backend.maintenance_statements():
                postgres.execute(sql)
        assert postgres.con.autocommit is False  # later loads get their transaction back
    finally:
        postgres.close()


def test_the_reports_and_the_exports_queries_parse_as_redshift(local_pipeline, luigi_config, spotify_at, tmp_path):
    """Report and export send the same SQL to every backend but the catalog query: run on DuckDB,
    every statement they sent is parsed as Redshift's, and Redshift's catalog query too."""
    from pipeline.export import export, exported_tables
    from pipeline.report.facts import gather
    from pipeline.tasks import RunAll
    from pipeline.warehouse.backends import warehouse_backend
    from pipeline.warehouse.target import tables_present_sql

    spotify_at(mode="development")
    luigi_config.set("warehouse", url=f"duckdb:///{tmp_path}/warehouse.duckdb")
    assert run_luigi([RunAll(partitions="A/A")]).status == luigi.LuigiStatusCode.SUCCESS
    backend = warehouse_backend()
    try:
        gather(backend)
        export(str(tmp_path / "export"), backend=backend)
        sent = [s for s in backend.statements if not s.startswith(("BEGIN", "COMMIT"))]
    finally:
        backend.close()
    assert any("floor(log(" in s for s in sent) and any("ORDER BY track_id" in s for s in sent)
    for sql in sent + [tables_present_sql("redshift", [t.name for t in exported_tables()])]:
        tree = parse(sql)
        assert not isinstance(tree, exp.Command), sql  # parsed, not passed through
