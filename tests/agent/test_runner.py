"""The runner's logic on a fake clock: no test here waits for real time to pass."""

from __future__ import annotations

import datetime
import json
import os
import random
import signal
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from agent import wire
from agent.runner import REJECTED_MIN_PAUSE, Runner, _ClockJumpGuard, run_until_signalled
from agent.sender import Backoff, RateLimited, RejectedError, Sender, TransportError
from agent.spool import Spool
from tests.agent.test_sender import CollectorStub, Reply, Seen

AGENT = wire.AgentInfo(id="agent-1", hostname="rathaus-tc-017", role="thin-client")
EPOCH = 1_763_812_345.0


class FakeClock:
    """Monotonic and wall clock in one; only advance() moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def wall(self) -> float:
        return EPOCH + self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeSampler:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.intervals: list[float] = []
        self.fail_next = False
        self.cpu_percent = 12.5

    def sample(self, interval_s: float) -> dict[str, object]:
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("psutil exploded")
        self.intervals.append(interval_s)
        return {
            "ts": self.clock.wall(),
            "interval_s": interval_s,
            "cpu": wire.Cpu(count=4, percent=self.cpu_percent, busy_seconds_total=100.0),
        }


class RecordingSender:
    """A sender that acknowledges everything and remembers the seqs."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.closed = 0

    def send(self, agent: wire.AgentInfo, reports: Sequence[bytes]) -> wire.BatchAck:
        seqs = [json.loads(r)["seq"] for r in reports]
        self.batches.append(seqs)
        return wire.BatchAck(accepted_through_seq=max(seqs))

    def close(self) -> None:
        self.closed += 1


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    with Spool(tmp_path / "spool.sqlite") as s:
        yield s


@pytest.fixture
def stub() -> Iterator[CollectorStub]:
    with CollectorStub() as collector:
        yield collector


def make_runner(
    spool: Spool, sender: object, clock: FakeClock, *, batch_max: int = 100, sampler: FakeSampler | None = None
) -> Runner:
    return Runner(
        sampler or FakeSampler(clock),
        spool,
        sender,  # type: ignore[arg-type]
        AGENT,
        sample_interval=15.0,
        send_interval=60.0,
        batch_max=batch_max,
        clock=clock,
        wall_clock=clock.wall,
        backoff=Backoff(base=1.0, cap=300.0, rng=random.Random(7)),
        rejected_backoff=Backoff(base=REJECTED_MIN_PAUSE, cap=6 * 3600.0, rng=random.Random(7)),
    )


def sample_for(runner: Runner, clock: FakeClock, count: int) -> None:
    for _ in range(count):
        clock.advance(15.0)
        assert runner.sample_once() is not None


# -- outage and recovery -------------------------------------------------------


def test_hour_long_outage_then_every_report_arrives_once_and_in_order(spool: Spool, clock: FakeClock) -> None:
    with CollectorStub(listening=False) as collector, Sender(collector.url, "t", timeout=5) as sender:
        runner = make_runner(spool, sender, clock)
        failures = []
        for i in range(240):  # one hour at 15 s
            clock.advance(15.0)
            runner.sample_once()
            if i % 4 == 3:  # the regular flush every 60 s
                result = runner.maybe_flush()
                if result is not None:
                    failures.append(result)
        assert spool.pending_count() == 240
        assert spool.last_seq() == 240
        assert failures
        assert all(isinstance(r.error, TransportError) and r.retry_in is not None for r in failures)
        assert all(r.retry_in <= 300.0 for r in failures if r.retry_in is not None)

        collector.activate()  # the collector is back
        clock.advance(301.0)  # past the longest possible backoff
        result = runner.maybe_flush()

    assert result is not None
    assert result.ok
    assert result.sent == 240
    assert collector.received == list(range(1, 241))  # each exactly once, in order
    assert [len(r.seqs) for r in collector.requests] == [100, 100, 40]
    assert spool.pending_count() == 0
    last = spool.last_send()
    assert last is not None
    assert last.ok
    assert last.acked_through == 240


