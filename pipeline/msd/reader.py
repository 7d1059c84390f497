"""Read MSD HDF5 files (per-track, aggregate and summary) into flat records with MSD's field names.

Why the reader talks to h5py's low-level API: a per-track file is small and holds ~20
datasets, so per-dataset overhead decides the speed. Reading a compound ``songs`` table
through HDF5's type conversion costs ~0.4 ms; reading its one compressed chunk with
``read_direct_chunk`` and inflating it here costs ~0.03 ms. That path is taken only when the
dataset is chunked with exactly the MSD filters (shuffle, then deflate) and its dtype is the
one in ``schema``; anything else goes through the ordinary (slower, general) read. The
arrays that are only counted (segments, beats, …) are never read: their length is metadata.

Null rules (also in DATA_DICTIONARY.md): empty strings, NaN floats, ``year`` 0, the ``-1``
7digital/playme ids, ``tempo`` 0 (no beats found) and the never-computed ``danceability`` /
``energy`` (always 0.0) become null. Strings are UTF-8; bytes that are not are replaced
(U+FFFD) and reported, never fatal. Trailing whitespace is stripped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import deflate
import h5py
import numpy as np

from pipeline.errors import InvalidMSDFileError
from pipeline.msd import schema

READER_VERSION = 1

_SHUFFLE, _DEFLATE = h5py.h5z.FILTER_SHUFFLE, h5py.h5z.FILTER_DEFLATE
_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_FAPL = None


def _file_access_plist():
    # One property list per process; the default would be rebuilt on every open.
    global _FAPL
    if _FAPL is None:
        _FAPL = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
        _FAPL.set_fclose_degree(h5py.h5f.CLOSE_STRONG)
        # Chunks are read raw (read_direct_chunk), so HDF5's chunk cache would only cost memory setup.
        _FAPL.set_cache(0, 0, 0, 0.0)
    return _FAPL


@dataclass
class ReadResult:
    """The songs of one file, plus the non-fatal problems met while reading it."""

    records: list[dict]
    warnings: list[dict] = field(default_factory=list)


# --- conversion of raw values ----------------------------------------------------------


def _converter(name: str, dtype: np.dtype):
    """How one scalar column becomes a JSON value (the null rules in one place)."""
    if dtype.kind == "S":
        return "str"
    if name in schema.UNKNOWN_ID_FIELDS:
        return "id"
    if name == "year":
        return "year"
    if name == "tempo" or name in schema.NEVER_COMPUTED_FIELDS:
        return "zero_null"
    if dtype.kind == "f":
        return "float"
    return "int"


_TABLE_COLUMNS = {
    t.group: [(i, name, _converter(name, t.dtype.fields[name][0]))
              for i, name in enumerate(t.dtype.names) if not name.startswith("idx_")]
    for t in schema.TABLES
}


_COLUMN_POSITION = {(t.group, name): i for t in schema.TABLES for i, name in enumerate(t.dtype.names)}
_TRACK_ID_POSITION = _COLUMN_POSITION[("analysis", "track_id")]


class _Decoder:
    """UTF-8 decoding that never fails: bad bytes are replaced and remembered."""

    def __init__(self, path: str):
        self.path = path
        self.warnings: list[dict] = []

    def decode(self, raw: bytes, field_name: str, track_id: str | None) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.warnings.append({
                "path": self.path, "track_id": track_id, "field": field_name,
                "problem": f"invalid UTF-8 at byte {exc.start}; replaced with U+FFFD",
            })
            return raw.decode("utf-8", errors="replace")

    def text(self, raw: bytes, field_name: str, track_id: str | None) -> str | None:
        """A scalar string: trailing whitespace stripped, empty meaning unknown (null)."""
        return self.decode(raw, field_name, track_id).rstrip() or None

    def text_list(self, raws: list[bytes], field_name: str, track_id: str | None) -> list[str]:
        """Array entries: one strict decode of the lot; entry by entry only if that fails."""
        if not raws:
            return []
        try:
            decoded = b"\x00".join(raws).decode("utf-8").split("\x00")
            if len(decoded) == len(raws):  # an entry with an inner NUL would shift the split
                return decoded
        except UnicodeDecodeError:
            pass
        return [self.decode(v, field_name, track_id) for v in raws]


def _convert_row(values: tuple, columns, decoder: _Decoder, track_id: str | None, out: dict) -> None:
    for i, name, kind in columns:
        v = values[i]
        if kind == "str":
            out[name] = decoder.text(v, name, track_id) if v else None
        elif kind == "float":
            out[name] = v if v == v else None  # NaN is the MSD's "unknown"
        elif kind == "int":
            out[name] = v
        elif kind == "id":
            out[name] = None if v == -1 else v
        elif kind == "year":
            out[name] = v or None
        else:  # zero_null
            out[name] = None if (v == 0 or v != v) else v


# --- dataset access ------------------------------------------------------------------------


def _open_dataset(fid, path: str):
    try:
        return h5py.h5d.open(fid, path.encode(), None)
    except KeyError:
        raise InvalidMSDFileError(fid.name.decode(errors="replace"), f"missing dataset /{path}; not an MSD song file") from None


# Creation property lists already proven to be the MSD layout, with their rows per chunk, per
# dataset path. One H5Pequal (~1 µs) against these replaces five property look-ups a dataset.
_KNOWN_GOOD_LAYOUTS: dict[str, list[tuple[object, int]]] = {}


def _msd_chunk_rows(dsid, where: str) -> int | None:
    """Rows per chunk if the dataset is chunked with shuffle then deflate and nothing else (the
    only layout the fast path undoes), else None."""
    plist = dsid.get_create_plist()
    known = _KNOWN_GOOD_LAYOUTS.setdefault(where, [])
    for good, rows in known:
        if plist.equal(good):
            return rows
    if (plist.get_layout() == h5py.h5d.CHUNKED and plist.get_nfilters() == 2
            and plist.get_filter(0)[0] == _SHUFFLE and plist.get_filter(1)[0] == _DEFLATE):
        rows = plist.get_chunk()[0]
        if len(known) < 4:
            known.append((plist, rows))
        return rows
    return None


def _read_dataset(dsid, dtype: np.dtype, where: str) -> np.ndarray:
    """All rows of a 1-D dataset as ``dtype``."""
    space = dsid.get_space()
    if space.get_simple_extent_ndims() != 1:
        raise ValueError(f"/{where} has {space.get_simple_extent_ndims()} dimensions where the MSD's has 1")
    n = space.get_simple_extent_npoints()
    if n == 0:
        return np.zeros(0, dtype)
    rows = _msd_chunk_rows(dsid, where)
    if rows is None:
        out = np.empty(dsid.shape, dtype)
        dsid.read(h5py.h5s.ALL, h5py.h5s.ALL, out)
        return out
    itemsize = dtype.itemsize
    parts = []
    start = 0
    while start < n:
        mask, raw = dsid.read_direct_chunk((start,))
        if mask:  # a filter was skipped for this chunk: let HDF5 undo whatever was applied
            out = np.empty(dsid.shape, dtype)
            dsid.read(h5py.h5s.ALL, h5py.h5s.ALL, out)
            return out
        # libdeflate inflates a chunk in half zlib's time, given its size (which the chunk shape says).
        data = deflate.zlib_decompress(raw, rows * itemsize)
        if len(data) != rows * itemsize:
            raise ValueError(f"a chunk of {len(data)} bytes where {rows} rows of {itemsize} bytes belong")
        used = min(rows, n - start)  # a chunk is allocated whole (1,024 rows for one song's table)
        # Shuffle stored byte k of every element together, so element i's bytes are every
        # rows-th byte from i: one such slice for a one-song table, a transpose otherwise.
        if used == 1:
            parts.append(np.frombuffer(data[0::rows], dtype, 1))
        else:
            plain = np.frombuffer(data, np.uint8, rows * itemsize).reshape(itemsize, rows)[:, :used].T
            parts.append(np.ascontiguousarray(plain).view(dtype).reshape(used))
        start += rows
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


# HDF5 types already proven to have the expected layout, per dataset path. Comparing a file's
# type with these (H5Tequal, ~1 µs) spares building a numpy dtype for every dataset (~75 µs).
_KNOWN_GOOD_TYPES: dict[str, list] = {}


def _check_dtype(dsid, expected: np.dtype, path: str, where: str) -> None:
    tid = dsid.get_type()
    known = _KNOWN_GOOD_TYPES.setdefault(where, [])
    for good in known:
        if tid == good:
            return
    actual = dsid.dtype
    if actual == expected:
        if len(known) < 4:
            known.append(tid.copy())
        return
    if actual.names and expected.names:
        missing = [n for n in expected.names if n not in actual.names]
        if missing:
            raise InvalidMSDFileError(path, f"/{where} lacks MSD column(s) {', '.join(missing)}")
        wrong = [f"{n} is {actual.fields[n][0]} (expected {expected.fields[n][0]})" for n in expected.names
                 if actual.fields[n][0] != expected.fields[n][0]]
        detail = "; ".join(wrong) or "columns in another order or with other offsets"
        raise InvalidMSDFileError(path, f"/{where} does not have the MSD layout: {detail}")
    raise InvalidMSDFileError(path, f"/{where} has dtype {actual}, expected {expected}")


# --- files -------------------------------------------------------------------------------


def _open_file(path: str, image: bytes | None = None):
    try:
        if image is not None:
            # Bytes already in memory (an object read from S3): HDF5 opens them as a file image, no local copy.
            return h5py.h5f.open_file_image(image)
        return h5py.h5f.open(os.fsencode(path), h5py.h5f.ACC_RDONLY, fapl=_file_access_plist())
    except (OSError, ValueError) as exc:
        message = str(exc)
        try:
            size = len(image) if image is not None else os.path.getsize(path)
        except OSError as stat_error:
            raise InvalidMSDFileError(path, f"cannot read file: {stat_error.strerror}") from None
        if size == 0:
            reason = "empty file (0 bytes); re-copy it from the MSD source"
        elif "signature" in message:
            reason = "not an HDF5 file (no HDF5 signature)"
        elif "truncated" in message or "eof" in message.lower():
            reason = "truncated HDF5 file; re-copy it from the MSD source"
        elif image is not None:
            # HDF5's file-image driver says only "not a file id" for what it cannot open.
            reason = ("truncated or corrupt HDF5 file; re-copy it from the MSD source" if image.startswith(_SIGNATURE)
                      else "not an HDF5 file (no HDF5 signature)")
        else:
            reason = f"unreadable HDF5 file: {message}"
        raise InvalidMSDFileError(path, reason) from None


def read_msd_file(path: str, expect_single_track: bool = False, image: bytes | None = None) -> ReadResult:
    """Every song in an MSD file (per-track, aggregate or summary).

    Raises ``InvalidMSDFileError`` with a reason a person can act on when the file is not MSD.
    With ``expect_single_track`` the file must hold one song whose ``track_id`` is its
    basename and whose letters match its folders (``A/B/C/TRABC….h5``). ``image``: the file's
    bytes, when they were read from elsewhere (S3); ``path`` then only names it.
    """
    fid = _open_file(path, image)
    try:
        return _read_open_file(fid, path, expect_single_track)
    except InvalidMSDFileError:
        raise
    except (OSError, ValueError, RuntimeError, KeyError, deflate.DeflateError) as exc:
        # h5py raises these for corrupt chunks and headers past the superblock.
        raise InvalidMSDFileError(path, f"corrupt HDF5 content ({type(exc).__name__}: {exc})") from None
    finally:
        fid.close()


def _read_open_file(fid, path: str, expect_single_track: bool) -> ReadResult:
    tables = {}
    for spec in schema.TABLES:
        dsid = _open_dataset(fid, spec.path)
        _check_dtype(dsid, spec.dtype, path, spec.path)
        tables[spec.group] = _read_dataset(dsid, spec.dtype, spec.path)
    n = len(tables["analysis"])
    if len(tables["metadata"]) != n or len(tables["musicbrainz"]) != n:
        raise InvalidMSDFileError(path, "the three songs tables have different row counts")
    if expect_single_track and n != 1:
        raise InvalidMSDFileError(path, f"a per-track file must hold 1 song, this one holds {n}")

    decoder = _Decoder(path)
    rows = {group: table.tolist() for group, table in tables.items()}  # tuples, in on-disk column order
    records = []
    for i in range(n):
        record: dict = {}
        track_id = rows["analysis"][i][_TRACK_ID_POSITION].decode("ascii", errors="replace")
        for spec in schema.TABLES:
            _convert_row(rows[spec.group][i], _TABLE_COLUMNS[spec.group], decoder, track_id, record)
        records.append(record)

    if expect_single_track:
        _check_track_location(path, records[0]["track_id"])

    # Summary files carry the tables only; their arrays are absent, not empty.
    segments = schema.ARRAY_BY_NAME[schema.COUNTED_ARRAYS["num_segments"]].path
    try:
        opened = {segments: h5py.h5d.open(fid, segments.encode(), None)}
    except KeyError:
        for record in records:
            for name in schema.VALUE_ARRAYS:
                record[name] = None
            for name in schema.COUNTED_ARRAYS:
                record[name] = None
        return ReadResult(records, decoder.warnings)
    _attach_arrays(fid, path, rows, records, decoder, opened)
    return ReadResult(records, decoder.warnings)


def _check_track_location(path: str, track_id: str | None) -> None:
    base = os.path.basename(path)
    if not track_id or len(track_id) != schema.TRACK_ID_LENGTH or not track_id.startswith("TR"):
        raise InvalidMSDFileError(path, f"track_id {track_id!r} is not an MSD track id (TR + 16 characters)")
    if base != f"{track_id}.h5":
        raise InvalidMSDFileError(path, f"file name {base} does not match its track_id {track_id}")
    parents = os.path.normpath(path).split(os.sep)[-4:-1]
    if parents != [track_id[2], track_id[3], track_id[4]]:
        raise InvalidMSDFileError(path, f"track {track_id} belongs under {schema.track_relpath(track_id)}, not {'/'.join(parents)}/")


def _slices(rows: dict[str, list[tuple]], group: str, idx_field: str, total: int) -> list[tuple[int, int]]:
    """Song i's slice is [idx[i], idx[i+1]) and the last runs to the end (the MSD getters' rule)."""
    position = _COLUMN_POSITION[(group, idx_field)]
    starts = [row[position] for row in rows[group]]
    out = list(zip(starts, starts[1:] + [total], strict=True))
    for start, end in out:
        if not 0 <= start <= end <= total:
            raise ValueError(f"idx {start}..{end} outside an array of {total}")
    return out


_TEXT_ARRAYS = frozenset(n for n in schema.VALUE_ARRAYS if schema.ARRAY_BY_NAME[n].dtype.kind == "S")


def _attach_arrays(fid, path: str, rows: dict[str, list[tuple]], records: list[dict], decoder: _Decoder, opened: dict) -> None:
    """``opened``: datasets the caller already opened, by path (each open costs ~20 µs a file)."""
    value_arrays = {}
    for name in schema.VALUE_ARRAYS:
        spec = schema.ARRAY_BY_NAME[name]
        dsid = _open_dataset(fid, spec.path)
        _check_dtype(dsid, spec.dtype, path, spec.path)
        value_arrays[name] = _read_dataset(dsid, spec.dtype, spec.path)
    # Parallel arrays must agree, or the terms would be paired with the wrong numbers.
    for a, b in (("artist_terms", "artist_terms_freq"), ("artist_terms", "artist_terms_weight"),
                 ("artist_mbtags", "artist_mbtags_count")):
        if len(value_arrays[a]) != len(value_arrays[b]):
            raise InvalidMSDFileError(path, f"/{a} has {len(value_arrays[a])} entries but /{b} has {len(value_arrays[b])}")

    for name in schema.VALUE_ARRAYS:
        spec = schema.ARRAY_BY_NAME[name]
        values = value_arrays[name].tolist()
        # The upstream getters read idx_artist_mbtags from the metadata table, where it does
        # not exist; the index lives in the table of the array's own group.
        bounds = _slices(rows, spec.group, spec.idx_field, len(values))
        for record, (start, end) in zip(records, bounds, strict=True):
            chunk = values[start:end]
            record[name] = decoder.text_list(chunk, name, record["track_id"]) if name in _TEXT_ARRAYS else chunk

    for count_name, array_name in schema.COUNTED_ARRAYS.items():
        spec = schema.ARRAY_BY_NAME[array_name]
        total = (opened.get(spec.path) or _open_dataset(fid, spec.path)).shape[0]
        bounds = _slices(rows, spec.group, spec.idx_field, total)
        for record, (start, end) in zip(records, bounds, strict=True):
            record[count_name] = end - start
