"""A runbook, rendered as Markdown inside the TUI."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Markdown, MarkdownViewer

from ..i18n import t
from ..safe_text import clean, escape_markdown
from ..source import NotAvailable
from .base import ViewScreen

__all__ = ["RunbookScreen"]


class RunbookViewer(MarkdownViewer):
    """Textual's viewer loads a clicked link's path from the local disk into
    itself, and a runbook may link anywhere: here only in-document anchors
    move; any other link is shown as text, to be opened deliberately."""

    async def _on_markdown_link_clicked(self, message: Markdown.LinkClicked) -> None:
        message.stop()
        message.prevent_default()
        href = message.href
        if href.startswith("#"):
            self.document.goto_anchor(href[1:])
        else:
            self.notify(t("rb.link", url=href))


class RunbookScreen(ViewScreen):
    view = "runbook"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "bind.back")]

    def __init__(self, name: str, url: str | None = None) -> None:
        super().__init__()
        self.runbook = name
        self.url = url
        self.markdown = ""

    def body(self) -> ComposeResult:
        yield RunbookViewer(t("loading"), show_table_of_contents=False, id="runbook", open_links=False)

    def subtitle(self) -> str:
        return clean(t("view.runbook", name=self.runbook))

    def action_back(self) -> None:
        self.app.pop_screen()

    async def load(self) -> None:
        if self.markdown:
            return
        try:
            text = await self.source.runbook(self.runbook)
        except NotAvailable:
            # the name and URL come from alert or readiness data: literal text in our document
            url = t("rb.url", url=escape_markdown(self.url)) if self.url else ""
            text = t("rb.missing", name=escape_markdown(self.runbook), url=url)
        else:
            self.markdown = text
        await self.query_one(MarkdownViewer).document.update(clean(text.replace("\r\n", "\n"), multiline=True))
        self.query_one(MarkdownViewer).focus()
