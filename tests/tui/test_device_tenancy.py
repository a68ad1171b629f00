"""Device ids are unique per tenant only (issue 13): two tenants' agents poll a
printer under the same id. Against the real collector, the Devices view shows
both, and each row's detail and pages this month are that tenant's (the
collector answers 409 to a detail request without ``?tenant=`` for such an id)."""

from __future__ import annotations

from typing import Any

import httpx
from textual.widgets import DataTable, Static

from collector import admin
from collector.db import connect
from tests.collector.conftest import auth, batch, report
from tests.tui.conftest import settle
from tests.tui.fleet import NOW, REPORTS, Fleet
from tui.app import make_app
from tui.screens.devices import DevicesScreen
from tui.source import CollectorSource

SHARED_ID = "drucker-rathaus-eg"  # zv-poller (zweckverband) polls a printer under this id too


def _printer(ts: float, i: int) -> dict[str, Any]:
    return {
        "device": SHARED_ID,
        "kind": "printer",
        "ts": ts,
        "address": "10.9.9.9:161",
        "sys": {"descr": "Brother HL-L8360CDW", "name": "lohne-drucker", "uptime_s": 1000.0 + i * 60},
        "printer": {"pages_total": 500 + 7 * i, "printer_status": "idle", "supplies": []},
    }


async def test_same_device_id_in_two_tenants(fleet: Fleet) -> None:
    conn = connect(fleet.db_path)
    try:
        enroll = admin.create_token(conn, "enroll", actor="test", tenant="stadt-lohne")[1]
    finally:
        conn.close()
    async with httpx.AsyncClient(transport=fleet.transport(), base_url="http://collector") as client:
        r = await client.post("/api/v1/enroll", json={"agent_id": "lohne-poller", "hostname": "lohne-poller"},
                              headers=auth(enroll))  # fmt: skip
        assert r.status_code == 200, r.text
        token = r.json()["token"]
        reports = [report(i, NOW - (REPORTS - i) * 60, snmp=[_printer(NOW - (REPORTS - i) * 60, i)])
                   for i in range(1, REPORTS + 1)]  # fmt: skip
        r = await client.post("/api/v1/reports", json=batch("lohne-poller", reports), headers=auth(token))
        assert r.status_code == 200, r.text
        ambiguous = await client.get(f"/api/v1/devices/{SHARED_ID}", headers=auth(fleet.admin_token))
        assert ambiguous.status_code == 409  # what the TUI got without the tenant

    source = CollectorSource("http://collector", fleet.admin_token, transport=fleet.transport())
    app = make_app(source, lang="en", clock=lambda: NOW, refresh_s=0, blink=False)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, DevicesScreen)
        table = app.screen.query_one(DataTable)
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        assert {(r[0], r[5]) for r in rows} >= {("drucker-eg", "zweckverband"), ("lohne-drucker", "stadt-lohne")}
        seen = {}
        for i, row in enumerate(rows):
            table.move_cursor(row=i)
            await settle(pilot)
            seen[row[0]] = str(app.screen.query_one("#device-text", Static).render())
        assert "Brother HL-L8360CDW" in seen["lohne-drucker"] and "Pages this month: 203" in seen["lohne-drucker"]
        assert "KYOCERA" in seen["drucker-eg"] and "Pages this month: 87" in seen["drucker-eg"]
        assert not any("409" in n.message for n in app._notifications)
        assert app.unexpected == []
