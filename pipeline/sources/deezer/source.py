"""Deezer as a source: a keyless public API with rank, bpm, gain, fans and album genres.

It reads what Spotify found (a song Spotify matched with an ISRC is looked up by it), so it needs
Spotify enabled. Every process on a host paces itself through one file to Deezer's per-address rate.
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter

from pipeline import config
from pipeline.sources.base import (
    AVAILABLE,
    GONE,
    RELINKED,
    UNAVAILABLE,
    CrosswalkId,
    Sandbox,
    Source,
    api_provenance,
    snapshot_rows,
    store_for,
)
from pipeline.sources.deezer.settings import deezer as settings_section
from pipeline.warehouse.table import Table

CAPABILITIES = ("track_isrc",)
DEMO_RATE = 500  # requests per second the demo's sandbox is paced at: seconds, not minutes


class _WouldAskError(Exception):
    """Raised instead of sending a request: the replay found an answer the store does not hold."""


class Deezer(Source):
    name = "deezer"
    title = "Deezer"
    requires = ("spotify",)
    capabilities = CAPABILITIES
    tables = (
        Table("deezer_matches", "deezer", "matches.jsonl.gz", key=("track_id",), owned=True),
        Table("deezer_tracks", "deezer", "tracks.jsonl.gz", key=("deezer_track_id",), replace_by="deezer_track_id"),
        Table("deezer_artists", "deezer", "artists.jsonl.gz", key=("deezer_artist_id",), replace_by="deezer_artist_id"),
        Table("deezer_albums", "deezer", "albums.jsonl.gz", key=("deezer_album_id",), replace_by="deezer_album_id"),
    )
    matches = True
    keeps_match_history = True
    refreshes = True
    colour = "#A238FF"
    terms = "Deezer data comes from Deezer's API, whose terms restrict it to non-commercial use."
    data_licence = ""  # no open licence: Deezer's API terms only (non-commercial; no caching of content)
    licence_url = "https://developers.deezer.com/termsofuse"
    republishable = False
    crosswalk_ids = (
        CrosswalkId("deezer_track_id", "m.deezer_track_id"),
        CrosswalkId("isrc", "t.isrc", "LEFT JOIN deezer_tracks t ON t.deezer_track_id = m.deezer_track_id"),
    )

    def settings(self):
        return settings_section()

    def stages(self):
        from pipeline.sources.deezer.tasks import DeezerEnrich

        return (DeezerEnrich,)

    def gateway(self):
        from pipeline.sources.deezer.tasks import deezer_gateway

        return deezer_gateway()

    def endpoints(self) -> list[tuple[str, str]]:
        return [(self.settings().api_url, "[deezer] api_url, environment MUSIC_ETL_DEEZER_API_URL")]

    def provenance(self) -> list[dict]:
        return [api_provenance(self.settings().api_url)]

    def needs(self, partition: str) -> str | None:
        """The partition's Deezer enrichment replayed against the store, with the ISRCs Spotify staged."""
        from pipeline.sources.deezer.enrich import enrich_partition
        from pipeline.sources.deezer.gateway import DeezerGateway
        from pipeline.sources.spotify.rows import staged_matches
        from pipeline.sources.spotify.tasks import SpotifyEnrich
        from pipeline.tasks.extract import staged_songs

        songs = staged_songs(partition)
        spotify = SpotifyEnrich(partition=partition).output()
        if songs is None or not spotify.exists():
            return "its songs and Spotify matches are not both staged, so which answers it needs is unknown until they are"
        _, isrcs = staged_matches(spotify.folder)  # what the rerun's DeezerEnrich will read

        def no_client():
            raise _WouldAskError
        settings = self.settings()
        try:
            enrich_partition(partition, songs, DeezerGateway(no_client, store_for(self.name), settings.search_limit,
                                                           settings.not_found_max_age_days),
                             isrcs, settings.match_threshold)
        except _WouldAskError:
            return "some of its songs, albums or artists were never looked up there"
        return None

    # --- what people see --------------------------------------------------------------------

    def summary(self, manifests: list[dict]) -> list[str]:
        from pipeline.sources.ask_again import NAMED_NO_DATA_ASKS

        both = sum(m["agreement"]["both_matched"] for m in manifests)
        disagree = sum(m["agreement"]["disagree"] for m in manifests)
        lines = [f"Spotify and Deezer both matched {both} songs this run, {disagree} disagree on the recording "
                 f"(see enriched_songs.sources_agree)"]
        songs = sum(m.get("songs", 0) for m in manifests)
        not_found = Counter()
        for m in manifests:
            not_found.update(m.get("not_found") or {})
        if not_found:
            many = sum(not_found.values()) > songs / 2
            lines.append(f"{'warning: unusually many' if many else 'Deezer'} \"not found\" answers: "
                         f"{not_found.get('track_isrc', 0)} ISRC lookups without a track, {not_found.get('search', 0)} "
                         f"searches without a hit, for {songs} songs; kept, and asked again once older than "
                         f"[deezer] not_found_max_age_days ({self.settings().not_found_max_age_days})")
        again = [k for m in manifests for k in m.get("ask_again") or []]
        if again:
            kinds = Counter(kind for kind, _ in again)
            lines.append(f"warning: Deezer answered \"no data\" for {len(again)} id(s) its own answers named "
                         f"({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}), a fault most likely: their facts "
                         f"are missing until the next run asks them again (each at most {NAMED_NO_DATA_ASKS} times)")
        return lines

    def daily_limit(self) -> tuple[float | None, str]:
        from pipeline.sources.deezer.client import PACE_MARGIN

        # As the configuration files and the environment set them: the demo sandbox's in-process pace is not Deezer's.
        limit, window = config.configured(settings_section, "rate_limit"), config.configured(settings_section, "rate_window")
        daily = limit / window * 86_400 / (1 + PACE_MARGIN)
        return round(daily), (f"{limit:,} requests per {window:g} s ([deezer] rate_limit, rate_window), less the "
                              f"pacer's {PACE_MARGIN:.0%} margin")

    def report_sections(self, context):
        from pipeline.sources.deezer import report

        return report.sections(self, context)

    def example_queries(self) -> list[tuple[str, str]]:
        return [("Songs both Spotify and Deezer matched: do they agree, and what Deezer adds (rank, bpm, fans)",
                 "SELECT count(*) AS both_matched, sum(CASE WHEN sources_agree THEN 1 ELSE 0 END) AS agree, "
                 "round(avg(deezer_rank)) AS mean_deezer_rank, round(avg(deezer_bpm), 1) AS mean_bpm, "
                 "max(deezer_artist_fans) AS most_artist_fans FROM enriched_songs WHERE sources_agree IS NOT NULL")]

    @contextlib.contextmanager
    def sandbox(self, msd_root: str, day=None, **options):
        """``day``: the calendar day it plays (``make refresh-demo``), ranks and fans moved and a few tracks gone
        (pipeline/standins/demo_days.py); else the catalog the demo enriches from."""
        from pipeline.sources.spotify.source import demo_catalog
        from pipeline.standins.deezer_catalog import build_deezer_catalog
        from pipeline.standins.deezer_sandbox import DeezerSandboxServer, DeezerState
        from pipeline.standins.demo_days import catalog_day, gone_tracks
        from pipeline.standins.spotify_catalog import DEMO_CATALOG_SEED, load_identities

        catalog = build_deezer_catalog(load_identities(msd_root), demo_catalog(msd_root), seed=DEMO_CATALOG_SEED)
        state = DeezerState(catalog, rate_limit=None)
        if day is not None:
            state.day, state.gone = catalog_day(day), gone_tracks(catalog.tracks)
        server = DeezerSandboxServer(state).start()
        os.environ["MUSIC_ETL_DEEZER_API_URL"] = f"{server.url}/"
        # The sandbox is not Deezer: its own pace, not Deezer's 50 per 5 s, so the demo takes seconds, not minutes.
        # In this process and while it runs only: the report forecasts from the configured pace (config.configured).
        try:
            with config.overridden("deezer", rate_limit=DEMO_RATE, rate_window=1):
                yield Sandbox(f"Deezer sandbox on {server.url}: {len(catalog.tracks)} tracks",
                              lambda: server.state.stats()["requests"])
        finally:
            server.stop()

    # --- the daily refresh ---------------------------------------------------------------------------

    def refresh_partition(self, gateway, day: str, part: dict, partition: str, plan: dict) -> dict[str, list[dict]]:
        def state_of(track_id: str):
            entry = gateway.track_on(day, track_id)
            obj = entry.get("obj")
            if obj is None:
                return None, GONE, None, entry["at"]
            if obj["id"] != track_id:
                return obj.get("rank"), RELINKED, obj["id"], entry["at"]
            if obj.get("readable") is False:
                if obj.get("alternative"):
                    return obj.get("rank"), RELINKED, obj["alternative"], entry["at"]
                return obj.get("rank"), UNAVAILABLE, None, entry["at"]
            return obj.get("rank"), AVAILABLE, None, entry["at"]

        artists = []
        for artist_id in part["artists"]:
            entry = gateway.artist_on(day, artist_id)
            artists.append({"source_artist_id": artist_id, "followers": (entry.get("obj") or {}).get("nb_fan"),
                            "popularity": None, "fetched_at": entry["at"]})
        return snapshot_rows(self.name, day, part, state_of, artists)


SOURCE = Deezer()
