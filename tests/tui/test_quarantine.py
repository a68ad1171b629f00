"""The Metering view shows the quarantine: quantities the plausibility checks
kept off the invoice (issue 13). A contract-shaped usage document through the
`Routed` seam (hosts and periods from the real collector), its pure shaping in
tui/quarantine.py, and one run against the real collector where an agent's CPU
counter jumps by 9e12 s and its hostname is markup (issue 14)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from textual.widgets import DataTable, Static

from collector import admin
from collector.db import connect
from tests.collector.conftest import auth, batch, report
from tests.tui.conftest import settle
from tests.tui.contract import Routed
from tests.tui.fleet import NOW, Fleet
from tests.tui.test_hostile import click_every, screen_text
from tui import i18n
from tui.app import LeitstandApp, make_app
from tui.quarantine import fmt_span, quarantine_pending, quarantine_rows
from tui.screens.hosts import HostsScreen
from tui.screens.metering import MeteringScreen
from tui.source import CollectorSource

USAGE = re.compile(r"^/api/v1/usage$")


def _item(**kw: Any) -> dict[str, Any]:
    item = {
        "id": "q-1",
        "rule": "pages_above_ceiling",
        "meter": "pages",
        "dim": "mono",
        "subject_kind": "device",
        "subject": "drucker-rathaus-eg",
        "subject_name": "drucker-eg",
        "agent_id": "zv-poller",
        "quantity": "4294972156",
        "unit": "pages",
        "start": "2025-11-24T14:00:00Z",
        "end": "2025-11-24T14:01:00Z",
        "evidence": "pages_mono 11340 -> 4294983496 in 60 s (limit 320)",
        "status": "pending",
    }
    item.update(kw)
    return item


QUARANTINE = [
    _item(id="q-0", rule="memory_above_total", meter="memory_gib_hours", dim="", subject_kind="host",
          subject="lohne-srv-01", subject_name="lohne-srv-01", quantity="12.5", unit="GiB·h", status="released",
          evidence="used_bytes 9 GiB > total_bytes 8 GiB"),
    _item(),
    _item(id="q-2", rule="cpu_above_cores", meter="cpu_core_seconds", dim="", subject_kind="host",
          subject="lohne-tc-002", subject_name="lohne-tc-002", quantity="8999999999000.001", unit="s",
          start="2025-11-24T15:58:00Z", end="2025-11-25T00:10:00Z",
          evidence="busy_seconds_total 1000 -> 9000000000000 in 60 s, 4 cores (limit 260 s)"),
]  # fmt: skip


def usage_doc(request: httpx.Request) -> httpx.Response:
    """stadt-lohne has a quarantine, zweckverband an empty one, gemeinde-steinfeld's
    collector predates the field."""
    tenant = request.url.params["tenant"]
    doc: dict[str, Any] = {
        "tenant": tenant,
        "period": "2025-11",
        "status": "open",
        "currency": "EUR",
        "total": "0.00",
        "meters": [{"meter": "host_hours", "dim": "server", "unit": "h", "quantity": "1.000", "coverage": "1.0000"}],
        "lines": [],
    }
    if tenant == "stadt-lohne":
        doc |= {"quarantine": QUARANTINE, "quarantine_pending": 2}
    elif tenant == "zweckverband":
        doc |= {"quarantine": [], "quarantine_pending": 0}
    return httpx.Response(200, json=doc)


@pytest.fixture
def metering_tui(fleet: Fleet) -> Callable[[str], LeitstandApp]:
    def make(lang: str) -> LeitstandApp:
        source = CollectorSource(
            "http://collector", fleet.admin_token, transport=Routed(fleet.transport(), usage_doc, USAGE)
        )
        return make_app(source, lang=lang, clock=lambda: NOW, refresh_s=0, blink=False)

    return make


def cells(app: LeitstandApp, selector: str) -> list[list[str]]:
    table = app.screen.query_one(selector, DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def heading(app: LeitstandApp) -> Static:
    return app.screen.query_one("#quarantine-title", Static)


async def test_quarantine_section_in_english(metering_tui: Callable[[str], LeitstandApp]) -> None:
    app = metering_tui("en")
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.press("m")
        await settle(pilot)
        assert isinstance(app.screen, MeteringScreen)
        tenants = {r[0]: r for r in cells(app, "#tenants-table")}
        assert tenants["gemeinde-steinfeld"][5] == "–"  # not reported: not the same as none
        assert tenants["stadt-lohne"][5] == "2" and tenants["zweckverband"][5] == "0"

        # gemeinde-steinfeld first: an older collector, no section at all
        assert not heading(app).display and not app.screen.query_one("#quarantine-table").display

        await pilot.press("down")  # stadt-lohne
        await settle(pilot)
        title = str(heading(app).render())
        assert heading(app).display and title.startswith("Quarantine (not billed): 2 unreviewed of 3")
        assert "meter anomalies release|dismiss ID" in title
        rows = cells(app, "#quarantine-table")
        assert rows[0] == [
            "pending",
            "pages (mono)",
            "device drucker-eg",
            "4,294,972,156 pages",
            "pages above the per-minute ceiling",
            "2025-11-24 15:00–15:01 CET",  # Europe/Berlin
            "pages_mono 11340 -> 4294983496 in 60 s (limit 320)",
        ]
        assert rows[1][1:5] == [
            "cpu_core_seconds",
            "host lohne-tc-002",
            "8,999,999,999,000.001 s",
            "CPU above cores × time",
        ]
        assert rows[1][5] == "2025-11-24 16:58–2025-11-25 01:10 CET"  # across midnight: the end's date too
        assert rows[2][2] == "host lohne-srv-01" and rows[2][0] == "released"  # reviewed ones last

        await pilot.press("down")  # zweckverband: reported, empty
        await settle(pilot)
        assert str(heading(app).render()) == "Quarantine (not billed): empty"
        assert not app.screen.query_one("#quarantine-table").display
        assert app.unexpected == []


async def test_quarantine_section_in_german(metering_tui: Callable[[str], LeitstandApp]) -> None:
    app = metering_tui("de")
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.press("m")
        await settle(pilot)
        await pilot.press("down")
        await settle(pilot)
        assert str(heading(app).render()).startswith("Quarantäne (nicht abgerechnet): 2 ungeprüft von 3 · Prüfen:")
        rows = cells(app, "#quarantine-table")
        assert rows[0][2] == "Gerät drucker-eg" and rows[0][4] == "Seiten über Obergrenze pro Minute"
        assert rows[0][0] == "ungeprüft" and rows[2][0] == "freigegeben"
        assert rows[1][4] == "CPU über Kerne × Zeit"
        assert rows[0][5] == "24.11.2025 15:00–15:01 MEZ" and rows[0][3] == "4.294.972.156 Seiten"
        header = [str(c.label) for c in app.screen.query_one("#quarantine-table", DataTable).columns.values()]
        assert header == ["Status", "Zähler", "Objekt", "Menge", "Regel", "Zeitraum", "Nachweis"]
        assert app.unexpected == []


def test_quarantine_shaping_tolerates_old_and_odd_documents() -> None:
    i18n.set_language("en")
    assert quarantine_rows({}) is None and quarantine_pending({}) is None
    assert quarantine_rows({"quarantine": None}) is None
    # no count from the collector: counted; junk entries skipped; no status means pending
    doc = {"quarantine": [_item(status="dismissed"), "junk", {"rule": "new_rule", "quantity": "3"}]}
    rows = quarantine_rows(doc)
    assert rows is not None and [r.pending for r in rows] == [True, False]
    assert rows[0].rule == "new_rule" and rows[0].subject == "–" and rows[0].quantity == "3"
    assert rows[1].status == "dismissed"
    assert quarantine_pending(doc) == 1
    assert fmt_span("2025-11-24T14:00:00Z", None) == "–"


async def test_real_collector_quarantine_and_a_markup_hostname(fleet: Fleet) -> None:
    """Against the real collector: a CPU counter jump is quarantined, not billed,
    and shown; the agent's markup hostname is shown literally and clicking it does nothing."""
    conn = connect(fleet.db_path)
    try:
        enroll = admin.create_token(conn, "enroll", actor="test", tenant="stadt-lohne")[1]
    finally:
        conn.close()
    hostname = "[@click=app.quit]harmless[/]"
    async with httpx.AsyncClient(transport=fleet.transport(), base_url="http://collector") as client:
        r = await client.post("/api/v1/enroll", json={"agent_id": "bad-1", "hostname": hostname}, headers=auth(enroll))
        assert r.status_code == 200, r.text
        token = r.json()["token"]
        reports = [
            report(1, NOW - 120, interval_s=60, cpu={"count": 4, "percent": 10.0, "busy_seconds_total": 1000.0}),
            report(2, NOW - 60, interval_s=60, cpu={"count": 4, "percent": 10.0, "busy_seconds_total": 9e12}),
        ]
        r = await client.post("/api/v1/reports", json=batch("bad-1", reports, hostname=hostname), headers=auth(token))
        assert r.status_code == 200, r.text
        usage = (
            await client.get("/api/v1/usage", params={"tenant": "stadt-lohne"}, headers=auth(fleet.admin_token))
        ).json()
    assert usage["quarantine_pending"] == 1, json.dumps(usage.get("quarantine"))

    source = CollectorSource("http://collector", fleet.admin_token, transport=fleet.transport())
    app = make_app(source, lang="de", clock=lambda: NOW, refresh_s=0, blink=False)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.press("m")
        await settle(pilot)
        tenants = {r[0]: r for r in cells(app, "#tenants-table")}
        assert tenants["stadt-lohne"][5] == "1"
        await pilot.press("down")
        await settle(pilot)
        assert str(heading(app).render()).startswith("Quarantäne (nicht abgerechnet): 1 ungeprüft von 1")
        [row] = cells(app, "#quarantine-table")
        assert row[2] == f"Host {hostname}" and row[4] == "CPU über Kerne × Zeit" and row[0] == "ungeprüft"
        assert row[6].startswith("busy_seconds_total 1000 -> 9000000000000")

        await pilot.press("h")
        await settle(pilot)
        assert isinstance(app.screen, HostsScreen)
        assert hostname in screen_text(app)
        assert await click_every(pilot, app, hostname) == 1
        assert app.return_code is None and isinstance(app.screen, HostsScreen)
        assert app.unexpected == []
