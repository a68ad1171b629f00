"""The collector's HTTP API: an ASGI app built by a factory around a store."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from agent.wire import Batch, BatchAck, WireError, decode_json

from . import db, devices, devices_api, host_health, inbound, rollups, store, usage
from . import enroll as enrollment
from .accesslog import AccessLog, AuthFailureLimiter
from .alerting import api as alerting_api
from .alerting import service as alerting_service
from .api_types import EnrollRequest
from .config import Config
from .context import Collector
from .db import Connection, Leadership, connect, migrate
from .errors import (
    CollectorError,
    OverloadedError,
    ValidationError,
)
from .housekeeping import Housekeeper, Work
from .http import (
    KnownQueryParams,
    authenticated,
    collector_of,
    error_response,
    json_response,
    limit_param,
    principal_of,
    query_param,
    read_body,
    receive_body,
    send_json,
    time_window,
)
from .metering.model import Period
from .metering.pruning import prune_points
from .metering.reading import list_periods
from .metrics import metrics_handler, warmed
from .openapi import openapi_document
from .periodic import Budget
from .preflight import prepare
from .ratelimit import RateLimit, TokenBuckets
from .readiness import api as readiness_api
from .writer import Writer

__all__ = [
    "REPORTS_PATH",
    "Collector",
    "CollectorApp",
    "create_app",
    "error_response",
    "housekeeping_work",
    "oldest_accepted_ts",
]

log = logging.getLogger("leitstand.collector.api")

REPORTS_PATH = "/api/v1/reports"

_enroll_decoder = msgspec.json.Decoder(EnrollRequest)
_UNKNOWN_WARNINGS = host_health.UnknownFieldWarnings()


def create_app(
    db_path: Path | str, config: Config | None = None, *, clock: Callable[[], float] = time.time
) -> CollectorApp:
    """Build the app; the database is opened and migrated here, the writer
    started. `app.state.collector.close()` (or the ASGI lifespan) stops it."""
    config = config or Config()
    prepared = prepare(config)  # the same checks as `check-config`
    readiness, alerting = prepared.readiness, prepared.alerting
    synchronous = config.storage.synchronous
    reader = connect(db_path, synchronous=synchronous)
    migrate(reader)
    devices.sync_assignments(reader, config.devices.assign)
    writer = Writer(
        lambda: connect(db_path, synchronous=synchronous),
        batch_max=config.ingest.writer_batch_max,
        queue_max=config.ingest.queue_max,
    )
    writer.start()
    # the leader of the alert evaluation, asked by housekeeping too (see db.Leadership)
    leader = Leadership(db_path)
    # the alert evaluation and housekeeping are paced together: a round often
    # runs while an evaluation does, and each at its own quarter of the core
    # took half of it from a busy ingest path (`periodic.Budget`)
    background = Budget(alerting.duty)
    alerting.budget = background
    housekeeper = Housekeeper(
        lambda: connect(db_path, synchronous=synchronous),
        housekeeping_work(config, clock),
        leader=leader,
        budget=background,
    )
    housekeeper.start()
    collector = Collector(
        config=config,
        reader=reader,
        writer=writer,
        clock=clock,
        tariffs=prepared.tariffs,
        target=str(db_path),
        leader=leader,
        housekeeper=housekeeper,
        readiness=readiness,
        alerting=alerting,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with (
            readiness_api.schedule(collector, readiness),
            alerting_service.schedule(collector, alerting),
            warmed(collector, app),
        ):
            yield
        collector.close()

    routes = [
        Route(REPORTS_PATH, _post_reports, methods=["POST"]),
        Route("/api/v1/enroll", _post_enroll, methods=["POST"]),
        Route("/api/v1/hosts", _get_hosts, methods=["GET"]),
        Route("/api/v1/hosts/{agent_id}", _get_host, methods=["GET"]),
        Route("/api/v1/hosts/{agent_id}/samples", _get_samples, methods=["GET"]),
        Route("/api/v1/hosts/{agent_id}/rollups", _get_rollups, methods=["GET"]),
        Route("/api/v1/usage", _get_usage, methods=["GET"]),
        Route("/api/v1/periods", _get_periods, methods=["GET"]),
        Route("/api/v1/devices", devices_api.list_devices_handler, methods=["GET"]),
        Route("/api/v1/devices/{device_id}", devices_api.get_device_handler, methods=["GET"]),
        Route("/api/v1/devices/{device_id}/readings", devices_api.get_device_readings_handler, methods=["GET"]),
        Route("/api/v1/readiness", readiness_api.list_readiness_handler, methods=["GET"]),
        Route("/api/v1/readiness/{app}", readiness_api.get_readiness_handler, methods=["GET"]),
        Route("/api/v1/alerts", alerting_api.list_alerts_handler, methods=["GET"]),
        Route("/api/v1/alerts/{alert_id}", alerting_api.get_alert_handler, methods=["GET"]),
        Route("/api/v1/alerts/{alert_id}/ack", alerting_api.ack_handler, methods=["POST"]),
        Route("/api/v1/silences", alerting_api.list_silences_handler, methods=["GET"]),
        Route("/api/v1/silences", alerting_api.create_silence_handler, methods=["POST"]),
        Route("/api/v1/silences/{silence_id}", alerting_api.delete_silence_handler, methods=["DELETE"]),
        Route("/api/v1/rules", alerting_api.list_rules_handler, methods=["GET"]),
        Route("/api/v1/runbooks/{name}", alerting_api.runbook_handler, methods=["GET"]),
        Route("/metrics", metrics_handler, methods=["GET"]),
        Route("/healthz", _healthz, methods=["GET"]),
        Route("/openapi.json", _openapi, methods=["GET"]),
    ]
    # One limiter and one set of buckets for both ways into the app (below).
    limiter = AuthFailureLimiter()
    outer = [
        Middleware(AccessLog, routes=lambda: routes, enabled=config.server.access_log, limiter=limiter),
        *_rate_limit(config),
    ]
    app = CollectorApp(
        routes=routes,
        lifespan=lifespan,
        middleware=[*outer, Middleware(KnownQueryParams, routes=lambda: routes, document=openapi_document)],
        exception_handlers={
            CollectorError: _collector_error,
            HTTPException: _http_error,
            Exception: _internal_error,
        },
    )
    app.reports = _stack(outer, _ReportsEndpoint(collector))
    app.state.collector = collector
    # the same objects as collector.readiness and collector.alerting, for tests and benches
    app.state.readiness = readiness
    app.state.alerting = alerting
    return app


def housekeeping_work(config: Config, clock: Callable[[], float] = time.time) -> Work:
    """A collector's hourly housekeeping round (`Housekeeper`): metering
    points, rollups, raw retention, calling `pause` between steps of their loops."""
    retention_s = config.storage.retention_days * 86400

    def housekeeping(conn: Connection, pause: Callable[[], None]) -> None:
        now = clock()
        prune_points(
            conn,
            before=now - config.metering.points_days * 86400,
            keep_from=oldest_accepted_ts(now, config.ingest.max_past_s),  # a late printer reading's neighbours
            pause=pause,
        )
        # before the raw prune: rollups are built from the raw samples it deletes
        rolled, expired = rollups.housekeep(
            conn,
            now=clock(),
            downsample_after_s=config.storage.downsample_after_days * 86400,
            rollup_retention_s=config.storage.rollup_retention_days * 86400,
            pause=pause,
        )
        if rolled or expired:
            log.info("rollups: %s buckets rolled up, %s expired ones removed", rolled, expired)
        if retention_s:
            devices.prune_readings(conn, before=clock() - retention_s, pause=pause)
            deleted = store.prune_samples(conn, before=clock() - retention_s, pause=pause)
            if deleted:
                log.info("retention: %s raw samples older than %s days removed", deleted, retention_s // 86400)

    return housekeeping


class CollectorApp(Starlette):
    """The Starlette app, with a shorter way in for what nearly every request
    is: an agent's POST /api/v1/reports. It runs through the same access log,
    rate limit and error handlers (the same classes, sharing their state) and
    the same handler, but not through Starlette's router, request object and
    its second exception layer, nor the query check (it takes only requests
    without a query string). Everything else takes the normal way."""

    #: the short way (set by create_app); None sends reports the normal way too
    reports: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.reports is not None
            and scope["type"] == "http"
            and scope["path"] == REPORTS_PATH
            and scope["method"] == "POST"
            and not scope["query_string"]
            and not scope.get("root_path")
        ):
            scope["app"] = self
            scope["endpoint"] = _post_reports  # what the router leaves there: the access log's route
            await self.reports(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _stack(middleware: list[Middleware], endpoint: ASGIApp) -> ASGIApp:
    """`endpoint` inside `middleware` and an error handler outermost, as
    Starlette.build_middleware_stack builds the app's stack."""
    app = endpoint
    for cls, args, kwargs in reversed([Middleware(ServerErrorMiddleware, handler=_internal_error), *middleware]):
        app = cls(app, *args, **kwargs)
    return app


