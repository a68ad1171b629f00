"""What metering keeps of each report, and the contributions between two
consecutive points of a stream. Pure: no I/O.

A stream is the sequence of points of one host (ordered by epoch and seq) or
one SNMP device (ordered by time). The outcome of a point depends only on it
and the point before it, so when a late point lands between two others, the
ledger books outcome(prev, new) + outcome(new, next) - outcome(prev, next),
and the total is the same as if it had arrived in order. Anomalies and events
follow the same rule: each is a pure function of its pair, keyed by the
pair's timestamps.

Every quantity is checked against `Limits` before it becomes a
Contribution; one that fails becomes an Anomaly carrying the same scaled
quantity, so contributions + anomalies always add up to what was measured.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import msgspec

from agent.wire import AgentInfo, Report, SnmpReading

from .counters import INT64_MAX, counter_delta, covered_span, rebooted_between, split_by_hour, to_scaled
from .nics import nic_matcher
from .plausibility import Anomaly, Contribution, Event, Limits, Outcome

__all__ = [
    "Contribution",
    "DevicePoint",
    "HostPoint",
    "combine",
    "device_contributions",
    "device_point",
    "host_contributions",
    "host_point",
]

#: how many interfaces or disks an anomaly's evidence names at most
_EVIDENCE_ITEMS = 8
_PAGE_METERS = ("printed_pages", "printed_pages_mono", "printed_pages_color")


class HostPoint(msgspec.Struct, array_like=True, frozen=True):
    ts: float
    interval_s: float
    boot_time: float
    role: str
    cpu_busy: float | None
    #: nic -> (rx_bytes_total, tx_bytes_total), counted interfaces only (nics.py)
    nics: dict[str, tuple[int, int]]
    mem_used: int | None
    disk_used: int | None
    sessions: int | None
    # Added later: at the end with defaults, so points stored before still decode.
    cpu_count: int | None = None
    mem_total: int | None = None
    #: (mount, used_bytes, total_bytes) per disk
    disks: tuple[tuple[str, int, int], ...] = ()
    #: nic -> link speed in bit/s, for the counted interfaces whose speed the agent knows
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
    """What metering keeps of a report: only the interfaces that count for
    this tenant and role (see nics.py)."""
    counts = nic_matcher(limits.nic_filter(tenant, agent.role))
    nics: dict[str, tuple[int, int]] = {}
    speeds: dict[str, int] = {}
    for n in report.net:
        if counts(n.nic, n.bond):
            nics[n.nic] = (n.rx_bytes_total, n.tx_bytes_total)
            if n.speed_bps:
                speeds[n.nic] = n.speed_bps
    return HostPoint(
        ts=report.ts,
        interval_s=report.interval_s,
        boot_time=agent.boot_time,
        role=agent.role,
        cpu_busy=report.cpu.busy_seconds_total if report.cpu else None,
        nics=nics,
        mem_used=report.memory.used_bytes if report.memory else None,
        disk_used=sum(d.used_bytes for d in report.disks) if report.disks else None,
        sessions=report.sessions,
        cpu_count=report.cpu.count if report.cpu else None,
        mem_total=report.memory.total_bytes if report.memory else None,
        disks=tuple((d.mount, d.used_bytes, d.total_bytes) for d in report.disks),
        nic_speeds=speeds,
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


# -- booking into an Outcome -------------------------------------------------------


def _spread(meter: str, dim: str, start: float, end: float, scaled: int) -> Iterator[Contribution]:
    for hour, part in split_by_hour(start, end, scaled):
        yield Contribution(meter, dim, hour, part)


Raw = dict[str, float | int | str | None]


def _book(
    out: Outcome, meter: str, dim: str, start: float, end: float, scaled: int, why: Callable[[], tuple[str, Raw]]
) -> None:
    """Book a quantity that passed its physical check, unless the ledger
    cannot hold it (then it is an anomaly like any other). `why` gives the
    evidence, built only when needed (this runs for every report)."""
    if -INT64_MAX <= scaled <= INT64_MAX:
        if scaled:
            out.contributions.extend(_spread(meter, dim, start, end, scaled))
        return
    evidence, raw = why()
    out.anomalies.append(
        Anomaly("value_out_of_range", meter, dim, scaled, start, end, f"{evidence} (limit {INT64_MAX})", raw)
    )


def _fmt(x: float) -> str:
    return f"{x:.0f}" if float(x).is_integer() else f"{x:.3f}"


# -- hosts ---------------------------------------------------------------------


def host_contributions(prev: HostPoint | None, cur: HostPoint, *, limits: Limits) -> Outcome:
    """What `cur` adds to the ledger, given the point before it."""
    out = Outcome()
    # A previous report stamped at or after this one (a clock stepped back)
    # already covered all of this one's time.
    start, end = covered_span(cur.ts, cur.interval_s, prev.ts if prev else None, limits.max_interval_s)
    covered = end - start
    if covered > 0:
        _host_gauges(out, cur, start, end, covered)
    if prev is None or prev.ts >= cur.ts:
        return out  # the first point is the baseline of every counter
    # Counters: the delta belongs to the span between the two readings.
    span = cur.ts - prev.ts
    rebooted = rebooted_between(prev.boot_time, cur.boot_time, prev.ts, cur.ts)
    if cur.cpu_busy is not None and prev.cpu_busy is not None:
        _cpu(out, prev, cur, span, rebooted, limits)
    if cur.nics and prev.nics:
        _network(out, prev, cur, span, rebooted, limits)
    return out


def _host_gauges(out: Outcome, cur: HostPoint, start: float, end: float, covered: float) -> None:
    """Gauges: value at the end of the interval x covered time. host_hours in
    ms, memory and storage in KiB·s (model.METERS)."""
    _book(
        out,
        "host_hours",
        cur.role,
        start,
        end,
        to_scaled(covered, 1000),
        lambda: (f"{_fmt(covered)} s covered", {"covered_s": covered}),
    )
    used, total = cur.mem_used, cur.mem_total
    if used is not None:
        scaled = to_scaled(used / 1024 * covered, 1)

        def memory() -> tuple[str, Raw]:
            return (
                f"memory used_bytes {used} of total_bytes {total} over {_fmt(covered)} s",
                {"used_bytes": used, "total_bytes": total, "covered_s": covered},
            )

        if total is not None and used > total:  # used == total is a full, not an impossible, memory
            evidence, raw = memory()
            out.anomalies.append(
                Anomaly("memory_above_total", "memory_gib_hours", "", scaled, start, end, evidence, raw)
            )
        else:
            _book(out, "memory_gib_hours", "", start, end, scaled, memory)
    if cur.disks:
        _storage(out, cur.disks, start, end, covered)
    elif cur.disk_used is not None:  # a point stored before disks were kept one by one
        disk_used = cur.disk_used
        _book(
            out,
            "storage_gib_hours",
            "",
            start,
            end,
            to_scaled(disk_used / 1024 * covered, 1),
            lambda: (
                f"disk used_bytes {disk_used} over {_fmt(covered)} s",
                {"used_bytes": disk_used, "covered_s": covered},
            ),
        )


def _storage(out: Outcome, disks: tuple[tuple[str, int, int], ...], start: float, end: float, covered: float) -> None:
    """Storage per disk: a disk fuller than its size is quarantined, the rest booked.

    Both parts are derived from one rounded total, so booked + quarantined is
    exactly what the host's used space gives."""
    used = sum(u for _, u, _ in disks)
    total_scaled = to_scaled(used / 1024 * covered, 1)
    bad = [d for d in disks if d[1] > d[2]]
    bad_scaled = 0
    if bad:
        bad_used = sum(u for _, u, _ in bad)
        bad_scaled = to_scaled(bad_used / 1024 * covered, 1)
        shown = bad[:_EVIDENCE_ITEMS]
        named = ", ".join(f"{m} used_bytes {u} of total_bytes {t}" for m, u, t in shown)
        more = f" and {len(bad) - len(shown)} more" if len(bad) > len(shown) else ""
        raw: Raw = {"covered_s": covered, "disks": len(bad), "used_bytes": bad_used}
        for i, (m, u, t) in enumerate(shown):
            raw |= {f"disk{i}.mount": m, f"disk{i}.used_bytes": u, f"disk{i}.total_bytes": t}
        evidence = f"disk {named}{more} over {_fmt(covered)} s"
        out.anomalies.append(
            Anomaly("disk_above_total", "storage_gib_hours", "", bad_scaled, start, end, evidence, raw)
        )
    ok_used = used - sum(u for _, u, _ in bad)
    _book(
        out,
        "storage_gib_hours",
        "",
        start,
        end,
        total_scaled - bad_scaled,
        lambda: (
            f"disk used_bytes {ok_used} on {len(disks) - len(bad)} disks over {_fmt(covered)} s",
            {"used_bytes": ok_used, "covered_s": covered},
        ),
    )


