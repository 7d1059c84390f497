"""LoadPartition into DuckDB and into a real PostgreSQL: loads, idempotence, crashes, reloads, checks."""

from __future__ import annotations

import gzip
import os
import re

import luigi
import pytest

from pipeline import forget_listings, staging
from pipeline.sources.deezer.tasks import DeezerEnrich
from pipeline.sources.spotify.tasks import SpotifyEnrich
from pipeline.tasks import ExtractPartition, LoadPartition, WarehouseSchema
from pipeline.warehouse.backends import (
    PostgresBackend,
    StagedFileError,
    WarehouseConfigError,
    WarehouseSessionLostError,
    warehouse_backend,
)
from pipeline.warehouse.copy_text import CopyText
from pipeline.warehouse.load import DataQualityError, load_partition
from pipeline.warehouse.load import read_manifests as read_manifests_of
from pipeline.warehouse.schema import MARKER_TABLE, tables, view_statements
from tests.conftest import rewrite_manifest, run_luigi, stage_folder

PARTITIONS = ("A/A", "A/B", "B/A")


@pytest.fixture
def staged(local_pipeline, luigi_config, spotify_at, monkeypatch):
    """Every sample partition extracted and enriched by both sources (Spotify in extended mode) on local staging."""
    spotify_at(mode="extended")
    assert run_luigi([DeezerEnrich(partition=p) for p in PARTITIONS]).status == luigi.LuigiStatusCode.SUCCESS
    return local_pipeline


def snapshot(backend) -> dict[str, list[tuple]]:
    """Every analytics table's rows, sorted, and the markers without their timestamps."""
    out = {}
    for table in tables():
        names = ", ".join(c.name for c in table.columns())
        out[table.name] = sorted(map(repr, backend.query(f"SELECT {names} FROM {table.name}")))
    out[MARKER_TABLE] = sorted(backend.query(f"SELECT update_id, msd_partition, load_id, row_counts FROM {MARKER_TABLE}"))
    return out


def read_manifests(partition):
    """What LoadPartition reads: the partition's staging under the configured settings."""
    return read_manifests_of(partition, LoadPartition(partition=partition).input_manifests())


def staged_path(stage, partition, name):
    task = {"msd": ExtractPartition, "spotify": SpotifyEnrich}[stage](partition=partition)
    return f"{task.folder}/{name}"


def staged_rows(staging_root, stage, partition, name):
    with gzip.open(staged_path(stage, partition, name)) as fh:
        return sum(1 for _ in fh)


def test_every_partition_loads_with_exact_counts_and_merged_dimensions(staged, warehouse_url):
    assert run_luigi([LoadPartition(partition=p) for p in PARTITIONS]).status == luigi.LuigiStatusCode.SUCCESS
    backend = warehouse_backend()
    try:
        for p in PARTITIONS:
            assert backend.scalar(f"SELECT count(*) FROM songs WHERE msd_partition = '{p}'") == \
                staged_rows(staged, "msd", p, "songs.jsonl.gz")
            assert backend.scalar(f"SELECT count(*) FROM spotify_matches WHERE msd_partition = '{p}'") == \
                staged_rows(staged, "spotify", p, "matches.jsonl.gz")
        # Shared dimensions: one row per key although artists recur across partitions.
        for table, key in (("artists", "artist_id"), ("spotify_tracks", "spotify_track_id"),
                           ("spotify_artists", "spotify_artist_id")):
            total, distinct = backend.query(f"SELECT count(*), count(DISTINCT {key}) FROM {table}")[0]
            assert total == distinct > 0, table
        songs = backend.scalar("SELECT count(*) FROM songs")
        assert backend.scalar("SELECT count(*) FROM enriched_songs") == songs
        matched = backend.scalar("SELECT count(*) FROM enriched_songs WHERE match_status = 'matched'")
        assert matched == backend.scalar("SELECT count(*) FROM enriched_songs WHERE spotify_track_name IS NOT NULL") > 0
        assert backend.scalar("SELECT count(*) FROM enriched_songs WHERE spotify_danceability IS NOT NULL") == matched
        # Every row names its load; the markers name the same loads.
        loads = {r[0] for r in backend.query("SELECT DISTINCT load_id FROM songs")}
        assert loads == {r[0] for r in backend.query(f"SELECT load_id FROM {MARKER_TABLE} WHERE step = 'load'")}
        assert len(loads) == 3
        schema_marker = WarehouseSchema().output().update_id
        assert backend.query(f"SELECT update_id FROM {MARKER_TABLE} WHERE step = 'schema'") == [(schema_marker,)]
    finally:
        backend.close()


