"""Baseline for bench/extract.py: MSD files read the way the classic ``hdf5_getters`` helpers do.

MSongsDB's ``hdf5_getters.py`` has one function per field; each reaches into the file on its
own (``h5.root.metadata.songs.cols.<field>[songidx]``), and arrays are sliced by reading their
``idx_*`` column first. Counting segments or beats means reading the whole array. This is the
same access pattern with h5py, producing the same record as ``pipeline.msd.reader``, so the
benchmark compares access strategies and nothing else.
"""

from __future__ import annotations

import h5py

from pipeline.msd import schema
from pipeline.msd.reader import _TABLE_COLUMNS, _convert_row, _Decoder


def _get_field(h5, table: str, field: str, songidx: int = 0):
    return h5[table][field][songidx]


def _get_array(h5, spec: schema.ArraySpec, songidx: int = 0):
    table = f"{spec.group}/songs"
    nrows = h5[table].shape[0]
    start = h5[table][spec.idx_field][songidx]
    if songidx + 1 == nrows:
        return h5[spec.path][start:]
    return h5[spec.path][start: h5[table][spec.idx_field][songidx + 1]]


def read_track_getters_style(path: str) -> dict:
    decoder = _Decoder(path)
    with h5py.File(path, "r") as h5:
        record: dict = {}
        for table in schema.TABLES:
            columns = _TABLE_COLUMNS[table.group]
            values = [None] * len(table.dtype.names)
            for i, name, _kind in columns:
                v = _get_field(h5, table.path, name)
                values[i] = v.item() if hasattr(v, "item") else v
            _convert_row(tuple(values), columns, decoder, None, record)
        for name in schema.VALUE_ARRAYS:
            data = _get_array(h5, schema.ARRAY_BY_NAME[name])
            if data.dtype.kind == "S":
                record[name] = [decoder.text(v, name, None) or "" for v in data.tolist()]
            else:
                record[name] = data.tolist()
        for count_name, array_name in schema.COUNTED_ARRAYS.items():
            record[count_name] = len(_get_array(h5, schema.ARRAY_BY_NAME[array_name]))
    return record
