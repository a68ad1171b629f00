"""Agent and tenant data is shown as text in every view (issue 14, item 4).

A hostile collector (tests/tui/hostile.py) puts markup and terminal control
sequences into every field the TUI shows. Each view must show the markup
literally, show every control character as a visible symbol, send no control
character to the terminal, stay alive on ``[/]`` (it used to blank the host
view), and do nothing when the text that would have been a link is clicked.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from rich.cells import cell_len
from rich.console import Console
from textual.widgets import DataTable, Label, Markdown, MarkdownViewer, Static

from tests.tui.conftest import settle
from tests.tui.fleet import NOW
from tests.tui.hostile import HOST2, TENANT, HostileCollector, control_shown, markup
from tui.app import LeitstandApp, make_app
from tui.screens.alerts import AlertsScreen
from tui.screens.devices import DevicesScreen
from tui.screens.host import HostScreen
from tui.screens.hosts import HostsScreen
from tui.screens.metering import MeteringScreen
from tui.screens.readiness import ReadinessScreen
from tui.screens.runbook import RunbookScreen
from tui.source import CollectorSource

SIZE = (200, 50)
#: what must never reach the terminal: C0 (but the line feed), DEL, C1, bidi controls, surrogates
TERMINAL_UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


@pytest.fixture
def hostile() -> HostileCollector:
    return HostileCollector()


def _app(hostile: HostileCollector, lang: str = "en") -> LeitstandApp:
    source = CollectorSource("http://collector", "token", transport=hostile.transport())
    return make_app(source, lang=lang, clock=lambda: NOW, refresh_s=0, retry_s=(30.0,), blink=False)


def screen_text(app: LeitstandApp) -> str:
    """What the terminal gets for the current screen (as `export_screenshot` renders it), as text."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        record=True,
        legacy_windows=False,
        safe_box=False,
    )
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text(styles=False)


def widget_texts(app: LeitstandApp) -> Iterator[str]:
    """Every cell and text pane of the current screen, also the parts scrolled out of sight."""
    for table in app.screen.query(DataTable):
        for i in range(table.row_count):
            yield from (str(cell) for cell in table.get_row_at(i))
    for widget in app.screen.query(Static):
        if not isinstance(widget, Label) or widget.id:
            yield str(widget.render())
    for widget in app.screen.query(Label):
        yield str(widget.render())


def shown(app: LeitstandApp) -> str:
    text = screen_text(app)
    assert not TERMINAL_UNSAFE.findall(text), "a control character reached the terminal"
    return text + "\n" + "\n".join(widget_texts(app))


def assert_literal(app: LeitstandApp, *expected: str) -> None:
    everything = shown(app)
    missing = [e for e in expected if e not in everything]
    assert missing == [], f"not shown literally: {missing}"


async def click_every(pilot: Any, app: LeitstandApp, literal: str) -> int:
    """Click the middle of every on-screen occurrence of `literal`; the app must keep running."""
    clicks = 0
    for y, line in enumerate(screen_text(app).splitlines()):
        start = line.find(literal)
        if start < 0:
            continue
        x = cell_len(line[:start]) + cell_len(literal) // 2
        await pilot.click(offset=(x, y))
        await settle(pilot)
        clicks += 1
        assert app.return_code is None and app.is_running, f"clicking {literal!r} at {x},{y} ended the app"
    return clicks


async def test_overview_hosts_and_host_detail_show_data_literally(hostile: HostileCollector) -> None:
    app = _app(hostile)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert_literal(app, TENANT)
        assert await click_every(pilot, app, TENANT) >= 1

        await pilot.press("h")
        await settle(pilot)
        assert isinstance(app.screen, HostsScreen)
        screen = screen_text(app)
        assert markup("hostname") in screen and "site␛[2J␛]0;pwned" in screen  # controls shown as symbols
        assert "[/]" in screen and "[b]" in screen  # the second host's name, site and role
        assert await click_every(pilot, app, markup("hostname")) >= 1
        assert isinstance(app.screen, HostsScreen)  # one click highlights, nothing more

        await pilot.press("enter")  # open the highlighted host (the markup one)
        await settle(pilot)
        assert isinstance(app.screen, HostScreen)
        assert_literal(
            app,
            markup("hostname"),
            markup("os"),
            control_shown("version"),
            control_shown("site"),
            markup("mount"),
            control_shown("disk"),
            markup("nic"),
            markup("metric"),
            "job=" + control_shown("job"),
            markup("summary"),  # the host's alert, matched by its hostname label
        )
        assert app.screen.sub_title == "Host " + markup("hostname")
        assert markup("hostname") in screen_text(app).splitlines()[0]  # the header
        assert await click_every(pilot, app, markup("os")) >= 1

        await pilot.press("escape")
        app.open_host(HOST2)
        await settle(pilot)
        # `[/]` used to raise in the markup parser: the pane stayed blank
        info = str(app.screen.query_one("#host-info", Static).render())
        assert info.startswith(f"[/] ({HOST2}) · {TENANT} · [/] · [b] · ")
        assert app.unexpected == [] and app.return_code is None


async def test_devices_show_data_literally_and_ask_with_the_tenant(hostile: HostileCollector) -> None:
    app = _app(hostile)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, DevicesScreen)
        assert_literal(
            app,
            markup("printer"),
            control_shown("switch"),
            TENANT,
            markup("address"),
            markup("sysdescr"),
            "toner␛[2J␛]0;pwned␇\ufffd31m",  # supply names are cut at 24 characters
        )
        assert await click_every(pilot, app, markup("printer")) >= 1
        await pilot.press("down")
        await settle(pilot)
        assert_literal(app, markup("snmp-error"), "[@click=app.quit]por", control_shown("swsys"))
        # device ids are unique per tenant only: every detail request names the row's tenant
        details = [(path, params) for method, path, params in hostile.requests if path.startswith("/api/v1/devices/")]
        assert {p for p, _ in details} >= {"/api/v1/devices/d-1", "/api/v1/devices/d-2", "/api/v1/devices/d-1/readings"}
        assert all(params.get("tenant") == TENANT for _, params in details)
        assert app.unexpected == [] and app.return_code is None


