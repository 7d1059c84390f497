"""What a command will need, checked before it changes anything (``rerun --force`` deletes first).

A rerun whose every Spotify answer is already stored needs no credentials and sends no request;
one that must ask Spotify needs credentials and a service that answers. With Deezer on, a rerun
that must ask Deezer needs its API to answer (it takes no key). Either way the MSD partition
must exist and the warehouse must be reachable. Each check that fails is one ``TerminalError``
naming what is missing and the fix; nothing has been removed at that point.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

from pipeline import answers, config
from pipeline.answers import AnswerStore
from pipeline.errors import TerminalError
from pipeline.matching import ladder
from pipeline.partitions import check_selection
from pipeline.spotify.client import MissingCredentialsError
from pipeline.spotify.crosswalk import load_crosswalk
from pipeline.spotify.gateway import CAPABILITIES, search_key
from pipeline.tasks.enrich import staged_songs
from pipeline.warehouse.backends import redact, warehouse_backend


class NotReachableError(TerminalError):
    def __init__(self, url: str, setting: str, reason: str, needs: str):
        super().__init__(f"{needs}, but nothing answered at {url} ({setting}): {reason}. Check that setting, or "
                         f"rerun when the service is back; nothing was removed.")


class _WouldAskError(Exception):
    """Raised instead of sending a request: the replay found an answer the store does not hold."""


def spotify_needs(partition: str) -> str | None:
    """Why rerunning ``partition`` must ask Spotify, or None when the answer store holds it all."""
    songs = staged_songs(partition)
    if songs is None:
        return "its songs are not staged, so which answers it needs is unknown until they are"
    store = AnswerStore(answers.store_folder("spotify"))
    limit = config.spotify().search_limit
    unasked = sum(1 for song in songs
                  if (step := ladder.first_query(song)) is not None and store.get("search", search_key(limit, step[1])) is None)
    stale = [name for name in CAPABILITIES if name != "tracks_batch" and store.capability(name) is None]
    if unasked:
        return f"{unasked} of its {len(songs)} songs were never searched"
    if stale:
        return f"what the app may see ({', '.join(stale)}) is not known from the last 24 h"
    return None


def deezer_needs(partition: str) -> str | None:
    """Why rerunning ``partition`` must ask Deezer, or None when the answer store holds it all:
    the partition's Deezer enrichment replayed against the store, with the ISRCs Spotify staged."""
    from pipeline.deezer.enrich import DeezerGateway, enrich_partition
    from pipeline.tasks.enrich import EnrichPartition, spotify_matches_for_deezer

    songs = staged_songs(partition)
    spotify = EnrichPartition(partition=partition).output()
    if songs is None or not spotify.exists():
        return "its songs and Spotify matches are not both staged, so which answers it needs is unknown until they are"
    _, isrcs = spotify_matches_for_deezer(spotify.folder)  # what the rerun's DeezerEnrich will read

    def no_client():
        raise _WouldAskError
    settings = config.deezer()
    try:
        enrich_partition(partition, songs, DeezerGateway(no_client, AnswerStore(answers.store_folder("deezer")),
                                                         settings.search_limit), isrcs, settings.match_threshold)
    except _WouldAskError:
        return "some of its songs, albums or artists were never looked up there"
    return None


def _check_reachable(url: str, setting: str, needs: str) -> None:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=5).close()
    except OSError as exc:
        raise NotReachableError(url, setting, exc.strerror or type(exc).__name__, needs) from None


def _check_warehouse() -> None:
    backend = None
    try:
        backend = warehouse_backend()
        backend.query("SELECT 1")
    except TerminalError:
        raise  # an unknown scheme already names the setting and the fix
    except Exception as exc:  # psycopg2, DuckDB and network errors alike: the rerun could not load
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise TerminalError(f"the warehouse at {redact(config.warehouse().url)} ([warehouse] url, environment "
                            f"MUSIC_ETL_WAREHOUSE_URL) does not answer: {reason}; nothing was removed") from None
    finally:
        if backend is not None:
            backend.close()


def check_rerun(partition: str) -> None:
    """Raise before anything is deleted when ``rerun --force partition`` cannot succeed."""
    check_selection(partition, config.msd().root)
    settings = config.spotify()
    if settings.crosswalk:
        load_crosswalk(settings.crosswalk)  # a broken crosswalk names its line
    _check_warehouse()
    needs = spotify_needs(partition)
    if needs is not None:
        missing = [name for name in ("SPOTIPY_CLIENT_ID", "SPOTIPY_CLIENT_SECRET") if not os.environ.get(name)]
        if missing:
            raise MissingCredentialsError(missing,
                                          why=f"rerunning {partition} must ask Spotify ({needs}); nothing was removed")
        for url, setting in ((settings.api_url, "[spotify] api_url, environment MUSIC_ETL_SPOTIFY_API_URL"),
                             (settings.token_url, "[spotify] token_url, environment MUSIC_ETL_SPOTIFY_TOKEN_URL")):
            _check_reachable(url, setting, f"rerunning {partition} must ask Spotify ({needs})")
    if "deezer" not in config.enabled_sources():
        return
    # Spotify's answers decide which ISRCs Deezer is asked for: replayed only when Spotify needs nothing new.
    needs = "Spotify must be asked first" if needs is not None else deezer_needs(partition)
    if needs is not None:
        _check_reachable(config.deezer().api_url, "[deezer] api_url, environment MUSIC_ETL_DEEZER_API_URL",
                         f"rerunning {partition} must ask Deezer ({needs})")
