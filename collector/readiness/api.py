"""HTTP API of readiness (routes in collector/app.py) and the evaluation schedule.

Tenant isolation as for hosts: a tenant token sees its own tenant's
applications only, another tenant's application answers 404, the admin sees
all. Every evaluation records a status transition if the status changed, so
the history is complete whether the schedule or a reader noticed first.
"""

from __future__ import annotations

import logging
from contextlib import AbstractAsyncContextManager
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from ..admin import visible_tenant
from ..context import Collector
from ..db import Connection
from ..errors import NotFoundError, ValidationError
from ..http import authenticated, json_response
from ..periodic import in_background
from .config import ReadinessSettings
from .evaluate import evaluate, failover_tests, history, record_transitions
from .messages import LANGS, render, title
from .model import Evaluation

__all__ = [
    "SCHEMAS",
    "ReadinessDetail",
    "ReadinessList",
    "detail_document",
    "get_readiness_handler",
    "list_readiness_handler",
    "openapi_paths",
    "schedule",
    "summary_document",
    "tick",
]

log = logging.getLogger("leitstand.collector.readiness")


# -- response shapes (they feed the OpenAPI document) --------------------------------


class FindingOut(msgspec.Struct):
    verdict: str
    text: str
    key: str
    params: dict[str, Any]
    runbook: str | None


class CheckOut(msgspec.Struct):
    id: str
    title: str
    verdict: str
    runbook: str | None
    evidence: list[FindingOut]


class Targets(msgspec.Struct):
    rpo_s: float
    rto_s: float
    mta_s: float | None
    min_sites: int
    min_healthy: int


class InstanceOut(msgspec.Struct):
    host: str
    site: str
    role: str


class HistoryEntry(msgspec.Struct):
    ts: float
    status: str
    score: int
    failed: list[str]


class FailoverTestOut(msgspec.Struct):
    date: str
    result: str
    note: str
    recorded_at: float


class ReadinessSummary(msgspec.Struct):
    name: str
    tenant: str
    criticality: str
    status: str
    score: int
    since: float | None
    evaluated_at: float
    failed: list[str]
    warnings: list[str]


class ReadinessList(msgspec.Struct):
    applications: list[ReadinessSummary]
    count: int


class ReadinessDetail(ReadinessSummary):
    targets: Targets
    instances: list[InstanceOut]
    checks: list[CheckOut]
    history: list[HistoryEntry]
    failover_tests: list[FailoverTestOut]


SCHEMAS: list[type[msgspec.Struct]] = [ReadinessList, ReadinessDetail]


# -- documents -------------------------------------------------------------------------


def summary_document(ev: Evaluation, since: float | None) -> dict[str, Any]:
    return {
        "name": ev.app.name,
        "tenant": ev.app.tenant,
        "criticality": ev.app.criticality,
        "status": ev.status,
        "score": ev.score,
        "since": since,
        "evaluated_at": ev.now,
        "failed": ev.failed,
        "warnings": ev.warned,
    }


def checks_document(ev: Evaluation, lang: str) -> list[dict[str, Any]]:
    return [
        {
            "id": c.check,
            "title": title(c.check, lang),
            "verdict": c.verdict,
            "runbook": c.runbook,
            "evidence": [
                {
                    "verdict": f.verdict,
                    "text": render(f, lang),
                    "key": f.key,
                    "params": dict(f.params),
                    "runbook": f.runbook,
                }
                for f in c.findings
            ],
        }
        for c in ev.checks
    ]


def detail_document(ev: Evaluation, lang: str, hist: list[dict[str, Any]], tests: list[Any]) -> dict[str, Any]:
    app = ev.app
    return {
        **summary_document(ev, hist[-1]["ts"] if hist else None),
        "targets": {
            "rpo_s": app.rpo_s,
            "rto_s": app.rto_s,
            "mta_s": app.mta_s,
            "min_sites": app.min_sites,
            "min_healthy": app.min_healthy,
        },
        "instances": [{"host": i.host, "site": i.site, "role": i.role} for i in app.instances],
        "checks": checks_document(ev, lang),
        "history": hist,
        "failover_tests": [
            {"date": t.date.isoformat(), "result": t.result, "note": t.note, "recorded_at": t.recorded_at}
            for t in tests
        ],
    }


