"""Alerts, silences and the notification outbox in SQLite (migration m006_alerts).

Write functions take the writer's connection (the API) or the CLI's own;
read functions take any connection.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..db import Connection
from .model import Ack, Alert, Book, Key, Matcher, Silence
from .notify import Notification

__all__ = [
    "AlertFilter",
    "Delivery",
    "active_silences",
    "add_silence",
    "count_open_silences",
    "due_notifications",
    "end_silence",
    "get_alert",
    "get_silence",
    "list_alerts",
    "list_silences",
    "load_book",
    "prune",
    "record_deliveries",
    "save",
    "set_ack",
]

_COLUMNS = (
    "id, rule, object, tenant, severity, state, labels, params, value, threshold, started_at, updated_at, "
    "fired_at, resolved_at, clear_since, flapping, notified, ack_by, ack_at, ack_comment"
)


def _alert(row: Sequence[Any]) -> Alert:
    (id_, rule, obj, tenant, severity, state, labels, params, value, threshold, started, updated, fired, resolved,
     clear, flapping, notified, ack_by, ack_at, ack_comment) = row  # fmt: skip
    return Alert(
        id=id_,
        rule=rule,
        object=obj,
        tenant=tenant,
        severity=severity,
        state=state,
        labels=json.loads(labels),
        params=json.loads(params),
        value=value if value is not None else float("nan"),
        threshold=threshold if threshold is not None else float("nan"),
        started_at=started,
        updated_at=updated,
        fired_at=fired,
        resolved_at=resolved,
        clear_since=clear,
        flapping=bool(flapping),
        notified=bool(notified),
        ack=Ack(ack_by, ack_at, ack_comment or "") if ack_by is not None else None,
    )


def _finite(x: float) -> float | None:
    return x if x == x and abs(x) != float("inf") else None


def load_book(conn: Connection, now: float, flap_window_s: float) -> Book:
    open_ = {a.key: a for a in map(_alert, conn.execute(f"SELECT {_COLUMNS} FROM alerts WHERE state != 'resolved'"))}
    fires: dict[Key, list[float]] = {}
    for rule, obj, fired in conn.execute(
        "SELECT rule, object, fired_at FROM alerts WHERE fired_at IS NOT NULL AND fired_at > ? ORDER BY fired_at",
        (now - flap_window_s,),
    ):
        fires.setdefault((rule, obj), []).append(fired)
    return Book(open=open_, recent_fires={k: tuple(v) for k, v in fires.items()})


def save(
    conn: Connection,
    alerts: Iterable[Alert],
    dropped: Iterable[str],
    notifications: Iterable[tuple[Notification, dict[str, Any]]],
    now: float,
) -> None:
    """Store the evaluated episodes, forget dropped ones, queue notifications
    (each with the alert document it carries). Runs in the same job that
    loaded the book, so an acknowledgement made meanwhile cannot be lost."""
    conn.executemany("DELETE FROM alerts WHERE id = ?", [(i,) for i in dropped])
    rows = [
        (
            a.id, a.rule, a.object, a.tenant, a.severity, a.state,
            json.dumps(dict(a.labels), sort_keys=True), json.dumps(dict(a.params), sort_keys=True, default=str),
            _finite(a.value), _finite(a.threshold), a.started_at, a.updated_at, a.fired_at, a.resolved_at,
            a.clear_since, int(a.flapping), int(a.notified),
            a.ack.by if a.ack else None, a.ack.at if a.ack else None, a.ack.comment if a.ack else None,
        )
        for a in alerts
    ]  # fmt: skip
    conn.executemany(
        "INSERT INTO alerts (id, rule, object, tenant, severity, state, labels, params, value, threshold, "
        "started_at, updated_at, fired_at, resolved_at, clear_since, flapping, notified, ack_by, ack_at, ack_comment) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET tenant=excluded.tenant, state=excluded.state, labels=excluded.labels, "
        "params=excluded.params, value=excluded.value, threshold=excluded.threshold, updated_at=excluded.updated_at, "
        "fired_at=excluded.fired_at, resolved_at=excluded.resolved_at, clear_since=excluded.clear_since, "
        "flapping=excluded.flapping, notified=excluded.notified, ack_by=excluded.ack_by, ack_at=excluded.ack_at, "
        "ack_comment=excluded.ack_comment",
        rows,
    )
    conn.executemany(
        "INSERT INTO alert_notifications (alert_id, target, event, payload, created_at, next_attempt_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [(n.alert.id, n.target, n.event, json.dumps(doc, sort_keys=True), now, now) for n, doc in notifications],
    )


@dataclass(frozen=True)
class AlertFilter:
    tenant: str | None = None
    state: str | None = None
    severity: str | None = None
    rule: str | None = None
    limit: int = 1000


def list_alerts(conn: Connection, flt: AlertFilter) -> list[Alert]:
    where, args = [], []
    for column, value in (("tenant", flt.tenant), ("state", flt.state), ("severity", flt.severity), ("rule", flt.rule)):
        if value:
            where.append(f"{column} = ?")
            args.append(value)
    sql = f"SELECT {_COLUMNS} FROM alerts"
    if where:
        sql += " WHERE " + " AND ".join(where)
    # open ones first (firing, then pending), then history, newest first
    sql += (
        " ORDER BY CASE state WHEN 'firing' THEN 0 WHEN 'pending' THEN 1 ELSE 2 END, "
        "coalesce(resolved_at, fired_at, started_at) DESC, id LIMIT ?"
    )
    return [_alert(r) for r in conn.execute(sql, [*args, flt.limit])]


def get_alert(conn: Connection, alert_id: str) -> Alert | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM alerts WHERE id = ?", (alert_id,)).fetchone()
    return _alert(row) if row else None


def set_ack(conn: Connection, alert_id: str, ack: Ack) -> None:
    conn.execute(
        "UPDATE alerts SET ack_by = ?, ack_at = ?, ack_comment = ? WHERE id = ?",
        (ack.by, ack.at, ack.comment, alert_id),
    )


# -- silences -------------------------------------------------------------------------


def _silence(row: Sequence[Any]) -> Silence:
    id_, tenant, matchers, starts, ends, by, comment, created = row
    return Silence(
        id=id_,
        tenant=tenant,
        matchers=tuple(Matcher(m["name"], m["value"], bool(m.get("is_regex"))) for m in json.loads(matchers)),
        starts_at=starts,
        ends_at=ends,
        created_by=by,
        comment=comment,
        created_at=created,
    )


_SILENCE_COLUMNS = "id, tenant, matchers, starts_at, ends_at, created_by, comment, created_at"


def add_silence(
    conn: Connection,
    matchers: Sequence[Matcher],
    *,
    starts_at: float,
    ends_at: float,
    created_by: str,
    comment: str,
    tenant: str | None,
    now: float,
) -> Silence:
    silence = Silence(
        id=secrets.token_hex(8),
        matchers=tuple(matchers),
        starts_at=starts_at,
        ends_at=ends_at,
        created_by=created_by,
        comment=comment,
        tenant=tenant,
        created_at=now,
    )
    conn.execute(
        f"INSERT INTO silences ({_SILENCE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            silence.id,
            tenant,
            json.dumps([{"name": m.name, "value": m.value, "is_regex": m.is_regex} for m in matchers]),
            starts_at,
            ends_at,
            created_by,
            comment,
            now,
        ),
    )
    return silence


def get_silence(conn: Connection, silence_id: str) -> Silence | None:
    row = conn.execute(
        f"SELECT {_SILENCE_COLUMNS} FROM silences WHERE id = ? AND deleted_at IS NULL", (silence_id,)
    ).fetchone()
    return _silence(row) if row else None


def list_silences(conn: Connection, *, tenant: str | None, since: float) -> list[Silence]:
    """Silences not deleted that end after `since`; of one tenant when given."""
    sql = f"SELECT {_SILENCE_COLUMNS} FROM silences WHERE deleted_at IS NULL AND ends_at > ?"
    args: list[object] = [since]
    if tenant is not None:
        sql += " AND tenant = ?"
        args.append(tenant)
    return [_silence(r) for r in conn.execute(sql + " ORDER BY starts_at, id", args)]


def count_open_silences(conn: Connection, tenant: str, now: float) -> int:
    """Silences of the tenant that have not ended (pending or active)."""
    row = conn.execute(
        "SELECT count(*) FROM silences WHERE deleted_at IS NULL AND ends_at > ? AND tenant = ?", (now, tenant)
    ).fetchone()
    return int(row[0])


def active_silences(conn: Connection, now: float) -> list[Silence]:
    return [s for s in list_silences(conn, tenant=None, since=now) if s.active(now)]


def end_silence(conn: Connection, silence_id: str, *, by: str, now: float) -> None:
    conn.execute(
        "UPDATE silences SET deleted_at = ?, deleted_by = ?, ends_at = CASE WHEN ends_at < ? THEN ends_at ELSE ? END "
        "WHERE id = ?",
        (now, by, now, now, silence_id),
    )


# -- outbox -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    id: int
    alert_id: str
    target: str
    event: str
    payload: dict[str, Any]
    attempts: int


def due_notifications(conn: Connection, now: float, limit: int = 100) -> list[Delivery]:
    rows = conn.execute(
        "SELECT id, alert_id, target, event, payload, attempts FROM alert_notifications "
        "WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY id LIMIT ?",
        (now, limit),
    ).fetchall()
    return [Delivery(i, a, t, e, json.loads(p), n) for i, a, t, e, p, n in rows]


def record_deliveries(conn: Connection, results: Iterable[tuple[int, str, int, float, str]], now: float) -> None:
    """(id, status, attempts, next_attempt_at, error) per notification tried."""
    conn.executemany(
        "UPDATE alert_notifications SET status = ?, attempts = ?, next_attempt_at = ?, last_error = ?, "
        "delivered_at = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_at END WHERE id = ?",
        [(status, attempts, nxt, error, status, now, id_) for id_, status, attempts, nxt, error in results],
    )


def notifications(conn: Connection, status: str | None = None) -> list[dict[str, Any]]:
    sql = (
        "SELECT id, alert_id, target, event, status, attempts, last_error, created_at, delivered_at "
        "FROM alert_notifications"
    )
    args: list[object] = []
    if status:
        sql += " WHERE status = ?"
        args.append(status)
    names = ("id", "alert_id", "target", "event", "status", "attempts", "last_error", "created_at", "delivered_at")
    return [dict(zip(names, r, strict=True)) for r in conn.execute(sql + " ORDER BY id", args)]


def prune(conn: Connection, before: float) -> int:
    """Forget resolved episodes, finished notifications and ended silences older than `before`."""
    n = conn.execute("DELETE FROM alerts WHERE state = 'resolved' AND resolved_at < ?", (before,)).rowcount
    conn.execute("DELETE FROM alert_notifications WHERE status != 'pending' AND created_at < ?", (before,))
    conn.execute("DELETE FROM silences WHERE ends_at < ?", (before,))
    return int(n)
