"""Readiness against the store: gather evidence, run the pure checks, record
status transitions and failover tests.

Reads take any connection. ``record_transitions`` and ``record_failover_test``
write: call them in the writer (API, schedule) or in a CLI transaction.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Sequence
from typing import Any, Literal
from zoneinfo import ZoneInfo

import msgspec

from agent.wire import Report

from .. import admin
from ..db import Connection, transaction
from ..errors import NotFoundError, ValidationError
from .checks import evaluate_application
from .config import ReadinessSettings
from .grace import with_startup_grace
from .identity import resolve
from .model import (
    Application,
    Evaluation,
    Evidence,
    FailoverTest,
    HostState,
    Sample,
    Selector,
    SwitchState,
    Uplink,
    UpsState,
)

__all__ = [
    "BERLIN",
    "evaluate",
    "failover_tests",
    "gather",
    "history",
    "record_failover_test",
    "record_transitions",
]

log = logging.getLogger("leitstand.collector.readiness")

BERLIN = ZoneInfo("Europe/Berlin")
_report = msgspec.json.Decoder(Report)


class _Host:
    __slots__ = ("agent_id", "hostname", "last_seen", "report", "site")

    def __init__(self, row: tuple[Any, ...]) -> None:
        self.agent_id, self.hostname, self.site, self.last_seen, latest = row
        self.report: Report | None = _report.decode(latest) if latest else None


def _tenant_hosts(conn: Connection, tenant: str) -> list[_Host]:
    rows = conn.execute(
        "SELECT agent_id, hostname, site, last_seen, latest FROM hosts WHERE tenant = ? "
        "ORDER BY coalesce(last_seen, 0) DESC, agent_id",
        (tenant,),
    ).fetchall()
    return [_Host(row) for row in rows]


def _host_state(name: str, host: _Host | None, claimed_by: tuple[str, ...] = ()) -> HostState:
    if host is None:
        return HostState(host=name, claimed_by=claimed_by)
    r = host.report
    return HostState(
        host=name,
        agent_id=host.agent_id,
        site_reported=host.site,
        report_ts=r.ts if r else None,
        cpu_count=r.cpu.count if r and r.cpu else None,
        cpu_percent=r.cpu.percent if r and r.cpu else None,
        memory_total=r.memory.total_bytes if r and r.memory else None,
        memory_used=r.memory.used_bytes if r and r.memory else None,
    )


def _samples(sel: Selector, candidates: Sequence[_Host], sites: dict[str, str]) -> tuple[Sample, ...]:
    """Matching textfile samples from the latest report of the selected agents
    (``sites``: the configured site of each instance's agent id)."""
    out = []
    wanted = dict(sel.labels)
    for h in candidates:
        if h.report is None:
            continue
        for s in h.report.textfile:
            if s.name == sel.metric and all(s.labels.get(k) == v for k, v in wanted.items()):
                labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
                series = f"{s.name}{{{labels}}}" if labels else s.name
                site = sites.get(h.agent_id) or h.site or "-"
                out.append(Sample(host=h.hostname, site=site, series=series, value=s.value, ts=h.report.ts))
    return tuple(sorted(out, key=lambda s: (s.host, s.series)))


def _devices(conn: Connection, tenant: str, ids: Sequence[str]) -> dict[str, tuple[float, bool, str, dict[str, Any]]]:
    """The application's tenant's devices of these ids: a device is named
    within its tenant, so another tenant's UPS of the same id is no evidence."""
    if not ids:
        return {}
    rows = conn.execute(
        "SELECT device_id, last_ts, ok, error, latest FROM devices "
        f"WHERE tenant = ? AND device_id IN ({','.join('?' * len(ids))})",
        [tenant, *ids],
    ).fetchall()
    return {dev: (ts, bool(ok), error, json.loads(latest)) for dev, ts, ok, error, latest in rows}


def _ups(device: str, found: tuple[float, bool, str, dict[str, Any]] | None) -> UpsState:
    if found is None:
        return UpsState(device)
    ts, ok, error, reading = found
    ups = reading.get("ups") or {}
    return UpsState(
        device=device,
        ts=ts,
        ok=ok,
        error=error,
        on_battery=ups.get("on_battery"),
        battery_status=ups.get("battery_status"),
        runtime_s=ups.get("runtime_s"),
        charge_pct=ups.get("charge_pct"),
        self_test=ups.get("self_test"),  # not in wire format v1 yet: None
    )


def _switch(device: str, found: tuple[float, bool, str, dict[str, Any]] | None) -> SwitchState:
    if found is None:
        return SwitchState(device)
    ts, ok, error, reading = found
    links = tuple(
        Uplink(name=str(i.get("name") or i.get("descr") or i.get("index")), oper_status=i.get("oper_status"))
        for i in reading.get("interfaces") or ()
        if i.get("uplink")
    )
    return SwitchState(device=device, ts=ts, ok=ok, error=error, uplinks=links)


def gather(
    conn: Connection,
    app: Application,
    settings: ReadinessSettings,
    now: float,
    hosts: Sequence[_Host] | None = None,
) -> Evidence:
    """The evidence snapshot of one application, read from the store."""
    hosts = _tenant_hosts(conn, app.tenant) if hosts is None else hosts
    # Identity: config names bind to enrolled agent ids of the app's tenant (identity.py).
    enrolled = [(h.agent_id, h.hostname) for h in hosts]
    by_id = {h.agent_id: h for h in hosts}
    ambiguous: dict[str, tuple[str, ...]] = {}
    states: dict[str, HostState] = {}
    instance_agents: dict[str, str] = {}  # agent id -> configured site
    for inst in app.instances:
        res = resolve(inst.host, inst.agent, enrolled)
        if res.ambiguous:
            ambiguous[inst.host] = res.claimed_by
        states[inst.host] = _host_state(inst.host, by_id.get(res.agent_id or ""), res.claimed_by)
        if res.agent_id is not None:
            instance_agents.setdefault(res.agent_id, inst.site)
    samples = {}
    for source in ("backup", "replication", "certificate", "dns"):
        sel: Selector | None = getattr(app, source)
        if sel is None:
            continue
        if sel.host or sel.agent:
            res = resolve(sel.host, sel.agent, enrolled)
            if res.ambiguous:
                ambiguous[sel.host] = res.claimed_by
            chosen = [by_id[res.agent_id]] if res.agent_id is not None else []
        else:
            # no host named: the application's own instances, never any host of the tenant
            chosen = [by_id[a] for a in instance_agents]
        samples[source] = _samples(sel, chosen, instance_agents)
    sites = [settings.sites[s] for s in app.site_names]
    ups_ids = sorted({d for s in sites for d in s.ups})
    switch_ids = sorted({d for s in sites for d in s.switches})
    devices = _devices(conn, app.tenant, ups_ids + switch_ids)
    return Evidence(
        now=now,
        hosts=states,
        samples=samples,
        ups={d: _ups(d, devices.get(d)) for d in ups_ids},
        switches={d: _switch(d, devices.get(d)) for d in switch_ids},
        tests=tuple(failover_tests(conn, app.name)),
        today=dt.datetime.fromtimestamp(now, BERLIN).date(),
        ambiguous=ambiguous,
    )


def evaluate(
    conn: Connection,
    settings: ReadinessSettings,
    now: float,
    apps: Iterable[Application] | None = None,
    *,
    started_at: float | None = None,
) -> list[Evaluation]:
    """Evaluate ``apps`` (default: every configured application), by name. With the
    collector's `started_at`, failing live-evidence checks are pending during the start-up
    grace (grace.py)."""
    chosen = sorted(settings.applications if apps is None else apps, key=lambda a: a.name)
    by_tenant: dict[str, list[_Host]] = {}
    out = []
    for app in chosen:
        if app.tenant not in by_tenant:
            by_tenant[app.tenant] = _tenant_hosts(conn, app.tenant)
        ev = evaluate_application(app, settings.sites, gather(conn, app, settings, now, by_tenant[app.tenant]))
        out.append(with_startup_grace(ev, started_at))
    return out


# -- status history ------------------------------------------------------------------


def record_transitions(conn: Connection, evaluations: Iterable[Evaluation]) -> int:
    """Append a history row for each application whose status changed since its
    last row (or that has none); returns how many were written."""
    written = 0
    with transaction(conn):
        for ev in evaluations:
            if ev.pending:
                continue  # evidence still pending after a start: the history begins once it is in
            row = conn.execute(
                "SELECT status FROM readiness_history WHERE app = ? ORDER BY ts DESC, id DESC LIMIT 1", (ev.app.name,)
            ).fetchone()
            if row is not None and row[0] == ev.status:
                continue
            conn.execute(
                "INSERT INTO readiness_history (app, tenant, ts, status, score, failed) VALUES (?, ?, ?, ?, ?, ?)",
                (ev.app.name, ev.app.tenant, ev.now, ev.status, ev.score, json.dumps(ev.failed)),
            )
            if row is not None:
                log.info("readiness of %s: %s -> %s (score %s)", ev.app.name, row[0], ev.status, ev.score)
            written += 1
    return written


def history(
    conn: Connection, app: str, *, since: float | None = None, until: float | None = None
) -> list[dict[str, Any]]:
    """Status transitions, oldest first. With ``since``, the row in force at
    ``since`` comes first (the status the period started with)."""
    rows = conn.execute(
        "SELECT ts, status, score, failed FROM readiness_history WHERE app = ? AND ts <= ? ORDER BY ts, id",
        (app, until if until is not None else float("inf")),
    ).fetchall()
    out = [
        {"ts": ts, "status": s, "score": score, "failed": json.loads(failed or "[]")} for ts, s, score, failed in rows
    ]
    if since is None:
        return out
    before = [h for h in out if h["ts"] < since]
    return before[-1:] + [h for h in out if h["ts"] >= since]


# -- failover tests -------------------------------------------------------------------


def failover_tests(conn: Connection, app: str) -> list[FailoverTest]:
    rows = conn.execute(
        "SELECT date, result, note, recorded_at FROM failover_tests WHERE app = ? ORDER BY date, recorded_at", (app,)
    ).fetchall()
    return [FailoverTest(dt.date.fromisoformat(d), result, note, at) for d, result, note, at in rows]


def parse_test_date(raw: str | None, now: float) -> dt.date:
    today = dt.datetime.fromtimestamp(now, BERLIN).date()
    if raw is None:
        return today
    try:
        date = dt.date.fromisoformat(raw)
    except ValueError as exc:
        raise ValidationError(f"invalid date {raw!r}: use YYYY-MM-DD, e.g. {today.isoformat()}") from exc
    if date > today:
        raise ValidationError(f"date {raw} lies in the future: record a test after it took place")
    return date


def record_failover_test(
    conn: Connection,
    settings: ReadinessSettings,
    app_name: str,
    *,
    date: dt.date,
    result: Literal["passed", "failed"],
    note: str,
    actor: str,
    now: float,
) -> None:
    """Store a failover test of a configured application and audit it."""
    app = settings.application(app_name)
    if app is None:
        known = ", ".join(a.name for a in settings.applications) or "none configured"
        raise NotFoundError(f"unknown application {app_name!r} (configured: {known})")
    if result not in ("passed", "failed"):
        raise ValidationError(f"result must be passed or failed, not {result!r}")
    with transaction(conn):
        conn.execute(
            "INSERT INTO failover_tests (app, tenant, date, result, note, recorded_at, actor) VALUES (?,?,?,?,?,?,?)",
            (app.name, app.tenant, date.isoformat(), result, note, now, actor),
        )
        admin.audit(
            conn,
            actor,
            "readiness.record_test",
            app.name,
            tenant=app.tenant,
            date=date.isoformat(),
            result=result,
            note=note,
        )
