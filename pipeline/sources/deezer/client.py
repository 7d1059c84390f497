"""A Deezer API client that paces itself and reads Deezer's HTTP-200 error objects.

Deezer allows about 50 requests per 5 seconds per IP address, shared by every process behind it
(freyr-js #32), and answers its errors with HTTP 200 and ``{"error": {"type", "message", "code"}}``:

* code 4, "Quota limit exceeded": wait a window and ask again, at most ``MAX_QUOTA_WAITS`` times
  in a row (then ``DeezerQuotaError``, transient); pacing keeps it rare;
* code 700, service busy: retried with backoff, then ``DeezerBusyError`` (transient);
* code 800, "no data": a real answer (not found), returned as ``None`` so it is stored;
* any other code: ``DeezerRequestError`` with Deezer's message (terminal for that request).

``HostPacer`` keeps every process on the host under the rate: the send times of the last window
live in a file under an exclusive ``flock``, so two workers, or two commands, never add up to
more than the limit, and nobody sleeps longer than a window. The file is in a folder only the user
can write (pipeline/private_files.py), opened without following a symbolic link, and must be the
user's own; junk in it is replaced, never obeyed.
"""

from __future__ import annotations

import fcntl
import logging
import math
import os
import time
from collections import Counter
from collections.abc import Callable
from urllib.parse import urlsplit

import requests

from pipeline.errors import TerminalError, TransientError
from pipeline.private_files import open_private_file, private_folder
from pipeline.retrying import ServiceUnreachableError, checked, connection_failure, retrying_session

logger = logging.getLogger(__name__)

DEEZER_API_URL = "https://api.deezer.com/"
API_URL_SETTING = "[deezer] api_url (environment MUSIC_ETL_DEEZER_API_URL)"
RATE_LIMIT, RATE_WINDOW_S = 50, 5.0
# The pacer's window is this much longer than the server's: a request is counted here when it leaves and
# there when it arrives, and the difference must not push one over the limit at a window's edge.
PACE_MARGIN = 0.05
MAX_QUOTA_WAITS = 5
MAX_BUSY_RETRIES = 3
QUOTA, BUSY, NO_DATA = 4, 700, 800


class DeezerQuotaError(TransientError):
    def __init__(self, path: str, waits: int):
        super().__init__(f"Deezer kept answering \"Quota limit exceeded\" (code 4) on `{path}` after {waits} waits of "
                         f"a window: another program on this address is using the quota. Rerun later; every answer "
                         f"received is stored.")


class DeezerBusyError(TransientError):
    def __init__(self, path: str):
        super().__init__(f"Deezer answered \"service busy\" (code 700) on `{path}` {MAX_BUSY_RETRIES + 1} times. "
                         f"Rerun later; every answer received is stored.")


class DeezerRequestError(TerminalError):
    def __init__(self, path: str, code: int, message: str):
        self.code = code
        super().__init__(f"Deezer refused `{path}`: {message} (code {code}).")


PACE_FILE_NAME = "deezer-pace"
PACE_FILE_SETTING = "[deezer] pace_file (environment MUSIC_ETL_DEEZER_PACE_FILE)"


def default_pace_file() -> str:
    """``deezer-pace`` in this user's private folder (pipeline/private_files.py: beside a local staging
    root, else in ``$XDG_RUNTIME_DIR``, else a 0700 folder of the user's in the temporary folder)."""
    return os.path.join(private_folder("the folder of the Deezer pace file", PACE_FILE_SETTING), PACE_FILE_NAME)


