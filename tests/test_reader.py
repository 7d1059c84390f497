"""The MSD reader: field values, null rules, UTF-8, aggregate and summary files, and what it refuses."""

from __future__ import annotations

import glob
import math
import os
import shutil
import zlib

import h5py
import numpy as np
import pytest

from pipeline.errors import InvalidMSDFileError
from pipeline.msd import schema
from pipeline.msd.reader import read_msd_file
from pipeline.standins.msd_sample import SampleGenerator
from pipeline.standins.msd_writer import write_msd_file


def make_songs(n: int, seed: int = 3, partition: str = "C/D"):
    gen = SampleGenerator(seed)
    tracks = gen.plan(n, [partition])
    return tracks, [gen.song_data(t, i, n) for i, t in enumerate(tracks)]


def write_track(root, data) -> str:
    track_id = data.analysis["track_id"].decode()
    path = os.path.join(str(root), schema.track_relpath(track_id))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_msd_file(path, [data])
    return path


def expected_from_h5py(path: str) -> dict:
    """The null rules applied independently, on h5py's ordinary high-level read."""
    out = {}
    with h5py.File(path, "r") as h5:
        for table in ("metadata/songs", "analysis/songs", "musicbrainz/songs"):
            row = h5[table][0]
            for name in row.dtype.names:
                if name.startswith("idx_"):
                    continue
                v = row[name].item()
                if isinstance(v, bytes):
                    v = v.decode("utf-8").rstrip() or None
                elif isinstance(v, float) and math.isnan(v):
                    v = None
                if name in ("artist_7digitalid", "artist_playmeid", "release_7digitalid", "track_7digitalid") and v == -1:
                    v = None
                if name in ("year", "tempo", "danceability", "energy") and v == 0:
                    v = None
                out[name] = v
        for name in ("artist_terms", "similar_artists", "artist_mbtags"):
            out[name] = [b.decode("utf-8") for b in h5[schema.ARRAY_BY_NAME[name].path][()]]
        for name in ("artist_terms_freq", "artist_terms_weight", "artist_mbtags_count"):
            out[name] = h5[schema.ARRAY_BY_NAME[name].path][()].tolist()
        for count, array in schema.COUNTED_ARRAYS.items():
            out[count] = len(h5[schema.ARRAY_BY_NAME[array].path][()])
    return out


def test_reader_matches_an_ordinary_h5py_read_with_the_null_rules(sample_root):
    files = sorted(glob.glob(os.path.join(sample_root, "*", "*", "*", "*.h5")))
    for path in files:
        record = read_msd_file(path, expect_single_track=True).records[0]
        assert record == expected_from_h5py(path)
    assert not any(k.startswith("idx_") for k in record)


def test_unknown_values_become_null(tmp_path):
    _, songs = make_songs(1)
    data = songs[0]
    data.musicbrainz["year"] = 0
    data.metadata.update(artist_latitude=np.nan, artist_longitude=np.nan, song_hotttnesss=np.nan,
                         artist_7digitalid=-1, artist_playmeid=-1, release_7digitalid=-1, track_7digitalid=-1,
                         artist_mbid=b"", artist_location=b"St Michael, Barbados ")
    data.analysis["tempo"] = 0.0
    record = read_msd_file(write_track(tmp_path, data), expect_single_track=True).records[0]
    for name in ("year", "artist_latitude", "artist_longitude", "song_hotttnesss", "artist_7digitalid",
                 "artist_playmeid", "release_7digitalid", "track_7digitalid", "artist_mbid", "tempo",
                 "danceability", "energy", "analyzer_version", "genre"):
        assert record[name] is None, name
    assert record["artist_location"] == "St Michael, Barbados"
    # zero is a value where the MSD means zero
    data.metadata["song_hotttnesss"] = 0.0
    record = read_msd_file(write_track(tmp_path, data), expect_single_track=True).records[0]
    assert record["song_hotttnesss"] == 0.0


