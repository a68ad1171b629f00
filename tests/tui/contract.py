"""Contract-shaped fakes of the alerts, silences and runbooks endpoints
(collector/alerting/, built at the same time as the TUI). They serve the JSON
of the agreed contract as the real app implements it (times as Unix seconds),
statefully (an ack shows up in the next list), with alerts chosen to cover every
state and flag, so the views and snapshots do not depend on which rules fire.
test_alerts_real.py runs the same round trip against the real app.

``Routed`` sends those paths to the fake and everything else to the real
collector app; ``Switchable`` makes the collector stop answering (a lost
connection) and come back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import httpx

__all__ = ["ALERT_PATHS", "AlertsContract", "Routed", "Switchable", "contract_alerts"]

ALERT_PATHS = re.compile(r"^/api/v1/(alerts|silences|runbooks)(/|$)")

RUNBOOK_MD = """# Toner fast leer

## Symptome
Der Drucker meldet einen Füllstand unter 10 %.

## Auswirkung
Druckaufträge im Bürgerbüro stoppen, sobald die Kartusche leer ist.

## Diagnose
1. Füllstand in der Geräteansicht prüfen.
2. Lagerbestand im Materiallager prüfen.

## Abhilfe
Kartusche tauschen; Bestellung beim Rahmenvertragspartner auslösen.

## Eskalation
IT-Leitung, wenn kein Ersatz im Haus ist.
"""
#: what the collector serves under `lang=en` (runbooks/en/)
RUNBOOK_MD_EN = """# Toner almost empty

## Symptoms
The printer reports a level below 10 %.

## Impact
Print jobs in the citizens' office stop as soon as the cartridge is empty.

## Diagnosis
1. Check the level in the device view.
2. Check the stock in the supplies store.

## Fix
Replace the cartridge; place an order with the framework contract partner.

