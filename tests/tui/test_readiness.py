"""Readiness view against the real collector with a KRITIS application configured."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from tests.tui.conftest import settle
from tests.tui.contract import AlertsContract, Routed
from tests.tui.fleet import NOW, build_fleet, kritis_config
from tui.app import make_app
from tui.screens.readiness import ReadinessScreen
from tui.screens.runbook import RunbookScreen
from tui.source import CollectorSource


async def test_readiness_shows_status_failed_checks_and_runbooks(tmp_path: Path) -> None:
    fleet = await build_fleet(tmp_path, kritis_config())
    try:
        contract = AlertsContract()
        contract.runbooks["kritis-backup-too-old"] = "# Sicherung zu alt\n\n## Abhilfe\nSicherung neu starten.\n"
        source = CollectorSource(
            "http://collector", fleet.admin_token, transport=Routed(fleet.transport(), contract.handle)
        )
        app = make_app(source, lang="en", clock=lambda: NOW, refresh_s=0)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            overview = [[str(c) for c in r] for r in (app.screen.query_one(DataTable).get_row_at(i) for i in range(3))]
            await pilot.press("r")
            await settle(pilot)
            assert isinstance(app.screen, ReadinessScreen)
            apps = app.screen.query_one("#apps-table", DataTable)
            if apps.row_count == 0:
                pytest.skip("the collector evaluates no applications yet")
            row = [str(c) for c in apps.get_row_at(0)]
            assert row[0] == "einwohnermeldewesen" and row[1] == "stadt-lohne"
            status = app.screen.apps[0]["status"]
            assert status in ("ready", "degraded", "not_ready")
            assert str(app.screen.query_one("#app-detail", Static).render()).startswith("einwohnermeldewesen:")
            checks = app.screen.query_one("#checks-table", DataTable)
            verdicts = [str(checks.get_row_at(i)[1]) for i in range(checks.row_count)]
            assert checks.row_count >= 3 and verdicts == sorted(verdicts, key=["fail", "warn", "pass"].index)
            lohne = next(r for r in overview if r[0] == "stadt-lohne")
            assert lohne[5] == ("1" if status == "not_ready" else "0")
            if verdicts[0] != "pass":
                await pilot.press("tab", "enter")  # the first (worst) check's runbook
                await settle(pilot)
                assert isinstance(app.screen, RunbookScreen) and app.screen.runbook.startswith("kritis-")
            assert app.unexpected == []
    finally:
        fleet.close()