class _ReportsEndpoint:
    """POST /api/v1/reports as a bare ASGI app: the headers it needs read
    straight from the scope, a CollectorError answered as the app's exception
    handler answers it."""

    def __init__(self, collector: Collector) -> None:
        self.collector = collector

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        authorization = length = encoding = None
        for name, value in scope["headers"]:  # the first of each, as Starlette's Headers.get
            if name == b"authorization":
                if authorization is None:
                    authorization = value.decode("latin-1")
            elif name == b"content-length":
                if length is None:
                    length = value.decode("latin-1")
            elif name == b"content-encoding" and encoding is None:
                encoding = value.decode("latin-1")
        try:
            ack = await _reports(self.collector, authorization, length, encoding, receive)
        except CollectorError as exc:
            await _collector_error_response("POST", REPORTS_PATH, exc)(scope, receive, send)
            return
        await send_json(send, ack)


def _rate_limit(config: Config) -> list[Middleware]:
    server = config.server
    if not server.rate_limit_rps:
        return []
    return [Middleware(RateLimit, buckets=TokenBuckets(server.rate_limit_rps, server.rate_limit_burst))]


async def _collector_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CollectorError)
    return _collector_error_response(request.method, request.url.path, exc)


def _collector_error_response(method: str, path: str, exc: CollectorError) -> Response:
    headers = {"Retry-After": str(exc.retry_after_s)} if isinstance(exc, OverloadedError) else None
    if exc.status >= 500:
        log.error("%s %s: %s %s", method, path, exc.message, exc.detail)
    return error_response(exc.status, exc.message, exc.detail, headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, str(exc.detail).lower(), [], dict(exc.headers or {}))


