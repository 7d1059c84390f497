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


def test_a_short_retry_after_is_waited_out_and_then_the_pace_is_normal_again(sandbox):
    clock = FakeClock()
    server = sandbox(rate_limit=2, rate_window_s=30, clock=clock.monotonic)
    client = client_for(server, sleep=clock.sleep, clock=clock.monotonic)
    for _ in range(3):
        assert "items" in client.search_tracks("love")["tracks"]
    assert clock.slept == [30]  # the third request waited out the window once, then was answered
    client.search_tracks("love")  # the window has room again: no pace set by the 429
    assert clock.slept == [30] and client.rate_limited == 1 and client.rate_limit_waited_s == 30
    assert client.sent == stats(server)["requests"]  # every request sent, the refused one and the token too
    assert stats(server)["requests"]["search"] == 5 and stats(server)["responses"]["429"] == 1  # 4 answered, 1 refused


class _WallClock:
    """A run's wall time without waiting it: what the client sleeps, plus a round trip for every request it sends."""

    def __init__(self, round_trip_s: float):
        self.round_trip_s, self.slept_s, self.client = round_trip_s, 0.0, None

    def now(self) -> float:
        sent = sum(self.client.sent.values()) if self.client is not None else 0
        return self.slept_s + self.round_trip_s * sent

    def sleep(self, seconds: float) -> None:
        self.slept_s += seconds


def _timed_searches(sandbox, queries: int, **faults) -> tuple[float, SpotifyClient]:
    # 200 ms a round trip: what Spotify's API takes from a researcher's network (100-300 ms).
    clock = _WallClock(round_trip_s=0.2)
    server = sandbox(clock=clock.now, seed=7, **faults)
    client = client_for(server, sleep=clock.sleep, clock=clock.now)
    clock.client = client
    for i in range(queries):
        client.search_tracks(f"love {i}")
    assert stats(server)["requests"]["search"] - client.rate_limited == queries  # every search answered once
    return clock.now(), client


def test_ten_percent_random_429s_cost_at_most_twice_the_clean_run(sandbox):
    clean_s, _ = _timed_searches(sandbox, 300)
    throttled_s, client = _timed_searches(sandbox, 300, throttle_rate=0.1, throttle_retry_after=1)
    assert client.rate_limited > 15  # the 429s came
    assert throttled_s <= 2 * clean_s, (throttled_s, clean_s)


def test_a_burst_of_429s_is_waited_out_longer_each_time_then_the_run_goes_on_at_full_pace(sandbox):
    clock = FakeClock()
    server = sandbox(clock=clock.monotonic, throttle_until=10, throttle_retry_after=1)
    client = client_for(server, sleep=clock.sleep, clock=clock.monotonic)
    client.search_tracks("love")
    assert clock.slept == [1, 2, 4, 8]  # 429s kept coming: each wait doubled until the burst was over
    for i in range(20):
        client.search_tracks(f"love {i}")
    assert clock.slept == [1, 2, 4, 8]  # and then no wait at all


def test_a_run_that_would_crawl_stops_in_one_line_naming_the_setting(sandbox):
    clock = FakeClock()
    server = sandbox(clock=clock.monotonic, throttle_rate=0.5, throttle_retry_after=2)
    client = client_for(server, sleep=clock.sleep, clock=clock.monotonic, max_rate_limit_wait_s=20)
    with pytest.raises(RateLimitedError, match=r"\[spotify\] max_rate_limit_wait \(20 s\)") as info:
        for i in range(200):
            client.search_tracks(f"love {i}")
    assert "\n" not in str(info.value) and client.rate_limit_waited_s <= 20


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
    # Retry-After 30 s, then doubled while 429s keep coming, each wait at most max_retry_after (60 s).
    assert client.rate_limited == MAX_RATE_LIMIT_WAITS and slept == [30.0, 60.0, 60.0, 60.0, 60.0]
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
    # Every attempt counted once, the one whose 5xx was given up on too.
    assert client.sent == stats(server)["requests"] and client.sent["search"] == 5


def test_a_request_that_never_left_the_machine_is_not_counted(sandbox):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]  # nothing listens there once the probe is closed
    client = SpotifyClient(api_url=f"http://127.0.0.1:{closed}/v1/", token_url=f"http://127.0.0.1:{closed}/api/token",
                           client_id="sandbox-client", client_secret="sandbox-secret", backoff_factor=0.01)
    with pytest.raises(SpotifyUnreachableError):
        client.search_tracks("love")
    assert sum(client.sent.values()) == 0


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