def test_transport_error_waits_for_the_backoff(spool: Spool, clock: FakeClock, stub: CollectorStub) -> None:
    stub.script.append(Reply(503, {"error": "database refused the write"}))
    with Sender(stub.url, "t") as sender:
        runner = make_runner(spool, sender, clock)
        sample_for(runner, clock, 4)
        failed = runner.flush()
        assert isinstance(failed.error, TransportError)
        assert failed.retry_in is not None
        clock.advance(failed.retry_in - 0.01)
        assert runner.maybe_flush() is None  # still backing off: no request
        assert len(stub.requests) == 1
        clock.advance(0.02)
        retried = runner.maybe_flush()
    assert retried is not None
    assert retried.ok
    assert stub.received == [1, 2, 3, 4]
    assert runner.next_send_at == float("-inf")


def test_retry_after_is_a_lower_bound_on_the_wait(spool: Spool, clock: FakeClock, stub: CollectorStub) -> None:
    stub.script.append(Reply(429, {"error": "busy"}, headers={"Retry-After": "120"}))
    with Sender(stub.url, "t") as sender:
        runner = make_runner(spool, sender, clock)
        sample_for(runner, clock, 2)
        failed = runner.flush()
        assert isinstance(failed.error, RateLimited)
        assert failed.retry_in is not None
        assert failed.retry_in >= 120.0
        clock.advance(119.0)
        assert runner.maybe_flush() is None
        clock.advance(failed.retry_in - 119.0)
        assert runner.maybe_flush() is not None
    assert stub.received == [1, 2]


