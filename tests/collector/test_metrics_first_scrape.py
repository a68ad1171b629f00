"""The first scrape after a start: the same numbers as any later one, caches
warmed at start-up off the event loop, and a scrape that never holds up an
agent's report. Through the real app on a real SQLite file."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from collector.metering.model import Period
from collector.metrics import http as metrics_http
from collector.metrics import warmup
from collector.metrics.hosts import SEND_REFRESH_S
from collector.metrics.metering import history
from collector.metrics.source import ScrapeState, Source
from collector.metrics.warmup import scrape_state
from tests.collector.conftest import Env, auth, batch, report

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
#: the collector's own health (writer jobs, file size, scrape duration) is the process's, not the store's
OWN = "leitstand_collector_"
#: seconds between one agent's sends: mean 45 s, median 30 s, so the two estimates differ
GAPS = (30.0, 30.0, 90.0, 30.0)
#: how long a test waits for something that must happen (never a measured time)
DEADLINE_S = 60.0


def samples(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if not s.name.startswith(OWN)
    }


async def scrape(env: Env, tenant: str | None = None) -> Samples:
    params = {"tenant": tenant} if tenant else None
    r = await env.client.get("/metrics", params=params, headers=auth(env.admin_token))
    assert r.status_code == 200, r.text
    return samples(r.text)


async def fleet(env: Env) -> dict[str, str]:
    """Two agents sending one report at a time, GAPS apart (so each send is
    an arrival of its own), and ledger history before the scrape's daily cutoff."""
    enroll = env.tenant("stadt-lohne")
    tokens = {agent: await env.enroll(enroll, agent) for agent in ("pc-1", "pc-2")}
    for seq in range(1, len(GAPS) + 2):
        if seq > 1:
            env.clock.now += GAPS[seq - 2]
        for agent, token in tokens.items():
            r = await env.post(token, batch(agent, [report(seq, env.clock.now)]))
            assert r.status_code == 200, r.text
    conn = env.db()
    try:
        start = int(Period.containing(env.clock.now).start_ts) - 40 * 86400
        with conn:
            conn.executemany(
                "INSERT INTO ledger (tenant, hour, meter, dim, scaled) VALUES (?, ?, ?, ?, ?)",
                [("stadt-lohne", start + 3600 * h, "network_gib", "", 10**9) for h in range(24 * 30)],
            )
    finally:
        conn.close()
    return tokens


def host(agent: str) -> tuple[tuple[str, str], ...]:
    labels = {"tenant": "stadt-lohne", "site": "rathaus", "host": agent, "agent_id": agent, "role": "server"}
    return tuple(sorted(labels.items()))


