"""The HTTP session every source's client uses: retries where a retry is safe, and a count of
every request sent.

Connection errors and 5xx are retried with backoff (a refused connection or an unknown host gets
one immediate second try, not minutes of backoff: nothing is listening there, and the caller says
so); 429 is left to the caller, Retry-After ignored, since only the caller knows whether it is a
short rate limit or a quota of hours.

Every request is counted in ``sent`` (under the name ``name_of(url, method)`` gives it) as it goes out,
not when its answer comes back, so a run interrupted while a request is in flight still counts it: the
first attempt when the session sends it, each retry when urllib3 decides to make it. An attempt that
never left the machine (connection refused, unknown host, connect timeout) is taken back off the
count; one whose connection dropped mid-answer stays on it (the server may have seen it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.retry import Retry

from pipeline.errors import TerminalError, TransientError
from pipeline.redaction import redact_url

# Errors that mean no byte of the request reached the server.
_NOT_SENT = (NewConnectionError, ConnectTimeoutError)


def retrying_session(name_of: Callable[[str, str], str], sent: Counter, total: int = 4,
                     backoff_factor: float = 0.5) -> requests.Session:
    class CountingRetry(Retry):
        def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
            name = name_of(url or "", method or "GET")
            if isinstance(error, _NOT_SENT):
                sent[name] -= 1  # counted as it was sent; it never left
            # Raises when the attempts are spent: then no further attempt is made.
            retried = super().increment(method, url, response=response, error=error, _pool=_pool, _stacktrace=_stacktrace)
            sent[name] += 1  # the next attempt, about to go out
            return retried

    retry = CountingRetry(
        total=total, connect=1, read=total, status=total,
        status_forcelist=(500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "POST"}),
        backoff_factor=backoff_factor,
        respect_retry_after_header=False,
        # Return the last 5xx instead of raising RetryError (spotipy would report it as a 429).
        raise_on_status=False,
    )

    class CountingAdapter(HTTPAdapter):
        def send(self, request, *args, **kwargs):
            sent[name_of(request.url, request.method)] += 1  # the first attempt, about to go out
            return super().send(request, *args, **kwargs)

    session = requests.Session()
    adapter = CountingAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


# --- what a source's client says when its service does not answer, or answers with an HTTP error ---------------

class ServiceUnreachableError(TransientError):
    """Nothing answered at a source's address: a wrong URL setting, or the service is down."""

    def __init__(self, service: str, url: str, setting: str, reason: str):
        self.url, self.setting = url, setting
        super().__init__(f"{service}: nothing answered at {redact_url(url)} ({reason}). Check {setting}; if it is right, the "
                         f"service is down: rerun later (every answer received so far is stored).")


class ServiceFailingError(TransientError):
    """A source's service answered 5xx, and went on answering it through every retry."""

    def __init__(self, service: str, url: str, setting: str, status: int):
        self.url, self.status = url, status
        super().__init__(f"{service} answered HTTP {status} at {redact_url(url)}, through every retry: the service is failing; "
                         f"rerun later (every answer received so far is stored), or check {setting} if it should "
                         f"point elsewhere.")


class ServiceRefusedError(TerminalError):
    """A 4xx the client has no meaning for: the address is not the service's API (a wrong URL setting)."""

    def __init__(self, service: str, url: str, setting: str, status: int):
        self.url, self.status = url, status
        super().__init__(f"{service} answered HTTP {status} at {redact_url(url)}: that address does not serve its API. Check "
                         f"{setting}.")


def connection_failure(exc: requests.RequestException) -> str:
    """Why a request got no answer, in a few words: unknown host, refused, timed out, dropped."""
    if isinstance(exc, requests.Timeout):
        return "timed out"
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the last error
    if isinstance(reason, NameResolutionError):
        return f"unknown host {reason.conn.host}" if getattr(reason, "conn", None) is not None else "unknown host"
    if isinstance(reason, NewConnectionError):
        return "connection refused" if "refused" in str(reason).lower() else str(reason).split(": ", 1)[-1]
    return "the connection dropped before the answer"


def base_of(url: str) -> str:
    """The address without its query (which may hold ids, never needed to find a wrong setting) and without a
    password it may carry."""
    return redact_url(url.split("?", 1)[0])


def checked(response: requests.Response, service: str, setting: str, understood: tuple[int, ...] = ()) -> requests.Response:
    """``response`` when it is not an HTTP error the client does not handle itself (``understood``); else the
    error that names the setting: 5xx transient, any other 4xx terminal."""
    status = response.status_code
    if status < 400 or status in understood:
        return response
    if status >= 500:
        raise ServiceFailingError(service, base_of(response.url), setting, status)
    raise ServiceRefusedError(service, base_of(response.url), setting, status)