def _cpu(out: Outcome, prev: HostPoint, cur: HostPoint, span: float, rebooted: bool, limits: Limits) -> None:
    before, after = prev.cpu_busy, cur.cpu_busy
    assert before is not None and after is not None
    delta = counter_delta(before, after, reset=rebooted)
    scaled = to_scaled(delta, 10**6)  # µs
    counts = [c for c in (prev.cpu_count, cur.cpu_count) if c is not None]
    cores = max(counts) if counts else None  # a VM resized between two reports had the larger count for a while
    limit = cores * (span * limits.cpu_tolerance + limits.cpu_slack_s) if cores is not None else None

    def why() -> tuple[str, Raw]:
        reset = " (reset)" if rebooted or after < before else ""
        known = cores if cores is not None else "unknown"
        return (
            f"busy_seconds_total {_fmt(before)} -> {_fmt(after)}{reset} in {_fmt(span)} s, {known} cores",
            {
                "busy_before": before,
                "busy_after": after,
                "span_s": span,
                "cores": cores,
                "rebooted": int(rebooted),
                "limit_s": limit,
            },
        )

    if limit is not None and delta > limit:
        assert limit is not None
        evidence, raw = why()
        out.anomalies.append(
            Anomaly(
                "cpu_above_cores",
                "cpu_core_seconds",
                "",
                scaled,
                prev.ts,
                cur.ts,
                f"{evidence} (limit {_fmt(limit)} s)",
                raw,
            )
        )
    else:
        _book(out, "cpu_core_seconds", "", prev.ts, cur.ts, scaled, why)


