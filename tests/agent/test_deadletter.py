"""A report the collector cannot take is split out and dead-lettered; the rest flows.

The collector is a real HTTP server whose answers the test scripts (the stub of
test_sender.py); the clock is fake, so backoffs pass in no time.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent import wire
from agent.runner import INTERNAL_ERROR_STRIKES, MAX_REFUSALS_PER_FLUSH, FlushResult, Runner
from agent.sender import Sender, TransportError
from agent.spool import Spool
from tests.agent.test_runner import FakeClock, make_runner, sample_for
from tests.agent.test_sender import CollectorStub, Reply, Seen


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


class PoisonCollector:
    """Stores every batch like the collector, except a batch holding a poison seq:
    that one gets ``status`` and nothing of it is stored."""

    def __init__(self, stub: CollectorStub, poison: set[int], status: int = 400) -> None:
        self.stub = stub
        self.poison = poison
        self.status = status
        self.headers: list[dict[str, object]] = []
        stub.responder = self

    def __call__(self, seen: Seen) -> Reply:
        self.headers.append(json.loads(seen.body)["agent"])
        seqs = seen.seqs
        bad = [i for i, seq in enumerate(seqs) if seq in self.poison]
        if bad:
            detail = [f"$.reports[{i}].net[0].rx_bytes_total: out of range" for i in bad]
            error = "invalid report batch" if self.status < 500 else "internal error"
            return Reply(self.status, {"error": error, "detail": detail})
        return self.stub.ack_all(seen)


def drain(runner: Runner, clock: FakeClock, *, rounds: int = 50) -> list[FlushResult]:
    """Flush, waiting out every backoff or pause on the fake clock, until nothing is pending."""
    results = []
    for _ in range(rounds):
        if runner.spool.pending_count() == 0:
            break
        if runner.next_send_at > clock.now:
            clock.advance(runner.next_send_at - clock.now)
        result = runner.maybe_flush()
        assert result is not None
        results.append(result)
    return results


@pytest.mark.parametrize("status", [400, 413, 422])
def test_one_refused_report_in_fifty_is_dead_lettered_and_the_rest_stored_once(
    spool: Spool, clock: FakeClock, stub: CollectorStub, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    collector = PoisonCollector(stub, {23}, status)
    with Sender(stub.url, "t") as sender:
        runner = make_runner(spool, sender, clock)
        sample_for(runner, clock, 50)
        result = runner.flush()  # a refusal needs no retries: one flush does it
        assert result.ok
        assert stub.received == [s for s in range(1, 51) if s != 23]  # each once, in order
        assert spool.pending_count() == 0
        (dead,) = spool.dead_letters(bodies=True)
        assert (dead.seq, dead.status) == (23, status)
        # The collector's words, without our URL: its error and the field it names.
        assert dead.error == "invalid report batch: $.reports[0].net[0].rx_bytes_total: out of range"
        assert json.loads(dead.body)["seq"] == 23  # the report itself is kept
        # Splitting 50 reports costs a handful of requests, not one per report.
        assert len(stub.requests) <= 14
        assert [r for r in caplog.records if r.levelname == "ERROR" and "seq 23" in r.getMessage()]

        # Later reports flow, and every batch now carries the health field.
        sample_for(runner, clock, 5)
        assert runner.flush().ok
    assert stub.received[-5:] == [51, 52, 53, 54, 55]
    assert collector.headers[0].get("dead_letters", 0) == 0
    assert collector.headers[-1]["dead_letters"] == 1


def test_a_repeated_500_is_split_but_each_report_gets_its_own_retries(
    spool: Spool, clock: FakeClock, stub: CollectorStub
) -> None:
    PoisonCollector(stub, {37}, 500)
    with Sender(stub.url, "t") as sender:
        runner = make_runner(spool, sender, clock)
        sample_for(runner, clock, 50)
        results = drain(runner, clock)
    assert stub.received == [s for s in range(1, 51) if s != 37]
    (dead,) = spool.dead_letters()
    assert (dead.seq, dead.status) == (37, 500)
    assert dead.error_line == "internal error: $.reports[0].net[0].rx_bytes_total: out of range"
    # The whole batch failed INTERNAL_ERROR_STRIKES times before it was split, and
    # the single report as often again before it was moved.
    failed_alone = [r for r in stub.requests if r.seqs == [37]]
    assert len(failed_alone) == INTERNAL_ERROR_STRIKES
    assert [len(r.seqs) for r in stub.requests[:INTERNAL_ERROR_STRIKES]] == [50] * INTERNAL_ERROR_STRIKES
    assert all(isinstance(r.error, TransportError) for r in results if not r.ok)
    assert results[-1].ok


@pytest.mark.parametrize("status", [502, 503, 504, 429])
def test_transient_answers_never_dead_letter(spool: Spool, clock: FakeClock, stub: CollectorStub, status: int) -> None:
    stub.responder = lambda seen: Reply(status, {"error": "storage unavailable"}, headers={"Retry-After": "30"})
    with Sender(stub.url, "t") as sender:
        runner = make_runner(spool, sender, clock)
        sample_for(runner, clock, 20)
        drain(runner, clock, rounds=30)
        assert spool.dead_letter_count() == 0
        assert spool.pending_count() == 20
        assert all(len(r.seqs) == 20 for r in stub.requests)  # never split, never narrowed
        stub.responder = stub.ack_all
        drain(runner, clock)
    assert stub.received == list(range(1, 21))


def test_a_collector_that_fails_on_everything_does_not_empty_the_spool(
    spool: Spool, clock: FakeClock, stub: CollectorStub, caplog: pytest.LogCaptureFixture
) -> None:
    stub.responder = lambda seen: Reply(500, {"error": "internal error"})
    with Sender(stub.url, "t") as sender:
        runner = make_runner(spool, sender, clock)
        sample_for(runner, clock, 20)
        drain(runner, clock, rounds=60)
        # At most the first report is taken for the culprit; after that a 500 for the
        # next one too points at the collector, and nothing more is moved.
        assert spool.dead_letter_count() <= 1
        assert spool.pending_count() >= 19
        assert any("fault of the collector" in r.getMessage() for r in caplog.records)

        stub.responder = stub.ack_all  # the collector is fixed
        drain(runner, clock)
    assert stub.received == list(range(2, 21))
    assert spool.pending_count() == 0


def test_refusal_of_the_agent_header_dead_letters_nothing(spool: Spool, clock: FakeClock, stub: CollectorStub) -> None:
    stub.script.append(Reply(400, {"error": "invalid report batch", "detail": ["Expected `str` at `$.agent.site`"]}))
    with Sender(stub.url, "t") as sender:
        runner = make_runner(spool, sender, clock)
        sample_for(runner, clock, 10)
        result = runner.flush()
    assert not result.ok
    assert len(stub.requests) == 1
    assert spool.dead_letter_count() == 0
    assert spool.pending_count() == 10


@pytest.mark.parametrize("status", [401, 403, 409])
def test_token_and_enrolment_problems_dead_letter_nothing(
    spool: Spool, clock: FakeClock, stub: CollectorStub, status: int
) -> None:
    stub.responder = lambda seen: Reply(status, {"error": "no"})
    with Sender(stub.url, "t") as sender:
        runner = make_runner(spool, sender, clock)
        sample_for(runner, clock, 10)
        drain(runner, clock, rounds=10)
    assert spool.dead_letter_count() == 0
    assert spool.pending_count() == 10
    assert len(stub.requests) == 10  # one per (long) pause, never split


def test_splitting_is_bounded_per_flush(spool: Spool, clock: FakeClock, stub: CollectorStub) -> None:
    PoisonCollector(stub, set(range(1, 61)), 400)  # nothing this agent has is acceptable
    with Sender(stub.url, "t") as sender:
        runner = make_runner(spool, sender, clock)
        sample_for(runner, clock, 60)
        result = runner.flush()
        assert not result.ok
        assert len(stub.requests) == MAX_REFUSALS_PER_FLUSH
        assert result.retry_in == runner.send_interval  # the rest waits for the next regular flush
        assert runner.maybe_flush() is None
        drain(runner, clock, rounds=100)
    assert spool.dead_letter_count() == 60
    assert spool.pending_count() == 0
    assert stub.received == []


def test_two_poison_reports_in_one_batch(spool: Spool, clock: FakeClock, stub: CollectorStub) -> None:
    PoisonCollector(stub, {1, 64}, 400)
    with Sender(stub.url, "t") as sender:
        runner = make_runner(spool, sender, clock, batch_max=100)
        sample_for(runner, clock, 100)
        drain(runner, clock)
    assert sorted(d.seq for d in spool.dead_letters()) == [1, 64]
    assert stub.received == [s for s in range(1, 101) if s not in (1, 64)]


def test_ack_notes_are_warned_once_and_kept_for_status(
    spool: Spool, clock: FakeClock, stub: CollectorStub, caplog: pytest.LogCaptureFixture
) -> None:
    notes = {"refused": ["device drucker-3og: assigned to tenant stadt-b"], "unknown_fields": ["$.reports[0].pages_x"]}

    def ack_with_notes(seen: Seen) -> Reply:
        seqs = seen.seqs
        stub.received.extend(seqs)
        return Reply(200, {"accepted_through_seq": max(seqs), **notes})

    stub.responder = ack_with_notes
    with caplog.at_level(logging.WARNING, logger="leitstand.agent"), Sender(stub.url, "t") as sender:
        runner = make_runner(spool, sender, clock, batch_max=2)
        sample_for(runner, clock, 6)
        assert runner.flush().ok  # three batches, each with the same notes
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warned == [
        "collector refused: device drucker-3og: assigned to tenant stadt-b",
        "collector ignored unknown field: $.reports[0].pages_x",
    ]
    kept = spool.ack_notes()
    assert kept is not None
    assert (kept.refused, kept.unknown_fields) == (notes["refused"], notes["unknown_fields"])


def test_dead_letter_table_survives_restart_and_retry_resends_under_the_old_seq(
    tmp_path: Path, clock: FakeClock, stub: CollectorStub
) -> None:
    collector = PoisonCollector(stub, {3}, 422)
    path = tmp_path / "spool.sqlite"
    with Spool(path) as spool, Sender(stub.url, "t") as sender:
        runner = make_runner(spool, sender, clock)
        sample_for(runner, clock, 5)
        assert runner.flush().ok
    collector.poison = set()  # the collector was fixed
    with Spool(path) as spool, Sender(stub.url, "t") as sender:
        assert [d.seq for d in spool.dead_letters()] == [3]
        assert spool.retry_dead_letters([3]) == [3]
        runner = make_runner(spool, sender, clock)
        assert runner.flush().ok
        assert spool.dead_letter_count() == 0
    assert stub.received == [1, 2, 4, 5, 3]
    assert collector.headers[-1].get("dead_letters", 0) == 0


def test_health_field_counts_dead_letters(spool: Spool, clock: FakeClock, stub: CollectorStub) -> None:
    collector = PoisonCollector(stub, {1}, 400)
    with Sender(stub.url, "t") as sender:
        runner = make_runner(spool, sender, clock)
        sample_for(runner, clock, 1)
        runner.flush()
        assert runner.agent.dead_letters == 1
        sample_for(runner, clock, 1)
        runner.flush()
    assert [h.get("dead_letters", 0) for h in collector.headers] == [0, 1]
    assert wire.AgentInfo(id="a", hostname="h", dead_letters=1).dead_letters == 1
