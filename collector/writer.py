"""The single writer: one thread, one connection, batched commits.

HTTP handlers never write to SQLite themselves. They hand a job (a function of
the connection) to the writer and await its result. The writer takes every
job that is waiting, up to `batch_max`, runs each in its own savepoint inside
one transaction and commits once, so a thousand concurrent agents cost one
fsync, not a thousand, and there is never a `database is locked`. A job's
result is delivered only after the commit: an acknowledgement always means
the data is on disk.

Two kinds of waiters: `submit` hands back a `concurrent.futures.Future` (the
CLI, benches, tests), `run`/`run_staged` await an asyncio future of the
calling event loop. The results of a batch reach each event loop with one
`call_soon_threadsafe` (one wake-up of the loop), not one per job: a
concurrent Future per request costs a `threading.Condition`, and bridging it
with `asyncio.wrap_future` a wake-up of its own.

Ingest jobs (`StagedJob`) share what the writer keeps between jobs
(`writestate`): host rows, each stream's newest point, closed periods, and the
ledger rows of the whole batch, upserted once before the commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, NamedTuple, TypeVar

from . import db
from .db import Connection
from .errors import CollectorError, OverloadedError, StorageError
from .writestate import StagedJob, StaleHostError, WriteState, hosts_of, plain

__all__ = ["Job", "Writer"]

log = logging.getLogger("leitstand.collector.writer")

T = TypeVar("T")
Job = Callable[[Connection], T]

_STOP = object()
#: what makes a deferred batch run again job by job (`_deferred`)
_RERUN: tuple[type[Exception], ...] = (StaleHostError, *db.INTEGRITY_ERRORS)


#: who waits for a job: a concurrent Future, or an asyncio future of some event loop
Waiter = Future[Any] | asyncio.Future[Any]


class _Item(NamedTuple):
    call: Callable[[Connection, WriteState], Any]
    future: Waiter
    #: the stream locks a staged job needs; None: the job runs alone (db.begin)
    streams: Sequence[int] | None


#: a job's waiter, its result, the error it raised (then the result is None)
Outcome = tuple[Waiter, Any, BaseException | None]


def _claim(waiter: Waiter) -> bool:
    """False for a waiter already cancelled: its job is not run. A concurrent
    Future can no longer be cancelled after this; an asyncio one can (its
    outcome is then dropped, and the job may well have been stored)."""
    if isinstance(waiter, Future):
        return waiter.set_running_or_notify_cancel()
    return not waiter.cancelled()  # read across threads: a stale False only means the job runs


def _deliver(outcomes: list[Outcome]) -> None:
    """Hand every outcome to its waiter: concurrent Futures here, asyncio
    futures with one call per event loop, in that loop's thread."""
    per_loop: dict[asyncio.AbstractEventLoop, list[Outcome]] = {}
    for outcome in outcomes:
        waiter, result, error = outcome
        if isinstance(waiter, Future):
            if error is not None:
                waiter.set_exception(error)
            else:
                waiter.set_result(result)
        else:
            per_loop.setdefault(waiter.get_loop(), []).append(outcome)
    for loop, mine in per_loop.items():
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is left to wait
            loop.call_soon_threadsafe(_settle, mine)


def _settle(outcomes: list[Outcome]) -> None:
    """In the waiters' event loop: set each outcome, unless its waiter was
    cancelled meanwhile (the client went away)."""
    for waiter, result, error in outcomes:
        if waiter.done():
            continue
        if error is not None:
            waiter.set_exception(error)
        else:
            waiter.set_result(result)


