"""Alerts against the real collector app, not the contract fake: the ack round
trip and the runbook screen. A 404 on /api/v1/alerts fails it (NotAvailable)."""

from __future__ import annotations

from collections.abc import Callable

from textual.widgets import DataTable

from tests.tui.conftest import settle
from tests.tui.contract import Switchable
from tests.tui.fleet import NOW, Fleet
from tui.app import LeitstandApp
from tui.screens.runbook import RunbookScreen


async def test_ack_and_runbook_against_the_real_alerts_api(
    fleet: Fleet, make_tui: Callable[..., tuple[LeitstandApp, Switchable]]
) -> None:
    app, _ = make_tui(route_alerts=False)
    from collector.alerting import service

    collector, alerting = fleet.app.state.collector, fleet.app.state.alerting
    await service.tick(collector, alerting, deliver_now=False)  # conditions start (pending)
    fleet.clock.now = NOW + 200  # past the rules' hold times, before the others go offline
    await service.tick(collector, alerting, deliver_now=False)
    alerts = await app.source.alerts()
    firing = [a for a in alerts if a["state"] in ("firing", "pending") and not a.get("silenced")]
    assert firing, alerts  # the fleet has a switch uplink down, a toner at 7 %, an offline thin client
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("a")
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        assert table.row_count == len(firing)
        # the object column names hosts and devices as the operator knows them, never an agent id
        objects = {str(table.get_row_at(i)[5]) for i in range(table.row_count)}
        by_host = [a for a in firing if a["labels"].get("agent_id")]
        by_device = [a for a in firing if a["labels"].get("device")]
        assert by_host and by_device, firing
        for a in by_host:
            assert a["labels"]["host"] in objects, (a, objects)
        for a in by_device:
            assert any(o.startswith(a["labels"]["device"]) or f"({a['labels']['device']})" in o for o in objects)
        first = app.screen.current()  # type: ignore[attr-defined]
        await pilot.press("k", *"Techniker informiert", "enter")
        await settle(pilot)
        after = {a["id"]: a for a in await app.source.alerts()}
        assert after[first["id"]]["acknowledged"]["comment"] == "Techniker informiert"
        await pilot.press("b")
        await settle(pilot)
        assert isinstance(app.screen, RunbookScreen) and app.screen.runbook == first["runbook"]
        assert app.screen.markdown.lstrip().startswith(("#", "---"))
        assert app.unexpected == []
