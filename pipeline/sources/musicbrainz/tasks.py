"""``MusicBrainzResolve`` (every partition's songs at once) and ``MusicBrainzIdentity`` (one partition, staged for its load).

The routes that cost (the dump's join, the lookup endpoint at 50 songs a request) pay off only across partitions:
a partition of the subset holds ~15 songs, so asking per partition would send one lookup request for two songs. So
one task resolves every partition of the run, into ``<staging root>/_batches/musicbrainz/resolve/v-…/A-B.jsonl.gz``,
and each partition's stage stages its part. A partition's stage is versioned by its own input, not the batch's: a
new MSD file in one partition resolves again (from stored answers) but reloads only that partition.
"""

from __future__ import annotations

import functools
import logging
import os
from collections import Counter

from pipeline import staging, versioning
from pipeline.errors import TerminalError
from pipeline.matching.decide import MATCHED, STATUSES
from pipeline.msd.echo_nest import profile_files, profile_tracks
from pipeline.sources.answers import utc_now
from pipeline.sources.base import store_for
from pipeline.sources.listenbrainz.client import TOKEN_ENV, ListenBrainzClient, token_from_environment
from pipeline.sources.musicbrainz import dump as canonical_dump
from pipeline.sources.musicbrainz import resolve
from pipeline.sources.musicbrainz.gateway import MusicBrainzGateway
from pipeline.sources.musicbrainz.settings import musicbrainz as settings_section
from pipeline.tasks.base import BatchStep, SourceStage
from pipeline.tasks.extract import ExtractPartition

logger = logging.getLogger("luigi-interface")

def musicbrainz_gateway() -> MusicBrainzGateway:
    settings = settings_section()

    def client():
        return ListenBrainzClient(settings.lookup_url, token_from_environment(), settings.timeout,
                                  settings.max_rate_limit_waits, service="MusicBrainz lookup (ListenBrainz's metadata API)",
                                  setting="[musicbrainz] lookup_url (environment MUSIC_ETL_MUSICBRAINZ_LOOKUP_URL)")
    return MusicBrainzGateway(client, store_for("musicbrainz"))


def check_settings() -> None:
    settings = settings_section()
    canonical_dump.check_pinned(settings.canonical_dump, settings.canonical_dump_sha256)
    if settings.echo_nest_profiles and not os.path.exists(settings.echo_nest_profiles):
        raise TerminalError(f"[musicbrainz] echo_nest_profiles `{settings.echo_nest_profiles}` (environment "
                            f"MUSIC_ETL_MUSICBRAINZ_ECHO_NEST_PROFILES) does not exist; point it at the profile files "
                            f"or leave it blank")


@functools.lru_cache(maxsize=2)
def _profiles(path: str, signature: tuple) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for file in profile_files(path):
        for song_id, catalog, foreign_id in profile_tracks(file):
            if catalog == "musicbrainz" and foreign_id.startswith("musicbrainz:track:"):
                ids = out.setdefault(song_id, [])
                mbid = foreign_id.removeprefix("musicbrainz:track:").lower()
                if mbid not in ids:
                    ids.append(mbid)
    return out


def load_profiles(path: str) -> dict[str, list[str]]:
    """MSD song id → the recording MBIDs its Echo Nest profile names (re-read when the file or folder changed)."""
    if not path:
        return {}
    stat = os.stat(path)
    return _profiles(path, (stat.st_size, stat.st_mtime_ns))


def msd_songs(partition: str) -> list[resolve.MsdSong]:
    """The partition's songs as its extraction staged them, with their artist's MSD artist_mbid."""
    folder = ExtractPartition(partition=partition).folder
    artists = {a["artist_id"]: (a.get("artist_mbid") or None)
               for a in staging.read_jsonl_gz(staging.target(f"{folder}/artists.jsonl.gz"))}
    return [resolve.MsdSong(s["track_id"], partition, s.get("song_id"), s.get("artist_name") or "", s.get("title") or "",
                            s.get("release") or "", s.get("duration"), artists.get(s.get("artist_id")))
            for s in staging.read_jsonl_gz(staging.target(f"{folder}/songs.jsonl.gz"))]


def resolved_file(folder: str, partition: str) -> str:
    return f"{folder}/{partition.replace('/', '-')}.jsonl.gz"


