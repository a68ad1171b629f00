"""SNMP device inventory: readings extracted at ingest, read API, ownership, state.

A device belongs to the tenant of the agent that polls it unless the
collector's ``[devices] assign`` table says otherwise (synced into
``device_assignments`` at start-up; the ``device_owners`` view resolves it).
Only agents of the tenant that first reported a device id may report it
again: another tenant's agent cannot write into a device's history by
choosing its id (its readings stay in its raw samples, nothing more).

State of a device: ``up`` (latest reading ok), ``unreachable`` (latest poll
failed), ``stale`` (no reading for ``devices.stale_after_s``: the poller is
silent).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from agent.wire import Report, SnmpReading

from . import admin
from .admin import Principal, visible_tenant
from .db import Connection, dialect
from .errors import NotFoundError, ValidationError
from .http import query_param

__all__ = [
    "DeviceDetail",
    "DeviceFilter",
    "DeviceList",
    "DeviceSummary",
    "ReadingList",
    "device_readings",
    "get_device",
    "get_device_handler",
    "get_device_readings_handler",
    "ingest_readings",
    "list_devices",
    "list_devices_handler",
    "prune_readings",
    "sync_assignments",
]

log = logging.getLogger("leitstand.collector.devices")

_encoder = msgspec.json.Encoder()
STATES = ("up", "unreachable", "stale")
KINDS = ("printer", "ups", "switch", "generic")


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


# -- writing (inside the writer's ingest transaction) ------------------------------


def sync_assignments(conn: Connection, assign: Mapping[str, str]) -> None:
    """Make ``device_assignments`` equal the config's ``[devices] assign`` table."""
    with conn:
        conn.execute("DELETE FROM device_assignments")
        conn.executemany("INSERT INTO device_assignments (device_id, tenant) VALUES (?, ?)", sorted(assign.items()))


def ingest_readings(
    conn: Connection, tenant: str, agent_id: str, reports: Iterable[Report], received_at: float
) -> list[tuple[str, SnmpReading]]:
    """Store the SNMP readings of newly stored reports; returns (owner tenant, reading)
    for each reading accepted, oldest first, for metering to book.

    Called by ``store.ingest`` with the reports it stored (never resends), in
    the same transaction. A reading of a device id that another tenant's
    agent reported first is skipped and logged.
    """
    readings = [(report, r) for report in reports for r in report.snmp]
    if not readings:
        return []
    ids = sorted({r.device for _, r in readings})
    known: dict[str, tuple[str, str]] = {}
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        rows = conn.execute(
            "SELECT d.device_id, d.poller_tenant, o.tenant FROM devices d JOIN device_owners o USING (device_id) "
            f"WHERE d.device_id IN ({','.join('?' * len(part))})",
            part,
        ).fetchall()
        known.update({row[0]: (row[1], row[2]) for row in rows})
    assigned = dict(
        conn.execute(
            f"SELECT device_id, tenant FROM device_assignments WHERE device_id IN ({','.join('?' * len(ids))})", ids
        ).fetchall()
    )
    accepted: list[tuple[str, SnmpReading]] = []
    rows_out = []
    rejected: set[str] = set()
    for report, reading in sorted(readings, key=lambda pair: pair[1].ts or pair[0].ts):
        poller_tenant, owner = known.get(reading.device, (tenant, assigned.get(reading.device, tenant)))
        if poller_tenant != tenant:
            rejected.add(reading.device)
            continue
        ts = reading.ts or report.ts
        data = _encoder.encode(reading).decode()
        rows_out.append((reading.device, ts, agent_id, received_at, int(reading.ok), data))
        _upsert(conn, tenant, agent_id, reading, ts, received_at, data)
        known[reading.device] = (tenant, owner)
        # metering pairs readings by time: hand it the time stored here
        accepted.append((owner, msgspec.structs.replace(reading, ts=ts)))
    if rows_out:
        conn.executemany(
            "INSERT INTO device_readings (device_id, ts, agent_id, received_at, ok, data) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            rows_out,
        )
    for device in sorted(rejected):
        log.warning(
            "agent %s (tenant %s) reported device %r, which an agent of another tenant polls: reading not stored",
            agent_id,
            tenant,
            device,
        )
    return accepted


# A failed poll keeps the last good values on show, marked as failed.
_MARK_FAILED = {
    "sqlite": "json_set(d.latest, '$.ok', json('false'), '$.error', :error)",
    "postgres": "(CAST(d.latest AS jsonb) || jsonb_build_object('ok', false, 'error', CAST(:error AS TEXT)))::text",
}


