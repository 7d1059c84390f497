"""The client's retry policy against the sandbox over real HTTP: waits when short, stops when long."""

from __future__ import annotations

import base64
import logging
import time

import pytest
import spotipy

from pipeline.sources.spotify.client import (
    MAX_RATE_LIMIT_WAITS,
    InvalidCredentialsError,
    MissingCredentialsError,
    QuotaExhaustedError,
    RateLimitedError,
    SpotifyClient,
    SpotifyUnreachableError,
)
from tests.conftest import FakeClock


def client_for(server, **kwargs):
    kwargs.setdefault("backoff_factor", 0.01)
    return SpotifyClient(api_url=f"{server.url}/v1/", token_url=f"{server.url}/api/token",
                         client_id="sandbox-client", client_secret="sandbox-secret", **kwargs)


def stats(server):
    return server.state.stats()


def test_search_works_and_the_token_is_fetched_once(sandbox):
    server = sandbox()
    client = client_for(server)
    for _ in range(3):
        assert "items" in client.search_tracks("love")["tracks"]
    assert stats(server)["requests"] == {"token": 1, "search": 3}


def test_a_short_retry_after_is_waited_out(sandbox):
    clock = FakeClock()
    server = sandbox(rate_limit=2, rate_window_s=30, clock=clock.monotonic)
    client = client_for(server, sleep=clock.sleep, clock=clock.monotonic)
    for _ in range(3):
        assert "items" in client.search_tracks("love")["tracks"]
    assert clock.slept == [30]  # the third request waited out the window once, then was answered
    # From then on it keeps to 90% of the rate that met the 429: 3 requests in 30 s.
    assert client.min_interval_s == pytest.approx(30 / (0.9 * 3))
    client.search_tracks("love")
    assert clock.slept[1:] == [pytest.approx(30 / 2.7)] and stats(server)["responses"]["429"] == 1
    assert client.sent == stats(server)["requests"]  # every request sent, the refused one and the token too
    assert stats(server)["requests"]["search"] == 5  # 4 answered, 1 refused
    # A whole window without a 429: the pace quickens by the same share.
    clock.sleep(31)
    client.search_tracks("love")
    assert client.min_interval_s == pytest.approx(30 / (0.9 * 3) * 0.9)


def test_a_quota_length_retry_after_stops_at_once_with_the_resume_time(sandbox):
    server = sandbox(daily_quota=1)
    slept = []
    client = client_for(server, sleep=slept.append)
    client.search_tracks("love")
    with pytest.raises(QuotaExhaustedError) as info:
        client.search_tracks("love")
    assert slept == []  # stopped instead of sleeping
    assert info.value.retry_after_s == 52531
    assert "rerun after" in str(info.value) and "search" in str(info.value)
    assert stats(server)["responses"]["429"] == 1  # asked once, not retried


def test_a_rate_limit_that_never_lifts_stops_after_a_bounded_number_of_waits(sandbox):
    server = sandbox(rate_limit=1, rate_window_s=30)
    slept = []
    client = client_for(server, sleep=slept.append)  # no time passes: the window never frees a slot
    client.search_tracks("love")
    with pytest.raises(RateLimitedError, match=r"429 on `search`: 5 short waits"):
        client.search_tracks("love")
    assert client.rate_limited == MAX_RATE_LIMIT_WAITS and slept.count(30.0) == MAX_RATE_LIMIT_WAITS
    assert stats(server)["responses"]["429"] == MAX_RATE_LIMIT_WAITS + 1


def test_server_errors_are_retried_with_backoff(sandbox):
    server = sandbox(fail_rate=0.5, seed=4)
    client = client_for(server)
    for _ in range(10):
        client.search_tracks("love")
    s = stats(server)
    assert s["requests"]["search"] > 10 and sum(int(v) for k, v in s["responses"].items() if k.startswith("5")) > 0


def test_persistent_server_errors_surface_as_5xx_not_as_429(sandbox):
    server = sandbox(fail_rate=1.0)
    client = client_for(server)
    with pytest.raises(spotipy.SpotifyException) as info:
        client.search_tracks("love")
    assert info.value.http_status in (500, 502, 503)


