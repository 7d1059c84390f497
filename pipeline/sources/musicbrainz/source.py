"""MusicBrainz as a source: the recording MBID of every MSD song, offline first (resolve.py has the routes).

MusicBrainz data is CC0: what is derived from it may be republished. MSD already carries MusicBrainz artist ids;
the recording ids it lacks come from Echo Nest profiles, the canonical dump (joined offline) and, for the rest,
ListenBrainz's metadata lookup (50 songs per request).
"""

from __future__ import annotations

import contextlib
import os

from pipeline.sources.base import CrosswalkId, Sandbox, Source, Terms, api_provenance, dump_provenance, file_sha256
from pipeline.sources.musicbrainz.settings import musicbrainz as settings_section
from pipeline.warehouse.table import Table


class MusicBrainz(Source):
    name = "musicbrainz"
    title = "MusicBrainz"
    on_by_default = False  # needs a dump or a token chosen by its user: see docs/CONFIGURATION.md [musicbrainz]
    tables = (
        Table("musicbrainz_matches", "musicbrainz", "matches.jsonl.gz", key=("track_id",), owned=True),
        Table("musicbrainz_recordings", "musicbrainz", "recordings.jsonl.gz", key=("canonical_recording_mbid",),
              replace_by="canonical_recording_mbid"),
        # Every entity whose tags the partition's answers told, before its tags: they replace its earlier tags whole.
        Table("musicbrainz_tagged_entities", "musicbrainz", "tagged_entities.jsonl.gz", key=("mbid",), replace_by="mbid"),
        Table("musicbrainz_tags", "musicbrainz", "tags.jsonl.gz", key=("mbid", "tag"), replace_by="mbid",
              replace_from="musicbrainz_tagged_entities"),
    )
    matches = True
    colour = "#BA478F"
    terms = "MusicBrainz data is CC0 (public domain): free to republish."
    data_licence = "CC0-1.0"
    licence_url = "https://musicbrainz.org/doc/About/Data_License"
    republishable = True
    crosswalk_ids = (CrosswalkId("recording_mbid", "m.recording_mbid"),
                     CrosswalkId("canonical_recording_mbid", "m.canonical_recording_mbid"))

    @property
    def track_table(self) -> str:
        return "musicbrainz_recordings"

    @property
    def track_id_column(self) -> str:
        return "canonical_recording_mbid"

    def settings(self):
        return settings_section()

    def stages(self):
        from pipeline.sources.musicbrainz.tasks import MusicBrainzIdentity

        return (MusicBrainzIdentity,)

    def gateway(self):
        from pipeline.sources.musicbrainz.tasks import musicbrainz_gateway

        return musicbrainz_gateway()

    def endpoints(self) -> list[tuple[str, str]]:
        settings = self.settings()
        return ([(settings.lookup_url, "[musicbrainz] lookup_url, environment MUSIC_ETL_MUSICBRAINZ_LOOKUP_URL")]
                if settings.lookup else [])

    def provenance(self) -> list[dict]:
        settings = self.settings()
        used = [dump_provenance(settings.canonical_dump, settings.canonical_dump_sha256)] if settings.canonical_dump else []
        if settings.echo_nest_profiles:  # Echo Nest data (the MSD's terms) naming recordings
            used.append(dump_provenance(settings.echo_nest_profiles, file_sha256(settings.echo_nest_profiles), "file"))
        return used + ([api_provenance(settings.lookup_url)] if settings.lookup else [])

    def table_terms(self, table: str) -> Terms | None:
        # Tags are MusicBrainz's "supplementary data" (user-submitted annotations, tags and ratings), not its CC0 core.
        if table in ("musicbrainz_tags", "musicbrainz_tagged_entities"):
            return Terms("CC-BY-NC-SA-3.0", self.licence_url, "MusicBrainz tags are supplementary data under CC BY-NC-SA "
                         "3.0: shared non-commercially, with attribution, under the same licence; not in --open-only.", False)
        return None

    def check_settings(self) -> None:
        from pipeline.sources.musicbrainz.tasks import check_settings

        check_settings()

    def summary(self, manifests: list[dict]) -> list[str]:
        routes: dict[str, int] = {}
        songs = matched = 0
        for m in manifests:
            songs += m.get("songs", 0)
            matched += (m.get("statuses") or {}).get("matched", 0)
            for route, n in (m.get("routes") or {}).items():
                routes[route] = routes.get(route, 0) + n
        if not songs:
            return []
        by_route = ", ".join(f"{n} by {r.replace('_', ' ')}" for r, n in sorted(routes.items()))
        return [f"MusicBrainz recording ids for {matched} of {songs} songs staged this run ({by_route or 'none'})"]

    def example_queries(self) -> list[tuple[str, str]]:
        return [("How each MSD song got its MusicBrainz recording id (CC0), and how many MusicBrainz merged since",
                 "SELECT status, method, count(*) AS songs, sum(CASE WHEN recording_mbid <> canonical_recording_mbid "
                 "THEN 1 ELSE 0 END) AS recording_merged, sum(CASE WHEN artist_mbid <> canonical_artist_mbid THEN 1 "
                 "ELSE 0 END) AS artist_merged FROM musicbrainz_matches GROUP BY 1, 2 ORDER BY 3 DESC"),
                ("Songs MSD has no year for: the first release year MusicBrainz knows (MSD's own year stays null)",
                 "SELECT count(*) AS songs_without_msd_year, count(mb_first_release_year) AS with_musicbrainz_year, "
                 "min(mb_first_release_year) AS earliest, max(mb_first_release_year) AS latest FROM enriched_songs "
                 "WHERE year IS NULL AND mb_status = 'matched'"),
                ("The MusicBrainz genres most MSD songs' recordings and artists are tagged with (genre_mbid: a genre, "
                 "not a free tag)",
                 "SELECT t.tag, count(DISTINCT m.track_id) AS songs, count(DISTINCT CASE WHEN t.entity = 'recording' "
                 "THEN m.track_id END) AS by_recording_tag FROM musicbrainz_matches m JOIN musicbrainz_tags t ON t.mbid IN "
                 "(m.canonical_recording_mbid, m.canonical_artist_mbid) WHERE t.genre_mbid IS NOT NULL "
                 "GROUP BY t.tag ORDER BY songs DESC, t.tag LIMIT 5")]

    @contextlib.contextmanager
    def sandbox(self, msd_root: str, day=None, **options):
        """The demo's MusicBrainz: a canonical dump in the published layout and Echo Nest profiles written from the
        sample, and a ListenBrainz sandbox answering the metadata lookups (``day``: the date it plays)."""
        from pipeline.standins import metabrainz

        with metabrainz.started(msd_root, for_source=self.name, day=day) as (server, world, dump):
            os.environ["MUSIC_ETL_MUSICBRAINZ_LOOKUP_URL"] = server.url
            yield Sandbox(f"MusicBrainz stand-ins: canonical dump {dump} ({len(world.recordings)} recordings), Echo Nest "
                          f"profiles of {len(world.profiles)} songs, ListenBrainz's metadata lookups on {server.url}",
                          lambda: server.state.stats()["requests"])


SOURCE = MusicBrainz()
