"""What metering keeps of each report, and the contributions between two
consecutive points of a stream. Pure: no I/O.

A stream is the sequence of points of one host (ordered by epoch and seq) or
one SNMP device (ordered by time). The contribution of a point depends only
on it and the point before it, so when a late point lands between two
others, the ledger books contrib(prev, new) + contrib(new, next) -
contrib(prev, next), and the total is the same as if it had arrived in order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import msgspec

from agent.wire import AgentInfo, Report, SnmpReading

from .counters import counter_delta, covered_span, split_by_hour, to_scaled
from .plausibility import Contribution, Limits, Outcome

__all__ = [
    "Contribution",
    "DevicePoint",
    "HostPoint",
    "device_contributions",
    "device_point",
    "host_contributions",
    "host_point",
]

#: psutil's boot_time wobbles by a second or so between calls
BOOT_TOLERANCE_S = 5.0


class HostPoint(msgspec.Struct, array_like=True, frozen=True):
    ts: float
    interval_s: float
    boot_time: float
    role: str
    cpu_busy: float | None
    #: nic -> (rx_bytes_total, tx_bytes_total)
    nics: dict[str, tuple[int, int]]
    mem_used: int | None
    disk_used: int | None
    sessions: int | None
    # Added later: at the end with defaults, so points stored before still decode.
    cpu_count: int | None = None
    mem_total: int | None = None
    #: (mount, used_bytes, total_bytes) per disk
    disks: tuple[tuple[str, int, int], ...] = ()
    #: nic -> link speed in bit/s, for the interfaces whose speed the agent knows
    nic_speeds: dict[str, int] = {}


class DevicePoint(msgspec.Struct, array_like=True, frozen=True):
    ts: float
    uptime_s: float | None
    pages_total: int | None
    pages_mono: int | None
    pages_color: int | None
    # Added later (a change of either means the unit was replaced)
    serial: str | None = None
    model: str | None = None


def host_point(agent: AgentInfo, report: Report, *, tenant: str, limits: Limits) -> HostPoint:
    return HostPoint(
        ts=report.ts,
        interval_s=report.interval_s,
        boot_time=agent.boot_time,
        role=agent.role,
        cpu_busy=report.cpu.busy_seconds_total if report.cpu else None,
        nics={n.nic: (n.rx_bytes_total, n.tx_bytes_total) for n in report.net},
        mem_used=report.memory.used_bytes if report.memory else None,
        disk_used=sum(d.used_bytes for d in report.disks) if report.disks else None,
        sessions=report.sessions,
        cpu_count=report.cpu.count if report.cpu else None,
        mem_total=report.memory.total_bytes if report.memory else None,
        disks=tuple((d.mount, d.used_bytes, d.total_bytes) for d in report.disks),
    )


def device_point(reading: SnmpReading) -> DevicePoint:
    """What metering keeps of a printer reading (its `ts` set by the ingest)."""
    printer = reading.printer
    return DevicePoint(
        ts=reading.ts or 0.0,
        uptime_s=reading.sys.uptime_s,
        pages_total=printer.pages_total if printer else None,
        pages_mono=printer.pages_mono if printer else None,
        pages_color=printer.pages_color if printer else None,
        serial=printer.serial if printer else None,
        model=printer.model if printer else None,
    )


def _spread(meter: str, dim: str, start: float, end: float, scaled: int) -> Iterator[Contribution]:
    for hour, part in split_by_hour(start, end, scaled):
        yield Contribution(meter, dim, hour, part)


def host_contributions(prev: HostPoint | None, cur: HostPoint, *, limits: Limits) -> Outcome:
    """What `cur` adds to the ledger, given the point before it."""
    out: list[Contribution] = []
    prev_ts = prev.ts if prev is not None and prev.ts < cur.ts else None
    start, end = covered_span(cur.ts, cur.interval_s, prev_ts, limits.max_interval_s)
    covered = end - start
    if covered > 0:
        # Gauges: value at the end of the interval × covered time.
        # host_hours in ms, memory and storage in KiB·s (model.METERS)
        out += _spread("host_hours", cur.role, start, end, to_scaled(covered, 1000))
        if cur.mem_used is not None:
            out += _spread("memory_gib_hours", "", start, end, to_scaled(cur.mem_used / 1024 * covered, 1))
        if cur.disk_used is not None:
            out += _spread("storage_gib_hours", "", start, end, to_scaled(cur.disk_used / 1024 * covered, 1))
    if prev is None or prev_ts is None:
        return Outcome(out)  # the first point is the baseline of every counter
    # Counters: the delta belongs to the span between the two readings.
    rebooted = abs(cur.boot_time - prev.boot_time) > BOOT_TOLERANCE_S
    if cur.cpu_busy is not None and prev.cpu_busy is not None:
        delta = counter_delta(prev.cpu_busy, cur.cpu_busy, reset=rebooted)
        out += _spread("cpu_core_seconds", "", prev.ts, cur.ts, to_scaled(delta, 10**6))  # µs
    traffic = 0
    for nic, (rx, tx) in cur.nics.items():
        before = prev.nics.get(nic)
        if before is None:
            continue  # a new interface: its first reading is a baseline
        traffic += int(counter_delta(before[0], rx, reset=rebooted)) + int(counter_delta(before[1], tx, reset=rebooted))
    if traffic:
        out += _spread("network_gib", "", prev.ts, cur.ts, traffic)  # bytes
    return Outcome(out)


def device_contributions(prev: DevicePoint | None, cur: DevicePoint, *, limits: Limits) -> Outcome:
    """Printed pages between two readings of one printer."""
    if prev is None or prev.ts >= cur.ts:
        return Outcome()
    rebooted = prev.uptime_s is not None and cur.uptime_s is not None and cur.uptime_s < prev.uptime_s
    out: list[Contribution] = []
    for meter, before, now in (
        ("printed_pages", _total(prev), _total(cur)),
        ("printed_pages_mono", prev.pages_mono, cur.pages_mono),
        ("printed_pages_color", prev.pages_color, cur.pages_color),
    ):
        if before is None or now is None:
            continue
        # Page counters are Counter32: a decrease without a reboot is a wrap.
        delta = int(counter_delta(before, now, reset=rebooted, bits=32))
        out += _spread(meter, "", prev.ts, cur.ts, delta)
    return Outcome(out)


def _total(p: DevicePoint) -> int | None:
    if p.pages_total is not None:
        return p.pages_total
    if p.pages_mono is not None and p.pages_color is not None:
        return p.pages_mono + p.pages_color
    return None


def combine(*groups: Iterable[Contribution], signs: Iterable[int] | None = None) -> dict[tuple[str, str, int], int]:
    """Sum contribution groups with signs (+1/-1) into {(meter, dim, hour): scaled}, dropping zeros."""
    total: dict[tuple[str, str, int], int] = {}
    for group, sign in zip(groups, signs or [1] * len(groups), strict=True):
        for c in group:
            key = (c.meter, c.dim, c.hour)
            total[key] = total.get(key, 0) + sign * c.scaled
    return {k: v for k, v in total.items() if v}