def test_an_expired_token_is_refreshed_once(sandbox):
    server = sandbox()
    client = client_for(server)
    client.search_tracks("love")
    server.state.expire_tokens()
    client.search_tracks("love")
    assert stats(server)["requests"]["token"] == 2


class _HurriedClock:
    """A monotonic clock whose sleep(s) moves it s ahead at once but sleeps at most ``real_s`` of real time."""

    def __init__(self, real_s: float):
        self.real_s, self.asked_s = real_s, 0.0

    def now(self) -> float:
        return time.monotonic() + self.asked_s

    def sleep(self, seconds: float) -> None:
        self.asked_s += seconds
        time.sleep(min(seconds, self.real_s))


def test_credentials_come_from_the_environment_and_never_reach_logs(sandbox, monkeypatch, caplog):
    monkeypatch.delenv("SPOTIPY_CLIENT_ID", raising=False)
    monkeypatch.delenv("SPOTIPY_CLIENT_SECRET", raising=False)
    with pytest.raises(MissingCredentialsError, match="SPOTIPY_CLIENT_ID, SPOTIPY_CLIENT_SECRET"):
        SpotifyClient()
    # The second search meets a 429 (its headers logged too); the client's waits run on a clock of the
    # test's own, and only as long as the sandbox's short window needs in real time.
    server = sandbox(rate_limit=1, rate_window_s=0.2)
    clock = _HurriedClock(real_s=0.25)
    monkeypatch.setenv("SPOTIPY_CLIENT_ID", "sandbox-client")
    monkeypatch.setenv("SPOTIPY_CLIENT_SECRET", "sandbox-secret")
    with caplog.at_level(logging.DEBUG):  # spotipy logs request headers at DEBUG
        client = SpotifyClient(api_url=f"{server.url}/v1/", token_url=f"{server.url}/api/token", backoff_factor=0.01,
                               sleep=clock.sleep, clock=clock.now)
        client.search_tracks("love")
        client.search_tracks("love")
    assert client.rate_limited == 1 and clock.asked_s >= 1  # the 429 path ran: Retry-After waited out
    basic = base64.b64encode(b"sandbox-client:sandbox-secret").decode()
    bearer = client.cache.token_info["access_token"]
    assert "Authorization" in caplog.text  # the lines are there, their secrets are not
    for secret in ("sandbox-secret", basic, bearer):
        assert secret not in caplog.text
    assert "sandbox-secret" not in repr(client)


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once the socket is closed


def test_a_wrong_secret_is_one_error_naming_the_variables(sandbox):
    server = sandbox()
    client = SpotifyClient(api_url=f"{server.url}/v1/", token_url=f"{server.url}/api/token",
                           client_id="sandbox-client", client_secret="not-the-secret")
    with pytest.raises(InvalidCredentialsError, match="SPOTIPY_CLIENT_ID and SPOTIPY_CLIENT_SECRET") as info:
        client.search_tracks("love")
    assert info.value.__cause__ is None and info.value.__suppress_context__  # no spotipy traceback chained
    assert "not-the-secret" not in str(info.value)
    assert stats(server)["requests"] == {"token": 1}


@pytest.mark.parametrize("dead", ["api", "token"])
def test_a_url_where_nothing_listens_is_named_with_its_setting_at_once(sandbox, dead):
    server = sandbox()
    nowhere = f"http://127.0.0.1:{_closed_port()}"
    api, token = (f"{nowhere}/v1/", f"{server.url}/api/token") if dead == "api" else \
        (f"{server.url}/v1/", f"{nowhere}/api/token")
    client = SpotifyClient(api_url=api, token_url=token, client_id="sandbox-client", client_secret="sandbox-secret",
                           backoff_factor=30)  # a retry with backoff would wait minutes: the refusal is not retried so
    with pytest.raises(SpotifyUnreachableError) as info:
        client.search_tracks("love")
    message = str(info.value)
    assert f"nothing answered at {nowhere}" in message
    assert (f"MUSIC_ETL_SPOTIFY_{dead.upper()}_URL" in message) and "refused" in message.lower()
