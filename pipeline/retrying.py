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
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util.retry import Retry

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
