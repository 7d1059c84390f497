"""The MSD per-track HDF5 layout, field for field (the MSD field list, millionsongdataset.com/pages/field-list, and its hdf5_getters.py).

One description serves the reader (to validate a file and to know what to read) and the
sample generator (to write files the original PyTables writer would have written). Column
order is the on-disk order, which is alphabetical because PyTables sorted the
``IsDescription`` columns by name.
"""

from __future__ import annotations

import numpy as np

# --- compound tables -----------------------------------------------------------------

METADATA_FIELDS: list[tuple[str, str]] = [
    ("analyzer_version", "S32"),
    ("artist_7digitalid", "<i4"),
    ("artist_familiarity", "<f8"),
    ("artist_hotttnesss", "<f8"),
    ("artist_id", "S32"),
    ("artist_latitude", "<f8"),
    ("artist_location", "S1024"),
    ("artist_longitude", "<f8"),
    ("artist_mbid", "S40"),
    ("artist_name", "S1024"),
    ("artist_playmeid", "<i4"),
    ("genre", "S1024"),
    ("idx_artist_terms", "<i4"),
    ("idx_similar_artists", "<i4"),
    ("release", "S1024"),
    ("release_7digitalid", "<i4"),
    ("song_hotttnesss", "<f8"),
    ("song_id", "S32"),
    ("title", "S1024"),
    ("track_7digitalid", "<i4"),
]

ANALYSIS_FIELDS: list[tuple[str, str]] = [
    ("analysis_sample_rate", "<i4"),
    ("audio_md5", "S32"),
    ("danceability", "<f8"),
    ("duration", "<f8"),
    ("end_of_fade_in", "<f8"),
    ("energy", "<f8"),
    ("idx_bars_confidence", "<i4"),
    ("idx_bars_start", "<i4"),
    ("idx_beats_confidence", "<i4"),
    ("idx_beats_start", "<i4"),
    ("idx_sections_confidence", "<i4"),
    ("idx_sections_start", "<i4"),
    ("idx_segments_confidence", "<i4"),
    ("idx_segments_loudness_max", "<i4"),
    ("idx_segments_loudness_max_time", "<i4"),
    ("idx_segments_loudness_start", "<i4"),
    ("idx_segments_pitches", "<i4"),
    ("idx_segments_start", "<i4"),
    ("idx_segments_timbre", "<i4"),
    ("idx_tatums_confidence", "<i4"),
    ("idx_tatums_start", "<i4"),
    ("key", "<i4"),
    ("key_confidence", "<f8"),
    ("loudness", "<f8"),
    ("mode", "<i4"),
    ("mode_confidence", "<f8"),
    ("start_of_fade_out", "<f8"),
    ("tempo", "<f8"),
    ("time_signature", "<i4"),
    ("time_signature_confidence", "<f8"),
    ("track_id", "S32"),
]

MUSICBRAINZ_FIELDS: list[tuple[str, str]] = [
    ("idx_artist_mbtags", "<i4"),
    ("year", "<i4"),
]

METADATA_DTYPE = np.dtype(METADATA_FIELDS)
ANALYSIS_DTYPE = np.dtype(ANALYSIS_FIELDS)
MUSICBRAINZ_DTYPE = np.dtype(MUSICBRAINZ_FIELDS)


class TableSpec:
    """One PyTables Table: the ``songs`` dataset of a group."""

    def __init__(self, group: str, dtype: np.dtype, chunks: int, title: str):
        self.group = group
        self.path = f"{group}/songs"
        self.dtype = dtype
        self.chunks = (chunks,)
        self.title = title


class ArraySpec:
    """One PyTables EArray: a per-song array sliced by an ``idx_*`` column."""

    def __init__(self, group: str, name: str, dtype: str, chunks: tuple[int, ...], title: str, idx_field: str):
        self.group = group
        self.name = name
        self.path = f"{group}/{name}"
        self.dtype = np.dtype(dtype)
        self.chunks = chunks
        self.title = title
        self.idx_field = idx_field
        self.width = chunks[1] if len(chunks) == 2 else None  # 12 for pitches and timbre


GROUP_TITLES = {
    "metadata": "metadata about the song",
    "analysis": "Echo Nest analysis of the song",
    "musicbrainz": "data about the song coming from MusicBrainz",
}

TABLES = [
    TableSpec("metadata", METADATA_DTYPE, 3, "table of metadata for one song"),
    TableSpec("analysis", ANALYSIS_DTYPE, 37, "table of Echo Nest analysis for one song"),
    TableSpec("musicbrainz", MUSICBRAINZ_DTYPE, 1024, "table of data coming from MusicBrainz"),
]
TABLE_BY_GROUP = {t.group: t for t in TABLES}