def test_utf8_is_decoded_and_bad_bytes_are_replaced_and_reported(tmp_path):
    _, songs = make_songs(1)
    data = songs[0]
    data.metadata["artist_name"] = "Sigur Rós".encode()
    data.metadata["title"] = b"Caf\xe9 Latin-1"
    data.arrays["artist_terms"] = np.array(["español".encode(), b"bad \xff term"], dtype="S256")
    data.arrays["artist_terms_freq"] = np.array([1.0, 0.5])
    data.arrays["artist_terms_weight"] = np.array([1.0, 0.5])
    path = write_track(tmp_path, data)
    result = read_msd_file(path, expect_single_track=True)
    record = result.records[0]
    assert record["artist_name"] == "Sigur Rós"
    assert record["title"] == "Caf\ufffd Latin-1"
    assert record["artist_terms"] == ["español", "bad \ufffd term"]
    fields = sorted(w["field"] for w in result.warnings)
    assert fields == ["artist_terms", "title"]
    assert all(w["path"] == path and w["track_id"] == record["track_id"] for w in result.warnings)


def test_aggregate_file_slices_arrays_by_idx_like_the_getters(tmp_path):
    _, songs = make_songs(4, seed=8)
    songs[1].arrays["artist_mbtags"] = np.zeros(0, "S256")  # an empty slice in the middle
    songs[1].arrays["artist_mbtags_count"] = np.zeros(0, "<i4")
    singles = [read_msd_file(write_track(tmp_path / "single", s), expect_single_track=True).records[0] for s in songs]
    aggregate = tmp_path / "aggregate.h5"
    write_msd_file(str(aggregate), songs)
    with h5py.File(aggregate, "r") as h5:
        assert h5["metadata/songs"].shape == (4,)
        assert h5["musicbrainz/songs"]["idx_artist_mbtags"][1] == h5["musicbrainz/songs"]["idx_artist_mbtags"][2]
        assert h5["analysis/songs"]["idx_segments_start"][3] > 0
    records = read_msd_file(str(aggregate)).records
    assert records == singles


def test_summary_file_has_scalars_and_no_arrays(tmp_path):
    _, songs = make_songs(3, seed=4)
    singles = [read_msd_file(write_track(tmp_path, s), expect_single_track=True).records[0] for s in songs]
    summary = tmp_path / "msd_summary_file.h5"
    write_msd_file(str(summary), songs, summary=True)
    records = read_msd_file(str(summary)).records
    assert len(records) == 3
    for rec, single in zip(records, singles, strict=True):
        for name in schema.VALUE_ARRAYS + tuple(schema.COUNTED_ARRAYS):
            assert rec[name] is None
        assert {k: v for k, v in rec.items() if rec[k] is not None} == {
            k: v for k, v in single.items() if k not in schema.VALUE_ARRAYS and k not in schema.COUNTED_ARRAYS
            and v is not None}


def _rewrite(src: str, dst: str, **create_kwargs) -> None:
    """Copy an MSD file dataset by dataset with other storage options (as h5repack would)."""
    with h5py.File(src, "r") as a, h5py.File(dst, "w") as b:
        for group in a:
            g = b.create_group(group)
            for name, ds in a[group].items():
                g.create_dataset(name, data=ds[()], maxshape=ds.maxshape if create_kwargs.get("chunks") else None,
                                 **create_kwargs)


@pytest.mark.parametrize("options", [
    {"chunks": True, "compression": "gzip"},  # deflate without shuffle
    {},  # contiguous, no filters
    {"chunks": True, "compression": "gzip", "shuffle": True, "fletcher32": True},  # an extra filter
], ids=["deflate-only", "contiguous", "with-checksum"])
def test_files_with_other_storage_read_the_same(tmp_path, sample_root, options):
    src = sorted(glob.glob(os.path.join(sample_root, "A", "A", "*", "*.h5")))[0]
    dst = tmp_path / os.path.relpath(src, sample_root)
    dst.parent.mkdir(parents=True)
    _rewrite(src, str(dst), **options)
    # The MSD file first: the layouts it proves good are remembered, and must not admit the other.
    expected = read_msd_file(src, expect_single_track=True).records
    assert read_msd_file(str(dst), expect_single_track=True).records == expected


# --- what is refused, and why -------------------------------------------------------------


def _refusal(path) -> str:
    with pytest.raises(InvalidMSDFileError) as info:
        read_msd_file(str(path), expect_single_track=True)
    assert info.value.path == str(path)
    return info.value.reason


