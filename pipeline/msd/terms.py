"""The Million Song Dataset's own terms, declared as a source declares its own (``pipeline/sources/base.py``:
``terms``, ``data_licence``, ``licence_url``, ``republishable``, ``provenance()``), so the dictionary, the exports,
the manifests and the report treat the MSD's columns as they treat any source's.

What the MSD says of itself (MSongsDB's LICENSE, "LICENSE FOR THE DATA IN THE MILLION SONG DATASET"): the Echo
Nest data is released under the same terms of use as the Echo Nest API (its 2009 terms, copied in that file: a
non-commercial licence, no right to copy, transfer or sublicense granted); "if you are a researcher and want to
publish results on the dataset, you are fine"; of its MusicBrainz data, the track year is public domain and the
artist tags and tag counts are CC BY-NC-SA 2.0. No open licence covers the rest, so its columns are not
republished by ``export --open-only``, except the identifiers below.

The MSD's track and song ids are kept there as join keys: LabROSA publishes them in the openly downloadable id
lists (``unique_tracks.txt``), every companion dataset of the MSD (Last.fm, SecondHandSongs, the Taste Profile,
musiXmatch) republishes them as its key, and without them an open file cannot be joined to a researcher's own copy
of the MSD. No title, name or Echo Nest feature goes with them.
"""

from __future__ import annotations

import os

from pipeline.sources.base import dump_provenance

LICENCE_URL = "https://github.com/tbertinmahieux/MSongsDB/blob/master/LICENSE"


class MillionSongDataset:
    name = "msd"
    title = "Million Song Dataset"
    data_licence = ""  # no open licence: the Echo Nest API terms, as the MSD's LICENSE says
    licence_url = LICENCE_URL
    republishable = False
    terms = ("MSD terms: research use. The MSD's Echo Nest data comes under the Echo Nest API terms of use "
             "(non-commercial; researchers may publish results on it; no right to redistribute it is granted); its "
             "MusicBrainz year is public domain and its MusicBrainz tags CC BY-NC-SA 2.0; see " + LICENCE_URL + ".")
    # Columns of the MSD an open export keeps, as join keys to a researcher's own copy (see above): its track and
    # song ids, under the names the warehouse gives them, and the partition (the track id's letters).
    join_keys = ("track_id", "song_id", "msd_track_id", "msd_song_id", "msd_partition")

    def provenance(self) -> list[dict]:
        """The MSD's HDF5 track files under the configured root (read as they are: no digest pins them)."""
        from pipeline import config

        root = config.msd().root
        entry = dump_provenance(root, None, kind="file")
        entry["name"] = f"MSD HDF5 track files under {os.path.basename(root.rstrip('/')) or root}"
        return [entry]

    def __repr__(self) -> str:
        return "<the MSD's own terms>"


MSD = MillionSongDataset()
