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
