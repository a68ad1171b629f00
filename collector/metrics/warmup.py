"""The scrape caches filled at start-up, in a worker thread: readiness and
ingest do not wait for it, and the first scrape after a start costs about
what a later one does.

What a first scrape would otherwise compute alone is what later scrapes
take from ``ScrapeState``: the ledger's history sums (every hour before the
daily cutoff: at 20 tenants and 14 months 0.8 million rows, most of a
second) and every host's send interval (hosts.py). A scrape that arrives
while the warm-up runs waits only for the cache it needs, when it needs it
(one lock per cache; the send intervals are warmed 500 hosts at a time), and
never computes the same thing twice. A warm-up that fails is logged;
the scrape then computes the cache itself, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette

from ..context import Collector
from ..db import Connection
from .hosts import warm_send_intervals
from .metering import history
from .source import ScrapeState, Source

__all__ = ["scrape_state", "warm", "warmed"]

log = logging.getLogger(__name__)


def scrape_state(app: Starlette) -> ScrapeState:
    """The app's scrape caches (one per app, created on first use)."""
    state: ScrapeState | None = getattr(app.state, "metrics", None)
    if state is None:
        state = app.state.metrics = ScrapeState()
    return state


def warm(src: Source) -> None:
    """Fill the caches in the order a scrape needs them: hosts come first."""
    warm_send_intervals(src)
    history(src)


@contextlib.asynccontextmanager
async def warmed(collector: Collector, app: Starlette) -> AsyncIterator[None]:
    """While the app runs (ASGI lifespan): warm the caches once at start."""
    state = scrape_state(app)

    def run(conn: Connection) -> None:
        try:
            warm(Source(conn=conn, now=collector.clock(), state=state))
        except Exception:
            log.exception("/metrics warm-up failed; scrapes compute their caches themselves")

    task = asyncio.create_task(collector.read_off_loop(run))
    try:
        yield
    finally:
        # a thread cannot be cancelled; the store stays open until it ends (at most a second or two)
        await task
