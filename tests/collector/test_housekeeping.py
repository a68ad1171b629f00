"""Housekeeping runs beside the writer, on its own connection: retention and
rollups through the real app, while ingest goes on; on PostgreSQL only on the
leading collector, and paced."""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

import httpx
import pytest

from collector import admin
from collector.app import CollectorApp, create_app, housekeeping_work
from collector.config import Config, StorageConfig
from collector.db import Connection, Leadership, connect, migrate
from collector.housekeeping import Housekeeper
from tests.collector.conftest import Env, FakeClock, auth, batch, report
from tests.support import wait_until


async def test_a_round_rolls_up_prunes_and_ingest_goes_on(make_env: Callable[..., Env]) -> None:
    env = make_env(Config(storage=StorageConfig(retention_days=3, downsample_after_days=1)))
    token = await env.enroll(env.tenant("t1"), "a1")
    now = env.clock.now
    old = now - 5 * 86400  # received beyond retention: rolled up, then deleted
    env.clock.now = old + 3600
    r = await env.post(token, batch("a1", [report(s, old + 60 * s) for s in range(1, 11)]))
    assert r.status_code == 200, r.text
    env.clock.now = now
    keeper = env.app.state.collector.housekeeper
    assert keeper is not None

    async def ingest_meanwhile() -> list[int]:
        statuses = []
        for s in range(11, 41):
            r = await env.post(token, batch("a1", [report(s, env.clock.now - 600 + s)]))
            statuses.append(r.status_code)
        return statuses

    statuses, _ = await asyncio.gather(ingest_meanwhile(), asyncio.to_thread(keeper.run_once))
    assert set(statuses) == {200}
    assert keeper.rounds == 1
    assert env.count("SELECT count(*) FROM samples WHERE ts < ?", env.clock.now - 3 * 86400) == 0
    assert env.count("SELECT count(*) FROM samples") == 30  # the new ones
    assert env.count("SELECT sum(samples) FROM rollups") == 10  # the old ones live on, rolled up


def test_stop_ends_the_thread_while_it_waits() -> None:
    ran = threading.Event()

    def work(conn: Connection, pause: Callable[[], None]) -> None:
        ran.set()

    keeper = Housekeeper(lambda: cast(Connection, _Dummy()), work, every_s=3600, first_after_s=0)
    keeper.start()
    assert ran.wait(10)
    started = time.monotonic()
    keeper.stop()
    assert time.monotonic() - started < 5 and keeper.rounds == 1


class _Dummy:
    def close(self) -> None:
        pass


# -- leadership and pacing ------------------------------------------------------------

_CONFIG = Config(storage=StorageConfig(retention_days=3, downsample_after_days=1))
_OLD = 5 * 86400  # received this long ago: beyond retention, rolled up first


def _tenant(target: Path | str) -> str:
    """A migrated database with tenant t1; one of its enroll tokens."""
    conn = connect(target)
    try:
        migrate(conn)
        admin.add_tenant(conn, "t1", actor="test")
        return admin.create_token(conn, "enroll", actor="test", tenant="t1")[1]
    finally:
        conn.close()