@pytest.mark.parametrize("status", [401, 403, 404, 409])
def test_rejected_batch_is_kept_and_not_retried_in_a_hot_loop(
    spool: Spool, clock: FakeClock, stub: CollectorStub, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    stub.script.append(Reply(status, {"error": "invalid report batch", "detail": ["$.reports[0].cpu: boom"]}))
    with Sender(stub.url, "t") as sender:
        runner = make_runner(spool, sender, clock)
        sample_for(runner, clock, 3)
        failed = runner.flush()
        assert isinstance(failed.error, RejectedError)
        assert failed.retry_in is not None
        assert failed.retry_in >= REJECTED_MIN_PAUSE
        errors = [r for r in caplog.records if r.levelname == "ERROR"]
        assert len(errors) == 1
        assert "$.reports[0].cpu: boom" in errors[0].getMessage()  # the collector's words, loudly

        # Fourteen minutes of normal operation: sampling goes on, sending does not.
        for i in range(56):
            clock.advance(15.0)
            assert runner.sample_once() is not None
            if i % 4 == 3:
                assert runner.maybe_flush() is None
        assert len(stub.requests) == 1
        assert spool.pending_count() == 3 + 56

        clock.advance(runner.next_send_at - clock.now + 0.001)  # the pause is over
        resumed = runner.maybe_flush()
    assert resumed is not None
    assert resumed.ok
    assert stub.received == list(range(1, 60))


def test_payload_too_large_halves_the_batch(spool: Spool, clock: FakeClock, stub: CollectorStub) -> None:
    def small_batches_only(seen: Seen) -> Reply:
        if len(seen.seqs) > 10:
            return Reply(413, {"error": "body too large"})
        return stub.ack_all(seen)

    stub.responder = small_batches_only
    with Sender(stub.url, "t") as sender:
        runner = make_runner(spool, sender, clock, batch_max=40)
        sample_for(runner, clock, 30)
        result = runner.flush()
    assert result.ok
    assert stub.received == list(range(1, 31))
    assert spool.pending_count() == 0


def test_partial_acknowledgement_resends_only_the_rest(spool: Spool, clock: FakeClock, stub: CollectorStub) -> None:
    def half(seen: Seen) -> Reply:
        seqs = seen.seqs
        kept = seqs[: max(1, len(seqs) // 2)]
        stub.received.extend(kept)
        return Reply(200, {"accepted_through_seq": kept[-1]})

    stub.responder = half
    with Sender(stub.url, "t") as sender:
        runner = make_runner(spool, sender, clock, batch_max=8)
        sample_for(runner, clock, 8)
        assert runner.flush().ok
    assert stub.received == list(range(1, 9))
    assert stub.requests[1].seqs[0] == 5  # the second batch starts right after the ack


def test_acknowledgement_beyond_the_batch_deletes_nothing_unsent(
    spool: Spool, clock: FakeClock, stub: CollectorStub
) -> None:
    def overshoot(seen: Seen) -> Reply:
        stub.received.extend(seen.seqs)
        return Reply(200, {"accepted_through_seq": 1000})

    stub.responder = overshoot
    with Sender(stub.url, "t") as sender:
        runner = make_runner(spool, sender, clock, batch_max=10)
        sample_for(runner, clock, 25)
        assert runner.flush().ok
    assert stub.received == list(range(1, 26))  # 11..25 were still sent, not deleted


def test_acknowledgement_without_progress_backs_off(spool: Spool, clock: FakeClock, stub: CollectorStub) -> None:
    stub.responder = lambda seen: Reply(200, {"accepted_through_seq": 0})
    with Sender(stub.url, "t") as sender:
        runner = make_runner(spool, sender, clock)
        sample_for(runner, clock, 3)
        result = runner.flush()
    assert isinstance(result.error, TransportError)
    assert result.retry_in is not None
    assert len(stub.requests) == 1  # no loop resending the same batch
    assert spool.pending_count() == 3


def test_failed_send_is_recorded_for_status(spool: Spool, clock: FakeClock, stub: CollectorStub) -> None:
    stub.script.append(Reply(503, {"error": "disk full"}))
    with Sender(stub.url, "t") as sender:
        runner = make_runner(spool, sender, clock)
        sample_for(runner, clock, 1)
        runner.flush()
    last = spool.last_send()
    assert last is not None
    assert not last.ok
    assert "503" in last.detail
    assert last.at == clock.wall()


def test_stop_requested_during_a_flush_ends_it_after_the_current_batch(spool: Spool, clock: FakeClock) -> None:
    class StoppingSender(RecordingSender):
        def send(self, agent: wire.AgentInfo, reports: Sequence[bytes]) -> wire.BatchAck:
            runner.request_stop()
            return super().send(agent, reports)

    sender = StoppingSender()
    runner = make_runner(spool, sender, clock, batch_max=10)
    sample_for(runner, clock, 30)
    result = runner.flush()
    assert result.sent == 10
    assert sender.batches == [list(range(1, 11))]
    assert spool.pending_count() == 20


def test_each_flush_closes_the_connection(spool: Spool, clock: FakeClock) -> None:
    sender = RecordingSender()
    runner = make_runner(spool, sender, clock)
    sample_for(runner, clock, 2)
    runner.flush()
    assert sender.closed == 1


# -- sampling ------------------------------------------------------------------


def test_interval_follows_elapsed_time_within_bounds(spool: Spool, clock: FakeClock) -> None:
    sampler = FakeSampler(clock)
    runner = make_runner(spool, RecordingSender(), clock, sampler=sampler)
    runner.sample_once()  # first report: one nominal interval
    clock.advance(20.0)  # delayed by a slow flush
    runner.sample_once()
    clock.advance(3600.0)  # the process was frozen: not observed, not claimed
    runner.sample_once()
    runner.sample_once()  # no time passed at all
    assert sampler.intervals == [15.0, 20.0, 60.0, 15.0]


def test_sampler_failure_is_logged_and_uses_no_seq(
    spool: Spool, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    sampler = FakeSampler(clock)
    runner = make_runner(spool, RecordingSender(), clock, sampler=sampler)
    sampler.fail_next = True
    assert runner.sample_once() is None
    assert any("sampling failed" in r.getMessage() for r in caplog.records)
    assert runner.sample_once() == 1


def test_invalid_report_is_not_spooled(spool: Spool, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    sampler = FakeSampler(clock)
    sampler.cpu_percent = 250.0  # would make the collector reject the batch, and everything behind it
    runner = make_runner(spool, RecordingSender(), clock, sampler=sampler)
    assert runner.sample_once() is None
    assert spool.pending_count() == 0
    assert any(r.levelname == "ERROR" and "wire format" in r.getMessage() for r in caplog.records)


# -- the loop ------------------------------------------------------------------


def test_run_samples_and_sends_at_start_then_idles_until_stopped(spool: Spool, clock: FakeClock) -> None:
    sender = RecordingSender()
    runner = make_runner(spool, sender, clock)
    waits: list[float] = []

    def idle(seconds: float) -> None:
        waits.append(seconds)
        runner.request_stop()

    runner.run(idle=idle)
    assert sender.batches == [[1]]
    assert spool.pending_count() == 0
    assert len(waits) == 1
    assert 0 < waits[0] <= 15.0  # never sleeps past the next sample


def test_run_does_not_start_when_stop_was_already_requested(spool: Spool, clock: FakeClock) -> None:
    sender = RecordingSender()
    runner = make_runner(spool, sender, clock)
    runner.request_stop()
    runner.run(idle=lambda seconds: pytest.fail("must not idle"))
    assert sender.batches == []


def test_sigterm_during_a_write_finishes_it_and_returns(spool: Spool, clock: FakeClock) -> None:
    class SignallingSampler(FakeSampler):
        def sample(self, interval_s: float) -> dict[str, object]:
            os.kill(os.getpid(), signal.SIGTERM)  # arrives while the report is being made
            return super().sample(interval_s)

    previous = signal.getsignal(signal.SIGTERM)
    sender = RecordingSender()
    runner = make_runner(spool, sender, clock, sampler=SignallingSampler(clock))
    run_until_signalled(runner)
    assert runner.stop_requested
    assert spool.last_seq() == 1  # the report in progress was written
    assert sender.batches == []  # nothing new was started after the signal
    assert signal.getsignal(signal.SIGTERM) is previous


def test_signal_ends_an_idle_wait_at_once(spool: Spool) -> None:
    # Real clock, but an hour-long sample interval: only the signal can end the wait.
    timer = threading.Timer(0.1, os.kill, args=(os.getpid(), signal.SIGINT))

    class TimerSampler(FakeSampler):
        def sample(self, interval_s: float) -> dict[str, object]:
            timer.start()  # the handlers are installed by now; the signal comes while idle
            return super().sample(interval_s)

    sender = RecordingSender()
    runner = Runner(TimerSampler(FakeClock()), spool, sender, AGENT, sample_interval=3600.0, send_interval=3600.0)
    try:
        run_until_signalled(runner)
    finally:
        timer.cancel()
        timer.join()
    assert runner.stop_requested
    assert sender.batches == [[1]]


def test_clock_jump_guard_notices_the_wall_clock_going_back() -> None:
    local = [datetime.datetime(2026, 10, 25, 2, 59, 50)]
    mono = [500.0]
    guard = _ClockJumpGuard(local_now=lambda: local[0], monotonic=lambda: mono[0])

    local[0] += datetime.timedelta(seconds=15)
    mono[0] += 15.0
    assert not guard.jumped_back()  # time moving normally

    local[0] -= datetime.timedelta(hours=1)  # 03:00 CEST becomes 02:00 CET
    mono[0] += 15.0
    assert guard.jumped_back()

    local[0] += datetime.timedelta(hours=2)  # a forward step needs no rescheduling
    mono[0] += 15.0
    assert not guard.jumped_back()
