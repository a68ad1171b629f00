"""The Textual app: views one key away, live refresh, a banner while the collector is gone.

``make_app(source=...)`` is what the CLI and the tests call; the app only
knows its ``CollectorSource`` (HTTP), never the collector's storage.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar, cast

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.command import CommandPalette
from textual.notifications import SeverityLevel
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer

from . import fmt, i18n
from .bindings import translate_bindings
from .commands import LeitstandCommands
from .i18n import CATALOG, t
from .messages import OpenHost, OpenRunbook
from .model import HostRow
from .safe_text import clean
from .screens.alerts import AlertsScreen
from .screens.base import ViewScreen
from .screens.devices import DevicesScreen
from .screens.host import HostScreen
from .screens.hosts import HostsScreen
from .screens.metering import MeteringScreen
from .screens.overview import OverviewScreen
from .screens.readiness import ReadinessScreen
from .screens.runbook import RunbookScreen
from .source import ApiError, CollectorSource, ConnectionLost, Unauthorized

__all__ = ["VIEWS", "LeitstandApp", "make_app"]

log = logging.getLogger("leitstand.tui")

#: view name → (key, screen class); the order is the footer's
VIEWS: dict[str, tuple[str, type[ViewScreen]]] = {
    "overview": ("o", OverviewScreen),
    "hosts": ("h", HostsScreen),
    "devices": ("d", DevicesScreen),
    "metering": ("m", MeteringScreen),
    "readiness": ("r", ReadinessScreen),
    "alerts": ("a", AlertsScreen),
}


class LeitstandApp(App[None]):
    CSS_PATH = "leitstand.tcss"
    TITLE = "Leitstand"
    COMMANDS = App.COMMANDS | {LeitstandCommands}
    MODES: ClassVar[dict[str, str | Callable[[], Screen[Any]]]] = {name: cls for name, (_, cls) in VIEWS.items()}
    DEFAULT_MODE = "overview"
    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(key, f"view('{name}')", f"bind.{name}") for name, (key, _) in VIEWS.items()),
        Binding("f5", "refresh", "bind.refresh"),
        Binding("ctrl+r", "refresh", "bind.refresh", show=False),
        Binding("q", "quit", "bind.quit"),
        Binding("question_mark", "help", "bind.help"),
        # bound here (not left to Textual) to be named in the UI language
        Binding("ctrl+p", "command_palette", "bind.palette", priority=True),
    ]
    #: the views' names, in the footer's order (tui.shell.Shell)
    view_names = tuple(VIEWS)

    connection_error: reactive[str | None] = reactive(None)

    def __init__(
        self,
        source: CollectorSource,
        *,
        clock: Callable[[], float] = time.time,
        refresh_s: float = 15.0,
        retry_s: Sequence[float] = (2.0, 5.0, 10.0, 30.0),
        blink: bool = True,
    ) -> None:
        super().__init__()
        #: text cursors blink (off for deterministic snapshots)
        self.blink = blink
        self.source = source
        self.clock = clock
        self.refresh_s = refresh_s
        self.retry_s = tuple(retry_s)
        self.attempt = 0
        self._retry_timer: Timer | None = None
        #: the fleet as last loaded (hosts view, overview, palette)
        self.host_rows: list[HostRow] = []
        #: set while the collector answers; tests wait on it
        self.connected = asyncio.Event()
        #: unexpected errors turned into toasts (tests assert there are none)
        self.unexpected: list[BaseException] = []
        self.sub_title = clean(source.base_url)
        translate_bindings(self)

    # -- navigation ----------------------------------------------------------------

    def action_command_palette(self) -> None:
        """Textual's palette with its prompt in the UI language."""
        if self.use_command_palette and not CommandPalette.is_open(cast("App[object]", self)):
            self.push_screen(CommandPalette(placeholder=t("palette.placeholder"), id="--command-palette"))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Textual's own commands (quit, theme, keys, …) in the UI language; one
        Textual adds later keeps its English words until the catalog knows it."""
        for command in super().get_system_commands(screen):
            key = f"sys.{command.title.lower()}"
            title, help_text = (t(key), t(f"{key}.help")) if key in CATALOG else (command.title, command.help)
            yield command._replace(title=title, help=help_text)

    def action_view(self, name: str) -> None:
        if self.current_mode == name:
            # back to the view itself (from a detail pushed on top)
            while len(self.screen_stack) > 1 and not isinstance(self.screen, ViewScreen):
                self.pop_screen()
            return
        self.switch_mode(name)

    def action_help(self) -> None:
        """Every key of the current view, with its description (Textual's help panel)."""
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    def action_refresh(self) -> None:
        screen = self._view_screen()
        if screen is not None:
            screen.reload()

    def _view_screen(self) -> ViewScreen | None:
        for screen in reversed(self.screen_stack):
            if isinstance(screen, ViewScreen):
                return screen
        return None

    def on_open_host(self, message: OpenHost) -> None:
        self.open_host(message.agent_id)

    def open_host(self, agent_id: str) -> None:
        if self.current_mode != "hosts":
            self.switch_mode("hosts")
        self.push_screen(HostScreen(agent_id))

    def on_open_runbook(self, message: OpenRunbook) -> None:
        self.push_screen(RunbookScreen(message.name, message.url))

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every toast shows its text literally: toasts carry hostnames, alert
        objects and error texts from data (every screen's notify ends here)."""
        super().notify(
            clean(message, multiline=True),
            title=clean(title),
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    # -- connection state --------------------------------------------------------------

    def report(self, exc: BaseException) -> None:
        """A failed load or action: banner and retry for a lost connection, a toast otherwise."""
        if isinstance(exc, ConnectionLost):
            self._lost(str(exc))
        elif isinstance(exc, Unauthorized):
            self.reached()
            self.notify(t("err.unauthorized", error=exc.error), severity="error", timeout=10)
        elif isinstance(exc, ApiError):
            self.reached()
            self.notify(t("err.api", error=str(exc)), severity="error")
        else:
            log.error("unexpected error in a view", exc_info=exc)
            self.unexpected.append(exc)
            self.notify(t("err.unexpected", error=f"{type(exc).__name__}: {exc}"), severity="error")

    def _lost(self, reason: str) -> None:
        self.connected.clear()
        delay = self.retry_s[min(self.attempt, len(self.retry_s) - 1)]
        self.attempt += 1
        self.connection_error = t(
            "conn.lost", url=self.source.base_url, reason=reason, delay=f"{delay:g}", attempt=self.attempt
        )
        if self._retry_timer is not None:
            self._retry_timer.stop()
        self._retry_timer = self.set_timer(delay, self.action_refresh)

    def reached(self) -> None:
        """The collector answered."""
        if self._retry_timer is not None:
            self._retry_timer.stop()
            self._retry_timer = None
        if self.connection_error is not None:
            self.connection_error = None
            self.notify(t("conn.back"))
        self.attempt = 0
        self.connected.set()

    async def on_unmount(self) -> None:
        await self.source.aclose()


def make_app(
    source: CollectorSource,
    *,
    lang: str | None = None,
    zone: str = fmt.DEFAULT_ZONE,
    clock: Callable[[], float] = time.time,
    refresh_s: float = 15.0,
    retry_s: Sequence[float] = (2.0, 5.0, 10.0, 30.0),
    blink: bool = True,
) -> LeitstandApp:
    """The app around a source; `lang` None takes the locale's; times shown in `zone`."""
    i18n.set_language(lang or i18n.default_language())
    fmt.set_zone(zone)
    source.lang = i18n.get_language()
    return LeitstandApp(source, clock=clock, refresh_s=refresh_s, retry_s=retry_s, blink=blink)