async def test_a_new_collector_scrapes_what_a_long_running_one_does(make_env: Callable[..., Env]) -> None:
    """A collector that scraped while the agents sent, and one started later
    on the same store, answer the same numbers once the agents are silent;
    and a first scrape answers what the next one does."""
    running = make_env()
    await fleet(running)
    while_sending = await scrape(running)
    send = "leitstand_host_send_interval_seconds"
    assert while_sending[(send, host("pc-1"))] == sum(GAPS) / len(GAPS)  # mean gap in the window
    running.clock.now += 3600 + SEND_REFRESH_S
    later = await scrape(running)

    started = make_env()  # a second app on the same file, caches empty
    started.clock.now = running.clock.now
    first = await scrape(started)
    assert first[(send, host("pc-1"))] == sorted(GAPS)[len(GAPS) // 2 - 1]  # median of the last reports
    assert first[("leitstand_metering_network_bytes_total", (("tenant", "stadt-lohne"),))] >= 24 * 30 * 10**9
    assert first == later
    assert await scrape(started) == first


async def test_a_silent_host_that_reports_again_is_estimated_again(make_env: Callable[..., Env]) -> None:
    """The estimate from a silent host's last reports is kept only until it
    reports again: then it is the one a new collector computes."""
    env = make_env()
    tokens = await fleet(env)
    env.clock.now += 3600
    send, pc1 = "leitstand_host_send_interval_seconds", host("pc-1")
    assert (await scrape(env))[(send, pc1)] == 30.0
    for seq in (6, 7):  # each alone in the window: still estimated from the last reports
        env.clock.now += 1000
        r = await env.post(tokens["pc-1"], batch("pc-1", [report(seq, env.clock.now)]))
        assert r.status_code == 200, r.text
    again = await scrape(env)
    assert again[(send, pc1)] == 60.0  # gaps 30, 30, 90, 30, 4600, 1000
    started = make_env()
    started.clock.now = env.clock.now
    assert await scrape(started) == again


async def test_a_tenant_scrape_first_sums_its_own_ledger_alike(make_env: Callable[..., Env]) -> None:
    """A tenant scrape before any scrape of all tenants sums only that
    tenant's ledger history, to the same numbers as the history of all."""
    everyone = make_env()
    await fleet(everyone)
    other = everyone.db()
    try:
        with other:  # a second tenant's history, which the tenant scrape must not count
            other.execute("INSERT INTO tenants (name, created_at) VALUES ('stadt-b', 0)")
            other.execute(
                "INSERT INTO ledger (tenant, hour, meter, dim, scaled) VALUES ('stadt-b', 3600, 'network_gib', '', 7)"
            )
    finally:
        other.close()
    await scrape(everyone)
    assert everyone.app.state.metrics.history is not None
    expected = await scrape(everyone, "stadt-lohne")

    conn = everyone.db()
    try:  # what the first tenant scrape sums: that tenant's rows, to the same sums
        own = history(Source(conn=conn, now=everyone.clock.now, tenant="stadt-lohne", state=ScrapeState()))
        full = history(Source(conn=conn, now=everyone.clock.now, state=ScrapeState()))
    finally:
        conn.close()
    assert {t for t, _, _ in own.total} == {"stadt-lohne"} and {t for t, _, _ in full.total} == {
        "stadt-lohne",
        "stadt-b",
    }
    assert own.total == {k: v for k, v in full.total.items() if k[0] == "stadt-lohne"}
    assert (own.cutoff, own.period, own.month) == (
        full.cutoff,
        full.period,
        {k: v for k, v in full.month.items() if k[0] == "stadt-lohne"},
    )

    started = make_env()
    started.clock.now = everyone.clock.now
    first = await scrape(started, "stadt-lohne")
    assert first[("leitstand_metering_network_bytes_total", (("tenant", "stadt-lohne"),))] >= 24 * 30 * 10**9
    assert first == expected
    b = await scrape(started, "stadt-b")
    assert b[("leitstand_metering_network_bytes_total", (("tenant", "stadt-b"),))] == 7
    assert b == await scrape(everyone, "stadt-b")


async def test_the_ledger_history_moves_on_after_a_scrape_and_the_counters_stay_exact(
    make_env: Callable[..., Env],
) -> None:
    """A day later the scrape still adds to the old history (from its own
    cutoff on, so the counters are exact) and the history moves to the new
    cutoff after the answer; late data before the old cutoff shows then."""
    env = make_env()
    await fleet(env)
    await scrape(env)
    state = scrape_state(env.app)
    assert state.history is not None
    old = state.history
    env.clock.now += 3 * 86400
    conn = env.db()
    try:
        with conn:  # late data for an hour before the old cutoff
            conn.execute(
                "INSERT INTO ledger (tenant, hour, meter, dim, scaled) VALUES ('stadt-lohne', ?, 'network_gib', '', 5)",
                (old.cutoff - 7200,),
            )
    finally:
        conn.close()
    network = ("leitstand_metering_network_bytes_total", (("tenant", "stadt-lohne"),))
    before = await scrape(env)  # answered from the old history; the new one is summed after
    deadline = asyncio.get_running_loop().time() + DEADLINE_S
    while state.history is old:
        assert asyncio.get_running_loop().time() < deadline, "the history never moved on"
        await asyncio.sleep(0.01)
    assert state.history is not None and state.history.cutoff > old.cutoff
    after = await scrape(env)
    assert after[network] == before[network] + 5
    started = make_env()
    started.clock.now = env.clock.now
    assert await scrape(started) == after


async def test_the_caches_are_warm_before_the_first_scrape(make_env: Callable[..., Env]) -> None:
    """The app's start-up fills the scrape caches in a worker thread; a scrape
    then reads them and answers what a collector without the warm-up does."""
    cold = make_env()
    await fleet(cold)
    expected = await scrape(cold)

    env = make_env()
    env.clock.now = cold.clock.now
    state = scrape_state(env.app)
    async with env.app.router.lifespan_context(env.app):
        deadline = asyncio.get_running_loop().time() + DEADLINE_S
        while state.history is None or not state.send_intervals:
            assert asyncio.get_running_loop().time() < deadline, "the warm-up never filled the caches"
            await asyncio.sleep(0.01)
        assert set(state.send_intervals) == {"pc-1", "pc-2"}
        assert state.send_intervals_at == env.clock.now
        assert await scrape(env) == expected


async def test_a_failed_warm_up_is_logged_and_the_scrape_computes_the_caches(
    make_env: Callable[..., Env], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A warm-up that fails leaves the caches to the scrape, as without one."""
    env = make_env()  # never started (no lifespan): no warm-up
    await fleet(env)
    expected = await scrape(env)

    def broken(src: Source) -> None:
        raise sqlite3.OperationalError("database disk image is malformed")

    monkeypatch.setattr(warmup, "warm_send_intervals", broken)
    started = make_env()
    started.clock.now = env.clock.now
    with caplog.at_level(logging.ERROR, logger="collector.metrics.warmup"):
        async with started.app.router.lifespan_context(started.app):
            assert await scrape(started) == expected
    assert "warm-up failed" in caplog.text and "malformed" in caplog.text


async def test_a_report_is_answered_while_a_scrape_renders(
    make_env: Callable[..., Env], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scrape renders in a worker thread: the render below does not
    finish until the report is answered, which it never would if it ran on
    the event loop (the render would then give up after DEADLINE_S)."""
    env = make_env()
    await fleet(env)
    token = await env.enroll(env.tenant("stadt-lohne"), "pc-3")
    rendering, answered = threading.Event(), threading.Event()
    answered_in_time: list[bool] = []
    render = metrics_http.render

    def held_render(source: Source) -> Any:
        rendering.set()
        answered_in_time.append(answered.wait(DEADLINE_S))
        return render(source)

    monkeypatch.setattr(metrics_http, "render", held_render)
    scraping = asyncio.create_task(env.client.get("/metrics", headers=auth(env.admin_token)))
    assert await asyncio.to_thread(rendering.wait, DEADLINE_S), "the scrape never started rendering"
    r = await env.post(token, batch("pc-3", [report(1, env.clock.now)]))
    answered.set()
    assert r.status_code == 200, r.text
    metrics = await scraping
    assert metrics.status_code == 200, metrics.text
    assert answered_in_time == [True]
    assert env.count("SELECT count(*) FROM samples WHERE agent_id = ?", "pc-3") == 1