class MusicBrainzResolve(BatchStep):
    """Every partition's songs resolved to recording MBIDs (resolve.py's routes) → ``<staging root>/_batches/
    musicbrainz/resolve/v-…/``, one file per partition; every answer in ``answers/musicbrainz/``."""

    source = "musicbrainz"
    step = "resolve"

    def requires(self):
        return {p: ExtractPartition(partition=p) for p in self.partitions}

    @classmethod
    def output_settings(cls) -> dict:
        settings = settings_section()
        return {**versioning.significant_settings(settings), "resolve_schema_version": resolve.SCHEMA_VERSION,
                "profiles": _profiles_digest(settings.echo_nest_profiles)}

    def version_settings(self) -> dict:
        return {**self.output_settings(), "extract_outputs": self.input_versions()}

    def ask(self) -> dict:
        settings = settings_section()
        check_settings()
        partitions = sorted(self.requires())
        songs = [s for p in partitions for s in msd_songs(p)]
        index = (canonical_dump.ensure_index(settings.canonical_dump, settings.canonical_dump_sha256, settings.index_dir)
                 if settings.canonical_dump else None)
        gateway = musicbrainz_gateway() if settings.lookup else None
        resolver = resolve.Resolver(load_profiles(settings.echo_nest_profiles), index, gateway, settings.length_tolerance_s)
        if gateway is not None:
            with gateway.paid_for("MusicBrainzResolve"):
                resolved = resolver.resolve(songs, before_lookup=_token_needed)
        else:
            resolved = resolver.resolve(songs)
        at = utc_now()
        by_partition: dict[str, list[dict]] = {resolved_file(self.folder, p): [] for p in partitions}
        for song in songs:
            r = resolved[song.track_id]
            by_partition[resolved_file(self.folder, song.partition)].append({
                "track_id": song.track_id, "msd_partition": song.partition, "status": r.status, "score": r.score,
                "method": r.method, "recording_mbid": r.recording_mbid, "canonical_recording_mbid": r.canonical_recording_mbid,
                "artist_mbid": song.artist_mbid, "canonical_artist_mbid": r.canonical_artist_mbid, "note": r.note,
                "recording": r.recording, "resolved_at": at})
        staging.write_jsonl_files(by_partition)
        statuses = Counter(r.status for r in resolved.values())
        recordings = [r.recording or {} for r in resolved.values() if r.status == MATCHED]
        manifest = {"stage": "musicbrainz_resolve", "partitions": len(partitions), "songs": len(songs),
                    "statuses": dict(statuses), "routes": dict(sorted(resolver.routes.items())),
                    "details": {"songs_with_details": sum(1 for r in recordings if "tags" in r),
                                "songs_with_first_release_year": sum(1 for r in recordings if r.get("first_release_year")),
                                "songs_with_tags": sum(1 for r in recordings if _tag_count(r)),
                                "answers_asked_again_for_details": gateway.asked_again if gateway else 0},
                    "canonical_dump": index.describe() if index else None,
                    "requests": gateway.request_counts() if gateway else {"sent_total": 0}, "completed_at": at}
        logger.info("MusicBrainz identities of %d songs in %d partitions: %s by route %s, %d requests sent",
                    len(songs), len(partitions), dict(statuses), dict(resolver.routes), manifest["requests"]["sent_total"])
        return manifest


def _tag_count(recording: dict) -> int:
    return sum(len(v or []) for v in (recording.get("tags") or {}).values())


def _token_needed(songs: int) -> None:
    if songs and not token_from_environment():
        raise TerminalError(f"{songs} songs are left for ListenBrainz's metadata lookup, which needs a token: set "
                            f"{TOKEN_ENV} to a ListenBrainz user token (https://listenbrainz.org/settings/), or set "
                            f"[musicbrainz] lookup = false to resolve from the dump and Echo Nest profiles alone")


def _profiles_digest(path: str) -> str | None:
    """What the profiles say, as a digest (every partition's output() asks: computed once per file version)."""
    if not path:
        return None
    stat = os.stat(path)
    return _digest_of(path, (stat.st_size, stat.st_mtime_ns))


