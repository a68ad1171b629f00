"""The agent's loop: sample into the spool every ``sample_interval``, flush it every ``send_interval``.

Sampling never waits for the network: reports go to the spool first, and a
flush drains the spool in batches of ``batch_max`` until it is empty or a send
fails. What happens after a failure:

* TransportError (collector down, timeout, TLS, 5xx): the next attempt waits
  per :class:`~agent.sender.Backoff` (exponential, full jitter, capped), even
  if that is sooner than the next regular flush; a RateLimited's Retry-After is
  a lower bound.
* BatchRefused (400, 413, 422: the collector refused the batch, nothing of it
  stored) and a 500 that repeats for the same batch (``INTERNAL_ERROR_STRIKES``
  times, with backoff in between): the batch is split, oldest half first, until
  the one report the collector cannot take is found; that report moves to the
  spool's dead-letter table (with the status, the error and the time) and the
  rest flows on. At most ``MAX_REFUSALS_PER_FLUSH`` refused requests per flush;
  then the next regular flush goes on. A batch refused for its agent header
  (every problem named under ``$.agent``) is no report's fault: it is treated
  like a RejectedError. See :meth:`Runner._internal_error_repeats` for why a
  500 needs more proof than a 400.
* RejectedError (other 4xx: 401/403 token, 409 seq restart, 404 wrong URL):
  logged at ERROR with the collector's error body; sending pauses for a long
  backoff (at least ``REJECTED_MIN_PAUSE``) while sampling goes on. The
  reports stay spooled and are not hammered at the collector again; nothing
  is dead-lettered.

Transient answers (no connection, timeouts, 429, 502, 503, 504) never
dead-letter anything. A report leaves the spool only acknowledged, dropped
because the spool was full (counted), or dead-lettered: exactly once holds,
also when the agent is killed mid-split (the split state is only in memory;
the spool is the truth).

Each batch carries the dead-letter count as ``AgentInfo.dead_letters``. What an
ack says the collector refused (SNMP devices) or ignored (unknown fields) is
logged once per distinct line and kept in the spool for ``status``.

The logic is testable without real time: the clock is injected, and
:meth:`Runner.sample_once`, :meth:`Runner.flush` and :meth:`Runner.maybe_flush`
can be called directly. Only :meth:`Runner.run` uses the ``schedule`` library.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import select
import signal
import socket
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any, Protocol

import msgspec
import schedule

from agent import wire
from agent.sender import (
    Backoff,
    BatchRefused,
    RateLimited,
    RejectedError,
    SendError,
    TransportError,
    collector_says,
)
from agent.spool import AckNotes, SendRecord, Spool

__all__ = [
    "INTERNAL_ERROR_STRIKES",
    "MAX_REFUSALS_PER_FLUSH",
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
# A 500 for the same batch this often in a row (with backoff in between) is taken
# as the collector's answer to the data, not a passing fault.
INTERNAL_ERROR_STRIKES = 3
# Splitting a batch costs one request per halving: bounded per flush, so a spool
# full of reports the collector refuses does not turn into a request storm.
MAX_REFUSALS_PER_FLUSH = 16
# Distinct "refused"/"unknown field" lines warned about once per process; more are
# still warned about, just not remembered (a hostile collector cannot grow memory).
MAX_ACK_LINES_REMEMBERED = 1000


class SamplerLike(Protocol):
    def sample(self, interval_s: float) -> Mapping[str, Any]: ...


class SenderLike(Protocol):
    def send(self, agent: wire.AgentInfo, reports: Sequence[bytes]) -> wire.BatchAck: ...

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
        # Splitting batches the collector cannot take (see the module docstring).
        self._limit = batch_max
        self._bisect_end: int | None = None
        self._strike_key: tuple[int, bool] | None = None
        self._strikes = 0
        self._armed_for_500 = True
        self._ack_lines_logged: set[tuple[str, str]] = set()
        self._last_ack_notes: tuple[tuple[str, ...], tuple[str, ...]] | None = None

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
        refusals = 0
        self._refresh_health()
        try:
            while not self._stop_requested:
                batch = self.spool.peek(self._limit)
                if not batch:
                    break
                seqs = [seq for seq, _ in batch]
                first, last = seqs[0], seqs[-1]
                try:
                    ack = self.sender.send(self.agent, [body for _, body in batch])
                except RateLimited as exc:
                    return self._transport_failed(exc, sent, acked, floor=exc.retry_after)
                except TransportError as exc:
                    if exc.status != 500 or not self._internal_error_repeats(batch, exc):
                        return self._transport_failed(exc, sent, acked)
                    refusal: SendError = exc
                except BatchRefused as exc:
                    if exc.about_agent_header:
                        return self._rejected(exc, sent, acked, first, last)
                    refusal = exc
                except RejectedError as exc:
                    return self._rejected(exc, sent, acked, first, last)
                else:
                    through = self._check_ack(ack, first, last)
                    if through is None:
                        error = TransportError(
                            f"collector acknowledged through seq {ack.accepted_through_seq}, "
                            f"nothing of seqs {first}..{last}"
                        )
                        return self._transport_failed(error, sent, acked)
                    sent += self.spool.ack_through(through, sent=seqs)
                    acked = through
                    self._accepted(through)
                    self._note_ack(ack)
                    continue
                # The collector cannot take something in this batch: split it, oldest half first
                # (so seqs still arrive in order), down to the one report it cannot take.
                refusals += 1
                if len(batch) > 1:
                    self._limit = max(1, len(batch) // 2)
                    self._bisect_end = max(last, self._bisect_end or 0)
                    log.warning(
                        "collector cannot take seqs %s..%s (%s); trying the first %s alone to find the culprit",
                        first,
                        last,
                        _first_line(refusal),
                        self._limit,
                    )
                elif not self._dead_letter(first, refusal):
                    return self._transport_failed(refusal, sent, acked)
                if refusals >= MAX_REFUSALS_PER_FLUSH:
                    # Splitting costs requests; the rest waits for the next regular flush.
                    self._pause(self.send_interval)
                    self._record(SendRecord(at=self._wall_clock(), ok=False, detail=str(refusal), acked_through=acked))
                    return FlushResult(sent=sent, acked_through=acked, error=refusal, retry_in=self.send_interval)
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

    def _check_ack(self, ack: wire.BatchAck, first: int, last: int) -> int | None:
        """The seq through which the ack may delete, or None when it acknowledged nothing."""
        through = ack.accepted_through_seq
        if through > last:
            # Trusting this would delete reports the collector never saw.
            log.warning("collector acknowledged through seq %s but was sent only up to %s", through, last)
            through = last
        return None if through < first else through

    # -- reports the collector cannot take ------------------------------------

    def _internal_error_repeats(self, batch: list[tuple[int, bytes]], exc: TransportError) -> bool:
        """Count a 500 against this batch; True once it is to be split or dead-lettered.

        A 500 may be a passing fault of the collector, so a batch is retried with
        backoff first. While a split is under way its halves are split at their
        first 500 (the whole already failed often enough), but a single report is
        dead-lettered only after it failed alone ``INTERNAL_ERROR_STRIKES`` times,
        and only if the collector took some report since the last report that was
        dead-lettered for a 500: a collector that fails on everything is broken
        itself, and must not empty the spool into the dead-letter table.
        """
        # A single report collects strikes of its own, apart from the batches it was in.
        key = (batch[0][0], len(batch) == 1)
        self._strikes = self._strikes + 1 if key == self._strike_key else 1
        self._strike_key = key
        if len(batch) > 1 and self._bisect_end is not None:
            return True
        if self._strikes < INTERNAL_ERROR_STRIKES:
            return False
        if len(batch) == 1 and not self._armed_for_500:
            if self._strikes == INTERNAL_ERROR_STRIKES:
                log.error(
                    "collector answers 500 for seq %s too, right after dead-lettering another report for a 500: "
                    "that looks like a fault of the collector, not of the reports; nothing more is dead-lettered "
                    "until it accepts a report (check the collector's log)",
                    batch[0][0],
                )
            return False
        return True

    def _dead_letter(self, seq: int, exc: SendError) -> bool:
        status = int(getattr(exc, "status", 0) or 0)
        try:
            moved = self.spool.dead_letter(seq, status, collector_says(exc), self._wall_clock())
        except sqlite3.Error as error:
            # It stays pending: better blocked than deleted without a trace.
            log.error("cannot move seq %s to the dead-letter table of %s: %s", seq, self.spool.path, error)
            return False
        if moved:
            log.error(
                "collector cannot take report seq %s (HTTP %s: %s); moved it to the dead-letter table "
                "(leitstand-agent deadletter list) and going on with the rest",
                seq,
                status,
                _first_line(exc),
            )
        if status == 500:
            self._armed_for_500 = False
        self._bisect_end = None
        self._strike_key, self._strikes = None, 0
        self._limit = min(self.batch_max, self._limit * 2)
        self._refresh_health()
        return True

    def _accepted(self, through: int) -> None:
        self._armed_for_500 = True
        self._strike_key, self._strikes = None, 0
        if self._bisect_end is not None and through < self._bisect_end:
            return  # still narrowing down: keep the batch size
        self._bisect_end = None
        self._limit = min(self.batch_max, self._limit * 2)

    def _refresh_health(self) -> None:
        try:
            count = self.spool.dead_letter_count()
        except sqlite3.Error as exc:
            log.debug("cannot count dead letters: %s", exc)
            return
        if count != self.agent.dead_letters:
            self.agent = msgspec.structs.replace(self.agent, dead_letters=count)

    def _note_ack(self, ack: wire.BatchAck) -> None:
        """Warn once per distinct line the collector refused or ignored; keep the latest set."""
        for kind, lines in (("refused", ack.refused), ("ignored unknown field", ack.unknown_fields)):
            for line in lines:
                if (kind, line) in self._ack_lines_logged:
                    continue
                if len(self._ack_lines_logged) < MAX_ACK_LINES_REMEMBERED:
                    self._ack_lines_logged.add((kind, line))
                log.warning("collector %s: %s", kind, line)
        current = (tuple(ack.refused), tuple(ack.unknown_fields))
        if current == self._last_ack_notes:
            return
        self._last_ack_notes = current
        try:
            self.spool.record_ack_notes(
                AckNotes(at=self._wall_clock(), refused=list(ack.refused), unknown_fields=list(ack.unknown_fields))
            )
        except sqlite3.Error as exc:  # only `status` reads it
            log.debug("cannot record what the collector refused: %s", exc)

    def _transport_failed(
        self, exc: SendError, sent: int, acked: int | None, *, floor: float | None = None
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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def run_until_signalled(runner: Runner, signals: Sequence[signal.Signals] = (signal.SIGTERM, signal.SIGINT)) -> None:
    """Run ``runner`` until one of ``signals`` arrives, then return normally.

    The handler only sets the runner's stop flag, so the step in progress (a
    spool write, an HTTP request) completes. Idle waits happen in ``select`` on a
    wakeup socket, so a signal ends the wait at once instead of after the
    remaining sleep. A socket pair rather than a pipe: Windows can select on
    sockets only (a service wrapper's Ctrl+C arrives there as SIGINT). Must be
    called from the main thread; handlers are restored afterwards.
    """
    wake_read, wake_write = socket.socketpair()
    wake_read.setblocking(False)
    wake_write.setblocking(False)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("received %s; stopping after the current step", signal.Signals(signum).name)
        runner.request_stop()

    def idle(seconds: float) -> None:
        select.select([wake_read], [], [], seconds)
        with contextlib.suppress(BlockingIOError):  # nothing to drain: the timeout ended the wait
            wake_read.recv(512)

    previous = {sig: signal.signal(sig, on_signal) for sig in signals}
    previous_fd = signal.set_wakeup_fd(wake_write.fileno(), warn_on_full_buffer=False)
    try:
        runner.run(idle=idle)
    finally:
        signal.set_wakeup_fd(previous_fd)
        for sig, handler in previous.items():
            if handler is not None:
                signal.signal(sig, handler)
        wake_read.close()
        wake_write.close()