def _client(app: CollectorApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://collector")


async def _ingest_old(app: CollectorApp, clock: FakeClock, enroll: str, agent_id: str, reports: int = 20) -> None:
    """`reports` reports a minute apart, received `_OLD` ago, and one received now."""
    now = clock.now
    async with _client(app) as client:
        r = await client.post("/api/v1/enroll", json={"agent_id": agent_id, "hostname": agent_id}, headers=auth(enroll))
        assert r.status_code == 200, r.text
        token = r.json()["token"]
        old = now - _OLD
        clock.now = old + 3600
        body = batch(agent_id, [report(s, old + 60 * s) for s in range(1, reports + 1)])
        r = await client.post("/api/v1/reports", json=body, headers=auth(token))
        assert r.status_code == 200, r.text
        clock.now = now
        r = await client.post(
            "/api/v1/reports", json=batch(agent_id, [report(reports + 1, now - 60)]), headers=auth(token)
        )
        assert r.status_code == 200, r.text


def _count(target: Path | str, sql: str, *args: object) -> int:
    conn = connect(target)
    try:
        return int(conn.execute(sql, args).fetchone()[0])
    finally:
        conn.close()


def _kept(target: Path | str, agent_id: str) -> tuple[int, int]:
    """(raw samples, samples rolled up) of a host."""
    return (
        _count(target, "SELECT count(*) FROM samples WHERE agent_id = ?", agent_id),
        _count(target, "SELECT coalesce(sum(samples), 0) FROM rollups WHERE agent_id = ?", agent_id),
    )


@pytest.mark.sqlite_only  # two collectors on one PostgreSQL database, whichever backend the suite runs on
async def test_only_the_leader_keeps_house_and_another_takes_over_when_it_stops(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    enroll = _tenant(postgres_url)
    first, second = create_app(postgres_url, _CONFIG, clock=clock), create_app(postgres_url, _CONFIG, clock=clock)
    running = [first, second]
    try:
        leading, other = first.state.collector.housekeeper, second.state.collector.housekeeper
        await _ingest_old(first, clock, enroll, "a1")
        assert _kept(postgres_url, "a1") == (21, 0)
        assert await asyncio.to_thread(leading.run_once) is True  # the first to ask leads
        assert _kept(postgres_url, "a1") == (1, 20)  # the 20 old reports rolled up, then pruned

        await _ingest_old(second, clock, enroll, "a2")
        caplog.set_level(logging.DEBUG, logger="leitstand.collector.housekeeping")
        assert await asyncio.to_thread(other.run_once) is False
        assert (other.rounds, other.skipped) == (0, 1)
        assert _kept(postgres_url, "a2") == (21, 0)  # the other collector did nothing of the round
        skips = [r for r in caplog.records if "skipped" in r.getMessage()]
        assert [r.levelno for r in skips] == [logging.DEBUG]

        first.state.collector.close()  # the leader stops: its session, and the lock with it, ends
        running.remove(first)
        # the server releases the lock once that session's backend has exited: the next rounds ask again
        wait_until(other.run_once, timeout=10, what="the other collector to take over housekeeping")
        assert other.rounds == 1
        assert _kept(postgres_url, "a2") == (1, 20)
        assert second.state.collector.leader() is True  # and it evaluates the alerts now: one leader for both
    finally:
        for app in running:
            app.state.collector.close()


@pytest.mark.sqlite_only  # PostgreSQL's session lock itself
def test_leadership_asked_from_several_threads_at_once_opens_one_session(postgres_url: str) -> None:
    first, second = Leadership(postgres_url), Leadership(postgres_url)
    together = threading.Barrier(8)

    def ask(_: int) -> bool:
        together.wait()  # the event loop and the housekeeping thread asking at once, several times over
        return first()

    try:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            assert list(pool.map(ask, range(8))) == [True] * 8
        sessions = (
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        assert _count(postgres_url, sessions) == 1  # none left behind holding the lock with nobody to close it
        first.close()
        wait_until(second, timeout=10, what="the second collector to take the lead")
    finally:
        first.close()
        second.close()


class _Cpu:
    """The pacer's clock: 4 ms of CPU between two reads, so a round pauses every few steps."""

    def __init__(self, conns: list[Connection]) -> None:
        self.reads = 0
        self.conns = conns
        self.paused_in_transaction: list[bool] = []

    def __call__(self) -> float:
        self.reads += 1
        return self.reads * 0.004

    def sleep(self, seconds: float) -> None:
        self.paused_in_transaction.append(self.conns[-1].in_transaction)


_HOUSEKEPT = ("samples", "rollups", "meter_points", "point_horizons", "device_readings")


def _rows(target: Path | str) -> dict[str, list[tuple[object, ...]]]:
    conn = connect(target)
    try:
        return {t: sorted((tuple(r) for r in conn.execute(f"SELECT * FROM {t}")), key=repr) for t in _HOUSEKEPT}
    finally:
        conn.close()


async def test_a_paced_round_pauses_between_transactions_and_stores_what_an_unpaced_one_does(tmp_path: Path) -> None:
    clock = FakeClock()
    paced_db, unpaced_db = tmp_path / "paced.db", tmp_path / "unpaced.db"
    apps = []
    try:
        for target in (paced_db, unpaced_db):
            enroll = _tenant(target)
            app = create_app(target, _CONFIG, clock=clock)
            apps.append(app)
            for agent in ("a1", "a2", "a3"):
                await _ingest_old(app, clock, enroll, agent, reports=40)
        assert _rows(paced_db) == _rows(unpaced_db)  # the same before

        opened: list[Connection] = []

        def open_paced() -> Connection:
            opened.append(connect(paced_db))
            return opened[-1]

        cpu = _Cpu(opened)
        paced = Housekeeper(open_paced, housekeeping_work(_CONFIG, clock), cpu=cpu, sleep=cpu.sleep)
        unpaced = Housekeeper(lambda: connect(unpaced_db), housekeeping_work(_CONFIG, clock), duty=1.0)
        assert await asyncio.to_thread(paced.run_once) is True
        assert await asyncio.to_thread(unpaced.run_once) is True

        after = _rows(paced_db)
        assert after == _rows(unpaced_db)
        assert len(after["samples"]) == 3 and _count(paced_db, "SELECT sum(samples) FROM rollups") == 3 * 40  # its work
        assert cpu.reads >= len(after["rollups"])  # asked before each bucket at least
        assert len(cpu.paused_in_transaction) >= len(after["rollups"]) // 3  # and it paused
        assert not any(cpu.paused_in_transaction)  # never holding the write lock
    finally:
        for app in apps:
            app.state.collector.close()


def test_a_collector_that_does_not_lead_skips_the_round_without_a_connection() -> None:
    def no_connection() -> Connection:
        raise AssertionError("a skipped round opened a connection")

    def work(conn: Connection, pause: Callable[[], None]) -> None:
        raise AssertionError("a skipped round ran")

    keeper = Housekeeper(no_connection, work, leader=lambda: False)
    assert keeper.run_once() is False
    assert (keeper.rounds, keeper.skipped) == (0, 1)


def test_stop_cuts_a_paced_round_at_its_next_pause() -> None:
    steps: list[int] = []

    def work(conn: Connection, pause: Callable[[], None]) -> None:
        for step in range(100):
            steps.append(step)
            pause()

    seconds = itertools.count(step=10.0)  # 10 s of CPU per step: a 30 s pause after each at a quarter of a core
    keeper = Housekeeper(lambda: cast(Connection, _Dummy()), work, first_after_s=0, cpu=lambda: next(seconds))
    keeper.start()
    wait_until(lambda: len(steps) >= 2, timeout=10, what="the round's first pause")
    started = time.monotonic()
    keeper.stop()
    assert time.monotonic() - started < 5
    assert steps == [0, 1] and keeper.rounds == 0


def test_housekeeping_and_the_alert_evaluation_share_one_background_budget(tmp_path: Path) -> None:
    # each at its own quarter of the core, the two together took half of it from ingest
    app = create_app(tmp_path / "c.db", _CONFIG)
    try:
        collector = app.state.collector
        budget = collector.housekeeper.budget
        assert budget is not None and budget is collector.alerting.budget
        assert budget.duty == collector.alerting.duty == 0.25
    finally:
        app.state.collector.close()
