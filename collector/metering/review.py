"""A billing operator's review of the quarantine: release (book as measured)
or dismiss (book nothing), each audited with who and why."""

from __future__ import annotations

from dataclasses import replace

from ..admin import audit
from ..db import Connection, transaction
from ..errors import ConflictError, NotFoundError, ValidationError
from . import quarantine
from .ledger import Booker, MeteringSettings
from .model import METERS, QuarantineItem

__all__ = ["UNRELEASABLE", "dismiss", "release"]

#: rules whose quantity the ledger cannot hold, so they can only be dismissed
UNRELEASABLE = frozenset({"value_out_of_range"})

#: a reason is free text for the audit log; long enough for a ticket reference and a sentence
MAX_REASON = 1000


def release(
    conn: Connection,
    item_id: str,
    *,
    actor: str,
    reason: str,
    now: float,
    tenant: str | None = None,
    settings: MeteringSettings | None = None,
) -> QuarantineItem:
    """Book a pending entry as measured: into the ledger, or as an adjustment
    in the next open period where its own period is closed."""
    with transaction(conn):
        owner, item, stream = _pending(conn, item_id, tenant, reason)
        if item.rule in UNRELEASABLE:
            raise ValidationError(
                f"quarantine entry {item_id} ({item.rule}) cannot be released: the quantity cannot be held",
                ["dismiss it: it cannot be a real measurement"],
            )
        booker = Booker(conn, now, settings or MeteringSettings())
        booker.book_released(owner, item, stream)
        booker.flush()
        _review(conn, item_id, "released", actor, reason, now)
        audit(conn, actor, "quarantine.release", item_id, **_detail(owner, item, reason))
    return _reviewed(item, "released")


def dismiss(
    conn: Connection, item_id: str, *, actor: str, reason: str, now: float, tenant: str | None = None
) -> QuarantineItem:
    """Close a pending entry without booking anything."""
    with transaction(conn):
        owner, item, _stream = _pending(conn, item_id, tenant, reason)
        _review(conn, item_id, "dismissed", actor, reason, now)
        audit(conn, actor, "quarantine.dismiss", item_id, **_detail(owner, item, reason))
    return _reviewed(item, "dismissed")


def _pending(conn: Connection, item_id: str, tenant: str | None, reason: str) -> tuple[str, QuarantineItem, str]:
    reason = reason.strip()
    if not reason:
        raise ValidationError("a reason is required (--reason): the audit log records who decided and why")
    if len(reason) > MAX_REASON or "\x00" in reason:
        raise ValidationError(f"the reason must be at most {MAX_REASON} characters of text")
    found = quarantine.items(conn, item_id=item_id, tenant=tenant, statuses=quarantine.STATUSES)
    if not found:
        raise NotFoundError(f"no quarantine entry {item_id!r}")
    owner, item = found[0]
    if item.status != "pending":
        raise ConflictError(f"quarantine entry {item_id} is {item.status}, not pending")
    (stream,) = conn.execute("SELECT stream FROM quarantine WHERE id = ?", (item_id,)).fetchone()
    return owner, item, str(stream)


def _review(conn: Connection, item_id: str, status: str, actor: str, reason: str, now: float) -> None:
    conn.execute(
        "UPDATE quarantine SET status = ?, reviewed_by = ?, reviewed_at = ?, reason = ? WHERE id = ?",
        (status, actor, now, reason.strip(), item_id),
    )


def _detail(tenant: str, item: QuarantineItem, reason: str) -> dict[str, object]:
    return {
        "tenant": tenant,
        "period": item.period,
        "rule": item.rule,
        "meter": item.meter,
        "subject": f"{item.subject_kind}:{item.subject}",
        "quantity": f"{item.quantity} {METERS[item.meter].unit}" if item.meter in METERS else str(item.scaled),
        "reason": reason.strip(),
    }


def _reviewed(item: QuarantineItem, status: str) -> QuarantineItem:
    return replace(item, status=status)
