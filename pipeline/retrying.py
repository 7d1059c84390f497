"""The HTTP session every source's client uses: retries where a retry is safe, and a count of
every request sent.

Connection errors and 5xx are retried with backoff (a refused connection or an unknown host gets
one immediate second try, not minutes of backoff: nothing is listening there, and the caller says
so); 429 is left to the caller, Retry-After ignored, since only the caller knows whether it is a
short rate limit or a quota of hours. Every request sent, the retried attempts included, is
counted in ``sent`` under the name ``name_of(url, method)`` gives it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry


def retrying_session(name_of: Callable[[str, str], str], sent: Counter, total: int = 4,
                     backoff_factor: float = 0.5) -> requests.Session:
    class CountingRetry(Retry):
        def increment(self, method=None, url=None, *args, **kwargs):
            sent[name_of(url or "", method or "GET")] += 1  # the attempt that failed, sent all the same
            return super().increment(method, url, *args, **kwargs)

    retry = CountingRetry(
        total=total, connect=1, read=total, status=total,
        status_forcelist=(500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "POST"}),
        backoff_factor=backoff_factor,
        respect_retry_after_header=False,
        # Return the last 5xx instead of raising RetryError (spotipy would report it as a 429).
        raise_on_status=False,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.hooks["response"].append(
        lambda response, *args, **kwargs: sent.update([name_of(response.request.url, response.request.method)]))
    return session
