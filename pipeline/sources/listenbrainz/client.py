"""A client of ListenBrainz's JSON API (popularity and metadata), paced by its ``X-RateLimit-*`` headers.

ListenBrainz answers every request with ``X-RateLimit-Limit``, ``-Remaining``, ``-Reset-In`` (seconds) and
``-Reset``; past the limit (30 per 10 s per address, 50 per token, brainzutils' defaults) it answers 429 and
its docs ask clients to wait ``Reset-In``. So the client waits when ``Remaining`` reaches 0, waits out a 429 at
most ``max_rate_limit_waits`` times in a row (then ``ListenBrainzRateLimitError``, transient), and sends
``Authorization: Token …`` when ``LISTENBRAINZ_TOKEN`` is set (required by ``metadata/lookup`` since Dec 2025;
auth came and went on the others in 2026). 400 (an invalid id, too many items) and 401 are terminal, each
one line naming the fix. 5xx and dropped connections are retried (pipeline/retrying.py), every attempt counted; then one line names
the address setting (``service``, ``setting``: the musicbrainz source asks through its own).
Used by the ``listenbrainz`` source and by the ``musicbrainz`` source's metadata lookups.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable
from urllib.parse import urlsplit

import requests

from pipeline.errors import TerminalError, TransientError
from pipeline.retrying import ServiceUnreachableError, checked, connection_failure, retrying_session

logger = logging.getLogger(__name__)

TOKEN_ENV = "LISTENBRAINZ_TOKEN"
API_URL_SETTING = "[listenbrainz] api_url (environment MUSIC_ETL_LISTENBRAINZ_API_URL)"
USER_AGENT = "music-etl/1 (Million Song Dataset enrichment; https://github.com/music-etl/music-etl)"
MAX_IDS = 1000  # popularity and metadata/recording: MAX_ITEMS_PER_GET in listenbrainz/webserver/views/api_tools.py
MAX_LOOKUPS = 50  # metadata/lookup
MAX_LOOKUP_CHARACTERS = 250  # artist, recording and release names of one lookup together (MAX_MAPPING_QUERY_LENGTH)


def token_from_environment() -> str | None:
    return os.environ.get(TOKEN_ENV) or None


def is_mbid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value.lower() and len(value) == 36
    except (ValueError, AttributeError, TypeError):
        return False


class ListenBrainzRateLimitError(TransientError):
    def __init__(self, path: str, waits: int, token: bool):
        hint = "" if token else f"; a token ({TOKEN_ENV}) raises the limit"
        super().__init__(f"ListenBrainz answered 429 (rate limited) on `{path}` {waits + 1} time{'s' if waits else ''} in a row: another "
                         f"program on this address shares the limit{hint}. Rerun later; every answer received is stored.")


class ListenBrainzBadRequestError(TerminalError):
    def __init__(self, path: str, message: str):
        super().__init__(f"ListenBrainz refused `{path}` with 400: {message}. Nothing was removed; what it names must "
                         f"change before a rerun can succeed (an MBID comes from the staged MusicBrainz identity or "
                         f"MSD's artist_mbid, names from the MSD files)")


class ListenBrainzTokenError(TerminalError):
    def __init__(self, path: str, message: str, token: bool):
        what = "refused the token in" if token else "needs a token for"
        super().__init__(f"ListenBrainz {what} `{path}` (401: {message}): set {TOKEN_ENV} to a ListenBrainz user token "
                         f"(https://listenbrainz.org/settings/) and rerun.")


class ListenBrainzError(TransientError):
    def __init__(self, path: str, status: int, text: str):
        super().__init__(f"ListenBrainz answered {status} on `{path}` after retries ({text[:120]}). Rerun later; every "
                         f"answer received is stored.")


def endpoint_of(url: str, method: str = "POST") -> str:
    """``popularity_recording``, ``popularity_artist``, ``metadata_recording``, ``metadata_lookup``: as the sandbox counts."""
    parts = [p for p in urlsplit(url).path.split("/") if p and p != "1"]
    return "_".join(parts[:2]) or "root"


class ListenBrainzClient:
    def __init__(self, api_url: str, token: str | None = None, timeout_s: float = 30.0, max_rate_limit_waits: int = 5,
                 backoff_factor: float = 0.5, sleep: Callable[[float], None] = time.sleep, service: str = "ListenBrainz",
                 setting: str = API_URL_SETTING):
        self.api_url = api_url.rstrip("/")
        self.service, self.setting = service, setting  # who is asked, and where its address is set, for errors
        self.token, self.timeout_s, self.max_rate_limit_waits = token, timeout_s, max_rate_limit_waits
        self._sleep = sleep
        self.sent: Counter[str] = Counter()  # every request sent, by endpoint, retried attempts included
        self.rate_limited = 0  # 429s waited out
        self.waited_s = 0.0
        self._pause_until = 0.0
        self.session = retrying_session(endpoint_of, self.sent, backoff_factor=backoff_factor)
        self.session.headers["User-Agent"] = USER_AGENT
        if token:
            self.session.headers["Authorization"] = f"Token {token}"

    def __repr__(self) -> str:  # never the token
        return f"ListenBrainzClient(api_url={self.api_url!r}, token={'set' if self.token else 'none'})"

    def post(self, path: str, body: dict):
        """ListenBrainz's JSON answer to ``POST <api>/<path>``."""
        waits = 0
        while True:
            pause = self._pause_until - time.monotonic()
            if pause > 0:
                self._wait(pause)
            try:
                response = self.session.post(f"{self.api_url}/1/{path.lstrip('/')}", json=body, timeout=self.timeout_s)
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise ServiceUnreachableError(self.service, self.api_url, self.setting, connection_failure(exc)) from None
            self._pace(response)
            if response.status_code == 429:
                if waits >= self.max_rate_limit_waits:
                    raise ListenBrainzRateLimitError(path, waits, bool(self.token))
                waits += 1
                self.rate_limited += 1
                wait = _reset_in(response) or 10.0
                logger.warning("ListenBrainz rate limit (429) on %s: waiting %.0f s as X-RateLimit-Reset-In says", path, wait)
                self._wait(wait)
                continue
            if response.status_code == 400:
                raise ListenBrainzBadRequestError(path, _message(response))
            if response.status_code == 401:
                raise ListenBrainzTokenError(path, _message(response), bool(self.token))
            checked(response, self.service, self.setting)
            try:
                return response.json()
            except requests.JSONDecodeError as exc:
                raise ListenBrainzError(path, response.status_code, f"not JSON: {exc}") from None

    def _pace(self, response: requests.Response) -> None:
        # Remaining 0: the next request would be refused until the window resets, so wait for it instead.
        try:
            remaining = int(response.headers.get("X-RateLimit-Remaining", "1"))
        except ValueError:
            return
        if remaining <= 0:
            self._pause_until = time.monotonic() + (_reset_in(response) or 1.0)

    def _wait(self, seconds: float) -> None:
        self.waited_s += seconds
        self._sleep(seconds)


def _reset_in(response: requests.Response) -> float | None:
    try:
        return max(float(response.headers["X-RateLimit-Reset-In"]), 0.0)
    except (KeyError, ValueError):
        return None


def _message(response: requests.Response) -> str:
    try:
        body = response.json()
        return str(body.get("error") or body)
    except (requests.JSONDecodeError, AttributeError):
        return response.text[:200]
