"""Readiness: KRITIS applications with status, failed checks with evidence, and
the runbook that fixes each."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from .. import fmt
from ..i18n import t, tv
from ..messages import OpenRunbook
from ..safe_text import text, tr
from ..source import NotAvailable
from ..widgets import Column, CutLine, FitTable
from .base import ViewScreen

__all__ = ["ReadinessScreen"]

_STATUS_STYLE = {"ready": "green", "degraded": "yellow", "not_ready": "bold red"}
_VERDICT_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red"}


def _app_columns() -> list[Column]:
    return [
        Column("app", t("rd.col.app"), 10, max_width=30),
        Column("tenant", t("col.tenant"), 10, max_width=30),
        Column("criticality", t("rd.col.criticality"), 4, priority=2, max_width=12),
        Column("state", t("col.state"), 7, max_width=14),
        Column("score", t("rd.col.score"), 3, right=True, priority=1),
        Column("failed", t("rd.col.failed"), 6, priority=3, flex=True),
    ]


def _check_columns() -> list[Column]:
    # the evidence takes the rest; the line under the table shows it whole
    return [
        Column("check", t("rd.col.check"), 12, max_width=30),
        Column("verdict", t("rd.col.verdict"), 6, max_width=10),
        Column("evidence", t("rd.col.evidence"), 12, flex=True),
        Column("runbook", t("rd.col.runbook"), 8, priority=1, max_width=24),
    ]


class ReadinessScreen(ViewScreen):
    view = "readiness"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("b", "runbook", "bind.runbook")]

    def __init__(self) -> None:
        super().__init__()
        self.apps: list[dict[str, Any]] = []
        self.detail: dict[str, Any] = {}

    def body(self) -> ComposeResult:
        yield Static("", id="readiness-note", markup=False)
        yield FitTable(_app_columns(), id="apps-table")
        yield CutLine("apps-table")
        yield Static("", id="app-detail", classes="section", markup=False)
        yield FitTable(_check_columns(), id="checks-table")
        yield CutLine("checks-table")

    async def load(self) -> None:
        try:
            self.apps = await self.source.readiness()
        except NotAvailable:
            self.query_one("#readiness-note", Static).update(t("err.notavailable", what=t("view.readiness")))
            return
        self.query_one("#readiness-note", Static).update("" if self.apps else t("rd.none"))
        table = self.query_one("#apps-table", FitTable)
        rows = []
        order = {"not_ready": 0, "degraded": 1, "ready": 2}
        for app in sorted(self.apps, key=lambda a: (order.get(str(a.get("status")), 3), str(a.get("name")))):
            status = str(app.get("status"))
            cells = (
                text(app.get("name"), style="bold"),
                text(app.get("tenant", "")),
                text(app.get("criticality", "")),
                text(tv("state", status), style=_STATUS_STYLE.get(status, "")),
                text(app.get("score", "")),
                text(", ".join(str(f) for f in app.get("failed") or [])),
            )
            rows.append((str(app.get("name")), cells))
        table.set_rows(rows)
        key = table.current_key
        if key is not None:
            self.load_detail(key)

    @on(DataTable.RowHighlighted, "#apps-table")
    def _app_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None and event.row_key.value != self.detail.get("name"):
            self.load_detail(str(event.row_key.value))

    @work(exclusive=True, group="readiness-detail")
    async def load_detail(self, name: str) -> None:
        try:
            detail = await self.source.readiness_detail(name)
        except Exception as exc:
            self.lapp.report(exc)
            return
        self.detail = detail
        targets = detail.get("targets") or {}
        status = str(detail.get("status"))
        self.query_one("#app-detail", Static).update(
            tr(
                "rd.detail",
                style=_STATUS_STYLE.get(status, ""),
                name=name,
                status=tv("state", status),
                rpo=fmt.duration(targets.get("rpo_s")),
                rto=fmt.duration(targets.get("rto_s")),
            )
        )
        rows = []
        rank = {"fail": 0, "warn": 1, "pass": 2}
        for i, check in enumerate(sorted(detail.get("checks") or [], key=lambda c: rank.get(c.get("verdict"), 3))):
            verdict = str(check.get("verdict"))
            evidence = (
                [e for e in check.get("evidence") or [] if e.get("verdict") == verdict] or check.get("evidence") or []
            )
            cells = (
                text(check.get("title") or check.get("id")),
                text(tv("verdict", verdict), style=_VERDICT_STYLE.get(verdict, "")),
                text("; ".join(str(e.get("text")) for e in evidence)),
                text(check.get("runbook") or ""),
            )
            rows.append((f"{i}:{check.get('runbook') or ''}", cells))
        self.query_one("#checks-table", FitTable).set_rows(rows)

    def _selected_runbook(self) -> str | None:
        key = self.query_one("#checks-table", FitTable).current_key or ""
        return key.partition(":")[2] or None

    @on(DataTable.RowSelected, "#checks-table")
    def action_runbook(self) -> None:
        name = self._selected_runbook()
        if name is None:
            self.notify(t("al.no_runbook"), severity="warning")
            return
        self.post_message(OpenRunbook(name))
