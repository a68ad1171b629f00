"""The single writer: one thread, one connection, batched commits.

HTTP handlers never write to SQLite themselves. They hand a job (a function of
the connection) to the writer and await its result. The writer takes every
job that is waiting, up to `batch_max`, runs each in its own savepoint inside
one transaction and commits once, so a thousand concurrent agents cost one
fsync, not a thousand, and there is never a `database is locked`. A job's
result is delivered only after the commit: an acknowledgement always means
the data is on disk.

Ingest jobs (`StagedJob`) share what the writer keeps between jobs
(`writestate`): host rows, each stream's newest point, closed periods, and the
ledger rows of the whole batch, upserted once before the commit.
"""

from __future__ import annotations

import asyncio
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


class _Item(NamedTuple):
    call: Callable[[Connection, WriteState], Any]
    future: Future[Any]
    #: the stream locks a staged job needs; None: the job runs alone (db.begin)
    streams: Sequence[int] | None


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
        self._queue: queue.Queue[Any] = queue.Queue()
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
        return self._put(plain(job), None)

    def submit_staged(self, job: StagedJob[T]) -> Future[T]:
        return self._put(job, tuple(job.streams))

    def _put(self, call: Callable[[Connection, WriteState], T], streams: Sequence[int] | None) -> Future[T]:
        if self._queue.qsize() >= self._queue_max:
            # Back-pressure instead of unbounded memory: agents keep the
            # reports spooled and retry after the hint.
            raise OverloadedError("collector is busy, retry later", retry_after_s=5)
        future: Future[T] = Future()
        self._queue.put(_Item(call, future, streams))
        return future

    async def run(self, job: Job[T]) -> T:
        return await asyncio.wrap_future(self.submit(job))

    async def run_staged(self, job: StagedJob[T]) -> T:
        return await asyncio.wrap_future(self.submit_staged(job))

    def _run(self) -> None:
        conn = self._connect()
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
        batch = [item for item in batch if item.future.set_running_or_notify_cancel()]
        try:
            results = self._attempt(conn, batch)
        except Exception as exc:  # the database (or the batch's last write) failed: the whole batch goes
            self._fail(conn, batch, exc)
            return
        for future, result, error_ in results:
            self.jobs_done += 1
            if error_ is not None:
                future.set_exception(error_)
            else:
                future.set_result(result)

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
        for item in batch:
            if item.future.running():
                item.future.set_exception(error)

    def _attempt(self, conn: Connection, batch: list[_Item]) -> list[tuple[Future[Any], Any, BaseException | None]]:
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

    def _deferred(
        self, conn: Connection, batch: list[_Item], streams: list[int]
    ) -> list[tuple[Future[Any], Any, BaseException | None]] | None:
        """Run a batch of ingest jobs without a savepoint each, their rows
        written together before the commit (`writestate`); None where it has
        to run job by job instead (rolled back, nothing of it kept)."""
        results: list[tuple[Future[Any], Any, BaseException | None]] = []
        state = self.state
        rerun: BaseException | None = None
        with db.pipeline(conn):
            db.begin(conn, streams)
            state.batch_started(deferring=True)
            try:
                state.verify_hosts(conn, hosts_of([item.call for item in batch]))
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
                    db.sync(conn)  # a refused row is raised here on PostgreSQL, not at the commit
            except _RERUN as exc:
                rerun = exc
            if rerun is None:
                conn.execute("COMMIT")
            else:
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

    def _job_by_job(
        self, conn: Connection, batch: list[_Item], streams: list[int] | None
    ) -> list[tuple[Future[Any], Any, BaseException | None]]:
        results: list[tuple[Future[Any], Any, BaseException | None]] = []
        state = self.state
        # On PostgreSQL the batch is pipelined: statements whose results a job
        # does not read go out without a round trip each. The sync after a
        # job that runs alone pins any error on it. An ingest job reads its
        # host's UPDATE count first (a round trip that syncs what the job
        # before it wrote), so it gets no sync of its own: its writes cannot
        # fail on data that passed validation, and should one fail anyway,
        # the error fails the whole batch (nothing is acknowledged; the agents
        # resend), never another job alone.
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
                    if serial:
                        db.sync(conn)
                except Exception as exc:
                    state.job_failed()
                    if isinstance(exc, db.ERRORS) and not isinstance(exc, db.INTEGRITY_ERRORS):
                        raise  # the database itself failed: the whole batch goes
                    # A rejected job (a seq conflict, or a bug) must not take
                    # the other agents' reports in the same commit down with it.
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
