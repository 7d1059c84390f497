"""The generator writes files that match the MSD per-track format (pipeline/msd/schema.py, from the MSD field list).

The expected values below are transcribed from the reference (measured on 971 real files),
not from the generator, so a drift in either the schema module or the writer fails here.
"""

from __future__ import annotations

import glob
import os
import re

import h5py
import numpy as np
import pytest
import tables

# (field, dtype, offset) in on-disk order, from the reference's §2-§4 tables.
REFERENCE_METADATA = [
    ("analyzer_version", "S32", 0), ("artist_7digitalid", "<i4", 32), ("artist_familiarity", "<f8", 36),
    ("artist_hotttnesss", "<f8", 44), ("artist_id", "S32", 52), ("artist_latitude", "<f8", 84),
    ("artist_location", "S1024", 92), ("artist_longitude", "<f8", 1116), ("artist_mbid", "S40", 1124),
    ("artist_name", "S1024", 1164), ("artist_playmeid", "<i4", 2188), ("genre", "S1024", 2192),
    ("idx_artist_terms", "<i4", 3216), ("idx_similar_artists", "<i4", 3220), ("release", "S1024", 3224),
    ("release_7digitalid", "<i4", 4248), ("song_hotttnesss", "<f8", 4252), ("song_id", "S32", 4260),
    ("title", "S1024", 4292), ("track_7digitalid", "<i4", 5316),
]
REFERENCE_ANALYSIS = [
    ("analysis_sample_rate", "<i4", 0), ("audio_md5", "S32", 4), ("danceability", "<f8", 36), ("duration", "<f8", 44),
    ("end_of_fade_in", "<f8", 52), ("energy", "<f8", 60), ("idx_bars_confidence", "<i4", 68), ("idx_bars_start", "<i4", 72),
    ("idx_beats_confidence", "<i4", 76), ("idx_beats_start", "<i4", 80), ("idx_sections_confidence", "<i4", 84),
    ("idx_sections_start", "<i4", 88), ("idx_segments_confidence", "<i4", 92), ("idx_segments_loudness_max", "<i4", 96),
    ("idx_segments_loudness_max_time", "<i4", 100), ("idx_segments_loudness_start", "<i4", 104),
    ("idx_segments_pitches", "<i4", 108), ("idx_segments_start", "<i4", 112), ("idx_segments_timbre", "<i4", 116),
    ("idx_tatums_confidence", "<i4", 120), ("idx_tatums_start", "<i4", 124), ("key", "<i4", 128),
    ("key_confidence", "<f8", 132), ("loudness", "<f8", 140), ("mode", "<i4", 148), ("mode_confidence", "<f8", 152),
    ("start_of_fade_out", "<f8", 160), ("tempo", "<f8", 168), ("time_signature", "<i4", 176),
    ("time_signature_confidence", "<f8", 180), ("track_id", "S32", 188),
]
REFERENCE_MUSICBRAINZ = [("idx_artist_mbtags", "<i4", 0), ("year", "<i4", 4)]
REFERENCE_TABLES = {
    "metadata/songs": (REFERENCE_METADATA, 5320, (3,), b"table of metadata for one song"),
    "analysis/songs": (REFERENCE_ANALYSIS, 220, (37,), b"table of Echo Nest analysis for one song"),
    "musicbrainz/songs": (REFERENCE_MUSICBRAINZ, 8, (1024,), b"table of data coming from MusicBrainz"),
}
# path: (dtype, chunks, title) from the reference's §5 table
REFERENCE_ARRAYS = {
    "metadata/similar_artists": ("S20", (409,), b"array of similar artists Echo Nest id"),
    "metadata/artist_terms": ("S256", (32,), b"array of terms (Echo Nest tags) for an artist"),
    "metadata/artist_terms_freq": ("<f8", (1024,), b"array of term (Echo Nest tags) frequencies for an artist"),
    "metadata/artist_terms_weight": ("<f8", (1024,), b"array of term (Echo Nest tags) weights for an artist"),
    "analysis/segments_start": ("<f8", (1024,), b"array of start times of segments"),
    "analysis/segments_confidence": ("<f8", (1024,), b"array of confidence of segments"),
    "analysis/segments_pitches": ("<f8", (85, 12), b"array of pitches of segments (chromas)"),
    "analysis/segments_timbre": ("<f8", (85, 12), b"array of timbre of segments (MFCC-like)"),
    "analysis/segments_loudness_max": ("<f8", (1024,), b"array of max loudness of segments"),
    "analysis/segments_loudness_max_time": ("<f8", (1024,), b"array of max loudness time of segments"),
    "analysis/segments_loudness_start": ("<f8", (1024,), b"array of loudness of segments at start time"),
    "analysis/sections_start": ("<f8", (1024,), b"array of start times of sections"),
    "analysis/sections_confidence": ("<f8", (1024,), b"array of confidence of sections"),
    "analysis/beats_start": ("<f8", (1024,), b"array of start times of beats"),
    "analysis/beats_confidence": ("<f8", (1024,), b"array of confidence of sections"),
    "analysis/bars_start": ("<f8", (1024,), b"array of start times of bars"),
    "analysis/bars_confidence": ("<f8", (1024,), b"array of confidence of bars"),
    "analysis/tatums_start": ("<f8", (1024,), b"array of start times of tatums"),
    "analysis/tatums_confidence": ("<f8", (1024,), b"array of confidence of tatums"),
    "musicbrainz/artist_mbtags": ("S256", (32,), b"array of tags from MusicBrainz for an artist"),
    "musicbrainz/artist_mbtags_count": ("<i4", (2048,), b"array of tag counts from MusicBrainz for an artist"),
}
GROUP_TITLES = {
    "metadata": b"metadata about the song",
    "analysis": b"Echo Nest analysis of the song",
    "musicbrainz": b"data about the song coming from MusicBrainz",
}


