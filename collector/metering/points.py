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

import math
from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from agent.wire import AgentInfo, Report, SnmpReading

from .counters import HOUR, INT64_MAX, counter_delta, covered_span, rebooted_between, split_by_hour, to_scaled
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


def host_point(
    agent: AgentInfo, report: Report, *, tenant: str, limits: Limits, counts: Callable[[str, str], bool] | None = None
) -> HostPoint:
    """What metering keeps of a report: only the interfaces that count for
    this tenant and role (see nics.py; `counts`, that matcher where the
    caller has it)."""
    if counts is None:
        counts = nic_matcher(limits.nic_filter(tenant, agent.role))
    nics: dict[str, tuple[int, int]] = {}
    speeds: dict[str, int] = {}
    for n in report.net:
        if counts(n.nic, n.bond):
            nics[n.nic] = (n.rx_bytes_total, n.tx_bytes_total)
            if n.speed_bps:
                speeds[n.nic] = n.speed_bps
    # one pass over the disks, each part of the report looked up once: this runs for every report
    disk_used: int | None = None
    disks: tuple[tuple[str, int, int], ...] = ()
    if report.disks:
        disk_used = 0
        rows = []
        for d in report.disks:
            used = d.used_bytes
            disk_used += used
            rows.append((d.mount, used, d.total_bytes))
        disks = tuple(rows)
    cpu, memory = report.cpu, report.memory
    return HostPoint(
        report.ts,
        report.interval_s,
        agent.boot_time,
        agent.role,
        cpu.busy_seconds_total if cpu else None,
        nics,
        memory.used_bytes if memory else None,
        disk_used,
        report.sessions,
        cpu.count if cpu else None,
        memory.total_bytes if memory else None,
        disks,
        speeds,
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

Raw = dict[str, float | int | str | None]
#: builds an anomaly's evidence text and raw readings; called only for an anomaly
Why = Callable[..., tuple[str, Raw]]


#: a span (start, end] and the one UTC hour `split_by_hour` books all of it into, if it does
Window = tuple[float, float, int | None]


def _window(start: float, end: float) -> Window:
    """The span with its hour where `split_by_hour` puts a quantity of it into
    one hour (the span ends at or before its start, or lies in one hour):
    worked out once per point pair instead of once per meter. Not finite:
    no hour, so a quantity books (and fails) as `split_by_hour` has it."""
    try:
        last_hour = math.floor(end / HOUR) * HOUR
        first_hour = math.floor(start / HOUR) * HOUR
    except (OverflowError, ValueError):
        return (start, end, None)
    if last_hour == end:
        last_hour -= HOUR
    if end <= start:
        return (start, end, last_hour)
    if first_hour == start:
        first_hour -= HOUR
    return (start, end, last_hour if first_hour == last_hour else None)


def _book(out: Outcome, meter: str, dim: str, window: Window, scaled: int, why: Why, *args: Any) -> None:
    """Book a quantity that passed its physical check, unless the ledger
    cannot hold it (then it is an anomaly like any other). `why(*args)` gives
    the evidence; it is not built for what is booked (this runs for every
    report)."""
    start, end, hour = window
    if -INT64_MAX <= scaled <= INT64_MAX:
        if scaled:
            if hour is not None:  # what split_by_hour gives for it
                out.contributions.append(Contribution(meter, dim, hour, scaled))
                return
            append = out.contributions.append
            for part_hour, part in split_by_hour(start, end, scaled):
                append(Contribution(meter, dim, part_hour, part))
        return
    evidence, raw = why(*args)
    out.anomalies.append(
        Anomaly("value_out_of_range", meter, dim, scaled, start, end, f"{evidence} (limit {INT64_MAX})", raw)
    )


def _hold(out: Outcome, rule: str, meter: str, scaled: int, start: float, end: float, limit: str, why: Why,
          *args: Any) -> None:  # fmt: skip
    evidence, raw = why(*args)
    out.anomalies.append(Anomaly(rule, meter, "", scaled, start, end, f"{evidence} ({limit})", raw))


def _fmt(x: float) -> str:
    return f"{x:.0f}" if float(x).is_integer() else f"{x:.3f}"


def _why_covered(covered: float) -> tuple[str, Raw]:
    return f"{_fmt(covered)} s covered", {"covered_s": covered}


def _why_memory(used: int, total: int | None, covered: float) -> tuple[str, Raw]:
    return (
        f"memory used_bytes {used} of total_bytes {total} over {_fmt(covered)} s",
        {"used_bytes": used, "total_bytes": total, "covered_s": covered},
    )


def _why_disks(used: int, disks: int, covered: float) -> tuple[str, Raw]:
    return (
        f"disk used_bytes {used} on {disks} disks over {_fmt(covered)} s",
        {"used_bytes": used, "disks": disks, "covered_s": covered},
    )


def _why_overfull(bad: list[tuple[str, int, int]], covered: float) -> tuple[str, Raw]:
    shown = bad[:_EVIDENCE_ITEMS]
    named = ", ".join(f"{m} used_bytes {u} of total_bytes {t}" for m, u, t in shown)
    more = f" and {len(bad) - len(shown)} more" if len(bad) > len(shown) else ""
    raw: Raw = {"covered_s": covered, "disks": len(bad), "used_bytes": sum(u for _, u, _ in bad)}
    for i, (m, u, t) in enumerate(shown):
        raw |= {f"disk{i}.mount": m, f"disk{i}.used_bytes": u, f"disk{i}.total_bytes": t}
    return f"disk {named}{more} over {_fmt(covered)} s", raw


def _why_cpu(before: float, after: float, span: float, cores: int | None, rebooted: bool,
             limit: float | None) -> tuple[str, Raw]:  # fmt: skip
    reset = " (reset)" if rebooted or after < before else ""
    known = cores if cores is not None else "unknown"
    raw: Raw = {"busy_before": before, "busy_after": after, "span_s": span, "cores": cores, "rebooted": int(rebooted)}
    raw["limit_s"] = limit
    return f"busy_seconds_total {_fmt(before)} -> {_fmt(after)}{reset} in {_fmt(span)} s, {known} cores", raw


def _why_traffic(good: int, span: float) -> tuple[str, Raw]:
    return f"rx+tx +{good} bytes in {_fmt(span)} s", {"bytes": good, "span_s": span}


def _why_links(bad: list[tuple[str, int, int, int, float]], span: float, rebooted: bool) -> tuple[str, Raw]:
    shown = bad[:_EVIDENCE_ITEMS]
    parts = []
    raw: Raw = {"span_s": span, "rebooted": int(rebooted), "nics": len(bad)}
    for i, (nic, d_rx, d_tx, speed, limit) in enumerate(shown):
        link = f"{speed} bit/s" if speed else "speed unknown"
        parts.append(f"{nic} rx +{d_rx} tx +{d_tx} bytes ({link}, limit {_fmt(limit)} bytes per direction)")
        raw |= {f"nic{i}": nic, f"nic{i}.rx_bytes": d_rx, f"nic{i}.tx_bytes": d_tx, f"nic{i}.speed_bps": speed}
        raw[f"nic{i}.limit_bytes"] = limit
    more = f" and {len(bad) - len(shown)} more" if len(bad) > len(shown) else ""
    return f"{'; '.join(parts)}{more} in {_fmt(span)} s", raw


# -- hosts ---------------------------------------------------------------------


def host_contributions(prev: HostPoint | None, cur: HostPoint, *, limits: Limits) -> Outcome:
    """What `cur` adds to the ledger, given the point before it."""
    out = Outcome()
    # A previous report stamped at or after this one (a clock stepped back)
    # already covered all of this one's time.
    start, end = covered_span(cur.ts, cur.interval_s, prev.ts if prev else None, limits.max_interval_s)
    covered = end - start
    window: Window | None = None
    if covered > 0:
        window = _window(start, end)
        _host_gauges(out, cur, window, covered)
    if prev is None or prev.ts >= cur.ts:
        return out  # the first point is the baseline of every counter
    # Counters: the delta belongs to the span between the two readings (most
    # often the span the gauges cover: a report follows within its interval).
    span = cur.ts - prev.ts
    if window is None or start != prev.ts or end != cur.ts:
        window = _window(prev.ts, cur.ts)
    rebooted = rebooted_between(prev.boot_time, cur.boot_time, prev.ts, cur.ts)
    if cur.cpu_busy is not None and prev.cpu_busy is not None:
        _cpu(out, prev, cur, span, window, rebooted, limits)
    if cur.nics and prev.nics:
        _network(out, prev, cur, span, window, rebooted, limits)
    return out


def _host_gauges(out: Outcome, cur: HostPoint, window: Window, covered: float) -> None:
    """Gauges: value at the end of the interval x covered time. host_hours in
    ms, memory and storage in KiB·s (model.METERS)."""
    start, end, _ = window
    _book(out, "host_hours", cur.role, window, to_scaled(covered, 1000), _why_covered, covered)
    used, total = cur.mem_used, cur.mem_total
    if used is not None:
        scaled = to_scaled(used / 1024 * covered, 1)
        if total is not None and used > total:  # used == total is a full, not an impossible, memory
            _hold(out, "memory_above_total", "memory_gib_hours", scaled, start, end, "limit: total_bytes",
                  _why_memory, used, total, covered)  # fmt: skip
        else:
            _book(out, "memory_gib_hours", "", window, scaled, _why_memory, used, total, covered)
    if cur.disks:
        _storage(out, cur.disks, window, covered)
    elif cur.disk_used is not None:  # a point stored before disks were kept one by one
        scaled = to_scaled(cur.disk_used / 1024 * covered, 1)
        _book(out, "storage_gib_hours", "", window, scaled, _why_disks, cur.disk_used, 0, covered)


def _storage(out: Outcome, disks: tuple[tuple[str, int, int], ...], window: Window, covered: float) -> None:
    """Storage per disk: a disk fuller than its size is quarantined, the rest booked.

    Both parts are derived from one rounded total, so booked + quarantined is
    exactly what the host's used space gives."""
    used = 0
    bad: list[tuple[str, int, int]] = []
    for disk in disks:
        used += disk[1]
        if disk[1] > disk[2]:
            bad.append(disk)
    total_scaled = to_scaled(used / 1024 * covered, 1)
    if not bad:
        _book(out, "storage_gib_hours", "", window, total_scaled, _why_disks, used, len(disks), covered)
        return
    bad_used = sum(u for _, u, _ in bad)
    bad_scaled = to_scaled(bad_used / 1024 * covered, 1)
    start, end, _ = window
    _hold(out, "disk_above_total", "storage_gib_hours", bad_scaled, start, end, "limit: total_bytes per disk",
          _why_overfull, bad, covered)  # fmt: skip
    _book(out, "storage_gib_hours", "", window, total_scaled - bad_scaled, _why_disks, used - bad_used,
          len(disks) - len(bad), covered)  # fmt: skip


def _cpu(out: Outcome, prev: HostPoint, cur: HostPoint, span: float, window: Window, rebooted: bool,
         limits: Limits) -> None:  # fmt: skip
    before, after = prev.cpu_busy, cur.cpu_busy
    assert before is not None and after is not None
    delta = counter_delta(before, after, reset=rebooted)
    scaled = to_scaled(delta, 10**6)  # µs
    # a VM resized between two reports had the larger count for a while
    pc, cc = prev.cpu_count, cur.cpu_count
    cores = cc if pc is None else pc if cc is None else max(pc, cc)
    if cores is not None:
        limit = cores * (span * limits.cpu_tolerance + limits.cpu_slack_s)
        if delta > limit:
            _hold(out, "cpu_above_cores", "cpu_core_seconds", scaled, prev.ts, cur.ts, f"limit {_fmt(limit)} s",
                  _why_cpu, before, after, span, cores, rebooted, limit)  # fmt: skip
            return
    _book(out, "cpu_core_seconds", "", window, scaled, _why_cpu, before, after, span, cores, rebooted, None)


def _network(out: Outcome, prev: HostPoint, cur: HostPoint, span: float, window: Window, rebooted: bool,
             limits: Limits) -> None:  # fmt: skip
    """Traffic per interface, each direction within its link speed (full
    duplex) or, where the speed is unknown, the configured ceiling."""
    wall = span * limits.network_tolerance + limits.network_slack_s
    trust_speed = limits.link_speed_on_vms or cur.role != "vm"
    ceiling = limits.network_ceiling_bps / 8 * wall
    speeds, prev_speeds, before_all = cur.nic_speeds, prev.nic_speeds, prev.nics
    good = 0
    bad: list[tuple[str, int, int, int, float]] = []
    for nic, (rx, tx) in cur.nics.items():
        before = before_all.get(nic)
        if before is None:
            continue  # a new interface: its first reading is a baseline
        b_rx, b_tx = before
        d_rx = rx - b_rx if rx >= b_rx and not rebooted else int(counter_delta(b_rx, rx, reset=rebooted))
        d_tx = tx - b_tx if tx >= b_tx and not rebooted else int(counter_delta(b_tx, tx, reset=rebooted))
        speed = max(speeds.get(nic, 0), prev_speeds.get(nic, 0)) if trust_speed else 0
        limit = speed / 8 * wall if speed else ceiling
        if d_rx > limit or d_tx > limit:
            bad.append((nic, d_rx, d_tx, speed, limit))
        else:
            good += d_rx + d_tx
    if bad:
        _hold(out, "network_above_link", "network_gib", sum(b[1] + b[2] for b in bad), prev.ts, cur.ts,
              "limit: link speed x time per direction", _why_links, bad, span, rebooted)  # fmt: skip
    _book(out, "network_gib", "", window, good, _why_traffic, good, span)


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
    window = _window(prev.ts, cur.ts)
    # Counter32: after a reboot a decrease is a reset, never a wrap.
    bits = None if rebooted else 32
    for meter, before, now in zip(_PAGE_METERS, _pages(prev), _pages(cur), strict=True):
        if before is None or now is None:
            continue
        delta = int(counter_delta(before, now, reset=replaced, bits=bits, max_delta=limit))
        if delta > limit:
            ceiling = f"limit {_fmt(limit)} pages at {_fmt(limits.pages_per_minute)}/min"
            _hold(out, "pages_above_ceiling", meter, delta, prev.ts, cur.ts, ceiling,
                  _why_pages, meter, before, now, delta, replaced, prev, cur, limit)  # fmt: skip
        else:
            _book(out, meter, "", window, delta, _why_pages, meter, before, now, delta, replaced, prev, cur,
                  limit)  # fmt: skip
    return out


def _why_pages(meter: str, before: int, now: int, delta: int, replaced: bool, prev: DevicePoint, cur: DevicePoint,
               limit: float) -> tuple[str, Raw]:  # fmt: skip
    cause = " (replaced)" if replaced else " (reset)" if now < before and delta == now else ""
    raw: Raw = {"before": before, "after": now, "span_s": cur.ts - prev.ts, "uptime_before_s": prev.uptime_s}
    raw |= {"uptime_after_s": cur.uptime_s, "limit_pages": limit}
    return f"{meter} {before} -> {now}{cause} in {_fmt(cur.ts - prev.ts)} s", raw


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
