"""Background evaluation loops (alerts, readiness) started by the app's lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from .errors import CollectorError

__all__ = ["Budget", "Pacer", "in_background", "no_pause", "run_periodically"]

log = logging.getLogger("leitstand.collector")


async def run_periodically(
    what: str, interval_s: float, step: Callable[[], Awaitable[object]], leader: Callable[[], bool] | None = None
) -> None:
    """Run `step` every `interval_s` (start to start) until cancelled; a failing step is logged,
    never fatal, so one bad evaluation cannot stop the next. With `leader`,
    only while it says this process leads (collectors sharing a database
    evaluate once, not once each)."""
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        try:
            if leader is None or leader():
                await step()
        except CollectorError as exc:
            log.error("%s failed: %s %s", what, exc.message, exc.detail)
        except Exception:
            log.exception("%s crashed", what)
        # every `interval_s` from start to start: a paced step (the alert evaluation) takes several seconds
        # and would otherwise push each round back by its own duration; never back to back
        await asyncio.sleep(max(interval_s - (loop.time() - started), min(interval_s, 1.0)))


@contextlib.asynccontextmanager
async def in_background(
    what: str,
    interval_s: float,
    step: Callable[[], Awaitable[object]],
    leader: Callable[[], bool] | None = None,
    *,
    enabled: bool = True,
) -> AsyncIterator[None]:
    """`run_periodically` as a task for as long as the block runs (the app's
    lifespan); cancelled and awaited when it ends. Nothing when not `enabled`."""
    task = asyncio.create_task(run_periodically(what, interval_s, step, leader), name=what) if enabled else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def no_pause() -> None:
    """The `pause` of a long loop nobody paces (the CLI, tests): a `Pacer` where one is wanted."""


class Budget:
    """One share of a core for all the paced background work of a process
    together: every `Pacer` that draws on it pauses until the work of all of
    them stays within `duty`.

    Each pacer alone keeps its thread to its own duty, but the alert
    evaluation (every minute) and a housekeeping round (hourly, the first a
    minute after start, so together with an evaluation) each took their
    quarter of the core at once: half a core beside an ingest path that used
    70 % of it with 10,000 hosts (`bench/ingest_sustained.py`, 2026-12-06),
    more than was left.

    A virtual clock: `free_at` is when the work charged so far has had its
    share of wall time. A slice of `used` CPU seconds that ended `now` is
    placed at `free_at` (or where it began, if later) and moves `free_at` on
    by `used / duty`; its thread pauses until then. One thread alone pauses
    `used * (1 - duty) / duty`, as a `Pacer` of its own does; two threads
    take turns, each pausing for the other's slices too."""

    def __init__(self, duty: float = 0.25, *, clock: Callable[[], float] = time.monotonic) -> None:
        if not 0 < duty <= 1:
            raise ValueError(f"duty must lie in (0, 1], not {duty}")
        self.duty = duty
        self._clock = clock
        self._lock = threading.Lock()
        self._free_at = float("-inf")

    def charge(self, used: float) -> float:
        """The pause (seconds) owed by a slice of `used` CPU seconds that ends now."""
        if self.duty >= 1:
            return 0.0
        with self._lock:
            now = self._clock()
            start = max(self._free_at, now - used)
            self._free_at = start + used / self.duty
            return max(0.0, self._free_at - now)


class Pacer:
    """Keeps a long computation in a worker thread (a whole-fleet evaluation)
    to a share of the CPU: called often from that thread, it sleeps after
    every `slice_s` of the thread's own CPU time, long enough that the thread
    uses at most `duty` of a core.

    The thread shares the interpreter lock with the event loop and the
    writer, and on a busy collector their core: unpaced, 10,000 hosts' 2–3 s
    of evaluation took half of the loop's and the writer's turns for those
    seconds, and every report waiting meanwhile showed it (p99 0.5–1 s once
    a minute). Paced, the evaluation takes longer (1 / duty as long) but the
    ingest path keeps its turns. Time spent waiting on the database is not the
    thread's CPU time and is not counted: a round trip releases the lock.

    With a `budget` shared by several pacers, a pause is also long enough that
    all of them together stay within the budget's duty (`Budget`).
    """

    def __init__(
        self,
        duty: float = 0.25,
        slice_s: float = 0.01,
        *,
        cpu: Callable[[], float] = time.thread_time,
        sleep: Callable[[float], None] = time.sleep,
        budget: Budget | None = None,
    ) -> None:
        if not 0 < duty <= 1:
            raise ValueError(f"duty must lie in (0, 1], not {duty}")
        self.duty = duty
        self.slice_s = slice_s
        self._cpu = cpu
        self._sleep = sleep
        self._budget = budget
        self._mark: float | None = None
        #: seconds slept so far (reported with the evaluation's duration)
        self.slept_s = 0.0

    def __call__(self) -> None:
        if self.duty >= 1 and (self._budget is None or self._budget.duty >= 1):
            return
        now = self._cpu()
        if self._mark is None:  # the first call in this thread starts the count
            self._mark = now
            return
        used = now - self._mark
        if used < self.slice_s:
            return
        pause = used * (1 - self.duty) / self.duty
        if self._budget is not None:
            pause = max(pause, self._budget.charge(used))
        self._sleep(pause)
        self.slept_s += pause
        self._mark = self._cpu()
