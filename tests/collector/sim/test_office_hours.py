"""The demo's printers print in office hours only (Mon–Fri 07:00–17:00 Europe/Berlin):
OfficeHours.ticks, which the page counters served by snmpsim follow, against a count
minute by minute, across weekends and both daylight-saving changes."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.sim.model import AROUND_THE_CLOCK, BERLIN, OFFICE, OfficeHours

TICK = 60.0


def _berlin(*args: int) -> float:
    return dt.datetime(*args, tzinfo=BERLIN).timestamp()  # type: ignore[misc]


def _brute(hours: OfficeHours, since: float, until: float, tick: float = TICK) -> int:
    k = int(since // tick) + 1
    count = 0
    while k * tick <= until:
        count += hours.holds(k * tick)
        k += 1
    return count


def test_a_working_day_prints_ten_hours_and_a_weekend_nothing() -> None:
    monday = _berlin(2026, 12, 7)
    assert OFFICE.ticks(monday, monday + 86400, TICK) == 600
    saturday = _berlin(2026, 12, 5)
    assert OFFICE.ticks(saturday, saturday + 2 * 86400, TICK) == 0
    assert OFFICE.ticks(monday, monday + 7 * 86400, TICK) == 5 * 600
    assert AROUND_THE_CLOCK.ticks(saturday, saturday + 86400, TICK) == 1440


@pytest.mark.parametrize(
    ("since", "until", "expected"),
    [
        (_berlin(2026, 12, 7, 6, 59), _berlin(2026, 12, 7, 7, 0), 1),  # 07:00 is in office hours
        (_berlin(2026, 12, 7, 7, 0), _berlin(2026, 12, 7, 7, 1), 1),  # the start of a span is not in it
        (_berlin(2026, 12, 7, 16, 58), _berlin(2026, 12, 7, 17, 0), 1),  # 17:00 is not
        (_berlin(2026, 12, 7, 12, 0), _berlin(2026, 12, 7, 12, 0), 0),
        (_berlin(2026, 12, 7, 12, 0), _berlin(2026, 12, 7, 11, 0), 0),
    ],
)
def test_the_edges_of_office_hours(since: float, until: float, expected: int) -> None:
    assert OFFICE.ticks(since, until, TICK) == expected == _brute(OFFICE, since, until)


@pytest.mark.parametrize("day", [dt.date(2026, 3, 27), dt.date(2026, 10, 23)])  # the Fridays before DST changes
def test_daylight_saving_changes_keep_local_office_hours(day: dt.date) -> None:
    since = _berlin(day.year, day.month, day.day)
    until = since + 5 * 86400
    assert OFFICE.ticks(since, until, TICK) == _brute(OFFICE, since, until) == 3 * 600  # Fri, Mon, Tue


@settings(max_examples=60, deadline=None)
@given(
    since=st.floats(min_value=_berlin(2026, 1, 1), max_value=_berlin(2026, 12, 20)),
    span=st.floats(min_value=0, max_value=4 * 86400),
    tick=st.sampled_from([1.0, 60.0, 90.0, 3600.0]),
)
def test_ticks_agree_with_counting_tick_by_tick(since: float, span: float, tick: float) -> None:
    span = min(span, 2 * 86400) if tick == 1.0 else span  # keep the brute force quick
    assert OFFICE.ticks(since, since + span, tick) == _brute(OFFICE, since, since + span, tick)
