"""/metrics stays up whatever the agents send: sums of agent-supplied
numbers cannot overflow (two agents at seq 1 and seq 2^62 once made every
scrape answer 503), and a family group that fails is left out of that one
scrape and counted in ``leitstand_scrape_errors_total``, never the whole
scrape. Through the real app, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families

from agent import wire
from collector.config import Config
from collector.db import transaction
from collector.metrics.collector import GROUPS
from tests.collector.conftest import Env, auth, batch, report

#: the wire format's largest seq (2^62 when the overflow was found)
SEQ_MAX: int = getattr(wire, "MAX_SEQ", 2**62)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float | None:
    return found.get((name, tuple(sorted(labels.items()))))


async def scrape(env: Env) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = await env.client.get("/metrics", headers=auth(env.admin_token))
    assert r.status_code == 200, r.text
    return samples(r.text)


@pytest_asyncio.fixture
async def env(make_env: Callable[..., Env]) -> AsyncIterator[Env]:
    config = Config()
    e = make_env(config)
    yield e
    await e.client.aclose()


async def post(env: Env, token: str, agent: str, *seqs: int, **info: Any) -> None:
    now = env.clock.now
    # counters plain and steady: only seq is extreme here
    reports = [
        report(
            seq,
            now - 60 * (len(seqs) - i),
            cpu={"count": 4, "percent": 12.5, "busy_seconds_total": 1000.0 + 30 * i},
            net=[{"nic": "eth0", "rx_bytes_total": 1000 * i, "tx_bytes_total": 500 * i}],
        )
        for i, seq in enumerate(seqs)
    ]
    r = await env.post(token, batch(agent, reports, **info))
    assert r.status_code == 200, r.text


async def test_two_agents_at_seq_1_and_2_62_do_not_break_the_scrape(env: Env) -> None:
    enroll_a, enroll_b = env.tenant("stadt-a"), env.tenant("stadt-b")
    for agent in ("evil-1", "evil-2"):
        await post(env, await env.enroll(enroll_a, agent), agent, 1, SEQ_MAX)
    await post(env, await env.enroll(enroll_b, "good-1"), "good-1", 1, 2, 3)
    conn = env.db()
    try:
        period = conn.execute("SELECT period FROM coverage WHERE tenant = 'stadt-a'").fetchone()[0]
        with transaction(conn):
            # spans of 2^62 each, as stored before the wire format capped seq: their sum is beyond int64
            conn.executemany(
                "INSERT INTO coverage (tenant, period, stream, epoch, role, reports, min_seq, max_seq) "
                "VALUES ('stadt-a', ?, ?, 0, 'server', 2, 1, ?)",
                [(period, f"legacy-{i}", 2**62) for i in range(2)],
            )
    finally:
        conn.close()
    found = await scrape(env)
    cov = "leitstand_metering_coverage_ratio"
    # the hostile tenant's coverage is what its agents claim: next to nothing
    evil = value(found, cov, tenant="stadt-a", meter="cpu_core_seconds")
    assert evil is not None and 0 <= evil < 1e-12
    assert value(found, cov, tenant="stadt-b", meter="cpu_core_seconds") == 1.0
    assert value(found, "leitstand_host_reports_total", tenant="stadt-b", site="rathaus", host="good-1",
                 agent_id="good-1", role="server") == 3  # fmt: skip
    for group in GROUPS:
        assert value(found, "leitstand_scrape_errors_total", family=group) == 0, group


async def test_ledger_sums_beyond_64_bits_are_exact(env: Env) -> None:
    env.tenant("stadt-a")
    hour = int(env.clock.now // 3600) * 3600
    conn = env.db()
    try:
        with transaction(conn):
            # what a ledger may hold on SQLite from before the plausibility limits
            conn.executemany(
                "INSERT INTO ledger (tenant, hour, meter, dim, scaled) VALUES (?, ?, ?, ?, ?)",
                [("stadt-a", hour - 3600 * i, "printed_pages", "", 2**62 + i) for i in range(3)],
            )
    finally:
        conn.close()
    found = await scrape(env)
    exact = 3 * 2**62 + 3  # beyond int64 (SQLite's sum would fail the whole query)
    assert value(found, "leitstand_metering_printed_pages_total", tenant="stadt-a") == float(exact)
    quantity = value(found, "leitstand_metering_period_quantity", tenant="stadt-a", meter="printed_pages", role="")
    assert quantity is not None and quantity > 1e19
    assert value(found, "leitstand_scrape_errors_total", family="metering") == 0


async def test_a_failing_family_group_is_left_out_and_counted(env: Env) -> None:
    token = await env.enroll(env.tenant("stadt-a"), "srv-1")
    await post(env, token, "srv-1", 1, 2)
    before = await scrape(env)
    assert value(before, "leitstand_alerts", tenant="stadt-a", severity="critical", state="firing") == 0
    conn = env.db()
    try:
        with transaction(conn):
            conn.execute("ALTER TABLE alerts RENAME TO alerts_gone")  # every query of the group fails
    finally:
        conn.close()
    for n in (1, 2):
        found = await scrape(env)
        assert not any(name == "leitstand_alerts" for name, _ in found)
        assert value(found, "leitstand_scrape_errors_total", family="alerts") == n
        assert value(found, "leitstand_scrape_errors_total", family="hosts") == 0
        # every other group is still there
        labels = {"tenant": "stadt-a", "site": "rathaus", "host": "srv-1", "agent_id": "srv-1", "role": "server"}
        assert value(found, "leitstand_host_up", **labels) == 1
        assert value(found, "leitstand_collector_info", version=_version()) == 1
        assert value(found, "leitstand_metering_coverage_ratio", tenant="stadt-a", meter="cpu_core_seconds") == 1


def _version() -> str:
    from collector import __version__

    return __version__
