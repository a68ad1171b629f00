"""Running the alerting in the collector: gather → evaluate → store and queue
(one writer job) → deliver. ``tick`` is one round, callable on demand (tests
pass the app's clock); ``schedule`` runs it every ``interval_s`` while the app
runs (ASGI lifespan).
"""

from __future__ import annotations

import asyncio
import logging
import time
import urllib.parse
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from ..context import Collector
from ..db import Connection
from ..periodic import Pacer, in_background
from . import storage
from .config import Settings
from .documents import alert_document
from .evaluate import Outcome, evaluate
from .forward import DeliveryError, Result, alertmanager_alert, attempt, encode, webhook_body
from .gather import observe
from .model import Book, Observation, Transition, silencing
from .notify import plan
from .rules import RULES
from .runtime import Alerting, from_config

__all__ = ["Alerting", "TickResult", "deliver", "from_config", "schedule", "tick"]

log = logging.getLogger("leitstand.collector.alerting")

_RULES = {r.name: r for r in RULES}


@dataclass(frozen=True)
class TickResult:
    outcome: Outcome
    notifications: int
    delivered: int = 0
    failed: int = 0

    @property
    def transitions(self) -> tuple[Transition, ...]:
        return self.outcome.transitions


def _state(book: Book) -> tuple[object, ...]:
    """What of a book the evaluation's result depends on and someone else may
    change meanwhile: an acknowledgement, another evaluation (a collector
    that took over the lead). Compared by these fields, not whole alerts: a
    stored NULL value loads as NaN, never equal to itself."""
    return (
        sorted((k, a.id, a.state, a.updated_at, a.notified, a.ack) for k, a in book.open.items()),
        sorted(book.recent_fires.items()),
    )


async def tick(collector: Collector, alerting: Alerting, *, deliver_now: bool = True) -> TickResult:
    """One round at ``collector.clock()``.

    The whole fleet is read and evaluated in a worker thread on a connection
    of its own, paced (`Pacer`, ``alerting.duty``) so the event loop and the
    writer keep their turns; the writer then gets one short job that stores
    the result. It evaluates again in that job, on the episodes as stored
    then, only when they changed meanwhile (an acknowledgement), so nothing
    made meanwhile is overwritten by a stale result.
    """
    now = collector.clock()
    sources = alerting.sources()
    settings = alerting.settings
    targets = [t.name for t in settings.targets]

    def prepare(conn: Connection) -> tuple[list[Observation], Book, Outcome, float, float]:
        # created in the thread it paces: it counts that thread's CPU time
        pace = Pacer(alerting.duty, budget=alerting.budget)
        cpu = time.thread_time()
        book = storage.load_book(conn, now, settings.eval.flap_window_s)
        observations = observe(conn, now, sources, pace)
        outcome = evaluate(_RULES, observations, book, settings.policy, settings.eval, now, pace)
        return observations, book, outcome, time.thread_time() - cpu, pace.slept_s

    started = time.perf_counter()
    observations, seen, evaluated, cpu_s, slept_s = await collector.read_off_loop(prepare)
    read_s = time.perf_counter() - started

    def job(conn: Connection) -> tuple[Outcome, int]:
        book = storage.load_book(conn, now, settings.eval.flap_window_s)
        outcome = evaluated
        if _state(book) != _state(seen):
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

    started = time.perf_counter()
    outcome, queued = await collector.writer.run(job)
    # how long a round took and how much of it the writer (ingest) waited: what to look at when p99 rises once a minute
    log.info(
        "alert evaluation: %d observations, %d open alerts; read and evaluated in %.1f s (%.2f s CPU, %.1f s paced), "
        "stored in %.3f s",
        len(observations),
        sum(1 for a in outcome.alerts if a.open),
        read_s,
        cpu_s,
        slept_s,
        time.perf_counter() - started,
    )
    for t in outcome.transitions:
        if t.event in ("firing", "resolved"):
            log.info("alert %s %s: %s %s", t.alert.id, t.event, t.alert.rule, t.alert.object)
    result = TickResult(outcome, queued)
    if deliver_now and settings.targets:
        delivered, failed = await deliver(collector, alerting)
        await refresh_alertmanager(collector, alerting)
        result = TickResult(outcome, queued, delivered, failed)
    return result


async def deliver(collector: Collector, alerting: Alerting) -> tuple[int, int]:
    """Send what is due in the outbox; returns (delivered, failed attempts)."""
    now = collector.clock()
    due = await collector.read(lambda conn: storage.due_notifications(conn, now))
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


async def refresh_alertmanager(collector: Collector, alerting: Alerting) -> None:
    """Re-send the firing, announced, unsilenced alerts so Alertmanager keeps
    them open (it resolves an alert whose endsAt passes); best effort."""
    settings = alerting.settings
    target = settings.target("alertmanager")
    now = collector.clock()
    if target is None or now - alerting.last_refresh < settings.alertmanager_resend_s:
        return
    alerting.last_refresh = now
    silences, firing = await collector.read(
        lambda conn: (
            storage.active_silences(conn, now),
            storage.list_alerts(conn, storage.AlertFilter(state="firing")),
        )
    )
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
    """A page a browser opens without a token: the alert's runbook as HTML, naming
    the alert (the alert itself, at /api/v1/alerts/<id>, needs one: a 401)."""
    runbook = doc.get("runbook")
    if not runbook:  # a rule this version no longer has: the rule list at least
        return f"{settings.external_url}/api/v1/rules"
    query = urllib.parse.urlencode({"format": "html", "lang": settings.lang, "alert": doc["id"]})
    return f"{settings.external_url}/api/v1/runbooks/{urllib.parse.quote(runbook)}?{query}"


def schedule(collector: Collector, alerting: Alerting) -> AbstractAsyncContextManager[None]:
    """Evaluate every ``interval_s`` while the app runs (ASGI lifespan), when alerting is enabled."""
    return in_background(
        "alert evaluation",
        alerting.settings.interval_s,
        lambda: tick(collector, alerting),
        collector.leader,
        enabled=alerting.settings.enabled,
    )
