"""Leases: one payer per stage across commands that share a staging root but no luigid."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys

import orjson
import pytest

from pipeline.staging import leases
from tests.conftest import PROJECT_ROOT

HOLD = """
import sys
from pipeline.staging import leases
lease = leases.acquire(sys.argv[1], "SpotifySearch(A/A)")
print("held", flush=True)
sys.stdin.read()  # until the test closes it
"""


def test_a_held_local_lease_makes_the_next_taker_wait_and_say_who_holds_it(tmp_path, caplog):
    path = leases.lease_path("SpotifySearch/A/A", str(tmp_path))
    holder = subprocess.Popen([sys.executable, "-c", HOLD, path], cwd=PROJECT_ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        polls = []

        def sleep(seconds):
            polls.append(seconds)
            if len(polls) == 3:  # the holder ends (as a finished task's process would): the kernel frees the lock
                holder.stdin.close()
                holder.wait(timeout=30)
        with caplog.at_level(logging.INFO, logger="luigi-interface"):
            lease = leases.acquire(path, "SpotifySearch(A/A)", sleep=sleep)
        lease.release()
    finally:
        holder.kill()
    assert len(polls) >= 3  # it waited while the other process held the lease, and went on once it was free
    assert f"pid {holder.pid} on" in caplog.text and "Waiting for it" in caplog.text
    assert "the lease is free; going on" in caplog.text


def test_a_holder_killed_with_sigkill_frees_its_local_lease(tmp_path):
    path = leases.lease_path("DeezerEnrich/A/B", str(tmp_path))
    holder = subprocess.Popen([sys.executable, "-c", HOLD, path], cwd=PROJECT_ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    holder.kill()
    holder.wait(timeout=30)

    def sleep(_):
        raise AssertionError("a lease whose holder died must be free at once")
    leases.acquire(path, "DeezerEnrich(A/B)", sleep=sleep).release()


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_an_s3_lease_is_created_once_renewed_released_and_taken_over_when_its_holder_stops(s3_bucket):
    bucket, client = s3_bucket
    path = f"s3://{bucket}/staging/_leases/DeezerEnrich/A/B.json"
    key = "staging/_leases/DeezerEnrich/A/B.json"
    first = leases.acquire(path, "DeezerEnrich(A/B)", ttl_s=0.3)
    del leases._held[path]  # as if another process held it (this one would take back a lease of its own)
    held = orjson.loads(client.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert held["what"] == "DeezerEnrich(A/B)" and held["pid"] == os.getpid()
    clock = _Clock()

    # While the holder renews it, a second taker waits (its clock says far more than ttl passed, but the ETag moves).
    etags = set()

    def sleep_while_renewed(seconds):
        clock.sleep(seconds)
        first._stop.wait(0.15)  # real time for the heartbeat (every ttl/3) to rewrite the object
        etags.add(client.head_object(Bucket=bucket, Key=key)["ETag"])
        if len(etags) >= 3:
            first.release()
    second = leases.acquire(path, "DeezerEnrich(A/B)", ttl_s=0.3, sleep=sleep_while_renewed, clock=clock)
    assert len(etags) >= 3  # renewed while held, so never taken over; free once released
    second.release()
    with pytest.raises(client.exceptions.NoSuchKey):
        client.get_object(Bucket=bucket, Key=key)

    # A holder that stopped renewing (killed): the same ETag for a whole ttl by the waiter's own clock frees it.
    client.put_object(Bucket=bucket, Key=key, Body=orjson.dumps({"what": "x", "host": "elsewhere", "pid": 1}))
    clock = _Clock()
    third = leases.acquire(path, "DeezerEnrich(A/B)", ttl_s=60, sleep=clock.sleep, clock=clock)
    assert clock.now >= 60
    assert orjson.loads(client.get_object(Bucket=bucket, Key=key)["Body"].read())["pid"] == os.getpid()
    third.release()


def _sandboxes_env(sandbox, deezer, sample_root, root, name):
    from tests.conftest import subprocess_env_for_deezer

    spotify, deezer_server = sandbox(mode="development", latency_ms=5), deezer(rate_limit=None)
    env = dict(os.environ, MUSIC_ETL_MSD_ROOT=sample_root, MUSIC_ETL_STAGING_ROOT=str(root / "staging"),
               MUSIC_ETL_WAREHOUSE_URL=f"duckdb:///{root}/warehouse.duckdb",
               MUSIC_ETL_SPOTIFY_API_URL=f"{spotify.url}/v1/", MUSIC_ETL_SPOTIFY_TOKEN_URL=f"{spotify.url}/api/token",
               SPOTIPY_CLIENT_ID="sandbox-client", SPOTIPY_CLIENT_SECRET="sandbox-secret",
               **subprocess_env_for_deezer(deezer_server, root))
    return env, spotify, deezer_server


def _asked(server) -> dict[str, int]:
    """What a sandbox was asked, by endpoint, tokens aside (each command fetches its own)."""
    return {k: v for k, v in server.state.stats()["requests"].items() if k != "token" and v}


@pytest.mark.slow
def test_two_runs_at_once_on_one_staging_root_buy_what_one_run_buys(sandbox, deezer, sample_root, tmp_path):
    command = [sys.executable, "-m", "pipeline", "run", "--partitions", "A/A,A/B"]
    (tmp_path / "one").mkdir()
    env, spotify, deezer_server = _sandboxes_env(sandbox, deezer, sample_root, tmp_path / "one", "one")
    alone = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert alone.returncode == 0, alone.stderr[-2000:]
    one_run = _asked(spotify), _asked(deezer_server)
    assert one_run[0].get("search") and one_run[1].get("search")

    (tmp_path / "two").mkdir()
    env, spotify, deezer_server = _sandboxes_env(sandbox, deezer, sample_root, tmp_path / "two", "two")
    runs = [subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(2)]
    results = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err[-2000:] for _, err in results]
    assert (_asked(spotify), _asked(deezer_server)) == one_run  # not a request more than one run's
    assert all("partitions loaded this run" in out for out, _ in results)
    # Each summary says what its own command sent; together, every request the sandboxes received.
    for title, server in (("Spotify", spotify), ("Deezer", deezer_server)):
        by_command = [int(re.search(rf"^{title}: .*requests sent by this command (\d+)", out, re.M)[1]) for out, _ in results]
        assert sum(by_command) == sum(server.state.stats()["requests"].values()), (title, by_command)


class _Forgetful(dict):
    """The proxy's map from the ETags it hands out back to the store's, never filled: a store that does not
    honour a conditional write naming its own ETag."""

    def __setitem__(self, key, value):
        pass


def test_a_store_that_ignores_conditional_writes_is_named_in_one_line_not_waited_on_forever(s3_bucket, moto_endpoint,
                                                                                           luigi_config):
    from tests.etag_proxy import EtagRewritingProxy

    bucket, client = s3_bucket
    proxy = EtagRewritingProxy(moto_endpoint)
    proxy._original = _Forgetful()
    proxy.start()
    try:
        luigi_config.set("s3", endpoint_url=proxy.url)
        path = f"s3://{bucket}/staging/_leases/DeezerEnrich/A/A.json"
        client.put_object(Bucket=bucket, Key="staging/_leases/DeezerEnrich/A/A.json",
                          Body=orjson.dumps({"what": "x", "host": "elsewhere", "pid": 1}))  # a holder that died
        clock = _Clock()
        with pytest.raises(leases.LeaseError, match="does not honour conditional writes"):
            leases.acquire(path, "DeezerEnrich(A/A)", ttl_s=60, sleep=clock.sleep, clock=clock)
    finally:
        proxy.stop()
