"""``GET /metrics``: the Prometheus endpoint (route in collector/app.py).

A bearer token is required (``metrics.require_token``, on by default; off
only for a closed network). A ``metrics`` or ``admin`` token reads every
tenant (``?tenant=`` optional), a tenant token only its own: asking for any
other tenant, existing or not, answers the same 403. ``?tenant=T`` scrapes one tenant,
to shard a large fleet over several Prometheus servers or jobs; the
collector's own health families are in every scrape.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import sqlite3

from prometheus_client import CollectorRegistry, generate_latest
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response

from .. import db
from ..context import Collector
from ..db import Connection
from ..errors import ForbiddenError, NotFoundError
from ..http import collector_of, principal_of
from .collector import LeitstandCollector, scrape
from .exposition import CONTENT_TYPE, Writer
from .metering import history_outdated, refresh_history
from .source import Source, WriterStats
from .warmup import scrape_state

__all__ = ["metrics_handler", "render", "render_reference"]

#: bodies above this are gzipped when the scraper accepts it (Prometheus does)
GZIP_MIN_BYTES = 4096


async def _tenant(request: Request, collector: Collector) -> str | None:
    requested = request.query_params.get("tenant") or None
    header = request.headers.get("authorization")
    if header is not None or collector.config.metrics.require_token:
        principal = await principal_of(collector, header)
        if principal.role == "tenant":
            # another tenant, known or not, answers the same: names are not to be probed
            if requested not in (None, principal.tenant):
                raise ForbiddenError(f"token may only read tenant {principal.tenant!r}")
            return principal.tenant
        if principal.role not in ("admin", "metrics"):
            raise ForbiddenError(
                f"a {principal.role} token may not read metrics", ["use a metrics, admin or tenant token"]
            )
    if requested is not None and not await collector.read(
        lambda conn: conn.execute("SELECT 1 FROM tenants WHERE name = ?", (requested,)).fetchone()
    ):
        raise NotFoundError(f"unknown tenant {requested!r}")
    return requested


def _db_path(collector: Collector) -> str:
    """The SQLite file, "" for PostgreSQL or a database in memory."""
    target = collector.target
    if db.dialect(collector.reader) != "sqlite" or not target or target == ":memory:":
        return ""
    return os.path.abspath(target)


def _scrape_connection(collector: Collector, path: str) -> Connection:
    """A connection of the scrape's own: it runs in a worker thread, and a
    long scrape must not hold up the API's reads on the shared one."""
    if path:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=10000")
        return conn
    if db.is_postgres(collector.target):
        return db.connect(collector.target)
    return collector.reader


def render(source: Source) -> tuple[bytes, str]:
    """The exposition of one scrape, Prometheus text format. Also to a scraper
    that prefers OpenMetrics (Prometheus does): its Accept header names the
    text format too, and the samples are the same."""
    writer = Writer()
    return "".join(scrape(source, writer.render)).encode(), CONTENT_TYPE


def render_reference(source: Source) -> bytes:
    """The same scrape through prometheus_client's registry and
    ``generate_latest``: the writer's reference (tests, bench)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LeitstandCollector(source))
    return generate_latest(registry)


async def metrics_handler(request: Request) -> Response:
    collector = collector_of(request)
    tenant = await _tenant(request, collector)
    state = scrape_state(request.app)
    path = _db_path(collector)
    writer = collector.writer
    stats = WriterStats(depth=writer.depth, commits=writer.commits, jobs=writer.jobs_done, last_error=writer.last_error)

    def scrape() -> tuple[bytes, str]:
        # a read-only connection of its own: the scrape runs in a worker thread
        conn = _scrape_connection(collector, path)
        try:
            source = Source(
                conn=conn,
                now=collector.clock(),
                tenant=tenant,
                offline_after_s=collector.config.hosts.offline_after_s,
                stale_after_s=collector.config.devices.stale_after_s,
                writer=stats,
                db_path=path or None,
                tariffs=collector.tariffs,
                readiness=collector.readiness,
                state=state,
            )
            return render(source)
        finally:
            if conn is not collector.reader:
                conn.close()

    body, content_type = await asyncio.to_thread(scrape)
    headers = {"Cache-Control": "no-store"}
    if len(body) >= GZIP_MIN_BYTES and "gzip" in request.headers.get("accept-encoding", ""):
        body = await asyncio.to_thread(gzip.compress, body, 1)
        headers["Content-Encoding"] = "gzip"
    now = collector.clock()
    # the daily move of the ledger history's cutoff, after the answer: no scrape waits for it
    refresh = (
        BackgroundTask(collector.read_off_loop, lambda conn: refresh_history(Source(conn=conn, now=now, state=state)))
        if history_outdated(state, now)
        else None
    )
    return Response(body, media_type=content_type, headers=headers, background=refresh)
