"""Observations from the store: one number per rule and object.

Reads only (any connection). Hosts: the latest report (``hosts.latest``),
arrival times and gaps, recent samples for the disk projection. SNMP devices:
the latest reading of each device that is neither stale nor failing. Metering:
the running period's coverage per tenant. KRITIS applications: the readiness
evaluation (issue 5), behind the small ``KritisSource`` interface.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from .. import arrivals
from ..db import Connection
from ..metering import ledger
from ..metering.model import Coverage, Period
from .documents import duration
from .model import Observation
from .policy import Policy, Scope
from .rules import Rule, by_name

__all__ = ["KritisSource", "KritisStatus", "Sources", "observe", "readiness_source"]

GIB = 1024**3
#: a projection this far out counts as "never"
NEVER_H = 1e9
#: coverage is judged once this many reports were expected in the period
MIN_EXPECTED = 20

PRINTER_ERRORS: dict[str, tuple[str, str]] = {
    "jammed": ("Papierstau", "paper jam"),
    "doorOpen": ("Klappe offen", "door open"),
    "offline": ("offline", "offline"),
    "noPaper": ("kein Papier", "no paper"),
    "noToner": ("kein Toner", "no toner"),
    "serviceRequested": ("Wartung angefordert", "service requested"),
    "outputFull": ("Ausgabefach voll", "output tray full"),
    "inputTrayMissing": ("Papierfach fehlt", "input tray missing"),
    "outputTrayMissing": ("Ausgabefach fehlt", "output tray missing"),
    "markerSupplyMissing": ("Verbrauchsmaterial fehlt", "supply missing"),
}


@dataclass(frozen=True)
class KritisStatus:
    """What the alert rules need of a readiness evaluation."""

    app: str
    tenant: str
    status: str  # ready | degraded | not_ready
    #: (check, title de, title en, runbook) of the failed checks, and of the warnings
    failed: tuple[tuple[str, str, str, str | None], ...] = ()
    warned: tuple[tuple[str, str, str, str | None], ...] = ()


KritisSource = Callable[[Connection, float], Iterable[KritisStatus]]


def readiness_source(readiness_config: Any) -> KritisSource:
    """The real source: collector.readiness evaluates the configured applications."""
    from ..readiness.config import settings as readiness_settings
    from ..readiness.evaluate import evaluate
    from ..readiness.messages import title

    configured = readiness_settings(readiness_config)

    started: list[float] = []  # the first evaluation's time: the collector's start

    def source(conn: Connection, now: float) -> list[KritisStatus]:
        if not configured.applications:
            return []
        if not started:
            started.append(now)
        out = []
        # start-up grace: checks still waiting for the agents' first reports raise no alert
        for ev in evaluate(conn, configured, now, started_at=started[0]):

            def checks(verdict: str, ev: Any = ev) -> tuple[tuple[str, str, str, str | None], ...]:
                return tuple(
                    (c.check, title(c.check, "de"), title(c.check, "en"), c.runbook)
                    for c in ev.checks
                    if c.verdict == verdict and c.check not in ev.pending
                )

            out.append(KritisStatus(ev.app.name, ev.app.tenant, ev.alert_status, checks("fail"), checks("warn")))
        return out

    return source


@dataclass(frozen=True)
class Sources:
    policy: Policy = field(default_factory=Policy)
    disk_window_s: float = 21600.0
    device_stale_after_s: float = 900.0
    kritis: KritisSource | None = None
    #: switch device id -> site (from the readiness sites); else the polling agent's site
    device_sites: Mapping[str, str] = field(default_factory=dict)
    runbook_link: Callable[[str], str] = lambda name: name


def _no_pause() -> None:
    pass


def observe(conn: Connection, now: float, sources: Sources, pause: Callable[[], None] = _no_pause) -> list[Observation]:
    """All observations at `now`. `pause` is called between two objects (a
    host, a device, a tenant): the collector's evaluation paces itself there
    (`periodic.Pacer`), so a fleet's worth of reading and parsing does not
    take the event loop's and the writer's turns."""
    out = _hosts(conn, now, sources, pause)
    out += _devices(conn, now, sources, pause)
    out += _coverage(conn, now, pause)
    out += _quarantine(conn)
    if sources.kritis is not None:
        out += _kritis(conn, now, sources)
    return out


def _add(
    out: list[Observation],
    common: Mapping[str, Any],
    rule: str,
    obj: str,
    value: float,
    extra: Mapping[str, str] | None = None,
    /,
    **params: object,
) -> None:
    out.append(
        Observation(
            rule=rule,
            object=obj,
            tenant=common["tenant"],
            value=float(value),
            site=common["site"],
            host=common["host"],
            host_id=common.get("host_id", ""),
            labels={**common["labels"], **(extra or {})},
            params={**common.get("params", {}), **params},
        )
    )


# -- hosts ---------------------------------------------------------------------------


#: hosts whose disk samples one query reads: about 30 sample rows each (every
#: step-th seq over the window), whole reports, so a few MB per round trip
DISK_CHUNK = 100


def _hosts(conn: Connection, now: float, sources: Sources, pause: Callable[[], None]) -> list[Observation]:
    """Every host's observations, ``arrivals.CHUNK`` hosts at a time: a query
    for their last reports' arrival times, then one per ``DISK_CHUNK`` of
    them for their disk samples. One round trip per host and query was
    20,000 per round at 10,000 hosts, up to 28 s on a busy PostgreSQL (issue 18)."""
    host_down = by_name("host_down")
    assert host_down is not None
    out: list[Observation] = []
    rows = conn.execute(
        "SELECT agent_id, tenant, hostname, role, site, last_seen, latest_ts, interval_s, gap_count, latest "
        "FROM hosts WHERE last_seen IS NOT NULL ORDER BY agent_id"
    ).fetchall()
    for chunk in arrivals.chunks(rows):
        out += _host_chunk(conn, chunk, now, sources, host_down, pause)
    return out


@dataclass
class _DiskHost:
    """A host whose disks wait for their history (the chunk's second query)."""

    agent_id: str
    step: int
    disks: list[dict[str, Any]]
    ob: Callable[..., None]


def _host_chunk(
    conn: Connection,
    rows: Sequence[tuple[Any, ...]],
    now: float,
    sources: Sources,
    host_down: Rule,
    pause: Callable[[], None],
) -> list[Observation]:
    sends = arrivals.last_reports(conn, [row[0] for row in rows])
    per_host: list[list[Observation]] = []  # kept per host: disk observations join their host's, in order
    waiting: list[_DiskHost] = []
    for agent_id, tenant, hostname, role, site, last_seen, latest_ts, interval_s, gaps, latest in rows:
        pause()
        out: list[Observation] = []
        per_host.append(out)
        # seconds between the host's sends, from the arrival times of its recent reports
        period = max(interval_s or 60.0, sends[agent_id], 1.0)
        silent = max(0.0, now - last_seen)
        labels = {"host": hostname, "site": site, "role": role, "agent_id": agent_id}

        ob = functools.partial(
            _add, out, {"tenant": tenant, "site": site, "host": hostname, "host_id": agent_id, "labels": labels}
        )

        missed = silent / period
        if role in host_down.roles:
            ob("host_down", agent_id, missed, silent_for=duration(silent), period_s=period)
        scope = Scope(tenant, site, hostname, agent_id)
        if missed >= sources.policy.resolve(host_down, scope).threshold:
            continue  # a silent host's last values are stale: its other alerts resolve, host_down speaks
        report = json.loads(latest) if latest else {}
        if latest_ts is not None:
            delay = last_seen - latest_ts
            ob("agent_clock_skew", agent_id, -delay)
            ob("agent_spool_backlog", agent_id, delay, delay=duration(delay))
        ob("agent_data_gaps", agent_id, gaps or 0)
        cpu = report.get("cpu")
        if cpu:
            ob("cpu_saturated", agent_id, cpu["percent"], cpu_count=cpu.get("count"), load1=report.get("load1", "?"))
        mem = report.get("memory")
        if mem and mem.get("total_bytes"):
            swap_total = mem.get("swap_total_bytes") or 0
            ob(
                "memory_pressure",
                agent_id,
                100.0 * mem["used_bytes"] / mem["total_bytes"],
                used_gib=mem["used_bytes"] / GIB,
                total_gib=mem["total_bytes"] / GIB,
                swap_pct=100.0 * (mem.get("swap_used_bytes") or 0) / swap_total if swap_total else 0.0,
            )
        disks = [d for d in report.get("disks") or () if d.get("total_bytes")]
        if disks:
            waiting.append(_DiskHost(agent_id, _step(sources.disk_window_s, interval_s or 60.0), disks, ob))
    for part in arrivals.chunks(waiting, DISK_CHUNK):
        histories = _disk_histories(conn, part, now, sources.disk_window_s, pause)
        for host in part:
            pause()  # the fill trends' arithmetic, a host at a time
            _disk_observations(host, histories.get(host.agent_id, {}), sources.disk_window_s)
    return [o for out in per_host for o in out]


def _disk_observations(host: _DiskHost, history: Mapping[str, list[tuple[float, float]]], window_s: float) -> None:
    for d in host.disks:
        mount, total, used = d["mount"], d["total_bytes"], d.get("used_bytes", 0)
        obj = f"{host.agent_id}:{mount}"
        used_pct = 100.0 * used / total
        host.ob("disk_full", obj, used_pct, {"mount": mount}, free_gib=(total - used) / GIB, size_gib=total / GIB)
        slope = _slope(history.get(mount, []), window_s)
        hours = NEVER_H
        if slope is not None and slope > 0:
            hours = max(0.0, (total - used) / slope / 3600.0)
        host.ob(
            "disk_will_fill",
            obj,
            hours,
            {"mount": mount},
            used_pct=used_pct,
            growth_gib_h=(slope or 0.0) * 3600 / GIB,
            window_h=window_s / 3600,
        )


class _Disk(msgspec.Struct):
    mount: str
    used_bytes: float = 0


class _Disks(msgspec.Struct):
    """Only what the fill trend needs of a stored report; the rest is skipped unparsed."""

    disks: list[_Disk] = msgspec.field(default_factory=list)


_disks_only = msgspec.json.Decoder(_Disks)


def _step(window_s: float, interval_s: float) -> int:
    """Every step-th seq of a host's samples: about 30 points over the window."""
    return max(1, round(window_s / max(interval_s, 1.0) / 30))


def _disk_histories(
    conn: Connection, hosts: Sequence[_DiskHost], now: float, window_s: float, pause: Callable[[], None]
) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """(ts, used bytes) per host and mount over the window, in ts order, every
    host's own step-th seq (its step travels with it in the VALUES list), in
    one query.

    Sorted here, per mount, not by the query: an ORDER BY sorted the rows
    with their whole reports, twice the query's time on SQLite. The sort is
    stable, so samples of one host that share a ts stay in the order the
    database returned them, as one query per host with ORDER BY ts left them
    (SQLite: its index's, arrival order)."""
    values = ", ".join(["(?, CAST(? AS INTEGER))"] * len(hosts))
    sql = (
        f"WITH w (agent_id, step) AS (VALUES {values}) "
        "SELECT s.agent_id, s.ts, s.data FROM w JOIN samples s ON s.agent_id = w.agent_id "
        "WHERE s.ts >= ? AND s.ts <= ? AND s.seq % w.step = 0"
    )
    params = [v for h in hosts for v in (h.agent_id, h.step)] + [now - window_s, now]
    out: dict[str, dict[str, list[tuple[float, float]]]] = {}
    mounts: dict[str, list[tuple[float, float]]] = {}
    current = None
    for agent_id, ts, data in conn.execute(sql, params):
        if agent_id != current:  # a nested loop over the VALUES list (both backends): a host's rows together
            pause()
            current = agent_id
            mounts = out.setdefault(agent_id, {})
        for d in _disks_only.decode(data).disks:
            mounts.setdefault(d.mount, []).append((ts, float(d.used_bytes)))
    for mounts in out.values():
        for points in mounts.values():
            points.sort(key=_ts)
    return out


def _ts(point: tuple[float, float]) -> float:
    return point[0]


def _slope(points: list[tuple[float, float]], window_s: float) -> float | None:
    """Least-squares growth in bytes per second; None without enough history."""
    if len(points) < 3 or points[-1][0] - points[0][0] < window_s / 4:
        return None
    n = len(points)
    mt = sum(t for t, _ in points) / n
    mu = sum(u for _, u in points) / n
    var = sum((t - mt) ** 2 for t, _ in points)
    if var <= 0:
        return None
    return sum((t - mt) * (u - mu) for t, u in points) / var


# -- SNMP devices ----------------------------------------------------------------------

#: Printer-MIB supply types and IF-MIB oper states as a German text names them (English: as the MIB does)
_SUPPLY_TYPES_DE = {
    "toner": "Toner",
    "wasteToner": "Resttonerbehälter",
    "ink": "Tinte",
    "inkCartridge": "Tintenpatrone",
    "wasteInk": "Resttintenbehälter",
    "opc": "Bildtrommel",
    "developer": "Entwickler",
    "fuser": "Fixiereinheit",
    "transferUnit": "Transfereinheit",
    "staples": "Heftklammern",
    "other": "sonstiges",
    "unknown": "unbekannt",
}
_OPER_STATUS_DE = {
    "down": "ausgefallen",
    "testing": "im Testbetrieb",
    "unknown": "in unbekanntem Zustand",
    "dormant": "ruhend",
    "notPresent": "nicht vorhanden",
    "lowerLayerDown": "ohne Verbindung (Leitung unterbrochen)",
    "up": "in Betrieb",
}


def _devices(conn: Connection, now: float, sources: Sources, pause: Callable[[], None]) -> list[Observation]:
    out: list[Observation] = []
    uplinks: dict[tuple[str, str], list[bool]] = {}
    rows = conn.execute(
        "SELECT d.device_id, d.tenant, d.kind, d.last_seen, d.ok, d.latest, coalesce(h.site, ''), "
        "coalesce(h.hostname, '') FROM devices d "
        "LEFT JOIN hosts h ON h.agent_id = d.agent_id ORDER BY d.tenant, d.device_id"
    ).fetchall()
    for device, tenant, kind, last_seen, ok, latest, poller_site, poller in rows:
        pause()
        if not ok or now - last_seen > sources.device_stale_after_s:
            continue  # no current values: nothing to judge (the devices view shows it unreachable or stale)
        reading = json.loads(latest)
        site = sources.device_sites.get(device, poller_site)
        name = (reading.get("sys") or {}).get("name") or device
        labels = {"device": device, "site": site, "kind": kind}
        obj = f"{tenant}/{device}"  # a device id is unique within its tenant only

        ob = functools.partial(
            _add,
            out,
            {"tenant": tenant, "site": site, "host": poller, "labels": labels, "params": {"device_name": name}},
        )

        printer = reading.get("printer")
        if kind == "printer" and printer:
            for s in printer.get("supplies") or ():
                if s.get("percent") is None:
                    continue
                supply = s.get("description") or s.get("type") or f"#{s['index']}"
                ob(
                    "printer_supply_low",
                    f"{obj}/{s['index']}",
                    s["percent"],
                    {"supply": supply},
                    supply_type=_SUPPLY_TYPES_DE.get(s.get("type") or "", s.get("type") or "?"),
                    supply_type_en=s.get("type") or "?",
                )
            errors = [PRINTER_ERRORS[e] for e in printer.get("detected_errors") or () if e in PRINTER_ERRORS]
            if printer.get("device_status") == "down":
                errors.append(("Gerät gestört", "device down"))
            errors += [
                (a.get("description") or a.get("code") or "?",) * 2
                for a in printer.get("alerts") or ()
                if a.get("severity") == "critical"
            ]
            ob(
                "printer_error",
                obj,
                len(errors),
                errors=", ".join(de for de, _ in errors) or "-",
                errors_en=", ".join(en for _, en in errors) or "-",
            )
        ups = reading.get("ups")
        if kind == "ups" and ups:
            on_battery = bool(ups.get("on_battery")) or ups.get("output_source") == "battery"
            runtime = ups.get("runtime_s")
            charge = ups.get("charge_pct")
            params = {
                "runtime": duration(runtime) if runtime is not None else "?",
                "charge": f"{charge:.0f} %" if charge is not None else "?",
                "on_battery_for": duration(ups.get("seconds_on_battery")),
            }
            ob("ups_on_battery", obj, 1.0 if on_battery else 0.0, **params)
            if runtime is not None:
                ob("ups_runtime_low", obj, runtime, **params)
        if kind == "switch":
            for i in reading.get("interfaces") or ():
                if not i.get("uplink") or i.get("admin_status") == "down":
                    continue  # administratively down: switched off on purpose
                ifname = i.get("name") or i.get("descr") or str(i["index"])
                up = i.get("oper_status") == "up"
                uplinks.setdefault((tenant, site), []).append(up)
                ob(
                    "uplink_down",
                    f"{obj}/{ifname}",
                    0.0 if up else 1.0,
                    {"interface": ifname},
                    alias=i.get("alias") or "-",
                    oper_status=_OPER_STATUS_DE.get(i.get("oper_status") or "unknown", i.get("oper_status")),
                    oper_status_en=i.get("oper_status") or "unknown",
                )
    for (tenant, site), states in sorted(uplinks.items()):
        out.append(
            Observation(
                rule="site_uplink_redundancy",
                object=f"{tenant}/{site}",
                tenant=tenant,
                value=float(sum(states)),
                site=site,
                labels={"site": site},
                params={"uplinks_total": len(states)},
            )
        )
    return out


# -- metering coverage -------------------------------------------------------------------


def _coverage(conn: Connection, now: float, pause: Callable[[], None]) -> list[Observation]:
    period = Period.containing(now)
    out = []
    for (tenant,) in conn.execute("SELECT name FROM tenants ORDER BY name").fetchall():
        pause()
        cov = _host_coverage(conn, tenant, period)
        if cov is None or cov.expected < MIN_EXPECTED:
            continue
        out.append(
            Observation(
                rule="metering_coverage_low",
                object=tenant,
                tenant=tenant,
                value=float(cov.ratio) * 100.0,
                params={"period": str(period), "arrived": cov.arrived, "expected": cov.expected},
            )
        )
    return out


def _host_coverage(conn: Connection, tenant: str, period: Period) -> Coverage | None:
    """`ledger.period_usage(...).coverage["host_hours"]`, without the rest of
    the period's usage: the whole usage of a running period (every host's
    ledger rows and names) cost a 10,000-host collector about 0.1 s per tenant
    each minute, in the worker thread beside the event loop. Closed: the
    frozen snapshot's; running: the coverage rows', summed as live usage sums
    them (tests/collector/alerting hold the two equal)."""
    row = conn.execute("SELECT snapshot FROM periods WHERE tenant = ? AND period = ?", (tenant, str(period))).fetchone()
    if row is not None:
        return ledger.period_usage(conn, tenant, period).coverage.get("host_hours")
    expected = arrived = 0
    for reports, min_seq, max_seq in conn.execute(
        "SELECT reports, min_seq, max_seq FROM coverage WHERE tenant = ? AND period = ?", (tenant, str(period))
    ):
        expected += max_seq - min_seq + 1
        arrived += reports
    return Coverage(expected=expected, arrived=arrived)


def _quarantine(conn: Connection) -> list[Observation]:
    """Pending quarantine entries per tenant (0 for a tenant without, so its alert resolves)."""
    held: dict[str, dict[str, set[str]]] = {}
    counts: dict[str, int] = {}
    for tenant, period, rule, n in conn.execute(
        "SELECT tenant, period, rule, count(*) FROM quarantine WHERE status = 'pending' GROUP BY tenant, period, rule"
    ).fetchall():
        counts[tenant] = counts.get(tenant, 0) + int(n)
        entry = held.setdefault(tenant, {"rules": set(), "periods": set()})
        entry["rules"].add(rule)
        entry["periods"].add(period)
    out = []
    for (tenant,) in conn.execute("SELECT name FROM tenants ORDER BY name").fetchall():
        entry = held.get(tenant, {"rules": set(), "periods": set()})
        out.append(
            Observation(
                rule="metering_anomaly",
                object=tenant,
                tenant=tenant,
                value=float(counts.get(tenant, 0)),
                params={
                    "rules": ", ".join(sorted(entry["rules"])) or "-",
                    "periods": ", ".join(sorted(entry["periods"])) or "-",
                },
            )
        )
    return out


# -- KRITIS readiness -----------------------------------------------------------------------


def _kritis(conn: Connection, now: float, sources: Sources) -> list[Observation]:
    assert sources.kritis is not None
    out = []
    for st in sources.kritis(conn, now):
        for rule, checks, active in (
            ("kritis_not_ready", st.failed, st.status == "not_ready"),
            ("kritis_degraded", st.warned, st.status == "degraded"),
        ):

            def listing(english: bool, checks: tuple[tuple[str, str, str, str | None], ...] = checks) -> str:
                parts = []
                for _check, de, en, runbook in checks:
                    name = en if english else de
                    parts.append(f"{name} (Runbook: {sources.runbook_link(runbook)})" if runbook else name)
                return "; ".join(parts) or "-"

            out.append(
                Observation(
                    rule=rule,
                    object=st.app,
                    tenant=st.tenant,
                    value=1.0 if active else 0.0,
                    labels={"app": st.app},
                    params={"checks": listing(False), "checks_en": listing(True), "failed": [c[0] for c in checks]},
                )
            )
    return out
