"""AcousticBrainz as a source: audio features (tempo, key, danceability, …) of every MSD song MusicBrainz resolved, from
the frozen 2022 low-level dumps, read once per version (dump.py) and joined offline (features.py).

AcousticBrainz data is CC0: what is derived from it may be republished. It stands in for Spotify's audio features,
which answer 403 to every app made since November 2024; its scales are Essentia's, not Spotify's (the dictionary
says each), and it has no speechiness or liveness. It reads the MusicBrainz identity (recording MBIDs), so it needs
the ``musicbrainz`` source enabled, and it asks no service: nothing to pace, count or refresh.
"""

from __future__ import annotations

import contextlib
import os
import time

from pipeline.sources.acousticbrainz.settings import acousticbrainz as settings_section
from pipeline.sources.base import Sandbox, Source, dump_provenance
from pipeline.warehouse.table import Table


class AcousticBrainz(Source):
    name = "acousticbrainz"
    title = "AcousticBrainz"
    requires = ("musicbrainz",)
    on_by_default = False  # needs the dumps (~2.2 GB) chosen and pinned by its user: docs/CONFIGURATION.md
    tables = (Table("acousticbrainz_features", "acousticbrainz", "features.jsonl.gz", key=("track_id",), owned=True),)
    colour = "#5F9E6E"
    terms = "AcousticBrainz data is CC0 (public domain): free to republish."
    data_licence = "CC0-1.0"
    licence_url = "https://creativecommons.org/publicdomain/zero/1.0/"
    republishable = True

    def settings(self):
        return settings_section()

    def stages(self):
        from pipeline.sources.acousticbrainz.tasks import AcousticBrainzFeatures

        return (AcousticBrainzFeatures,)

    def check_settings(self) -> None:
        from pipeline.sources.acousticbrainz.tasks import check_settings

        check_settings()

    def provenance(self) -> list[dict]:
        """Each dump as the settings pin it: file name, date (the one its name carries), SHA-256 and where it is read."""
        from pipeline.sources.acousticbrainz.tasks import configured_dumps

        return [dump_provenance(location, sha256 or None) for location, sha256 in configured_dumps().values()]

    def summary(self, manifests: list[dict]) -> list[str]:
        songs = sum(m.get("songs", 0) for m in manifests)
        found = sum((m.get("statuses") or {}).get("matched", 0) for m in manifests)
        resolved = found + sum((m.get("statuses") or {}).get("not_found", 0) for m in manifests)
        return ([f"AcousticBrainz features for {found} of {songs} songs staged this run ({resolved} with a MusicBrainz "
                 f"recording)"] if songs else [])

    def example_queries(self) -> list[tuple[str, str]]:
        return [("AcousticBrainz's tempo and key (CC0) beside MSD's Echo Nest analysis",
                 "SELECT title, round(tempo, 1) AS tempo, round(ab_bpm, 1) AS ab_bpm, key, ab_key, mode, ab_mode, "
                 "round(ab_danceability, 2) AS ab_dance, ab_submissions AS ab_n FROM enriched_songs "
                 "WHERE ab_bpm IS NOT NULL ORDER BY ab_submissions DESC, track_id LIMIT 5")]

    def report_sections(self, context):
        from pipeline.sources.acousticbrainz import report

        return report.sections(self, context)

    @contextlib.contextmanager
    def sandbox(self, msd_root: str, **options):
        """The demo's AcousticBrainz: rhythm and tonal dumps in the published layout, written once beside the sample
        from its MusicBrainz world, the settings pointed at them; what it "received" is the dumps read this run."""
        from pipeline.standins import acousticbrainz_dumps, metabrainz

        world = metabrainz.world_of(msd_root)
        paths, digests = acousticbrainz_dumps.written(msd_root, world)
        for kind, path in paths.items():
            os.environ[f"MUSIC_ETL_ACOUSTICBRAINZ_{kind.upper()}_DUMP"] = path
            os.environ[f"MUSIC_ETL_ACOUSTICBRAINZ_{kind.upper()}_DUMP_SHA256"] = digests[kind]
        started = time.time()

        def read_this_run() -> dict[str, int]:
            index_dir = self.settings().index_dir
            return {f"{kind}_dump_read": int(os.path.getmtime(meta) >= started) if os.path.exists(
                        meta := os.path.join(index_dir, digests[kind], "index.json")) else 0
                    for kind in paths}

        yield Sandbox(f"AcousticBrainz stand-ins: rhythm and tonal dumps {os.path.dirname(paths['rhythm'])} (pinned by "
                      f"its sha256sums), read into {self.settings().index_dir}", read_this_run)


SOURCE = AcousticBrainz()
