"""Pages this month against the real collector: the count follows the printer's
new readings on every reload (it was cached at first sight: a fresh demo showed
`Pages this month: 0` for good while its printers printed)."""

from __future__ import annotations

import httpx
from textual.widgets import Static

from collector import admin
from collector.db import connect
from tests.collector.conftest import auth, batch, report
from tests.tui.conftest import settle
from tests.tui.fleet import NOW, POLLER, REPORTS, Fleet, _snmp
from tui.app import make_app
from tui.screens.devices import DevicesScreen
from tui.source import CollectorSource


async def _post_poll(fleet: Fleet, seq: int, ts: float) -> None:
    """The poller re-enrolls (a fresh token) and sends its next report with a new reading."""
    conn = connect(fleet.db_path)
    try:
        enroll = admin.create_token(conn, "enroll", actor="test", tenant="zweckverband", replace=True)[1]
    finally:
        conn.close()
    async with httpx.AsyncClient(transport=fleet.transport(), base_url="http://collector") as client:
        r = await client.post("/api/v1/enroll", json={"agent_id": POLLER, "hostname": POLLER}, headers=auth(enroll))
        assert r.status_code == 200, r.text
        body = batch(POLLER, [report(seq, ts, snmp=_snmp(ts, seq))], role="vm", site="rz-nord")
        r = await client.post("/api/v1/reports", json=body, headers=auth(r.json()["token"]))
        assert r.status_code == 200, r.text


async def test_pages_this_month_follow_new_readings(fleet: Fleet) -> None:
    now = [NOW]
    source = CollectorSource("http://collector", fleet.admin_token, transport=fleet.transport())
    app = make_app(source, lang="de", clock=lambda: now[0], refresh_s=0, blink=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, DevicesScreen)
        detail = app.screen.query_one("#device-text", Static)
        # 30 readings of the fleet's printer, 3 pages a minute: 10,090 - 10,003
        assert "Seiten diesen Monat: 87" in str(detail.render())
        # two more polls: 3 pages each
        for seq in (REPORTS + 1, REPORTS + 2):
            now[0] = fleet.clock.now = NOW + 60 * (seq - REPORTS)
            await _post_poll(fleet, seq, now[0])
        await pilot.press("f5")
        await settle(pilot)
        assert "Seiten diesen Monat: 93" in str(detail.render())
        assert app.unexpected == []
