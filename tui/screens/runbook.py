"""A runbook, rendered as Markdown inside the TUI: its own title in the
header, its front matter never shown, its escalation block (time limit and
contacts, filled by the collector) in the TUI's language."""

from __future__ import annotations

import re
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Markdown, MarkdownViewer

from ..i18n import get_language, t
from ..safe_text import clean, escape_markdown
from ..source import NotAvailable
from .base import ViewScreen

__all__ = ["RunbookScreen", "split_runbook"]

# a collector before 0.1 served the file as it is: its front matter is data, not text
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n.*?^---[ \t]*\n", re.DOTALL | re.MULTILINE)


def split_runbook(text: str) -> tuple[str, str]:
    """(title from the first `# ` heading or "", Markdown without front matter)."""
    body = _FRONT_MATTER.sub("", text.replace("\r\n", "\n"), count=1)
    title = next((line[2:].strip() for line in body.splitlines() if line.startswith("# ")), "")
    return title, body


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
        self.title_text = ""

    def body(self) -> ComposeResult:
        yield RunbookViewer(t("loading"), show_table_of_contents=False, id="runbook", open_links=False)

    def subtitle(self) -> str:
        return clean(self.title_text or t("view.runbook", name=self.runbook))

    def action_back(self) -> None:
        self.app.pop_screen()

    async def load(self) -> None:
        if self.markdown:
            return
        try:
            title, text = split_runbook(await self.source.runbook(self.runbook, get_language()))
        except NotAvailable:
            # the name and URL come from alert or readiness data: literal text in our document
            url = t("rb.url", url=escape_markdown(self.url)) if self.url else ""
            text = t("rb.missing", name=escape_markdown(self.runbook), url=url)
        else:
            self.markdown = text
            self.title_text = title
            self.sub_title = self.subtitle()
        await self.query_one(MarkdownViewer).document.update(clean(text, multiline=True))
        self.query_one(MarkdownViewer).focus()
