"""A Spotify Web API client that never sleeps for hours: spotipy behind our own retry policy.

spotipy's default session retries 429s by sleeping for whatever Retry-After says, which on a
Development-Mode quota is 13+ hours, silently (spotipy #1158; Spotify's rate-limit page publishes no numbers).
This client hands spotipy a ``requests.Session`` whose urllib3 ``Retry`` covers only
connection errors and 5xx, with backoff, and decides about 429 and 401 itself:

* 429 with a Retry-After up to ``max_retry_after`` seconds (default 60): wait it out and retry. While
  429s keep coming, each wait doubles (Retry-After, then 2x, 4x …, each at most ``max_retry_after``),
  at most ``MAX_RATE_LIMIT_WAITS`` times in a row for one call (then ``RateLimitedError``, transient);
* 429 with a longer one (the daily quota): raise ``QuotaExhaustedError`` at once, naming the
  time the quota may allow requests again;
* 401: drop the cached token, fetch a new one, retry once.

Once an answer succeeds the client is back at its normal pace (``min_interval_s``, none by default):
a Retry-After says when Spotify's rolling window has room again, so a lone 429 costs its wait and
no more. (Pacing down to a share of the rate that met the 429 made one early 429 set a pace of one
request every 6-17 s for the rest of the run.) It slows only while 429s keep coming, and when the
run has waited ``max_rate_limit_wait_s`` in all on 429s it stops with ``RateLimitedError`` instead of
crawling: every answer received is stored, so a rerun later costs nothing twice.

Every HTTP request sent is counted in ``sent``, by endpoint (``token`` included): the ones
spotipy's caller sees, the 5xx and connection failures urllib3 retried, the 429s and 401s.

Credentials come from ``SPOTIPY_CLIENT_ID`` / ``SPOTIPY_CLIENT_SECRET`` and are never logged:
spotipy's own DEBUG lines carry the Authorization headers, so its loggers get a redacting filter.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import requests
import spotipy
from spotipy.cache_handler import MemoryCacheHandler
from urllib3.exceptions import NewConnectionError

from pipeline.errors import TerminalError, TransientError
from pipeline.retrying import retrying_session

logger = logging.getLogger(__name__)

# Short 429s waited out for one call before giving up on it: a rate limit that never lifts is an outage.
MAX_RATE_LIMIT_WAITS = 5
# What one run may wait on 429s in all before it stops instead of crawling ([spotify] max_rate_limit_wait).
MAX_RATE_LIMIT_WAIT_S = 600.0

SPOTIFY_API_URL = "https://api.spotify.com/v1/"
SPOTIFY_TOKEN_URL = "https://accounts.spotify.com/api/token"


class QuotaExhaustedError(TransientError):
    def __init__(self, retry_after_s: float, endpoint: str):
        self.retry_after_s = retry_after_s
        self.resume_at = datetime.now(UTC) + timedelta(seconds=retry_after_s)
        super().__init__(
            f"Spotify quota exhausted on `{endpoint}`: Retry-After {retry_after_s:.0f} s. Stopping instead of "
            f"sleeping; rerun after {self.resume_at.strftime('%Y-%m-%d %H:%M UTC')} and finished work is kept."
        )


class RateLimitedError(TransientError):
    def __init__(self, endpoint: str, waits: int, waited_s: float | None = None, bound_s: float | None = None):
        if waited_s is None:
            why = f"{waits} short waits in a row did not help"
        else:
            why = (f"this run has waited {waited_s:.0f} s on {waits} of them, and the next wait would pass "
                   f"[spotify] max_rate_limit_wait ({bound_s:.0f} s)")
        super().__init__(
            f"Spotify kept answering 429 on `{endpoint}`: {why}. Stopping instead of crawling; every answer "
            f"received is stored, rerun later (or lower the number of workers sharing the app).")


class SpotifyUnreachableError(TransientError):
    def __init__(self, url: str, setting: str, reason: str):
        self.url = url
        super().__init__(
            f"nothing answered at {url} ({setting}): {reason}. Check that setting, or rerun when the service is "
            f"back; every answer received so far is journaled.")


class InvalidCredentialsError(TerminalError):
    def __init__(self, token_url: str):
        super().__init__(
            f"Spotify refused the app's credentials (invalid_client) at {token_url}: check SPOTIPY_CLIENT_ID and "
            f"SPOTIPY_CLIENT_SECRET, the Client ID and Client Secret of your app at developer.spotify.com "
            f"(Dashboard → the app → Settings).")


class MissingCredentialsError(TerminalError):
    def __init__(self, missing: list[str], why: str = ""):
        super().__init__(
            f"Spotify credentials missing: set {', '.join(missing)} in the environment "
            f"(the app's Client ID and Client Secret from developer.spotify.com)" + (f"; {why}." if why else ".")
        )


class RedactCredentials(logging.Filter):
    """spotipy logs request headers at DEBUG, Basic auth (the client secret) and Bearer tokens
    included; this rewrites those records before any handler sees them."""

    _PATTERN = re.compile(r"((?:Basic|Bearer)\s+)[A-Za-z0-9+/=._~-]+")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self._PATTERN.sub(r"\1[redacted]", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class DemoteHttpErrors(logging.Filter):
    """spotipy logs every non-2xx answer at ERROR, expected ones included (403 while discovering
    what a Development-Mode app may see, 404 for a stale id). The caller decides what an answer
    means and logs that, so spotipy's line is demoted to DEBUG, where handlers at INFO skip it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.ERROR and str(record.msg).startswith("HTTP Error"):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