def _upsert(
    conn: Connection,
    tenant: str,
    agent_id: str,
    reading: SnmpReading,
    ts: float,
    received_at: float,
    data: str,
) -> None:
    ok = int(reading.ok)
    conn.execute(
        "INSERT INTO devices AS d (device_id, poller_tenant, agent_id, kind, address, first_seen, last_seen, last_ts, "
        "last_ok_ts, ok, error, readings_total, failures_total, latest) "
        "VALUES (:id, :tenant, :agent, :kind, :address, :seen, :seen, :ts, :ok_ts, :ok, :error, 1, :fail, :data) "
        "ON CONFLICT (device_id) DO UPDATE SET "
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
            "tenant": tenant,
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


def prune_readings(conn: Connection, *, before: float, chunk: int = 10000) -> int:
    """Delete device readings received before ``before`` (raw-sample retention)."""
    deleted = 0
    while True:
        cur = conn.execute(
            "DELETE FROM device_readings WHERE (device_id, ts, agent_id) IN "
            "(SELECT device_id, ts, agent_id FROM device_readings WHERE received_at < ? LIMIT ?)",
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
    "d.device_id, o.tenant, d.kind, d.agent_id, d.address, d.first_seen, d.last_seen, d.last_ts, d.last_ok_ts, "
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
    for column, value in (("o.tenant", tenant), ("d.kind", flt.kind), ("d.agent_id", flt.agent_id)):
        if value:
            where.append(f"{column} = ?")
            args.append(value)
    if flt.state == "stale":
        where.append("d.last_seen < ?")
        args.append(now - stale_after_s)
    elif flt.state in ("up", "unreachable"):
        where.append("d.last_seen >= ? AND d.ok = ?")
        args += [now - stale_after_s, int(flt.state == "up")]
    sql = f"SELECT {_COLUMNS} FROM devices d JOIN device_owners o USING (device_id)"
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = conn.execute(sql + " ORDER BY o.tenant, d.device_id", args).fetchall()
    return [_summary(row, now, stale_after_s)[0] for row in rows]


def get_device(
    conn: Connection, principal: Principal, device_id: str, *, now: float, stale_after_s: float
) -> dict[str, Any]:
    tenant = visible_tenant(principal, None, "devices")
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM devices d JOIN device_owners o USING (device_id) WHERE d.device_id = ?",
        (device_id,),
    ).fetchone()
    # Another tenant's device is "not found": its existence is not ours to tell.
    if row is None or (tenant is not None and row[1] != tenant):
        raise NotFoundError(f"no device {device_id!r}")
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
    now: float,
    stale_after_s: float,
) -> list[dict[str, Any]]:
    get_device(conn, principal, device_id, now=now, stale_after_s=stale_after_s)  # access check
    rows = conn.execute(
        "SELECT data FROM device_readings WHERE device_id = ? AND ts >= ? AND ts <= ? ORDER BY ts LIMIT ?",
        (device_id, since, until, limit),
    ).fetchall()
    return [json.loads(data) for (data,) in rows]


# -- HTTP handlers (routes in collector/app.py) ----------------------------------


def _json(body: object) -> Response:
    return Response(_encoder.encode(body), media_type="application/json")


def _context(request: Request) -> tuple[Any, Principal, float, float]:
    collector = request.app.state.collector
    principal = admin.authenticate(collector.reader, request.headers.get("authorization"))
    return collector, principal, collector.clock(), collector.config.devices.stale_after_s


async def list_devices_handler(request: Request) -> Response:
    collector, principal, now, stale = _context(request)
    flt = DeviceFilter(
        tenant=query_param(request, "tenant", str),
        kind=query_param(request, "kind", str, choices=KINDS),
        state=query_param(request, "state", str, choices=STATES),
        agent_id=query_param(request, "agent_id", str),
    )
    devices = list_devices(collector.reader, principal, flt, now=now, stale_after_s=stale)
    return _json({"devices": devices, "count": len(devices)})


async def get_device_handler(request: Request) -> Response:
    collector, principal, now, stale = _context(request)
    device = get_device(collector.reader, principal, request.path_params["device_id"], now=now, stale_after_s=stale)
    return _json(device)


async def get_device_readings_handler(request: Request) -> Response:
    collector, principal, now, stale = _context(request)
    until = query_param(request, "until", float, now)
    since = query_param(request, "since", float, until - 86400.0)
    limit = query_param(request, "limit", int, 1000)
    if not 1 <= limit <= 10000:
        raise ValidationError("query parameter 'limit' must be between 1 and 10000")
    if since > until:
        raise ValidationError("'since' lies after 'until'")
    readings = device_readings(
        collector.reader,
        principal,
        request.path_params["device_id"],
        since=since,
        until=until,
        limit=limit,
        now=now,
        stale_after_s=stale,
    )
    return _json({"readings": readings, "count": len(readings)})
