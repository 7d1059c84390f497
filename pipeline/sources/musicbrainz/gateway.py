"""Stored ListenBrainz metadata lookups for the MusicBrainz identity: every answer kept, per song and per recording.

A lookup answer is kept per song asked (``lookup`` + artist, title and release), a recording's metadata per MBID
(``recording``), so a song or recording met by another run, partition or batch is never asked again, whichever
other songs it was asked with.

``metadata/recording`` is asked with ``inc=artist release tag`` (``INC``): besides the name, length, credit and
canonical release the length check needs, the same answer carries the recording's first release date, its
release's year and release group, and the MusicBrainz tags of the recording, its artists and that release group,
all kept. The store's key stays the MBID alone, not the MBID and the ``inc``: an answer stored before tags were
asked (no ``inc`` in it) still serves the length check, and is asked again, once, only when the details are
wanted (``recordings(..., details=True)``: a song matched to it), then replaced under the same key. An id the
service did not know ("not found") is known by no ``inc``: never asked again for it.
"""

from __future__ import annotations

from collections.abc import Callable

from pipeline.sources.answers import AnswerStore
from pipeline.sources.base import StoredGateway
from pipeline.sources.listenbrainz.client import ListenBrainzClient


def _item_key(item: dict) -> str:
    return "\x1f".join((item["artist_name"], item["recording_name"], item.get("release_name", "")))


INC = "artist release tag"
TAG_ENTITIES = ("recording", "artist", "release_group")


def _tags(found, entity: str) -> list[dict]:
    """A tag list of the answer's ``tag`` object, each ``{tag, count, genre_mbid}`` (``artist_mbid`` for an artist's),
    the entries that are not a tag with a count left out."""
    out = []
    for t in found if isinstance(found, list) else []:
        if isinstance(t, dict) and isinstance(t.get("tag"), str) and t["tag"] and isinstance(t.get("count"), int):
            kept = {"tag": t["tag"], "count": t["count"], "genre_mbid": t.get("genre_mbid") or None}
            if entity == "artist":
                if not t.get("artist_mbid"):
                    continue
                kept["artist_mbid"] = t["artist_mbid"]
            out.append(kept)
    return out


def compact_recording(mbid: str, meta: dict) -> dict:
    """What the identity keeps of a ``metadata/recording`` answer asked with ``INC``."""
    recording = meta.get("recording") or {}
    artist = meta.get("artist") or {}
    release = meta.get("release") or {}
    tags = meta.get("tag") or {}
    year = release.get("year")
    return {"mbid": mbid, "name": recording.get("name"), "length_ms": recording.get("length"),
            "artist_credit_name": artist.get("name"),
            "artist_mbids": [a.get("artist_mbid") for a in artist.get("artists") or [] if a.get("artist_mbid")],
            "release_mbid": release.get("mbid"), "release_name": release.get("name"),
            "release_group_mbid": release.get("release_group_mbid"),
            "first_release_date": recording.get("first_release_date") or None,
            "release_year": year if isinstance(year, int) and year > 0 else None,
            "tags": {entity: _tags(tags.get(entity) if isinstance(tags, dict) else None, entity)
                     for entity in TAG_ENTITIES},
            "inc": INC}


def has_details(entry: dict) -> bool:
    """Whether a stored ``recording`` answer holds what ``INC`` asks (a "not found" holds all there is)."""
    obj = entry.get("obj")
    return not obj or set(INC.split()) <= set((obj.get("inc") or "").split())


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

    def recordings(self, mbids: list[str], per_request: int, details: bool = False) -> dict[str, dict]:
        """``metadata/recording`` of each MBID (``compact_recording``; missing when unknown): the stored answers,
        those the store lacks asked ``per_request`` at a time. With ``details``, a stored answer without what
        ``INC`` asks (stored before tags were asked) is asked again, in the same requests, and replaced."""
        def ask(ids: list[str]) -> dict[str, dict | None]:
            answer = self.client.post("metadata/recording/", {"recording_mbids": ids, "inc": INC})
            return {mbid: compact_recording(mbid, meta) for mbid, meta in (answer or {}).items() if isinstance(meta, dict)}
        stored = self.asked_in_batches("recording", mbids, per_request, ask, current=has_details if details else None)
        return {mbid: {**e["obj"], "answered_at": e.get("at")} for mbid, e in stored.items() if e.get("obj")}