class Writer:
    def __init__(
        self,
        connect: Callable[[], Connection],
        *,
        batch_max: int = 500,
        queue_max: int = 5000,
    ) -> None:
        self._connect = connect
        self._batch_max = batch_max
        self._queue_max = queue_max
        # SimpleQueue: a put costs a tenth of a Queue's (no Condition), and
        # every request puts one job from the event loop
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.commits = 0
        self.jobs_done = 0
        self.last_error: str | None = None
        #: used by the writer thread only
        self.state = WriteState()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="leitstand-writer", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish every queued job, then stop."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout)
            self._thread = None

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    def submit(self, job: Job[T]) -> Future[T]:
        future: Future[T] = Future()
        self._put(plain(job), None, future)
        return future

    def submit_staged(self, job: StagedJob[T]) -> Future[T]:
        future: Future[T] = Future()
        self._put(job, tuple(job.streams), future)
        return future

    def _put(
        self, call: Callable[[Connection, WriteState], Any], streams: Sequence[int] | None, waiter: Waiter
    ) -> None:
        if self._queue.qsize() >= self._queue_max:
            # Back-pressure instead of unbounded memory: agents keep the
            # reports spooled and retry after the hint.
            raise OverloadedError("collector is busy, retry later", retry_after_s=5)
        self._queue.put(_Item(call, waiter, streams))

    async def run(self, job: Job[T]) -> T:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._put(plain(job), None, future)
        return await future

    async def run_staged(self, job: StagedJob[T]) -> T:
        """`job`'s result once it is committed. A waiter cancelled (its
        client gone) before the writer takes the job: the job is skipped."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._put(job, tuple(job.streams), future)
        return await future

    def connection(self) -> Connection:
        """A connection as the writer thread uses it."""
        conn = self._connect()
        if db.dialect(conn) == "sqlite":
            # A statement inside a transaction that may fail halfway (a
            # batch's multi-row inserts and upserts) keeps the old contents
            # of the pages it changes in a statement journal, to undo itself
            # alone; past 64 KiB SQLite spilled that into a temp file,
            # created, written and unlinked in the writer thread about every
            # other commit of jobs of 10 (~18 more writes per commit). It
            # never holds committed data: durability does not depend on it.
            conn.execute("PRAGMA temp_store=MEMORY")
        return conn

    def _run(self) -> None:
        conn = self.connection()
        try:
            while True:
                first = self._queue.get()
                if first is _STOP:
                    return
                batch = [first]
                stop = False
                while len(batch) < self._batch_max:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is _STOP:
                        stop = True
                        break
                    batch.append(item)
                self._commit(conn, batch)
                if stop:
                    return
        finally:
            conn.close()

    def _commit(self, conn: Connection, batch: list[_Item]) -> None:
        batch = [item for item in batch if _claim(item.future)]
        try:
            results = self._attempt(conn, batch)
        except Exception as exc:  # the database (or the batch's last write) failed: the whole batch goes
            self._fail(conn, batch, exc)
            return
        self.jobs_done += len(results)
        _deliver(results)

    def _fail(self, conn: Connection, batch: list[_Item], exc: BaseException) -> None:
        # Disk full, I/O error, corruption, a lost database server: nothing of
        # this batch is stored, so nobody gets an acknowledgement.
        self.last_error = str(exc).strip()
        self.state.batch_failed()
        log.error("write failed, %s jobs rejected: %s", len(batch), self.last_error)
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        except db.ERRORS:
            pass  # the connection is lost; the next batch starts on a new one
        error = StorageError("storage unavailable, nothing stored", [self.last_error])
        _deliver([(item.future, None, error) for item in batch])

    def _attempt(self, conn: Connection, batch: list[_Item]) -> list[Outcome]:
        streams: list[int] | None = []
        for item in batch:
            if item.streams is None:
                streams = None  # a job that runs alone: the whole batch does
                break
            assert streams is not None
            streams.extend(item.streams)
        if streams is not None and batch and self.state.deferral:
            results = self._deferred(conn, batch, streams)
            if results is not None:
                return results
        return self._job_by_job(conn, batch, streams)

    def _deferred(self, conn: Connection, batch: list[_Item], streams: list[int]) -> list[Outcome] | None:
        """Run a batch of ingest jobs without a savepoint each, their rows
        written together before the commit (`writestate`); None where it has
        to run job by job instead (rolled back, nothing of it kept)."""
        results: list[Outcome] = []
        state = self.state
        rerun: BaseException | None = None
        with db.pipeline(conn):
            db.begin(conn, streams)
            state.batch_started(deferring=True)
            try:
                state.verify_hosts(conn, hosts_of([item.call for item in batch]))
                state.assume_periods(conn)
                for item in batch:
                    state.job_started()
                    try:
                        result = item.call(conn, state)
                    except Exception as exc:
                        if isinstance(exc, db.ERRORS) and not isinstance(exc, db.INTEGRITY_ERRORS):
                            raise  # the database itself failed: the whole batch goes
                        if not state.clean or not isinstance(exc, CollectorError):
                            rerun = exc  # it wrote or staged something: only a savepoint can take that back
                            break
                        results.append((item.future, None, exc))  # refused before it wrote anything
                        continue
                    results.append((item.future, result, None))
                else:
                    state.write_pending(conn)
                    # On PostgreSQL the staged rows go out with the COMMIT in one
                    # round trip: a row the server refuses aborts the transaction
                    # (the COMMIT is skipped), and its error is raised here.
                    conn.execute("COMMIT")
                    db.sync(conn)
            except _RERUN as exc:
                rerun = exc
            if rerun is not None:
                db.settle(conn)
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                db.sync(conn)
        state.deferring = False
        if rerun is not None:
            state.batch_failed()
            log.debug("deferred batch of %s jobs runs again job by job: %r", len(batch), rerun)
            return None
        self.commits += 1
        self.last_error = None
        return results

    def _job_by_job(self, conn: Connection, batch: list[_Item], streams: list[int] | None) -> list[Outcome]:
        results: list[Outcome] = []
        state = self.state
        # On PostgreSQL the batch is pipelined: statements whose results a job
        # does not read go out without a round trip each. The sync after each
        # job pins an error on the job that caused it: a row the server
        # refuses fails that job alone, as on SQLite, while the other agents'
        # reports in the batch are stored (this path is the rerun of a
        # deferred batch that did not go as planned, so it must isolate).
        with db.pipeline(conn):
            db.begin(conn, streams)
            state.batch_started()
            for index, item in enumerate(batch):
                serial = item.streams is None
                if serial:
                    state.write_pending(conn)  # it may read the ledger
                savepoint = f"job{index}"
                conn.execute(f"SAVEPOINT {savepoint}")
                try:
                    result = item.call(conn, state)
                    db.sync(conn)
                except Exception as exc:
                    state.job_failed()
                    if isinstance(exc, db.ERRORS) and not isinstance(exc, db.INTEGRITY_ERRORS):
                        raise  # the database itself failed: the whole batch goes
                    # A rejected job (a seq conflict, or a bug) must not take
                    # the other agents' reports in the same commit down with it.
                    db.settle(conn)
                    conn.execute(f"ROLLBACK TO {savepoint}")
                    conn.execute(f"RELEASE {savepoint}")
                    if not isinstance(exc, CollectorError):
                        log.exception("writer job crashed")
                    results.append((item.future, None, exc))
                    continue
                conn.execute(f"RELEASE {savepoint}")
                state.job_succeeded()
                if serial:
                    state.serial_job_done()
                results.append((item.future, result, None))
            state.write_pending(conn)
            conn.execute("COMMIT")
        self.commits += 1
        self.last_error = None
        return results
