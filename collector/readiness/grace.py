"""Start-up grace: pure logic, no I/O.

Right after a collector starts, no agent has reported yet (or its last report is older
than the collector's downtime), so every check that reads live evidence fails. That is
not a finding about the application but about the collector having just started:
for `stale_after_s` after the start (the time evidence is allowed to be old anyway), a
failing live-evidence check is *pending*, and pending checks raise no alert. Checks
about configuration or records (site distance, failover tests) are never deferred.
"""

from __future__ import annotations

import dataclasses

from .model import Evaluation

__all__ = ["LIVE_EVIDENCE", "grace_until", "with_startup_grace"]

#: checks whose evidence arrives with agent reports (hosts, textfile samples, SNMP devices)
LIVE_EVIDENCE = frozenset(
    {
        "instances_healthy",
        "distinct_sites",
        "backup_age",
        "replication_lag",
        "standby_headroom",
        "ups_runtime",
        "uplinks",
        "certificate",
        "dns",
        "evidence_fresh",
    }
)


def grace_until(started_at: float | None, stale_after_s: float) -> float | None:
    """When the grace of a collector started at `started_at` ends (None: no start known)."""
    return None if started_at is None else started_at + stale_after_s


def with_startup_grace(ev: Evaluation, started_at: float | None) -> Evaluation:
    """`ev` with its failing live-evidence checks pending while the start-up grace lasts
    (`started_at` <= now < `started_at` + the application's stale_after_s); unchanged otherwise."""
    until = grace_until(started_at, ev.app.thresholds.stale_after_s)
    if until is None or started_at is None or not started_at <= ev.now < until:
        return ev
    pending = tuple(c.check for c in ev.checks if c.verdict == "fail" and c.check in LIVE_EVIDENCE)
    if not pending:
        return ev
    return dataclasses.replace(ev, pending=pending, pending_until=until)
