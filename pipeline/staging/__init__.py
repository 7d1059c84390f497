"""Staging storage: ``<staging root>/<stage>/A/B/…`` locally or on S3, by job:

* ``paths``: the root, partition folders, Luigi targets, the S3 client, reading bytes and listing files;
* ``manifests``: each partition stage's completion file, named by its bytes, and the stage listings;
* ``jsonl``: gzipped JSON Lines written atomically, small JSON documents.

What the rest of the pipeline uses is importable from here (``from pipeline import staging``).
"""

from pipeline.staging.jsonl import JsonLinesWriter, read_json, read_jsonl_gz, write_json, write_jsonl_files
from pipeline.staging.manifests import (
    MANIFEST_GLOB,
    ManifestMismatchError,
    ManifestTarget,
    content_digest,
    manifest_digest,
    manifest_folders,
    manifest_index,
    reset_manifest_index,
)
from pipeline.staging.paths import (
    is_s3,
    list_files,
    partition_prefix,
    read_bytes,
    remove_stale_temporaries,
    root,
    s3_client,
    split_s3_path,
    target,
)

__all__ = ["MANIFEST_GLOB", "JsonLinesWriter", "ManifestMismatchError", "ManifestTarget", "content_digest", "is_s3",
           "list_files", "manifest_digest", "manifest_folders", "manifest_index", "partition_prefix", "read_bytes",
           "read_json", "read_jsonl_gz", "remove_stale_temporaries", "reset_manifest_index", "root", "s3_client",
           "split_s3_path", "target", "write_json", "write_jsonl_files"]
