"""Booking metering contributions into the ledger.

Called from the writer's ingest job, inside its transaction, so a report and
its ledger entries are committed together or not at all. Contributions into
a closed period become adjustments in the next open period, so a closed
period never changes. Reading a period is `reading`, closing one `closing`,
dropping old points `pruning`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple, TypeVar

import msgspec

from agent.wire import AgentInfo, Report

from ..db import Connection, insert_rows
from ..errors import ValidationError
from . import quarantine
from .buffer import Coverage, CoverageKey, LedgerBuffer, LedgerKey, SubjectKey
from .counters import split_by_hour
from .model import BERLIN, METERS, Period, QuarantineItem
from .nics import nic_matcher
from .plausibility import Anomaly, Contribution, Limits, Outcome
from .points import (
    DevicePoint,
    HostPoint,
    combine,
    device_contributions,
    host_contributions,
    host_point,
)
from .streams import StreamKey, StreamKind

P = TypeVar("P", HostPoint, DevicePoint)

log = logging.getLogger("leitstand.collector.metering")

__all__ = [
    "LEDGER_MAX",
    "AdjustmentRow",
    "Booker",
    "HostTail",
    "LedgerKey",
    "MeteringSettings",
    "PointRow",
    "Subject",
    "SubjectKey",
    "device_stream",
    "host_subject",
    "period_of_hour",
]

#: No ledger row (a tenant's hour of a meter, a subject's month of a meter)
#: ever holds more than this: 2**62 leaves room to add two rows in SQL
#: without leaving signed 64-bit, on SQLite and PostgreSQL. Physically
#: plausible usage stays many orders of magnitude below it.
LEDGER_MAX = 2**62
#: amounts below this are booked without reading the stored row: reaching
#: LEDGER_MAX would take 2**22 of them in one tenant-hour
CHECK_ABOVE = 2**40

_host_point = msgspec.msgpack.Decoder(HostPoint)
_tuple_new = tuple.__new__
_device_point = msgspec.msgpack.Decoder(DevicePoint)
_pack = msgspec.msgpack.Encoder()


@dataclass(frozen=True)
class MeteringSettings:
    #: physical ceilings every delta and gauge is checked against (`[metering.limits]`)
    limits: Limits = field(default_factory=Limits)


@lru_cache(maxsize=4096)
def period_of_hour(hour: int) -> str:
    """The Berlin month (YYYY-MM) of a UTC hour. Berlin's offsets are whole
    hours, so every instant of a UTC hour lies in the same month."""
    return str(Period.containing(hour))


@lru_cache(maxsize=1024)
def _berlin_day(hour: int) -> dt.date:
    """The Berlin date of a UTC hour (hours since the epoch): Berlin's offsets
    are whole hours, so its midnight is a UTC hour boundary."""
    return dt.datetime.fromtimestamp(hour * 3600, BERLIN).date()


#: a subject's (tenant, kind, id) ledger and subject row keys by (meter, dim, hour): the same
#: few per host and hour, each made once instead of once per report (two
#: named tuples and a period)
_ROW_KEYS: dict[tuple[str, str, str], dict[tuple[str, str, int], tuple[LedgerKey, SubjectKey]]] = {}
#: subjects remembered, and keys per subject; beyond these a memo starts over
_ROW_KEYS_MAX = 65536
_ROW_KEYS_PER_SUBJECT = 64


def _period_of(ts: float) -> str:
    return period_of_hour(int(ts // 3600) * 3600)


def device_stream(tenant: str, device: str) -> str:
    """A device's stored metering stream (device ids are named within their owner tenant)."""
    return StreamKey.device(tenant, device).encode()


@dataclass(frozen=True)
class Subject:
    """Who a booking is for, and which stream and agent it came from."""

    tenant: str
    stream: str  # as stored
    kind: StreamKind
    id: str  # agent id or device id
    agent_id: str  # the reporting agent

    @classmethod
    def of(cls, tenant: str, key: StreamKey, agent_id: str) -> Subject:
        return cls(tenant, key.encode(), key.kind, key.id, agent_id)


@lru_cache(maxsize=65536)
def host_subject(tenant: str, agent_id: str) -> Subject:
    """A host's own subject (it reports itself): made once per host, not per
    writer job (a frozen dataclass and its stream key cost ~5 µs)."""
    return Subject.of(tenant, StreamKey.host(agent_id), agent_id)


