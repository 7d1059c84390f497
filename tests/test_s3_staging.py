"""Staging on S3 through luigi.contrib.s3, against moto in server mode (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import gzip
import json

import luigi
import pytest

from pipeline import staging
from pipeline.msd import extract as extract_module
from pipeline.tasks import ExtractAll, ExtractPartition
from tests.conftest import run_luigi


def _keys(client, bucket, prefix=""):
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))


@pytest.fixture
def s3_pipeline(s3_bucket, luigi_config, sample_root):
    bucket, client = s3_bucket
    luigi_config.set("msd", root=sample_root)
    luigi_config.set("staging", root=f"s3://{bucket}/staging/")
    return bucket, client


def test_extract_writes_the_partition_to_s3(s3_pipeline):
    bucket, client = s3_pipeline
    assert run_luigi([ExtractPartition(partition="A/A")]).status == luigi.LuigiStatusCode.SUCCESS
    prefix = "staging/msd/A/A/"
    assert _keys(client, bucket, prefix) == [prefix + n for n in (
        "_manifest.json", "artist_mbtags.jsonl.gz", "artist_terms.jsonl.gz", "artists.jsonl.gz",
        "similar_artists.jsonl.gz", "songs.jsonl.gz")]
    manifest = json.loads(client.get_object(Bucket=bucket, Key=prefix + "_manifest.json")["Body"].read())
    songs = gzip.decompress(client.get_object(Bucket=bucket, Key=prefix + "songs.jsonl.gz")["Body"].read()).splitlines()
    assert len(songs) == manifest["counts"]["tracks"] > 0
    assert staging.read_jsonl_gz(staging.target(f"s3://{bucket}/staging/msd/A/A/songs.jsonl.gz"))[0]["msd_partition"] == "A/A"


def test_rerun_against_s3_does_nothing(s3_pipeline):
    bucket, client = s3_pipeline
    run_luigi([ExtractPartition(partition="A/B")])
    before = client.head_object(Bucket=bucket, Key="staging/msd/A/B/_manifest.json")["ETag"]
    luigi.task_register.Register.clear_instance_cache()
    assert run_luigi([ExtractPartition(partition="A/B")]).status == luigi.LuigiStatusCode.SUCCESS
    assert client.head_object(Bucket=bucket, Key="staging/msd/A/B/_manifest.json")["ETag"] == before


def test_two_worker_processes_share_the_s3_endpoint(s3_pipeline):
    bucket, client = s3_pipeline
    result = run_luigi([ExtractAll()], workers=2)
    assert result.status == luigi.LuigiStatusCode.SUCCESS
    manifests = [k for k in _keys(client, bucket, "staging/msd/") if k.endswith("_manifest.json")]
    assert manifests == [f"staging/msd/{p}/_manifest.json" for p in ("A/A", "A/B", "B/A")]


def test_a_crash_leaves_nothing_in_the_bucket(s3_pipeline, monkeypatch):
    bucket, client = s3_pipeline

    def failing_read(path, expect_single_track=False):
        raise OSError("disk vanished")

    monkeypatch.setattr(extract_module, "read_msd_file", failing_read)
    assert run_luigi([ExtractPartition(partition="B/A")]).status == luigi.LuigiStatusCode.FAILED
    assert _keys(client, bucket, "staging/msd/B/A/") == []


def test_blank_s3_keys_are_not_passed_to_boto3(luigi_config):
    luigi_config.set("s3", endpoint_url="", region_name="eu-west-1")
    client = staging.StagingS3Client()
    assert "endpoint_url" not in client._options and client._options["region_name"] == "eu-west-1"
    assert client.s3.meta.client.meta.region_name == "eu-west-1"  # boto3 accepts the options


def _count_calls():
    """Counts S3 API calls by operation name, through botocore's own event hook."""
    calls: dict[str, int] = {}

    def count(event_name, **kwargs):
        operation = event_name.rsplit(".", 1)[1]
        calls[operation] = calls.get(operation, 0) + 1
    staging.s3_client().s3.meta.client.meta.events.register("before-call.s3.*", count)
    return calls


def test_manifest_existence_comes_from_one_listing_per_stage(s3_pipeline):
    bucket, client = s3_pipeline
    for p in ("A/A", "A/C", "B/B"):
        client.put_object(Bucket=bucket, Key=f"staging/msd/{p}/_manifest.json", Body=b"{}")
    client.put_object(Bucket=bucket, Key="staging/msd/A/A/songs.jsonl.gz", Body=b"")
    calls = _count_calls()
    answers = {p: staging.ManifestTarget(f"s3://{bucket}/staging/msd/{p}/_manifest.json").exists()
               for p in ("A/A", "A/B", "A/C", "B/A", "B/B")}
    assert answers == {"A/A": True, "A/B": False, "A/C": True, "B/A": False, "B/B": True}
    assert calls == {"ListObjectsV2": 1}  # no HEAD per target, no folder checks


def test_a_listing_is_trusted_for_a_few_seconds_then_asked_again(s3_pipeline, monkeypatch):
    bucket, client = s3_pipeline
    target = staging.ManifestTarget(f"s3://{bucket}/staging/msd/A/B/_manifest.json")
    assert not target.exists()
    client.put_object(Bucket=bucket, Key="staging/msd/A/B/_manifest.json", Body=b"{}")  # another process
    assert not target.exists()  # the listing is seconds old: "missing" is believed
    assert target.exists_now()  # the store itself
    staging.reset_manifest_index()
    assert not staging.ManifestTarget(f"s3://{bucket}/staging/msd/A/C/_manifest.json").exists()
    monkeypatch.setattr(staging.ManifestIndex, "MAX_AGE_S", 0.0)
    client.put_object(Bucket=bucket, Key="staging/msd/A/C/_manifest.json", Body=b"{}")
    assert staging.ManifestTarget(f"s3://{bucket}/staging/msd/A/C/_manifest.json").exists()


def test_what_this_process_writes_is_known_at_once_with_the_etag_s3_gives(s3_pipeline):
    bucket, client = s3_pipeline
    path = f"s3://{bucket}/staging/spotify/B/A/_manifest.json"
    target = staging.ManifestTarget(path)
    assert not target.exists() and target.content_id() is None
    staging.write_json(target, {"partition": "B/A"})
    assert target.exists()
    written = target.content_id()
    staging.reset_manifest_index()  # what another process would list
    assert staging.ManifestTarget(path).content_id() == written
    head = client.head_object(Bucket=bucket, Key="staging/spotify/B/A/_manifest.json")
    assert head["ETag"].strip('"') == written


def test_writing_a_manifest_does_not_list_the_stage(s3_pipeline):
    bucket, _ = s3_pipeline
    calls = _count_calls()
    target = staging.ManifestTarget(f"s3://{bucket}/staging/msd/B/A/_manifest.json")
    staging.write_json(target, {"partition": "B/A"})
    assert target.exists() and calls == {"PutObject": 1}


def test_the_load_id_from_the_listing_equals_the_one_from_the_bytes(s3_pipeline):
    """LoadPartition's completeness (listing ETags) and its load (bytes read) must name the same load."""
    from pipeline.warehouse.load import load_id_for, read_manifests

    bucket, _ = s3_pipeline
    for stage in ("msd", "spotify"):
        staging.write_json(staging.ManifestTarget(f"s3://{bucket}/staging/{stage}/A/B/_manifest.json"),
                           {"stage": stage, "partition": "A/B"})
    staging.reset_manifest_index()  # as another process would see it
    assert load_id_for("A/B") == read_manifests("A/B").load_id is not None
