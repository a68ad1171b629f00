"""Readiness and alert families.

Readiness is evaluated at scrape time (the same pure evaluation as the API,
nothing recorded). Alerts are counted read-only from the alerting store
(``alerts``), open ones only, by tenant, severity and state; every known
severity and state is exposed per tenant, zero included, so a panel shows 0
rather than "no data".
"""

from __future__ import annotations

from collections.abc import Iterator

from ..alerting import metric_names as m
from ..alerting.rules import RULES
from ..readiness.evaluate import evaluate
from .source import Family, Source, gauge

__all__ = ["ALERT_STATES", "READINESS_STATUSES", "VERDICTS", "alert_families", "readiness_families"]

READINESS_STATUSES = ("ready", "degraded", "not_ready")
VERDICTS = ("pass", "warn", "fail")
ALERT_STATES = ("pending", "firing")
SEVERITIES = tuple(sorted({r.severity for r in RULES}))


def readiness_families(src: Source) -> Iterator[Family]:
    status = gauge(m.READINESS_STATUS, "1 for the application's current readiness status.", ["tenant", "app", "status"])
    score = gauge(
        "leitstand_readiness_score_ratio", "Readiness score (0-1): pass 1, warning 1/2, failure 0.", ["tenant", "app"]
    )
    check = gauge(
        "leitstand_readiness_check_verdict", "1 for the check's current verdict.", ["tenant", "app", "check", "verdict"]
    )
    settings = src.readiness
    apps = [a for a in getattr(settings, "applications", ()) if src.tenant in (None, a.tenant)]
    if apps:
        for ev in evaluate(src.conn, settings, src.now, apps):
            tenant, app = ev.app.tenant, ev.app.name
            for s in READINESS_STATUSES:
                status.add_metric([tenant, app, s], 1.0 if ev.status == s else 0.0)
            score.add_metric([tenant, app], ev.score / 100)
            for c in ev.checks:
                for v in VERDICTS:
                    check.add_metric([tenant, app, c.check, v], 1.0 if c.verdict == v else 0.0)
    yield from (status, score, check)


def alert_families(src: Source) -> Iterator[Family]:
    alerts = gauge(
        "leitstand_alerts",
        "Open alerts (pending or firing) by tenant, severity and state.",
        ["tenant", "severity", "state"],
    )
    counts = {(t, sev, st): 0 for t in src.tenants() for sev in SEVERITIES for st in ALERT_STATES}
    where, args = src.tenant_sql()
    for tenant, severity, state, n in src.conn.execute(
        f"SELECT tenant, severity, state, count(*) FROM alerts WHERE state != 'resolved'{where} "
        "GROUP BY tenant, severity, state",
        args,
    ):
        counts[(tenant, severity, state)] = int(n)
    for (tenant, severity, state), n in sorted(counts.items()):
        alerts.add_metric([tenant, severity, state], n)
    yield alerts
