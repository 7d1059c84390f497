"""AcousticBrainz's low-level feature dumps, pinned by SHA-256 and read once per version into a local index.

AcousticBrainz froze in 2022; its last dumps (``acousticbrainz-lowlevel-features-20220623-{rhythm,tonal}.tar.zst``,
~1.3 GB and ~0.9 GB) each hold ``<dir>/<dir>-<type>.csv`` (``mbid, submission_offset, <features…>``, one row per
submission: an MBID repeats once per file analysed) and ``COPYING``. A dump is verified against its
``[acousticbrainz] <type>_dump_sha256``, then streamed once (zstd → tar → CSV by pyarrow, nothing extracted to
disk) through DuckDB into ``<index_dir>/<sha256>/submissions.parquet``: the columns the features need, typed (the
MBID as a UUID, the measures as 32-bit floats, which is what Essentia computes). From then on every join reads
that: a rerun, another partition or another run reads no dump again. ``index.json``, written last, says the
index is whole.

Every submission is kept, not only those of the MBIDs the MSD songs resolve to today: a later run with more
partitions (or a MusicBrainz identity changed) finds its recordings in the same index instead of reading the dump
again, and a song's submissions under two ids (the one found and the one MusicBrainz uses now) are aggregated
together, exactly (pipeline/sources/acousticbrainz/features.py).
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import tarfile
import time
from dataclasses import dataclass

import orjson

from pipeline.errors import TerminalError
from pipeline.redaction import redact_url
from pipeline.sources.base import file_sha256, local_dump_copy

logger = logging.getLogger(__name__)

INDEX_VERSION = 1
KINDS = ("rhythm", "tonal")
# The CSV columns each dump holds (acousticbrainz-server db/dump.py, LOWLEVEL_FEATURES_*), and those the index keeps.
COLUMNS = {
    "rhythm": ("mbid", "submission_offset", "bpm", "bpm_histogram_first_peak_bpm_mean",
               "bpm_histogram_first_peak_bpm_median", "bpm_histogram_second_peak_bpm_mean",
               "bpm_histogram_second_peak_bpm_median", "danceability", "onset_rate"),
    "tonal": ("mbid", "submission_offset", "key_key", "key_scale", "tuning_frequency",
              "tuning_equal_tempered_deviation"),
}
KEPT = {"rhythm": ("bpm", "danceability", "onset_rate"), "tonal": ("key_key", "key_scale", "tuning_frequency")}
TEXT_COLUMNS = ("key_key", "key_scale")
CSV_BLOCK_BYTES = 8 << 20  # what pyarrow parses at once (each of its threads holds one): 32 MiB costs 0.3 GB more
MEMORY_LIMIT = "512MB"  # DuckDB's, by default: a real-size dump's index peaks at ~0.8 GB with it, ~1.2 GB with 1GB

reads = 0  # dumps streamed by this process: the test of "once per version" counts them


def setting(kind: str) -> str:
    return f"[acousticbrainz] {kind}_dump (environment MUSIC_ETL_ACOUSTICBRAINZ_{kind.upper()}_DUMP)"


def digest_setting(kind: str) -> str:
    return f"[acousticbrainz] {kind}_dump_sha256 (environment MUSIC_ETL_ACOUSTICBRAINZ_{kind.upper()}_DUMP_SHA256)"


class DumpDigestError(TerminalError):
    def __init__(self, kind: str, where: str, actual: str, expected: str):
        super().__init__(f"{setting(kind)} `{redact_url(where)}` has SHA-256 {actual}, but {digest_setting(kind)} pins {expected}: "
                         f"point the setting at the pinned file, or pin this one (its line in the sha256sums file "
                         f"beside it) to use it")


class DumpLayoutError(TerminalError):
    pass


@dataclass(frozen=True)
class FeatureIndex:
    """One dump's submissions as Parquet, and what it was built from."""

    kind: str
    folder: str
    sha256: str
    dump_name: str
    rows: int
    recordings: int
    skipped: int  # rows whose MBID is not a UUID

    @property
    def submissions(self) -> str:
        return os.path.join(self.folder, "submissions.parquet")

    @property
    def date(self) -> str | None:
        """The dump's date from its name (``…-20220623-rhythm.tar.zst`` → 2022-06-23), None when it has none."""
        for part in self.dump_name.split("-"):
            if len(part) == 8 and part.isdigit():
                return f"{part[:4]}-{part[4:6]}-{part[6:]}"
        return None

    def describe(self) -> dict:
        return {"kind": self.kind, "dump": self.dump_name, "date": self.date, "sha256": self.sha256,
                "rows": self.rows, "recordings": self.recordings}


