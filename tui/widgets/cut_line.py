"""The line under a table that shows in full what the table had to cut or hide
for the highlighted row (a long tenant, a readiness check's evidence)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from ..safe_text import clean

__all__ = ["CutLine", "cut_text"]


def cut_text(cut: list[tuple[str, str]]) -> Text:
    """`Label: value · Label: value`, labels bold, values literal."""
    out = Text()
    for i, (label, value) in enumerate(cut):
        if i:
            out.append(" · ", style="dim")
        out.append(f"{clean(label)}: ", style="bold")
        out.append(clean(value))
    return out


class CutLine(Static):
    """Follows the `cut` of the table with id `table_id` (a FitTable or VirtualTable);
    hidden while nothing is cut."""

    DEFAULT_CSS = """
    CutLine { height: auto; max-height: 4; padding: 0 1; color: $text-muted; display: none; }
    CutLine.-cut { display: block; }
    """

    def __init__(self, table_id: str, *, id: str | None = None) -> None:
        super().__init__(markup=False, id=id)
        self.table_id = table_id

    def on_mount(self) -> None:
        table = self.screen.query_one(f"#{self.table_id}")
        self.watch(table, "cut", self._changed)

    def _changed(self, cut: Any) -> None:
        self.set_class(bool(cut), "-cut")
        self.update(cut_text(cut or []))