def _network(out: Outcome, prev: HostPoint, cur: HostPoint, span: float, rebooted: bool, limits: Limits) -> None:
    """Traffic per interface, each direction within its link speed (full
    duplex) or, where the speed is unknown, the configured ceiling."""
    wall = span * limits.network_tolerance + limits.network_slack_s
    trust_speed = limits.link_speed_on_vms or cur.role != "vm"
    ceiling = limits.network_ceiling_bps / 8 * wall
    good = 0
    bad: list[tuple[str, int, int, int, float]] = []
    for nic, (rx, tx) in cur.nics.items():
        before = prev.nics.get(nic)
        if before is None:
            continue  # a new interface: its first reading is a baseline
        d_rx = int(counter_delta(before[0], rx, reset=rebooted))
        d_tx = int(counter_delta(before[1], tx, reset=rebooted))
        speed = max(cur.nic_speeds.get(nic, 0), prev.nic_speeds.get(nic, 0)) if trust_speed else 0
        limit = speed / 8 * wall if speed else ceiling
        if d_rx > limit or d_tx > limit:
            bad.append((nic, d_rx, d_tx, speed, limit))
        else:
            good += d_rx + d_tx
    if bad:
        shown = bad[:_EVIDENCE_ITEMS]
        parts = []
        raw: Raw = {"span_s": span, "rebooted": int(rebooted), "nics": len(bad)}
        for i, (nic, d_rx, d_tx, speed, limit) in enumerate(shown):
            link = f"{speed} bit/s" if speed else "speed unknown"
            parts.append(f"{nic} rx +{d_rx} tx +{d_tx} bytes ({link}, limit {_fmt(limit)} bytes per direction)")
            raw |= {
                f"nic{i}": nic,
                f"nic{i}.rx_bytes": d_rx,
                f"nic{i}.tx_bytes": d_tx,
                f"nic{i}.speed_bps": speed,
                f"nic{i}.limit_bytes": limit,
            }
        more = f" and {len(bad) - len(shown)} more" if len(bad) > len(shown) else ""
        out.anomalies.append(
            Anomaly(
                "network_above_link",
                "network_gib",
                "",
                sum(b[1] + b[2] for b in bad),
                prev.ts,
                cur.ts,
                f"{'; '.join(parts)}{more} in {_fmt(span)} s",
                raw,
            )
        )
    _book(
        out,
        "network_gib",
        "",
        prev.ts,
        cur.ts,
        good,
        lambda: (f"rx+tx +{good} bytes in {_fmt(span)} s", {"bytes": good, "span_s": span}),
    )


