"""What every view shares: header, connection banner, footer, translated key
bindings, and loading in an exclusive worker whose failures become a banner
(connection) or a toast (anything else), never a traceback."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.screen import ModalScreen, Screen
from textual.widgets import Header, Input

from ..bindings import translate_bindings
from ..i18n import CATALOG, t
from ..shell import Shell, shell
from ..widgets import ConnectionBanner, KeyFooter

if TYPE_CHECKING:
    from ..source import CollectorSource

__all__ = ["ViewScreen"]


class ViewScreen(Screen[None]):
    """A top-level view. Subclasses compose `body()` and implement `load()`."""

    view: ClassVar[str] = ""

    def __init__(self) -> None:
        super().__init__()
        translate_bindings(self)

    @property
    def lapp(self) -> Shell:
        return shell(self)

    @property
    def source(self) -> CollectorSource:
        return self.lapp.source

    def compose(self) -> ComposeResult:
        yield Header()
        yield ConnectionBanner()
        yield from self.body()
        yield KeyFooter()

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
