"""How a table's columns share the terminal's width (pure: no Textual, no I/O).

Every table of the TUI describes its columns with a priority, a minimum and a
maximum width. When the terminal is too narrow for all minimums, the columns of
lowest priority (highest number) go first; priority 0 never goes. A header is
never cut: a column is at least as wide as its label. The width left over is
shared among the columns whose content is wider than their minimum, up to what
the content needs (capped by `max_width`, so one long column cannot starve the
others): first every column up to SHORT cells, then evenly (a cell at a
time, the more important columns first), then past the maximums to what the
content needs; what is still left goes to `flex` columns. Values that do not fit
are cut with "…"; `cut_values` lists them in full for the line under the table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from rich.cells import cell_len

__all__ = ["Column", "Layout", "cut_values", "fit_columns", "natural_widths"]


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    #: the narrowest the values may get (the label's width is a floor of its own)
    width: int
    right: bool = False
    #: lower stays longer when the terminal is narrow; 0 is always shown
    priority: int = 0
    #: the widest the column grows for its content; None: as wide as the content
    max_width: int | None = None
    #: takes what is left when every column has what its content needs
    flex: bool = False

    def min_width(self, extra: int = 0) -> int:
        """The column's floor: its values' minimum, and never less than its header."""
        return max(self.width, cell_len(self.label) + extra)


#: values up to this wide are shown whole before any column grows further
SHORT = 12

#: the columns shown, in their order, each with its width
Layout = list[tuple[Column, int]]


def natural_widths(columns: Sequence[Column], rows: Iterable[Sequence[str]]) -> dict[str, int]:
    """The widest value of each column over `rows` (texts in the columns' order)."""
    widest = {c.key: 0 for c in columns}
    keys = [c.key for c in columns]
    for row in rows:
        for key, value in zip(keys, row, strict=False):
            n = cell_len(value)
            if n > widest[key]:
                widest[key] = n
    return widest


def fit_columns(
    columns: Sequence[Column],
    width: int,
    natural: Mapping[str, int] | None = None,
    *,
    gap: int = 1,
    label_extra: Mapping[str, int] | None = None,
) -> Layout:
    """Choose the columns that fit into `width` cells and their widths.

    `gap` is what each column costs beyond its width (a separator, or a
    DataTable's padding); `natural` the widest value per column key (missing:
    the column stays at its minimum unless it is `flex`); `label_extra` cells a
    header needs beyond its label (a sort arrow).
    """
    natural = natural or {}
    extra = label_extra or {}
    floor = {c.key: c.min_width(extra.get(c.key, 0)) for c in columns}

    def cost(cols: Sequence[Column]) -> int:
        return sum(floor[c.key] + gap for c in cols)

    # stable: among equal priorities the later column goes first
    chosen = sorted(columns, key=lambda c: c.priority)
    while chosen and cost(chosen) > width and chosen[-1].priority > 0:
        chosen.pop()
    kept = {id(c) for c in chosen}
    shown = [c for c in columns if id(c) in kept]
    widths = {c.key: floor[c.key] for c in shown}
    spare = width - cost(shown)

    def target(c: Column, capped: bool = True) -> int:
        want = natural.get(c.key, 0)
        if capped and c.max_width is not None:
            want = min(want, c.max_width)
        return max(floor[c.key], want)

    def fill(group: Sequence[Column], cap: int | None = None, capped: bool = True) -> None:
        # water-filling: a cell at a time to each column that still wants one
        nonlocal spare
        while spare > 0:
            needy = [c for c in group if widths[c.key] < min(target(c, capped), cap or target(c, capped))]
            if not needy:
                return
            for c in needy:
                if spare == 0:
                    return
                widths[c.key] += 1
                spare -= 1

    # short values first, whatever their priority: a state or an age cut to
    # "pri…" or "85m…" says nothing, a long name cut still says something
    by_priority = sorted(shown, key=lambda c: c.priority)
    fill(by_priority, SHORT)
    # then evenly: a hostname must not take the width while the tenant is cut
    fill(by_priority)
    # the maximums keep the others from starving; with room to spare, nobody starves
    fill(by_priority, capped=False)
    flex = [c for c in shown if c.flex]
    while spare > 0 and flex:
        grew = False
        for c in flex:
            if spare == 0:
                break
            if c.max_width is None or widths[c.key] < c.max_width:
                widths[c.key] += 1
                spare -= 1
                grew = True
        if not grew:
            break
    return [(c, widths[c.key]) for c in shown]


def cut_values(columns: Sequence[Column], layout: Layout, values: Mapping[str, str]) -> list[tuple[str, str]]:
    """(label, full value) of every non-empty value the layout hides or cuts, in column order."""
    widths = {c.key: w for c, w in layout}
    out = []
    for c in columns:
        value = values.get(c.key, "")
        if not value:
            continue
        w = widths.get(c.key)
        if w is None or cell_len(value) > w:
            out.append((c.label, value))
    return out
