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

from ..i18n import t, tv
from ..model import decimal, usage_coverage
from ..quarantine import quarantine_pending, quarantine_rows, quarantine_title
from ..safe_text import text, tr
from ..source import SourceError, gather_limited
from .base import ViewScreen

__all__ = ["MeteringScreen"]


def _pct(value: Decimal | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


class MeteringScreen(ViewScreen):
    view = "metering"

    def __init__(self) -> None:
        super().__init__()
        self.usages: dict[str, dict[str, Any]] = {}
        self.periods: list[dict[str, Any]] = []

    def body(self) -> ComposeResult:
        tenants: DataTable[Any] = DataTable(id="tenants-table", cursor_type="row")
        for key in (
            "met.col.tenant",
            "met.col.period",
            "met.col.status",
            "met.col.total",
            "met.col.coverage",
            "met.col.quarantine",
        ):
            tenants.add_column(t(key), key=key)
        yield tenants
        yield Static("", id="usage-title", classes="section", markup=False)
        meters: DataTable[Any] = DataTable(id="meters-table", cursor_type="row", show_cursor=False)
        for key in (
            "met.col.meter",
            "met.col.quantity",
            "met.col.unit",
            "met.col.coverage",
            "met.col.price",
            "met.col.amount",
        ):
            meters.add_column(t(key), key=key)
        yield meters
        yield Static("", id="quarantine-title", classes="section", markup=False)
        quarantine: DataTable[Any] = DataTable(id="quarantine-table", cursor_type="row", show_cursor=False)
        # status first and evidence (the longest) last: at 80 columns the review state shows
        for key in (
            "met.col.qstatus",
            "met.col.meter",
            "met.col.subject",
            "met.col.quantity",
            "met.col.rule",
            "met.col.span",
            "met.col.evidence",
        ):
            quarantine.add_column(t(key), key=key)
        yield quarantine
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
        table = self.query_one("#tenants-table", DataTable)
        current = table.cursor_row
        table.clear()
        for tenant, usage in usages.items():
            coverage = usage_coverage(usage)
            table.add_row(
                text(tenant, style="bold"),
                text(usage.get("period", "")),
                text(tv("state", usage.get("status"))),
                text(f"{usage.get('total', '–')} {usage.get('currency', '')}".strip()),
                Text(_pct(coverage), style="yellow" if coverage is not None and coverage < Decimal("0.95") else ""),
                _pending(quarantine_pending(usage)),
                key=tenant,
            )
        if table.row_count:
            table.move_cursor(row=min(current, table.row_count - 1))
            self._show(str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value))
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
        meters = self.query_one("#meters-table", DataTable)
        meters.clear()
        for m in usage.get("meters") or []:
            line = lines.get(str(m.get("meter")))
            coverage = decimal(m.get("coverage"))
            meters.add_row(
                text(f"{m.get('meter', '')}" + (f" ({m['dim']})" if m.get("dim") else "")),
                text(m.get("quantity", ""), justify="right"),
                text(m.get("unit", "")),
                Text(_pct(coverage), style="yellow" if coverage is not None and coverage < Decimal("0.95") else ""),
                text(line["unit_price"]) if line and line.get("unit_price") else Text(t("met.no_tariff"), style="dim"),
                text(line["amount"], justify="right") if line and line.get("amount") else "",
            )
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
        table = self.query_one("#quarantine-table", DataTable)
        heading.display = title is not None
        table.display = bool(rows)
        heading.update(text(title or "", style="bold red" if any(r.pending for r in rows) else ""))
        table.clear()
        for r in rows:
            style = "yellow" if r.pending else "dim"
            table.add_row(
                text(r.status, style="bold yellow" if r.pending else "dim"),
                text(r.meter, style=style),
                text(r.subject, style=style),
                text(r.quantity, style=style, justify="right"),
                text(r.rule, style=style),
                text(r.span, style=style),
                text(r.evidence, style=style),
            )


def _pending(count: int | None) -> Text:
    if count is None:
        return Text("–", style="dim")
    return Text(str(count), style="bold red" if count else "")
