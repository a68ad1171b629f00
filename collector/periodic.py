"""Background evaluation loops (alerts, readiness) started by the app's lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from .errors import CollectorError

__all__ = ["in_background", "run_periodically"]

log = logging.getLogger("leitstand.collector")


async def run_periodically(
    what: str, interval_s: float, step: Callable[[], Awaitable[object]], leader: Callable[[], bool] | None = None
) -> None:
    """Run `step` every `interval_s` until cancelled; a failing step is logged,
    never fatal, so one bad evaluation cannot stop the next. With `leader`,
    only while it says this process leads (collectors sharing a database
    evaluate once, not once each)."""
    while True:
        try:
            if leader is None or leader():
                await step()
        except CollectorError as exc:
            log.error("%s failed: %s %s", what, exc.message, exc.detail)
        except Exception:
            log.exception("%s crashed", what)
        await asyncio.sleep(interval_s)


@contextlib.asynccontextmanager
async def in_background(
    what: str,
    interval_s: float,
    step: Callable[[], Awaitable[object]],
    leader: Callable[[], bool] | None = None,
    *,
    enabled: bool = True,
) -> AsyncIterator[None]:
    """`run_periodically` as a task for as long as the block runs (the app's
    lifespan); cancelled and awaited when it ends. Nothing when not `enabled`."""
    task = asyncio.create_task(run_periodically(what, interval_s, step, leader), name=what) if enabled else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