## Escalation
Head of IT, if there is no replacement in the building.
"""


def contract_alerts() -> list[dict[str, Any]]:
    base = {
        "labels": {},
        "description": "",
        "runbook_url": "",
        "updated_at": 1_763_999_700.0,
        "resolved_at": None,
        "acknowledged": None,
        "silenced": False,
        "silence_id": None,
    }
    return [
        {
            **base,
            "id": "a-1",
            "rule": "host_down",
            "severity": "critical",
            "state": "firing",
            "tenant": "stadt-lohne",
            "object": "lohne-tc-003",
            "labels": {"rule": "host_down", "host": "lohne-tc-003"},
            "summary": "lohne-tc-003 meldet sich seit 90 min nicht",
            "description": "Der Thin Client im Bauhof sendet keine Berichte mehr.",
            "runbook": "host-down",
            "runbook_url": "https://leitstand.example/runbooks/host-down",
            "started_at": 1_763_994_900.0,
        },
        {
            **base,
            "id": "a-2",
            "rule": "printer_supply_low",
            "severity": "warning",
            "state": "firing",
            "tenant": "zweckverband",
            "object": "drucker-rathaus-eg",
            "summary": "Toner Cyan bei 7 %",
            "runbook": "printer-supply-low",
            "started_at": 1_763_989_200.0,
        },
        {
            **base,
            "id": "a-3",
            "rule": "disk_full",
            "severity": "warning",
            "state": "pending",
            "tenant": "stadt-lohne",
            "object": "lohne-srv-01",
            "labels": {"rule": "disk_full", "host": "lohne-srv-01", "mount": "/srv"},
            "summary": "/srv zu 92 % belegt",
            "runbook": "disk-full",
            "started_at": 1_763_999_400.0,
        },
        {
            **base,
            "id": "a-4",
            "rule": "ups_on_battery",
            "severity": "critical",
            "state": "resolved",
            "tenant": "zweckverband",
            "object": "usv-serverraum",
            "summary": "USV lief 4 min auf Batterie",
            "runbook": "ups-on-battery",
            "started_at": 1_763_974_800.0,
            "resolved_at": 1_763_975_040.0,
        },
    ]


class AlertsContract:
    """The alerts/silences/runbooks contract, in memory."""

    def __init__(self, actor: str = "admin") -> None:
        self.alerts = {a["id"]: a for a in contract_alerts()}
        self.silences: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, Any]] = []
        self.actor = actor
        self.runbooks = {
            "printer-supply-low": RUNBOOK_MD,
            "host-down": RUNBOOK_MD.replace("Toner fast leer", "Host antwortet nicht"),
        }
        #: the English twins; a name missing here is served in German, as the collector does
        self.runbooks_en = {
            "printer-supply-low": RUNBOOK_MD_EN,
            "host-down": RUNBOOK_MD_EN.replace("Toner almost empty", "Host is not answering"),
        }

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        body = json.loads(request.content) if request.content else None
        self.requests.append((request.method, path, body))
        if request.method == "GET" and path == "/api/v1/alerts":
            q = request.url.params
            alerts = [
                a
                for a in self.alerts.values()
                if all(not q.get(k) or a[k] == q[k] for k in ("state", "tenant", "severity"))
            ]
            return httpx.Response(200, json={"alerts": alerts, "count": len(alerts)})
        m = re.fullmatch(r"/api/v1/alerts/([^/]+)/ack", path)
        if request.method == "POST" and m:
            alert = self.alerts.get(m.group(1))
            if alert is None:
                return _error(404, f"no alert {m.group(1)!r}")
            if not isinstance(body, dict) or not isinstance(body.get("comment"), str):
                return _error(400, "comment is required")
            alert["acknowledged"] = {"by": self.actor, "at": 1_764_000_000.0, "comment": body["comment"]}
            return httpx.Response(200, json=alert)
        if request.method == "POST" and path == "/api/v1/silences":
            assert isinstance(body, dict)
            sid = f"s-{len(self.silences) + 1}"
            self.silences[sid] = {"id": sid, **body}
            for alert in self.alerts.values():
                labels = alert["labels"] or {"rule": alert["rule"], "object": alert["object"]}
                if all(labels.get(m["name"]) == m["value"] for m in body["matchers"]):
                    alert["silenced"], alert["silence_id"] = True, sid
            return httpx.Response(200, json=self.silences[sid])
        m = re.fullmatch(r"/api/v1/silences/([^/]+)", path)
        if request.method == "DELETE" and m:
            if self.silences.pop(m.group(1), None) is None:
                return _error(404, "no such silence")
            for alert in self.alerts.values():
                if alert["silence_id"] == m.group(1):
                    alert["silenced"], alert["silence_id"] = False, None
            return httpx.Response(204)
        m = re.fullmatch(r"/api/v1/runbooks/([^/]+)", path)
        if request.method == "GET" and m:
            text = self.runbooks.get(m.group(1))
            if text is not None and request.url.params.get("lang") == "en":
                text = self.runbooks_en.get(m.group(1), text)
            if text is None:
                return _error(404, f"no runbook {m.group(1)!r}")
            return httpx.Response(200, text=text, headers={"Content-Type": "text/markdown; charset=utf-8"})
        return _error(404, "not found")


def _error(status: int, error: str) -> httpx.Response:
    return httpx.Response(status, json={"error": error, "detail": []})


class Routed(httpx.AsyncBaseTransport):
    """Paths matching `pattern` go to `fake`, everything else to `real`."""

    def __init__(
        self,
        real: httpx.AsyncBaseTransport,
        fake: Callable[[httpx.Request], httpx.Response],
        pattern: re.Pattern[str] = ALERT_PATHS,
    ) -> None:
        self.real = real
        self.fake = httpx.MockTransport(fake)
        self.pattern = pattern

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.pattern.match(request.url.path):
            return await self.fake.handle_async_request(request)
        return await self.real.handle_async_request(request)


class Switchable(httpx.AsyncBaseTransport):
    """Passes requests on while `up`; otherwise fails the way a dead collector does."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.up = True
        self.refused = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self.up:
            self.refused += 1
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        return await self.inner.handle_async_request(request)
