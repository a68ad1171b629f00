"""The TUI fits the terminal, asserted (the snapshots only picture it): at 80x24
and 120x40, German and English, with long names, every view keeps quit and
help in the footer, cuts no header, keeps the tenant where it tells rows apart,
and offers every cut value in full on the line under its table."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from rich.cells import cell_len
from rich.console import Console
from textual.pilot import Pilot
from textual.widgets._footer import FooterKey

from tests.tui.conftest import settle
from tests.tui.contract import Routed
from tests.tui.fleet import NOW, Fleet
from tests.tui.long_names import LONG, build_long_fleet, long_contract
from tui.app import LeitstandApp, make_app
from tui.i18n import t
from tui.screens.host import HostScreen
from tui.screens.runbook import RunbookScreen
from tui.source import CollectorSource
from tui.widgets import CutLine, FitTable, VirtualTable

#: (view, keys from the view before); host and runbook are left with escape
TOUR = [
    ("overview", ()),
    ("hosts", ("h",)),
    ("host", ("enter",)),
    ("devices", ("escape", "d")),
    ("alerts", ("a",)),
    ("runbook", ("b",)),
    ("readiness", ("escape", "r")),
    ("metering", ("m",)),
]


@pytest_asyncio.fixture
async def long_fleet(tmp_path: Path) -> AsyncIterator[Fleet]:
    fleet = await build_long_fleet(tmp_path)
    yield fleet
    fleet.close()


def _app(fleet: Fleet, lang: str) -> LeitstandApp:
    transport = Routed(fleet.transport(), long_contract().handle)
    source = CollectorSource("http://collector", fleet.admin_token, transport=transport)
    return make_app(source, lang=lang, clock=lambda: NOW, refresh_s=0, blink=False)


async def press(pilot: Pilot[None], *keys: str) -> None:
    """Let the app settle, then press each key and let it settle again."""
    await settle(pilot)
    for key in keys:
        await pilot.press(key)
        await settle(pilot)


def screen_lines(app: LeitstandApp) -> list[str]:
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True, legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text(styles=False).splitlines()


def layouts(app: LeitstandApp) -> dict[str, list[tuple[str, str, int]]]:
    """table id → (column key, label, width) of the columns it shows now."""
    out = {}
    for table in app.screen.query(FitTable):
        if table.display and table.size.width:
            out[str(table.id)] = [(c.key, c.label, w) for c, w in table.layout_now]
    for vtable in app.screen.query(VirtualTable):
        out[str(vtable.id)] = [(c.key, c.label, w) for c, w in vtable._columns_for(vtable.size.width)]
    return out


@pytest.mark.parametrize("lang", ["de", "en"])
@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
async def test_every_view_fits(long_fleet: Fleet, lang: str, size: tuple[int, int]) -> None:
    app = _app(long_fleet, lang)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        for view, keys in TOUR:
            for key in keys:
                await pilot.press(key)
                await settle(pilot)
            if view == "host":
                assert isinstance(app.screen, HostScreen)
            elif view == "runbook":
                assert isinstance(app.screen, RunbookScreen)
            else:
                assert app.current_mode == view and app.screen.view == view  # type: ignore[attr-defined]

            # the footer: quit and help first, whole, in the UI language
            footer = [k for k in app.screen.query(FooterKey)]
            assert [k.action for k in footer[:2]] == ["quit", "help"], view
            assert [k.description for k in footer[:2]] == [t("bind.quit"), t("bind.help")]
            assert all(k.region.right <= size[0] for k in footer[:2]), view
            bottom = screen_lines(app)[size[1] - 1]
            assert f"q {t('bind.quit')}" in bottom and f"? {t('bind.help')}" in bottom, (view, bottom)

            # no header is cut: every shown column is as wide as its label, and the
            # header line holds every label whole
            lines = screen_lines(app)
            for table_id, columns in layouts(app).items():
                assert columns, (view, table_id)
                for key, label, width in columns:
                    assert width >= cell_len(label), (view, table_id, key, label, width)
                region = app.screen.query_one(f"#{table_id}").region
                if region.height == 0 or region.y >= size[1] - 1:
                    continue  # scrolled out of sight (the host view's lower tables)
                labels = [label for _, label, _ in columns]
                assert any(all(label in line for label in labels) for line in lines), (view, table_id, labels)

            if view in ("devices", "alerts"):
                table_id = f"{view}-table"
                assert "tenant" in [key for key, _, _ in layouts(app)[table_id]], (view, size)
                assert any(t("col.tenant") in line for line in lines)


@pytest.mark.parametrize("lang", ["de", "en"])
async def test_cut_values_can_be_read_in_full_at_80x24(long_fleet: Fleet, lang: str) -> None:
    app = _app(long_fleet, lang)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        checks = app.screen.query_one("#checks-table", FitTable)
        key = checks.current_key
        assert key is not None
        evidence = checks.full_row(key)["evidence"]
        shown = dict((c.key, w) for c, w in checks.layout_now)
        assert cell_len(evidence) > shown["evidence"]  # cut in the table …
        line = next(c for c in app.screen.query(CutLine) if c.table_id == "checks-table")
        assert f"{t('rd.col.evidence')}: {evidence}" in str(line.render())  # … and whole under it

        await pilot.press("d")
        await settle(pilot)
        devices = app.screen.query_one("#devices-table", FitTable)
        line = next(c for c in app.screen.query(CutLine) if c.table_id == "devices-table")
        assert LONG["zweckverband"] in str(line.render()) or all(
            LONG["zweckverband"] in row["tenant"] and len(row["tenant"]) <= w
            for row in (devices.full_row(k) for k, _ in devices._rows)
            for c, w in devices.layout_now
            if c.key == "tenant"
        )

        await pilot.press("h")
        await settle(pilot)
        for _ in range(8):  # down to the poller in its long-named tenant and site
            await pilot.press("down")
        await settle(pilot)
        line = next(c for c in app.screen.query(CutLine) if c.table_id == "hosts-table")
        text = str(line.render())
        assert LONG["zv-poller"] in text and LONG["zweckverband"] in text and LONG["rz-nord"] in text


async def test_at_120_columns_tenant_and_site_are_whole(long_fleet: Fleet) -> None:
    """The issue's 120x40: Host took 40 columns while Tenant and Site were cut."""
    app = _app(long_fleet, "de")
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "h")
        widths = {key: w for key, _, w in layouts(app)["hosts-table"]}
        assert widths["site"] >= len(LONG["rz-nord"])
        assert widths["hostname"] - widths["tenant"] <= 4  # shared, not taken
        lines = screen_lines(app)
        assert any(LONG["rz-nord"] in line for line in lines)


async def test_help_key_shows_and_hides_every_key_of_the_view(long_fleet: Fleet) -> None:
    app = _app(long_fleet, "de")
    async with app.run_test(size=(80, 24)) as pilot:
        await press(pilot, "a", "question_mark")
        panels = app.screen.query("HelpPanel")
        assert panels, "? opens the help panel"
        region = app.screen.query_one("HelpPanel").region
        lines = screen_lines(app)[region.y : region.bottom]
        shown = "\n".join(line[region.x : region.right] for line in lines)
        assert f"k {t('bind.ack')}" in shown and f"x {t('bind.silence')}" in shown, shown
        await press(pilot, "question_mark")
        assert not app.screen.query("HelpPanel")
