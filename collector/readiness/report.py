"""Readiness report per tenant for the annual emergency-management review
(BSI 200-4 Notfallvorsorge): each KRITIS application, its targets, current
status, failed checks, failover tests and the status history of the period.
JSON for tools, Markdown for the binder."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from ..db import Connection
from .api import checks_document
from .config import ReadinessSettings
from .evaluate import BERLIN, evaluate, failover_tests, history
from .messages import fmt_duration

__all__ = ["report_document", "report_json", "report_markdown"]

_STATUS_DE = {"ready": "bereit", "degraded": "eingeschränkt", "not_ready": "nicht bereit"}


def _day_start(day: dt.date) -> float:
    return dt.datetime.combine(day, dt.time(), BERLIN).timestamp()


def report_document(
    conn: Connection,
    settings: ReadinessSettings,
    tenant: str,
    *,
    start: dt.date,
    end: dt.date,
    now: float,
    lang: str = "de",
    include_all: bool = False,
) -> dict[str, Any]:
    """The review of ``tenant`` for the days ``start`` to ``end`` (inclusive, Europe/Berlin)."""
    since, until = _day_start(start), _day_start(end + dt.timedelta(days=1))
    apps = [a for a in settings.applications if a.tenant == tenant and (include_all or a.criticality == "kritis")]
    out = []
    for ev in evaluate(conn, settings, now, apps):
        app = ev.app
        tests = [t for t in failover_tests(conn, app.name) if t.date <= end]
        out.append(
            {
                "name": app.name,
                "criticality": app.criticality,
                "targets": {"rpo_s": app.rpo_s, "rto_s": app.rto_s, "mta_s": app.mta_s, "min_sites": app.min_sites},
                "instances": [{"host": i.host, "site": i.site, "role": i.role} for i in app.instances],
                "status": ev.status,
                "score": ev.score,
                "failed": [c for c in checks_document(ev, lang) if c["verdict"] != "pass"],
                "history": history(conn, app.name, since=since, until=until),
                "failover_tests": [
                    {"date": t.date.isoformat(), "result": t.result, "note": t.note} for t in tests if t.date >= start
                ],
            }
        )
    return {
        "tenant": tenant,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "evaluated_at": dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "applications": out,
    }


def report_json(doc: dict[str, Any]) -> bytes:
    return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, BERLIN).strftime("%Y-%m-%d %H:%M %Z")


def report_markdown(doc: dict[str, Any]) -> bytes:
    lines = [
        f"# Bericht Umschaltbereitschaft: {doc['tenant']}",
        "",
        f"Zeitraum {doc['from']} bis {doc['to']}; Stand {doc['evaluated_at']} (UTC).",
        "",
    ]
    if not doc["applications"]:
        lines += ["Keine KRITIS-Anwendungen konfiguriert.", ""]
    for app in doc["applications"]:
        t = app["targets"]
        mta = fmt_duration(t["mta_s"]) if t["mta_s"] else "-"
        lines += [
            f"## {app['name']} ({app['criticality']})",
            "",
            f"- Status: **{_STATUS_DE[app['status']]}** (Bewertung {app['score']} von 100)",
            f"- RPO {fmt_duration(t['rpo_s'])}, RTO (Wiederanlaufzeit) {fmt_duration(t['rto_s'])}, MTA {mta}, "
            f"mindestens {t['min_sites']} Standorte",
            "- Instanzen: " + ", ".join(f"{i['host']} ({i['role']}, {i['site']})" for i in app["instances"]),
            "",
            "### Offene Befunde",
            "",
        ]
        if not app["failed"]:
            lines += ["Keine.", ""]
        for check in app["failed"]:
            lines.append(f"- **{check['title']}**: {check['verdict']}, Runbook `{check['runbook']}`")
            lines += [f"  - {e['text']}" for e in check["evidence"] if e["verdict"] != "pass"]
        lines += [
            "",
            "### Statusverlauf",
            "",
            "| seit | Status | Bewertung | fehlgeschlagene Prüfungen |",
            "| --- | --- | --- | --- |",
        ]
        for h in app["history"]:
            failed = ", ".join(h["failed"]) or "-"
            lines.append(f"| {_when(h['ts'])} | {_STATUS_DE[h['status']]} | {h['score']} | {failed} |")
        lines += ["", "### Umschalttests im Zeitraum", ""]
        if not app["failover_tests"]:
            lines.append("Keine.")
        for test in app["failover_tests"]:
            note = f": {test['note']}" if test["note"] else ""
            lines.append(f"- {test['date']}: {'bestanden' if test['result'] == 'passed' else 'fehlgeschlagen'}{note}")
        lines.append("")
    return ("\n".join(lines).rstrip() + "\n").encode()
