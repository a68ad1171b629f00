"""Hourly housekeeping (retention, rollups, metering points) on a thread and a
database connection of its own.

It used to run inside the writer's thread, between two batches: with 10,000
hosts on PostgreSQL a round took half a minute of round trips, and ingest
stood still meanwhile. Here it runs beside the writer; every step that must
not interleave with a booking is a short write transaction of its own
(`db.begin`), so the writer gets its turn between them.

On PostgreSQL only the leading collector (`db.Leadership`, the one that
evaluates alerts) runs a round; the others skip theirs after asking, and the
first to ask after the leader stopped or died takes over. Every step of a
round is database-wide and idempotent: two collectors on one database each
spent 9–17 s per round with 10,000 hosts doing the same deletes and rollups.
Nothing of a round is this process's own: the writer's cached host entries
and newest metering points stay true (point pruning keeps each stream's
newest point and an open gap's neighbours, whoever prunes), and SQLite's
WAL is checkpointed by its connections' commits, not here. So a collector
that does not lead has nothing to do.

A round's Python work (decoding and summarizing raw samples for the
rollups, host by host) is paced (`periodic.Pacer`, `duty`) as the alert
evaluation is: it shares the interpreter lock and, on a busy collector, the
core with the event loop and the writer, and unpaced it showed as p99 spikes
in ingest once an hour. The pacer is only called between transactions,
never inside one: a pause there would hold the write lock, and ingest with it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from . import db
from .db import Connection
from .periodic import Budget, Pacer

__all__ = ["Housekeeper", "Work"]

log = logging.getLogger("leitstand.collector.housekeeping")


class _Stopped(Exception):
    """Raised from a round's pause once `stop` was called: the round ends there."""


#: a round's work: the connection to use, and the pause to call between two
#: steps of its long loops (a host), never inside a transaction
Work = Callable[[Connection, Callable[[], None]], None]


class Housekeeper:
    def __init__(
        self,
        connect: Callable[[], Connection],
        work: Work,
        *,
        every_s: float = 3600.0,
        first_after_s: float = 60.0,
        leader: Callable[[], bool] | None = None,
        duty: float = 0.25,
        budget: Budget | None = None,
        cpu: Callable[[], float] = time.thread_time,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        """`leader`: asked before each round, which runs only while it says
        this process leads (None: always). `duty`: the share of a core a
        round's thread may use (`periodic.Pacer`; 1: unpaced), the alert
        evaluation's share by default; `budget`: a share shared with the
        process's other paced work (`periodic.Budget`). `cpu` and `sleep`:
        the pacer's clock and pause (tests pass fakes); by default the pause
        ends early when `stop` is called."""
        Pacer(duty)  # refuses a duty outside (0, 1] here, not at the first round an hour later
        self._connect = connect
        self._work = work
        self._every_s = every_s
        self._first_after_s = first_after_s
        self._leader = leader
        self.duty = duty
        self.budget = budget
        self._cpu = cpu
        self._stop = threading.Event()
        self._sleep = sleep if sleep is not None else self._stop.wait
        self._thread: threading.Thread | None = None
        #: rounds run, and rounds skipped because another collector leads
        self.rounds = 0
        self.skipped = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="leitstand-housekeeping", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the step in progress: a round is cut at its next pause,
        which lies between two transactions, never inside one."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run_once(self) -> bool:
        """One round, if this collector leads; whether it ran. The leader is
        asked each round, so a collector takes over the round after the
        leader's session ended. A round already running when its collector
        loses the lead runs to its end: each step is idempotent and a write
        transaction of its own, so a new leader's round beside it repeats
        nothing that matters."""
        if self._leader is not None and not self._leader():
            self.skipped += 1
            # every hour on every other collector: nothing an operator needs unless looking for it
            log.debug("housekeeping round skipped: another collector leads")
            return False
        started = time.perf_counter()
        # created in the thread it paces: it counts that thread's CPU time. Paced, a round
        # may outlast the 30 s a stopping collector waits for it, so a pause is where it is cut.
        pace = Pacer(self.duty, cpu=self._cpu, sleep=self._pause, budget=self.budget)
        cpu = time.thread_time()
        conn = self._connect()
        try:
            self._work(conn, pace)
            self.rounds += 1
        except _Stopped:
            log.info("housekeeping round cut short: the collector stops")
            return False
        finally:
            conn.close()
        # beside the writer: when ingest latency rises once an hour, this says whether it was this
        log.info(
            "housekeeping round in %.1f s (%.2f s CPU, %.1f s paced)",
            time.perf_counter() - started,
            time.thread_time() - cpu,
            pace.slept_s,
        )
        return True

    def _pause(self, seconds: float) -> None:
        self._sleep(seconds)
        if self._stop.is_set():
            raise _Stopped

    def _run(self) -> None:
        wait = self._first_after_s
        while not self._stop.wait(wait):
            try:
                self.run_once()
            except db.STORAGE_FAILURES as exc:
                # next round tries again; nothing half-done stays behind (each step commits or not)
                log.error("housekeeping failed: %s", exc)
            wait = self._every_s