async def _internal_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, db.ERRORS):
        # the database is down or was restarted under a read: the client retries
        log.error("%s %s: database error: %s", request.method, request.url.path, str(exc).strip())
        return error_response(503, "storage unavailable, nothing stored", [str(exc).strip()], {"Retry-After": "5"})
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal error", [type(exc).__name__])


async def _post_reports(request: Request) -> Response:
    headers = request.headers
    ack = await _reports(
        collector_of(request),
        headers.get("authorization"),
        headers.get("content-length"),
        headers.get("content-encoding"),
        request.receive,
    )
    return json_response(ack)


async def _reports(
    collector: Collector, authorization: str | None, length: str | None, encoding: str | None, receive: Receive
) -> BatchAck:
    """An agent's batch: authenticated, read, checked, stored; the ack after the commit."""
    principal = await principal_of(collector, authorization)
    server = collector.config.server
    body = await receive_body(receive, length, encoding, server.max_body_bytes, server.body_timeout_s)
    try:
        decoded = inbound.decode_batch(body)
    except WireError as exc:
        raise ValidationError(str(exc), exc.detail) from exc
    batch, unknown = decoded.batch, decoded.unknown
    now = collector.clock()
    _check_times(batch, now, collector.config.ingest.max_future_s, collector.config.ingest.max_past_s)
    job = store.IngestJob(principal, batch, now, collector.metering, tuple(unknown))
    ack = await collector.writer.run_staged(job)
    if unknown:
        _UNKNOWN_WARNINGS.warn(batch.agent.id, principal.tenant, batch.agent.version, unknown)
        ack = msgspec.structs.replace(ack, unknown_fields=list(unknown))
    return ack


