"""Pilot tests (app.run_test) against the real collector app fed with a fleet."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
from textual.command import CommandPalette
from textual.widgets import DataTable, Input, MarkdownViewer, Sparkline, Static

from tests.tui.conftest import settle
from tests.tui.contract import AlertsContract, Switchable
from tests.tui.fleet import HOSTS, NOW, Fleet
from tui.app import LeitstandApp
from tui.screens.alerts import AlertsScreen
from tui.screens.devices import DevicesScreen
from tui.screens.host import HostScreen
from tui.screens.hosts import HostsScreen
from tui.screens.metering import MeteringScreen
from tui.screens.overview import OverviewScreen
from tui.screens.readiness import ReadinessScreen
from tui.screens.runbook import RunbookScreen
from tui.widgets import VirtualTable

MakeTui = Callable[..., tuple[LeitstandApp, Switchable]]


def text_of(app: LeitstandApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def cells(table: DataTable[Any]) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_every_view_is_one_key_away(make_tui: MakeTui) -> None:
    app, _ = make_tui()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen)
        for key, screen in (
            ("h", HostsScreen),
            ("d", DevicesScreen),
            ("m", MeteringScreen),
            ("r", ReadinessScreen),
            ("a", AlertsScreen),
            ("o", OverviewScreen),
        ):
            await pilot.press(key)
            await settle(pilot)
            assert isinstance(app.screen, screen), key
        assert app.unexpected == []


async def test_overview_counts_per_tenant_and_site(make_tui: MakeTui) -> None:
    app, _ = make_tui()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        summary = text_of(app, "#summary")
        assert f"Hosts {len(HOSTS) - 1}/{len(HOSTS)} online" in summary
        rows = cells(app.screen.query_one(DataTable))
        lohne = next(r for r in rows if r[0] == "stadt-lohne")
        assert lohne[1:3] == ["5", "1"]  # five up, the bauhof thin client down
        assert lohne[4] == "1/0/0"  # firing, not silenced: host_down (critical); disk_full is pending
        assert any(r[0].strip() == "└ bauhof" and r[1:3] == ["1", "1"] for r in rows)
        zv = next(r for r in rows if r[0] == "zweckverband")
        assert zv[3] == "2"  # printer (toner low) and switch (uplink down); the UPS is fine
        assert lohne[6] == "100.0%"
        assert app.unexpected == []


async def test_hosts_filter_sort_and_open_a_host(make_tui: MakeTui) -> None:
    app, _ = make_tui()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("h")
        await settle(pilot)
        table = app.screen.query_one(VirtualTable)
        assert len(table.rows) == len(HOSTS) and table.has_focus
        await pilot.press("slash", *"state:offline")
        await settle(pilot)
        assert [r.id for r in table.rows] == ["lohne-tc-003"]
        assert "1 of 9 hosts" in text_of(app, "#hosts-status")
        await pilot.press("escape")  # clears the filter, back to the table
        await pilot.press("slash", *"lohne cpu>50", "enter")
        await settle(pilot)
        assert {r.id for r in table.rows} == {"lohne-tc-002"} and table.has_focus
        await pilot.press("escape")
        for _ in range(5):  # hostname → tenant → site → role → state → cpu (worst first)
            await pilot.press("s")
        await settle(pilot)
        assert table.rows[0].id == "lohne-tc-002" and table.sort_key == "cpu" and table.sort_reverse
        await pilot.press("S")
        assert table.rows[-1].id == "lohne-tc-002"
        await pilot.press("end", "up", "home", "down")
        assert table.current_key == table.rows[1].id
        await pilot.press("home")
        await pilot.press("slash", *"lohne-srv-01", "enter")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, HostScreen) and app.screen.agent_id == "lohne-srv-01"
        assert "Debian 12" in text_of(app, "#host-info")
        assert len(app.screen.query_one("#spark-cpu", Sparkline).data or []) == 30
        disks = cells(app.screen.query_one("#host-disks", DataTable))
        assert disks[1][:3] == ["/srv", "sdb1", "92%"]
        textfile = cells(app.screen.query_one("#host-textfile", DataTable))
        assert textfile[0][0] == "backup_last_success_timestamp_seconds" and textfile[0][1] == "job=emw"
        assert cells(app.screen.query_one("#host-alerts", DataTable))[0][2] == "disk_full"
        await pilot.press("escape")
        assert isinstance(app.screen, HostsScreen)
        assert app.unexpected == []


async def test_ack_an_alert_and_see_it_acknowledged_through_the_api(
    make_tui: MakeTui, contract: AlertsContract
) -> None:
    """Alerts come from the contract fake (collector/alerting/ is being built);
    test_alerts_real.py runs the same against the real app once it answers."""
    app, _ = make_tui()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("a")
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        assert [str(table.get_row_at(i)[4]) for i in range(table.row_count)] == [
            "host_down",
            "printer_supply_low",
            "disk_full",
        ]
        await pilot.press("k")
        await settle(pilot)
        await pilot.press("enter")  # empty comment is refused
        await settle(pilot)
        assert "comment" in str(app.screen.query_one("#form-error", Static).render())
        await pilot.press(*"Bauhof informiert, Techniker unterwegs", "enter")
        await settle(pilot)
        assert ("POST", "/api/v1/alerts/a-1/ack", {"comment": "Bauhof informiert, Techniker unterwegs"}) in (
            contract.requests
        )
        body = (await app.source._client.get("/api/v1/alerts")).json()
        acked = next(a for a in body["alerts"] if a["id"] == "a-1")["acknowledged"]
        assert acked["comment"] == "Bauhof informiert, Techniker unterwegs"
        assert str(app.screen.query_one(DataTable).get_row_at(0)[2]).startswith("A")
        assert "acknowledged by admin" in text_of(app, "#alert-detail")
        assert any("acknowledged" in n.message for n in app._notifications)
        await pilot.press("k")  # again: already acknowledged, nothing sent
        await settle(pilot)
        assert sum(1 for r in contract.requests if r[0] == "POST") == 1
        assert app.unexpected == []


async def test_silence_with_a_duration_then_remove_it(make_tui: MakeTui, contract: AlertsContract) -> None:
    app, _ = make_tui()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("a")
        await settle(pilot)
        await pilot.press("down", "down", "x")  # disk_full on lohne-srv-01
        await settle(pilot)
        duration = app.screen.query_one("#duration", Input)
        duration.value = "zwei Stunden"
        await pilot.press("tab", *"Wartungsfenster", "enter")
        await settle(pilot)
        assert "Invalid duration" in str(app.screen.query_one("#form-error", Static).render())
        duration.value = "90m"
        await pilot.click("#confirm")
        await settle(pilot)
        method, path, body = contract.requests[-2]
        assert (method, path) == ("POST", "/api/v1/silences")
        assert body["matchers"] == [
            {"name": "host", "value": "lohne-srv-01", "is_regex": False},
            {"name": "mount", "value": "/srv", "is_regex": False},
            {"name": "rule", "value": "disk_full", "is_regex": False},
        ]
        assert (body["starts_at"], body["ends_at"]) == (NOW, NOW + 90 * 60)
        assert body["comment"] == "Wartungsfenster"
        assert any("Silenced until" in n.message for n in app._notifications)
        assert app.screen.query_one(DataTable).row_count == 2  # silenced ones are under `f`
        await pilot.press("f", "f", "f")  # active → firing → pending → silenced
        await settle(pilot)
        assert "silenced (1)" in text_of(app, "#alerts-status")
        await pilot.press("u")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert ("DELETE", "/api/v1/silences/s-1", None) in contract.requests
        assert "silenced (0)" in text_of(app, "#alerts-status")
        assert app.unexpected == []


async def test_the_runbook_opens_inside_the_tui(make_tui: MakeTui) -> None:
    app, _ = make_tui()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("a")
        await settle(pilot)
        await pilot.press("down", "b")
        await settle(pilot)
        assert isinstance(app.screen, RunbookScreen) and app.screen.runbook == "printer-supply-low"
        assert "Toner almost empty" in app.screen.markdown and "## Escalation" in app.screen.markdown
        viewer = app.screen.query_one(MarkdownViewer)
        assert any("Fix" in str(h.render()) for h in viewer.document.query("MarkdownH2"))
        await pilot.press("escape", "up", "up", "enter")  # enter opens it too; host_down has one
        await settle(pilot)
        assert isinstance(app.screen, RunbookScreen) and "Host is not answering" in app.screen.markdown
        await pilot.press("escape", "down", "down", "b")  # disk-full: not on the collector
        await settle(pilot)
        assert isinstance(app.screen, RunbookScreen)
        assert "not available" in str(app.screen.query_one(MarkdownViewer).document.source)
        assert app.unexpected == []


async def test_collector_going_away_shows_a_banner_retries_and_recovers(make_tui: MakeTui) -> None:
    app, switch = make_tui()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("h")
        await settle(pilot)
        banner = app.screen.query_one("ConnectionBanner", Static)
        assert not banner.display or not banner.has_class("-lost")
        switch.up = False
        await pilot.press("f5")
        await settle(pilot)
        assert app.connection_error is not None and banner.has_class("-lost")
        assert "unreachable" in str(banner.render()) and "ConnectError" in str(banner.render())
        table = app.screen.query_one(VirtualTable)
        assert len(table.rows) == len(HOSTS)  # the last data stays on screen
        # the retry timer keeps trying while it is down ...
        refused = switch.refused
        await pilot.press("o")  # another view while down: the banner is there too
        await settle(pilot)
        assert app.screen.query_one("ConnectionBanner").has_class("-lost")
        assert switch.refused > refused
        # ... and recovers on its own when the collector is back
        switch.up = True
        await asyncio.wait_for(app.connected.wait(), timeout=10)
        await settle(pilot)
        assert app.connection_error is None and not app.screen.query_one("ConnectionBanner").has_class("-lost")
        assert any("restored" in n.message for n in app._notifications)
        assert app.unexpected == []


async def test_devices_show_supplies_ups_and_uplinks(make_tui: MakeTui) -> None:
    app, _ = make_tui()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("d")
        await settle(pilot)
        rows = {r[0]: r for r in cells(app.screen.query_one(DataTable))}
        assert rows["drucker-eg"][3] == "supply low"
        assert rows["sw-core"][3] == "uplink down" and "uplinks 1/2" in rows["sw-core"][4]
        assert rows["usv-sr"][3] == "" and "runtime 45 min" in rows["usv-sr"][4]
        detail = text_of(app, "#device-text")
        assert "Pages this month: 87" in detail and "Toner Cyan" in detail and "7%" in detail
        await pilot.press("down")
        await settle(pilot)
        assert "1/2" in text_of(app, "#device-text") and "uplink" in text_of(app, "#device-text")
        assert app.unexpected == []


async def test_metering_shows_month_to_date_per_meter(make_tui: MakeTui) -> None:
    app, _ = make_tui()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("m")
        await settle(pilot)
        tenants = cells(app.screen.query_one("#tenants-table", DataTable))
        assert [r[0] for r in tenants] == ["gemeinde-steinfeld", "stadt-lohne", "zweckverband"]
        assert tenants[1][1:3] == ["2025-11", "open"]
        assert tenants[1][3] == "no tariff"  # no tariff applies: no price of 0.00 claimed
        await pilot.press("down")
        await settle(pilot)
        assert "stadt-lohne: 2025-11 month to date" in text_of(app, "#usage-title")
        meters = {r[0]: r for r in cells(app.screen.query_one("#meters-table", DataTable))}
        assert meters["workplace_days"][1:4] == ["3", "days", "100.0%"]
        assert meters["cpu_core_seconds"][4] == "no tariff"
        assert "Closed periods: –" in text_of(app, "#closed-periods")
        assert app.unexpected == []


async def test_command_palette_reaches_views_and_hosts(make_tui: MakeTui) -> None:
    app, _ = make_tui()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p", *"View: Devices")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DevicesScreen)
        await pilot.press("ctrl+p", *"steinfeld-tc")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, HostScreen) and app.screen.agent_id == "steinfeld-tc-001"
        assert app.unexpected == []


async def test_command_palette_speaks_german(make_tui: MakeTui) -> None:
    app, _ = make_tui(lang="de")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await settle(pilot)
        assert isinstance(app.screen, CommandPalette)
        assert app.screen.query_one(Input).placeholder == "Befehl suchen …"
        titles = {c.title: c.help for c in app.get_system_commands(app.screen)}
        assert titles["Beenden"] == "Leitstand sofort beenden" and "Quit" not in titles
        assert {"Farbschema", "Tasten", "Bildschirmfoto"} <= set(titles)
        await pilot.press(*"Beenden")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert app.return_code == 0 or not app.is_running  # the German title runs Textual's quit
        assert app.unexpected == []


async def test_german_everywhere(make_tui: MakeTui) -> None:
    app, _ = make_tui(lang="de")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "Hosts 8/9 online · Geräte mit Problemen: 2" in text_of(app, "#summary")
        await pilot.press("h")
        await settle(pilot)
        assert "9 von 9 Hosts" in text_of(app, "#hosts-status")
        footer = {b.binding.description for b in app.screen.active_bindings.values()}
        assert {"Übersicht", "Alarme", "Sortieren", "Öffnen"} <= footer
        await pilot.press("a")
        await settle(pilot)
        assert "Zeige: aktiv und anstehend (3)" in text_of(app, "#alerts-status")
        assert app.unexpected == []


async def test_a_wrong_token_is_a_toast_not_a_crash(fleet: Fleet) -> None:
    from tui.app import make_app
    from tui.source import CollectorSource

    source = CollectorSource("http://collector", "not-a-token", transport=fleet.transport())
    app = make_app(source, lang="en", clock=lambda: NOW, refresh_s=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert any("Access denied" in n.message for n in app._notifications)
        assert app.connection_error is None and app.unexpected == []


async def test_unknown_endpoints_are_shown_as_unavailable(fleet: Fleet) -> None:
    """Against a collector without alerts (404), the views say so instead of failing."""
    from tui.app import make_app
    from tui.source import CollectorSource

    def no_alerts(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"error": "not found", "detail": []})

    from tests.tui.contract import Routed

    source = CollectorSource("http://collector", fleet.admin_token, transport=Routed(fleet.transport(), no_alerts))
    app = make_app(source, lang="en", clock=lambda: NOW, refresh_s=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "Alerts: not available on this collector" in text_of(app, "#unavailable")
        await pilot.press("a")
        await settle(pilot)
        assert "not available" in text_of(app, "#alerts-status")
        assert app.unexpected == []