class AdjustmentRow(NamedTuple):
    """A row of `adjustments`: late usage of a closed period, booked into an open one."""

    tenant: str
    booked_period: str
    for_period: str
    meter: str
    dim: str
    kind: StreamKind
    subject: str
    scaled: int
    booked_on: str
    booked_at: float


class PointRow(NamedTuple):
    """A row of `meter_points`: one point of a stream, keyed (k1, k2) in stream order."""

    stream: str
    k1: float
    k2: float
    ts: float
    tenant: str
    data: bytes


#: a host stream's newest point and its key (epoch, seq)
#: a host stream's newest point and its key; None for the point: the stream has none (`writestate.verify_hosts`)
HostTail = tuple[tuple[int, int], HostPoint | None]


def _by_meter(contributions: Iterable[Contribution]) -> dict[tuple[str, str], list[Contribution]]:
    grouped: dict[tuple[str, str], list[Contribution]] = {}
    for c in contributions:
        grouped.setdefault((c.meter, c.dim), []).append(c)
    return grouped


def _cap_anomaly(meter: str, dim: str, parts: list[Contribution]) -> Anomaly:
    """A meter's share of an outcome that the ledger cannot take, as an entry
    keyed by the hours it spans and its total: a pure function of the outcome."""
    first, last = min(c.hour for c in parts), max(c.hour for c in parts)
    scaled = sum(c.scaled for c in parts)
    return Anomaly(
        rule="value_out_of_range",
        meter=meter,
        dim=dim,
        scaled=scaled,
        start=float(first),
        end=float(last + 3600),
        evidence=f"{meter} {scaled} would take the ledger beyond its limit of {LEDGER_MAX} per row",
        raw={"scaled": str(scaled), "ledger_max": str(LEDGER_MAX)},
    )


def _spread(meter: str, dim: str, start: float, end: float, scaled: int) -> list[Contribution]:
    return [Contribution(meter, dim, hour, part) for hour, part in split_by_hour(start, end, scaled)]


