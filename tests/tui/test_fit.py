"""How columns share the width (tui/widgets/fit.py): pure, no terminal."""

from __future__ import annotations

from tui.widgets.fit import Column, cut_values, fit_columns, natural_widths

COLUMNS = [
    Column("host", "Host", 10, max_width=32, flex=True),
    Column("tenant", "Mandant", 8, priority=1, max_width=30),
    Column("site", "Standort", 8, priority=2, max_width=20),
    Column("coverage", "Abdeckung", 4, priority=3, right=True),
    Column("seen", "zuletzt", 4, priority=4, right=True),
]
NATURAL = {"host": 45, "tenant": 30, "site": 17, "coverage": 6, "seen": 4}


def widths(width: int, natural: dict[str, int] | None = None, gap: int = 1) -> dict[str, int]:
    return {c.key: w for c, w in fit_columns(COLUMNS, width, NATURAL if natural is None else natural, gap=gap)}


def test_no_header_is_cut_at_any_width() -> None:
    for width in range(10, 200):
        for column, w in fit_columns(COLUMNS, width, NATURAL):
            assert w >= len(column.label), (width, column.key, w)


def test_lowest_priority_goes_first_and_priority_zero_never() -> None:
    assert list(widths(200)) == ["host", "tenant", "site", "coverage", "seen"]
    # minimums: host 10, Mandant 8, Standort 8, Abdeckung 9, zuletzt 7, each +1
    assert list(widths(40)) == ["host", "tenant", "site", "coverage"]
    assert list(widths(30)) == ["host", "tenant", "site"]
    assert list(widths(12)) == ["host"]
    assert list(widths(3)) == ["host"]  # the last column stays, cut


def test_a_long_column_does_not_starve_the_others() -> None:
    """At 120 columns the tenant and the site are whole; the host is capped by its maximum."""
    w = widths(120)
    assert w["tenant"] == 30 and w["site"] == 17 and w["host"] >= 32


def test_short_values_whole_first_then_the_rest_evenly() -> None:
    w = widths(80)  # minimums 42 + 5 gaps: 33 to share; site to 12 first, then a cell each
    assert w == {"host": 21, "tenant": 21, "site": 17, "coverage": 9, "seen": 7}


def test_flex_takes_what_is_left_and_gap_counts() -> None:
    w = widths(200, gap=2)
    assert w["host"] == 45  # with room to spare, past its maximum to what its content needs
    assert widths(130) == {"host": 45, "tenant": 30, "site": 17, "coverage": 9, "seen": 7}
    assert widths(110)["host"] == 42  # 110 - 5 gaps - 63 for the others: the host is the one cut
    assert widths(100, natural={})["host"] == 32  # no content known: the flex column still fills


def test_cut_values_lists_hidden_and_cut_values_in_full() -> None:
    layout = fit_columns(COLUMNS, 40, NATURAL)
    values = {"host": "h" * 45, "tenant": "zweckverband-kommunale-it-nord", "site": "rz", "seen": "3 min"}
    assert cut_values(COLUMNS, layout, values) == [
        ("Host", "h" * 45),
        ("Mandant", "zweckverband-kommunale-it-nord"),
        ("zuletzt", "3 min"),
    ]


def test_natural_widths_count_cells() -> None:
    assert natural_widths(COLUMNS[:2], [["ab", "Größe"], ["漢字", ""]]) == {"host": 4, "tenant": 5}