class HostPacer:
    """At most ``limit`` requests per ``window_s`` from every process on this host that uses ``path``
    (blank: ``default_pace_file()``, found when the first request is paced).

    The file is opened without following a symbolic link and must be this user's own (else
    ``PrivateFileError``, naming the path and the fix); what it holds is only believed when it reads
    as send times: junk is replaced, as are times more than a window ahead of the clock."""

    def __init__(self, path: str | None = None, limit: int = RATE_LIMIT, window_s: float = RATE_WINDOW_S,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep):
        self._path = path or None
        self.limit, self.window_s = limit, window_s * (1 + PACE_MARGIN)
        self._clock, self._sleep = clock, sleep
        self.waited_s = 0.0

    @property
    def path(self) -> str:
        if self._path is None:
            self._path = default_pace_file()
        return self._path

    def _sent(self, data: bytes, now: float) -> list[float] | None:
        """The send times of the current window, sorted; None when ``data`` is not what a pacer writes."""
        if len(data) > 64 * (self.limit + 16):
            return None
        try:
            times = [float(x) for x in data.decode("ascii").split()]
        except (UnicodeDecodeError, ValueError):
            return None
        if not all(math.isfinite(t) and t <= now + self.window_s for t in times):
            return None  # a time no pacer on this clock wrote: obeyed, it could hold every request back for good
        return sorted(t for t in times if t > now - self.window_s)

    def acquire(self) -> None:
        while True:
            fd = open_private_file(self.path, "the Deezer pace file", PACE_FILE_SETTING)
            with os.fdopen(fd, "r+b") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)  # released when the file closes
                now = self._clock()
                sent = self._sent(fh.read(), now)
                if sent is None:
                    logger.warning("the Deezer pace file %s held no send times; replaced", self.path)
                    sent = []
                if len(sent) < self.limit:
                    sent.append(now)
                    fh.seek(0)
                    fh.truncate()
                    fh.write(" ".join(f"{t:.6f}" for t in sent).encode("ascii"))
                    return
                wait = sent[-self.limit] + self.window_s - now  # when one of the last ``limit`` leaves the window
            wait = max(wait, 0.001)
            self.waited_s += wait
            self._sleep(wait)


def endpoint_of(url: str, method: str = "GET") -> str:
    """The endpoint a URL calls, named as the sandbox's stats name it: ``search``, ``track``,
    ``track_isrc``, ``artist``, ``album``."""
    parts = urlsplit(url).path.strip("/").split("/")
    if parts[0] == "track" and len(parts) > 1 and parts[1].startswith("isrc:"):
        return "track_isrc"
    return parts[0]


class DeezerClient:
    def __init__(self, api_url: str = DEEZER_API_URL, timeout_s: float = 10.0, pacer: HostPacer | None = None,
                 backoff_factor: float = 0.5, sleep: Callable[[float], None] = time.sleep):
        self.api_url = api_url if api_url.endswith("/") else api_url + "/"
        self.timeout_s, self.backoff_factor = timeout_s, backoff_factor
        self.pacer = pacer or HostPacer()
        self._sleep = sleep
        self.sent: Counter[str] = Counter()  # every request sent, by endpoint, retried attempts included
        self.errors: Counter[int] = Counter()  # Deezer error codes met
        self.session = retrying_session(endpoint_of, self.sent, backoff_factor=backoff_factor)

    def __repr__(self) -> str:
        return f"DeezerClient(api_url={self.api_url!r})"

    def get(self, path: str, params: dict | None = None) -> dict | None:
        """Deezer's answer to ``GET <api>/<path>``; None for "no data" (code 800)."""
        quota_waits = busy = 0
        while True:
            self.pacer.acquire()
            try:
                response = self.session.get(self.api_url + path, params=params, timeout=self.timeout_s)
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise ServiceUnreachableError("Deezer", self.api_url, API_URL_SETTING, connection_failure(exc)) from None
            checked(response, "Deezer", API_URL_SETTING)
            body = response.json()
            error = body.get("error") if isinstance(body, dict) else None
            if not error:
                return body
            code = int(error.get("code") or 0)
            self.errors[code] += 1
            if code == NO_DATA:
                return None
            if code == QUOTA:
                quota_waits += 1
                if quota_waits > MAX_QUOTA_WAITS:
                    raise DeezerQuotaError(path, quota_waits - 1)
                logger.warning("Deezer quota error (code 4) on %s, %d so far: waiting %.0f s", path,
                               self.errors[QUOTA], self.pacer.window_s)
                self._sleep(self.pacer.window_s)
                continue
            if code == BUSY:
                busy += 1
                if busy > MAX_BUSY_RETRIES:
                    raise DeezerBusyError(path)
                self._sleep(self.backoff_factor * 2 ** (busy - 1))
                continue
            raise DeezerRequestError(path, code, str(error.get("message") or error.get("type") or "error"))
