"""Write MSD-format HDF5 files the way MSongsDB's PyTables writer did.

A per-track file is the one-song case of an aggregate file, so one function writes both:
tables with one row per song, arrays concatenated, and each song's ``idx_*`` columns holding
the row offset where its slice starts (0 for the first song, so 0 everywhere in a track
file). A summary file has the tables only, every ``idx_*`` left at 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import h5py
import numpy as np

from pipeline.msd import schema


@dataclass
class SongData:
    """The raw MSD values of one song: table rows as dicts (bytes for strings) and arrays."""

    metadata: dict
    analysis: dict
    musicbrainz: dict
    arrays: dict[str, np.ndarray] = field(default_factory=dict)


def _bytes_attr(text: str) -> np.bytes_:
    # PyTables stores attribute strings as fixed-length HDF5 strings, which np.bytes_ gives.
    return np.bytes_(text.encode("ascii"))


def _set_pytables_node_attrs(obj, cls: str, version: str, title: str) -> None:
    obj.attrs["CLASS"] = _bytes_attr(cls)
    obj.attrs["VERSION"] = _bytes_attr(version)
    obj.attrs["TITLE"] = _bytes_attr(title)


def _fill_value(dtype: np.dtype):
    if dtype.kind == "S":
        return np.bytes_(b"")
    return dtype.type(0)


def _create(group: h5py.Group, name: str, data: np.ndarray, chunks: tuple[int, ...]) -> h5py.Dataset:
    maxshape = (None,) + data.shape[1:]
    return group.create_dataset(
        name,
        data=data,
        maxshape=maxshape,
        chunks=chunks,
        shuffle=True,
        compression="gzip",
        compression_opts=schema.COMPRESSION_LEVEL,
    )


def write_msd_file(path: str, songs: Sequence[SongData], summary: bool = False, extdim_garbage: int = 1854) -> None:
    """Write ``songs`` to ``path``: a track file for one song, an aggregate or summary file for many."""
    arrays_by_name: dict[str, list[np.ndarray]] = {a.name: [] for a in schema.ARRAYS}
    rows = {t.group: np.zeros(len(songs), dtype=t.dtype) for t in schema.TABLES}
    offsets = {a.name: 0 for a in schema.ARRAYS}

    for i, song in enumerate(songs):
        for table in schema.TABLES:
            values = getattr(song, table.group)
            row = rows[table.group]
            for name in table.dtype.names:
                if name.startswith("idx_"):
                    continue
                row[name][i] = values[name]
        if summary:
            continue
        for spec in schema.ARRAYS:
            data = song.arrays[spec.name]
            # Shared idx columns (terms/freq/weight, mbtags/count) point at equal offsets.
            rows[spec.group][spec.idx_field][i] = offsets[spec.name]
            arrays_by_name[spec.name].append(data)
            offsets[spec.name] += data.shape[0]

    with h5py.File(path, "w", libver="earliest") as h5:
        h5.attrs["CLASS"] = _bytes_attr("GROUP")
        h5.attrs["PYTABLES_FORMAT_VERSION"] = _bytes_attr(schema.PYTABLES_FORMAT_VERSION)
        h5.attrs["TITLE"] = _bytes_attr(schema.ROOT_TITLE)
        h5.attrs["VERSION"] = _bytes_attr(schema.GROUP_VERSION)
        h5.attrs["FILTERS"] = np.int64(schema.PYTABLES_FILTERS)
        for table in schema.TABLES:
            group = h5.create_group(table.group)
            _set_pytables_node_attrs(group, "GROUP", schema.GROUP_VERSION, schema.GROUP_TITLES[table.group])
            group.attrs["FILTERS"] = np.int64(schema.PYTABLES_FILTERS)
            ds = _create(group, "songs", rows[table.group], table.chunks)
            _set_pytables_node_attrs(ds, "TABLE", schema.TABLE_VERSION, table.title)
            for i, name in enumerate(table.dtype.names):
                ds.attrs[f"FIELD_{i}_NAME"] = _bytes_attr(name)
                ds.attrs[f"FIELD_{i}_FILL"] = _fill_value(table.dtype.fields[name][0])
            ds.attrs["NROWS"] = np.int64(len(songs))
        if summary:
            return
        for n, spec in enumerate(schema.ARRAYS):
            parts = arrays_by_name[spec.name]
            shape = (0, spec.width) if spec.width else (0,)
            data = np.concatenate(parts).astype(spec.dtype, copy=False) if parts else np.zeros(shape, spec.dtype)
            ds = _create(h5[spec.group], spec.name, data, spec.chunks)
            _set_pytables_node_attrs(ds, "EARRAY", schema.EARRAY_VERSION, spec.title)
            # The real files hold garbage here (≈1854…1874); PyTables ignores it.
            ds.attrs["EXTDIM"] = np.int32(extdim_garbage + n)