def test_empty_truncated_and_foreign_files_are_refused_with_a_reason(tmp_path, sample_root):
    src = sorted(glob.glob(os.path.join(sample_root, "A", "B", "*", "*.h5")))[0]
    empty = tmp_path / "empty.h5"
    empty.write_bytes(b"")
    assert "empty file" in _refusal(empty)

    truncated = tmp_path / "truncated.h5"
    data = open(src, "rb").read()
    truncated.write_bytes(data[: len(data) // 2])
    assert "truncated" in _refusal(truncated) or "corrupt" in _refusal(truncated)

    text = tmp_path / "notes.h5"
    text.write_text("not hdf5 at all")
    assert "not an HDF5 file" in _refusal(text)

    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as h5:
        h5["images/pixels"] = np.zeros((4, 4))
    assert "missing dataset /metadata/songs" in _refusal(foreign)


@pytest.mark.parametrize("chunk", [b"not deflate at all", zlib.compress(b"too short")], ids=["garbage", "wrong-size"])
def test_a_damaged_compressed_chunk_is_refused_as_corrupt(tmp_path, sample_root, chunk):
    src = sorted(glob.glob(os.path.join(sample_root, "A", "B", "*", "*.h5")))[0]
    dst = tmp_path / os.path.relpath(src, sample_root)
    dst.parent.mkdir(parents=True)
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as h5:
        h5["musicbrainz/songs"].id.write_direct_chunk((0,), chunk)
    assert "corrupt" in _refusal(dst)


def test_a_dataset_with_another_rank_is_refused_with_the_reason(tmp_path, sample_root):
    src = sorted(glob.glob(os.path.join(sample_root, "A", "B", "*", "*.h5")))[0]
    dst = tmp_path / os.path.relpath(src, sample_root)
    dst.parent.mkdir(parents=True)
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as h5:
        del h5["metadata/artist_terms_freq"]
        h5.create_dataset("metadata/artist_terms_freq", data=np.zeros((4, 2)), chunks=(1024, 2), maxshape=(None, 2),
                          compression="gzip", compression_opts=1, shuffle=True)
    assert "/metadata/artist_terms_freq has 2 dimensions" in _refusal(dst)


def test_wrong_name_or_folder_for_the_track_id_is_refused(tmp_path, sample_root):
    src = sorted(glob.glob(os.path.join(sample_root, "A", "B", "*", "*.h5")))[0]
    track_id = os.path.basename(src)[:-3]
    renamed = tmp_path / track_id[2] / track_id[3] / track_id[4] / "TRAAAAA128F0000000.h5"
    renamed.parent.mkdir(parents=True)
    shutil.copy(src, renamed)
    assert "does not match its track_id" in _refusal(renamed)

    misplaced = tmp_path / "Z" / "Z" / "Z" / os.path.basename(src)
    misplaced.parent.mkdir(parents=True)
    shutil.copy(src, misplaced)
    assert f"belongs under {schema.track_relpath(track_id)}" in _refusal(misplaced)


def test_wrong_columns_mismatched_arrays_and_many_rows_are_refused(tmp_path):
    _, songs = make_songs(2, seed=6)
    path = write_track(tmp_path / "cols", songs[0])
    with h5py.File(path, "r+") as h5:
        rows = h5["metadata/songs"][()]
        keep = [n for n in rows.dtype.names if n != "title"]
        del h5["metadata/songs"]
        h5.create_dataset("metadata/songs", data=rows[keep].astype([(n, rows.dtype.fields[n][0]) for n in keep]))
    assert "lacks MSD column(s) title" in _refusal(path)

    data = songs[1]
    data.arrays["artist_terms_freq"] = data.arrays["artist_terms_freq"][:-1]
    path = write_track(tmp_path / "arrays", data)
    assert "artist_terms" in _refusal(path) and "entries" in _refusal(path)

    _, two = make_songs(2, seed=7)
    path = os.path.join(str(tmp_path / "rows"), schema.track_relpath(two[0].analysis["track_id"].decode()))
    os.makedirs(os.path.dirname(path))
    write_msd_file(path, two)
    assert "must hold 1 song, this one holds 2" in _refusal(path)
