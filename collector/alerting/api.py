"""HTTP API of alerting (routes in collector/app.py).

Tenant tokens see, acknowledge and silence only their tenant's alerts (another
tenant's alert or silence answers 404); admin tokens everything; other roles
403. A tenant token's silence only ever silences its own tenant. Every write
is recorded in the audit log with the token as actor. Runbooks and the rule
list need no token: on-call staff open a runbook link from a notification in
a browser.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Annotated, Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from .. import admin
from ..admin import Principal
from ..context import Collector
from ..db import Connection
from ..errors import ConflictError, ForbiddenError, NotFoundError, ValidationError
from ..http import authenticated, collector_of, json_response, limit_param, principal_of, read_body
from . import escalation, regex, runbook_page, runbooks, storage
from .documents import alert_document, silence_document
from .limits import check_silence_count, silence_window
from .model import Ack, Alert, Matcher, Silence, silencing
from .rules import LANGS, RULES
from .runtime import Alerting

__all__ = [
    "SCHEMAS",
    "ack_handler",
    "create_silence_handler",
    "delete_silence_handler",
    "get_alert_handler",
    "list_alerts_handler",
    "list_rules_handler",
    "list_silences_handler",
    "openapi_paths",
    "runbook_handler",
]

_ALERT_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
Ts = Annotated[float, msgspec.Meta(ge=0, le=1e11)]
Comment = Annotated[str, msgspec.Meta(max_length=2000)]


# -- request and response shapes (they feed the OpenAPI document) --------------------


class AckRequest(msgspec.Struct, forbid_unknown_fields=True):
    comment: Comment = ""


class MatcherIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")]
    value: Annotated[str, msgspec.Meta(max_length=regex.MAX_PATTERN_CHARS)]
    is_regex: bool = False


class SilenceRequest(msgspec.Struct, forbid_unknown_fields=True):
    matchers: Annotated[list[MatcherIn], msgspec.Meta(min_length=1, max_length=20)]
    ends_at: Ts
    starts_at: Ts | None = None
    comment: Comment = ""


class AckOut(msgspec.Struct):
    by: str
    at: float
    comment: str


class AlertOut(msgspec.Struct):
    id: str
    rule: str
    severity: str
    state: str
    tenant: str
    object: str
    labels: dict[str, str]
    summary: str
    description: str
    runbook: str
    runbook_url: str
    started_at: float
    fired_at: float | None
    updated_at: float
    resolved_at: float | None
    value: float | None
    threshold: float | None
    flapping: bool
    acknowledged: AckOut | None
    silenced: bool
    silence_id: str | None


class AlertList(msgspec.Struct):
    alerts: list[AlertOut]
    count: int


class SilenceOut(msgspec.Struct):
    id: str
    matchers: list[MatcherIn]
    starts_at: float
    ends_at: float
    created_by: str
    comment: str
    created_at: float
    tenant: str | None
    state: str


class SilenceList(msgspec.Struct):
    silences: list[SilenceOut]
    count: int


class RunbookOut(msgspec.Struct):
    name: str
    title: str
    markdown: str
    rule: str
    severity: str
    owner: str
    #: the language of the runbook's text ("de" when it has no file in the one asked for)
    lang: str


class RuleOut(msgspec.Struct):
    name: str
    severity: str
    watches: str
    op: str
    threshold: float
    unit: str
    for_s: float
    runbook: str
    runbook_url: str
    summary: str
    help: str


class RuleList(msgspec.Struct):
    rules: list[RuleOut]
    count: int


SCHEMAS: list[type[msgspec.Struct]] = [
    AlertList,
    AlertOut,
    AckRequest,
    SilenceRequest,
    SilenceOut,
    SilenceList,
    RunbookOut,
    RuleList,
]

_ack_decoder = msgspec.json.Decoder(AckRequest)
_silence_decoder = msgspec.json.Decoder(SilenceRequest)


# -- helpers ----------------------------------------------------------------------------


def _alerting(collector: Collector) -> Alerting:
    assert collector.alerting is not None, "create_app sets up the alerting"
    return collector.alerting


async def _context(request: Request) -> tuple[Collector, Alerting, Principal]:
    collector, principal = await authenticated(request)
    if principal.role not in ("admin", "tenant"):
        raise ForbiddenError(f"a {principal.role} token may not read or change alerts")
    return collector, _alerting(collector), principal


def _scope(principal: Principal, requested: str | None) -> str | None:
    if principal.role == "admin":
        return requested
    if requested and requested != principal.tenant:
        raise ForbiddenError(f"token may only read tenant {principal.tenant!r}")
    return principal.tenant


def _param(request: Request, name: str, choices: tuple[str, ...] = ()) -> str | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if choices and raw not in choices:
        raise ValidationError(f"query parameter {name!r} must be one of: {', '.join(choices)}")
    return raw


def _lang(request: Request) -> str:
    return _param(request, "lang", LANGS) or "de"


async def _body(request: Request, decoder: msgspec.json.Decoder[Any], what: str) -> Any:
    # bounded while it is read (413 past 64 KiB), like every body
    raw = await read_body(request, 64 * 1024)
    if not raw.strip():
        # the OpenAPI document requires a body; an empty one is refused, not taken for {}
        raise ValidationError(f"{what} needs a JSON body", ['send at least {}, e.g. {"comment": "..."}'])
    try:
        return decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise ValidationError(f"invalid {what}", [str(exc)]) from exc
    except msgspec.DecodeError as exc:
        raise ValidationError(f"{what} is not valid JSON", [str(exc)]) from exc


def _visible_alert(conn: Connection, principal: Principal, alert_id: str) -> Alert:
    alert = storage.get_alert(conn, alert_id)
    # another tenant's alert is "not found": its existence is not ours to tell
    if alert is None or (principal.role != "admin" and alert.tenant != principal.tenant):
        raise NotFoundError(f"no alert {alert_id!r}")
    return alert


def _document(alerting: Alerting, alert: Alert, lang: str, silences: list[Silence], now: float) -> dict[str, Any]:
    silence = silencing(alert.all_labels(), silences, now) if alert.state != "resolved" else None
    return alert_document(alert, lang=lang, runbook_url=alerting.settings.runbook_url, silence=silence)


# -- alerts --------------------------------------------------------------------------------


async def list_alerts_handler(request: Request) -> Response:
    collector, alerting, principal = await _context(request)
    lang = _lang(request)
    limit = limit_param(request)
    flt = storage.AlertFilter(
        tenant=_scope(principal, _param(request, "tenant")),
        state=_param(request, "state", ("pending", "firing", "resolved")),
        severity=_param(request, "severity", ("critical", "warning", "info")),
        rule=_param(request, "rule"),
        limit=limit,
    )
    now = collector.clock()
    silences, alerts = await collector.read(
        lambda conn: (storage.active_silences(conn, now), storage.list_alerts(conn, flt))
    )
    docs = [_document(alerting, a, lang, silences, now) for a in alerts]
    return json_response({"alerts": docs, "count": len(docs)})


async def get_alert_handler(request: Request) -> Response:
    collector, alerting, principal = await _context(request)
    lang = _lang(request)
    alert_id = request.path_params["alert_id"]
    now = collector.clock()
    alert, silences = await collector.read(
        lambda conn: (_visible_alert(conn, principal, alert_id), storage.active_silences(conn, now))
    )
    return json_response(_document(alerting, alert, lang, silences, now))


async def ack_handler(request: Request) -> Response:
    collector, alerting, principal = await _context(request)
    lang = _lang(request)
    alert_id = request.path_params["alert_id"]
    await collector.read(lambda conn: _visible_alert(conn, principal, alert_id))
    req: AckRequest = await _body(request, _ack_decoder, "acknowledgement")
    now = collector.clock()
    ack = Ack(by=principal.actor, at=now, comment=req.comment)

    def job(conn: Any) -> Any:
        alert = storage.get_alert(conn, alert_id)
        if alert is None:
            raise NotFoundError(f"no alert {alert_id!r}")
        if alert.state == "resolved":
            raise ConflictError(f"alert {alert_id!r} is already resolved")
        storage.set_ack(conn, alert_id, ack)
        admin.audit(
            conn, principal.actor, "alert.ack", alert_id, rule=alert.rule, object=alert.object, comment=req.comment
        )
        return storage.get_alert(conn, alert_id)

    alert = await collector.writer.run(job)
    silences = await collector.read(lambda conn: storage.active_silences(conn, now))
    return json_response(_document(alerting, alert, lang, silences, now))


# -- silences ----------------------------------------------------------------------------


def _matchers(req: SilenceRequest) -> list[Matcher]:
    out = []
    for m in req.matchers:
        if m.is_regex:
            try:
                regex.check(m.value)
            except ValidationError as exc:
                raise ValidationError(f"matcher {m.name}: {exc.message}", exc.detail) from exc
        out.append(Matcher(m.name, m.value, m.is_regex))
    return out


async def list_silences_handler(request: Request) -> Response:
    collector, _, principal = await _context(request)
    now = collector.clock()
    tenant = _scope(principal, _param(request, "tenant"))
    found = await collector.read(lambda conn: storage.list_silences(conn, tenant=tenant, since=now))
    docs = [silence_document(s, now) for s in found]
    return json_response({"silences": docs, "count": len(docs)})


async def create_silence_handler(request: Request) -> Response:
    collector, alerting, principal = await _context(request)
    req: SilenceRequest = await _body(request, _silence_decoder, "silence")
    now = collector.clock()
    starts, _ends = silence_window(req.starts_at, req.ends_at, now, alerting.settings.max_silence_s)
    matchers = _matchers(req)
    tenant = principal.tenant if principal.role == "tenant" else None

    def job(conn: Any) -> Any:
        if tenant is not None:
            # counted in the writer: two requests at once cannot both take the last place
            limit = alerting.settings.max_silences_per_tenant
            check_silence_count(storage.count_open_silences(conn, tenant, now), limit)
        silence = storage.add_silence(
            conn, matchers, starts_at=starts, ends_at=req.ends_at, created_by=principal.actor,
            comment=req.comment, tenant=tenant, now=now,
        )  # fmt: skip
        admin.audit(
            conn,
            principal.actor,
            "silence.create",
            silence.id,
            matchers=[f"{m.name}{'=~' if m.is_regex else '='}{m.value}" for m in matchers],
            starts_at=starts,
            ends_at=req.ends_at,
            comment=req.comment,
            tenant=tenant,
        )
        return silence

    silence = await collector.writer.run(job)
    return json_response(silence_document(silence, now))


async def delete_silence_handler(request: Request) -> Response:
    collector, _, principal = await _context(request)
    silence_id = request.path_params["silence_id"]
    now = collector.clock()

    def job(conn: Any) -> Any:
        silence = storage.get_silence(conn, silence_id)
        if silence is None or (principal.role != "admin" and silence.tenant != principal.tenant):
            raise NotFoundError(f"no silence {silence_id!r}")
        storage.end_silence(conn, silence_id, by=principal.actor, now=now)
        admin.audit(conn, principal.actor, "silence.delete", silence_id)
        return dataclasses.replace(silence, ends_at=min(silence.ends_at, now))

    silence = await collector.writer.run(job)
    return json_response(silence_document(silence, now))


# -- runbooks and rules (no token needed) --------------------------------------------------


async def runbook_handler(request: Request) -> Response:
    """The runbook without its front matter, its escalation block filled from
    the config. Names and phone numbers only for admin and tenant tokens (the
    TUI), or for everyone with escalation.public_contacts; a browser (Accept:
    text/html, or format=html) gets an HTML page."""
    collector = collector_of(request)
    alerting = _alerting(collector)
    fmt = _param(request, "format", ("markdown", "json", "html"))
    if fmt is None:
        fmt = "html" if "text/html" in request.headers.get("accept", "") else "markdown"
    lang = _lang(request)
    alert_id = _param(request, "alert") or ""
    if alert_id and not _ALERT_ID.match(alert_id):
        raise ValidationError("query parameter 'alert' must be an alert id (letters, digits, - and _)")
    book = runbooks.load(alerting.settings.runbooks_dir, request.path_params["name"], lang)
    config = collector.config
    show = config.escalation.public_contacts
    if request.headers.get("authorization"):
        principal = await principal_of(collector, request.headers.get("authorization"))
        show = show or principal.role in ("admin", "tenant")
    body = escalation.fill(book, config.contacts, config.escalation, lang=lang, show_contacts=show)
    # the body's own language: German when the runbook has no file in the one asked for
    headers = {"Content-Language": book.lang, **({"Cache-Control": "no-store"} if show else {})}
    if fmt == "json":
        return json_response(
            {
                "name": book.name,
                "title": book.title,
                "markdown": body,
                "rule": book.meta.get("rule", ""),
                "severity": book.meta.get("severity", ""),
                "owner": book.meta.get("owner", ""),
                "lang": book.lang,
            },
            headers=headers,
        )
    if fmt == "html":
        text = runbook_page.page(book.title, body, lang=lang, alert_id=alert_id, body_lang=book.lang)
        return Response(text, media_type="text/html; charset=utf-8", headers=headers)
    return Response(body, media_type="text/markdown; charset=utf-8", headers=headers)


async def list_rules_handler(request: Request) -> Response:
    alerting = _alerting(collector_of(request))
    lang = _lang(request)
    docs = [
        {
            "name": r.name,
            "severity": r.severity,
            "watches": r.watches,
            "op": r.op,
            "threshold": alerting.settings.policy.thresholds.get(r.name, r.threshold),
            "unit": r.unit,
            "for_s": alerting.settings.policy.for_s.get(r.name, r.for_s),
            "runbook": r.runbook,
            "runbook_url": alerting.settings.runbook_link(r.runbook),
            "summary": r.summary.get(lang),
            "help": r.help.get(lang),
        }
        for r in RULES
    ]
    return json_response({"rules": docs, "count": len(docs)})


# -- OpenAPI -------------------------------------------------------------------------------


def openapi_paths(security: list[dict[str, list[str]]], ok: Any, errors: Any, param: Any) -> dict[str, Any]:
    """Paths for collector/openapi.py (its _ok, _errors and _param helpers passed in)."""
    lang = param("lang", {"type": "string", "enum": list(LANGS)}, description="language of summary and description")
    alert_id = param("alert_id", {"type": "string"}, "path", "alert id")

    def body(name: str) -> dict[str, Any]:
        return {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}}

    return {
        "/api/v1/alerts": {
            "get": {
                "summary": "Alerts visible to the token: open ones first, then history (resolved)",
                "security": security,
                "parameters": [
                    param("state", {"type": "string", "enum": ["pending", "firing", "resolved"]}),
                    param("tenant", {"type": "string"}),
                    param("severity", {"type": "string", "enum": ["critical", "warning", "info"]}),
                    param("rule", {"type": "string"}),
                    param("limit", {"type": "integer", "minimum": 1, "maximum": 10000}),
                    lang,
                ],
                "responses": {**ok("AlertList"), **errors(400, 401, 403)},
            }
        },
        "/api/v1/alerts/{alert_id}": {
            "get": {
                "summary": "One alert",
                "security": security,
                "parameters": [alert_id, lang],
                "responses": {**ok("AlertOut"), **errors(400, 401, 403, 404)},
            }
        },
        "/api/v1/alerts/{alert_id}/ack": {
            "post": {
                "summary": "Acknowledge an open alert (who and when from the token and clock, with a comment)",
                "security": security,
                "parameters": [alert_id, lang],
                "requestBody": body("AckRequest"),
                "responses": {**ok("AlertOut"), **errors(400, 401, 403, 404, 409, 429, 503)},
            }
        },
        "/api/v1/silences": {
            "get": {
                "summary": "Silences that have not ended (pending or active)",
                "security": security,
                "parameters": [param("tenant", {"type": "string"})],
                "responses": {**ok("SilenceList"), **errors(400, 401, 403)},
            },
            "post": {
                "summary": "Silence alerts matching label matchers from starts_at (default now) to ends_at",
                "security": security,
                "requestBody": body("SilenceRequest"),
                "responses": {**ok("SilenceOut"), **errors(400, 401, 403, 429, 503)},
            },
        },
        "/api/v1/silences/{silence_id}": {
            "delete": {
                "summary": "End a silence now",
                "security": security,
                "parameters": [param("silence_id", {"type": "string"}, "path", "silence id")],
                "responses": {**ok("SilenceOut"), **errors(401, 403, 404, 429, 503)},
            }
        },
        "/api/v1/rules": {
            "get": {
                "summary": "The alert rules with their thresholds and runbooks (no token needed)",
                "parameters": [lang],
                "responses": {**ok("RuleList"), **errors(400)},
            }
        },
        "/api/v1/runbooks/{name}": {
            "get": {
                "summary": "A runbook as Markdown, JSON (format=json) or HTML (format=html, or Accept: text/html); "
                "no token needed, contacts only with an admin or tenant token",
                "parameters": [
                    param("name", {"type": "string"}, "path", "runbook name, e.g. host-down"),
                    param("format", {"type": "string", "enum": ["markdown", "json", "html"]}),
                    lang,
                    param(
                        "alert",
                        {"type": "string", "pattern": _ALERT_ID.pattern},
                        description="alert id the HTML page names (alert links)",
                    ),
                ],
                "responses": {
                    "200": {
                        "description": "the runbook",
                        "content": {
                            "text/markdown": {"schema": {"type": "string"}},
                            "application/json": {"schema": {"$ref": "#/components/schemas/RunbookOut"}},
                            "text/html": {"schema": {"type": "string"}},
                        },
                    },
                    **errors(400, 401, 404),
                },
            }
        },
    }