def oldest_accepted_ts(now: float, max_past_s: float) -> float:
    """The oldest `ts` a report may carry (`ingest.max_past_s`). 0, the default,
    means the start of the previous billing month (Europe/Berlin): late data for
    it can still be booked (as an adjustment once it is closed); anything older
    belongs to a month whose invoice is long out and is a broken clock or a replay."""
    if max_past_s > 0:
        return now - max_past_s
    # Every report asks: the answer changes only at a month boundary, and the
    # time-zone arithmetic costs more than the rest of the timestamp checks.
    start, end, oldest = _oldest_memo[0]
    if start <= now < end:
        return oldest
    period = Period.containing(now)
    oldest = period.previous().start_ts
    _oldest_memo[0] = (period.start_ts, period.end_ts, oldest)
    return oldest


#: the month `oldest_accepted_ts` last answered for: (its start, its end, the answer);
#: one tuple replaced whole, so the housekeeping thread never reads half of it
_oldest_memo: list[tuple[float, float, float]] = [(0.0, 0.0, 0.0)]


def _before_oldest(oldest: float, max_past_s: float) -> str:
    """The "stamped before ..." part of a too-old report's message (only built for one)."""
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(oldest))
    limit = (
        f"limit ingest.max_past_s = {max_past_s:.0f} s"
        if max_past_s > 0
        else "limit ingest.max_past_s: the start of the previous billing month"
    )
    return f"{since} ({limit})"


def _check_times(batch: Batch, now: float, max_future_s: float, max_past_s: float = 0.0) -> None:
    problems = []
    oldest = oldest_accepted_ts(now, max_past_s)
    for i, report in enumerate(batch.reports):
        if report.ts > now + max_future_s:
            problems.append(
                f"$.reports[{i}].ts: seq {report.seq} is stamped {report.ts - now:.0f} s in the future "
                f"(limit {max_future_s:.0f} s); check the agent's clock"
            )
        elif report.ts < oldest:
            problems.append(
                f"$.reports[{i}].ts: seq {report.seq} is stamped before {_before_oldest(oldest, max_past_s)}; "
                "check the agent's clock, or drop reports that old from its spool"
            )
        for j, reading in enumerate(report.snmp):
            if reading.ts is None:
                continue
            if reading.ts > now + max_future_s:
                problems.append(
                    f"$.reports[{i}].snmp[{j}].ts: device {reading.device!r} is stamped "
                    f"{reading.ts - now:.0f} s in the future (limit {max_future_s:.0f} s)"
                )
            elif reading.ts < oldest:
                problems.append(
                    f"$.reports[{i}].snmp[{j}].ts: device {reading.device!r} is stamped "
                    f"before {_before_oldest(oldest, max_past_s)}"
                )
    if batch.agent.boot_time > now + max_future_s:
        problems.append("$.agent.boot_time lies in the future")
    if problems:
        raise ValidationError("implausible timestamps", problems[:100])


async def _post_enroll(request: Request) -> Response:
    collector, principal = await authenticated(request)
    body = await read_body(request, 64 * 1024)
    try:
        req = decode_json(_enroll_decoder, body, "enrollment request")
    except WireError as exc:
        raise ValidationError(str(exc), exc.detail) from exc
    hostname = req.hostname or req.agent_id
    now = collector.clock()
    enrolled = await collector.writer.run(
        lambda conn: enrollment.enroll(conn, principal, req.agent_id, hostname, now=now)
    )
    for revoked in enrolled.revoked_tokens:  # the replaced agent's token is refused here at once
        collector.tokens.invalidate(revoked)
    return json_response({"token": enrolled.token, "agent_id": req.agent_id, "tenant": enrolled.tenant})


