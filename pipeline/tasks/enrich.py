"""Spotify enrichment of one partition, in two tasks so a quota that runs out has bought matches first.

* ``SpotifySearch``: crosswalk checks and searches; every answer goes to the answer store
  (pipeline/answers.py). Its priority is above the details', and Luigi raises the priority of
  what it requires (the extraction) to match, so a worker takes every runnable search of the
  selection before any partition's details.
* ``EnrichPartition``: reads the decisions the search task staged (``matches.jsonl.gz`` and the
  matched tracks, ``hits.jsonl.gz``), looks up what the search hits lack (artists, audio
  features) where the app may see it, and writes the staged files.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager

from pipeline import answers, config, staging, versioning
from pipeline.deezer import enrich as deezer_enrich
from pipeline.deezer.client import DeezerClient, HostPacer
from pipeline.deezer.enrich import DeezerGateway
from pipeline.matching.decide import MATCHER_VERSION, Song
from pipeline.spotify import enrich as spotify_enrich
from pipeline.spotify.client import QuotaExhaustedError, SpotifyClient
from pipeline.spotify.crosswalk import crosswalk_digest, load_crosswalk
from pipeline.spotify.gateway import Gateway
from pipeline.spotify.journal import read_legacy_journal
from pipeline.tasks.base import StagedPartitionTask
from pipeline.tasks.extract import ExtractPartition

logger = logging.getLogger("luigi-interface")

QUOTA_STATE = "_quota_exhausted.json"
DETAIL_SETTINGS = ("fetch_artists", "fetch_audio_features")
# Above the default (0) of every other task: searches (and the extractions they need) go first.
SEARCH_PRIORITY = 10


def staged_songs(partition: str) -> list[Song] | None:
    """The partition's songs as its current extraction staged them; None when it has not."""
    songs_file = staging.target(f"{ExtractPartition(partition=partition).folder}/songs.jsonl.gz")
    if not songs_file.exists():
        return None
    return [Song.from_staged(r) for r in staging.read_jsonl_gz(songs_file)]


def spotify_matches_for_deezer(folder: str) -> tuple[dict[str, dict], dict[str, str]]:
    """What Deezer reads of a partition's Spotify enrichment (``folder``): MSD track id → the staged
    Spotify track it matched (with its lead artist's name, for agreement), and → its ISRC where it has one."""
    artist_names = {a["spotify_artist_id"]: a["name"]
                    for a in staging.read_jsonl_gz(staging.target(f"{folder}/artists.jsonl.gz"))}
    tracks = {t["spotify_track_id"]: {**t, "primary_artist_name": artist_names.get(t["primary_artist_id"])}
              for t in staging.read_jsonl_gz(staging.target(f"{folder}/tracks.jsonl.gz"))}
    matched = {m["track_id"]: tracks[m["spotify_track_id"]]
               for m in staging.read_jsonl_gz(staging.target(f"{folder}/matches.jsonl.gz"))
               if m.get("spotify_track_id") in tracks}
    return matched, {track_id: t["isrc"] for track_id, t in matched.items() if t.get("isrc")}


def sent_total(manifest: dict) -> int:
    """Every request the manifest's output cost (manifests of earlier versions counted calls only)."""
    requests = manifest.get("requests") or {}
    return requests.get("sent_total", requests.get("this_run_total", 0))


def spotify_gateway(fallback: dict | None = None) -> Gateway:
    """Stored Spotify lookups as ``[spotify]`` configures them; the client is made at the first
    request, so a run answered from the store needs no credentials."""
    settings = config.spotify()

    def client():
        return SpotifyClient(api_url=settings.api_url, token_url=settings.token_url, timeout_s=settings.timeout,
                             max_retry_after_s=settings.max_retry_after, backoff_factor=settings.retry_backoff,
                             min_interval_s=settings.min_interval)
    return Gateway(client, answers.AnswerStore(answers.store_folder("spotify"), fallback=fallback), settings.search_limit)


