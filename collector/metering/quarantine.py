"""Quarantine storage: implausible quantities held for review, and inventory
events, each keyed by the pair of metering points that produced it.

The ledger's `Booker` calls `hold` for every anomaly of an outcome it books
and `supersede` for every anomaly of an outcome that re-pairing negates, so a
late point moves the quarantine exactly as it moves the ledger. Review
(release, dismiss) is in `review.py`.
"""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Sequence

from ..db import Connection
from .model import Period, QuarantineItem
from .plausibility import Anomaly, Event
from .streams import StreamKind

__all__ = [
    "LISTED",
    "STATUSES",
    "drop_event",
    "hold",
    "items",
    "pending",
    "period_of_end",
    "record_event",
    "supersede",
]

#: every status a quarantined quantity can have; `superseded`: re-pairing a
#: late point replaced the pair of points it came from (never shown)
STATUSES = ("pending", "released", "dismissed", "superseded")
#: what listings and usage show
LISTED = ("pending", "released", "dismissed")

_COLUMNS = (
    "q.id, q.tenant, q.period, q.subject_kind, q.subject, q.agent_id, q.rule, q.meter, q.dim, q.quantity, "
    "q.start_ts, q.end_ts, q.evidence, q.status"
)


def period_of_end(end: float) -> str:
    """The Berlin month of a span's end. A span is (start, end]: an end exactly
    on an hour boundary belongs to the hour it closes, as in split_by_hour."""
    hour = math.floor(end / 3600) * 3600
    if hour == end:
        hour -= 3600
    return str(Period.containing(hour))


def hold(
    conn: Connection,
    *,
    tenant: str,
    stream: str,
    subject_kind: StreamKind,
    subject: str,
    agent_id: str,
    anomaly: Anomaly,
    now: float,
) -> str:
    """Put an anomaly into quarantine (pending); returns its id."""
    item_id = secrets.token_hex(6)
    conn.execute(
        "INSERT INTO quarantine (id, tenant, period, stream, subject_kind, subject, agent_id, rule, meter, dim, "
        "quantity, start_ts, end_ts, evidence, raw, status, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
        (
            item_id,
            tenant,
            period_of_end(anomaly.end),
            stream,
            subject_kind,
            subject,
            agent_id,
            anomaly.rule,
            anomaly.meter,
            anomaly.dim,
            str(anomaly.scaled),
            anomaly.start,
            anomaly.end,
            anomaly.evidence,
            json.dumps(anomaly.raw, sort_keys=True, default=str),
            now,
        ),
    )
    return item_id


def supersede(conn: Connection, *, stream: str, anomaly: Anomaly, now: float) -> QuarantineItem | None:
    """Mark the held entry of a negated pair superseded. Returns it when it had
    been released, so the caller reverses its booking; a pending or dismissed
    entry booked nothing, and an unknown one (held before quarantine existed)
    is nothing to undo."""
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM quarantine q WHERE q.stream = ? AND q.start_ts = ? AND q.end_ts = ? "
        "AND q.rule = ? AND q.meter = ? AND q.dim = ? AND q.quantity = ? AND q.status != 'superseded' "
        "ORDER BY q.created_at LIMIT 1",
        (stream, anomaly.start, anomaly.end, anomaly.rule, anomaly.meter, anomaly.dim, str(anomaly.scaled)),
    ).fetchone()
    if row is None:
        return None
    item = _item(row, {})
    conn.execute(
        "UPDATE quarantine SET status = 'superseded', reason = coalesce(reason || '; ', '') || ?, "
        "reviewed_at = coalesce(reviewed_at, ?) WHERE id = ?",
        (f"superseded by a late reading (was {item.status})", now, item.id),
    )
    return item if item.status == "released" else None


def record_event(
    conn: Connection,
    *,
    tenant: str,
    stream: str,
    subject_kind: StreamKind,
    subject: str,
    agent_id: str,
    event: Event,
    now: float,
) -> None:
    conn.execute(
        "INSERT INTO inventory_events (tenant, stream, subject_kind, subject, agent_id, kind, start_ts, end_ts, "
        "evidence, raw, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            tenant,
            stream,
            subject_kind,
            subject,
            agent_id,
            event.kind,
            event.start,
            event.end,
            event.evidence,
            json.dumps(event.raw, sort_keys=True, default=str),
            now,
        ),
    )


def drop_event(conn: Connection, *, stream: str, event: Event) -> None:
    """An event of a pair that re-pairing replaced no longer happened there."""
    conn.execute(
        "DELETE FROM inventory_events WHERE id IN (SELECT id FROM inventory_events WHERE stream = ? "
        "AND start_ts = ? AND end_ts = ? AND kind = ? ORDER BY id LIMIT 1)",
        (stream, event.start, event.end, event.kind),
    )


def items(
    conn: Connection,
    *,
    tenant: str | None = None,
    period: str | None = None,
    statuses: Sequence[str] = LISTED,
    item_id: str | None = None,
) -> list[tuple[str, QuarantineItem]]:
    """(tenant, item) pairs, oldest span first, with host and device names resolved."""
    where = [f"q.status IN ({', '.join('?' * len(statuses))})"]
    args: list[object] = list(statuses)
    for column, value in (("q.tenant", tenant), ("q.period", period), ("q.id", item_id)):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    rows = conn.execute(
        f"SELECT {_COLUMNS}, h.hostname, d.latest FROM quarantine q "
        "LEFT JOIN hosts h ON q.subject_kind = 'host' AND h.agent_id = q.subject "
        "LEFT JOIN devices d ON q.subject_kind = 'device' AND d.tenant = q.tenant AND d.device_id = q.subject "
        f"WHERE {' AND '.join(where)} ORDER BY q.tenant, q.start_ts, q.end_ts, q.id",
        args,
    ).fetchall()
    out = []
    for row in rows:
        name = row[-2] if row[-2] else _device_name(row[-1])
        out.append((str(row[1]), _item(row[:-2], {row[4]: name} if name else {})))
    return out


def _device_name(latest: object) -> str | None:
    """A device's sysName from its latest reading, as the device views show it."""
    if not isinstance(latest, str):
        return None
    try:
        reading = json.loads(latest)
    except ValueError:
        return None
    name = (reading.get("sys") or {}).get("name") if isinstance(reading, dict) else None
    return name if isinstance(name, str) and name else None


def pending(conn: Connection, tenant: str, through_period: str) -> list[str]:
    """Ids of a tenant's pending entries for this period or an earlier one (a
    late anomaly of a closed month would be booked into this one if released)."""
    return [
        i
        for (i,) in conn.execute(
            "SELECT id FROM quarantine WHERE tenant = ? AND status = 'pending' AND period <= ? ORDER BY period, id",
            (tenant, through_period),
        )
    ]


def _item(row: Sequence[object], names: dict[object, object]) -> QuarantineItem:
    (item_id, _tenant, period, kind, subject, agent_id, rule, meter, dim, quantity, start, end, evidence, status) = row
    return QuarantineItem(
        id=str(item_id),
        rule=str(rule),
        meter=str(meter),
        dim=str(dim),
        subject_kind="device" if kind == "device" else "host",  # as `hold` stored it
        subject=str(subject),
        subject_name=str(names.get(subject, subject)),
        agent_id=str(agent_id),
        scaled=int(str(quantity)),
        start=float(start),  # type: ignore[arg-type]
        end=float(end),  # type: ignore[arg-type]
        evidence=str(evidence),
        status=str(status),
        period=str(period),
    )