@pytest.fixture(scope="module")
def track_files(sample_root):
    files = sorted(glob.glob(os.path.join(sample_root, "*", "*", "*", "*.h5")))
    assert len(files) == 90
    return files


def _filters(ds):
    plist = ds.id.get_create_plist()
    return [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]


def test_every_table_has_the_reference_compound_layout(track_files):
    for path in track_files[:10]:
        with h5py.File(path, "r") as h5:
            for table_path, (fields, itemsize, chunks, title) in REFERENCE_TABLES.items():
                ds = h5[table_path]
                assert ds.dtype.itemsize == itemsize
                assert [(n, ds.dtype.fields[n][0].str.replace("|", ""), ds.dtype.fields[n][1]) for n in ds.dtype.names] == [
                    (n, t.replace("|", ""), o) for n, t, o in fields]
                assert ds.shape == (1,) and ds.maxshape == (None,) and ds.chunks == chunks
                assert _filters(ds) == [h5py.h5z.FILTER_SHUFFLE, h5py.h5z.FILTER_DEFLATE]
                assert ds.compression_opts == 1
                assert ds.attrs["CLASS"] == b"TABLE" and ds.attrs["VERSION"] == b"2.6" and ds.attrs["TITLE"] == title
                assert ds.attrs["NROWS"] == 1 and ds.attrs["NROWS"].dtype == np.int64
                for i, (name, _, _) in enumerate(fields):
                    assert ds.attrs[f"FIELD_{i}_NAME"] == name.encode()
                    fill = ds.attrs[f"FIELD_{i}_FILL"]
                    assert fill == (b"" if isinstance(fill, bytes) else 0)
                # single-track files: every idx_* is 0
                for name in ds.dtype.names:
                    if name.startswith("idx_"):
                        assert ds[0][name] == 0


