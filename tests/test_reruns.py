"""Reruns that stay right: a load identity that does not trust ETags, and outputs versioned by the
settings and code that made them (a changed threshold re-decides from the answer store; a changed
timeout changes nothing)."""

from __future__ import annotations

import hashlib

import luigi
import pytest

from pipeline import staging
from pipeline.cli import status
from pipeline.sources.spotify.tasks import SpotifyEnrich, SpotifySearch
from pipeline.tasks import ExtractPartition, LoadPartition, RunAll
from pipeline.warehouse.backends import warehouse_backend
from pipeline.warehouse.schema import MARKER_TABLE
from tests.conftest import fresh_process_view, run_luigi
from tests.etag_proxy import EtagRewritingProxy

PARTITIONS = "A/A,A/B"


def load_markers() -> dict[str, tuple]:
    backend = warehouse_backend()
    try:
        rows = backend.query(f"SELECT msd_partition, load_id, loaded_at FROM {MARKER_TABLE} WHERE step = 'load'")
    finally:
        backend.close()
    return {partition: (load_id, str(loaded_at)) for partition, load_id, loaded_at in rows}


@pytest.fixture
def spotify_sandbox(luigi_config, spotify_at, monkeypatch, tmp_path):
    server = spotify_at(mode="development")
    luigi_config.set("warehouse", url=f"duckdb:///{tmp_path}/warehouse.duckdb")
    return server


@pytest.fixture
def etag_proxy(moto_endpoint):
    proxy = EtagRewritingProxy(moto_endpoint).start()
    yield proxy
    proxy.stop()


@pytest.mark.slow
def test_loads_are_recognised_on_an_s3_whose_etags_are_not_md5s(etag_proxy, s3_bucket, luigi_config, sample_root,
                                                                spotify_sandbox):
    bucket, _ = s3_bucket
    luigi_config.set("s3", endpoint_url=etag_proxy.url)
    luigi_config.set("msd", root=sample_root)
    luigi_config.set("staging", root=f"s3://{bucket}/staging")
    assert run_luigi([RunAll(partitions=PARTITIONS)], workers=2).status == luigi.LuigiStatusCode.SUCCESS
    first = load_markers()
    assert set(first) == {"A/A", "A/B"}

    # The store really gives ETags that are not the MD5 of the bytes.
    manifest = ExtractPartition(partition="A/A").output()
    s3 = staging.s3_client().s3.meta.client
    key = staging.split_s3_path(manifest.path)[1]
    etag = s3.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')
    assert etag != hashlib.md5(staging.read_bytes(manifest.path)).hexdigest() and etag.endswith("-3")  # noqa: S324
    assert etag_proxy.rewritten > 0

    # A rerun in a new process: every load is recognised as done, nothing reloads.
    fresh_process_view()
    assert all(LoadPartition(partition=p).complete() for p in PARTITIONS.split(","))
    assert run_luigi([RunAll(partitions=PARTITIONS)]).status == luigi.LuigiStatusCode.SUCCESS
    assert load_markers() == first

    # New staging for one partition (its extraction redone): that partition alone reloads.
    for item in s3.list_objects_v2(Bucket=bucket, Prefix="staging/msd/A/B/")["Contents"]:
        s3.delete_object(Bucket=bucket, Key=item["Key"])
    fresh_process_view()
    assert run_luigi([RunAll(partitions=PARTITIONS)]).status == luigi.LuigiStatusCode.SUCCESS
    after = load_markers()
    assert after["A/A"] == first["A/A"]
    assert after["A/B"][0] != first["A/B"][0]


def match_statuses() -> dict[str, str]:
    backend = warehouse_backend()
    try:
        return dict(backend.query("SELECT track_id, status FROM spotify_matches"))
    finally:
        backend.close()


