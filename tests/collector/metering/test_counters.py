"""Pure counter math: deltas, coverage, hour splitting."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.metering.counters import (
    HOUR,
    WRAP32,
    counter_delta,
    covered_span,
    rebooted_between,
    split_by_hour,
)
from collector.metering.model import BERLIN, Period

UTC = dt.UTC


def test_counter_increase_is_the_difference() -> None:
    assert counter_delta(100.0, 150.0) == 50.0


def test_counter_below_previous_is_a_reset() -> None:
    assert counter_delta(100.0, 30.0) == 30.0


def test_reset_flag_wins_even_if_counter_grew() -> None:
    assert counter_delta(100.0, 150.0, reset=True) == 150.0


def test_32bit_counter_wrap_is_unwrapped() -> None:
    assert counter_delta(2**32 - 10, 5, bits=32) == 15


def test_32bit_counter_after_reboot_is_a_reset_not_a_wrap() -> None:
    assert counter_delta(2**32 - 10, 5, bits=32, reset=True) == 5


def test_32bit_decrease_from_the_lower_half_is_a_reset_not_a_wrap() -> None:
    # The regression: a replacement printer at 11,340 pages after one at 15,000
    # was "unwrapped" to 4,294,963,636 pages.
    assert counter_delta(15_000, 11_340, bits=32) == 11_340
    assert counter_delta(2**31 - 1, 5, bits=32) == 5


def test_32bit_wrap_needs_a_plausible_unwrapped_delta() -> None:
    assert counter_delta(2**31, 5, bits=32, max_delta=2**31 + 5) == 2**31 + 5  # from the top half, plausible
    assert counter_delta(2**31, 5, bits=32, max_delta=1000) == 5  # implausible: a reset
    assert counter_delta(WRAP32 - 100, 50, bits=32, max_delta=150) == 150
    assert counter_delta(WRAP32 - 100, 50, bits=32, max_delta=149) == 50


def test_a_decrease_of_a_64_bit_counter_is_always_a_reset() -> None:
    assert counter_delta(2**63 - 10, 5) == 5
    assert counter_delta(WRAP32 - 10, 5, bits=64) == 5


@given(
    previous=st.integers(min_value=0, max_value=WRAP32 - 1),
    current=st.integers(min_value=0, max_value=WRAP32 - 1),
    max_delta=st.integers(min_value=0, max_value=WRAP32),
)
def test_32bit_delta_is_either_a_plausible_wrap_or_the_new_value(previous: int, current: int, max_delta: int) -> None:
    delta = counter_delta(previous, current, bits=32, max_delta=max_delta)
    if current >= previous:
        assert delta == current - previous
    elif delta != current:
        # only a wrap from the top half, and only within the limit
        assert previous >= WRAP32 // 2
        assert delta == current + WRAP32 - previous <= max_delta
    assert 0 <= delta < WRAP32


def test_a_reboot_is_a_new_boot_time_between_the_two_reports() -> None:
    assert rebooted_between(1000.0, 5000.0, 4000.0, 5060.0)
    assert not rebooted_between(1000.0, 1002.0, 4000.0, 5060.0)  # psutil's wobble


def test_a_boot_time_outside_the_span_is_a_broken_clock_not_a_reboot() -> None:
    # A boot time that jumps every report (before the previous report, or in the future)
    assert not rebooted_between(1000.0, 3000.0, 4000.0, 5060.0)
    assert not rebooted_between(1000.0, 9000.0, 4000.0, 5060.0)
    assert not rebooted_between(1000.0, 0.0, 4000.0, 5060.0)  # an agent that does not know it


def test_coverage_never_overlaps_the_previous_report() -> None:
    assert covered_span(1000.0, 60.0, 980.0, 300.0) == (980.0, 1000.0)
    assert covered_span(1000.0, 60.0, None, 300.0) == (940.0, 1000.0)


def test_a_silence_is_not_billed() -> None:
    # Two hours without a report: only the declared minute before ts is covered.
    assert covered_span(10_000.0, 60.0, 2_800.0, 86_400.0) == (9_940.0, 10_000.0)


@pytest.mark.parametrize("interval", [600.0, 900.0, 3600.0, 86_400.0])
def test_a_long_declared_interval_is_covered_in_full(interval: float) -> None:
    assert covered_span(100_000.0, interval, 100_000.0 - interval, 86_400.0) == (100_000.0 - interval, 100_000.0)


def test_max_interval_caps_what_one_report_covers() -> None:
    assert covered_span(10_000.0, 3600.0, 0.0, 300.0) == (9700.0, 10_000.0)


def test_split_inside_one_hour() -> None:
    assert split_by_hour(HOUR * 10 + 5, HOUR * 10 + 65, 600) == [(HOUR * 10, 600)]


def test_split_across_an_hour_boundary_is_proportional() -> None:
    # 30 s before 11:00 and 90 s after: 1/4 and 3/4
    parts = split_by_hour(HOUR * 11 - 30, HOUR * 11 + 90, 1000)
    assert parts == [(HOUR * 10, 250), (HOUR * 11, 750)]


def test_span_ending_exactly_on_the_hour_belongs_to_the_hour_it_ends() -> None:
    assert split_by_hour(HOUR * 11 - 60, HOUR * 11, 7) == [(HOUR * 10, 7)]


@given(
    start=st.floats(min_value=1.6e9, max_value=1.9e9),
    length=st.floats(min_value=0, max_value=5 * 86400),
    quantity=st.one_of(
        st.integers(min_value=-(10**15), max_value=10**15),
        st.integers(min_value=-(2**64), max_value=2**64),  # beyond a float's 53 bits
    ),
)
def test_split_conserves_the_total_exactly(start: float, length: float, quantity: int) -> None:
    parts = split_by_hour(start, start + length, quantity)
    assert sum(p for _, p in parts) == quantity
    assert all(h % HOUR == 0 for h, _ in parts)
    assert [h for h, _ in parts] == sorted({h for h, _ in parts})


def test_periods_are_berlin_months_across_both_dst_changes() -> None:
    march = Period(2026, 3)
    assert march.start.astimezone(UTC) == dt.datetime(2026, 2, 28, 23, tzinfo=UTC)  # CET
    assert march.end.astimezone(UTC) == dt.datetime(2026, 3, 31, 22, tzinfo=UTC)  # CEST
    october = Period(2026, 10)
    assert october.start.astimezone(UTC) == dt.datetime(2026, 9, 30, 22, tzinfo=UTC)  # CEST
    assert october.end.astimezone(UTC) == dt.datetime(2026, 10, 31, 23, tzinfo=UTC)  # CET
    assert (october.end_ts - october.start_ts) / 3600 == 31 * 24 + 1  # the extra hour of October


@pytest.mark.parametrize(
    ("utc", "period"),
    [
        (dt.datetime(2026, 3, 31, 21, 59, 59, tzinfo=UTC), "2026-03"),
        (dt.datetime(2026, 3, 31, 22, 0, 1, tzinfo=UTC), "2026-04"),
        (dt.datetime(2026, 10, 31, 22, 59, 59, tzinfo=UTC), "2026-10"),
        (dt.datetime(2026, 10, 31, 23, 0, 1, tzinfo=UTC), "2026-11"),
    ],
)
def test_period_of_an_instant_near_month_end(utc: dt.datetime, period: str) -> None:
    assert str(Period.containing(utc.timestamp())) == period


def test_period_parse_and_neighbours() -> None:
    assert str(Period.parse("2026-12").next()) == "2027-01"
    assert str(Period.parse("2026-01").previous()) == "2025-12"
    with pytest.raises(ValueError, match="YYYY-MM"):
        Period.parse("2026-13")
    assert dt.datetime(2026, 11, 1, tzinfo=BERLIN).timestamp() == Period(2026, 11).start_ts