@contextmanager
def spotify_paid_for(gateway: Gateway, task: str, partition: str):
    """Around a task's Spotify requests: a quota stop is recorded where the run summary (and the next
    run) can say when Spotify may answer again, and the ledger gets the task's line whatever its end."""
    try:
        yield
    except QuotaExhaustedError as exc:
        staging.write_json(staging.target(f"{staging.root()}/{EnrichPartition.stage}/{QUOTA_STATE}"),
                           {"partition": partition, "resume_at": exc.resume_at.isoformat(timespec="seconds"),
                            "retry_after_s": exc.retry_after_s, "message": str(exc)})
        raise
    finally:
        answers.record_spent("spotify", task, gateway.store.run_id, spotify_enrich.request_counts(gateway))


def deezer_gateway() -> DeezerGateway:
    """Stored Deezer lookups as ``[deezer]`` configures them, paced with every process on the host."""
    settings = config.deezer()

    def client():
        pacer = HostPacer(settings.pace_file or None, limit=settings.rate_limit, window_s=settings.rate_window)
        return DeezerClient(api_url=settings.api_url, timeout_s=settings.timeout, pacer=pacer)
    return DeezerGateway(client, answers.AnswerStore(answers.store_folder("deezer")), settings.search_limit)


# Luigi resources each source's tasks hold while they ask it: luigid ([resources] in its config, 1
# when unset) caps how many run at once across every worker connected to it, so the cluster's rate
# is at most that many tasks' own pace (docs/SCALING.md).
SPOTIFY_RESOURCE, DEEZER_RESOURCE = "spotify_api", "deezer_api"


class _SpotifyStage(StagedPartitionTask):
    resources = {SPOTIFY_RESOURCE: 1}

    def songs(self) -> list[Song]:
        return staged_songs(self.partition)

    def gateway(self) -> Gateway:
        legacy = read_legacy_journal(staging.partition_prefix(EnrichPartition.stage, self.partition))
        return spotify_gateway(fallback=legacy)

    def paid_for(self, gateway: Gateway):
        return spotify_paid_for(gateway, f"{type(self).__name__}-{self.partition.replace('/', '')}", self.partition)


class SpotifySearch(_SpotifyStage):
    """The searches (and crosswalk checks) of one partition: ``<staging root>/spotify-search/A/B/v-…/``
    holds the decisions (``matches.jsonl.gz``, ``hits.jsonl.gz``) and the manifest: outcomes,
    rungs and the requests they took."""

    stage = "spotify-search"
    priority = SEARCH_PRIORITY

    def requires(self):
        return ExtractPartition(partition=self.partition)

    @classmethod
    def output_settings(cls) -> dict:
        settings = versioning.significant_settings(config.spotify())
        for name in DETAIL_SETTINGS:
            settings.pop(name)
        crosswalk = settings.pop("crosswalk")
        return {**settings, "crosswalk_sha256": crosswalk_digest(crosswalk) if crosswalk else None,
                "matcher_version": MATCHER_VERSION,
                "extract_output": versioning.folder_name(ExtractPartition.output_settings())}

    def run(self):
        if not self.start():
            return
        settings = config.spotify()
        crosswalk = load_crosswalk(settings.crosswalk) if settings.crosswalk else None
        gateway = self.gateway()
        with self.paid_for(gateway):
            matched, summary = spotify_enrich.match_songs(self.partition, self.songs(), gateway,
                                                          settings.match_threshold, crosswalk, progress=self.report_progress)
        files = spotify_enrich.staged_decisions(matched)
        self.write_files(files)
        self.write_manifest({**summary, "rows": {name: len(rows) for name, rows in files.items()}})
        logger.info("partition %s searched: %s, %d Spotify requests sent", self.partition, summary["statuses"],
                    summary["requests"]["sent_total"])


