"""The metering quarantine as the Metering view shows it (pure, no I/O).

`GET /api/v1/usage` lists the quantities the plausibility checks kept off the
invoice (``quarantine``, with ``quarantine_pending`` unreviewed); an older
collector sends neither field, which is not the same as an empty quarantine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import fmt
from .i18n import t, tv
from .model import parse_iso

__all__ = ["QuarantineRow", "fmt_span", "quarantine_pending", "quarantine_rows", "quarantine_title"]


@dataclass(frozen=True)
class QuarantineRow:
    id: str
    meter: str
    subject: str
    quantity: str
    rule: str
    span: str
    evidence: str
    status: str
    pending: bool


def fmt_span(start: object, end: object) -> str:
    """``24.11.2025 15:58–16:00 MEZ`` in the TUI's zone and language (see `fmt.span`)."""
    return fmt.span(parse_iso(start), parse_iso(end))


def quarantine_rows(usage: Mapping[str, Any]) -> list[QuarantineRow] | None:
    """The quarantine, unreviewed first; None when the collector does not report one."""
    items = usage.get("quarantine")
    if not isinstance(items, list):
        return None
    rows = []
    for q in items:
        if not isinstance(q, Mapping):
            continue
        status = str(q.get("status") or "pending")
        meter = str(q.get("meter") or "")
        kind = str(q.get("subject_kind") or "")
        name = q.get("subject_name") or q.get("subject") or "–"
        rows.append(
            QuarantineRow(
                id=str(q.get("id", "")),
                meter=meter + (f" ({q['dim']})" if q.get("dim") else ""),
                subject=f"{tv('subject', kind)} {name}" if kind else str(name),
                quantity=fmt.quantity(q.get("quantity"), tv("unit", q["unit"]) if q.get("unit") else None),
                rule=tv("qrule", q.get("rule")),
                span=fmt_span(q.get("start"), q.get("end")),
                evidence=str(q.get("evidence") or ""),
                status=tv("qstatus", status),
                pending=status == "pending",
            )
        )
    rows.sort(key=lambda r: not r.pending)  # stable: the collector's order within each group
    return rows


def quarantine_pending(usage: Mapping[str, Any]) -> int | None:
    """Unreviewed quarantine items: the collector's count, else counted; None when not reported."""
    count = usage.get("quarantine_pending")
    if isinstance(count, int) and not isinstance(count, bool):
        return count
    rows = quarantine_rows(usage)
    return None if rows is None else sum(1 for r in rows if r.pending)


def quarantine_title(usage: Mapping[str, Any]) -> str | None:
    """The section's heading; None when the collector does not report a quarantine."""
    rows = quarantine_rows(usage)
    if rows is None:
        return None
    if not rows:
        return t("met.quarantine.none")
    title = t("met.quarantine", pending=quarantine_pending(usage) or 0, total=len(rows))
    return title + (" · " + t("met.quarantine.review") if any(r.pending for r in rows) else "")
