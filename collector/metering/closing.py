"""Closing a billing period (its usage frozen as a snapshot, late data booked
as adjustments from then on) and archiving the exports of closed periods."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import msgspec

from ..admin import audit
from ..db import Connection, transaction
from ..errors import ConflictError, ValidationError
from . import quarantine
from .model import Period
from .reading import live_usage

__all__ = ["close_period", "store_export", "stored_export"]


def close_period(
    conn: Connection,
    period: Period,
    *,
    actor: str,
    now: float,
    tenant: str | None = None,
    force: bool = False,
    on_tenant: Callable[[str], None] | None = None,
) -> list[str]:
    """Freeze a period for one or all tenants; returns the tenants closed now.

    Only a period that has ended can be closed: closing the running month
    would turn the rest of its data into adjustments. A tenant with
    unreviewed quarantine entries for the period (or an earlier one) is not
    closed unless `force`: ConflictError names them. Forced, they stay
    pending; released later, they become adjustments. `on_tenant` is told
    each tenant before it is looked at (the CLI's progress lines).
    """
    if now < period.end_ts:
        raise ValidationError(
            f"period {period} has not ended yet (it ends {period.end.isoformat()}); only past months can be closed"
        )
    tenants = [tenant] if tenant else [t for (t,) in conn.execute("SELECT name FROM tenants ORDER BY name")]
    closed: list[str] = []
    with transaction(conn):
        for name in tenants:
            if on_tenant is not None:
                on_tenant(name)
            if not conn.execute("SELECT 1 FROM tenants WHERE name = ?", (name,)).fetchone():
                raise ValidationError(f"unknown tenant {name!r}")
            if conn.execute("SELECT 1 FROM periods WHERE tenant = ? AND period = ?", (name, str(period))).fetchone():
                if tenant:
                    raise ConflictError(f"period {period} of tenant {name!r} is already closed")
                continue
            held = quarantine.pending(conn, name, str(period))
            if held and not force:
                raise ConflictError(
                    f"period {period} of tenant {name!r} has {len(held)} unreviewed quarantine "
                    f"entr{'y' if len(held) == 1 else 'ies'}: {', '.join(held[:20])}{' ...' if len(held) > 20 else ''}",
                    [
                        "review them: leitstand-collector meter anomalies --tenant "
                        f"{name} --period {period}, then `release ID` or `dismiss ID` with --reason",
                        "or close anyway with --force (they stay pending)",
                    ],
                )
            usage = live_usage(conn, name, period)
            # A closed period is frozen: what is in quarantine is not part of it.
            frozen = replace(usage, status="closed", closed_at=now, quarantine=[])
            conn.execute(
                "INSERT INTO periods (tenant, period, closed_at, closed_by, snapshot) VALUES (?, ?, ?, ?, ?)",
                (name, str(period), now, actor, msgspec.json.encode(frozen).decode()),
            )
            if held:
                audit(conn, actor, "period.close", f"{name}/{period}", forced_past_quarantine=held)
            else:
                audit(conn, actor, "period.close", f"{name}/{period}")
            closed.append(name)
    return closed


def stored_export(conn: Connection, tenant: str, period: str, fmt: str) -> tuple[str, bytes] | None:
    row = conn.execute(
        "SELECT sha256, content FROM exports WHERE tenant = ? AND period = ? AND format = ?", (tenant, period, fmt)
    ).fetchone()
    return (row[0], bytes(row[1])) if row else None


def store_export(conn: Connection, tenant: str, period: str, fmt: str, sha256: str, content: bytes, now: float) -> None:
    conn.execute(
        "INSERT INTO exports (tenant, period, format, sha256, content, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        (tenant, period, fmt, sha256, content, now),
    )