async def test_metering_and_quarantine_show_data_literally(hostile: HostileCollector) -> None:
    app = _app(hostile)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("m")
        await settle(pilot)
        assert isinstance(app.screen, MeteringScreen)
        assert_literal(
            app,
            TENANT,
            markup("total"),
            markup("meter") + " (" + control_shown("dim") + ")",
            markup("subject"),
            markup("rule"),  # an unknown rule is shown as it came
            "4,294,972,156 " + control_shown("unit"),  # the number formatted, the unit literal
            control_shown("evidence"),
            control_shown("period"),
        )
        assert await click_every(pilot, app, markup("subject")) >= 1
        assert app.unexpected == [] and app.return_code is None


async def test_readiness_shows_data_literally(hostile: HostileCollector) -> None:
    app = _app(hostile)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, ReadinessScreen)
        assert_literal(
            app,
            markup("app"),
            control_shown("crit"),
            markup("failed"),
            markup("check"),
            control_shown("evidence"),
            markup("check-runbook"),
        )
        assert await click_every(pilot, app, markup("app")) >= 1
        assert app.unexpected == [] and app.return_code is None


async def test_alerts_dialogs_and_toasts_show_data_literally(hostile: HostileCollector) -> None:
    app = _app(hostile)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, AlertsScreen)
        assert_literal(
            app,
            markup("alertrule"),
            markup("object"),
            control_shown("object2"),
            markup("summary"),
            control_shown("description") + "\nzweite Zeile",  # a description keeps its lines
            "acknowledged by " + markup("by"),
            control_shown("comment"),
        )
        assert await click_every(pilot, app, markup("summary")) >= 1
        assert isinstance(app.screen, AlertsScreen)

        await pilot.press("x")  # silence a-1: the matchers are its labels
        await settle(pilot)
        assert_literal(app, markup("alertrule"), "host=" + markup("hostname"), "mount=" + control_shown("label"))
        await pilot.press("escape")
        await settle(pilot)

        await pilot.press("down")  # a-2: `[/]` as summary and description
        await settle(pilot)
        assert str(app.screen.query_one("#alert-detail", Static).render()).startswith("[/]\n[/]\n")
        await pilot.press("k")
        await settle(pilot)
        assert_literal(app, "Acknowledge alert: host_down on " + control_shown("object2"))
        await pilot.press(*"ok", "enter")  # the collector refuses with an error text from data
        await settle(pilot)
        toast = next(n for n in app._notifications if "Action failed" in n.message)
        assert not toast.markup
        assert toast.message == f"Action failed: 400 {markup('api-error')} ({control_shown('api-detail')})"
        shown(app)  # the toast on screen: no control character reaches the terminal

        await pilot.press("f", "f", "f")  # active → firing → pending → silenced
        await settle(pilot)
        await pilot.press("u")
        await settle(pilot)
        assert_literal(app, f"Remove silence {markup('silence')}?")
        assert await click_every(pilot, app, markup("silence")) == 1
        assert app.unexpected == [] and app.return_code is None


async def test_runbooks_from_data_are_text_and_links_do_not_load_files(hostile: HostileCollector) -> None:
    app = _app(hostile)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a", "b")  # a-1's runbook, served with markup and controls
        await settle(pilot)
        assert isinstance(app.screen, RunbookScreen)
        assert_literal(app, markup("runbook-title"), "runbook-body␛[2J␛]0;pwned␇\ufffd31m\ufffd<")
        viewer = app.screen.query_one(MarkdownViewer)
        viewer.document.post_message(Markdown.LinkClicked(viewer.document, "/etc/passwd"))
        await settle(pilot)
        assert "runbook-body" in str(viewer.document.source)  # still the runbook, no file loaded
        assert any(n.message == "Link (not opened): /etc/passwd" for n in app._notifications)
        viewer.document.post_message(Markdown.LinkClicked(viewer.document, "#abhilfe"))  # an anchor moves
        await settle(pilot)
        assert not any("#abhilfe" in n.message for n in app._notifications)

        await pilot.press("escape", "down", "b")  # a-2's runbook is not on the collector
        await settle(pilot)
        assert isinstance(app.screen, RunbookScreen)
        assert_literal(
            app,
            f"Runbook {markup('missing-runbook')} is not available on the collector.",
            f"External: {markup('url')}",
        )
        assert app.screen.sub_title == "Runbook " + markup("missing-runbook")
        assert app.unexpected == [] and app.return_code is None


async def test_palette_and_connection_banner_show_data_literally(hostile: HostileCollector) -> None:
    app = _app(hostile)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p", *"hostname")
        await settle(pilot)
        screen = screen_text(app)
        assert "Host: " + markup("hostname") in screen
        assert f"{TENANT} · {control_shown('site')} · online" in screen
        await pilot.press("escape")
        await settle(pilot)

        hostile.down = markup("refused") + "\x1b[2J"
        await pilot.press("f5")
        await settle(pilot)
        banner = str(app.screen.query_one("ConnectionBanner", Static).render())
        assert markup("refused") + "␛[2J" in banner
        assert_literal(app, markup("refused"))
        assert app.unexpected == [] and app.return_code is None
