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
    folder = ExtractPartition(partition="A/A").folder
    prefix = folder.split(f"s3://{bucket}/", 1)[1] + "/"
    keys = _keys(client, bucket, "staging/msd/A/A/")
    manifest_key = next(k for k in keys if "/_manifest-" in k)
    assert keys == sorted([manifest_key] + [prefix + n for n in (
        "artist_mbtags.jsonl.gz", "artist_terms.jsonl.gz", "artists.jsonl.gz", "similar_artists.jsonl.gz",
        "songs.jsonl.gz")])
    body = client.get_object(Bucket=bucket, Key=manifest_key)["Body"].read()
    assert manifest_key.endswith(f"/_manifest-{staging.content_digest(body)}.json")  # named by its own bytes
    manifest = json.loads(body)
    songs = gzip.decompress(client.get_object(Bucket=bucket, Key=prefix + "songs.jsonl.gz")["Body"].read()).splitlines()
    assert len(songs) == manifest["counts"]["tracks"] > 0
    assert staging.read_jsonl_gz(staging.target(f"{folder}/songs.jsonl.gz"))[0]["msd_partition"] == "A/A"


def test_rerun_against_s3_does_nothing(s3_pipeline):
    bucket, client = s3_pipeline
    run_luigi([ExtractPartition(partition="A/B")])
    before = _keys(client, bucket, "staging/msd/A/B/")
    luigi.task_register.Register.clear_instance_cache()
    assert run_luigi([ExtractPartition(partition="A/B")]).status == luigi.LuigiStatusCode.SUCCESS
    assert _keys(client, bucket, "staging/msd/A/B/") == before


def test_two_worker_processes_share_the_s3_endpoint(s3_pipeline):
    bucket, client = s3_pipeline
    result = run_luigi([ExtractAll()], workers=2)
    assert result.status == luigi.LuigiStatusCode.SUCCESS
    manifests = [k for k in _keys(client, bucket, "staging/msd/") if "/_manifest-" in k]
    assert [k.split("/")[2:4] for k in manifests] == [["A", "A"], ["A", "B"], ["B", "A"]]


def test_a_crash_leaves_nothing_in_the_bucket(s3_pipeline, monkeypatch):
    bucket, client = s3_pipeline

    def failing_read(path, expect_single_track=False):
        raise OSError("disk vanished")

    monkeypatch.setattr(extract_module, "read_msd_file", failing_read)
    assert run_luigi([ExtractPartition(partition="B/A")]).status == luigi.LuigiStatusCode.FAILED
    assert _keys(client, bucket, "staging/msd/B/A/") == []


def test_blank_s3_keys_are_not_passed_to_boto3(luigi_config, monkeypatch):
    monkeypatch.delenv("MUSIC_ETL_S3_ENDPOINT_URL", raising=False)
    luigi_config.set("s3", endpoint_url="", region_name="eu-west-1")
    client = staging.s3_client()
    assert client.s3.meta.client.meta.region_name == "eu-west-1"  # boto3 accepts the options
    assert client.s3.meta.client.meta.endpoint_url == "https://s3.eu-west-1.amazonaws.com"  # blank: AWS itself


def _count_calls():
    """Counts S3 API calls by operation name, through botocore's own event hook."""
    calls: dict[str, int] = {}

    def count(event_name, **kwargs):
        operation = event_name.rsplit(".", 1)[1]
        calls[operation] = calls.get(operation, 0) + 1
    staging.s3_client().s3.meta.client.meta.events.register("before-call.s3.*", count)
    return calls


def _put_manifest(client, bucket, folder_key, body=b"{}"):
    key = f"{folder_key}/_manifest-{staging.content_digest(body)}.json"
    client.put_object(Bucket=bucket, Key=key, Body=body)
    return key


def test_manifest_existence_comes_from_one_listing_per_stage(s3_pipeline):
    bucket, client = s3_pipeline
    for p in ("A/A", "A/C", "B/B"):
        _put_manifest(client, bucket, f"staging/msd/{p}/v-1")
    client.put_object(Bucket=bucket, Key="staging/msd/A/A/v-1/songs.jsonl.gz", Body=b"")
    client.put_object(Bucket=bucket, Key="staging/msd/A/B/v-1/_manifest.json", Body=b"{}")  # not named by a digest
    calls = _count_calls()
    answers = {p: staging.ManifestTarget(f"s3://{bucket}/staging/msd/{p}/v-1").exists()
               for p in ("A/A", "A/B", "A/C", "B/A", "B/B")}
    assert answers == {"A/A": True, "A/B": False, "A/C": True, "B/A": False, "B/B": True}
    assert calls == {"ListObjectsV2": 1}  # no HEAD per target, no folder checks