@pytest.mark.slow
def test_rerun_does_nothing_and_forced_reload_gives_identical_tables(staged, warehouse_url):
    run_luigi([LoadPartition(partition=p) for p in PARTITIONS])
    backend = warehouse_backend()
    try:
        before = snapshot(backend)
    finally:
        backend.close()
    assert all(LoadPartition(partition=p).complete() for p in PARTITIONS)
    assert run_luigi([LoadPartition(partition=p) for p in PARTITIONS]).status == luigi.LuigiStatusCode.SUCCESS
    backend = warehouse_backend()
    try:
        # Forced reload of every partition, same order: shared dimension rows carry the id of the
        # last load that wrote them, so the order is part of "the same input".
        for p in PARTITIONS:
            load_partition(backend, read_manifests(p))
        assert snapshot(backend) == before
    finally:
        backend.close()


@pytest.mark.slow
@pytest.mark.parametrize("fail_at", ["DELETE FROM songs", "INSERT INTO spotify_tracks", "INSERT INTO etl_load_markers"])
def test_a_crash_between_statements_leaves_the_previous_state(staged, warehouse_url, monkeypatch, fail_at):
    run_luigi([LoadPartition(partition=p) for p in PARTITIONS])
    backend = warehouse_backend()
    before = snapshot(backend)
    original = type(backend)._execute

    def crash(self, sql):
        if sql.startswith(fail_at):
            raise RuntimeError(f"simulated crash at: {sql[:40]}")
        return original(self, sql)
    monkeypatch.setattr(type(backend), "_execute", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        load_partition(backend, read_manifests("A/A"))
    monkeypatch.setattr(type(backend), "_execute", original)
    assert snapshot(backend) == before
    backend.close()


@pytest.mark.slow
def test_new_staging_data_makes_the_partition_load_again(staged, warehouse_url, luigi_config, tmp_path):
    run_luigi([LoadPartition(partition=p) for p in PARTITIONS])
    old_id = read_manifests("A/A").load_id
    # A stricter threshold: enrichment has a new output version to fill, so new staging, a new load id.
    luigi_config.set("spotify", match_threshold=0.99)
    assert not LoadPartition(partition="A/A").complete()
    assert run_luigi([LoadPartition(partition="A/A")]).status == luigi.LuigiStatusCode.SUCCESS
    new_id = read_manifests("A/A").load_id
    assert new_id != old_id
    backend = warehouse_backend()
    try:
        assert {r[0] for r in backend.query("SELECT DISTINCT load_id FROM spotify_matches WHERE msd_partition = 'A/A'")} == {new_id}
        assert backend.scalar(f"SELECT count(*) FROM {MARKER_TABLE} WHERE msd_partition = 'A/A'") == 1
        assert backend.scalar("SELECT count(*) FROM spotify_matches WHERE msd_partition = 'A/A'") == \
            staged_rows(staged, "spotify", "A/A", "matches.jsonl.gz")
        total, distinct = backend.query("SELECT count(*), count(DISTINCT track_id) FROM songs")[0]
        assert total == distinct
    finally:
        backend.close()


@pytest.mark.slow
def test_data_quality_failure_names_partition_and_numbers_and_changes_nothing(staged, warehouse_url):
    run_luigi([LoadPartition(partition="A/A")])
    backend = warehouse_backend()
    before = snapshot(backend)
    path = staged_path("msd", "A/A", "songs.jsonl.gz")
    lines = gzip.decompress(open(path, "rb").read()).splitlines(keepends=True)
    with open(path, "wb") as fh:
        fh.write(gzip.compress(b"".join(lines[:-1])))  # a row lost after the manifest was written
    with pytest.raises(DataQualityError, match=rf"partition A/A: .*songs: {len(lines)} rows staged .*, {len(lines) - 1} loaded"):
        load_partition(backend, read_manifests("A/A"))
    assert snapshot(backend) == before
    backend.close()


@pytest.mark.slow
@pytest.mark.parametrize("table, file", [("similar_artists", "msd/A/A/similar_artists.jsonl.gz"),
                                         ("spotify_tracks", "spotify/A/A/tracks.jsonl.gz"),
                                         ("songs", "msd/A/A/songs.jsonl.gz")])
def test_duplicate_keys_in_staging_are_refused(staged, warehouse_url, table, file):
    stage, partition = file.split("/")[0], "A/A"
    path = staged_path(stage, partition, os.path.basename(file))
    lines = gzip.decompress(open(path, "rb").read()).splitlines(keepends=True)
    with open(path, "wb") as fh:
        fh.write(gzip.compress(b"".join(lines + lines[:1])))  # the first row twice
    folder = stage_folder(staged, stage, partition)
    manifest = staging.ManifestTarget(folder).read()[0]
    if stage == "msd":
        next(f for f in manifest["files"].values() if f["path"] == os.path.basename(file))["rows"] += 1
    else:
        manifest["rows"][os.path.basename(file)] += 1
    rewrite_manifest(folder, manifest)
    backend = warehouse_backend()
    try:
        backend.ensure_schema()
        with pytest.raises(DataQualityError, match=rf"partition {partition}: .*{table}: 1 duplicated keys"):
            load_partition(backend, read_manifests(partition))
        assert backend.scalar(f"SELECT count(*) FROM {table}") == 0
    finally:
        backend.close()


def test_a_match_pointing_at_no_track_is_refused(staged, warehouse_url):
    path = staged_path("spotify", "A/B", "tracks.jsonl.gz")
    lines = gzip.decompress(open(path, "rb").read()).splitlines(keepends=True)
    folder = stage_folder(staged, "spotify", "A/B")
    manifest = staging.ManifestTarget(folder).read()[0]
    manifest["rows"]["tracks.jsonl.gz"] -= 1
    rewrite_manifest(folder, manifest)
    with open(path, "wb") as fh:
        fh.write(gzip.compress(b"".join(lines[1:])))
    backend = warehouse_backend()
    try:
        backend.ensure_schema()
        with pytest.raises(DataQualityError, match=r"partition A/B: .*spotify_matches: [1-9]\d* matches point at no"):
            load_partition(backend, read_manifests("A/B"))
        assert backend.scalar("SELECT count(*) FROM songs") == 0
    finally:
        backend.close()


@pytest.mark.parametrize("warehouse_url", ["postgresql"], indirect=True)
def test_postgres_loads_with_copy_not_row_inserts(staged, warehouse_url):
    backend = warehouse_backend()
    assert isinstance(backend, PostgresBackend)
    backend.ensure_schema()
    load = read_manifests("A/A")
    load_partition(backend, load)
    statements = backend.statements
    backend.close()
    copies = [s for s in statements if s.startswith("COPY ")]
    assert len(copies) == len(load.tables()) and all(s.endswith("FROM STDIN") for s in copies)
    # Row by row only for the bookkeeping: the marker and the match histories' changes (a few rows).
    assert not any(s.startswith("INSERT INTO") and "VALUES" in s for s in statements
                   if not s.startswith((f"INSERT INTO {MARKER_TABLE}", "INSERT INTO spotify_match_history",
                                        "INSERT INTO deezer_match_history")))


@pytest.mark.parametrize("warehouse_url", ["postgresql"], indirect=True)
def test_checks_reach_the_loads_rows_through_indexes_not_whole_tables(staged, warehouse_url, monkeypatch):
    """With 676 partitions loaded one by one, a check that reads whole tables would cost more
    with every partition. PostgreSQL is told to avoid sequential scans; the plan of the load's
    check query must then read no analytics table whole (stage tables are the load's own)."""
    from pipeline.warehouse import load as load_module

    plans = []
    original = load_module.check

    def check_and_explain(backend, load, staged_counts):
        problems = original(backend, load, staged_counts)
        query = next(s for s in reversed(backend.statements) if s.startswith("SELECT ("))
        backend.execute("SET LOCAL enable_seqscan = off")
        plans.append("\n".join(r[0] for r in backend.query("EXPLAIN " + query)))
        backend.execute("SET LOCAL enable_seqscan = on")
        return problems

    monkeypatch.setattr(load_module, "check", check_and_explain)
    backend = warehouse_backend()
    try:
        backend.ensure_schema()
        for partition in PARTITIONS:
            load_partition(backend, read_manifests(partition))
    finally:
        backend.close()
    assert len(plans) == len(PARTITIONS)
    whole_table_reads = {name for plan in plans for name in re.findall(r"Seq Scan on (\w+)", plan)
                         if not name.startswith("stage_")}
    assert whole_table_reads == set(), plans[-1]


def test_unknown_warehouse_url_is_a_clear_error(luigi_config):
    luigi_config.set("warehouse", url="mysql://x@y/z")
    with pytest.raises(WarehouseConfigError, match=r"unknown scheme `mysql`.*duckdb:///"):
        warehouse_backend()
    luigi_config.set("warehouse", url="postgresql://u:s3cret@127.0.0.1:1/none")
    with pytest.raises(WarehouseConfigError, match="cannot connect to the warehouse") as info:
        warehouse_backend().query("SELECT 1")
    assert "s3cret" not in str(info.value) and "***" in str(info.value)


def test_awkward_text_survives_the_load_byte_for_byte(staged, warehouse_url, monkeypatch):
    # PostgreSQL receives the rows in blocks; small ones put block boundaries around the awkward rows.
    monkeypatch.setattr(CopyText, "ROWS_PER_BLOCK", 3)
    awkward = 'Tab\there, line\nbreak, back\\slash \\N, \'single\' "double" Björk ∞ \u0001'
    path = staged_path("msd", "A/A", "songs.jsonl.gz")
    lines = gzip.decompress(open(path, "rb").read()).splitlines(keepends=True)
    import orjson
    changed = {}
    for i in (0, 4, 5):
        record = orjson.loads(lines[i])
        record["title"] = f"{awkward} {i}"
        lines[i] = orjson.dumps(record) + b"\n"
        changed[record["track_id"]] = record["title"]
    with open(path, "wb") as fh:
        fh.write(gzip.compress(b"".join(lines)))
    backend = warehouse_backend()
    try:
        backend.ensure_schema()
        load_partition(backend, read_manifests("A/A"))
        ids = ", ".join(f"'{track_id}'" for track_id in changed)
        assert dict(backend.query(f"SELECT track_id, title FROM songs WHERE track_id IN ({ids})")) == changed
        # JSON lists come back as lists too
        genres = backend.scalar("SELECT genres FROM spotify_artists WHERE genres IS NOT NULL LIMIT 1")
        assert isinstance(genres if not isinstance(genres, str) else orjson.loads(genres), list)
    finally:
        backend.close()


@pytest.mark.slow
def test_runall_extracts_enriches_and_loads_with_two_workers(local_pipeline, warehouse_url, luigi_config, spotify_at,
                                                            monkeypatch):
    """Two worker processes: DuckDB loads take turns (the duckdb_warehouse resource), PostgreSQL's lock."""
    from pipeline.tasks import RunAll

    spotify_at(mode="development")
    luigi_config.set("resources", duckdb_warehouse=1)
    assert run_luigi([RunAll()], workers=2).status == luigi.LuigiStatusCode.SUCCESS
    forget_listings()  # the loads ran in other processes than the listing this one made while scheduling
    assert all(LoadPartition(partition=p).complete() for p in PARTITIONS)
    backend = warehouse_backend()
    try:
        assert backend.scalar(f"SELECT count(DISTINCT msd_partition) FROM {MARKER_TABLE} WHERE step = 'load'") == 3
        assert backend.scalar("SELECT count(*) FROM enriched_songs") == backend.scalar("SELECT count(*) FROM songs") > 0
    finally:
        backend.close()


def test_a_truncated_staged_file_names_itself_the_partition_and_the_fix(staged, warehouse_url):
    run_luigi([LoadPartition(partition="A/A")])
    backend = warehouse_backend()
    before = snapshot(backend)
    path = staged_path("msd", "A/A", "songs.jsonl.gz")
    data = open(path, "rb").read()
    with open(path, "wb") as fh:
        fh.write(data[: len(data) // 2])  # what a full disk or a killed copy leaves
    try:
        with pytest.raises(StagedFileError, match=rf"partition A/A: staged file {re.escape(path)} cannot be read .*"
                                                  r"`python -m pipeline rerun A/A --force`"):
            load_partition(backend, read_manifests("A/A"))
        assert snapshot(backend) == before
    finally:
        backend.close()


@pytest.mark.parametrize("warehouse_url", ["postgresql"], indirect=True)
def test_a_session_the_server_ends_mid_load_is_reported_with_its_cause(staged, warehouse_url, monkeypatch):
    import psycopg2

    run_luigi([LoadPartition(partition="A/A")])
    backend = warehouse_backend()
    before = snapshot(backend)
    backend.close()
    original = PostgresBackend._execute

    def ended_by_the_server(self, sql):
        if sql.startswith("INSERT INTO spotify_tracks"):
            admin = psycopg2.connect(warehouse_url)
            admin.autocommit = True
            with admin.cursor() as cur:
                cur.execute("SELECT pg_terminate_backend(%s)", (self.con.get_backend_pid(),))
            admin.close()
        return original(self, sql)
    monkeypatch.setattr(PostgresBackend, "_execute", ended_by_the_server)
    # psycopg2 words the cause either way, depending on when the server's goodbye is read
    cause = r"(terminating connection due to administrator command|server closed the connection unexpectedly)"
    with pytest.raises(WarehouseSessionLostError, match=rf"ended the session during a transaction \({cause}\); nothing"):
        load_partition(backend, read_manifests("A/A"))
    monkeypatch.setattr(PostgresBackend, "_execute", original)
    backend = warehouse_backend()
    try:
        assert snapshot(backend) == before
    finally:
        backend.close()


@pytest.mark.slow
def test_a_renamed_view_column_replaces_the_old_view_on_an_existing_warehouse(staged, warehouse_url, monkeypatch):
    """PostgreSQL's CREATE OR REPLACE VIEW cannot rename a column: the view is dropped and made
    again in the finalize transaction, and a changed definition re-finalizes an unchanged warehouse."""
    from pipeline.tasks import FinalizeWarehouse
    from pipeline.tasks import finalize as finalize_module

    assert run_luigi([FinalizeWarehouse(partitions=list(PARTITIONS))]).status == luigi.LuigiStatusCode.SUCCESS
    backend = warehouse_backend()
    try:
        with backend.transaction():  # the view as an earlier version named its columns
            backend.execute("DROP VIEW enriched_songs")
            backend.execute("CREATE VIEW enriched_songs AS SELECT s.track_id, t.isrc, t.explicit FROM songs s "
                            "LEFT JOIN spotify_matches m ON m.track_id = s.track_id "
                            "LEFT JOIN spotify_tracks t ON t.spotify_track_id = m.spotify_track_id")
    finally:
        backend.close()
    current = FinalizeWarehouse(partitions=list(PARTITIONS)).output().update_id
    monkeypatch.setattr(finalize_module, "view_statements", lambda dialect: ["CREATE OR REPLACE VIEW enriched_songs AS SELECT 1"])
    assert FinalizeWarehouse(partitions=list(PARTITIONS)).output().update_id != current  # another view: finalize again
    monkeypatch.undo()
    backend = warehouse_backend()
    try:
        with backend.transaction():
            for statement in view_statements(backend.dialect):
                backend.execute(statement)
        rows = backend.query("SELECT spotify_isrc, spotify_explicit FROM enriched_songs WHERE spotify_isrc IS NOT NULL")
        assert rows
        import duckdb
        import psycopg2

        with pytest.raises((duckdb.BinderException, psycopg2.errors.UndefinedColumn), match="isrc"):
            backend.query("SELECT isrc FROM enriched_songs")
    finally:
        backend.close()


@pytest.mark.slow
def test_with_deezer_on_every_partition_loads_its_deezer_tables_and_the_view_shows_them(
        local_pipeline, luigi_config, spotify_at, warehouse_url, deezer_catalog):
    from pipeline.tasks import RunAll

    spotify_at(mode="development")  # both sources: the default
    deezer = spotify_at.deezer
    assert run_luigi([RunAll(partitions="A/A,A/B")]).status == luigi.LuigiStatusCode.SUCCESS
    assert deezer.state.stats()["requests"]
    backend = warehouse_backend()
    try:
        matches = backend.query("SELECT track_id, deezer_track_id, agrees_with_spotify FROM deezer_matches")
        assert len(matches) == sum(staged_rows(local_pipeline, "msd", p, "songs.jsonl.gz") for p in ("A/A", "A/B"))
        truth = deezer_catalog.ground_truth
        assert all(int(d) == truth[t] for t, d, _ in matches if d)
        view = backend.query("SELECT deezer_track_id, deezer_rank, deezer_gain, deezer_artist_fans, deezer_album_genres, "
                             "sources_agree FROM enriched_songs WHERE deezer_track_id IS NOT NULL")
        assert view and all(rank is not None and gain is not None and fans is not None and genres is not None
                            for _, rank, gain, fans, genres, _ in view)
        assert {agree for *_, agree in view} >= {True}
        counts = {t: backend.scalar(f"SELECT count(*) FROM {t}") for t in ("deezer_tracks", "deezer_artists", "deezer_albums")}
        assert all(counts.values())
    finally:
        backend.close()


def test_with_deezer_off_a_load_is_what_it_always_was(local_pipeline, luigi_config, spotify_at, warehouse_url):
    from pipeline.tasks import RunAll
    from pipeline.warehouse.load import _load_id

    spotify_at(mode="development")
    luigi_config.set("sources", enabled="spotify")
    assert run_luigi([RunAll(partitions="A/A")]).status == luigi.LuigiStatusCode.SUCCESS
    assert not spotify_at.deezer.state.stats()["requests"]
    manifests = LoadPartition(partition="A/A").input_manifests()
    assert set(manifests) == {"msd", "spotify"}  # no Deezer task was even scheduled
    # The load id is made of the extraction's and Spotify's digests alone, as before Deezer existed.
    assert read_manifests("A/A").load_id == _load_id("A/A", [manifests["msd"].content_id(),
                                                             manifests["spotify"].content_id()])
    backend = warehouse_backend()
    try:
        assert all(backend.scalar(f"SELECT count(*) FROM {t}") == 0
                   for t in ("deezer_matches", "deezer_tracks", "deezer_artists", "deezer_albums"))
        assert backend.scalar("SELECT count(*) FROM enriched_songs WHERE deezer_track_id IS NOT NULL") == 0
    finally:
        backend.close()
