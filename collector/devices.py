"""SNMP device inventory: readings extracted at ingest, read API, ownership, state.

A device is named within its owner tenant: (tenant, device id). Its owner is
the tenant of the agent that polls it, unless the collector's
``[devices.assign."<id>"]`` gives that id to a tenant for the pollers it
names (synced into ``device_assignments`` at start-up). A reading of an
assigned id from any other agent is refused: counted per agent and device
(``device_refusals``), logged once a day at most, and named in the batch's
ack. So no tenant's agent can create, update or bill another tenant's
device, nor block it by reporting its id first.

State of a device: ``up`` (latest reading ok), ``unreachable`` (latest poll
failed), ``stale`` (no reading for ``devices.stale_after_s``: the poller is
silent).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from agent.wire import Report, SnmpReading

from .admin import Principal, visible_tenant
from .config import DeviceAssignment
from .db import Connection, dialect
from .errors import ConflictError, NotFoundError
from .periodic import no_pause

__all__ = [
    "Assignment",
    "DeviceDetail",
    "DeviceFilter",
    "DeviceList",
    "DeviceSummary",
    "Ingested",
    "ReadingList",
    "device_readings",
    "get_device",
    "ingest_readings",
    "list_devices",
    "owner_of",
    "prune_readings",
    "sync_assignments",
]

log = logging.getLogger("leitstand.collector.devices")

_encoder = msgspec.json.Encoder()
STATES = ("up", "unreachable", "stale")
KINDS = ("printer", "ups", "switch", "generic")
#: a refusal that goes on is logged again after this long (the counter keeps counting)
REFUSAL_LOG_EVERY_S = 86400.0


# -- API shapes (they feed the OpenAPI document) -----------------------------------


class DeviceSummary(msgspec.Struct):
    id: str
    tenant: str
    kind: str
    state: str
    agent_id: str
    address: str
    name: str | None
    descr: str | None
    first_seen: float
    last_seen: float
    last_ts: float
    last_ok_ts: float | None
    error: str
    readings_total: int
    failures_total: int


class DeviceDetail(DeviceSummary):
    reading: dict[str, Any]


class DeviceList(msgspec.Struct):
    devices: list[DeviceSummary]
    count: int


class ReadingList(msgspec.Struct):
    readings: list[dict[str, Any]]
    count: int


# -- ownership (pure) -------------------------------------------------------------


@dataclass(frozen=True)
class Assignment:
    """A device id the config gives to ``tenant`` for readings from ``pollers`` only."""

    tenant: str
    pollers: frozenset[str]


def owner_of(device: str, agent_id: str, agent_tenant: str, assigned: Mapping[str, Assignment]) -> str | None:
    """The tenant a reading of ``device`` from ``agent_id`` belongs to, or None:
    refused, because the id is assigned and this agent is not a named poller."""
    assignment = assigned.get(device)
    if assignment is None:
        return agent_tenant
    return assignment.tenant if agent_id in assignment.pollers else None


def refusal_line(device: str) -> str:
    # The ack goes to the reporting agent: it names the device, not the tenant
    # it is assigned to (that is the operator's to read, in the log).
    return f"device {device}: assigned by the collector's config to other pollers; reading refused"


# -- writing (inside the writer's ingest transaction) ------------------------------


def sync_assignments(conn: Connection, assign: Mapping[str, DeviceAssignment]) -> None:
    """Make ``device_assignments`` equal the config's ``[devices.assign]`` tables.

    A tenant or poller the collector does not know is only warned about: the
    tenant may be created, the agent enrolled, after the start; until then
    the device's readings are refused, visibly."""
    rows = sorted((device, poller, a.tenant) for device, a in assign.items() for poller in set(a.pollers))
    with conn:
        conn.execute("DELETE FROM device_assignments")
        conn.executemany("INSERT INTO device_assignments (device_id, agent_id, tenant) VALUES (?, ?, ?)", rows)
        unknown = conn.execute(
            "SELECT a.device_id, 'tenant', a.tenant FROM device_assignments a "
            "WHERE NOT EXISTS (SELECT 1 FROM tenants t WHERE t.name = a.tenant) "
            "UNION SELECT a.device_id, 'poller', a.agent_id FROM device_assignments a "
            "WHERE NOT EXISTS (SELECT 1 FROM hosts h WHERE h.agent_id = a.agent_id) ORDER BY 1, 2, 3"
        ).fetchall()
    for device, what, name in unknown:
        log.warning("devices.assign.%s: %s %r is not known to the collector (yet)", device, what, name)


