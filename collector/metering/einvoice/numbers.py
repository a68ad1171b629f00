"""Invoice numbers (BT-1): assigned once per tenant and closed period, stored,
never reused.

The number comes from ``[invoice] number_pattern`` the first time a period's
e-invoice is exported; XRechnung and ZUGFeRD of that period carry the same
one, and a later change of the pattern does not renumber an issued invoice
(its re-export stays byte-identical). ``{seq}`` counts e-invoices over all
tenants, so a pattern like ``KDO-{year}-{seq:05d}`` gives the consecutive
numbers § 14 UStG asks for.
"""

from __future__ import annotations

from ...db import Connection
from ...errors import ConflictError
from .model import invoice_number

__all__ = ["assign_number", "issued_number", "next_seq"]


def issued_number(conn: Connection, tenant: str, period: str) -> str | None:
    row = conn.execute("SELECT number FROM invoices WHERE tenant = ? AND period = ?", (tenant, period)).fetchone()
    return str(row[0]) if row else None


def next_seq(conn: Connection) -> int:
    """The ``{seq}`` the next invoice number gets."""
    return int(conn.execute("SELECT COALESCE(MAX(seq), 0) FROM invoices").fetchone()[0]) + 1


def assign_number(conn: Connection, tenant: str, period: str, pattern: str, now: float) -> str:
    """The period's invoice number, assigned now if it has none (in the caller's transaction)."""
    issued = issued_number(conn, tenant, period)
    if issued is not None:
        return issued
    seq = next_seq(conn)
    number = invoice_number(pattern, tenant, period, seq)
    taken = conn.execute("SELECT tenant, period FROM invoices WHERE number = ?", (number,)).fetchone()
    if taken is not None:
        raise ConflictError(
            f"invoice number {number} was already issued (to {taken[0]} for {taken[1]})",
            [
                "invoice.number_pattern must give every tenant and period its own number: "
                "use {seq}, or {tenant} and {period}"
            ],
        )
    conn.execute(
        "INSERT INTO invoices (tenant, period, seq, number, issued_at) VALUES (?, ?, ?, ?, ?)",
        (tenant, period, seq, number, now),
    )
    return number
