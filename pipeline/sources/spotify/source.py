"""Spotify as a source: what it owns and how the rest of the pipeline reaches it.

Matching runs for every song (search, crosswalk ids checked); a Development-Mode app (all a researcher can
get in 2026) sees no popularity, followers, genres or audio features and has a daily quota of ~1-2.6k
requests, so every answer is stored and a quota stop is recorded with the time it lifts.
"""

from __future__ import annotations

import contextlib
import functools
import os
from datetime import UTC, datetime

from pipeline import staging
from pipeline.sources.base import (
    AVAILABLE,
    GONE,
    RELINKED,
    CrosswalkId,
    Sandbox,
    Source,
    UnansweredError,
    api_provenance,
    dump_provenance,
    file_sha256,
    snapshot_rows,
    store_for,
)
from pipeline.sources.spotify.settings import spotify as settings_section
from pipeline.sources.spotify.shapes import CAPABILITIES
from pipeline.warehouse.table import Table

# Ids per batch request where the app may batch (GET /tracks?ids= and /artists?ids=).
BATCH = 50


class Spotify(Source):
    name = "spotify"
    title = "Spotify"
    capabilities = CAPABILITIES
    tables = (
        Table("spotify_matches", "spotify", "matches.jsonl.gz", key=("track_id",), owned=True),
        Table("spotify_tracks", "spotify", "tracks.jsonl.gz", key=("spotify_track_id",), replace_by="spotify_track_id"),
        Table("spotify_artists", "spotify", "artists.jsonl.gz", key=("spotify_artist_id",),
              replace_by="spotify_artist_id"),
        Table("spotify_audio_features", "spotify", "audio_features.jsonl.gz", key=("spotify_track_id",),
              replace_by="spotify_track_id"),
    )
    matches = True
    keeps_match_history = True
    refreshes = True
    colour = "#1DB954"
    terms = ("Spotify data comes from the Spotify Web API under Spotify's Developer Terms, which do not allow "
             "redistributing it.")
    data_licence = ""  # no open licence: the Developer Terms only
    licence_url = "https://developer.spotify.com/terms"
    republishable = False
    crosswalk_ids = (
        CrosswalkId("spotify_track_id", "m.spotify_track_id"),
        CrosswalkId("isrc", "t.isrc", "LEFT JOIN spotify_tracks t ON t.spotify_track_id = m.spotify_track_id"),
    )

    def settings(self):
        return settings_section()

    def stages(self):
        from pipeline.sources.spotify.tasks import SpotifyEnrich, SpotifySearch

        return (SpotifySearch, SpotifyEnrich)

    def gateway(self):
        from pipeline.sources.spotify.tasks import spotify_gateway

        return spotify_gateway()

    def endpoints(self) -> list[tuple[str, str]]:
        settings = self.settings()
        return [(settings.api_url, "[spotify] api_url, environment MUSIC_ETL_SPOTIFY_API_URL"),
                (settings.token_url, "[spotify] token_url, environment MUSIC_ETL_SPOTIFY_TOKEN_URL")]

    def provenance(self) -> list[dict]:
        settings = self.settings()
        used = [api_provenance(settings.api_url), api_provenance(settings.token_url)]
        if settings.crosswalk:
            used.append(dump_provenance(settings.crosswalk, file_sha256(settings.crosswalk), kind="file"))
        return used

    def check_settings(self) -> None:
        from pipeline.sources.spotify.crosswalk import load_crosswalk

        if self.settings().crosswalk:
            load_crosswalk(self.settings().crosswalk)  # a broken crosswalk names its line

    def needs(self, partition: str) -> str | None:
        from pipeline.matching import ladder
        from pipeline.sources.spotify.gateway import search_key
        from pipeline.tasks.extract import staged_songs

        songs = staged_songs(partition)
        if songs is None:
            return "its songs are not staged, so which answers it needs is unknown until they are"
        store = store_for(self.name)
        limit = self.settings().search_limit
        unasked = sum(1 for song in songs if (step := ladder.first_query(song)) is not None
                      and store.get("search", search_key(limit, step[1])) is None)
        stale = [name for name in CAPABILITIES if name != "tracks_batch" and store.capability(name) is None]
        if unasked:
            return f"{unasked} of its {len(songs)} songs were never searched"
        if stale:
            return f"what the app may see ({', '.join(stale)}) is not known from the last 24 h"
        return None

    def check_can_ask(self, partition: str, why: str) -> None:
        from pipeline.sources.spotify.client import MissingCredentialsError

        missing = [name for name in ("SPOTIPY_CLIENT_ID", "SPOTIPY_CLIENT_SECRET") if not os.environ.get(name)]
        if missing:
            raise MissingCredentialsError(missing, why=f"rerunning {partition} must ask Spotify ({why}); nothing was removed")
        super().check_can_ask(partition, why)

    def journals(self) -> tuple[str, ...]:
        from pipeline.sources.spotify.journal import JOURNAL_DIR

        return (JOURNAL_DIR,)

    # --- what people see --------------------------------------------------------------------

    def quota_state(self) -> dict | None:
        """The last quota stop: the partition, and when Spotify answers again (``resume_at``)."""
        from pipeline.sources.spotify.tasks import quota_state_target

        target = quota_state_target()
        return staging.read_json(target) if target.exists() else None

    def notes(self) -> list[str]:
        state = self.quota_state()
        if state and datetime.fromisoformat(state["resume_at"]) > datetime.now(UTC):
            return [f"Spotify quota exhausted (partition {state['partition']}): rerun after {state['resume_at']}; "
                    f"answers so far are stored"]
        return []

    def daily_capacity(self, spent: dict) -> tuple[float | None, str]:
        # What Spotify answered on the day it stopped answering; else the busiest day seen, which the quota is at least.
        days, state = spent["by_day"], self.quota_state()
        if state and days:
            stop_day = state["resume_at"][:10]
            stopped = max((d for d in days if d <= stop_day), default=max(days))
            return days[stopped], f"spent on {stopped}, when Spotify stopped answering"
        if days:
            busiest = max(days, key=days.get)
            return days[busiest], f"the most spent in a day ({busiest}); no quota stop seen, so the quota is at least this"
        return None, "no request recorded yet"

    def example_queries(self) -> list[tuple[str, str]]:
        return [
            ("Match rate by decade (MSD year)",
             "SELECT CASE WHEN year IS NULL THEN 'unknown' ELSE CAST(year - year % 10 AS VARCHAR) || 's' END AS decade, "
             "count(*) AS songs, sum(CASE WHEN match_status = 'matched' THEN 1 ELSE 0 END) AS matched, "
             "round(avg(CASE WHEN match_status = 'matched' THEN 1.0 ELSE 0.0 END), 3) AS match_rate "
             "FROM enriched_songs GROUP BY 1 ORDER BY 1"),
            ("Most-matched artists, with their Spotify id and ISRC coverage",
             "SELECT spotify_artist_name, count(*) AS songs, count(spotify_isrc) AS with_isrc, "
             "min(spotify_artist_id) AS spotify_artist_id "
             "FROM enriched_songs WHERE match_status = 'matched' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5"),
            ("MSD year against Spotify's album year for matched songs",
             "SELECT count(*) AS matched_with_both_years, sum(CASE WHEN year = spotify_release_year THEN 1 ELSE 0 END) "
             "AS same_year, sum(CASE WHEN spotify_release_year > year THEN 1 ELSE 0 END) AS spotify_later "
             "FROM enriched_songs WHERE match_status = 'matched' AND year IS NOT NULL"),
        ]

    @contextlib.contextmanager
    def sandbox(self, msd_root: str, mode: str | None = None, latency_ms: float = 0.0, day=None, **options):
        """``day``: the calendar day it plays (``make refresh-demo``: popularity and followers moved where the mode
        shows them, pipeline/standins/demo_days.py); else the catalog the demo enriches from."""
        from pipeline.standins.demo_days import catalog_day
        from pipeline.standins.spotify_sandbox import DEV, SandboxServer, SandboxState

        catalog = demo_catalog(msd_root)
        state = SandboxState(catalog, mode=mode or DEV, latency_ms=latency_ms, day=0 if day is None else catalog_day(day))
        server = SandboxServer(state).start()
        os.environ["MUSIC_ETL_SPOTIFY_API_URL"] = f"{server.url}/v1/"
        os.environ["MUSIC_ETL_SPOTIFY_TOKEN_URL"] = f"{server.url}/api/token"
        # The sandbox's own credentials: real ones in the environment are neither used nor sent.
        os.environ["SPOTIPY_CLIENT_ID"], os.environ["SPOTIPY_CLIENT_SECRET"] = state.client_id, state.client_secret
        try:
            yield Sandbox(f"Spotify sandbox ({state.mode} mode) on {server.url}: {len(catalog.tracks)} tracks",
                          lambda: state.stats()["requests"])
        finally:
            server.stop()

    # --- the daily refresh ---------------------------------------------------------------------------

    def track_cost(self, capabilities: dict[str, dict]) -> float:
        return 1 / BATCH if capabilities.get("tracks_batch", {}).get("available") is True else 1.0

    def artist_cost(self, capabilities: dict[str, dict]) -> float | None:
        if capabilities.get("artist_details", {}).get("available") is not True:
            return None  # a Development-Mode app sees no followers or popularity: nothing worth a request
        return 1 / BATCH if capabilities.get("artists_batch", {}).get("available") is True else 1.0

    def refresh_partition(self, gateway, day: str, part: dict, partition: str, plan: dict) -> dict[str, list[dict]]:
        ids = [track_id for track_id, _ in part["tracks"]]
        answers = gateway.tracks_on(day, ids)
        if len(answers) < len(ids):  # transient failures: the day is not done until each has its answer
            raise UnansweredError("Spotify", partition, day, len(ids) - len(answers))

        def state_of(track_id: str):
            entry = answers[track_id]
            obj = entry.get("obj")
            if obj is None:
                return None, GONE, None, entry["at"]
            if obj["id"] != track_id:  # relinked: Spotify answered for another instance of the track
                return obj.get("popularity"), RELINKED, obj["id"], entry["at"]
            return obj.get("popularity"), AVAILABLE, None, entry["at"]

        artists = [{"source_artist_id": artist_id, "followers": (e.get("obj") or {}).get("followers"),
                    "popularity": (e.get("obj") or {}).get("popularity"), "fetched_at": e["at"]}
                   for artist_id, e in sorted(gateway.artists_on(day, part["artists"]).items())]
        return snapshot_rows(self.name, day, part, state_of, artists)

    def refresh_paid_for(self, gateway, task: str, partition: str):
        from pipeline.sources.spotify.tasks import spotify_paid_for

        return spotify_paid_for(gateway, task, partition)


@functools.lru_cache(maxsize=2)
def demo_catalog(msd_root: str):
    """The sandbox's catalog of a sample's identities (the Deezer sandbox builds on it too)."""
    from pipeline.standins.spotify_catalog import DEMO_CATALOG_SEED, build_catalog, load_identities

    return build_catalog(load_identities(msd_root), seed=DEMO_CATALOG_SEED)


SOURCE = Spotify()
