"""``AcousticBrainzJoin`` (every partition's songs at once) and ``AcousticBrainzFeatures`` (one partition, staged for its
load).

The dumps are read once per version into their indexes (dump.py); the join then reads the indexes for every song
of the command's partitions in one DuckDB query (features.py): a subset partition holds ~15 songs, and a scan of
the index per partition would cost a whole scan for fifteen. Its output goes to ``<staging root>/_batches/
acousticbrainz/join/v-…/A-B.jsonl.gz``; each partition's stage stages its part. A partition's stage is versioned by
the dumps' digests and its own MusicBrainz identity, not by the batch: a changed partition reloads alone.
"""

from __future__ import annotations

import logging
import os
from collections import Counter

from pipeline import staging, versioning
from pipeline.errors import TerminalError
from pipeline.sources.acousticbrainz import dump, features
from pipeline.sources.acousticbrainz.settings import acousticbrainz as settings_section
from pipeline.sources.answers import utc_now
from pipeline.sources.musicbrainz.tasks import MusicBrainzIdentity, staged_identities
from pipeline.tasks.base import BatchStep, SourceStage

logger = logging.getLogger("luigi-interface")

SCHEMA_VERSION = 1
NO_REQUESTS = {"sent_total": 0, "this_run_total": 0, "sent": {}}


def configured_dumps() -> dict[str, tuple[str, str]]:
    """kind → (dump, sha256) of each dump set."""
    settings = settings_section()
    out = {}
    for kind in dump.KINDS:
        path, sha256 = getattr(settings, f"{kind}_dump"), getattr(settings, f"{kind}_dump_sha256")
        if path or sha256:
            out[kind] = (path, sha256)
    return out


def check_settings() -> None:
    dumps = configured_dumps()
    if not dumps:
        raise TerminalError("AcousticBrainz is enabled but no dump is set: set [acousticbrainz] rhythm_dump and "
                            "tonal_dump (environment MUSIC_ETL_ACOUSTICBRAINZ_RHYTHM_DUMP, …_TONAL_DUMP) and their "
                            "_sha256, or leave acousticbrainz out of [sources] enabled")
    for kind, (path, sha256) in dumps.items():
        if sha256 and not path:
            raise TerminalError(f"{dump.digest_setting(kind)} is set but {dump.setting(kind)} is blank: point it at "
                                f"the dump the digest pins")
        dump.check_pinned(kind, path, sha256)


def indexes() -> dict[str, dump.FeatureIndex]:
    """Each configured dump's index, built once per dump version (a built one is only opened)."""
    settings = settings_section()
    check_settings()
    return {kind: dump.ensure_index(kind, path, sha256, settings.index_dir, settings.memory_limit)
            for kind, (path, sha256) in configured_dumps().items()}


def joined_file(folder: str, partition: str) -> str:
    return f"{folder}/{partition.replace('/', '-')}.jsonl.gz"


class AcousticBrainzJoin(BatchStep):
    """Every partition's songs joined with the dumps' indexes → ``<staging root>/_batches/acousticbrainz/join/v-…/``,
    one file per partition; the dumps read first when their index is not built."""

    source = "acousticbrainz"
    step = "join"

    def requires(self):
        return {p: MusicBrainzIdentity(partition=p) for p in self.partitions}

    @classmethod
    def output_settings(cls) -> dict:
        return {**versioning.significant_settings(settings_section()), "acousticbrainz_schema_version": SCHEMA_VERSION,
                "index_version": dump.INDEX_VERSION}

    def version_settings(self) -> dict:
        return {**self.output_settings(), "identities": self.input_versions()}

    def ask(self) -> dict:
        settings = settings_section()
        built = indexes()
        partitions = sorted(self.requires())
        identities = (staged_identities(self.input()[p].folder) for p in partitions)  # one partition at a time
        at = utc_now()
        statuses: Counter[str] = Counter()
        written = set()
        for partition, rows in features.joined(identities, built["rhythm"].submissions if "rhythm" in built else None,
                                               built["tonal"].submissions if "tonal" in built else None,
                                               settings.memory_limit, os.path.join(settings.index_dir, "join")):
            # Written as they come: the manifest, written last, is what says the batch is whole.
            staging.write_jsonl_files({joined_file(self.folder, partition): [{**r, "joined_at": at} for r in rows]})
            statuses.update(r["status"] for r in rows)
            written.add(partition)
        staging.write_jsonl_files({joined_file(self.folder, p): [] for p in partitions if p not in written})  # no songs
        songs = sum(statuses.values())
        manifest = {"stage": "acousticbrainz_join", "partitions": len(partitions), "songs": songs,
                    "statuses": {s: statuses[s] for s in features.STATUSES},
                    "dumps": [built[k].describe() for k in dump.KINDS if k in built],
                    "requests": NO_REQUESTS, "completed_at": at}
        logger.info("AcousticBrainz features of %d songs in %d partitions: %s", songs, len(partitions),
                    manifest["statuses"])
        return manifest


class AcousticBrainzFeatures(SourceStage):
    """One partition's AcousticBrainz features → ``<staging root>/acousticbrainz/A/B/v-…/features.jsonl.gz``: a row per
    MSD song, its features when its recording has submissions."""

    source = "acousticbrainz"
    stage = "acousticbrainz"

    def requires(self):
        from pipeline.tasks.run_all import batch_partitions

        return {"identity": MusicBrainzIdentity(partition=self.partition),
                "join": AcousticBrainzJoin(partitions=batch_partitions(self.partition))}

    @classmethod
    def output_settings(cls) -> dict:
        return {**AcousticBrainzJoin.output_settings(),
                "musicbrainz_output": versioning.folder_name(MusicBrainzIdentity.output_settings())}

    def run(self):
        if not self.start():
            return
        join = self.input()["join"]
        rows = staging.read_jsonl_gz(staging.target(joined_file(join.folder, self.partition)))
        self.write_files({"features.jsonl.gz": rows})
        counted = Counter(r["status"] for r in rows)
        dumps = join.read()[0].get("dumps") or []
        self.write_manifest({"partition": self.partition, "stage": "acousticbrainz_features", "songs": len(rows),
                             "statuses": {s: counted[s] for s in features.STATUSES},
                             "rows": {"features.jsonl.gz": len(rows)}, "dumps": dumps,
                             # Read from the dumps' local index: nothing is asked of any service.
                             "requests": {**NO_REQUESTS, "asked_in_batch": True},
                             "join_output": join.folder.rsplit("/", 1)[1], "completed_at": utc_now()})