async def _get_hosts(request: Request) -> Response:
    collector, principal = await authenticated(request)
    flt = store.HostFilter(
        tenant=query_param(request, "tenant", str),
        role=query_param(request, "role", str, choices=("server", "vm", "thin-client")),
        site=query_param(request, "site", str),
        state=query_param(request, "state", str, choices=("online", "offline")),
    )
    now, offline_after_s = collector.clock(), collector.config.hosts.offline_after_s
    hosts = await collector.read(
        lambda conn: store.list_hosts(conn, principal, flt, now=now, offline_after_s=offline_after_s)
    )
    return json_response({"hosts": hosts, "count": len(hosts)})


async def _get_host(request: Request) -> Response:
    collector, principal = await authenticated(request)
    agent_id = request.path_params["agent_id"]
    now, offline_after_s = collector.clock(), collector.config.hosts.offline_after_s
    host = await collector.read(
        lambda conn: store.get_host(conn, principal, agent_id, now=now, offline_after_s=offline_after_s)
    )
    return json_response(host)


async def _get_samples(request: Request) -> Response:
    collector, principal = await authenticated(request)
    now = collector.clock()
    since, until = time_window(request, now, 3600.0)
    limit = limit_param(request)
    agent_id = request.path_params["agent_id"]
    offline_after_s = collector.config.hosts.offline_after_s
    samples = await collector.read(
        lambda conn: store.host_samples(
            conn, principal, agent_id, since=since, until=until, limit=limit, now=now, offline_after_s=offline_after_s
        )
    )
    return json_response({"samples": samples, "count": len(samples)})


async def _get_rollups(request: Request) -> Response:
    collector, principal = await authenticated(request)
    now = collector.clock()
    since, until = time_window(request, now, 7 * 86400.0)
    if until - since > 400 * 86400:
        raise ValidationError("at most 400 days of rollups per request")
    agent_id = request.path_params["agent_id"]
    offline_after_s = collector.config.hosts.offline_after_s

    def read(conn: Connection) -> list[dict[str, Any]]:
        store.get_host(conn, principal, agent_id, now=now, offline_after_s=offline_after_s)  # access check
        return rollups.host_rollups(conn, agent_id, since=since, until=until)

    rows = await collector.read(read)
    return json_response({"rollups": rows, "count": len(rows)})


async def _get_usage(request: Request) -> Response:
    collector, principal = await authenticated(request)
    requested = query_param(request, "tenant", str)
    raw_period = query_param(request, "period", str)
    now, tariffs = collector.clock(), collector.tariffs

    def read(conn: Connection) -> dict[str, Any]:
        tenants = usage.readable_tenants(conn, principal, requested)
        if requested is None and len(tenants) != 1:
            raise ValidationError("query parameter 'tenant' is required for this token")
        return usage.usage_document(conn, tenants[0], usage.parse_period(raw_period, now), tariffs)

    return json_response(await collector.read(read))


async def _get_periods(request: Request) -> Response:
    collector, principal = await authenticated(request)
    requested = query_param(request, "tenant", str)

    def read(conn: Connection) -> list[dict[str, Any]]:
        tenants = usage.readable_tenants(conn, principal, requested)
        return [p for p in list_periods(conn, None) if p["tenant"] in tenants]

    periods = await collector.read(read)
    return json_response({"periods": periods})


async def _healthz(request: Request) -> Response:
    writer = collector_of(request).writer
    body = {
        "status": "ok" if writer.last_error is None else "degraded",
        "writer_queue": writer.depth,
        "commits": writer.commits,
        "last_error": writer.last_error,
    }
    return json_response(body, 200 if writer.last_error is None else 503)


async def _openapi(request: Request) -> Response:
    return json_response(openapi_document())