@functools.lru_cache(maxsize=2)
def _digest_of(path: str, signature: tuple) -> str:
    import hashlib

    import orjson

    return hashlib.sha256(orjson.dumps(_profiles(path, signature), option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


class MusicBrainzIdentity(SourceStage):
    """One partition's MusicBrainz identities → ``<staging root>/musicbrainz/A/B/v-…/``: a match row per MSD song
    (the recording found, its canonical id, the artist's id now) and the recordings matched."""

    source = "musicbrainz"
    stage = "musicbrainz"

    def requires(self):
        from pipeline.tasks.run_all import batch_partitions

        return {"songs": ExtractPartition(partition=self.partition),
                "resolve": MusicBrainzResolve(partitions=batch_partitions(self.partition))}

    @classmethod
    def output_settings(cls) -> dict:
        return {**MusicBrainzResolve.output_settings(),
                "extract_output": versioning.folder_name(ExtractPartition.output_settings())}

    def run(self):
        if not self.start():
            return
        rows = staging.read_jsonl_gz(staging.target(resolved_file(self.input()["resolve"].folder, self.partition)))
        matches, recordings, tagged = [], {}, Tagged()
        for r in rows:
            recording = r.pop("recording") or {}
            at = r.pop("resolved_at")
            matches.append({**r, "matched_at": at})
            if r["status"] == MATCHED:
                recordings[r["canonical_recording_mbid"]] = {
                    "canonical_recording_mbid": r["canonical_recording_mbid"], "recording_name": recording.get("recording_name"),
                    "artist_credit_name": recording.get("artist_credit_name"), "artist_mbids": recording.get("artist_mbids"),
                    "release_mbid": recording.get("release_mbid"), "release_name": recording.get("release_name"),
                    "release_group_mbid": recording.get("release_group_mbid"), "length_ms": recording.get("length_ms"),
                    "first_release_date": recording.get("first_release_date"),
                    "release_year": recording.get("release_year"),
                    "mb_first_release_year": recording.get("first_release_year"), "fetched_at": at}
                tagged.add(r["canonical_recording_mbid"], recording)
        counted = Counter(m["status"] for m in matches)
        statuses = {s: counted[s] for s in STATUSES}
        methods = dict(Counter(m["method"] for m in matches if m["status"] == MATCHED))
        outputs = {"matches.jsonl.gz": matches, "recordings.jsonl.gz": [recordings[k] for k in sorted(recordings)],
                   "tagged_entities.jsonl.gz": tagged.entities(), "tags.jsonl.gz": tagged.tags()}
        self.write_files(outputs)
        self.write_manifest({"partition": self.partition, "stage": "musicbrainz_identity", "songs": len(matches),
                             "statuses": statuses, "routes": methods, "rows": {name: len(rows) for name, rows in outputs.items()},
                             # The batch sent the requests (its ledger line counts them); staging a partition sends none.
                             "requests": {"sent_total": 0, "this_run_total": 0, "sent": {}, "asked_in_batch": True},
                             "resolve_output": self.input()["resolve"].folder.rsplit("/", 1)[1],
                             "completed_at": utc_now()})


TAG_SOURCE = "musicbrainz"  # MusicBrainz's folksonomy tags and genres, as ListenBrainz's metadata cache serves them


class Tagged:
    """A partition's tags: every recording, artist and release group a matched recording's ``metadata/recording``
    answer told the tags of (with none too: its earlier tags go at the load), and their tags. An artist or release
    group met in several answers takes the latest answer's."""

    def __init__(self):
        self._of: dict[str, tuple[str, str, list[dict]]] = {}  # mbid -> (entity, answered at, tags)

    def _put(self, entity: str, mbid: str | None, at: str, tags: list[dict]) -> None:
        if not mbid:
            return
        known = self._of.get(mbid)
        if known is None or (entity != "recording" and at > known[1]):
            self._of[mbid] = (entity, at, tags)

    def add(self, canonical_recording_mbid: str, recording: dict) -> None:
        tags = recording.get("tags")
        if not isinstance(tags, dict):
            return  # matched without a metadata answer (offline): nothing is known of its tags
        at = recording.get("answered_at") or ""
        self._put("recording", canonical_recording_mbid, at, tags.get("recording") or [])
        by_artist: dict[str, list[dict]] = {a: [] for a in recording.get("artist_mbids") or []}
        for tag in tags.get("artist") or []:
            by_artist.setdefault(tag["artist_mbid"], []).append(tag)
        for artist, artist_tags in by_artist.items():
            self._put("artist", artist, at, artist_tags)
        self._put("release_group", recording.get("release_group_mbid"), at, tags.get("release_group") or [])

    def entities(self) -> list[dict]:
        return [{"entity": entity, "mbid": mbid, "tag_count": len(_unique(tags)), "fetched_at": at or None}
                for mbid, (entity, at, tags) in sorted(self._of.items())]

    def tags(self) -> list[dict]:
        return [{"entity": entity, "mbid": mbid, "tag": t["tag"], "count": t["count"], "genre_mbid": t.get("genre_mbid"),
                 "source": TAG_SOURCE, "fetched_at": at or None}
                for mbid, (entity, at, tags) in sorted(self._of.items()) for t in _unique(tags)]


def _unique(tags: list[dict]) -> list[dict]:
    """One entry per tag name (MusicBrainz has one per entity; a repeat keeps the highest count), by name."""
    best: dict[str, dict] = {}
    for t in tags:
        if t["tag"] not in best or t["count"] > best[t["tag"]]["count"]:
            best[t["tag"]] = t
    return [best[name] for name in sorted(best)]


def staged_identities(folder: str) -> list[dict]:
    return staging.read_jsonl_gz(staging.target(f"{folder}/matches.jsonl.gz"))
