"""`python -m pipeline export`: files that pandas, polars and DuckDB read back as the warehouse
holds them, typed and described by the data dictionary."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import duckdb
import pandas as pd
import polars as pl
import pyarrow.parquet as pq
import pytest

from pipeline import dictionary
from pipeline.export import arrow_type, export, exported_tables
from pipeline.warehouse.backends import warehouse_backend
from tests.conftest import PROJECT_ROOT, read_pty


@pytest.mark.slow
def test_every_table_round_trips_with_the_dictionarys_types_rows_and_descriptions(loaded_warehouse, tmp_path):
    out = tmp_path / "export"
    counts = export(str(out))
    docs = dictionary.warehouse_tables()
    assert set(counts) == {d.name for d in exported_tables()} and "enriched_songs" in counts
    assert {"README.md", "DATA_DICTIONARY.md"} <= set(os.listdir(out))
    backend = warehouse_backend()
    try:
        for name, rows in counts.items():
            assert rows == backend.scalar(f"SELECT count(*) FROM {name}"), name
            path = str(out / f"{name}.parquet")
            frame = pd.read_parquet(path, dtype_backend="pyarrow")
            assert len(frame) == rows and list(frame.columns) == [c.name for c in docs[name].columns]
            for column in docs[name].columns:
                assert frame[column.name].dtype.pyarrow_dtype == arrow_type(column.type), (name, column.name)
            schema = pq.read_schema(path)
            assert schema.metadata[b"description"].decode() == docs[name].description
            for column in docs[name].columns:
                assert schema.field(column.name).metadata[b"description"].decode() == column.description
            assert pl.read_parquet(path).height == rows
            assert duckdb.sql(f"SELECT count(*) FROM '{path}'").fetchall() == [(rows,)]
        # Values as the warehouse holds them: a JSON list, a timestamp, a nullable integer.
        album, genres, fetched = backend.query("SELECT deezer_album_id, genres, fetched_at FROM deezer_albums "
                                               "ORDER BY deezer_album_id LIMIT 1")[0]
        exported = pd.read_parquet(out / "deezer_albums.parquet").iloc[0]
        assert exported["deezer_album_id"] == album
        assert list(exported["genres"]) == (json.loads(genres) if isinstance(genres, str) else genres)
        assert exported["fetched_at"].to_pydatetime() == fetched
        years = pd.read_parquet(out / "songs.parquet", dtype_backend="pyarrow")["year"]
        assert years.isna().sum() == backend.scalar("SELECT count(*) FROM songs WHERE year IS NULL") > 0
    finally:
        backend.close()

    csv = export(str(tmp_path / "csv"), "csv")
    assert csv == counts
    for name, rows in csv.items():
        assert len(pd.read_csv(tmp_path / "csv" / f"{name}.csv")) == rows


@pytest.mark.parametrize("warehouse_url", ["postgresql"], indirect=True)
def test_a_load_committed_during_the_export_is_in_every_file_or_in_none(loaded_warehouse, tmp_path, monkeypatch,
                                                                          warehouse_url):
    """PostgreSQL: another session deletes a partition (as a reload would) after the first file is
    written; the export, in one repeatable-read transaction, still writes one consistent state."""
    import psycopg2

    from pipeline import export as export_module

    before = {}
    original = export_module._write_table

    def write_then_change(backend, doc, out_dir, fmt):
        rows = original(backend, doc, out_dir, fmt)
        if doc.name == "songs":
            other = psycopg2.connect(warehouse_url)
            with other, other.cursor() as cur:
                cur.execute("SELECT count(*) FROM songs")
                before["songs"] = cur.fetchone()[0]
                for table in ("songs", "spotify_matches", "deezer_matches"):
                    cur.execute(f"DELETE FROM {table} WHERE msd_partition = 'A/A'")
            other.close()
        return rows

    monkeypatch.setattr(export_module, "_write_table", write_then_change)
    counts = export(str(tmp_path / "export"))
    assert counts["songs"] == counts["enriched_songs"] == counts["spotify_matches"] == before["songs"]
    backend = warehouse_backend()
    try:
        assert backend.scalar("SELECT count(*) FROM enriched_songs") < before["songs"]  # the change did commit
    finally:
        backend.close()


def _export_command(env, out):
    return [sys.executable, "-m", "pipeline", "export", "--out", str(out)], dict(os.environ, **env)


def test_an_empty_warehouse_is_one_line_and_exit_2_and_nothing_is_written(tmp_path):
    command, env = _export_command({"MUSIC_ETL_WAREHOUSE_URL": f"duckdb:///{tmp_path}/empty.duckdb"}, tmp_path / "out")
    result = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "has no Music ETL tables yet" in result.stderr and "python -m pipeline run" in result.stderr
    assert not os.path.exists(tmp_path / "out")


@pytest.mark.slow
@pytest.mark.parametrize("warehouse_url", ["duckdb"], indirect=True)  # the display does not depend on the backend
def test_export_shows_a_bar_per_table_on_a_terminal_and_nothing_elsewhere(loaded_warehouse, tmp_path, warehouse_url):
    env = {"MUSIC_ETL_WAREHOUSE_URL": warehouse_url}
    command, env = _export_command(env, tmp_path / "tty")
    shown = read_pty(command, env)
    assert "songs" in shown and " rows" in shown and "%|" in shown
    command, env = _export_command({"MUSIC_ETL_WAREHOUSE_URL": warehouse_url}, tmp_path / "pipe")
    piped = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert piped.returncode == 0 and piped.stderr == "" and "\r" not in piped.stdout
