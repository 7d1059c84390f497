"""The MusicBrainz canonical dump, pinned by SHA-256 and read once per version into a local index.

The dump (``musicbrainz-canonical-dump-YYYYMMDD-HHMMSS.tar.zst``, built twice a month by ListenBrainz, only the
two newest kept) holds ``<archive>/canonical/canonical_musicbrainz_data.csv`` (~31.5M rows) and the recording and
release redirects, each PostgreSQL ``COPY … CSV HEADER`` output. It is verified against
``[musicbrainz] canonical_dump_sha256``, streamed once (zstd → tar → CSV, nothing extracted to disk) into Parquet
files under ``<index_dir>/<sha256>/``, and from then on every join reads those: a rerun, another partition or
another run reads no dump again. ``index.json``, written last, says the index is whole.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import tarfile
from dataclasses import dataclass

import orjson

from pipeline.errors import TerminalError
from pipeline.sources.base import file_sha256, local_dump_copy

logger = logging.getLogger(__name__)

INDEX_VERSION = 1
DATA, RECORDING_REDIRECT, RELEASE_REDIRECT = ("canonical_musicbrainz_data", "canonical_recording_redirect",
                                              "canonical_release_redirect")
DATA_COLUMNS = ("id", "artist_credit_id", "artist_mbids", "artist_credit_name", "release_mbid", "release_name",
                "recording_mbid", "recording_name", "combined_lookup", "score")
KEPT = ("combined_lookup", "recording_mbid", "recording_name", "artist_credit_name", "artist_mbids", "release_mbid",
        "release_name", "score")
REDIRECT_COLUMNS = ("recording_mbid", "canonical_recording_mbid", "canonical_release_mbid")
SETTING = "[musicbrainz] canonical_dump (environment MUSIC_ETL_MUSICBRAINZ_CANONICAL_DUMP)"
DIGEST_SETTING = "[musicbrainz] canonical_dump_sha256 (environment MUSIC_ETL_MUSICBRAINZ_CANONICAL_DUMP_SHA256)"

reads = 0  # dumps streamed by this process: the test of "once per version" counts them


class DumpDigestError(TerminalError):
    def __init__(self, where: str, actual: str, expected: str):
        super().__init__(f"{SETTING} `{where}` has SHA-256 {actual}, but {DIGEST_SETTING} pins {expected}: point the "
                         f"dump at the pinned file, or pin this one (the .sha256 beside it) to use it")


class DumpLayoutError(TerminalError):
    pass


@dataclass(frozen=True)
class CanonicalIndex:
    folder: str
    sha256: str
    dump_name: str
    rows: int

    @property
    def data(self) -> str:
        return os.path.join(self.folder, f"{DATA}.parquet")

    @property
    def recording_redirects(self) -> str:
        return os.path.join(self.folder, f"{RECORDING_REDIRECT}.parquet")

    def describe(self) -> dict:
        return {"dump": self.dump_name, "sha256": self.sha256, "rows": self.rows}


def check_pinned(dump: str, sha256: str) -> None:
    if dump and not sha256:
        raise TerminalError(f"{SETTING} is set but {DIGEST_SETTING} is blank: pin the dump by the digest in the "
                            f".sha256 file published beside it")
    if sha256 and (len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256.lower())):
        raise TerminalError(f"{DIGEST_SETTING} `{sha256}` is not a SHA-256 (64 hex digits); copy it from the dump's "
                            f".sha256 file")


def ensure_index(dump: str, sha256: str, index_dir: str) -> CanonicalIndex:
    """The index of the pinned dump: read from ``index_dir`` when built, else built once (under a lock: two
    processes on one machine never both read the dump)."""
    check_pinned(dump, sha256)
    sha256 = sha256.lower()
    folder = os.path.join(index_dir, sha256)
    built = _built(folder)
    if built is not None:
        return built
    os.makedirs(index_dir, exist_ok=True)
    with open(os.path.join(index_dir, f".{sha256}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        built = _built(folder)
        if built is not None:
            return built
        path = local_dump_copy(dump, sha256, index_dir, SETTING, "canonical-dump.tar.zst")
        actual = file_sha256(path)
        if actual != sha256:
            raise DumpDigestError(dump, actual, sha256)
        return _build(path, sha256, folder)


def _built(folder: str) -> CanonicalIndex | None:
    try:
        with open(os.path.join(folder, "index.json"), "rb") as fh:
            meta = orjson.loads(fh.read())
    except FileNotFoundError:
        return None
    if meta.get("index_version") != INDEX_VERSION:
        return None
    return CanonicalIndex(folder, meta["sha256"], meta["dump"], meta["rows"])


def _build(path: str, sha256: str, folder: str) -> CanonicalIndex:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    global reads
    reads += 1
    logger.info("reading the MusicBrainz canonical dump %s once into %s", path, folder)
    building = folder + ".building"
    shutil.rmtree(building, ignore_errors=True)
    os.makedirs(building)
    found: dict[str, int] = {}
    with pa.OSFile(path, "rb") as raw, pa.CompressedInputStream(raw, "zstd") as stream, \
            tarfile.open(fileobj=stream, mode="r|") as tar:
        for member in tar:
            table = os.path.basename(member.name).removesuffix(".csv")
            if not member.isfile() or table not in (DATA, RECORDING_REDIRECT) or "/canonical/" not in f"/{member.name}":
                continue
            columns = DATA_COLUMNS if table == DATA else REDIRECT_COLUMNS
            kept = KEPT if table == DATA else REDIRECT_COLUMNS[:2]
            reader = pacsv.open_csv(
                tar.extractfile(member),
                read_options=pacsv.ReadOptions(block_size=64 << 20),
                # Names may hold a newline: PostgreSQL's CSV quotes it, and only this option reads it back whole.
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    column_types={c: (pa.int32() if c == "score" else pa.string()) for c in columns},
                    include_columns=list(kept)))
            header = reader.schema.names
            if set(header) != set(kept):
                raise DumpLayoutError(f"{SETTING} `{path}`: {member.name} has columns {header}, expected {list(kept)} "
                                      f"among them; is it a canonical dump?")
            rows = 0
            with pq.ParquetWriter(os.path.join(building, f"{table}.parquet"), reader.schema, compression="zstd") as out:
                for batch in reader:
                    out.write_batch(batch)
                    rows += batch.num_rows
            found[table] = rows
    missing = [t for t in (DATA, RECORDING_REDIRECT) if t not in found]
    if missing:
        raise DumpLayoutError(f"{SETTING} `{path}` holds no canonical/{', canonical/'.join(missing)}.csv: is it a "
                              f"MusicBrainz canonical dump (musicbrainz-canonical-dump-….tar.zst)?")
    name = os.path.basename(path)
    meta = {"index_version": INDEX_VERSION, "sha256": sha256, "dump": name, "rows": found[DATA],
            "redirects": found[RECORDING_REDIRECT]}
    with open(os.path.join(building, "index.json"), "wb") as fh:
        fh.write(orjson.dumps(meta))
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(building, folder)
    logger.info("canonical dump %s indexed: %d rows, %d recording redirects", name, found[DATA], found[RECORDING_REDIRECT])
    return CanonicalIndex(folder, sha256, name, found[DATA])