_REDACTOR, _DEMOTER = RedactCredentials(), DemoteHttpErrors()
for _name in ("spotipy.client", "spotipy.oauth2"):
    for _filter in (_REDACTOR, _DEMOTER):
        if _filter not in logging.getLogger(_name).filters:
            logging.getLogger(_name).addFilter(_filter)


def endpoint_of(url: str, method: str = "GET") -> str:
    """The Web API endpoint a URL calls, named as the sandbox's stats name it: ``search``,
    ``track`` (one id), ``tracks`` (a batch), ``artist``, ``artists``, ``audio-feature(s)``, ``token``."""
    path = urlsplit(url).path.rstrip("/")
    if path.endswith("/api/token") or method == "POST":
        return "token"
    parts = path.split("/v1/", 1)[-1].split("/")
    if len(parts) >= 2:
        return "audio-feature" if parts[0] == "audio-features" else parts[0].rstrip("s")
    return parts[0]


class SpotifyClient:
    """spotipy with client credentials, an in-memory token cache and the policy above."""

    def __init__(self, api_url: str = SPOTIFY_API_URL, token_url: str = SPOTIFY_TOKEN_URL,
                 client_id: str | None = None, client_secret: str | None = None, timeout_s: float = 10.0,
                 max_retry_after_s: float = 60.0, backoff_factor: float = 0.5, min_interval_s: float = 0.0,
                 sleep: Callable[[float], None] | None = None, clock: Callable[[], float] | None = None,
                 max_rate_limit_wait_s: float = MAX_RATE_LIMIT_WAIT_S):
        client_id = client_id or os.environ.get("SPOTIPY_CLIENT_ID")
        client_secret = client_secret or os.environ.get("SPOTIPY_CLIENT_SECRET")
        missing = [name for name, value in (("SPOTIPY_CLIENT_ID", client_id), ("SPOTIPY_CLIENT_SECRET", client_secret))
                   if not value]
        if missing:
            raise MissingCredentialsError(missing)
        self.sent: Counter[str] = Counter()  # every HTTP request sent, by endpoint
        self.rate_limited = 0  # short 429s waited out
        self.rate_limit_waited_s = 0.0  # and the time spent waiting on them
        session = retrying_session(endpoint_of, self.sent, backoff_factor=backoff_factor)
        self.cache = MemoryCacheHandler()
        self.auth = spotipy.SpotifyClientCredentials(client_id=client_id, client_secret=client_secret,
                                                     cache_handler=self.cache, requests_session=session,
                                                     requests_timeout=timeout_s)
        self.auth.OAUTH_TOKEN_URL = token_url  # spotipy reads it from the instance
        self.sp = spotipy.Spotify(auth_manager=self.auth, requests_session=session, requests_timeout=timeout_s,
                                  retries=0, status_retries=0)
        self.sp.prefix = api_url if api_url.endswith("/") else api_url + "/"
        self.max_retry_after_s = max_retry_after_s
        self.token_url = token_url
        self._sleep = sleep or time.sleep
        self._clock = clock or time.monotonic
        self.min_interval_s = min_interval_s
        self.max_rate_limit_wait_s = max_rate_limit_wait_s
        self._last_sent: float | None = None

    def __repr__(self) -> str:  # no credentials in reprs, logs or tracebacks
        return f"SpotifyClient(api_url={self.sp.prefix!r})"

    def call(self, endpoint: str, fn: Callable, *args, **kwargs):
        """Run one spotipy call under the 429/401 policy; ``endpoint`` names it in errors and logs."""
        refreshed = False
        waits = 0
        while True:
            self._pace()
            try:
                return fn(*args, **kwargs)
            except spotipy.exceptions.SpotifyOauthError as exc:
                if getattr(exc, "error", None) == "invalid_client":
                    raise InvalidCredentialsError(self.token_url) from None
                raise
            except requests.exceptions.ConnectionError as exc:
                refused = _refused_connection(exc)
                if refused is None:
                    raise  # dropped mid-answer: transient, the caller's breaker counts it
                url = getattr(exc.request, "url", None) or self.sp.prefix
                setting = ("[spotify] token_url, environment MUSIC_ETL_SPOTIFY_TOKEN_URL" if url.startswith(self.token_url)
                           else "[spotify] api_url, environment MUSIC_ETL_SPOTIFY_API_URL")
                raise SpotifyUnreachableError(url.split("?")[0], setting, refused) from None
            except spotipy.SpotifyException as exc:
                if exc.http_status == 401 and not refreshed:
                    refreshed = True
                    self.cache.token_info = None  # the next call fetches a fresh token
                    continue
                if exc.http_status == 429:
                    retry_after = _retry_after(exc)
                    if retry_after > self.max_retry_after_s:
                        raise QuotaExhaustedError(retry_after, endpoint) from None
                    if waits >= MAX_RATE_LIMIT_WAITS:
                        raise RateLimitedError(endpoint, waits) from None
                    # Waiting what Retry-After said and meeting another 429: the limit is tighter than it says
                    # (other workers of the app, a longer ban), so each further wait doubles.
                    wait = max(retry_after, min(retry_after * 2 ** waits, self.max_retry_after_s))
                    if self.rate_limit_waited_s + wait > self.max_rate_limit_wait_s:
                        raise RateLimitedError(endpoint, self.rate_limited + 1, self.rate_limit_waited_s,
                                               self.max_rate_limit_wait_s) from None
                    waits += 1
                    self.rate_limited += 1
                    self.rate_limit_waited_s += wait
                    logger.warning("Spotify rate limit on %s (%d so far this run): waiting %.0f s (Retry-After %.0f s)",
                                   endpoint, self.rate_limited, wait, retry_after)
                    self._sleep(wait)
                    continue
                raise

    def _pace(self) -> None:
        if self.min_interval_s and self._last_sent is not None:
            gap = self._last_sent + self.min_interval_s - self._clock()
            if gap > 0:
                self._sleep(gap)
        self._last_sent = self._clock()

    def search_tracks(self, q: str, limit: int = 10):
        return self.call("search", self.sp.search, q=q, type="track", limit=limit)


def _refused_connection(exc: requests.exceptions.ConnectionError) -> str | None:
    """Why no connection could be made (refused, unknown host), or None for a connection that
    was made and then dropped."""
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the last error
    if isinstance(reason, NewConnectionError):
        return str(reason).split(": ", 1)[-1]
    return None


def _retry_after(exc: spotipy.SpotifyException) -> float:
    # A 429 can arrive without the header (observed); then a short pause is the safe guess.
    value = (exc.headers or {}).get("Retry-After") or (exc.headers or {}).get("retry-after")
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return 1.0
