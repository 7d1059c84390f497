"""``ListenBrainzAsk`` (every partition's recordings and artists at once) and ``ListenBrainzPopularity`` (one
partition, staged for its load).

ListenBrainz answers 1,000 ids per request, so the ids are asked across the command's partitions (a subset
partition holds ~15 songs): ``ListenBrainzAsk`` asks every id the store lacks, then each partition's stage reads
its ids from the store and sends nothing.
"""

from __future__ import annotations

import logging

from pipeline import versioning
from pipeline.sources.answers import utc_now
from pipeline.sources.base import store_for
from pipeline.sources.listenbrainz.client import ListenBrainzClient, is_mbid, token_from_environment
from pipeline.sources.listenbrainz.gateway import ListenBrainzGateway
from pipeline.sources.listenbrainz.settings import listenbrainz as settings_section
from pipeline.sources.musicbrainz.tasks import MusicBrainzIdentity, staged_identities
from pipeline.tasks.base import BatchStep, SourceStage

logger = logging.getLogger("luigi-interface")

SCHEMA_VERSION = 1


def listenbrainz_gateway() -> ListenBrainzGateway:
    settings = settings_section()

    def client():
        return ListenBrainzClient(settings.api_url, token_from_environment(), settings.timeout,
                                  settings.max_rate_limit_waits)
    return ListenBrainzGateway(client, store_for("listenbrainz"))


def wanted_ids(identities: list[dict]) -> tuple[list[str], list[str], int]:
    """(recordings, artists, ids skipped as not MBIDs) of a partition's staged identities: each matched song's
    canonical recording, each song's artist as MusicBrainz has it now."""
    recordings, artists, bad = set(), set(), 0
    for row in identities:
        recording = row.get("canonical_recording_mbid") if row.get("status") == "matched" else None
        artist = row.get("canonical_artist_mbid") or row.get("artist_mbid")
        for mbid, into in ((recording, recordings), (artist, artists)):
            if mbid:
                if is_mbid(mbid):
                    into.add(mbid)
                else:
                    bad += 1
    return sorted(recordings), sorted(artists), bad


class ListenBrainzAsk(BatchStep):
    """Listen counts of every recording and artist of the command's partitions the answer store lacks, asked 1,000
    per request; the answers go to ``answers/listenbrainz/``, a manifest to ``<staging root>/_batches/listenbrainz/
    ask/v-…/``."""

    source = "listenbrainz"
    step = "ask"

    def requires(self):
        return {p: MusicBrainzIdentity(partition=p) for p in self.partitions}

    def version_settings(self) -> dict:
        return {"listenbrainz_schema_version": SCHEMA_VERSION, "identities": self.input_versions()}

    def ask(self) -> dict:
        recordings, artists, bad = set(), set(), 0
        for task in self.input().values():
            r, a, b = wanted_ids(staged_identities(task.folder))
            recordings.update(r)
            artists.update(a)
            bad += b
        gateway = listenbrainz_gateway()
        with gateway.paid_for("ListenBrainzAsk"):
            known = {kind: sum(1 for e in gateway.popularity(kind, ids).values() if e.get("obj"))
                     for kind, ids in (("recording", recordings), ("artist", artists))}
        manifest = {"stage": "listenbrainz_ask", "partitions": len(self.partitions),
                    "asked": {"recording": len(recordings), "artist": len(artists)}, "with_counts": known,
                    "not_mbids": bad, "requests": gateway.request_counts(), "completed_at": utc_now()}
        logger.info("ListenBrainz counts of %d recordings and %d artists (%s with counts): %d requests sent",
                    len(recordings), len(artists), known, manifest["requests"]["sent_total"])
        return manifest


class ListenBrainzPopularity(SourceStage):
    """One partition's ListenBrainz counts → ``<staging root>/listenbrainz/A/B/v-…/``: a row per MSD song (its
    recording's and its artist's counts) and a row per artist."""

    source = "listenbrainz"
    stage = "listenbrainz"

    def requires(self):
        from pipeline.tasks.run_all import batch_partitions

        return {"identity": MusicBrainzIdentity(partition=self.partition),
                "ask": ListenBrainzAsk(partitions=batch_partitions(self.partition))}

    @classmethod
    def output_settings(cls) -> dict:
        return {"listenbrainz_schema_version": SCHEMA_VERSION,
                "musicbrainz_output": versioning.folder_name(MusicBrainzIdentity.output_settings())}

    def run(self):
        if not self.start():
            return
        identities = staged_identities(self.input()["identity"].folder)
        recordings, artists, bad = wanted_ids(identities)
        gateway = listenbrainz_gateway()
        with gateway.paid_for(self.ledger_name()):  # the batch asked them: this sends nothing unless it was skipped
            counts = {"recording": gateway.popularity("recording", recordings),
                      "artist": gateway.popularity("artist", artists)}
        rows = []
        for row in sorted(identities, key=lambda r: r["track_id"]):
            recording = row.get("canonical_recording_mbid") if row.get("status") == "matched" else None
            artist = row.get("canonical_artist_mbid") or row.get("artist_mbid")
            entry = counts["recording"].get(recording) if recording else None
            obj = (entry or {}).get("obj") or {}
            rows.append({"track_id": row["track_id"], "msd_partition": self.partition,
                         "recording_mbid": recording if recording in counts["recording"] else None,
                         "artist_mbid": artist if artist in counts["artist"] else None,
                         "total_listen_count": obj.get("listens"), "total_user_count": obj.get("users"),
                         "fetched_at": entry["at"] if entry else None})
        artist_rows = [{"artist_mbid": a, "total_listen_count": (e.get("obj") or {}).get("listens"),
                        "total_user_count": (e.get("obj") or {}).get("users"), "fetched_at": e["at"]}
                       for a, e in sorted(counts["artist"].items())]
        outputs = {"recordings.jsonl.gz": rows, "artists.jsonl.gz": artist_rows}
        self.write_files(outputs)
        with_counts = sum(1 for r in rows if r["total_listen_count"] is not None)
        self.write_manifest({"partition": self.partition, "stage": "listenbrainz_popularity", "songs": len(rows),
                             "statuses": {"matched": with_counts, "not_found": len(rows) - with_counts},
                             "rows": {name: len(r) for name, r in outputs.items()}, "not_mbids": bad,
                             "not_found": dict(sorted(gateway.not_found.items())),
                             # ListenBrainzAsk asked them; a request here only for an id the batch did not store
                             "requests": {**gateway.request_counts(), "asked_in_batch": True}, "completed_at": utc_now()})
