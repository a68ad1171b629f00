"""The agent's loop: sample into the spool every ``sample_interval``, flush it every ``send_interval``.

Sampling never waits for the network: reports go to the spool first, and a
flush drains the spool in batches of ``batch_max`` until it is empty or a send
fails. What happens after a failure:

* TransportError (collector down, timeout, TLS, 5xx): the next attempt waits
  per :class:`~agent.sender.Backoff` (exponential, full jitter, capped), even
  if that is sooner than the next regular flush; a RateLimited's Retry-After is
  a lower bound.
* PayloadTooLarge (413): the same flush retries with half the batch, down to one.
* RejectedError (other 4xx): logged at ERROR with the collector's error body;
  sending pauses for a long backoff (at least ``REJECTED_MIN_PAUSE``) while
  sampling goes on. The reports stay spooled and are not hammered at the
  collector again.

The logic is testable without real time: the clock is injected, and
:meth:`Runner.sample_once`, :meth:`Runner.flush` and :meth:`Runner.maybe_flush`
can be called directly. Only :meth:`Runner.run` uses the ``schedule`` library.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import select
import signal
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any, Protocol

import schedule

from agent import wire
from agent.sender import Backoff, PayloadTooLarge, RateLimited, RejectedError, SendError, TransportError
from agent.spool import SendRecord, Spool

__all__ = [
    "REJECTED_MAX_PAUSE",
    "REJECTED_MIN_PAUSE",
    "FlushResult",
    "Runner",
    "SamplerLike",
    "SenderLike",
    "run_until_signalled",
]

log = logging.getLogger("leitstand.agent")

REJECTED_MIN_PAUSE = 900.0
REJECTED_MAX_PAUSE = 6 * 3600.0
# A report claims at most this many nominal intervals: time the process was frozen
# (SIGSTOP, a paused VM) was not observed and must not be billed as covered.
MAX_INTERVAL_FACTOR = 4.0


class SamplerLike(Protocol):
    def sample(self, interval_s: float) -> Mapping[str, Any]: ...


class SenderLike(Protocol):
    def send(self, agent: wire.AgentInfo, reports: Sequence[bytes]) -> int: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class FlushResult:
    """What one flush did. ``retry_in`` is set after a failure: seconds until the next attempt."""

    sent: int = 0
    acked_through: int | None = None
    error: SendError | None = None
    retry_in: float | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class _ClockJumpGuard:
    """Notices the local wall clock moving backwards.

    ``schedule`` keeps its timetable in naive local time (``datetime.now()``). When
    that goes back (NTP stepping a thin client's wrong RTC at boot, or the autumn
    DST change in Europe/Berlin) every job would wait until the old time comes
    round again: an hour without reports. Forward jumps are harmless: schedule
    runs each overdue job once.
    """

    TOLERANCE_S = 5.0

    def __init__(
        self,
        local_now: Callable[[], datetime.datetime] = datetime.datetime.now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._local_now = local_now
        self._monotonic = monotonic
        self._local = local_now()
        self._mono = monotonic()

    def jumped_back(self) -> bool:
        local, mono = self._local_now(), self._monotonic()
        drift = (local - self._local).total_seconds() - (mono - self._mono)
        self._local, self._mono = local, mono
        return drift < -self.TOLERANCE_S


class Runner:
    """Ties a sampler, the spool and a sender together."""

    def __init__(
        self,
        sampler: SamplerLike,
        spool: Spool,
        sender: SenderLike,
        agent: wire.AgentInfo,
        *,
        sample_interval: float = 15.0,
        send_interval: float = 60.0,
        batch_max: int = 100,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        backoff: Backoff | None = None,
        rejected_backoff: Backoff | None = None,
    ) -> None:
        if sample_interval <= 0 or send_interval <= 0 or batch_max < 1:
            raise ValueError("intervals must be positive and batch_max at least 1")
        self.sampler = sampler
        self.spool = spool
        self.sender = sender
        self.agent = agent
        self.sample_interval = sample_interval
        self.send_interval = send_interval
        self.batch_max = batch_max
        self._clock = clock
        self._wall_clock = wall_clock
        self._backoff = backoff or Backoff(base=1.0, cap=300.0)
        self._rejected_backoff = rejected_backoff or Backoff(base=REJECTED_MIN_PAUSE, cap=REJECTED_MAX_PAUSE)
        self._not_before = float("-inf")
        self._retry_pending = False
        self._last_sample_at: float | None = None
        self._stop_requested = False

    # -- stopping -------------------------------------------------------------

    def request_stop(self) -> None:
        """Ask :meth:`run` (and a running flush) to stop after the current step.

        Only sets a flag, so it is safe to call from a signal handler.
        """
        self._stop_requested = True

    @property
    def stop_requested(self) -> bool:
        return self._stop_requested

    @property
    def next_send_at(self) -> float:
        """Clock time before which :meth:`maybe_flush` will not send (-inf: any time)."""
        return self._not_before

    # -- sampling -------------------------------------------------------------

    def _interval_for(self, now: float) -> float:
        # The report covers the time since the previous one (a slow flush may have
        # delayed it); the first report after start covers one nominal interval.
        if self._last_sample_at is None:
            return self.sample_interval
        elapsed = now - self._last_sample_at
        if elapsed <= 0:
            return self.sample_interval
        return min(elapsed, self.sample_interval * MAX_INTERVAL_FACTOR, 86400.0)

    def sample_once(self) -> int | None:
        """Take one sample and spool it; returns its seq, or None when nothing was spooled."""
        now = self._clock()
        try:
            fields = self.sampler.sample(self._interval_for(now))
        except Exception:
            # A sampler bug must not stop the agent; the next interval tries again.
            log.exception("sampling failed; no report for this interval")
            return None
        try:
            seq = self.spool.enqueue(fields)
        except wire.WireError as exc:
            log.error("sampler produced a report that breaks the wire format, not spooled: %s %s", exc, exc.detail)
            return None
        except sqlite3.Error as exc:
            log.error("cannot write report to the spool %s: %s", self.spool.path, exc)
            return None
        self._last_sample_at = now
        return seq

    # -- sending --------------------------------------------------------------

    def maybe_flush(self) -> FlushResult | None:
        """Flush unless a backoff or a pause after a rejection is still running."""
        if self._clock() < self._not_before:
            return None
        return self.flush()

    def flush(self) -> FlushResult:
        """Send batches until the spool is empty, a send fails, or a stop is requested.

        Ignores any running backoff (call :meth:`maybe_flush` to respect it).
        """
        sent = 0
        acked: int | None = None
        limit = self.batch_max
        try:
            while not self._stop_requested:
                batch = self.spool.peek(limit)
                if not batch:
                    break
                first, last = batch[0][0], batch[-1][0]
                try:
                    through = self.sender.send(self.agent, [body for _, body in batch])
                except PayloadTooLarge as exc:
                    if len(batch) > 1:
                        limit = max(1, len(batch) // 2)
                        log.warning("collector says the batch is too large (%s); retrying with %s", exc, limit)
                        continue
                    return self._rejected(exc, sent, acked, first, last)
                except RateLimited as exc:
                    return self._transport_failed(exc, sent, acked, floor=exc.retry_after)
                except TransportError as exc:
                    return self._transport_failed(exc, sent, acked)
                except RejectedError as exc:
                    return self._rejected(exc, sent, acked, first, last)
                if through > last:
                    # Trusting this would delete reports the collector never saw.
                    log.warning("collector acknowledged through seq %s but was sent only up to %s", through, last)
                    through = last
                if through < first:
                    error = TransportError(
                        f"collector acknowledged through seq {through}, nothing of seqs {first}..{last}"
                    )
                    return self._transport_failed(error, sent, acked)
                self.spool.ack_through(through)
                sent += through - first + 1
                acked = through
        finally:
            # An idle keep-alive connection would only pin a socket on the collector.
            self.sender.close()
        if self._retry_pending and sent:
            log.info("collector reachable again; sent %s report(s) through seq %s", sent, acked)
        elif sent:
            log.debug("sent %s report(s) through seq %s", sent, acked)
        self._retry_pending = False
        self._not_before = float("-inf")
        if sent:
            # Only an accepted batch proves the collector is back; an empty spool proves nothing.
            self._backoff.reset()
            self._rejected_backoff.reset()
            self._record(SendRecord(at=self._wall_clock(), ok=True, detail=f"sent {sent}", acked_through=acked))
        return FlushResult(sent=sent, acked_through=acked)

    def _transport_failed(
        self, exc: TransportError, sent: int, acked: int | None, *, floor: float | None = None
    ) -> FlushResult:
        delay = self._backoff.next_delay(floor=floor)
        self._pause(delay)
        # Warn on the first failure of an outage; the retries are routine until it ends.
        level = logging.WARNING if self._backoff.attempt == 1 else logging.INFO
        pending = self.spool.pending_count()
        log.log(
            level, "cannot send to the collector (%s); %s report(s) stay spooled, retry in %.1f s", exc, pending, delay
        )
        self._record(SendRecord(at=self._wall_clock(), ok=False, detail=str(exc), acked_through=acked))
        return FlushResult(sent=sent, acked_through=acked, error=exc, retry_in=delay)

    def _rejected(self, exc: RejectedError, sent: int, acked: int | None, first: int, last: int) -> FlushResult:
        delay = self._rejected_backoff.next_delay(floor=REJECTED_MIN_PAUSE)
        self._pause(delay)
        log.error(
            "collector rejected reports seq %s..%s: %s. They stay spooled; sending pauses for %.0f s "
            "(sampling continues). This is a bug or a misconfiguration: please report it.",
            first,
            last,
            exc,
            delay,
        )
        self._record(SendRecord(at=self._wall_clock(), ok=False, detail=str(exc), acked_through=acked))
        return FlushResult(sent=sent, acked_through=acked, error=exc, retry_in=delay)

    def _pause(self, delay: float) -> None:
        self._not_before = self._clock() + delay
        self._retry_pending = True

    def _record(self, record: SendRecord) -> None:
        try:
            self.spool.record_send(record)
        except sqlite3.Error as exc:  # only `status` reads it; not worth failing a flush
            log.debug("cannot record the send result: %s", exc)

    # -- the loop -------------------------------------------------------------

    def _new_schedule(self) -> schedule.Scheduler:
        scheduler = schedule.Scheduler()  # our own instance, never schedule's global one
        # schedule annotates `interval` as int but computes with timedelta, so fractional seconds work.
        scheduler.every(self.sample_interval).seconds.do(self.sample_once)  # type: ignore[arg-type]
        scheduler.every(self.send_interval).seconds.do(self.maybe_flush)  # type: ignore[arg-type]
        return scheduler

    def _idle_seconds(self, scheduler: schedule.Scheduler) -> float:
        candidates = [self.sample_interval]
        if scheduler.idle_seconds is not None:
            candidates.append(scheduler.idle_seconds)
        if self._retry_pending:
            candidates.append(self._not_before - self._clock())
        return max(0.0, min(candidates))

    def run(self, idle: Callable[[float], None] = time.sleep) -> None:
        """Sample and send until :meth:`request_stop`; ``idle(seconds)`` waits between steps.

        Samples (and tries to send what a previous run left) right away, then
        follows the schedule. Each step finishes before a stop takes effect, so a
        report being written is never cut in half.
        """
        scheduler = self._new_schedule()
        guard = _ClockJumpGuard()
        self.sample_once()
        if not self._stop_requested:
            self.maybe_flush()
        while not self._stop_requested:
            if guard.jumped_back():
                log.warning("the system clock went backwards; rescheduling sampling and sending")
                scheduler = self._new_schedule()
            scheduler.run_pending()
            if self._retry_pending and not self._stop_requested:
                self.maybe_flush()
            if self._stop_requested:
                break
            idle(self._idle_seconds(scheduler))


def run_until_signalled(runner: Runner, signals: Sequence[signal.Signals] = (signal.SIGTERM, signal.SIGINT)) -> None:
    """Run ``runner`` until one of ``signals`` arrives, then return normally.

    The handler only sets the runner's stop flag, so the step in progress (a
    spool write, an HTTP request) completes. Idle waits happen in ``select`` on a
    wakeup pipe, so a signal ends the wait at once instead of after the
    remaining sleep. Must be called from the main thread; handlers are restored
    afterwards.
    """
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    os.set_blocking(write_fd, False)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("received %s; stopping after the current step", signal.Signals(signum).name)
        runner.request_stop()

    def idle(seconds: float) -> None:
        select.select([read_fd], [], [], seconds)
        with contextlib.suppress(BlockingIOError):  # nothing to drain: the timeout ended the wait
            os.read(read_fd, 512)

    previous = {sig: signal.signal(sig, on_signal) for sig in signals}
    previous_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    try:
        runner.run(idle=idle)
    finally:
        signal.set_wakeup_fd(previous_fd)
        for sig, handler in previous.items():
            if handler is not None:
                signal.signal(sig, handler)
        os.close(read_fd)
        os.close(write_fd)
