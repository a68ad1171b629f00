"""The pure seq bookkeeping, exhaustively: whatever the network does to the
batches (resend, reorder, split, duplicate), each seq is stored exactly once."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.wire import Report
from collector import ingest
from collector.errors import ConflictError
from collector.ingest import HostSeqState, plan_batch


def rep(seq: int, ts: float | None = None) -> Report:
    return Report(seq=seq, ts=1_700_000_000.0 + (seq if ts is None else ts), interval_s=15)


def deliver(batches: list[list[int]], state: HostSeqState | None = None) -> tuple[list[int], HostSeqState]:
    state = state or HostSeqState()
    stored: list[int] = []
    for seqs in batches:
        plan = plan_batch(state, [rep(s) for s in seqs])
        stored += [r.seq for r in plan.new]
        state = plan.state
    return stored, state


def test_first_contact_records_skipped_prefix_as_gap() -> None:
    plan = plan_batch(HostSeqState(), [rep(4), rep(5)])
    assert [r.seq for r in plan.new] == [4, 5]
    assert plan.state.gaps == ((1, 3),)
    assert plan.opened == [(1, 3)]
    assert plan.accepted_through_seq == 5


def test_duplicate_within_one_batch_counts_once() -> None:
    plan = plan_batch(HostSeqState(), [rep(1), rep(1), rep(2)])
    assert [r.seq for r in plan.new] == [1, 2]
    assert plan.duplicates == 1


def test_gap_filled_from_the_middle_splits_it() -> None:
    stored, state = deliver([[1, 10], [5]])
    assert stored == [1, 10, 5]
    assert state.gaps == ((2, 4), (6, 9))


def test_seq_restart_without_reenrollment_is_a_conflict() -> None:
    _, state = deliver([[1, 2, 3]])
    with pytest.raises(ConflictError, match="re-enroll"):
        plan_batch(state, [rep(1, ts=100.0)])


def test_seq_restart_after_reenrollment_opens_a_new_epoch() -> None:
    _, state = deliver([[1, 2, 3]])
    reenrolled = HostSeqState(
        last_seq=state.last_seq, last_ts=state.last_ts, gaps=state.gaps, epoch=state.epoch, rebase_allowed=True
    )
    plan = plan_batch(reenrolled, [rep(1, ts=100.0), rep(2, ts=115.0)])
    assert [r.seq for r in plan.new] == [1, 2]
    assert plan.state.epoch == 1
    assert plan.state.last_seq == 2
    assert plan.state.rebase_allowed is False


def test_resend_after_reenrollment_with_kept_spool_is_still_a_duplicate() -> None:
    _, state = deliver([[1, 2, 3]])
    reenrolled = HostSeqState(last_seq=3, last_ts=state.last_ts, epoch=0, rebase_allowed=True)
    plan = plan_batch(reenrolled, [rep(2), rep(3), rep(4)])
    assert [r.seq for r in plan.new] == [4]
    assert plan.duplicates == 2
    assert plan.state.epoch == 0


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=60),
    data=st.data(),
)
def test_any_delivery_order_and_batching_stores_each_seq_exactly_once(n: int, data: st.DataObject) -> None:
    seqs = list(range(1, n + 1))
    # Every seq is delivered at least once; some several times; any order; any split.
    extra = data.draw(st.lists(st.sampled_from(seqs), max_size=2 * n))
    stream = data.draw(st.permutations(seqs + extra))
    cuts = sorted(data.draw(st.sets(st.integers(min_value=1, max_value=max(1, len(stream) - 1)), max_size=10)))
    batches, start = [], 0
    for cut in [*cuts, len(stream)]:
        if cut > start:
            batches.append(stream[start:cut])
            start = cut
    stored, state = deliver(batches)
    assert sorted(stored) == seqs
    assert state.gaps == ()
    assert state.last_seq == n


@settings(max_examples=200, deadline=None)
@given(delivered=st.sets(st.integers(min_value=1, max_value=80), min_size=1))
def test_gaps_are_exactly_the_missing_seqs(delivered: set[int]) -> None:
    stored, state = deliver([[s] for s in sorted(delivered, reverse=True)])
    assert sorted(stored) == sorted(delivered)
    missing = {s for lo, hi in state.gaps for s in range(lo, hi + 1)}
    assert missing == set(range(1, max(delivered) + 1)) - delivered


@settings(max_examples=400, deadline=None)
@given(
    last_seq=st.integers(0, 30),
    last_ts=st.one_of(st.none(), st.floats(0, 60)),
    gap_bounds=st.lists(st.integers(1, 30), max_size=6, unique=True),
    seqs=st.lists(st.integers(1, 45), max_size=8),
    ts=st.lists(st.floats(0, 60), min_size=8, max_size=8),
    epoch=st.integers(0, 2),
    rebase_allowed=st.booleans(),
)
def test_in_order_fast_path_plans_as_the_general_loop(
    last_seq: int,
    last_ts: float | None,
    gap_bounds: list[int],
    seqs: list[int],
    ts: list[float],
    epoch: int,
    rebase_allowed: bool,
) -> None:
    """`plan_batch` takes a short way for reports in ascending seq order above
    `last_seq`; whatever it plans, the loop for any batch plans the same."""
    bounds = sorted(b for b in gap_bounds if b <= last_seq)
    gaps = tuple((lo, hi) for lo, hi in zip(bounds[::2], bounds[1::2], strict=False))
    state = HostSeqState(last_seq=last_seq, last_ts=last_ts, gaps=gaps, epoch=epoch, rebase_allowed=rebase_allowed)
    reports = [rep(s, ts=t) for s, t in zip(seqs, ts, strict=False)]
    fast = ingest._in_order(state, reports)
    try:
        general = ingest._plan_any(state, reports)
    except ConflictError:
        assert fast is None
        return
    if fast is not None:
        assert fast == general
    assert plan_batch(state, reports) == general


def test_in_order_fast_path_is_taken_for_a_new_report_and_a_catching_up_batch() -> None:
    state = HostSeqState(last_seq=3, last_ts=1_700_000_003.0, gaps=((1, 1),))
    assert ingest._in_order(state, [rep(4)]) == ingest._plan_any(state, [rep(4)])
    assert ingest._in_order(state, [rep(5), rep(6), rep(9)]) == ingest._plan_any(state, [rep(5), rep(6), rep(9)])
    assert ingest._in_order(state, [rep(5), rep(4)]) is None
    assert ingest._in_order(state, [rep(3)]) is None
