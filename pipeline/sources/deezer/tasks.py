"""``DeezerEnrich``: one partition's songs on Deezer, staged for the partition's load."""

from __future__ import annotations

import logging

from pipeline import versioning
from pipeline.matching.decide import MATCHER_VERSION
from pipeline.sources.base import store_for
from pipeline.sources.deezer import enrich as deezer_enrich
from pipeline.sources.deezer.client import DeezerClient, HostPacer
from pipeline.sources.deezer.gateway import DeezerGateway
from pipeline.sources.deezer.settings import deezer as settings_section
from pipeline.sources.spotify.rows import staged_matches
from pipeline.sources.spotify.tasks import SpotifyEnrich
from pipeline.tasks.base import SourceStage
from pipeline.tasks.extract import ExtractPartition, staged_songs

logger = logging.getLogger("luigi-interface")


def deezer_gateway() -> DeezerGateway:
    """Stored Deezer lookups as ``[deezer]`` configures them, paced with every process on the host."""
    settings = settings_section()

    def client():
        pacer = HostPacer(settings.pace_file or None, limit=settings.rate_limit, window_s=settings.rate_window)
        return DeezerClient(api_url=settings.api_url, timeout_s=settings.timeout, pacer=pacer)
    return DeezerGateway(client, store_for("deezer"), settings.search_limit, settings.not_found_max_age_days)


class DeezerEnrich(SourceStage):
    """One partition's songs on Deezer → ``<staging root>/deezer/A/B/v-…/``: matches (by the ISRC
    the Spotify enrichment found, else by search), full tracks, lead artists and albums; every
    answer in ``answers/deezer/``, every request sent in its ledger. Required by the partition's
    load unless ``[sources] enabled`` leaves Deezer out."""

    source = "deezer"
    stage = "deezer"

    def requires(self):
        return {"songs": ExtractPartition(partition=self.partition), "spotify": SpotifyEnrich(partition=self.partition)}

    @classmethod
    def output_settings(cls) -> dict:
        return {**versioning.significant_settings(settings_section()), "matcher_version": MATCHER_VERSION,
                "deezer_schema_version": deezer_enrich.SCHEMA_VERSION,
                "spotify_output": versioning.folder_name(SpotifyEnrich.output_settings()),
                "extract_output": versioning.folder_name(ExtractPartition.output_settings())}

    def run(self):
        if not self.start():
            return
        settings = settings_section()
        songs = staged_songs(self.partition)
        matched_on_spotify, isrcs = staged_matches(self.input()["spotify"].folder)
        gateway = deezer_gateway()
        with gateway.paid_for(self.ledger_name()):  # what was sent was spent, whatever the run's end
            outputs, manifest = deezer_enrich.enrich_partition(self.partition, songs, gateway, isrcs,
                                                               settings.match_threshold, spotify_tracks=matched_on_spotify)
        self.write_files(outputs)
        self.write_manifest(manifest)
        logger.info("partition %s on Deezer: %s, %d requests sent; %d of %d songs both sources matched disagree",
                    self.partition, manifest["statuses"], manifest["requests"]["sent_total"],
                    manifest["agreement"]["disagree"], manifest["agreement"]["both_matched"])