@dataclass
class Ingested:
    """What ``ingest_readings`` did: (owner tenant, reading) for metering to
    book, oldest first, and one line per refused device id for the ack."""

    accepted: list[tuple[str, SnmpReading]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def _assignments(conn: Connection, ids: list[str]) -> dict[str, Assignment]:
    tenants: dict[str, str] = {}
    pollers: dict[str, set[str]] = {}
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        for device, agent, tenant in conn.execute(
            "SELECT device_id, agent_id, tenant FROM device_assignments "
            f"WHERE device_id IN ({','.join('?' * len(part))})",
            part,
        ).fetchall():
            tenants[device] = tenant
            pollers.setdefault(device, set()).add(agent)
    return {device: Assignment(tenant, frozenset(pollers[device])) for device, tenant in tenants.items()}


def ingest_readings(
    conn: Connection, tenant: str, agent_id: str, reports: Iterable[Report], received_at: float
) -> Ingested:
    """Store the SNMP readings of newly stored reports under their owner tenant.

    Called by ``store.ingest`` with the reports it stored (never resends), in
    the same transaction. A reading of a device id assigned to pollers other
    than this agent is refused (counted, logged, and named in the result);
    the rest of the report is stored all the same.
    """
    readings = [(report, r) for report in reports for r in report.snmp]
    result = Ingested()
    if not readings:
        return result
    assigned = _assignments(conn, sorted({r.device for _, r in readings}))
    rows_out = []
    refused: dict[str, tuple[str, int]] = {}
    for report, reading in sorted(readings, key=lambda pair: pair[1].ts or pair[0].ts):
        owner = owner_of(reading.device, agent_id, tenant, assigned)
        if owner is None:
            _, n = refused.get(reading.device, ("", 0))
            refused[reading.device] = (assigned[reading.device].tenant, n + 1)
            continue
        ts = reading.ts or report.ts
        data = _encoder.encode(reading).decode()
        rows_out.append((owner, reading.device, ts, agent_id, received_at, int(reading.ok), data))
        _upsert(conn, owner, agent_id, reading, ts, received_at, data)
        # metering pairs readings by time: hand it the time stored here
        result.accepted.append((owner, msgspec.structs.replace(reading, ts=ts)))
    if rows_out:
        conn.executemany(
            "INSERT INTO device_readings (tenant, device_id, ts, agent_id, received_at, ok, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            rows_out,
        )
    if refused:
        _record_refusals(conn, tenant, agent_id, refused, received_at)
        result.refused = [refusal_line(device) for device in sorted(refused)]
    return result


def _record_refusals(
    conn: Connection, tenant: str, agent_id: str, refused: Mapping[str, tuple[str, int]], now: float
) -> None:
    """Count refused readings per agent and device; log a refusal when it is
    new, and again once a day while it goes on (a poller misconfigured for
    weeks must not flood the log, nor be forgotten)."""
    devices = sorted(refused)
    logged: dict[str, float] = {}
    for start in range(0, len(devices), 500):
        part = devices[start : start + 500]
        logged.update(
            conn.execute(
                "SELECT device_id, logged_at FROM device_refusals WHERE agent_id = ? "
                f"AND device_id IN ({','.join('?' * len(part))})",
                [agent_id, *part],
            ).fetchall()
        )
    rows = []
    for device in devices:
        owner, n = refused[device]
        last = logged.get(device)
        log_now = last is None or now - last >= REFUSAL_LOG_EVERY_S
        if log_now:
            log.warning(
                "agent %s (tenant %s) reported device %r, which [devices.assign] gives to tenant %s for other "
                "pollers: %d reading(s) refused",
                agent_id,
                tenant,
                device,
                owner,
                n,
            )
        rows.append((agent_id, device, tenant, owner, n, now, now, now if log_now else last))
    conn.executemany(
        "INSERT INTO device_refusals AS r (agent_id, device_id, tenant, owner, refused_total, first_at, last_at, "
        "logged_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (agent_id, device_id) DO UPDATE SET "
        "refused_total = r.refused_total + excluded.refused_total, last_at = excluded.last_at, "
        "logged_at = excluded.logged_at, tenant = excluded.tenant, owner = excluded.owner",
        rows,
    )


# A failed poll keeps the last good values on show, marked as failed.
_MARK_FAILED = {
    "sqlite": "json_set(d.latest, '$.ok', json('false'), '$.error', :error)",
    "postgres": "(CAST(d.latest AS jsonb) || jsonb_build_object('ok', false, 'error', CAST(:error AS TEXT)))::text",
}


def _upsert(
    conn: Connection,
    owner: str,
    agent_id: str,
    reading: SnmpReading,
    ts: float,
    received_at: float,
    data: str,
) -> None:
    ok = int(reading.ok)
    conn.execute(
        "INSERT INTO devices AS d (tenant, device_id, agent_id, kind, address, first_seen, last_seen, last_ts, "
        "last_ok_ts, ok, error, readings_total, failures_total, latest) "
        "VALUES (:tenant, :id, :agent, :kind, :address, :seen, :seen, :ts, :ok_ts, :ok, :error, 1, :fail, :data) "
        "ON CONFLICT (tenant, device_id) DO UPDATE SET "
        # the existing row's columns are qualified: PostgreSQL finds a bare name ambiguous here
        " readings_total = d.readings_total + 1, failures_total = d.failures_total + :fail, last_seen = :seen,"
        " last_ok_ts = CASE WHEN :ok = 1 AND (d.last_ok_ts IS NULL OR :ts > d.last_ok_ts) THEN :ts"
        "                   ELSE d.last_ok_ts END,"
        # only a newer reading replaces the latest one (a late resend must not turn back time)
        " agent_id = CASE WHEN :ts >= d.last_ts THEN :agent ELSE d.agent_id END,"
        " kind = CASE WHEN :ts >= d.last_ts AND (:ok = 1 OR d.kind = 'generic') THEN :kind ELSE d.kind END,"
        " address = CASE WHEN :ts >= d.last_ts THEN :address ELSE d.address END,"
        " ok = CASE WHEN :ts >= d.last_ts THEN :ok ELSE d.ok END,"
        " error = CASE WHEN :ts >= d.last_ts THEN :error ELSE d.error END,"
        " latest = CASE WHEN :ts >= d.last_ts AND (:ok = 1 OR d.ok = 0) THEN :data"
        f"               WHEN :ts >= d.last_ts THEN {_MARK_FAILED[dialect(conn)]}"
        "               ELSE d.latest END,"
        " last_ts = CASE WHEN :ts > d.last_ts THEN :ts ELSE d.last_ts END",
        {
            "id": reading.device,
            "tenant": owner,
            "agent": agent_id,
            "kind": reading.kind,
            "address": reading.address,
            "seen": received_at,
            "ts": ts,
            "ok_ts": ts if reading.ok else None,
            "ok": ok,
            "error": reading.error,
            "fail": 1 - ok,
            "data": data,
        },
    )


def prune_readings(conn: Connection, *, before: float, chunk: int = 10000, pause: Callable[[], None] = no_pause) -> int:
    """Delete device readings received before ``before`` (raw-sample retention),
    calling `pause` before each chunk (as `store.prune_samples`)."""
    deleted = 0
    while True:
        pause()
        cur = conn.execute(
            "DELETE FROM device_readings WHERE (tenant, device_id, ts, agent_id) IN "
            "(SELECT tenant, device_id, ts, agent_id FROM device_readings WHERE received_at < ? LIMIT ?)",
            (before, chunk),
        )
        deleted += cur.rowcount
        if cur.rowcount < chunk:
            return deleted


# -- reading ----------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceFilter:
    tenant: str | None = None
    kind: str | None = None
    state: str | None = None
    agent_id: str | None = None


_COLUMNS = (
    "d.device_id, d.tenant, d.kind, d.agent_id, d.address, d.first_seen, d.last_seen, d.last_ts, d.last_ok_ts, "
    "d.ok, d.error, d.readings_total, d.failures_total, d.latest"
)


def _state(ok: int, last_seen: float, now: float, stale_after_s: float) -> str:
    if now - last_seen > stale_after_s:
        return "stale"
    return "up" if ok else "unreachable"


def _summary(row: tuple[Any, ...], now: float, stale_after_s: float) -> tuple[dict[str, Any], dict[str, Any]]:
    (dev, tenant, kind, agent, address, first, last_seen, last_ts, last_ok, ok, error, total, fails, latest) = row
    reading = json.loads(latest)
    sys = reading.get("sys") or {}
    return {
        "id": dev,
        "tenant": tenant,
        "kind": kind,
        "state": _state(ok, last_seen, now, stale_after_s),
        "agent_id": agent,
        "address": address,
        "name": sys.get("name"),
        "descr": sys.get("descr"),
        "first_seen": first,
        "last_seen": last_seen,
        "last_ts": last_ts,
        "last_ok_ts": last_ok,
        "error": error,
        "readings_total": total,
        "failures_total": fails,
    }, reading


def list_devices(
    conn: Connection, principal: Principal, flt: DeviceFilter, *, now: float, stale_after_s: float
) -> list[dict[str, Any]]:
    tenant = visible_tenant(principal, flt.tenant, "devices")
    where: list[str] = []
    args: list[object] = []
    for column, value in (("d.tenant", tenant), ("d.kind", flt.kind), ("d.agent_id", flt.agent_id)):
        if value:
            where.append(f"{column} = ?")
            args.append(value)
    if flt.state == "stale":
        where.append("d.last_seen < ?")
        args.append(now - stale_after_s)
    elif flt.state in ("up", "unreachable"):
        where.append("d.last_seen >= ? AND d.ok = ?")
        args += [now - stale_after_s, int(flt.state == "up")]
    sql = f"SELECT {_COLUMNS} FROM devices d"
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = conn.execute(sql + " ORDER BY d.tenant, d.device_id", args).fetchall()
    return [_summary(row, now, stale_after_s)[0] for row in rows]


def _find(conn: Connection, principal: Principal, device_id: str, tenant: str | None) -> tuple[Any, ...]:
    """The row of one device. A tenant token looks within its tenant only, so
    another tenant's device is "not found" (its existence is not ours to tell);
    an admin names the tenant when several have a device of that id."""
    visible = visible_tenant(principal, tenant, "devices")
    sql = f"SELECT {_COLUMNS} FROM devices d WHERE d.device_id = ?"
    if visible is not None:
        row = conn.execute(sql + " AND d.tenant = ?", (device_id, visible)).fetchone()
        if row is None:
            raise NotFoundError(f"no device {device_id!r}")
        return tuple(row)
    rows = conn.execute(sql + " ORDER BY d.tenant LIMIT 11", (device_id,)).fetchall()
    if not rows:
        raise NotFoundError(f"no device {device_id!r}")
    if len(rows) > 1:
        tenants = [str(r[1]) for r in rows[:10]]
        raise ConflictError(
            f"device id {device_id!r} exists in several tenants: add ?tenant=",
            [f"tenants: {', '.join(tenants)}{', ...' if len(rows) > 10 else ''}"],
        )
    return tuple(rows[0])


def get_device(
    conn: Connection,
    principal: Principal,
    device_id: str,
    *,
    now: float,
    stale_after_s: float,
    tenant: str | None = None,
) -> dict[str, Any]:
    row = _find(conn, principal, device_id, tenant)
    summary, reading = _summary(row, now, stale_after_s)
    summary["reading"] = reading
    return summary


def device_readings(
    conn: Connection,
    principal: Principal,
    device_id: str,
    *,
    since: float,
    until: float,
    limit: int,
    tenant: str | None = None,
) -> list[dict[str, Any]]:
    owner = _find(conn, principal, device_id, tenant)[1]  # access check, and whose device it is
    rows = conn.execute(
        "SELECT data FROM device_readings WHERE tenant = ? AND device_id = ? AND ts >= ? AND ts <= ? "
        "ORDER BY ts LIMIT ?",
        (owner, device_id, since, until, limit),
    ).fetchall()
    return [json.loads(data) for (data,) in rows]
