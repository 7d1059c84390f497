"""Stored ListenBrainz metadata lookups for the MusicBrainz identity: every answer kept, per song and per recording.

A lookup answer is kept per song asked (``lookup`` + artist, title and release), a recording's metadata per MBID
(``recording``), so a song or recording met by another run, partition or batch is never asked again, whichever
other songs it was asked with.
"""

from __future__ import annotations

from collections.abc import Callable

from pipeline.sources.answers import AnswerStore
from pipeline.sources.base import StoredGateway
from pipeline.sources.listenbrainz.client import ListenBrainzClient


def _item_key(item: dict) -> str:
    return "\x1f".join((item["artist_name"], item["recording_name"], item.get("release_name", "")))


def compact_recording(mbid: str, meta: dict) -> dict:
    """What the identity keeps of a ``metadata/recording`` answer."""
    recording = meta.get("recording") or {}
    artist = meta.get("artist") or {}
    release = meta.get("release") or {}
    return {"mbid": mbid, "name": recording.get("name"), "length_ms": recording.get("length"),
            "artist_credit_name": artist.get("name"),
            "artist_mbids": [a.get("artist_mbid") for a in artist.get("artists") or [] if a.get("artist_mbid")],
            "release_mbid": release.get("mbid"), "release_name": release.get("name")}


class MusicBrainzGateway(StoredGateway):
    counts_rate_limits = True

    def __init__(self, client: ListenBrainzClient | Callable[[], ListenBrainzClient], store: AnswerStore):
        super().__init__("musicbrainz", client, store)

    def lookup(self, items: list[dict], per_request: int) -> list[dict | None]:
        """``metadata/lookup`` of each item (artist, recording and release names): the answer, None for no match."""
        by_key = {_item_key(i): i for i in items}

        def ask(keys: list[str]) -> dict[str, dict | None]:
            answer = self.client.post("metadata/lookup/", {"recordings": [by_key[k] for k in keys]})
            results: dict[str, dict | None] = {}
            for position, result in enumerate(answer if isinstance(answer, list) else []):
                index = result.get("index", position) if isinstance(result, dict) else position
                if isinstance(index, int) and 0 <= index < len(keys) and isinstance(result, dict) and result.get("recording_mbid"):
                    results[keys[index]] = {k: result.get(k) for k in ("recording_mbid", "recording_name", "release_mbid",
                                                                       "release_name", "artist_mbids", "artist_credit_name")}
            return results
        stored = self.asked_in_batches("lookup", list(by_key), per_request, ask)
        return [stored[_item_key(i)].get("obj") for i in items]

    def recordings(self, mbids: list[str], per_request: int) -> dict[str, dict]:
        """``metadata/recording`` of each MBID: name, length, artist credit and release; missing when unknown."""
        def ask(ids: list[str]) -> dict[str, dict | None]:
            answer = self.client.post("metadata/recording/", {"recording_mbids": ids, "inc": "artist release"})
            return {mbid: compact_recording(mbid, meta) for mbid, meta in (answer or {}).items() if isinstance(meta, dict)}
        stored = self.asked_in_batches("recording", mbids, per_request, ask)
        return {mbid: e["obj"] for mbid, e in stored.items() if e.get("obj")}