@dataclass
class Booker:
    """Books one writer job's contributions: sums them in memory and writes
    each table once in `flush()`; caches which periods are closed.

    The writer's batch lends it what outlives one job (`collector.writestate`):
    `closed`, valid while the batch's transaction keeps periods from being
    closed; `buffer`, the job's ledger rows, which `flush()` leaves to the
    writer (`write_buffer=False`) to upsert once for the batch; `pending`,
    the rows of the batch's earlier jobs, which a large amount is checked
    against (`_overflows`); `days`, the workplace days known to be stored."""

    conn: Connection
    now: float
    settings: MeteringSettings = field(default_factory=MeteringSettings)
    closed: dict[tuple[str, str], bool] = field(default_factory=dict)
    buffer: LedgerBuffer = field(default_factory=LedgerBuffer)
    pending: LedgerBuffer | None = None
    write_buffer: bool = True
    days: set[tuple[str, dt.date]] = field(default_factory=set)
    points: list[PointRow] = field(default_factory=list)
    write_points: bool = True
    _adjustments: list[AdjustmentRow] = field(default_factory=list)
    #: hours whose period is open, as found by `_summed` (periods do not close during a job)
    _open_hours: set[int] = field(default_factory=set)

    # -- periods ---------------------------------------------------------------

    def is_closed(self, tenant: str, period: str) -> bool:
        key = (tenant, period)
        closed = self.closed.get(key)
        if closed is None:
            closed = self.closed[key] = (
                self.conn.execute("SELECT 1 FROM periods WHERE tenant = ? AND period = ?", key).fetchone() is not None
            )
        return closed

    def open_period_after(self, tenant: str, period: str) -> str:
        later = Period.parse(period).next()
        while self.is_closed(tenant, str(later)):
            later = later.next()
        return str(later)

    # -- hosts -----------------------------------------------------------------

    def book_host_reports(
        self,
        tenant: str,
        agent: AgentInfo,
        epoch: int,
        reports: Sequence[Report],
        *,
        newest_after: tuple[int, int] | None = None,
        tail: HostTail | None = None,
    ) -> HostTail | None:
        """Book new reports of one host. Keys (epoch, seq) above `newest_after`
        are known to be the newest of the stream, so no later point needs
        re-pairing (the common case: reports arriving in order). `tail` is the
        stream's newest point where the caller knows it (the writer's cache),
        so the first report needs no read for its predecessor. Returns the
        newest point after these reports, where known."""
        subject = host_subject(tenant, agent.id)
        stream = subject.stream
        coverage: dict[str, list[int]] = {}  # by period: reports, lowest and highest seq
        plain: dict[tuple[str, str, int], int] = {}  # see _summed
        limits = self.settings.limits
        counts = nic_matcher(limits.nic_filter(tenant, agent.role))  # once per job, not per report
        workplace = agent.role == "thin-client"
        last_hour, period, closed = None, "", False
        for report in reports if len(reports) == 1 else sorted(reports, key=lambda r: r.seq):
            key = (epoch, report.seq)
            point = host_point(agent, report, tenant=tenant, limits=limits, counts=counts)
            prev: HostPoint | None
            nxt: HostPoint | None = None
            if tail is not None and key > tail[0]:
                prev = tail[1]
            else:
                prev = self._neighbour(stream, key, before=True, decoder=_host_point)
                if newest_after is None or key <= newest_after:
                    nxt = self._neighbour(stream, key, before=False, decoder=_host_point)
            # tuple.__new__: a named tuple's own __new__ is a Python function, and this runs per report
            self.points.append(_tuple_new(PointRow, (stream, epoch, key[1], point.ts, tenant, _pack.encode(point))))
            if nxt is None:
                outcome = host_contributions(prev, point, limits=limits)
                if not self._summed(subject, outcome, plain):
                    self._add_summed(subject, plain)  # what is booked next sees them (_overflows)
                    self._book_outcomes(subject, [outcome])
            else:
                self._add_summed(subject, plain)
                self._book_outcomes(
                    subject,
                    [host_contributions(prev, point, limits=limits), host_contributions(point, nxt, limits=limits)],
                    replaced=host_contributions(prev, nxt, limits=limits),
                )
            tail = (key, point) if nxt is None else None
            if workplace and report.sessions:
                self._workplace_day(tenant, agent, report)
            hour = int(report.ts // 3600) * 3600
            if hour != last_hour:  # a job's reports mostly share an hour
                last_hour, period = hour, period_of_hour(hour)
                closed = self.is_closed(tenant, period)
            if not closed:
                acc = coverage.get(period)
                if acc is None:
                    coverage[period] = [1, report.seq, report.seq]
                else:  # in ascending seq order: the first is the lowest, this one the highest
                    acc[0] += 1
                    acc[2] = report.seq
        self._add_summed(subject, plain)
        for period_s, (n, lo, hi) in coverage.items():
            self.buffer.add_coverage(CoverageKey(tenant, period_s, stream, epoch), Coverage(agent.role, n, lo, hi))
        return tail

    def _add_summed(self, subject: Subject, plain: dict[tuple[str, str, int], int]) -> None:
        if not plain:
            return
        tenant, kind, subject_id = subject.tenant, subject.kind, subject.id
        # the buffer's add_ledger and add_subject, inlined: this runs for every report
        ledger, subjects = self.buffer.ledger, self.buffer.subjects
        keys = _ROW_KEYS.get(whose := (tenant, kind, subject_id))
        if keys is None:
            if len(_ROW_KEYS) >= _ROW_KEYS_MAX:
                _ROW_KEYS.clear()
            keys = _ROW_KEYS[whose] = {}
        for memo, scaled in plain.items():
            found = keys.get(memo)
            if found is None:
                if len(keys) >= _ROW_KEYS_PER_SUBJECT:
                    keys.clear()
                meter, dim, hour = memo
                found = keys[memo] = (
                    LedgerKey(tenant, hour, meter, dim),
                    SubjectKey(tenant, period_of_hour(hour), kind, subject_id, meter, dim),
                )
            key, skey = found
            ledger[key] = ledger.get(key, 0) + scaled
            subjects[skey] = subjects.get(skey, 0) + scaled
        plain.clear()

    def _summed(self, subject: Subject, outcome: Outcome, plain: dict[tuple[str, str, int], int]) -> bool:
        """Sum an outcome that books nothing but ledger rows of open periods
        into `plain` (added to the buffer once per job: the sum is what
        booking each would add, `_book` with no check to make); False for
        any other, which is booked as it comes."""
        if outcome.anomalies or outcome.events:
            return False
        tenant = subject.tenant
        open_hours = self._open_hours
        for c in outcome.contributions:
            if abs(c.scaled) >= CHECK_ABOVE:
                return False
            hour = c.hour
            if hour not in open_hours:
                if self.is_closed(tenant, period_of_hour(hour)):
                    return False
                open_hours.add(hour)  # a job's contributions mostly share an hour or two
        for c in outcome.contributions:
            key = (c.meter, c.dim, c.hour)
            plain[key] = plain.get(key, 0) + c.scaled
        return True

    def _workplace_day(self, tenant: str, agent: AgentInfo, report: Report) -> None:
        if agent.role != "thin-client" or not report.sessions:
            return
        day = _berlin_day(int(report.ts // 3600))
        if (agent.id, day) in self.days:
            return  # a job's reports mostly fall on the same day
        self.days.add((agent.id, day))
        period = str(Period(day.year, day.month))
        closed = self.is_closed(tenant, period)
        cur = self.conn.execute(
            "INSERT INTO workplace_days (agent_id, day, tenant, period, late) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            (agent.id, day.isoformat(), tenant, period, int(closed)),
        )
        if closed and cur.rowcount:  # the count costs a round trip on PostgreSQL: only where it matters
            self._adjust(tenant, period, "workplace_days", "", "host", agent.id, 1)

    # -- devices ---------------------------------------------------------------

    def book_device_reading(
        self, tenant: str, device: str, point: DevicePoint, ok: bool, *, agent_id: str = ""
    ) -> None:
        """Book a printer reading of `tenant`'s device (the owner), polled by `agent_id`."""
        subject = Subject.of(tenant, StreamKey.device(tenant, device), agent_id)
        stream = subject.stream
        key = (0, point.ts)
        horizon = self.conn.execute("SELECT pruned_before FROM point_horizons WHERE stream = ?", (stream,)).fetchone()
        if ok and horizon and point.ts < horizon[0]:
            # Points are kept from the start of the previous month (prune_points),
            # as far back as ingest accepts readings by default; an operator who
            # accepts older ones gets this: the reading lies inside a stretch
            # whose counter delta is booked already (from the kept neighbours),
            # so its pages are metered; only their spread over the hours stays.
            log.info(
                "reading of %s from %s lies before its kept metering history: its pages are in the delta "
                "booked across it",
                device,
                point.ts,
            )
        elif ok:
            self._flush_points()
            if self.conn.execute(
                "SELECT 1 FROM meter_points WHERE stream = ? AND k1 = 0 AND k2 = ?", (stream, point.ts)
            ).fetchone():
                return  # the same reading again
            prev = self._neighbour(stream, key, before=True, decoder=_device_point)
            nxt = self._neighbour(stream, key, before=False, decoder=_device_point)
            self.points.append(PointRow(stream, key[0], key[1], point.ts, tenant, _pack.encode(point)))
            limits = self.settings.limits
            if nxt is None:
                self._book_outcomes(subject, [device_contributions(prev, point, limits=limits)])
            else:
                self._book_outcomes(
                    subject,
                    [device_contributions(prev, point, limits=limits), device_contributions(point, nxt, limits=limits)],
                    replaced=device_contributions(prev, nxt, limits=limits),
                )
        period = _period_of(point.ts)
        if not self.is_closed(tenant, period):
            self.conn.execute(
                "INSERT INTO device_coverage AS c (tenant, period, device, polls, ok) VALUES (?, ?, ?, 1, ?) "
                "ON CONFLICT (tenant, period, device) DO UPDATE SET polls = c.polls + 1, ok = c.ok + excluded.ok",
                (tenant, period, device, int(ok)),
            )

    # -- shared ----------------------------------------------------------------

    def _neighbour(
        self, stream: str, key: tuple[float, float], *, before: bool, decoder: msgspec.msgpack.Decoder[P]
    ) -> P | None:
        self._flush_points()  # a lookup must see the points booked so far
        if before:
            sql = "SELECT data FROM meter_points WHERE stream = ? AND (k1, k2) < (?, ?) ORDER BY k1 DESC, k2 DESC"
        else:
            sql = "SELECT data FROM meter_points WHERE stream = ? AND (k1, k2) > (?, ?) ORDER BY k1, k2"
        row = self.conn.execute(sql + " LIMIT 1", (stream, *key)).fetchone()
        return decoder.decode(row[0]) if row else None

    def _flush_points(self) -> None:
        if self.points:
            insert_rows(self.conn, "INSERT INTO meter_points (stream, k1, k2, ts, tenant, data)", self.points)
            self.points.clear()

    def _book_outcomes(self, subject: Subject, added: list[Outcome], *, replaced: Outcome | None = None) -> None:
        """Book what new point pairs add; `replaced` is the pair a late point
        split, whose booking, quarantine entries and events are taken back."""
        added = [self._capped(subject, o) for o in added]
        groups = [o.contributions for o in added]
        signs = [1] * len(groups)
        if replaced is not None:
            replaced = self._was_capped(subject, replaced)
            groups.append(replaced.contributions)
            signs.append(-1)
            for anomaly in replaced.anomalies:
                released = quarantine.supersede(self.conn, stream=subject.stream, anomaly=anomaly, now=self.now)
                if released is not None:
                    # it was booked as measured: book it back out, exactly as it went in
                    groups.append(_spread(released.meter, released.dim, released.start, released.end, released.scaled))
                    signs.append(-1)
            for event in replaced.events:
                quarantine.drop_event(self.conn, stream=subject.stream, event=event)
        self._book(subject, combine(*groups, signs=signs))
        for outcome in added:
            for anomaly in outcome.anomalies:
                quarantine.hold(
                    self.conn,
                    tenant=subject.tenant,
                    stream=subject.stream,
                    subject_kind=subject.kind,
                    subject=subject.id,
                    agent_id=subject.agent_id,
                    anomaly=anomaly,
                    now=self.now,
                )
            for event in outcome.events:
                quarantine.record_event(
                    self.conn,
                    tenant=subject.tenant,
                    stream=subject.stream,
                    subject_kind=subject.kind,
                    subject=subject.id,
                    agent_id=subject.agent_id,
                    event=event,
                    now=self.now,
                )

    def _capped(self, subject: Subject, outcome: Outcome) -> Outcome:
        """Hold, as value_out_of_range, each meter of an outcome that would take a
        ledger row beyond LEDGER_MAX. The entry is keyed by the outcome alone
        (`_cap_anomaly`), so re-pairing finds it again (`_was_capped`)."""
        if all(abs(c.scaled) < CHECK_ABOVE for c in outcome.contributions):
            return outcome  # the common case: nothing to read
        kept: list[Contribution] = []
        anomalies = list(outcome.anomalies)
        for (meter, dim), parts in _by_meter(outcome.contributions).items():
            if any(self._overflows(subject, meter, dim, c.hour, c.scaled) for c in parts):
                anomalies.append(_cap_anomaly(meter, dim, parts))
            else:
                kept += parts
        return Outcome(kept, anomalies, list(outcome.events))

    def _was_capped(self, subject: Subject, outcome: Outcome) -> Outcome:
        """The replaced pair's meters that `_capped` held instead of booking:
        theirs is a quarantine entry to supersede, not a booking to take back."""
        if all(abs(c.scaled) < CHECK_ABOVE for c in outcome.contributions):
            return outcome
        kept: list[Contribution] = []
        anomalies = list(outcome.anomalies)
        for (meter, dim), parts in _by_meter(outcome.contributions).items():
            cap = _cap_anomaly(meter, dim, parts)
            held = self.conn.execute(
                "SELECT 1 FROM quarantine WHERE stream = ? AND start_ts = ? AND end_ts = ? AND rule = ? AND meter = ? "
                "AND dim = ? AND quantity = ? AND status != 'superseded'",
                (subject.stream, cap.start, cap.end, cap.rule, meter, dim, str(cap.scaled)),
            ).fetchone()
            if held is not None and any(abs(c.scaled) >= CHECK_ABOVE for c in parts):
                anomalies.append(cap)
            else:
                kept += parts
        return Outcome(kept, anomalies, list(outcome.events))

    def book_released(self, tenant: str, item: QuarantineItem, stream: str) -> None:
        """Book a released quarantine entry as measured (an adjustment where its period is closed).

        Raises ValidationError when the ledger could not hold it."""
        # the stream as stored with the entry, whatever form it was written in
        subject = Subject(tenant, stream, item.subject_kind, item.subject, item.agent_id)
        deltas = combine(_spread(item.meter, item.dim, item.start, item.end, item.scaled))
        for (meter, dim, hour), scaled in deltas.items():
            if self._overflows(subject, meter, dim, hour, scaled):
                raise ValidationError(
                    f"quarantine entry {item.id} cannot be released: {item.quantity} {METERS[meter].unit} "
                    "is more than the ledger can hold",
                    ["dismiss it: it cannot be a real measurement"],
                )
        self._book(subject, deltas)

    def _overflows(self, subject: Subject, meter: str, dim: str, hour: int, scaled: int) -> bool:
        """Would booking this take a ledger row beyond LEDGER_MAX? Only a large
        amount is checked against the stored rows (small ones cannot get there
        in any realistic number), so the common booking costs no read."""
        if abs(scaled) > LEDGER_MAX:
            return True
        if abs(scaled) < CHECK_ABOVE:
            return False
        period = period_of_hour(hour)
        if self.is_closed(subject.tenant, period):
            return False  # an adjustment row of its own; read sums are exact (Python ints)
        row = self.conn.execute(
            "SELECT scaled FROM ledger WHERE tenant = ? AND hour = ? AND meter = ? AND dim = ?",
            (subject.tenant, hour, meter, dim),
        ).fetchone()
        lkey = LedgerKey(subject.tenant, hour, meter, dim)
        total = (int(row[0]) if row else 0) + self._pending(lkey) + scaled
        row = self.conn.execute(
            "SELECT scaled FROM ledger_subject WHERE tenant = ? AND period = ? AND kind = ? AND subject = ? "
            "AND meter = ? AND dim = ?",
            (subject.tenant, period, subject.kind, subject.id, meter, dim),
        ).fetchone()
        skey = SubjectKey(subject.tenant, period, subject.kind, subject.id, meter, dim)
        own = (int(row[0]) if row else 0) + self._pending(skey) + scaled
        return abs(total) > LEDGER_MAX or abs(own) > LEDGER_MAX

    def _book(self, subject: Subject, deltas: dict[tuple[str, str, int], int]) -> None:
        tenant, kind = subject.tenant, subject.kind
        for (meter, dim, hour), scaled in deltas.items():
            if self._overflows(subject, meter, dim, hour, scaled):
                # One hostile value must not poison the tenant's ledger (or,
                # on PostgreSQL, fail everyone's commit): hold it instead.
                quarantine.hold(
                    self.conn,
                    tenant=tenant,
                    stream=subject.stream,
                    subject_kind=kind,
                    subject=subject.id,
                    agent_id=subject.agent_id,
                    anomaly=Anomaly(
                        rule="value_out_of_range",
                        meter=meter,
                        dim=dim,
                        scaled=scaled,
                        start=float(hour),
                        end=float(hour + 3600),
                        evidence=f"{meter} would exceed the ledger's limit of {LEDGER_MAX} in this hour",
                    ),
                    now=self.now,
                )
                continue
            period = period_of_hour(hour)
            subject_id = subject.id
            if self.is_closed(tenant, period):
                self._adjust(tenant, period, meter, dim, kind, subject_id, scaled)
                continue
            self.buffer.add_ledger(LedgerKey(tenant, hour, meter, dim), scaled)
            self.buffer.add_subject(SubjectKey(tenant, period, kind, subject_id, meter, dim), scaled)

    def _pending(self, key: LedgerKey | SubjectKey) -> int:
        """What this job and the batch's earlier ones book into a row, not yet written."""
        buffers = [b for b in (self.buffer, self.pending) if b is not None]
        if isinstance(key, LedgerKey):
            return sum(b.ledger.get(key, 0) for b in buffers)
        return sum(b.subjects.get(key, 0) for b in buffers)

    def _adjust(
        self, tenant: str, period: str, meter: str, dim: str, kind: StreamKind, subject: str, scaled: int
    ) -> None:
        booked_in = self.open_period_after(tenant, period)
        booked_on = dt.datetime.fromtimestamp(self.now, BERLIN).date().isoformat()
        self._adjustments.append(
            AdjustmentRow(tenant, booked_in, period, meter, dim, kind, subject, scaled, booked_on, self.now)
        )

    def flush(self) -> None:
        """Write what this job booked: one statement per table (the ledger's
        rows and the points left to the writer's batch where `write_buffer`
        and `write_points` are off)."""
        if self.write_points:
            self._flush_points()
        if self._adjustments:
            insert_rows(
                self.conn,
                "INSERT INTO adjustments (tenant, booked_period, for_period, meter, dim, kind, subject, scaled, "
                "booked_on, booked_at)",
                self._adjustments,
            )
            self._adjustments.clear()
        if self.write_buffer:
            self.buffer.write(self.conn)
