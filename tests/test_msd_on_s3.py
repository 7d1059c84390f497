"""The MSD read straight from S3 (the moto server): partitions listed, files read into memory with the
same reader, checks and quarantine, and the same staged records as from a local copy."""

from __future__ import annotations

import glob
import gzip
import json
import os

import luigi
import pytest

from pipeline import forget_listings
from pipeline.errors import MissingPartitionError
from pipeline.partitions import check_selection, discover_partitions, input_id
from pipeline.tasks import ExtractAll, ExtractPartition
from tests.conftest import run_luigi, stage_folder, staged_manifest


def upload(client, bucket: str, local_root: str, prefix: str) -> list[str]:
    keys = []
    for path in sorted(glob.glob(os.path.join(local_root, "*", "*", "*", "*.h5"))):
        key = f"{prefix}/{os.path.relpath(path, local_root)}"
        client.upload_file(path, bucket, key)
        keys.append(key)
    return keys


def staged_records(staging_root: str, partition: str) -> dict[str, list]:
    folder = stage_folder(staging_root, "msd", partition)
    out = {}
    for path in sorted(glob.glob(os.path.join(folder, "*.jsonl.gz"))):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            out[os.path.basename(path)] = [json.loads(line) for line in fh]
    return out


@pytest.fixture
def msd_on_s3(s3_bucket, sample_root, luigi_config, tmp_path):
    bucket, client = s3_bucket
    upload(client, bucket, sample_root, "msd")
    luigi_config.set("msd", root=f"s3://{bucket}/msd")
    luigi_config.set("staging", root=str(tmp_path / "staging"))
    return bucket, client, str(tmp_path / "staging")


def test_partitions_on_s3_are_listed_and_checked(msd_on_s3, sample_root):
    bucket, _, _ = msd_on_s3
    root = f"s3://{bucket}/msd"
    assert discover_partitions(root) == discover_partitions(sample_root) == ["A/A", "A/B", "B/A"]
    assert check_selection("A/A,B/A", root) == ["A/A", "B/A"]
    with pytest.raises(MissingPartitionError, match=f"s3://{bucket}/msd/C/C"):
        check_selection("C/C", root)


def test_extraction_from_s3_stages_what_a_local_copy_stages(msd_on_s3, sample_root, luigi_config, tmp_path):
    bucket, client, staging_root = msd_on_s3
    # A damaged object among the real ones: empty, and truncated.
    good = sorted(k["Key"] for k in client.list_objects_v2(Bucket=bucket, Prefix="msd/A/B/")["Contents"])
    leaf = good[0].rsplit("/", 1)[0]
    letter = leaf.rsplit("/", 1)[1]
    client.put_object(Bucket=bucket, Key=f"{leaf}/TRAB{letter}AA128F0000001.h5", Body=b"")
    data = client.get_object(Bucket=bucket, Key=good[0])["Body"].read()
    client.put_object(Bucket=bucket, Key=f"{leaf}/TRAB{letter}AB128F0000002.h5", Body=data[:5000])
    assert run_luigi([ExtractAll()]).status == luigi.LuigiStatusCode.SUCCESS
    from_s3 = {p: staged_records(staging_root, p) for p in ("A/A", "A/B", "B/A")}
    manifest = staged_manifest(staging_root, "msd", "A/B")
    reasons = {q["path"][-11:]: q["reason"] for q in manifest["quarantined"]}
    assert "empty file" in reasons["F0000001.h5"]
    assert "truncated" in reasons["F0000002.h5"] or "corrupt" in reasons["F0000002.h5"]
    assert all(q["path"].startswith("A/B/") for q in manifest["quarantined"])
    assert manifest["msd_folder"] == f"s3://{bucket}/msd/A/B"
    assert manifest["settings"]["msd_root"] == f"s3://{bucket}/msd"

    luigi_config.set("msd", root=sample_root)
    luigi_config.set("staging", root=str(tmp_path / "local-staging"))
    assert run_luigi([ExtractAll()]).status == luigi.LuigiStatusCode.SUCCESS
    local = {p: staged_records(str(tmp_path / "local-staging"), p) for p in ("A/A", "A/B", "B/A")}
    assert from_s3 == local and sum(len(r["songs.jsonl.gz"]) for r in local.values()) == 90


def test_an_object_added_on_s3_changes_its_partitions_input_alone(msd_on_s3, sample_root):
    bucket, client, _ = msd_on_s3
    root = f"s3://{bucket}/msd"
    before = {p: input_id(root, p) for p in ("A/A", "A/B")}
    key = sorted(k["Key"] for k in client.list_objects_v2(Bucket=bucket, Prefix="msd/A/A/")["Contents"])[0]
    client.copy_object(Bucket=bucket, Key=key.replace(".h5", "X.h5"), CopySource={"Bucket": bucket, "Key": key})
    forget_listings()
    assert input_id(root, "A/A") != before["A/A"] and input_id(root, "A/B") == before["A/B"]


def test_the_subsets_data_folder_is_found_on_s3_too(s3_bucket, sample_root, luigi_config, tmp_path):
    bucket, client = s3_bucket
    upload(client, bucket, sample_root, "MillionSongSubset/data")
    luigi_config.set("msd", root=f"s3://{bucket}/MillionSongSubset")
    luigi_config.set("staging", root=str(tmp_path / "staging"))
    assert discover_partitions(f"s3://{bucket}/MillionSongSubset") == ["A/A", "A/B", "B/A"]
    assert run_luigi([ExtractPartition(partition="B/A")]).status == luigi.LuigiStatusCode.SUCCESS
    assert staged_manifest(str(tmp_path / "staging"), "msd", "B/A")["counts"]["quarantined"] == 0
