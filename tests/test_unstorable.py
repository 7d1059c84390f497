"""Values no warehouse can store (a NUL character, an id longer than its column) quarantine their track at
extraction, named with its file and reason; the rest of the partition loads, on PostgreSQL and DuckDB."""

from __future__ import annotations

import os
import shutil

import luigi
import pytest

from pipeline.cli.run import run_summary
from pipeline.msd import schema
from pipeline.standins.msd_sample import SampleGenerator
from pipeline.standins.msd_writer import write_msd_file
from pipeline.tasks import LoadPartition
from pipeline.warehouse.backends import warehouse_backend
from pipeline.warehouse.storable import why_not
from pipeline.warehouse.table import Column
from tests.conftest import run_luigi, staged_manifest


def test_why_not_names_the_column_and_measures_bytes_as_redshift_does():
    varchar = Column("artist_id", "VARCHAR(18)", False)
    assert why_not("ARTTLGN197ADA28075", varchar) is None
    assert "is 27 bytes" in why_not("AR" + "X" * 25, varchar)
    assert "is 20 bytes" in why_not("ARTTLGN197ADA2807" + "é" * 1 + "X", varchar)  # 19 characters, 20 bytes
    assert "NUL character" in why_not("Love\x00Song", Column("title", "VARCHAR(1024)", False))
    assert "NUL character" in why_not(["a", "b\x00"], Column("segments", "{{JSON}}", False))
    assert why_not(["a", "b"], Column("segments", "{{JSON}}", False)) is None
    assert why_not(3, varchar) is None and why_not(None, varchar) is None


@pytest.mark.slow
@pytest.mark.parametrize("warehouse_url", ["duckdb", "postgresql"], indirect=True)
def test_a_nul_title_and_an_overlong_artist_id_are_quarantined_and_the_rest_loads(
        luigi_config, sample_root, spotify_at, tmp_path, warehouse_url):
    root = tmp_path / "msd"
    shutil.copytree(os.path.join(sample_root, "A", "A"), root / "A" / "A")
    generator = SampleGenerator(77)
    tracks = generator.plan(2, ["A/A"])
    nul, overlong = (generator.song_data(track, i, 2) for i, track in enumerate(tracks))
    nul.metadata["title"] = b"Love\x00Song"
    overlong.metadata["artist_id"] = b"AR" + b"X" * 25
    for data in (nul, overlong):
        path = root / schema.track_relpath(data.analysis["track_id"].decode())
        path.parent.mkdir(parents=True, exist_ok=True)
        write_msd_file(str(path), [data])
    luigi_config.set("msd", root=root).set("staging", root=tmp_path / "staging")
    spotify_at(mode="development")

    assert run_luigi([LoadPartition(partition="A/A")]).status == luigi.LuigiStatusCode.SUCCESS
    manifest = staged_manifest(str(tmp_path / "staging"), "msd", "A/A")
    by_track = {q["track_id"]: q for q in manifest["quarantined"]}
    assert set(by_track) == {tracks[0].track_id, tracks[1].track_id}
    assert "title holds a NUL character" in by_track[tracks[0].track_id]["reason"]
    assert f"artist_id '{overlong.metadata['artist_id'].decode()}' is 27 bytes" in by_track[tracks[1].track_id]["reason"]
    assert all(q["path"].startswith("A/A/") and q["path"].endswith(".h5") for q in manifest["quarantined"])
    files = sum(len(files) for _, _, files in os.walk(root))
    assert manifest["counts"] == {**manifest["counts"], "files": files, "tracks": files - 2, "quarantined": 2}
    summary, failed = run_summary(before={"A/A": "ExtractPartition(A/A)"}, after={"A/A": None})
    assert not failed and "quarantined, not loaded: 2 MSD file(s) in A/A" in summary
    backend = warehouse_backend()
    try:
        assert backend.scalar("SELECT count(*) FROM songs") == files - 2
        assert backend.scalar(f"SELECT count(*) FROM songs WHERE track_id IN ('{tracks[0].track_id}', "
                              f"'{tracks[1].track_id}')") == 0
        assert backend.scalar("SELECT count(*) FROM enriched_songs") == files - 2
    finally:
        backend.close()


def test_a_source_string_is_fitted_before_it_is_staged():
    from pipeline.warehouse.storable import fitted

    assert fitted("Love\x00Song", Column("title", "VARCHAR(1024)", False)) == ("LoveSong", "NUL characters removed")
    assert fitted("é" * 6, Column("label", "VARCHAR(5)", False)) == ("éé", "cut to VARCHAR(5)")  # whole characters
    assert fitted(["pop", "r\x00ock"], Column("genres", "{{JSON}}", False)) == (["pop", "rock"], "NUL characters removed")
    assert fitted("fine", Column("title", "VARCHAR(1024)", False)) == ("fine", None)


@pytest.mark.slow
@pytest.mark.parametrize("warehouse_url", ["duckdb", "postgresql"], indirect=True)
def test_a_nul_in_a_sources_answer_is_removed_and_the_partition_loads(luigi_config, local_pipeline, spotify_at,
                                                                     deezer_catalog, tmp_path, warehouse_url):
    import copy
    import dataclasses

    from pipeline.sources.deezer.tasks import DeezerEnrich
    from pipeline.standins.deezer_sandbox import DeezerSandboxServer, DeezerState
    from tests.conftest import deezer_config

    spotify_at(mode="development")
    catalog = copy.deepcopy(deezer_catalog)
    catalog.albums = {i: dataclasses.replace(a, title=a.title + "\x00 (bonus)") for i, a in catalog.albums.items()}
    server = DeezerSandboxServer(DeezerState(catalog, rate_limit=None)).start()
    try:
        luigi_config.set("deezer", **deezer_config(server, tmp_path))
        assert run_luigi([LoadPartition(partition="A/A")]).status == luigi.LuigiStatusCode.SUCCESS
    finally:
        server.stop()
    manifest = DeezerEnrich(partition="A/A").output().read()[0]
    albums = manifest["fitted_values"]["deezer_albums.title: NUL characters removed"]
    assert albums == manifest["rows"]["albums.jsonl.gz"] > 0
    backend = warehouse_backend()
    try:
        titles = [r[0] for r in backend.query("SELECT title FROM deezer_albums")]
    finally:
        backend.close()
    assert len(titles) == albums and all(t.endswith(" (bonus)") and "\x00" not in t for t in titles)
