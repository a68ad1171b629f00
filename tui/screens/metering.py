"""Tenants & metering: month to date per meter, cost where tariffs exist,
coverage, the quarantine (quantities kept off the invoice for review), and
the closed periods."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from .. import fmt
from ..i18n import t, tv
from ..model import decimal, usage_coverage
from ..quarantine import quarantine_pending, quarantine_rows, quarantine_title
from ..safe_text import text, tr
from ..source import SourceError, gather_limited
from ..widgets import Column, CutLine, FitTable
from .base import ViewScreen

__all__ = ["MeteringScreen"]


def _coverage(coverage: Decimal | None) -> Text:
    return Text(fmt.ratio(coverage), style="yellow" if coverage is not None and coverage < Decimal("0.95") else "")


def _total(usage: Mapping[str, Any]) -> Text:
    """The month's total; without a tariff there is no price, and `0,00 €` would claim one."""
    priced = usage.get("tariff") or any(line.get("amount") for line in usage.get("lines") or [])
    if not priced and decimal(usage.get("total") or 0) == 0:
        return Text(t("met.no_tariff"), style="dim")
    return text(fmt.money(usage.get("total"), usage.get("currency") or "EUR"), justify="right")


def _tenant_columns() -> list[Column]:
    return [
        Column("tenant", t("met.col.tenant"), 12, max_width=34),
        Column("period", t("met.col.period"), 7, priority=1),
        Column("status", t("met.col.status"), 6, priority=2, max_width=14),
        Column("total", t("met.col.total"), 8, right=True, max_width=20),
        Column("coverage", t("met.col.coverage"), 6, right=True, priority=1),
        Column("quarantine", t("met.col.quarantine"), 3, right=True, priority=3),
    ]


def _meter_columns() -> list[Column]:
    return [
        Column("meter", t("met.col.meter"), 12, max_width=36, flex=True),
        Column("quantity", t("met.col.quantity"), 8, right=True, max_width=18),
        Column("unit", t("met.col.unit"), 4, priority=1, max_width=12),
        Column("coverage", t("met.col.coverage"), 6, right=True, priority=2),
        Column("price", t("met.col.price"), 6, priority=3, max_width=24),
        Column("amount", t("met.col.amount"), 8, right=True, max_width=16),
    ]


def _quarantine_columns() -> list[Column]:
    # status first and evidence (the longest) last: at 80 columns the review state shows
    return [
        Column("qstatus", t("met.col.qstatus"), 6, max_width=14),
        Column("meter", t("met.col.meter"), 8, max_width=24),
        Column("subject", t("met.col.subject"), 8, priority=1, max_width=28),
        Column("quantity", t("met.col.quantity"), 6, right=True, max_width=16),
        Column("rule", t("met.col.rule"), 6, priority=2, max_width=20),
        Column("span", t("met.col.span"), 8, priority=3, max_width=24),
        Column("evidence", t("met.col.evidence"), 10, priority=1, flex=True),
    ]


class MeteringScreen(ViewScreen):
    view = "metering"

    def __init__(self) -> None:
        super().__init__()
        self.usages: dict[str, dict[str, Any]] = {}
        self.periods: list[dict[str, Any]] = []

    def body(self) -> ComposeResult:
        yield FitTable(_tenant_columns(), id="tenants-table")
        yield CutLine("tenants-table")
        yield Static("", id="usage-title", classes="section", markup=False)
        yield FitTable(_meter_columns(), id="meters-table")
        yield CutLine("meters-table")
        yield Static("", id="quarantine-title", classes="section", markup=False)
        yield FitTable(_quarantine_columns(), id="quarantine-table")
        yield CutLine("quarantine-table")
        yield Static("", id="closed-periods", markup=False)

    async def load(self) -> None:
        hosts, periods = await asyncio.gather(self.source.hosts(), self.source.periods())
        tenants = sorted({str(h.get("tenant")) for h in hosts} | {str(p.get("tenant")) for p in periods})
        results = await gather_limited([self.source.usage(tenant) for tenant in tenants])
        usages: dict[str, dict[str, Any]] = {}
        for tenant, result in zip(tenants, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, SourceError):
                    raise result
                continue
            usages[tenant] = result
        self.usages, self.periods = usages, periods
        table = self.query_one("#tenants-table", FitTable)
        rows = []
        for tenant, usage in usages.items():
            coverage = usage_coverage(usage)
            cells = (
                text(tenant, style="bold"),
                text(usage.get("period", "")),
                text(tv("state", usage.get("status"))),
                _total(usage),
                _coverage(coverage),
                _pending(quarantine_pending(usage)),
            )
            rows.append((tenant, cells))
        table.set_rows(rows)
        if table.current_key is not None:
            self._show(table.current_key)
        else:
            self.query_one("#usage-title", Static).update(t("met.none"))

    @on(DataTable.RowHighlighted, "#tenants-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self._show(str(event.row_key.value))

    def _show(self, tenant: str) -> None:
        usage = self.usages.get(tenant)
        if usage is None:
            return
        self.query_one("#usage-title", Static).update(
            tr("met.mtd", tenant=tenant, period=usage.get("period", ""), status=tv("state", usage.get("status")))
        )
        lines: dict[str, Mapping[str, Any]] = {str(line.get("meter")): line for line in usage.get("lines") or []}
        rows = []
        for i, m in enumerate(usage.get("meters") or []):
            line = lines.get(str(m.get("meter")))
            coverage = decimal(m.get("coverage"))
            cells = (
                text(f"{m.get('meter', '')}" + (f" ({m['dim']})" if m.get("dim") else "")),
                text(fmt.number(m.get("quantity")), justify="right"),
                text(tv("unit", m.get("unit")) if m.get("unit") else ""),
                _coverage(coverage),
                text(fmt.money(line["unit_price"], usage.get("currency")), justify="right")
                if line and line.get("unit_price")
                else Text(t("met.no_tariff"), style="dim"),
                text(fmt.money(line["amount"], usage.get("currency")), justify="right")
                if line and line.get("amount")
                else "",
            )
            rows.append((str(i), cells))
        self.query_one("#meters-table", FitTable).set_rows(rows)
        self._show_quarantine(usage)
        closed = sorted(
            (str(p.get("period")) for p in self.periods if p.get("tenant") == tenant and p.get("status") == "closed"),
            reverse=True,
        )
        self.query_one("#closed-periods", Static).update(tr("met.closed", periods=", ".join(closed) or "–"))

    def _show_quarantine(self, usage: Mapping[str, Any]) -> None:
        """What the plausibility checks kept off the invoice; hidden for a collector
        that does not report a quarantine (not the same as an empty one)."""
        title = quarantine_title(usage)
        rows = quarantine_rows(usage) or []
        heading = self.query_one("#quarantine-title", Static)
        table = self.query_one("#quarantine-table", FitTable)
        heading.display = title is not None
        table.display = bool(rows)
        heading.update(text(title or "", style="bold red" if any(r.pending for r in rows) else ""))
        cells = []
        for i, r in enumerate(rows):
            style = "yellow" if r.pending else "dim"
            row = (
                text(r.status, style="bold yellow" if r.pending else "dim"),
                text(r.meter, style=style),
                text(r.subject, style=style),
                text(r.quantity, style=style, justify="right"),
                text(r.rule, style=style),
                text(r.span, style=style),
                text(r.evidence, style=style),
            )
            cells.append((str(i), row))
        table.set_rows(cells)


def _pending(count: int | None) -> Text:
    if count is None:
        return Text("–", style="dim")
    return Text(str(count), style="bold red" if count else "")