# -- handlers ----------------------------------------------------------------------------


def _lang(request: Request) -> str:
    lang = request.query_params.get("lang") or "de"
    if lang not in LANGS:
        raise ValidationError(f"query parameter 'lang' must be one of: {', '.join(LANGS)}")
    return lang


def _since(conn: Connection, app: str) -> float | None:
    row = conn.execute("SELECT max(ts) FROM readiness_history WHERE app = ?", (app,)).fetchone()
    return row[0] if row else None


async def _evaluate_and_record(collector: Collector, tenant: str | None, name: str | None = None) -> list[Evaluation]:
    settings = collector.readiness
    apps = [a for a in settings.applications if (tenant is None or a.tenant == tenant)]
    if name is not None:
        apps = [a for a in apps if a.name == name]
        if not apps:
            # another tenant's application is "not found": its existence is not ours to tell
            raise NotFoundError(f"no application {name!r}")
    now = collector.clock()
    evaluations = await collector.read(lambda conn: evaluate(conn, settings, now, apps))
    if evaluations:
        await collector.writer.run(lambda conn: record_transitions(conn, evaluations))
    return evaluations


async def list_readiness_handler(request: Request) -> Response:
    collector, principal = await authenticated(request)
    tenant = visible_tenant(principal, request.query_params.get("tenant") or None, "readiness")
    _lang(request)
    evaluations = await _evaluate_and_record(collector, tenant)

    def summaries(conn: Connection) -> list[dict[str, Any]]:
        return [summary_document(ev, _since(conn, ev.app.name)) for ev in evaluations]

    apps = await collector.read(summaries)
    return json_response({"applications": apps, "count": len(apps)})


async def get_readiness_handler(request: Request) -> Response:
    collector, principal = await authenticated(request)
    tenant = visible_tenant(principal, None, "readiness")
    lang = _lang(request)
    (ev,) = await _evaluate_and_record(collector, tenant, request.path_params["app"])
    name = ev.app.name
    hist, tests = await collector.read(lambda conn: (history(conn, name), failover_tests(conn, name)))
    return json_response(detail_document(ev, lang, hist, tests))


# -- schedule ------------------------------------------------------------------------------


async def tick(collector: Collector, settings: ReadinessSettings) -> int:
    """One scheduled evaluation of every application; returns transitions recorded."""
    now = collector.clock()
    evaluations = await collector.read_off_loop(lambda conn: evaluate(conn, settings, now))
    if not evaluations:
        return 0
    written: int = await collector.writer.run(lambda conn: record_transitions(conn, evaluations))
    return written


def schedule(collector: Collector, settings: ReadinessSettings) -> AbstractAsyncContextManager[None]:
    """Evaluate every ``settings.interval_s`` while the app runs (ASGI lifespan); nothing without applications."""
    return in_background(
        "readiness evaluation",
        settings.interval_s,
        lambda: tick(collector, settings),
        collector.leader,
        enabled=bool(settings.applications),
    )


# -- OpenAPI ------------------------------------------------------------------------------


def openapi_paths(security: list[dict[str, list[str]]], ok: Any, errors: Any, param: Any) -> dict[str, Any]:
    """Paths for collector/openapi.py (its _ok, _errors and _param helpers passed in)."""
    lang = param("lang", {"type": "string", "enum": list(LANGS)}, description="language of titles and evidence")
    return {
        "/api/v1/readiness": {
            "get": {
                "summary": "Failover readiness of the applications visible to the token (ready, degraded, not_ready)",
                "security": security,
                "parameters": [param("tenant", {"type": "string"}), lang],
                "responses": {**ok("ReadinessList"), **errors(400, 401, 403, 429, 503)},
            }
        },
        "/api/v1/readiness/{app}": {
            "get": {
                "summary": "One application: targets, checks with evidence and runbooks, history, failover tests",
                "security": security,
                "parameters": [param("app", {"type": "string"}, "path", "application name from the config"), lang],
                "responses": {**ok("ReadinessDetail"), **errors(400, 401, 403, 404, 429, 503)},
            }
        },
    }
