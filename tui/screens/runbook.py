"""A runbook, rendered as Markdown inside the TUI."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import MarkdownViewer

from ..i18n import t
from ..source import NotAvailable
from .base import ViewScreen

__all__ = ["RunbookScreen"]


class RunbookScreen(ViewScreen):
    view = "runbook"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "bind.back")]

    def __init__(self, name: str, url: str | None = None) -> None:
        super().__init__()
        self.runbook = name
        self.url = url
        self.markdown = ""

    def body(self) -> ComposeResult:
        yield MarkdownViewer(t("loading"), show_table_of_contents=False, id="runbook")

    def on_mount(self) -> None:
        super().on_mount()
        self.sub_title = t("view.runbook", name=self.runbook)

    def action_back(self) -> None:
        self.app.pop_screen()

    async def load(self) -> None:
        if self.markdown:
            return
        try:
            text = await self.source.runbook(self.runbook)
        except NotAvailable:
            text = t("rb.missing", name=self.runbook, url=t("rb.url", url=self.url) if self.url else "")
        else:
            self.markdown = text
        await self.query_one(MarkdownViewer).document.update(text)
        self.query_one(MarkdownViewer).focus()
