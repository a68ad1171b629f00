"""Requests per token: one tenant's token cannot take the collector's core (issue 14)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from collector.config import Config, ServerConfig
from collector.ratelimit import TokenBuckets
from tests.collector.conftest import Env, auth, batch, report

T0 = 1_764_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_burst_then_its_rate() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=2.0, burst=3, clock=clock)
    assert [buckets.take(b"k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take(b"k") == pytest.approx(0.5)  # one token refills in 1 / rate seconds
    clock.now += 0.5
    assert buckets.take(b"k") == 0.0
    assert buckets.take(b"other") == 0.0  # another credential has its own bucket
    clock.now += 60
    assert [buckets.take(b"k") for _ in range(3)] == [0.0, 0.0, 0.0]  # never more than the burst
    assert buckets.take(b"k") > 0


def test_the_table_stays_bounded_and_keeps_busy_clients() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=1.0, burst=2, max_keys=10, clock=clock)
    for _ in range(2):
        buckets.take(b"busy")
    assert buckets.take(b"busy") > 0
    for i in range(100):
        buckets.take(f"idle-{i}".encode())
        clock.now += 0.001
    assert len(buckets._buckets) <= 10
    assert buckets.take(b"busy") > 0  # an exhausted bucket was not forgotten to make room


@pytest.fixture
def limited(make_env: Callable[..., Env]) -> Env:
    return make_env(Config(server=ServerConfig(rate_limit_rps=0.01, rate_limit_burst=3)))


async def test_a_token_beyond_its_burst_gets_429_and_others_go_on(limited: Env) -> None:
    enroll_a, enroll_b = limited.tenant("stadt-a"), limited.tenant("stadt-b")
    token_a = await limited.enroll(enroll_a, "a1")
    token_b = await limited.enroll(enroll_b, "b1")
    statuses = [(await limited.post(token_a, batch("a1", [report(s, T0 - 100 + s)]))).status_code for s in (1, 2, 3)]
    assert statuses == [200, 200, 200]
    r = await limited.post(token_a, batch("a1", [report(4, T0 - 96)]))
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) >= 1
    assert "rate_limit_rps" in r.json()["detail"][0]
    assert limited.count("SELECT count(*) FROM samples WHERE agent_id = 'a1'") == 3
    # tenant B's agent has a bucket of its own; /healthz is never limited
    assert (await limited.post(token_b, batch("b1", [report(1, T0)]))).status_code == 200
    for _ in range(10):
        assert (await limited.client.get("/healthz")).status_code == 200
    # a rollout enrolls many agents with one enroll token at once: bounded by its uses, not by the rate
    for i in range(6):
        await limited.enroll(enroll_a, f"a-rollout-{i}")


async def test_requests_without_a_token_are_limited_per_client_address(limited: Env) -> None:
    statuses = [(await limited.client.get("/api/v1/hosts")).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    # a valid token is another credential: not caught by the anonymous bucket
    r = await limited.client.get("/api/v1/hosts", headers=auth(limited.admin_token))
    assert r.status_code == 200


async def test_zero_turns_the_limit_off(make_env: Callable[..., Env]) -> None:
    env = make_env(Config(server=ServerConfig(rate_limit_rps=0)))
    statuses = {(await env.client.get("/api/v1/hosts", headers=auth(env.admin_token))).status_code for _ in range(300)}
    assert statuses == {200}