_F = (1024,)
ARRAYS = [
    ArraySpec("metadata", "similar_artists", "S20", (409,), "array of similar artists Echo Nest id", "idx_similar_artists"),
    ArraySpec("metadata", "artist_terms", "S256", (32,), "array of terms (Echo Nest tags) for an artist", "idx_artist_terms"),
    ArraySpec("metadata", "artist_terms_freq", "<f8", _F, "array of term (Echo Nest tags) frequencies for an artist", "idx_artist_terms"),
    ArraySpec("metadata", "artist_terms_weight", "<f8", _F, "array of term (Echo Nest tags) weights for an artist", "idx_artist_terms"),
    ArraySpec("analysis", "segments_start", "<f8", _F, "array of start times of segments", "idx_segments_start"),
    ArraySpec("analysis", "segments_confidence", "<f8", _F, "array of confidence of segments", "idx_segments_confidence"),
    ArraySpec("analysis", "segments_pitches", "<f8", (85, 12), "array of pitches of segments (chromas)", "idx_segments_pitches"),
    ArraySpec("analysis", "segments_timbre", "<f8", (85, 12), "array of timbre of segments (MFCC-like)", "idx_segments_timbre"),
    ArraySpec("analysis", "segments_loudness_max", "<f8", _F, "array of max loudness of segments", "idx_segments_loudness_max"),
    ArraySpec("analysis", "segments_loudness_max_time", "<f8", _F, "array of max loudness time of segments", "idx_segments_loudness_max_time"),
    ArraySpec("analysis", "segments_loudness_start", "<f8", _F, "array of loudness of segments at start time", "idx_segments_loudness_start"),
    ArraySpec("analysis", "sections_start", "<f8", _F, "array of start times of sections", "idx_sections_start"),
    ArraySpec("analysis", "sections_confidence", "<f8", _F, "array of confidence of sections", "idx_sections_confidence"),
    ArraySpec("analysis", "beats_start", "<f8", _F, "array of start times of beats", "idx_beats_start"),
    # The real files carry this copy-paste TITLE; kept so generated files match them.
    ArraySpec("analysis", "beats_confidence", "<f8", _F, "array of confidence of sections", "idx_beats_confidence"),
    ArraySpec("analysis", "bars_start", "<f8", _F, "array of start times of bars", "idx_bars_start"),
    ArraySpec("analysis", "bars_confidence", "<f8", _F, "array of confidence of bars", "idx_bars_confidence"),
    ArraySpec("analysis", "tatums_start", "<f8", _F, "array of start times of tatums", "idx_tatums_start"),
    ArraySpec("analysis", "tatums_confidence", "<f8", _F, "array of confidence of tatums", "idx_tatums_confidence"),
    ArraySpec("musicbrainz", "artist_mbtags", "S256", (32,), "array of tags from MusicBrainz for an artist", "idx_artist_mbtags"),
    ArraySpec("musicbrainz", "artist_mbtags_count", "<i4", (2048,), "array of tag counts from MusicBrainz for an artist", "idx_artist_mbtags"),
]
ARRAY_BY_NAME = {a.name: a for a in ARRAYS}

# --- PyTables attributes ---------------------------------------------------------------

ROOT_TITLE = "H5 Song File"
PYTABLES_FORMAT_VERSION = "2.0"
# PyTables' packed encoding of Filters(complevel=1, complib='zlib', shuffle=True).
PYTABLES_FILTERS = 65793
TABLE_VERSION = "2.6"
EARRAY_VERSION = "1.0"
GROUP_VERSION = "1.0"
COMPRESSION_LEVEL = 1

# --- what the staged track record holds ---------------------------------------------

# The sentinels the MSD uses for "unknown" and that the reader turns into null.
UNKNOWN_ID_FIELDS = ("artist_7digitalid", "artist_playmeid", "release_7digitalid", "track_7digitalid")
# Never filled by the Echo Nest (0.0 in all 971 measured files): a zero is "not computed".
NEVER_COMPUTED_FIELDS = ("danceability", "energy")

SCALAR_FIELDS: list[tuple[str, str]] = [
    (name, dt)
    for name, dt in METADATA_FIELDS + ANALYSIS_FIELDS + MUSICBRAINZ_FIELDS
    if not name.startswith("idx_")
]

# Arrays whose values are staged (artist-level lists), and arrays of which only the length is.
VALUE_ARRAYS = ("artist_terms", "artist_terms_freq", "artist_terms_weight", "similar_artists", "artist_mbtags", "artist_mbtags_count")
COUNTED_ARRAYS = {
    "num_segments": "segments_start",
    "num_sections": "sections_start",
    "num_beats": "beats_start",
    "num_bars": "bars_start",
    "num_tatums": "tatums_start",
}

TRACK_ID_LENGTH = 18


def track_relpath(track_id: str) -> str:
    """``TRABC…`` lives at ``A/B/C/TRABC….h5`` under the MSD root."""
    return f"{track_id[2]}/{track_id[3]}/{track_id[4]}/{track_id}.h5"
