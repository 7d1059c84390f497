"""EnrichPartition: one partition's staged MSD songs → Spotify matches, tracks, artists, audio features."""

from __future__ import annotations

import logging

from pipeline import config, staging, versioning
from pipeline.spotify import enrich as spotify_enrich
from pipeline.spotify.client import QuotaExhaustedError, SpotifyClient
from pipeline.spotify.crosswalk import crosswalk_digest, load_crosswalk
from pipeline.spotify.enrich import enrich_partition
from pipeline.spotify.gateway import Gateway
from pipeline.spotify.journal import Journal
from pipeline.spotify.matching import MATCHER_VERSION, Song
from pipeline.tasks.base import StagedPartitionTask
from pipeline.tasks.extract import ExtractPartition

logger = logging.getLogger("luigi-interface")


QUOTA_STATE = "_quota_exhausted.json"


class EnrichPartition(StagedPartitionTask):
    """The extraction's ``songs.jsonl.gz`` → ``<staging root>/spotify/A/B/v-…/``.

    Every Spotify answer goes to ``<staging root>/spotify/A/B/journal/`` as it arrives, shared by
    every output version of the partition: an interrupted run resumes without repeating a
    request, and a run with other matching settings decides again from the answers already paid
    for. The data files and, last, the manifest (the completion target) are written only when
    every song has an outcome.
    """

    stage = "spotify"

    def requires(self):
        return ExtractPartition(partition=self.partition)

    @classmethod
    def output_settings(cls) -> dict:
        settings = versioning.significant_settings(config.spotify())
        crosswalk = settings.pop("crosswalk")
        return {**settings, "crosswalk_sha256": crosswalk_digest(crosswalk) if crosswalk else None,
                "matcher_version": MATCHER_VERSION, "enrich_schema_version": spotify_enrich.SCHEMA_VERSION,
                "extract_output": versioning.folder_name(ExtractPartition.output_settings())}

    def run(self):
        if not self.start():
            return
        settings = config.spotify()
        songs_file = staging.target(f"{self.input().folder}/songs.jsonl.gz")
        songs = [Song.from_staged(r) for r in staging.read_jsonl_gz(songs_file)]
        crosswalk = load_crosswalk(settings.crosswalk) if settings.crosswalk else None

        def client():  # made at the first request: a run answered from the journal needs no credentials
            return SpotifyClient(api_url=settings.api_url, token_url=settings.token_url, timeout_s=settings.timeout,
                                 max_retry_after_s=settings.max_retry_after, backoff_factor=settings.retry_backoff)
        journal = Journal(staging.partition_prefix(self.stage, self.partition),
                          segment_size=settings.journal_segment_size).load()
        if journal.loaded_entries:
            logger.info("partition %s: resuming with %d journaled answers", self.partition, journal.loaded_entries)
        try:
            outputs, manifest = enrich_partition(
                self.partition, songs, Gateway(client, journal, settings.search_limit),
                threshold=settings.match_threshold, crosswalk=crosswalk, fetch_artists=settings.fetch_artists,
                fetch_audio_features=settings.fetch_audio_features, progress=self.report_progress)
        except QuotaExhaustedError as exc:
            # Kept where the run summary (and the next run) can say when Spotify may answer again.
            staging.write_json(staging.target(f"{staging.root()}/{self.stage}/{QUOTA_STATE}"),
                               {"partition": self.partition, "resume_at": exc.resume_at.isoformat(timespec="seconds"),
                                "retry_after_s": exc.retry_after_s, "message": str(exc)})
            raise
        finally:
            journal.close()  # on S3 this uploads the answers still pending, quota stop included

        writers = []
        try:
            for name, rows in outputs.items():
                writer = staging.JsonLinesWriter(staging.target(f"{self.folder}/{name}"))
                writers.append(writer)
                for row in rows:
                    writer.write(row)
            for writer in writers:
                writer.commit()
        except BaseException:
            for writer in writers:
                writer.abort()
            raise
        self.write_manifest(manifest)
        logger.info("partition %s: %d songs, match rate %s, %d Spotify requests",
                    self.partition, manifest["songs"], manifest["match_rate"], manifest["requests"]["this_run_total"])
