"""Running the alerting in the collector: gather → evaluate → store and queue
(one writer job) → deliver. ``tick`` is one round, callable on demand (tests
pass the app's clock); ``schedule`` runs it every ``interval_s`` while the app
runs (ASGI lifespan).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from ..db import Connection
from ..periodic import run_periodically
from . import storage
from .config import Settings
from .documents import alert_document
from .evaluate import Outcome, evaluate
from .forward import DeliveryError, Result, Sender, alertmanager_alert, attempt, encode, post_json, webhook_body
from .gather import KritisSource, Sources, observe
from .model import Transition, silencing
from .notify import plan
from .rules import RULES

__all__ = ["Alerting", "TickResult", "deliver", "from_config", "schedule", "tick"]

log = logging.getLogger("leitstand.collector.alerting")

_RULES = {r.name: r for r in RULES}


@dataclass
class Alerting:
    """The alerting of one collector app: its settings, where KRITIS status
    comes from, how notifications are sent."""

    settings: Settings
    kritis: KritisSource | None = None
    device_stale_after_s: float = 900.0
    device_sites: dict[str, str] = field(default_factory=dict)
    send: Sender = post_json
    last_refresh: float = float("-inf")
    last_prune: float = float("-inf")

    def sources(self) -> Sources:
        return Sources(
            policy=self.settings.policy,
            disk_window_s=self.settings.disk_projection_window_s,
            device_stale_after_s=self.device_stale_after_s,
            kritis=self.kritis,
            device_sites=self.device_sites,
            runbook_link=self.settings.runbook_link,
        )


@dataclass(frozen=True)
class TickResult:
    outcome: Outcome
    notifications: int
    delivered: int = 0
    failed: int = 0

    @property
    def transitions(self) -> tuple[Transition, ...]:
        return self.outcome.transitions


async def tick(collector: Any, alerting: Alerting, *, deliver_now: bool = True) -> TickResult:
    """One round at ``collector.clock()``."""
    now = collector.clock()
    sources = alerting.sources()
    observations = await collector.read_off_loop(lambda conn: observe(conn, now, sources))
    settings = alerting.settings
    targets = [t.name for t in settings.targets]

    def job(conn: Connection) -> tuple[Outcome, int]:
        book = storage.load_book(conn, now, settings.eval.flap_window_s)
        outcome = evaluate(_RULES, observations, book, settings.policy, settings.eval, now)
        silences = storage.active_silences(conn, now)
        alerts, notes = plan(outcome, silences, targets, now)
        docs = [
            (n, alert_document(n.alert, lang=settings.lang, runbook_url=settings.runbook_url, silence=None))
            for n in notes
        ]
        storage.save(conn, alerts, outcome.dropped, docs, now)
        if now - alerting.last_prune >= 3600:
            alerting.last_prune = now
            storage.prune(conn, now - settings.history_days * 86400)
        return Outcome(alerts, outcome.transitions, outcome.dropped), len(notes)

    outcome, queued = await collector.writer.run(job)
    for t in outcome.transitions:
        if t.event in ("firing", "resolved"):
            log.info("alert %s %s: %s %s", t.alert.id, t.event, t.alert.rule, t.alert.object)
    result = TickResult(outcome, queued)
    if deliver_now and settings.targets:
        delivered, failed = await deliver(collector, alerting)
        await refresh_alertmanager(collector, alerting)
        result = TickResult(outcome, queued, delivered, failed)
    return result


async def deliver(collector: Any, alerting: Alerting) -> tuple[int, int]:
    """Send what is due in the outbox; returns (delivered, failed attempts)."""
    now = collector.clock()
    due = storage.due_notifications(collector.reader, now)
    if not due:
        return 0, 0
    settings = alerting.settings
    results: list[tuple[int, str, int, float, str]] = []
    for d in due:
        target = settings.target(d.target)
        if target is None:  # target removed from the config: nobody to deliver to
            results.append((d.id, "dead", d.attempts, now, f"target {d.target} no longer configured"))
            continue
        body: Any
        if target.name == "alertmanager":
            ends_after = 4 * max(settings.alertmanager_resend_s, settings.interval_s)
            body = [
                alertmanager_alert(
                    d.payload, now=now, ends_after_s=ends_after, generator_url=_generator(settings, d.payload)
                )
            ]
        else:
            body = webhook_body(d.payload, d.event, now)
        res: Result = await asyncio.to_thread(attempt, target, encode(body), d.attempts, now, alerting.send)
        results.append((d.id, res.status, res.attempts, res.next_attempt_at, res.error))
    await collector.writer.run(lambda conn: storage.record_deliveries(conn, results, now))
    delivered = sum(1 for r in results if r[1] == "delivered")
    return delivered, len(results) - delivered


async def refresh_alertmanager(collector: Any, alerting: Alerting) -> None:
    """Re-send the firing, announced, unsilenced alerts so Alertmanager keeps
    them open (it resolves an alert whose endsAt passes); best effort."""
    settings = alerting.settings
    target = settings.target("alertmanager")
    now = collector.clock()
    if target is None or now - alerting.last_refresh < settings.alertmanager_resend_s:
        return
    alerting.last_refresh = now
    silences = storage.active_silences(collector.reader, now)
    firing = storage.list_alerts(collector.reader, storage.AlertFilter(state="firing"))
    ends_after = 4 * max(settings.alertmanager_resend_s, settings.interval_s)
    body = []
    for a in firing:
        if not a.notified or silencing(a.all_labels(), silences, now) is not None:
            continue
        doc = alert_document(a, lang=settings.lang, runbook_url=settings.runbook_url, silence=None)
        body.append(alertmanager_alert(doc, now=now, ends_after_s=ends_after, generator_url=_generator(settings, doc)))
    if not body:
        return
    try:
        await asyncio.to_thread(alerting.send, target.url + "/api/v2/alerts", encode(body), target.timeout_s, {})
    except DeliveryError as exc:
        log.warning("alertmanager refresh failed (tried again next round): %s", exc)


def _generator(settings: Settings, doc: dict[str, Any]) -> str:
    return f"{settings.external_url}/api/v1/alerts/{doc['id']}"


async def run_schedule(collector: Any, alerting: Alerting) -> None:
    """Evaluate every ``interval_s`` until cancelled; errors are logged, never fatal."""
    await run_periodically(
        "alert evaluation",
        alerting.settings.interval_s,
        lambda: tick(collector, alerting),
        getattr(collector, "leader", None),
    )


@contextlib.asynccontextmanager
async def schedule(collector: Any, alerting: Alerting) -> AsyncIterator[None]:
    task = asyncio.create_task(run_schedule(collector, alerting)) if alerting.settings.enabled else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def from_config(config: Any) -> Alerting:
    """The alerting of a collector with this `Config` (KRITIS status from its readiness section)."""
    from ..readiness.config import settings as readiness_settings
    from .config import settings
    from .gather import readiness_source

    readiness = readiness_settings(config.readiness)
    device_sites = {d: site.name for site in readiness.sites.values() for d in (*site.switches, *site.ups)}
    return Alerting(
        settings=settings(config.alerts, config.server.listen),
        kritis=readiness_source(config.readiness) if readiness.applications else None,
        device_stale_after_s=config.devices.stale_after_s,
        device_sites=device_sites,
    )
