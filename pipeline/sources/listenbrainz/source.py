"""ListenBrainz as a source: all-time listen and listener counts (CC0) of every resolved recording and every MSD
artist, 1,000 ids per request, first run and every day.

It reads the MusicBrainz identity (canonical recording ids; artist ids as MusicBrainz has them now), so it needs
the ``musicbrainz`` source enabled. Counts are ListenBrainz listens plus MLHD+ (cleaned Last.fm histories),
rebuilt daily by ListenBrainz.
"""

from __future__ import annotations

import contextlib
import os

from pipeline.sources.base import AVAILABLE, GONE, Sandbox, Source, api_provenance
from pipeline.sources.listenbrainz.settings import listenbrainz as settings_section
from pipeline.warehouse.table import Table


class ListenBrainz(Source):
    name = "listenbrainz"
    title = "ListenBrainz"
    requires = ("musicbrainz",)
    on_by_default = False  # follows the MusicBrainz identity, which is off by default
    tables = (
        Table("listenbrainz_recordings", "listenbrainz", "recordings.jsonl.gz", key=("track_id",), owned=True),
        Table("listenbrainz_artists", "listenbrainz", "artists.jsonl.gz", key=("artist_mbid",), replace_by="artist_mbid"),
    )
    refreshes = True
    colour = "#EB743B"
    terms = "ListenBrainz data is CC0 (public domain): free to republish."
    data_licence = "CC0-1.0"
    licence_url = "https://creativecommons.org/publicdomain/zero/1.0/"
    republishable = True

    def settings(self):
        return settings_section()

    def stages(self):
        from pipeline.sources.listenbrainz.tasks import ListenBrainzPopularity

        return (ListenBrainzPopularity,)

    def gateway(self):
        from pipeline.sources.listenbrainz.tasks import listenbrainz_gateway

        return listenbrainz_gateway()

    def endpoints(self) -> list[tuple[str, str]]:
        return [(self.settings().api_url, "[listenbrainz] api_url, environment MUSIC_ETL_LISTENBRAINZ_API_URL")]

    def provenance(self) -> list[dict]:
        return [api_provenance(self.settings().api_url)]

    def summary(self, manifests: list[dict]) -> list[str]:
        songs = sum(m.get("songs", 0) for m in manifests)
        counted = sum((m.get("statuses") or {}).get("matched", 0) for m in manifests)
        return [f"ListenBrainz listen counts for {counted} of {songs} songs staged this run"] if songs else []

    def example_queries(self) -> list[tuple[str, str]]:
        return [("The most listened MSD songs on ListenBrainz (CC0 counts), beside Deezer's rank where both exist",
                 "SELECT title, artist_name, lb_listen_count, lb_user_count, lb_artist_listen_count, deezer_rank "
                 "FROM enriched_songs WHERE lb_listen_count IS NOT NULL ORDER BY lb_listen_count DESC LIMIT 5")]

    def report_sections(self, context):
        from pipeline.sources.listenbrainz import report

        return report.sections(self, context)

    def daily_limit(self) -> tuple[float | None, str]:
        # brainzutils' defaults: 30 requests per 10 s per address.
        return 30 * 86_400 // 10, "30 requests per 10 s per address (ListenBrainz's documented default limit)"

    @contextlib.contextmanager
    def sandbox(self, msd_root: str, day=None, **options):
        """``day``: the date whose counts it answers (``make refresh-demo``); else today's."""
        from pipeline.standins import metabrainz

        with metabrainz.started(msd_root, for_source=self.name, day=day) as (server, world, _):
            os.environ["MUSIC_ETL_LISTENBRAINZ_API_URL"] = server.url
            yield Sandbox(f"ListenBrainz sandbox on {server.url}: counts of {len(world.recordings)} recordings",
                          lambda: server.state.stats()["requests"])

    # --- the daily refresh: every recording and artist, 1,000 per request ---------------------------------

    def track_cost(self, capabilities: dict[str, dict]) -> float:
        from pipeline.sources.listenbrainz.client import MAX_IDS

        return 1 / MAX_IDS

    def artist_cost(self, capabilities: dict[str, dict]) -> float | None:
        return self.track_cost(capabilities)

    def refresh_candidates(self, backend, day):
        from pipeline.refresh.plan import last_snapshots

        # Songs without a recording still have an artist to count (MSD's artist_mbid): asked alone, after the tracks.
        rows = backend.query("SELECT track_id, msd_partition, recording_mbid, artist_mbid FROM listenbrainz_recordings "
                             "WHERE recording_mbid IS NOT NULL OR artist_mbid IS NOT NULL ORDER BY track_id")
        last = last_snapshots(backend, self.name, day)
        return [(*r, last.get(r[2]) if r[2] else None) for r in rows]

    def refresh_partition(self, gateway, day: str, part: dict, partition: str, plan: dict) -> dict[str, list[dict]]:
        """The partition's planned recordings and artists, asked in the day's requests: the plan's ids of every
        partition in plan order, cut every 1,000, so a partition's ids fall in one or two requests and every
        request is asked once a day whichever partition needs it first."""
        from pipeline.sources.base import snapshot_rows
        from pipeline.sources.listenbrainz.client import MAX_IDS

        every = plan["partitions"]
        before = [p for p in sorted(every) if p < partition]  # the partition's ids follow theirs, in plan order

        def counts_of(kind: str, key: str, ids: list[str]) -> dict[str, tuple]:
            ordered = [i[0] if key == "tracks" else i for p in sorted(every) for i in every[p][key]]
            offset = sum(len(every[p][key]) for p in before)
            out = {}
            for start in range(offset // MAX_IDS * MAX_IDS, offset + len(ids), MAX_IDS):
                entry = gateway.popularity_on(day, kind, ordered[start:start + MAX_IDS])
                out.update({i: (*c, entry["at"]) for i, c in (entry.get("obj") or {}).items()})
            return out

        tracks = counts_of("recording", "tracks", [t for t, _ in part["tracks"]])
        artists = counts_of("artist", "artists", part["artists"])

        def state_of(track_id: str):
            listens, _, at = tracks[track_id]
            return None, (AVAILABLE if listens is not None else GONE), None, at

        rows = snapshot_rows(self.name, day, part, state_of,
                             [{"source_artist_id": a, "followers": None, "popularity": None, "fetched_at": artists[a][2]}
                              for a in part["artists"]])
        for row in rows["tracks.jsonl.gz"]:
            row["listen_count"], row["user_count"] = tracks[row["source_track_id"]][:2]
        for row in rows["artists.jsonl.gz"]:
            row["listen_count"], row["user_count"] = artists[row["source_artist_id"]][:2]
        return rows


SOURCE = ListenBrainz()