@pytest.mark.slow
def test_a_changed_threshold_redecides_every_match_from_the_store_and_reloads(local_pipeline, luigi_config,
                                                                               spotify_sandbox, capsys):
    server = spotify_sandbox
    # A strict first pass: songs whose best candidate scores below 0.99 stay unmatched.
    luigi_config.set("spotify", match_threshold=0.99)
    assert run_luigi([RunAll(partitions=PARTITIONS)]).status == luigi.LuigiStatusCode.SUCCESS
    asked = sum(server.state.stats()["requests"].values())
    statuses, markers = match_statuses(), load_markers()
    extractions = {p: ExtractPartition(partition=p).output().path for p in PARTITIONS.split(",")}
    old_enrich = {p: SpotifyEnrich(partition=p).folder for p in PARTITIONS.split(",")}

    luigi_config.set("spotify", match_threshold=0.9)
    fresh_process_view()
    assert status.main() == 0
    out = capsys.readouterr().out
    assert out.count("stale spotify-search staging (match_threshold 0.99 → 0.9)") == 2, out

    assert run_luigi([RunAll(partitions=PARTITIONS)]).status == luigi.LuigiStatusCode.SUCCESS
    assert sum(server.state.stats()["requests"].values()) == asked  # every answer came from the store
    changed = {t for t in statuses if match_statuses()[t] != statuses[t]}
    assert changed and all(match_statuses()[t] == "matched" for t in changed)
    assert {p: ExtractPartition(partition=p).output().path for p in PARTITIONS.split(",")} == extractions
    for partition in PARTITIONS.split(","):
        new = SpotifyEnrich(partition=partition)
        assert new.folder != old_enrich[partition]
        assert SpotifySearch(partition=partition).output().read()[0]["settings"]["match_threshold"] == 0.9
        assert staging.ManifestTarget(old_enrich[partition]).exists()  # the older output is kept
    reloaded = load_markers()
    assert all(reloaded[p][0] != markers[p][0] for p in markers)

    # A setting that cannot change output: nothing is stale, nothing reruns.
    luigi_config.set("spotify", timeout=3, retry_backoff=0.1, max_retry_after=30)
    luigi_config.set("extract", gzip_level=9)
    fresh_process_view()
    assert RunAll(partitions=PARTITIONS).complete()
    assert run_luigi([RunAll(partitions=PARTITIONS)]).status == luigi.LuigiStatusCode.SUCCESS
    assert load_markers() == reloaded
    assert sum(server.state.stats()["requests"].values()) == asked


def test_a_new_msd_root_is_other_input_and_is_extracted_again(local_pipeline, luigi_config, sample_root, tmp_path):
    import shutil

    assert run_luigi([ExtractPartition(partition="B/A")]).status == luigi.LuigiStatusCode.SUCCESS
    before = ExtractPartition(partition="B/A").folder
    moved = tmp_path / "elsewhere"
    shutil.copytree(sample_root, moved)
    luigi_config.set("msd", root=moved)
    fresh_process_view()
    assert not ExtractPartition(partition="B/A").complete()
    assert ExtractPartition(partition="B/A").output_settings()["msd_root"] == str(moved)
    assert ExtractPartition(partition="B/A").folder != before


def test_a_remembered_warehouse_marker_ages_like_any_other_answer(local_pipeline, luigi_config, tmp_path, monkeypatch):
    """A long-lived worker must see a `rerun --force` made by another process: "loaded" is not
    remembered for ever."""
    from pipeline.warehouse.load import record_marker
    from pipeline.warehouse.target import WarehouseMarker

    luigi_config.set("warehouse", url=f"duckdb:///{tmp_path}/warehouse.duckdb")
    backend = warehouse_backend()
    backend.ensure_schema()
    with backend.transaction():
        record_marker(backend, "LoadPartition(A/A)@AA-1", "A/A", "load", "AA-1")
    backend.close()
    marker = WarehouseMarker(warehouse_backend, "LoadPartition(A/A)@AA-1")
    assert marker.exists() and marker.exists_now()
    backend = warehouse_backend()
    with backend.transaction():  # another process's `rerun --force`
        backend.execute(f"DELETE FROM {MARKER_TABLE} WHERE msd_partition = 'A/A'")
    backend.close()
    assert marker.exists()  # within the bound, the listing answers
    monkeypatch.setattr(staging.manifests, "LISTING_MAX_AGE_S", 0.0)
    assert not marker.exists()


@pytest.mark.parametrize("module, name, stage", [("pipeline.tasks.extract", "READER_VERSION", "msd"),
                                                  ("pipeline.sources.spotify.tasks", "MATCHER_VERSION", "spotify")])
def test_a_new_reader_or_matcher_version_is_a_new_output_version_downstream_too(local_pipeline, module, name, stage,
                                                                                 monkeypatch):
    import importlib

    tasks = {"msd": ExtractPartition(partition="A/A"), "spotify": SpotifyEnrich(partition="A/A")}
    before = {s: t.folder for s, t in tasks.items()}
    monkeypatch.setattr(importlib.import_module(module), name, getattr(importlib.import_module(module), name) + 1)
    after = {s: t.folder for s, t in tasks.items()}
    assert after[stage] != before[stage]
    assert after["spotify"] != before["spotify"]  # enrichment follows a new extraction as well
    if stage == "spotify":
        assert after["msd"] == before["msd"]  # a new matcher leaves extraction alone
