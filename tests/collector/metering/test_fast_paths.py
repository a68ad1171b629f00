"""Short ways through metering's per-report work give exactly what the long way gives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.metering import points
from collector.metering.counters import HOUR, split_by_hour

#: instants near hour boundaries, where splitting changes
_instants = st.builds(
    lambda hour, offset: hour * HOUR + offset,
    st.integers(480_000, 480_010),
    st.one_of(st.sampled_from([0.0, 0.5, -0.5, 1e-6, -1e-6, HOUR / 2]), st.floats(-2 * HOUR, 2 * HOUR)),
)


@settings(max_examples=500, deadline=None)
@given(start=_instants, end=_instants, quantity=st.integers(-(2**64), 2**64).filter(bool))
def test_a_windows_one_hour_is_where_split_by_hour_books_it_all(start: float, end: float, quantity: int) -> None:
    window = points._window(start, end)
    assert window[:2] == (start, end)
    parts = split_by_hour(start, end, quantity)
    if window[2] is not None:  # `points._book` books it there without splitting
        assert parts == [(window[2], quantity)]


def test_a_window_that_is_not_finite_has_no_hour() -> None:
    assert points._window(0.0, float("inf"))[2] is None
    assert points._window(float("nan"), 10.0)[2] is None
