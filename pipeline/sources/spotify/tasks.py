"""Spotify enrichment of one partition, in two tasks so a quota that runs out has bought matches first.

* ``SpotifySearch``: crosswalk checks and searches; every answer goes to the answer store
  (pipeline/sources/answers.py). Its priority is above the details', and Luigi raises the priority of
  what it requires (the extraction) to match, so a worker takes every runnable search of the
  selection before any partition's details.
* ``SpotifyEnrich`` (``EnrichPartition`` before, a name that still works): reads the decisions the search
  task staged (``matches.jsonl.gz`` and the matched tracks, ``hits.jsonl.gz``), looks up what the search
  hits lack (artists, audio features) where the app may see it, and writes the staged files the load reads.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager

from pipeline import staging, versioning
from pipeline.matching.decide import MATCHER_VERSION, Song
from pipeline.sources.base import store_for
from pipeline.sources.spotify import enrich as spotify_enrich
from pipeline.sources.spotify.client import QuotaExhaustedError, SpotifyClient
from pipeline.sources.spotify.crosswalk import crosswalk_digest, load_crosswalk
from pipeline.sources.spotify.gateway import SpotifyGateway
from pipeline.sources.spotify.journal import read_legacy_journal
from pipeline.sources.spotify.settings import spotify as settings_section
from pipeline.tasks.base import SourceStage
from pipeline.tasks.extract import ExtractPartition, staged_songs

logger = logging.getLogger("luigi-interface")

QUOTA_STATE = "_quota_exhausted.json"
DETAIL_SETTINGS = ("fetch_artists", "fetch_audio_features")
# Above the default (0) of every other task: searches (and the extractions they need) go first.
SEARCH_PRIORITY = 10
STAGE = "spotify"


def quota_state_target():
    """Where a quota stop is recorded: when Spotify may answer again (the run summary, the next run, the report)."""
    return staging.target(f"{staging.root()}/{STAGE}/{QUOTA_STATE}")


def spotify_gateway(fallback: dict | None = None) -> SpotifyGateway:
    """Stored Spotify lookups as ``[spotify]`` configures them; the client is made at the first
    request, so a run answered from the store needs no credentials."""
    settings = settings_section()

    def client():
        return SpotifyClient(api_url=settings.api_url, token_url=settings.token_url, timeout_s=settings.timeout,
                             max_retry_after_s=settings.max_retry_after, backoff_factor=settings.retry_backoff,
                             min_interval_s=settings.min_interval, max_rate_limit_wait_s=settings.max_rate_limit_wait)
    return SpotifyGateway(client, store_for("spotify", fallback=fallback), settings.search_limit)


@contextmanager
def spotify_paid_for(gateway: SpotifyGateway, task: str, partition: str):
    """Around a task's Spotify requests: a quota stop is recorded where the run summary (and the next
    run) can say when Spotify may answer again, and the ledger gets the task's line whatever its end."""
    with gateway.paid_for(task):
        try:
            yield
        except QuotaExhaustedError as exc:
            staging.write_json(quota_state_target(),
                               {"partition": partition, "resume_at": exc.resume_at.isoformat(timespec="seconds"),
                                "retry_after_s": exc.retry_after_s, "message": str(exc)})
            raise


class _SpotifyStage(SourceStage):
    source = "spotify"

    def songs(self) -> list[Song]:
        return staged_songs(self.partition)

    def gateway(self) -> SpotifyGateway:
        legacy = read_legacy_journal(staging.partition_prefix(STAGE, self.partition))
        return spotify_gateway(fallback=legacy)

    def paid_for(self, gateway: SpotifyGateway):
        return spotify_paid_for(gateway, self.ledger_name(), self.partition)


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
        settings = versioning.significant_settings(settings_section())
        for name in DETAIL_SETTINGS:
            settings.pop(name)
        crosswalk = settings.pop("crosswalk")
        return {**settings, "crosswalk_sha256": crosswalk_digest(crosswalk) if crosswalk else None,
                "matcher_version": MATCHER_VERSION,
                "extract_output": versioning.folder_name(ExtractPartition.output_settings())}

    def run(self):
        if not self.start():
            return
        settings = settings_section()
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


class SpotifyEnrich(_SpotifyStage):
    """The extraction's ``songs.jsonl.gz`` → ``<staging root>/spotify/A/B/v-…/``.

    Matches come from the search task's staged decisions; the artists and audio features the
    app may see are looked up after every search. The data files and, last, the manifest (the
    completion target) are written only when every song has an outcome.
    """

    stage = STAGE

    def requires(self):
        return {"songs": ExtractPartition(partition=self.partition), "searched": SpotifySearch(partition=self.partition)}

    @classmethod
    def output_settings(cls) -> dict:
        return {**{k: v for k, v in versioning.significant_settings(settings_section()).items() if k in DETAIL_SETTINGS},
                "enrich_schema_version": spotify_enrich.SCHEMA_VERSION,
                "search_output": versioning.folder_name(SpotifySearch.output_settings())}

    def run(self):
        if not self.start():
            return
        settings = settings_section()
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


class EnrichPartition(SpotifyEnrich):
    """``SpotifyEnrich`` under the name it had before sources were folders (``luigi --module pipeline
    EnrichPartition --partition A/B`` keeps working); the same output, so either one being done is both."""
