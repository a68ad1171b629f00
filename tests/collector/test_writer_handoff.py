"""How results leave the writer: asyncio waiters of any number of event loops
and concurrent Futures, served by the same batch. A real Writer on a real
database file; the writer is held on a job that waits for an event so that
the jobs under test land in one batch."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from collector import db
from collector.db import Connection, migrate
from collector.errors import StorageError
from collector.writer import Writer


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[Writer]:
    path = tmp_path / "w.db"
    conn = db.connect(path)
    migrate(conn)
    conn.close()
    w = Writer(lambda: db.connect(path))
    w.start()
    try:
        yield w
    finally:
        w.stop()


def hold(writer: Writer) -> tuple[threading.Event, Future[None]]:
    """Keep the writer busy until the event is set; what is queued meanwhile is one batch."""
    started, release = threading.Event(), threading.Event()

    def job(conn: Connection) -> None:
        started.set()
        assert release.wait(30)

    held = writer.submit(job)
    assert started.wait(30)
    return release, held


async def queued(writer: Writer, count: int) -> None:
    """Wait (with a deadline) until `count` jobs are queued behind the held one."""
    deadline = asyncio.get_running_loop().time() + 30
    while writer.depth < count:
        assert asyncio.get_running_loop().time() < deadline, f"only {writer.depth} of {count} jobs queued"
        await asyncio.sleep(0.001)


def value(result: int) -> Any:
    return lambda conn: conn.execute("SELECT ?", (result,)).fetchone()[0]


async def test_every_waiter_of_a_batch_gets_its_own_result(writer: Writer) -> None:
    release, held = hold(writer)
    tasks = [asyncio.ensure_future(writer.run(value(i))) for i in range(20)]
    plain = writer.submit(value(99))  # a concurrent Future in the same batch
    await queued(writer, 21)
    commits = writer.commits
    release.set()
    assert await asyncio.wait_for(asyncio.gather(*tasks), 30) == list(range(20))
    assert await asyncio.wrap_future(plain) == 99
    held.result(30)
    assert writer.commits == commits + 2  # the held job's batch, then all 21 in one


async def test_a_waiter_cancelled_before_the_writer_takes_its_job_skips_the_job(writer: Writer) -> None:
    ran: list[str] = []

    def job(name: str) -> Any:
        def run(conn: Connection) -> str:
            ran.append(name)
            return name

        return run

    release, _ = hold(writer)
    gone = asyncio.ensure_future(writer.run(job("gone")))
    kept = asyncio.ensure_future(writer.run(job("kept")))
    await queued(writer, 2)
    gone.cancel()
    release.set()
    assert await asyncio.wait_for(kept, 30) == "kept"
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert ran == ["kept"]


async def test_a_waiter_cancelled_while_its_job_runs_gets_nothing_and_breaks_nothing(writer: Writer) -> None:
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: errors.append(context))
    running, release = threading.Event(), threading.Event()

    def slow(conn: Connection) -> str:
        running.set()
        assert release.wait(30)
        return "stored"

    task = asyncio.ensure_future(writer.run(slow))
    other = asyncio.ensure_future(writer.run(value(7)))
    assert await loop.run_in_executor(None, running.wait, 30)
    task.cancel()
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.wait_for(other, 30) == 7  # delivered by the same call into this loop, after the cancelled one
    with pytest.raises(asyncio.CancelledError):
        await task
    assert errors == []  # no InvalidStateError from setting a cancelled future


async def test_a_failing_batch_delivers_the_storage_error_to_every_waiter(writer: Writer) -> None:
    release, _ = hold(writer)
    good = [asyncio.ensure_future(writer.run(value(i))) for i in range(5)]
    plain = writer.submit(value(5))
    broken = asyncio.ensure_future(writer.run(lambda conn: conn.execute("SELECT * FROM no_such_table")))
    await queued(writer, 7)
    release.set()
    outcomes = await asyncio.wait_for(asyncio.gather(*good, broken, return_exceptions=True), 30)
    assert all(isinstance(o, StorageError) and "no_such_table" in o.detail[0] for o in outcomes), outcomes
    with pytest.raises(StorageError):
        plain.result(30)
    assert writer.last_error is not None and "no_such_table" in writer.last_error
    assert await writer.run(value(1)) == 1  # the next batch is stored again


def test_waiters_of_many_event_loops_each_get_their_results_in_their_loop(writer: Writer) -> None:
    release, _ = hold(writer)
    threads, results = 4, {}
    barrier = threading.Barrier(threads + 1)

    def loop_thread(n: int) -> None:
        async def main() -> list[tuple[int, bool]]:
            loop, me = asyncio.get_running_loop(), threading.get_ident()

            async def one(i: int) -> tuple[int, bool]:
                got = await writer.run(value(n * 100 + i))
                # resumed in this loop's own thread
                return got, asyncio.get_running_loop() is loop and threading.get_ident() == me

            tasks = [asyncio.ensure_future(one(i)) for i in range(10)]
            await asyncio.sleep(0)  # every job queued
            barrier.wait(30)
            return await asyncio.wait_for(asyncio.gather(*tasks), 30)

        results[n] = asyncio.run(main())

    workers = [threading.Thread(target=loop_thread, args=(n,)) for n in range(threads)]
    for t in workers:
        t.start()
    barrier.wait(30)
    assert writer.depth == threads * 10  # one batch for all four loops
    release.set()
    for t in workers:
        t.join(30)
    assert results == {n: [(n * 100 + i, True) for i in range(10)] for n in range(threads)}
