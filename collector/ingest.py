"""Which reports of a batch are new: pure logic, no I/O.

The collector keeps, per agent, the highest seq stored (`last_seq`) and the
seq ranges it skipped (gaps). A report is new when its seq is above
`last_seq` or falls into a gap; everything else is a resend and is
acknowledged without being stored, so a resend never counts twice. The result
depends only on the set of seqs seen, never on arrival order or batching.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from agent.wire import Report

from .errors import ConflictError

__all__ = ["Gap", "HostSeqState", "IngestPlan", "plan_batch"]

Gap = tuple[int, int]  # inclusive seq range


class HostSeqState(msgspec.Struct, frozen=True, gc=False):
    """A host's seq bookkeeping (a Struct: one is made per writer job)."""

    last_seq: int = 0
    last_ts: float | None = None
    gaps: tuple[Gap, ...] = ()
    #: Samples are keyed by (agent, epoch, seq); a new epoch starts when a
    #: re-enrolled agent restarts its sequence.
    epoch: int = 0
    #: Set by enrollment: a sequence restart is expected, not an error.
    rebase_allowed: bool = False


class IngestPlan(msgspec.Struct, frozen=True):
    new: list[Report]
    duplicates: int
    state: HostSeqState
    #: gaps opened by this batch (for the data-gap record)
    opened: list[Gap] = msgspec.field(default_factory=list)
    accepted_through_seq: int = 0


def plan_batch(state: HostSeqState, reports: Sequence[Report]) -> IngestPlan:
    """Decide what to store.

    A seq at or below `last_seq` that is in no gap is a resend, unless its
    timestamp is newer than anything stored: then the agent's state was wiped
    and its sequence restarted. After a re-enrollment that starts a new epoch;
    otherwise it is a ConflictError, because storing it would collide with
    stored data and ignoring it would lose it silently.
    """
    fast = _in_order(state, reports)
    return fast if fast is not None else _plan_any(state, reports)


def _plan_any(state: HostSeqState, reports: Sequence[Report]) -> IngestPlan:
    """`plan_batch` for any batch: resends, gap fillers, out of order, restarts."""
    ordered = sorted(reports, key=lambda r: r.seq)
    last_seq, last_ts, epoch = state.last_seq, state.last_ts, state.epoch
    gaps = list(state.gaps)
    opened: list[Gap] = []
    new: list[Report] = []
    duplicates = 0
    seen: set[int] = set()
    for report in ordered:
        seq = report.seq
        if seq in seen:
            duplicates += 1
            continue
        seen.add(seq)
        restarted = seq <= last_seq and last_ts is not None and report.ts > last_ts
        if restarted and _gap_index(gaps, seq) is None:
            if not state.rebase_allowed or new:
                raise ConflictError(
                    f"seq {seq} is not above the stored seq {last_seq}, but its data is newer: "
                    "the agent's state was reset; re-enroll it (leitstand-agent enroll) "
                    "to start a new sequence",
                    [f"agent seq {seq} <= collector last_seq {last_seq}, ts {report.ts} > {last_ts}"],
                )
            epoch, last_seq, gaps = epoch + 1, seq - 1, []
        if seq > last_seq:
            if seq > last_seq + 1:
                gap = (last_seq + 1, seq - 1)
                gaps.append(gap)
                opened.append(gap)
            last_seq = seq
            new.append(report)
            last_ts = report.ts if last_ts is None else max(last_ts, report.ts)
            continue
        index = _gap_index(gaps, seq)
        if index is None:
            duplicates += 1
            continue
        lo, hi = gaps.pop(index)
        if lo < seq:
            gaps.append((lo, seq - 1))
        if seq < hi:
            gaps.append((seq + 1, hi))
        new.append(report)
    gaps.sort()
    return IngestPlan(
        new=new,
        duplicates=duplicates,
        state=HostSeqState(last_seq=last_seq, last_ts=last_ts, gaps=tuple(gaps), epoch=epoch),
        opened=opened,
        accepted_through_seq=ordered[-1].seq if ordered else 0,
    )


def _in_order(state: HostSeqState, reports: Sequence[Report]) -> IngestPlan | None:
    """The plan of the common batch, reports in ascending seq order all above
    `last_seq` (an agent that keeps up): what the loop of `plan_batch` gives
    for it, without sorting and searching gaps; None for any other batch."""
    if not reports:
        return None
    last_seq, last_ts = state.last_seq, state.last_ts
    opened: list[Gap] = []
    for report in reports:
        seq = report.seq
        if seq <= last_seq:
            return None
        if seq > last_seq + 1:
            opened.append((last_seq + 1, seq - 1))
        last_seq = seq
        last_ts = report.ts if last_ts is None else max(last_ts, report.ts)
    gaps = tuple(sorted([*state.gaps, *opened])) if state.gaps or opened else ()
    return IngestPlan(
        new=list(reports),
        duplicates=0,
        state=HostSeqState(last_seq=last_seq, last_ts=last_ts, gaps=gaps, epoch=state.epoch),
        opened=opened,
        accepted_through_seq=last_seq,
    )


def _gap_index(gaps: list[Gap], seq: int) -> int | None:
    for i, (lo, hi) in enumerate(gaps):
        if lo <= seq <= hi:
            return i
    return None