def test_every_listed_answer_is_asked_again_once_it_is_older_than_the_bound(s3_pipeline, monkeypatch):
    bucket, client = s3_pipeline
    monkeypatch.setattr(staging.manifests, "FRESH_LISTING_S", 0.0)  # the check before work: the store itself
    target = staging.ManifestTarget(f"s3://{bucket}/staging/msd/A/B/v-1")
    assert not target.exists()
    key = _put_manifest(client, bucket, "staging/msd/A/B/v-1")  # another process
    assert not target.exists()  # the listing is seconds old: it is believed
    assert target.exists_now()  # the store itself
    assert target.exists()  # and what the store said is remembered
    client.delete_object(Bucket=bucket, Key=key)  # `rerun --force` in another process
    assert target.exists()  # within the bound
    monkeypatch.setattr(staging.manifests, "LISTING_MAX_AGE_S", 0.0)
    assert not target.exists()  # a "present" answer ages too
    _put_manifest(client, bucket, "staging/msd/A/B/v-1")
    assert target.exists()  # and so does "missing"


def test_what_this_process_writes_is_known_at_once_and_named_by_its_bytes(s3_pipeline):
    bucket, client = s3_pipeline
    folder = f"s3://{bucket}/staging/spotify/B/A/v-1"
    target = staging.ManifestTarget(folder)
    assert not target.exists() and target.content_id() is None
    written = target.write({"partition": "B/A"})
    assert target.exists() and target.content_id() == written
    staging.reset_manifest_index()  # what another process would list
    assert staging.ManifestTarget(folder).content_id() == written
    assert staging.ManifestTarget(folder).read() == ({"partition": "B/A"}, written)


def test_writing_a_manifest_does_not_list_the_stage(s3_pipeline):
    bucket, _ = s3_pipeline
    calls = _count_calls()
    target = staging.ManifestTarget(f"s3://{bucket}/staging/msd/B/A/v-1")
    target.write({"partition": "B/A"})
    assert calls == {"PutObject": 1}


def test_a_manifest_changed_after_it_was_written_is_refused_naming_it(s3_pipeline):
    bucket, client = s3_pipeline
    key = _put_manifest(client, bucket, "staging/msd/B/A/v-1", b'{"partition": "B/A"}')
    client.put_object(Bucket=bucket, Key=key, Body=b'{"partition": "B/B"}')
    with pytest.raises(staging.ManifestMismatchError, match=key.rsplit("/", 1)[1]):
        staging.ManifestTarget(f"s3://{bucket}/staging/msd/B/A/v-1").read()


def test_the_load_id_from_the_listing_equals_the_one_from_the_bytes(s3_pipeline):
    """LoadPartition's completeness (the listing) and its load (bytes read) must name the same load."""
    from pipeline.warehouse.load import load_id_for, read_manifests

    bucket, _ = s3_pipeline
    manifests = {stage: staging.ManifestTarget(f"s3://{bucket}/staging/{stage}/A/B/v-1") for stage in ("msd", "spotify")}
    for target in manifests.values():
        target.write({"stage": target.folder, "partition": "A/B"})
    staging.reset_manifest_index()  # as another process would see it
    assert load_id_for("A/B", manifests) == read_manifests("A/B", manifests).load_id is not None


def test_the_check_before_work_asks_the_store_or_a_listing_of_the_last_seconds(s3_pipeline, monkeypatch):
    bucket, client = s3_pipeline
    _put_manifest(client, bucket, "staging/msd/A/A/v-1")
    calls = _count_calls()
    assert staging.ManifestTarget(f"s3://{bucket}/staging/msd/A/B/v-1").exists_now() is False
    assert calls == {"ListObjectsV2": 1}  # no listing in this process: one LIST of the folder
    assert not staging.ManifestTarget(f"s3://{bucket}/staging/msd/A/C/v-1").exists()  # lists the stage
    _put_manifest(client, bucket, "staging/msd/A/C/v-1")  # another process, just now
    calls.clear()
    assert not staging.ManifestTarget(f"s3://{bucket}/staging/msd/A/C/v-1").exists_now()  # a listing seconds old
    assert calls == {}
    monkeypatch.setattr(staging.manifests, "FRESH_LISTING_S", 0.0)
    assert staging.ManifestTarget(f"s3://{bucket}/staging/msd/A/C/v-1").exists_now()
    assert calls == {"ListObjectsV2": 1}  # a one-page stage is listed again: one request answers every folder
    assert staging.ManifestTarget(f"s3://{bucket}/staging/msd/A/A/v-1").exists()
