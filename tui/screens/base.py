"""What every view shares: header, connection banner, footer, translated key
bindings, and loading in an exclusive worker whose failures become a banner
(connection) or a toast (anything else), never a traceback."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, ClassVar, cast

from textual import work
from textual.app import ComposeResult
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Header, Input

from ..i18n import CATALOG, t
from ..widgets import ConnectionBanner

if TYPE_CHECKING:
    from ..app import LeitstandApp
    from ..source import CollectorSource

__all__ = ["ViewScreen", "translate_bindings"]


def translate_bindings(node: DOMNode) -> None:
    """Key binding descriptions are catalog keys; show them in the current language."""
    bindings = node._bindings.key_to_bindings
    for key, items in bindings.items():
        bindings[key] = [
            dataclasses.replace(b, description=t(b.description)) if b.description in CATALOG else b for b in items
        ]


class ViewScreen(Screen[None]):
    """A top-level view. Subclasses compose `body()` and implement `load()`."""

    view: ClassVar[str] = ""

    def __init__(self) -> None:
        super().__init__()
        translate_bindings(self)

    @property
    def lapp(self) -> LeitstandApp:
        from ..app import LeitstandApp

        return cast(LeitstandApp, self.app)

    @property
    def source(self) -> CollectorSource:
        return self.lapp.source

    def compose(self) -> ComposeResult:
        yield Header()
        yield ConnectionBanner()
        yield from self.body()
        yield Footer()

    def body(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self.title = t("app.title")
        self.sub_title = self.subtitle()
        if self.lapp.refresh_s:
            self.set_interval(self.lapp.refresh_s, self._tick)
        if not self.lapp.blink:
            for field in self.query(Input):
                field.cursor_blink = False

    def subtitle(self) -> str:
        """The header's second part (Textual runs every class's on_mount: override this)."""
        return t(f"view.{self.view}") if f"view.{self.view}" in CATALOG else ""

    def on_screen_resume(self) -> None:
        self.reload()

    def _tick(self) -> None:
        if self.is_current and self.lapp.connection_error is None:
            self.reload()

    @work(exclusive=True, group="load")
    async def reload(self) -> None:
        """Fetch and show; the app decides what a failure means."""
        try:
            await self.load()
        except Exception as exc:
            self.lapp.report(exc)
        else:
            self.lapp.reached()

    async def load(self) -> None:
        """Fetch from the collector and update the widgets (override)."""


class Dialog(ModalScreen[object]):
    def __init__(self) -> None:
        super().__init__()
        translate_bindings(self)
