"""A DataTable whose columns give way by priority (see fit.py) and which says in
full what it had to cut, for the line under it (CutLine).

The screens hand it all rows at once (`set_rows`); it keeps them and rebuilds
its visible columns when the width changes. The views using it hold tens to a
few hundred rows, so a rebuild is cheap; the hosts view has its own
VirtualTable for ten thousand.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual import events
from textual.reactive import reactive
from textual.widgets import DataTable

from ..bindings import translate_bindings
from ..safe_text import clean
from .fit import Column, Layout, cut_values, fit_columns

__all__ = ["Cell", "FitTable", "Row"]

Cell = Text | str
#: a row: its key and its cells in the order of the table's columns
Row = tuple[str, Sequence[Cell]]

#: a DataTable cell costs its width plus one cell of padding either side
_PADDING = 2


def plain(cell: Cell) -> str:
    return clean(cell.plain if isinstance(cell, Text) else str(cell))


class FitTable(DataTable[Cell]):
    """`columns` in display order; rows come through `set_rows`."""

    DEFAULT_CSS = """
    FitTable { scrollbar-size-vertical: 1; overflow-x: hidden; }
    """

    #: "label: value" of what the highlighted row shows cut or not at all
    cut: reactive[list[tuple[str, str]]] = reactive(list, always_update=True)

    def __init__(self, columns: Sequence[Column], *, id: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("cursor_type", "row")
        super().__init__(id=id, **kwargs)
        translate_bindings(self)
        self.fit_columns = list(columns)
        self._rows: list[Row] = []
        self._texts: dict[str, dict[str, str]] = {}
        self._natural: dict[str, int] = {}
        self._fitted_for: int | None = None
        self.layout_now: Layout = []

    # -- data -------------------------------------------------------------------------

    def set_rows(self, rows: Sequence[Row]) -> None:
        """Replace all rows; the cursor stays on the same row key when it is still there."""
        current = self.current_key
        self._rows = list(rows)
        keys = [c.key for c in self.fit_columns]
        self._texts = {key: dict(zip(keys, (plain(c) for c in cells), strict=False)) for key, cells in self._rows}
        natural = dict.fromkeys(keys, 0)
        for texts in self._texts.values():
            for k, v in texts.items():
                natural[k] = max(natural[k], len(v) if v.isascii() else Text(v).cell_len)
        self._natural = natural
        self._rebuild(current)

    @property
    def current_key(self) -> str | None:
        # from the rows kept here: a table not shown yet has rows but no columns
        if not self._rows:
            return None
        return self._rows[max(0, min(self.cursor_row, len(self._rows) - 1))][0]

    def full_row(self, key: str) -> dict[str, str]:
        """Every cell of a row as text, by column key, shown or not."""
        return dict(self._texts.get(key, {}))

    # -- layout -----------------------------------------------------------------------

    def _available(self) -> int:
        # the vertical scrollbar's cell only when the rows (and the header) overflow:
        # at 80 columns one cell decides whether the overview's last column shows
        overflow = len(self._rows) + 1 > self.size.height
        return max(self.size.width - (self.styles.scrollbar_size_vertical if overflow else 0), 0)

    def _rebuild(self, current: str | None) -> None:
        width = self._available()
        layout = fit_columns(self.fit_columns, width, self._natural, gap=_PADDING) if width else []
        if [(c.key, w) for c, w in layout] != [(c.key, w) for c, w in self.layout_now]:
            self.clear(columns=True)
            for c, w in layout:
                self.add_column(Text(c.label, justify="right" if c.right else "left"), width=w, key=c.key)
            self.layout_now = layout
        else:
            self.clear()
        self._fitted_for = width
        keys = [c.key for c in self.fit_columns]
        for key, cells in self._rows:
            values = dict(zip(keys, cells, strict=False))
            self.add_row(*(_cell(values.get(c.key, ""), c.right) for c, _ in layout), key=key)
        if self._rows:
            row = next((i for i, (key, _) in enumerate(self._rows) if key == current), None)
            self.move_cursor(row=row if row is not None else min(self.cursor_row, len(self._rows) - 1))
        self._update_cut()

    def on_resize(self, event: events.Resize) -> None:
        if self._available() != self._fitted_for:
            self._rebuild(self.current_key)

    def watch_cursor_coordinate(self, old: Any, new: Any) -> None:
        super().watch_cursor_coordinate(old, new)
        self._update_cut()

    def _update_cut(self) -> None:
        key = self.current_key
        texts = self._texts.get(key or "")
        self.cut = [] if texts is None else cut_values(self.fit_columns, self.layout_now, texts)


def _cell(cell: Cell, right: bool) -> Text:
    """Every cell as Text: a str from data must not be read as markup."""
    out = cell.copy() if isinstance(cell, Text) else Text(clean(cell))
    # a cut value ends in "…": the reader knows to look at the line under the table
    out.no_wrap, out.overflow = True, "ellipsis"
    if right:
        out.justify = "right"
    return out