class EnrichPartition(_SpotifyStage):
    """The extraction's ``songs.jsonl.gz`` → ``<staging root>/spotify/A/B/v-…/``.

    Matches come from the search task's staged decisions; the artists and audio features the
    app may see are looked up after every search. The data files and, last, the manifest (the
    completion target) are written only when every song has an outcome.
    """

    stage = "spotify"

    def requires(self):
        return {"songs": ExtractPartition(partition=self.partition), "searched": SpotifySearch(partition=self.partition)}

    @classmethod
    def output_settings(cls) -> dict:
        return {**{k: v for k, v in versioning.significant_settings(config.spotify()).items() if k in DETAIL_SETTINGS},
                "enrich_schema_version": spotify_enrich.SCHEMA_VERSION,
                "search_output": versioning.folder_name(SpotifySearch.output_settings())}

    def run(self):
        if not self.start():
            return
        settings = config.spotify()
        search = self.input()["searched"]
        searched, _ = search.read()
        # The search task's decisions, as it staged them: nothing is decided or asked twice.
        staged = {name: staging.read_jsonl_gz(staging.target(f"{search.folder}/{name}"))
                  for name in ("matches.jsonl.gz", "hits.jsonl.gz")}
        matched = spotify_enrich.decisions_from_staging(staged, searched["rungs"], searched["crosswalk"])
        gateway = self.gateway()
        with self.paid_for(gateway):
            outputs, manifest = spotify_enrich.add_details(
                self.partition, self.songs(), gateway, matched, fetch_artists=settings.fetch_artists,
                fetch_audio_features=settings.fetch_audio_features)
        # Every request spent on this output: the search task's and the details'.
        manifest["requests"] = spotify_enrich.merge_requests(searched["requests"], manifest["requests"])

        self.write_files(outputs)
        self.write_manifest(manifest)
        self.report_progress(1, 1, f"details of {manifest['rows']['tracks.jsonl.gz']} matched tracks staged")
        logger.info("partition %s: %d songs, match rate %s, %d Spotify requests sent",
                    self.partition, manifest["songs"], manifest["match_rate"], manifest["requests"]["sent_total"])


class DeezerEnrich(StagedPartitionTask):
    """One partition's songs on Deezer → ``<staging root>/deezer/A/B/v-…/``: matches (by the ISRC
    the Spotify enrichment found, else by search), full tracks, lead artists and albums; every
    answer in ``answers/deezer/``, every request sent in its ledger. Required by the partition's
    load unless ``[sources] enabled`` leaves Deezer out."""

    stage = "deezer"
    resources = {DEEZER_RESOURCE: 1}

    def requires(self):
        return {"songs": ExtractPartition(partition=self.partition), "spotify": EnrichPartition(partition=self.partition)}

    @classmethod
    def output_settings(cls) -> dict:
        return {**versioning.significant_settings(config.deezer()), "matcher_version": MATCHER_VERSION,
                "deezer_schema_version": deezer_enrich.SCHEMA_VERSION,
                "spotify_output": versioning.folder_name(EnrichPartition.output_settings()),
                "extract_output": versioning.folder_name(ExtractPartition.output_settings())}

    def run(self):
        if not self.start():
            return
        settings = config.deezer()
        songs = staged_songs(self.partition)
        matched_on_spotify, isrcs = spotify_matches_for_deezer(self.input()["spotify"].folder)
        gateway = deezer_gateway()
        try:
            outputs, manifest = deezer_enrich.enrich_partition(self.partition, songs, gateway, isrcs,
                                                               settings.match_threshold, spotify_tracks=matched_on_spotify)
        finally:  # what was sent was spent, whatever the run's end
            answers.record_spent("deezer", f"{type(self).__name__}-{self.partition.replace('/', '')}",
                                 gateway.store.run_id, gateway.request_counts())
        self.write_files(outputs)
        self.write_manifest(manifest)
        logger.info("partition %s on Deezer: %s, %d requests sent; %d of %d songs both sources matched disagree",
                    self.partition, manifest["statuses"], manifest["requests"]["sent_total"],
                    manifest["agreement"]["disagree"], manifest["agreement"]["both_matched"])