# -- devices -------------------------------------------------------------------


def device_contributions(prev: DevicePoint | None, cur: DevicePoint, *, limits: Limits) -> Outcome:
    """Printed pages between two readings of one printer.

    Page counters are lifetime counters that survive a reboot, so a reboot
    (uptime went back) only means a decrease is not a wrap. A new serial
    number or model is a new unit: its counter starts a new series (a reset),
    and the ledger records the replacement.
    """
    out = Outcome()
    if prev is None or prev.ts >= cur.ts:
        return out
    span = cur.ts - prev.ts
    rebooted = prev.uptime_s is not None and cur.uptime_s is not None and cur.uptime_s < prev.uptime_s
    replaced = _changed(prev.serial, cur.serial) or _changed(prev.model, cur.model)
    if replaced:
        out.events.append(
            Event(
                "device_replaced",
                prev.ts,
                cur.ts,
                f"serial {prev.serial} -> {cur.serial}, model {prev.model} -> {cur.model}",
                {
                    "serial_before": prev.serial,
                    "serial_after": cur.serial,
                    "model_before": prev.model,
                    "model_after": cur.model,
                },
            )
        )
    limit = limits.pages_per_minute * span / 60 + limits.pages_slack
    # Counter32: after a reboot a decrease is a reset, never a wrap.
    bits = None if rebooted else 32
    for meter, before, now in zip(_PAGE_METERS, _pages(prev), _pages(cur), strict=True):
        if before is None or now is None:
            continue
        delta = int(counter_delta(before, now, reset=replaced, bits=bits, max_delta=limit))

        def why(meter: str = meter, before: int = before, now: int = now, delta: int = delta) -> tuple[str, Raw]:
            cause = " (replaced)" if replaced else " (reset)" if now < before and delta == now else ""
            return (
                f"{meter} {before} -> {now}{cause} in {_fmt(span)} s",
                {
                    "before": before,
                    "after": now,
                    "span_s": span,
                    "uptime_before_s": prev.uptime_s,
                    "uptime_after_s": cur.uptime_s,
                    "limit_pages": limit,
                },
            )

        if delta > limit:
            evidence, raw = why()
            out.anomalies.append(
                Anomaly(
                    "pages_above_ceiling",
                    meter,
                    "",
                    delta,
                    prev.ts,
                    cur.ts,
                    f"{evidence} (limit {_fmt(limit)} pages at {_fmt(limits.pages_per_minute)}/min)",
                    raw,
                )
            )
        else:
            _book(out, meter, "", prev.ts, cur.ts, delta, why)
    return out


def _changed(before: str | None, after: str | None) -> bool:
    # Unknown on either side is no evidence of a new unit (a poll that missed the column).
    return bool(before) and bool(after) and before != after


def _pages(p: DevicePoint) -> tuple[int | None, int | None, int | None]:
    total = p.pages_total
    if total is None and p.pages_mono is not None and p.pages_color is not None:
        total = p.pages_mono + p.pages_color
    return (total, p.pages_mono, p.pages_color)


def combine(*groups: Iterable[Contribution], signs: Iterable[int] | None = None) -> dict[tuple[str, str, int], int]:
    """Sum contribution groups with signs (+1/-1) into {(meter, dim, hour): scaled}, dropping zeros."""
    total: dict[tuple[str, str, int], int] = {}
    for group, sign in zip(groups, signs or [1] * len(groups), strict=True):
        for c in group:
            key = (c.meter, c.dim, c.hour)
            total[key] = total.get(key, 0) + sign * c.scaled
    return {k: v for k, v in total.items() if v}