def check_pinned(kind: str, dump: str, sha256: str) -> None:
    if dump and not sha256:
        raise TerminalError(f"{setting(kind)} is set but {digest_setting(kind)} is blank: pin the dump by its line in "
                            f"the sha256sums file published beside it")
    if sha256 and (len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256.lower())):
        raise TerminalError(f"{digest_setting(kind)} `{sha256}` is not a SHA-256 (64 hex digits); copy it from the "
                            f"dump's line in sha256sums")


def built(index_dir: str, kind: str, sha256: str) -> FeatureIndex | None:
    """The index of that dump version when it is whole, else None (reads nothing but ``index.json``)."""
    folder = os.path.join(index_dir, sha256.lower())
    try:
        with open(os.path.join(folder, "index.json"), "rb") as fh:
            meta = orjson.loads(fh.read())
    except FileNotFoundError:
        return None
    if meta.get("index_version") != INDEX_VERSION or meta.get("kind") != kind:
        return None
    return FeatureIndex(kind, folder, meta["sha256"], meta["dump"], meta["rows"], meta["recordings"], meta["skipped"])


def ensure_index(kind: str, dump: str, sha256: str, index_dir: str, memory_limit: str = MEMORY_LIMIT) -> FeatureIndex:
    """The index of the pinned dump: read from ``index_dir`` when built, else built once (under a lock: two
    processes on one machine never both read the dump)."""
    check_pinned(kind, dump, sha256)
    sha256 = sha256.lower()
    done = built(index_dir, kind, sha256)
    if done is not None:
        return done
    os.makedirs(index_dir, exist_ok=True)
    with open(os.path.join(index_dir, f".{sha256}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = built(index_dir, kind, sha256)
        if done is not None:
            return done
        path = local_dump_copy(dump, sha256, index_dir, setting(kind), f"acousticbrainz-{kind}.tar.zst")
        actual = file_sha256(path)
        if actual != sha256:
            raise DumpDigestError(kind, dump, actual, sha256)
        return _build(kind, path, sha256, os.path.join(index_dir, sha256), memory_limit)


def _csv_member(kind: str, name: str) -> str | None:
    """The feature type a tar member's name says it holds (``<dir>/<dir>-<type>.csv``), or None."""
    base = os.path.basename(name)
    if not base.endswith(".csv"):
        return None
    stem = base.removesuffix(".csv")
    return next((k for k in KINDS if stem.endswith(f"-{k}") or stem == k), "other")


def _build(kind: str, path: str, sha256: str, folder: str, memory_limit: str) -> FeatureIndex:
    import duckdb
    import pyarrow as pa
    import pyarrow.csv as pacsv

    global reads
    reads += 1
    started = time.monotonic()
    logger.info("reading the AcousticBrainz %s dump %s once into %s", kind, path, folder)
    building = folder + ".building"
    shutil.rmtree(building, ignore_errors=True)
    os.makedirs(building)
    out = os.path.join(building, "submissions.parquet")
    found = None
    con = duckdb.connect()
    try:
        con.execute(f"SET memory_limit = '{memory_limit}'")
        con.execute("SET preserve_insertion_order = false")
        con.execute(f"SET temp_directory = '{building}/spill'")
        with pa.OSFile(path, "rb") as raw, pa.CompressedInputStream(raw, "zstd") as stream, \
                tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                holds = _csv_member(kind, member.name) if member.isfile() else None
                if holds is None:
                    continue
                if holds != kind:
                    raise DumpLayoutError(f"{setting(kind)} `{path}` holds {member.name}, not the {kind} CSV "
                                          f"(…-{kind}.csv): is it the {holds} dump? Point each setting at its own dump")
                wanted = ["mbid", "submission_offset", *KEPT[kind]]
                try:
                    reader = pacsv.open_csv(
                        tar.extractfile(member), read_options=pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES),
                        convert_options=pacsv.ConvertOptions(
                            column_types={c: (pa.string() if c in ("mbid", *TEXT_COLUMNS) else
                                              pa.int32() if c == "submission_offset" else pa.float32())
                                          for c in COLUMNS[kind]},
                            include_columns=wanted, strings_can_be_null=True))
                except (pa.ArrowInvalid, KeyError) as exc:
                    raise DumpLayoutError(f"{setting(kind)} `{path}`: {member.name} cannot be read as the {kind} CSV "
                                          f"({str(exc).splitlines()[0]}); it needs the columns {', '.join(wanted)}"
                                          ) from None
                failed: list[Exception] = []
                batches = pa.RecordBatchReader.from_batches(reader.schema, _batches(reader, kind, path, member.name,
                                                                                    failed))
                con.register("dump_rows", batches)
                measures = ", ".join(KEPT[kind])
                try:
                    con.execute(f"COPY (SELECT TRY_CAST(mbid AS UUID) AS mbid, submission_offset, {measures} "
                                f"FROM dump_rows WHERE TRY_CAST(mbid AS UUID) IS NOT NULL) TO '{out}' "
                                f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1000000)")
                except duckdb.Error as exc:
                    if failed:  # the CSV's own fault, said as the stream said it
                        raise failed[0] from None
                    raise DumpLayoutError(f"{setting(kind)} `{path}`: {member.name} could not be indexed "
                                          f"({str(exc).splitlines()[0]})") from None
                found = member.name
                break
        if found is None:
            raise DumpLayoutError(f"{setting(kind)} `{path}` holds no <dir>/<dir>-{kind}.csv: is it an AcousticBrainz "
                                  f"low-level feature dump (acousticbrainz-lowlevel-features-…-{kind}.tar.zst)?")
        rows, recordings = con.execute(f"SELECT count(*), count(DISTINCT mbid) FROM '{out}'").fetchone()
        total = _rows_read.pop((path, found), 0)
    finally:
        con.close()
    shutil.rmtree(os.path.join(building, "spill"), ignore_errors=True)
    name = os.path.basename(path)
    meta = {"index_version": INDEX_VERSION, "kind": kind, "sha256": sha256, "dump": name, "member": found,
            "rows": rows, "recordings": recordings, "skipped": total - rows,
            "seconds": round(time.monotonic() - started, 1)}
    with open(os.path.join(building, "index.json"), "wb") as fh:
        fh.write(orjson.dumps(meta))
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(building, folder)
    logger.info("AcousticBrainz %s dump %s indexed: %d submissions of %d recordings (%d rows without a UUID) in %.0f s",
                kind, name, rows, recordings, total - rows, meta["seconds"])
    return FeatureIndex(kind, folder, sha256, name, rows, recordings, total - rows)


_rows_read: dict[tuple[str, str], int] = {}


def _batches(reader, kind: str, path: str, member: str, failed: list):
    """The CSV's record batches, counted; a value that is not a number is one line naming the dump (kept in
    ``failed`` too: DuckDB, which pulls the batches, says the stream failed in its own words)."""
    import pyarrow as pa

    key = (path, member)
    _rows_read[key] = 0
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except pa.ArrowInvalid as exc:
            failed.append(DumpLayoutError(f"{setting(kind)} `{path}`: {member} cannot be read "
                                          f"({str(exc).splitlines()[0]}); is it an AcousticBrainz {kind} dump?"))
            raise failed[-1] from None
        _rows_read[key] += batch.num_rows
        yield batch
