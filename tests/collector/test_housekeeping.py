"""Housekeeping runs beside the writer, on its own connection: retention and
rollups through the real app, while ingest goes on."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import cast

from collector.config import Config, StorageConfig
from collector.db import Connection
from collector.housekeeping import Housekeeper
from tests.collector.conftest import Env, batch, report


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
