"""A collector whose data is hostile: every string an agent or tenant can set
carries Textual/Rich markup or terminal control sequences.

The fake answers every endpoint the TUI reads in the shapes of the real API
(the same fields tests/tui/fleet.py gets from the real app), so each view
renders each field once. `markup(tag)` is a click action that would quit the
TUI if parsed; `control(tag)` holds ESC/CSI/OSC sequences, a BEL, a C1 CSI, a
bidi override and a lone surrogate (valid JSON: ``"\\ud800"``). The `tag`
names the field, so a test can say which one was not shown literally.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from tests.tui.fleet import NOW

__all__ = [
    "HostileCollector",
    "control",
    "control_shown",
    "markup",
]


def markup(tag: str) -> str:
    """Markup that, parsed, shows only `tag` and quits the TUI when clicked."""
    return f"[@click=app.quit]{tag}[/]"


def control(tag: str) -> str:
    """`tag` wrapped in sequences that clear the screen, set the window title, ring, reorder."""
    return f"{tag}\x1b[2J\x1b]0;pwned\x07\x9b31m\u202e\ud800<"


def control_shown(tag: str) -> str:
    """What `control(tag)` must look like on screen: every control visible, nothing lost."""
    return f"{tag}␛[2J␛]0;pwned␇\ufffd31m\ufffd\ufffd<"


TENANT = markup("tenant")
HOST = "h-1"
HOST2 = "h-2"


def _hosts() -> list[dict[str, Any]]:
    base = {
        "role": "server",
        "os": "Debian 12",
        "version": "0.1.0",
        "last_seen": NOW,
        "state": "online",
        "metrics": {"cpu_percent": 12.0, "memory_used_percent": 40.0, "disk_used_percent_max": 50.0},
    }
    return [
        {**base, "id": HOST, "hostname": markup("hostname"), "tenant": TENANT, "site": control("site")},
        # `[/]` alone made Textual raise on render: the host view stayed blank
        {**base, "id": HOST2, "hostname": "[/]", "tenant": TENANT, "site": "[/]", "role": "[b]"},
    ]


def _host_detail(agent_id: str) -> dict[str, Any]:
    host = next(h for h in _hosts() if h["id"] == agent_id)
    return {
        **host,
        "os": markup("os"),
        "version": control("version"),
        "gaps": [],
        "report": {
            "disks": [{"mount": markup("mount"), "device": control("disk"), "total_bytes": 100, "used_bytes": 10}],
            "net": [{"nic": markup("nic"), "rx_bytes_total": 1, "tx_bytes_total": 2}],
            "textfile": [{"name": markup("metric"), "labels": {"job": control("job")}, "value": 1.0}],
        },
    }


def _samples() -> list[dict[str, Any]]:
    return [
        {"ts": NOW - 60 * (3 - i), "cpu": {"percent": 10.0 + i}, "memory": {"total_bytes": 8, "used_bytes": 4}}
        for i in range(3)
    ]


def _devices() -> list[dict[str, Any]]:
    base = {"tenant": TENANT, "state": "up", "agent_id": HOST, "error": "", "last_seen": NOW}
    return [
        {**base, "id": "d-1", "kind": "printer", "name": markup("printer"), "descr": control("descr"),
         "address": markup("address")},
        {**base, "id": "d-2", "kind": "switch", "name": control("switch"), "descr": markup("swdescr"),
         "address": "10.0.0.2:161", "state": "unreachable", "error": markup("snmp-error")},
    ]  # fmt: skip


def _device_detail(device_id: str) -> dict[str, Any]:
    device = next(d for d in _devices() if d["id"] == device_id)
    if device["kind"] == "printer":
        reading = {
            "sys": {"descr": markup("sysdescr")},
            "printer": {
                "pages_total": 120,
                "printer_status": markup("pstatus"),
                "supplies": [{"index": "1", "description": control("toner"), "percent": 5.0}],
            },
        }
    else:
        reading = {
            "sys": {"descr": control("swsys")},
            "interfaces": [{"index": 1, "name": markup("port"), "oper_status": "up", "uplink": True}],
        }
    return {**device, "reading": reading}


def _usage() -> dict[str, Any]:
    return {
        "tenant": TENANT,
        "period": "2025-11",
        "status": "open",
        "currency": "EUR",
        "total": markup("total"),
        "meters": [{"meter": markup("meter"), "dim": control("dim"), "unit": "h", "quantity": "1", "coverage": "1"}],
        "lines": [],
        "quarantine": [
            {
                "id": "q-1",
                "rule": markup("rule"),
                "meter": "pages",
                "dim": "mono",
                "subject_kind": "device",
                "subject": "d-1",
                "subject_name": markup("subject"),
                "agent_id": HOST,
                "quantity": "4294972156",
                "unit": control("unit"),
                "start": "2025-11-24T14:00:00Z",
                "end": "2025-11-24T14:01:00Z",
                "evidence": control("evidence"),
                "status": "pending",
            }
        ],
        "quarantine_pending": 1,
    }


def _alerts() -> list[dict[str, Any]]:
    base = {
        "severity": "critical",
        "state": "firing",
        "tenant": TENANT,
        "started_at": NOW - 600,
        "updated_at": NOW,
        "resolved_at": None,
        "acknowledged": None,
        "silenced": False,
        "silence_id": None,
        "runbook_url": "",
    }
    return [
        {
            **base,
            "id": "a-1",
            "rule": markup("alertrule"),
            "object": markup("object"),
            "labels": {"host": markup("hostname"), "mount": control("label")},
            "summary": markup("summary"),
            "description": control("description") + "\nzweite Zeile",
            "runbook": "rb-data",
            "acknowledged": {"by": markup("by"), "at": NOW - 60, "comment": control("comment")},
        },
        {
            **base,
            "id": "a-2",
            "rule": "host_down",
            "object": control("object2"),
            "labels": {},
            "summary": "[/]",
            "description": "[/]",
            "runbook": markup("missing-runbook"),
            "runbook_url": markup("url"),
        },
        {**base, "id": "a-3", "rule": "disk_full", "object": "x", "labels": {}, "summary": "", "runbook": "",
         "silenced": True, "silence_id": markup("silence")},
    ]  # fmt: skip


#: served as text: a lone surrogate cannot be encoded, so the body has the rest
RUNBOOK = (
    f"# {markup('runbook-title')}\r\n\r\n"
    "runbook-body\x1b[2J\x1b]0;pwned\x07\x9b31m\u202e<\r\n\r\n"
    "[Abschnitt](#abhilfe) · [Datei](/etc/passwd)\n\n"
    "## Abhilfe\n"
)


def _readiness() -> list[dict[str, Any]]:
    return [
        {"name": markup("app"), "tenant": TENANT, "criticality": control("crit"), "status": "not_ready",
         "score": 40, "failed": [markup("failed")]},
    ]  # fmt: skip


def _readiness_detail(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "status": "not_ready",
        "targets": {"rpo_s": 3600, "rto_s": 7200},
        "checks": [
            {
                "id": "c-1",
                "title": markup("check"),
                "verdict": "fail",
                "evidence": [{"verdict": "fail", "text": control("evidence")}],
                "runbook": markup("check-runbook"),
            }
        ],
    }


def _json(body: object, status: int = 200) -> httpx.Response:
    # json.dumps escapes a lone surrogate as \ud800 (valid JSON); httpx's json= would not encode it
    return httpx.Response(status, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"})


class HostileCollector:
    """The handler of an `httpx.MockTransport`; `requests` records (method, path, params)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        #: raised as the transport error while set (the banner's reason)
        self.down: str | None = None

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down is not None:
            raise httpx.ConnectError(self.down, request=request)
        path, params = request.url.path, dict(request.url.params)
        self.requests.append((request.method, path, params))
        if request.method == "POST" and re.fullmatch(r"/api/v1/alerts/[^/]+/ack", path):
            return _json({"error": markup("api-error"), "detail": [control("api-detail")]}, 400)
        if request.method != "GET":
            return _json({"error": "not found", "detail": []}, 404)
        routes: dict[str, Any] = {
            "/api/v1/hosts": lambda: {"hosts": _hosts()},
            "/api/v1/devices": lambda: {"devices": _devices()},
            "/api/v1/usage": _usage,
            "/api/v1/periods": lambda: {"periods": [{"tenant": TENANT, "period": control("period"),
                                                     "status": "closed"}]},
            "/api/v1/readiness": lambda: {"applications": _readiness()},
            "/api/v1/alerts": lambda: {"alerts": _alerts()},
        }  # fmt: skip
        if path in routes:
            return _json(routes[path]())
        m = re.fullmatch(r"/api/v1/hosts/([^/]+)(/samples)?", path)
        if m:
            return _json({"samples": _samples()} if m.group(2) else _host_detail(m.group(1)))
        m = re.fullmatch(r"/api/v1/devices/([^/]+)(/readings)?", path)
        if m:
            return _json(
                {"readings": [{"printer": {"pages_total": 100}}]} if m.group(2) else _device_detail(m.group(1))
            )
        m = re.fullmatch(r"/api/v1/readiness/(.+)", path)
        if m:
            return _json(_readiness_detail(m.group(1)))
        if path == "/api/v1/runbooks/rb-data":
            return httpx.Response(200, text=RUNBOOK, headers={"Content-Type": "text/markdown; charset=utf-8"})
        return _json({"error": "not found", "detail": []}, 404)
