"""Extract one MSD letter partition into staged, gzipped JSON Lines.

Outputs under ``<staging root>/msd/A/B/`` (the layout is in README.md):

* ``songs.jsonl.gz``: one object per track, every reader field plus ``msd_partition``;
* ``artists.jsonl.gz``: one object per artist_id met in the partition (artist scalar fields);
* ``artist_terms.jsonl.gz``, ``artist_mbtags.jsonl.gz``, ``similar_artists.jsonl.gz``: the
  artist-level arrays flattened to rows, ready for the warehouse's tables;
* the manifest (returned; the task writes it last, as ``_manifest-<digest>.json``): counts,
  quarantined files, warnings, schema and reader versions. Its presence is what "this
  partition is extracted" means.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import orjson

from pipeline.errors import InvalidMSDFileError, MissingPartitionError, QuarantineError
from pipeline.msd.reader import READER_VERSION, read_msd_file
from pipeline.partitions import is_s3, join, resolve_msd_root, s3_objects, validate_partition

# Bump when a staged file gains, loses or changes a field: downstream stages key on it.
SCHEMA_VERSION = 1

ARTIST_FIELDS = (
    "artist_id", "artist_name", "artist_mbid", "artist_familiarity", "artist_hotttnesss",
    "artist_latitude", "artist_longitude", "artist_location", "artist_7digitalid", "artist_playmeid",
)
ARTIST_ARRAYS = ("artist_terms", "artist_terms_freq", "artist_terms_weight", "similar_artists",
                 "artist_mbtags", "artist_mbtags_count")

OUTPUT_FILES = ("songs", "artists", "artist_terms", "artist_mbtags", "similar_artists")
MAX_LISTED_WARNINGS = 200
# GETs in flight while a partition on S3 is read: a track file is ~30 KB, so what bounds the speed
# is the round trip, not the bytes; this many at once keeps the reader busy.
S3_READS_IN_FLIGHT = 16


def output_name(kind: str) -> str:
    return f"{kind}.jsonl.gz"


def partition_folder(msd_root: str, partition: str) -> str:
    return join(resolve_msd_root(msd_root), *partition.split("/"))


def list_partition_files(msd_root: str, partition: str) -> list[str]:
    """``<root>/A/B/*/*.h5``, sorted, so outputs are in a stable order."""
    validate_partition(partition)
    folder = partition_folder(msd_root, partition)
    if is_s3(folder):
        objects = s3_objects(folder)
        if not objects:  # on S3 a folder is its keys: none, no partition
            raise MissingPartitionError(partition, folder, msd_root)
        return sorted(o["path"] for o in objects
                      if o["path"].endswith(".h5") and o["path"][len(folder) + 1:].count("/") == 1)
    if not os.path.isdir(folder):
        raise MissingPartitionError(partition, folder, msd_root)
    files = []
    with os.scandir(folder) as leaves:
        for leaf in leaves:
            if not leaf.is_dir():
                continue
            with os.scandir(leaf.path) as entries:
                files.extend(e.path for e in entries if e.name.endswith(".h5") and e.is_file())
    return sorted(files)


def _s3_images(paths: list[str]) -> Iterator[tuple[str, bytes | Exception]]:
    """Each S3 file's bytes (or the error reading it), in order, with a few GETs always in flight
    and never more than that many files in memory."""
    from pipeline import staging

    client = staging.s3_client().s3.meta.client  # boto3 clients may be shared by threads; resources not

    def get(path: str) -> bytes | Exception:
        bucket, key = staging.split_s3_path(path)
        try:
            return client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as exc:  # noqa: BLE001 - the file is quarantined with the reason, as a local one would be
            return exc
    with ThreadPoolExecutor(max_workers=S3_READS_IN_FLIGHT) as pool:
        pending: deque = deque()
        for path in paths:
            pending.append((path, pool.submit(get, path)))
            if len(pending) >= S3_READS_IN_FLIGHT:
                done_path, future = pending.popleft()
                yield done_path, future.result()
        while pending:
            done_path, future = pending.popleft()
            yield done_path, future.result()


def _read_each(paths: list[str]) -> Iterator[tuple[str, object]]:
    """(path, ``ReadResult`` or the ``InvalidMSDFileError`` that quarantines it), in order."""
    images = _s3_images(paths) if paths and is_s3(paths[0]) else ((p, None) for p in paths)
    for path, image in images:
        try:
            if isinstance(image, Exception):
                raise InvalidMSDFileError(path, f"cannot read the object: {image}")
            yield path, read_msd_file(path, expect_single_track=True, image=image)
        except InvalidMSDFileError as exc:
            yield path, exc


class _ArtistCollector:
    """First occurrence of each artist wins; later tracks that disagree are reported, not merged."""

    def __init__(self):
        self.artists: dict[str, dict] = {}
        self.conflicts: list[dict] = []

    def add(self, record: dict) -> None:
        artist_id = record["artist_id"]
        if artist_id is None:
            return
        seen = self.artists.get(artist_id)
        if seen is None:
            self.artists[artist_id] = {k: record[k] for k in ARTIST_FIELDS + ARTIST_ARRAYS}
            self.artists[artist_id]["_first_track"] = record["track_id"]
            return
        differing = [k for k in ARTIST_FIELDS + ARTIST_ARRAYS if seen[k] != record[k]]
        if differing:
            self.conflicts.append({"artist_id": artist_id, "track_id": record["track_id"],
                                   "kept_from_track": seen["_first_track"], "fields": differing})

    def write(self, writers: dict) -> None:
        # The per-artist lists are ~80 small rows a track; a dict and a writer call per row cost
        # ~17 µs a track more (2% of extraction). Each value is still JSON-encoded by orjson (so
        # escaping and NaN-as-null stay orjson's) and the fixed-shape rows are assembled as bytes:
        # the bytes orjson writes for the dicts (tests/test_extract_task.py compares them).
        for artist_id in sorted(self.artists):
            a = self.artists[artist_id]
            writers["artists"].write({k: a[k] for k in ARTIST_FIELDS})
            aid = orjson.dumps(artist_id)
            # strict zips: the reader refuses files whose parallel arrays disagree; this keeps the pairing honest here too
            terms = zip(_json_each(a["artist_terms"]), _json_numbers(a["artist_terms_freq"]),
                        _json_numbers(a["artist_terms_weight"]), strict=True)
            writers["artist_terms"].write_lines([b'{"artist_id":%b,"term":%b,"freq":%b,"weight":%b}\n' % (aid, term, freq, weight)
                                                 for term, freq, weight in terms])
            tags = zip(_json_each(a["artist_mbtags"]), _json_numbers(a["artist_mbtags_count"]), strict=True)
            writers["artist_mbtags"].write_lines([b'{"artist_id":%b,"mbtag":%b,"count":%b}\n' % (aid, tag, count)
                                                  for tag, count in tags])
            writers["similar_artists"].write_lines([
                b'{"artist_id":%b,"similar_artist_id":%b,"rank":%d}\n' % (aid, similar_id, rank)
                for rank, similar_id in enumerate(_json_each(a["similar_artists"]), start=1)])


def _relative(path: str, base: str) -> str:
    return path[len(base.rstrip("/")) + 1:] if is_s3(path) else os.path.relpath(path, base)


def _absolute(path: str) -> str:
    return path if is_s3(path) else os.path.abspath(path)


def _json_each(strings: list | None) -> list[bytes]:
    return [orjson.dumps(value) for value in strings or []]


def _json_numbers(numbers: list | None) -> list[bytes]:
    # A JSON array of numbers (and nulls) has no comma but its separators.
    return orjson.dumps(numbers)[1:-1].split(b",") if numbers else []


def _storable_check():
    """What the MSD tables' columns accept, for records before they are staged (pipeline/warehouse/storable.py)."""
    from pipeline.warehouse.schema import MSD_TABLES, table_columns
    from pipeline.warehouse.storable import RecordCheck

    columns = table_columns()
    by_name = {t.name: {c.name: c for c in columns[t.name]} for t in MSD_TABLES}
    fields = {name: column for name, column in by_name["songs"].items() if name not in ("msd_partition", "load_id")}
    fields.update({name: by_name["artists"][name] for name in ARTIST_FIELDS if name in by_name["artists"]})
    return RecordCheck(fields, lists={"artist_terms": by_name["artist_terms"]["term"],
                                      "artist_mbtags": by_name["artist_mbtags"]["mbtag"],
                                      "similar_artists": by_name["similar_artists"]["similar_artist_id"]})


def extract_partition(
    msd_root: str,
    partition: str,
    open_writer: Callable[[str], object],
    fail_on_quarantine: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Read every track of ``partition`` and write the staged files; return the manifest to write.

    ``open_writer(file_name)`` returns an object with ``write(record)``, ``commit()`` and
    ``abort()`` (``staging.JsonLinesWriter``). If anything fails, every writer is aborted, so
    no staged file of this run appears.
    """
    started = datetime.now(UTC)
    files = list_partition_files(msd_root, partition)
    base = resolve_msd_root(msd_root)
    writers = {}
    try:
        for kind in OUTPUT_FILES:
            writers[kind] = open_writer(output_name(kind))
        quarantined, warnings, n_warnings = [], [], 0
        artists = _ArtistCollector()
        storable = _storable_check()
        for i, (path, result) in enumerate(_read_each(files), start=1):
            if isinstance(result, InvalidMSDFileError):
                quarantined.append({"path": _relative(path, base), "reason": result.reason})
                continue
            record = result.records[0]
            # A value no warehouse could store would fail the partition's load on every rerun: the
            # track waits here instead, named with its file, and the rest of the partition goes on.
            unstorable = storable.why_not(record)
            if unstorable is not None:
                quarantined.append({"path": _relative(path, base), "track_id": record["track_id"],
                                    "reason": f"cannot be loaded: {unstorable}"})
                continue
            record["msd_partition"] = partition
            writers["songs"].write(record)
            artists.add(record)
            n_warnings += len(result.warnings)
            for w in result.warnings[: max(0, MAX_LISTED_WARNINGS - len(warnings))]:
                warnings.append({**w, "path": _relative(path, base)})
            if progress and (i % 100 == 0 or i == len(files)):
                progress(i, len(files))
        if quarantined and fail_on_quarantine:
            raise QuarantineError(partition, quarantined)
        artists.write(writers)
        for writer in writers.values():
            writer.commit()
    except BaseException:
        for writer in writers.values():
            writer.abort()
        raise

    finished = datetime.now(UTC)
    return {
        "stage": "msd_extract",
        "partition": partition,
        "schema_version": SCHEMA_VERSION,
        "reader_version": READER_VERSION,
        "extract_id": f"msd:{partition}:s{SCHEMA_VERSION}:{finished.strftime('%Y%m%dT%H%M%S.%fZ')}",
        "msd_folder": _absolute(partition_folder(msd_root, partition)),
        "started_at": started.isoformat(),
        "finished_at": finished.isoformat(),
        "counts": {
            "files": len(files),
            "tracks": writers["songs"].rows,
            "quarantined": len(quarantined),
            "artists": writers["artists"].rows,
            "artist_conflicts": len(artists.conflicts),
            "decode_warnings": n_warnings,
        },
        "files": {kind: {"path": output_name(kind), "rows": writers[kind].rows} for kind in OUTPUT_FILES},
        "quarantined": quarantined,
        "warnings": warnings,
        "artist_conflicts": artists.conflicts[:MAX_LISTED_WARNINGS],
    }
