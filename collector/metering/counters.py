"""Counter and gauge math, pure: deltas with resets and wraps, reboots,
coverage of a report, and exact splitting of a quantity across hours.

Every function here is deterministic on its inputs and returns integers in
the meter's scaled unit, so totals are exact sums and never depend on the
order reports arrived in.
"""

from __future__ import annotations

import math

__all__ = [
    "BOOT_TOLERANCE_S",
    "HOUR",
    "INT64_MAX",
    "WRAP32",
    "counter_delta",
    "covered_span",
    "rebooted_between",
    "split_by_hour",
    "to_scaled",
]

HOUR = 3600
WRAP32 = 2**32
#: the largest integer the ledger (SQLite INTEGER, PostgreSQL BIGINT) holds
INT64_MAX = 2**63 - 1
#: psutil's boot_time wobbles by a second or so between calls
BOOT_TOLERANCE_S = 5.0


def counter_delta(
    previous: float, current: float, *, reset: bool = False, bits: int | None = None, max_delta: float | None = None
) -> float:
    """Consumption between two readings of a cumulative counter.

    `reset` (the host rebooted, the device was replaced) means the counter
    started again from zero: the new value is the delta. A decrease is a
    wrap of a 32-bit counter only when the previous value was in the top half
    of its range (a counter near zero did not just run through four billion)
    and the unwrapped delta is at most `max_delta` (what the span can hold);
    any other decrease is a reset too (a driver reload, a counter cleared by
    service, a unit swapped under the same id).
    """
    if reset:
        return current
    if current >= previous:
        return current - previous
    if bits == 32 and WRAP32 // 2 <= previous < WRAP32:
        unwrapped = current + WRAP32 - previous
        if max_delta is None or unwrapped <= max_delta:
            return unwrapped
    return current


def rebooted_between(
    prev_boot: float, cur_boot: float, prev_ts: float, cur_ts: float, *, tolerance_s: float = BOOT_TOLERANCE_S
) -> bool:
    """Whether a host rebooted between two reports.

    Only a boot time that moved and now lies between the two reports is a
    reboot. A boot time that changes every report (a broken or stepping
    clock: psutil derives it from the wall clock minus uptime) is not a
    series of reboots; counters then speak for themselves (a decrease is
    still a reset, an increase a normal delta).
    """
    if abs(cur_boot - prev_boot) <= tolerance_s:
        return False
    return prev_ts - tolerance_s <= cur_boot <= cur_ts + tolerance_s


def covered_span(ts: float, interval_s: float, previous_ts: float | None, max_interval_s: float) -> tuple[float, float]:
    """The time a report covers: the `interval_s` seconds ending at `ts` (at
    most `max_interval_s`), and never time the previous report already
    covered. A silence is not billed because only the declared interval
    before `ts` is covered, however long ago the previous report was."""
    start = ts - min(interval_s, max_interval_s)
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
    zero-length span books everything into the hour holding `end`. Integer
    arithmetic throughout (time in µs): a float product loses units above
    2**53, and a quantity may be that large.
    """
    if quantity == 0:
        return []
    # The UTC hour holding an instant; one exactly on an hour boundary belongs
    # to the hour it ends (spans are half-open on the left). Inline: this runs
    # per meter and report.
    last_hour = math.floor(end / HOUR) * HOUR
    if last_hour == end:
        last_hour -= HOUR
    if end <= start:
        return [(last_hour, quantity)]
    first_hour = math.floor(start / HOUR) * HOUR
    if first_hour == start:
        first_hour -= HOUR
    if first_hour == last_hour:
        return [(last_hour, quantity)]
    hours: list[int] = []
    lengths: list[int] = []
    hour = first_hour
    while hour <= last_hour:
        lo, hi = max(start, hour), min(end, hour + HOUR)
        if hi > lo:
            hours.append(hour)
            lengths.append(round((hi - lo) * 1_000_000))
        hour += HOUR
    span = sum(lengths)
    if span == 0:
        return [(last_hour, quantity)]
    sign = 1 if quantity > 0 else -1
    total = abs(quantity)
    parts = [total * n // span for n in lengths]
    remainder = total - sum(parts)  # 0 <= remainder < len(parts)
    # Largest remainders get the leftover units; ties go to the later hour so
    # the result is a pure function of the inputs.
    order = sorted(range(len(parts)), key=lambda i: (total * lengths[i] % span, i), reverse=True)
    for i in order[:remainder]:
        parts[i] += 1
    return [(h, sign * p) for h, p in zip(hours, parts, strict=True) if p]
