"""A table that renders only the rows on screen (Textual's line API).

Textual's DataTable measures and stores every row it is given: fine for the
small views, about 1.4 s per refresh for 10,000 hosts. This table holds a plain
Python list and formats just the visible lines, so replacing all rows after a
filter or sort costs what building the list costs (see bench/tui_hosts.py).
The header line stays in place while the rows scroll under it; the columns
share the width by priority as every table does (fit.py), measured on a sample
of the rows, and the highlighted row's cut values are offered in full (`cut`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ..bindings import translate_bindings
from ..safe_text import clean
from .fit import Column, Layout, cut_values, fit_columns, natural_widths

__all__ = ["Column", "VirtualTable"]

R = TypeVar("R")


#: rows measured for the columns' natural widths (every row would cost a
#: formatting pass over ten thousand hosts per refresh)
SAMPLE = 200


class VirtualTable(ScrollView, Generic[R], can_focus=True):
    """Rows are objects of any type; `cells(row)` gives their texts, `row_class(row)`
    a component class suffix ("bad", "warn") or None."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "vtable--header",
        "vtable--cursor",
        "vtable--bad",
        "vtable--warn",
    }
    DEFAULT_CSS = """
    VirtualTable { height: 1fr; scrollbar-size-vertical: 1; overflow-x: hidden; }
    VirtualTable > .vtable--header { text-style: bold; background: $panel; }
    VirtualTable > .vtable--cursor { background: $block-cursor-blurred-background; }
    VirtualTable:focus > .vtable--cursor { background: $block-cursor-background; color: $block-cursor-foreground; }
    VirtualTable > .vtable--bad { color: $error; }
    VirtualTable > .vtable--warn { color: $warning; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "move(-1)", show=False),
        Binding("down", "move(1)", show=False),
        Binding("pageup", "page(-1)", show=False),
        Binding("pagedown", "page(1)", show=False),
        Binding("home", "edge(0)", show=False),
        Binding("end", "edge(1)", show=False),
        Binding("enter", "select", "bind.open"),
    ]

    cursor: reactive[int] = reactive(0, always_update=True, init=False)
    #: (label, full value) of what the highlighted row shows cut or not at all
    cut: reactive[list[tuple[str, str]]] = reactive(list, always_update=True)

    class Selected(Message):
        def __init__(self, table: VirtualTable[Any], key: str) -> None:
            self.table = table
            self.key = key
            super().__init__()

        @property
        def control(self) -> VirtualTable[Any]:
            return self.table

    class Highlighted(Message):
        def __init__(self, table: VirtualTable[Any], key: str | None) -> None:
            self.table = table
            self.key = key
            super().__init__()

        @property
        def control(self) -> VirtualTable[Any]:
            return self.table

    def __init__(
        self,
        columns: Sequence[Column],
        cells: Callable[[R], Sequence[str]],
        row_key: Callable[[R], str],
        row_class: Callable[[R], str | None] = lambda r: None,
        *,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        translate_bindings(self)
        self.columns = list(columns)
        self._cells = cells
        self._row_key = row_key
        self._row_class = row_class
        self.rows: list[R] = []
        self.sort_key: str | None = None
        self.sort_reverse = False
        self._layout_for: tuple[int, str | None] = (-1, None)
        self._layout: Layout = []
        self._natural: dict[str, int] = {}

    # -- data -------------------------------------------------------------------------

    def set_rows(self, rows: Sequence[R]) -> None:
        """Replace all rows; the cursor stays on the same row key when it is still there."""
        current = self.current_key
        self.rows = list(rows)
        step = max(len(self.rows) // SAMPLE, 1)
        self._natural = natural_widths(self.columns, (self._texts(r) for r in self.rows[::step]))
        self._layout_for = (-1, None)
        index = 0
        if current is not None:
            key = self._row_key
            index = next((i for i, r in enumerate(self.rows) if key(r) == current), 0)
        self.virtual_size = Size(self.size.width, len(self.rows) + 1)
        self.cursor = min(index, max(len(self.rows) - 1, 0))
        self.refresh()

    @property
    def current(self) -> R | None:
        return self.rows[self.cursor] if 0 <= self.cursor < len(self.rows) else None

    @property
    def current_key(self) -> str | None:
        row = self.current
        return None if row is None else self._row_key(row)

    # -- cursor and scrolling --------------------------------------------------------

    def watch_cursor(self, cursor: int) -> None:
        body = max(self.size.height - 1, 1)
        top = round(self.scroll_offset.y)
        if cursor < top:
            self.scroll_to(y=cursor, animate=False)
        elif cursor >= top + body:
            self.scroll_to(y=cursor - body + 1, animate=False)
        self.refresh()
        self._update_cut()
        self.post_message(self.Highlighted(self, self.current_key))

    def _texts(self, row: R) -> list[str]:
        return [clean(v) for v in self._cells(row)]

    def _update_cut(self) -> None:
        row = self.current
        if row is None:
            self.cut = []
            return
        layout = self._columns_for(self.size.width)
        self.cut = cut_values(
            self.columns, layout, dict(zip((c.key for c in self.columns), self._texts(row), strict=False))
        )

    def action_move(self, delta: int) -> None:
        if self.rows:
            self.cursor = max(0, min(len(self.rows) - 1, self.cursor + delta))

    def action_page(self, direction: int) -> None:
        self.action_move(direction * max(self.size.height - 2, 1))

    def action_edge(self, end: int) -> None:
        if self.rows:
            self.cursor = len(self.rows) - 1 if end else 0

    def action_select(self) -> None:
        key = self.current_key
        if key is not None:
            self.post_message(self.Selected(self, key))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:
            return
        index = round(self.scroll_offset.y) + offset.y - 1
        if 0 <= index < len(self.rows):
            if index == self.cursor and event.chain > 1:
                self.action_select()
            self.cursor = index

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(event.size.width, len(self.rows) + 1)
        self._layout_for = (-1, None)
        self._update_cut()

    # -- rendering --------------------------------------------------------------------

    def _columns_for(self, width: int) -> Layout:
        if (width, self.sort_key) == self._layout_for:
            return self._layout
        arrow = {self.sort_key: 1} if self.sort_key else {}
        # the last column has no separator after it: one cell more to share
        layout = fit_columns(self.columns, width + 1, self._natural, label_extra=arrow)
        self._layout_for, self._layout = (width, self.sort_key), layout
        return layout

    def _line(self, texts: Sequence[str], layout: list[tuple[Column, int]]) -> str:
        parts = []
        for (col, w), raw in zip(layout, texts, strict=False):
            # segments go to the terminal as they are: no control character may reach it
            text = clean(raw)
            if cell_len(text) > w:
                text = set_cell_size(text, w - 1) + "…" if w > 1 else set_cell_size(text, w)
            parts.append(text.rjust(w) if col.right else set_cell_size(text, w))
        return " ".join(parts)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        layout = self._columns_for(width)
        if y == 0:
            labels = []
            for col, _ in layout:
                label = col.label
                if col.key == self.sort_key:
                    label += "▼" if self.sort_reverse else "▲"
                labels.append(label)
            header = self.get_component_rich_style("vtable--header")
            return Strip([Segment(set_cell_size(self._line(labels, layout), width), header)], width)
        index = round(self.scroll_offset.y) + y - 1
        base = self.rich_style
        if not 0 <= index < len(self.rows):
            return Strip([Segment(" " * width, base)], width)
        row = self.rows[index]
        all_cells = dict(zip((c.key for c in self.columns), self._cells(row), strict=False))
        text = self._line([all_cells.get(c.key, "") for c, _ in layout], layout)
        style: Style = base
        extra = self._row_class(row)
        if extra:
            style = style + self.get_component_rich_style(f"vtable--{extra}")
        if index == self.cursor:
            style = style + self.get_component_rich_style("vtable--cursor")
        return Strip([Segment(set_cell_size(text, width), style)], width)
