"""Counter and gauge math, pure: deltas with resets and wraps, coverage of a
report, and exact splitting of a quantity across hours.

Every function here is deterministic on its inputs and returns integers in
the meter's scaled unit, so totals are exact sums and never depend on the
order reports arrived in.
"""

from __future__ import annotations

import math

__all__ = ["HOUR", "counter_delta", "covered_span", "split_by_hour", "to_scaled"]

HOUR = 3600
WRAP32 = 2**32


def counter_delta(previous: float, current: float, *, reset: bool = False, bits: int | None = None) -> float:
    """Consumption between two readings of a cumulative counter.

    `reset` (the host rebooted, the device's uptime went back) means the
    counter started again from zero: the new value is the delta. A 32-bit
    counter below its previous value without a reset wrapped once. Any other
    decrease is a reset too (a driver reload, a counter cleared by hand).
    """
    if reset:
        return current
    if current >= previous:
        return current - previous
    if bits == 32 and previous < WRAP32:
        return current + WRAP32 - previous
    return current


def covered_span(ts: float, interval_s: float, previous_ts: float | None, max_gap_s: float) -> tuple[float, float]:
    """The time a report covers: the `interval_s` seconds ending at `ts`, at
    most `max_gap_s` (a longer silence is not billed), and never time the
    previous report already covered."""
    start = ts - min(interval_s, max_gap_s)
    if previous_ts is not None:
        start = max(start, previous_ts)
    return (min(start, ts), ts)


def to_scaled(value: float, scale: int) -> int:
    """Round half away from zero to the meter's integer unit."""
    scaled = value * scale
    return math.floor(abs(scaled) + 0.5) * (1 if scaled >= 0 else -1)


def split_by_hour(start: float, end: float, quantity: int) -> list[tuple[int, int]]:
    """Split an integer quantity over the UTC hours of (start, end] in
    proportion to time, conserving the total exactly (largest remainder).

    Returns [(hour_start_ts, part)], hours ascending, zero parts omitted. A
    zero-length span books everything into the hour holding `end`.
    """
    if quantity == 0:
        return []
    last_hour = _hour_of(end)
    if end <= start or _hour_of(start) == last_hour:
        return [(last_hour, quantity)]
    span = end - start
    hours: list[int] = []
    weights: list[float] = []
    hour = _hour_of(start)
    while hour <= last_hour:
        lo, hi = max(start, hour), min(end, hour + HOUR)
        if hi > lo:
            hours.append(hour)
            weights.append((hi - lo) / span)
        hour += HOUR
    sign = 1 if quantity > 0 else -1
    total = abs(quantity)
    raw = [w * total for w in weights]
    parts = [math.floor(r) for r in raw]
    remainder = total - sum(parts)
    # Largest remainders get the leftover units; ties go to the later hour so
    # the result is a pure function of the inputs.
    order = sorted(range(len(raw)), key=lambda i: (raw[i] - parts[i], i), reverse=True)
    for i in order[:remainder]:
        parts[i] += 1
    return [(h, sign * p) for h, p in zip(hours, parts, strict=True) if p]


def _hour_of(ts: float) -> int:
    """Start of the UTC hour holding `ts`, where an instant exactly on an hour
    boundary belongs to the hour it ends (spans are half-open on the left)."""
    hour = math.floor(ts / HOUR) * HOUR
    if hour == ts:
        hour -= HOUR
    return hour