def test_every_array_has_the_reference_dtype_chunks_and_attributes(track_files):
    for path in track_files[:10]:
        with h5py.File(path, "r") as h5:
            for array_path, (dtype, chunks, title) in REFERENCE_ARRAYS.items():
                ds = h5[array_path]
                assert ds.dtype == np.dtype(dtype), array_path
                assert ds.chunks == chunks, array_path
                assert ds.maxshape == ((None, 12) if len(chunks) == 2 else (None,))
                assert _filters(ds) == [h5py.h5z.FILTER_SHUFFLE, h5py.h5z.FILTER_DEFLATE]
                assert ds.attrs["CLASS"] == b"EARRAY" and ds.attrs["VERSION"] == b"1.0" and ds.attrs["TITLE"] == title
                assert ds.attrs["EXTDIM"] != 0  # garbage in every real file
            assert h5["metadata/similar_artists"].shape == (100,)
            s = h5["analysis/segments_start"].shape[0]
            for name in ("confidence", "loudness_max", "loudness_max_time", "loudness_start"):
                assert h5[f"analysis/segments_{name}"].shape == (s,)
            assert h5["analysis/segments_pitches"].shape == (s, 12) == h5["analysis/segments_timbre"].shape
            assert h5["analysis/segments_start"][0] == 0.0
            assert np.all(np.diff(h5["analysis/segments_start"][()]) >= 0)
            for x in ("sections", "beats", "bars", "tatums"):
                assert h5[f"analysis/{x}_start"].shape == h5[f"analysis/{x}_confidence"].shape
            t = h5["metadata/artist_terms"].shape[0]
            assert 1 <= t <= 64
            assert h5["metadata/artist_terms_freq"].shape == (t,) == h5["metadata/artist_terms_weight"].shape
            assert h5["musicbrainz/artist_mbtags"].shape == h5["musicbrainz/artist_mbtags_count"].shape


def test_root_and_group_attributes_and_superblock(track_files):
    path = track_files[0]
    with open(path, "rb") as fh:
        head = fh.read(9)
    assert head[:8] == b"\x89HDF\r\n\x1a\n" and head[8] == 0  # superblock version 0
    with h5py.File(path, "r") as h5:
        assert set(h5.keys()) == {"metadata", "analysis", "musicbrainz"}
        assert dict(h5.attrs) == {"CLASS": b"GROUP", "PYTABLES_FORMAT_VERSION": b"2.0", "TITLE": b"H5 Song File",
                                  "VERSION": b"1.0", "FILTERS": 65793}
        assert h5.attrs["FILTERS"].dtype == np.int64
        for group, title in GROUP_TITLES.items():
            attrs = dict(h5[group].attrs)
            assert attrs == {"CLASS": b"GROUP", "VERSION": b"1.0", "FILTERS": 65793, "TITLE": title}


def test_layout_and_track_ids_have_the_real_form(track_files, sample_root):
    for path in track_files:
        rel = os.path.relpath(path, sample_root).split(os.sep)
        track_id = rel[-1][:-3]
        assert re.fullmatch(r"TR[A-Z]{5}[0-9A-Z]{11}", track_id) and len(track_id) == 18
        assert rel[:3] == [track_id[2], track_id[3], track_id[4]]
        with h5py.File(path, "r") as h5:
            assert h5["analysis/songs"][0]["track_id"].decode() == track_id
            assert h5["analysis/songs"][0]["analysis_sample_rate"] == 22050
            assert h5["metadata/songs"][0]["analyzer_version"] == b"" and h5["metadata/songs"][0]["genre"] == b""
            assert h5["analysis/songs"][0]["danceability"] == 0.0 and h5["analysis/songs"][0]["energy"] == 0.0
            assert re.fullmatch(rb"SO[A-Z0-9]{16}", h5["metadata/songs"][0]["song_id"])
            assert re.fullmatch(rb"AR[A-Z0-9]{16}", h5["metadata/songs"][0]["artist_id"])


def test_pytables_the_original_writer_library_reads_them_as_tables_and_earrays(track_files):
    with tables.open_file(track_files[0]) as h5:
        assert isinstance(h5.root.metadata.songs, tables.Table)
        assert isinstance(h5.root.analysis.segments_pitches, tables.EArray)
        assert h5.root._v_title == "H5 Song File"
        filters = h5.root.metadata.songs.filters
        assert (filters.complib, filters.complevel, filters.shuffle) == ("zlib", 1, True)
        # the hdf5_getters access pattern works unchanged
        assert h5.root.metadata.songs.cols.artist_name[0] == h5.root.metadata.songs[0]["artist_name"]
        assert h5.root.analysis.segments_pitches.shape[1] == 12
