"""Stored ListenBrainz lookups: popularity asked 1,000 ids at a time, every answer kept.

First-run answers are kept one object per id (``recording``/``artist`` + the MBID), so a run that meets an id
another run asked never asks it again, whatever else it asks with it. A day's refresh asks every planned id on
that day: its answers are kept one object per request (``recording@<day>`` + a digest of the 1,000 ids the
day's plan put in it), so a full-MSD day writes ~1,440 objects, not 1.4M, and a day resumed asks none again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

from pipeline.sources.answers import AnswerStore
from pipeline.sources.base import StoredGateway
from pipeline.sources.listenbrainz.client import MAX_IDS, ListenBrainzClient

KINDS = {"recording": ("popularity/recording", "recording_mbids", "recording_mbid"),
         "artist": ("popularity/artist", "artist_mbids", "artist_mbid")}


def chunk_key(ids: list[str]) -> str:
    return f"{len(ids)}-{hashlib.sha256(','.join(ids).encode()).hexdigest()[:32]}"


class ListenBrainzGateway(StoredGateway):
    counts_rate_limits = True

    def __init__(self, client: ListenBrainzClient | Callable[[], ListenBrainzClient], store: AnswerStore,
                 batch_size: int = MAX_IDS):
        super().__init__("listenbrainz", client, store)
        self.batch_size = batch_size

    def _ask(self, kind: str, ids: list[str]) -> dict[str, tuple[int | None, int | None]]:
        path, field, key = KINDS[kind]
        answer = self.client.post(path, {field: ids})
        counts = {item.get(key): (item.get("total_listen_count"), item.get("total_user_count"))
                  for item in answer or [] if isinstance(item, dict)}
        return {i: counts.get(i, (None, None)) for i in ids}

    def popularity(self, kind: str, mbids: Iterable[str]) -> dict[str, dict]:
        """MBID → stored answer (``obj``: ``{"listens", "users"}``, None for an id ListenBrainz has no count of);
        the ids the store lacks asked ``batch_size`` per request, in sorted order."""
        def ask(ids: list[str]) -> dict[str, dict]:
            return {i: {"listens": listens, "users": users} for i, (listens, users) in self._ask(kind, ids).items()
                    if listens is not None or users is not None}
        return self.asked_in_batches(kind, sorted(set(mbids)), self.batch_size, ask)

    def popularity_on(self, day: str, kind: str, ids: list[str]) -> dict:
        """One request of a day's refresh (``ids`` as the day's plan cuts them): ``obj`` maps each id to
        ``[listens, users]`` (nulls for none), ``at`` when it was asked."""
        def ask() -> dict:
            return {"status": 200, "obj": {i: list(c) for i, c in self._ask(kind, ids).items()}}
        return self.asked(f"{kind}@{day}", chunk_key(ids), ask)
