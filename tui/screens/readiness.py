"""Readiness: KRITIS applications with status, failed checks with evidence, and
the runbook that fixes each."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from ..i18n import t, tv
from ..messages import OpenRunbook
from ..model import fmt_duration
from ..safe_text import text, tr
from ..source import NotAvailable
from .base import ViewScreen

__all__ = ["ReadinessScreen"]

_STATUS_STYLE = {"ready": "green", "degraded": "yellow", "not_ready": "bold red"}
_VERDICT_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red"}


class ReadinessScreen(ViewScreen):
    view = "readiness"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("b", "runbook", "bind.runbook")]

    def __init__(self) -> None:
        super().__init__()
        self.apps: list[dict[str, Any]] = []
        self.detail: dict[str, Any] = {}

    def body(self) -> ComposeResult:
        yield Static("", id="readiness-note", markup=False)
        apps: DataTable[Any] = DataTable(id="apps-table", cursor_type="row")
        for key in ("rd.col.app", "col.tenant", "rd.col.criticality", "col.state", "rd.col.score", "rd.col.failed"):
            apps.add_column(t(key), key=key)
        yield apps
        yield Static("", id="app-detail", classes="section", markup=False)
        checks: DataTable[Any] = DataTable(id="checks-table", cursor_type="row")
        for key in ("rd.col.check", "rd.col.verdict", "rd.col.evidence", "rd.col.runbook"):
            checks.add_column(t(key), key=key)
        yield checks

    async def load(self) -> None:
        try:
            self.apps = await self.source.readiness()
        except NotAvailable:
            self.query_one("#readiness-note", Static).update(t("err.notavailable", what=t("view.readiness")))
            return
        self.query_one("#readiness-note", Static).update("" if self.apps else t("rd.none"))
        table = self.query_one("#apps-table", DataTable)
        current = table.cursor_row
        table.clear()
        order = {"not_ready": 0, "degraded": 1, "ready": 2}
        for app in sorted(self.apps, key=lambda a: (order.get(str(a.get("status")), 3), str(a.get("name")))):
            status = str(app.get("status"))
            table.add_row(
                text(app.get("name"), style="bold"),
                text(app.get("tenant", "")),
                text(app.get("criticality", "")),
                text(tv("state", status), style=_STATUS_STYLE.get(status, "")),
                text(app.get("score", "")),
                text(", ".join(str(f) for f in app.get("failed") or [])),
                key=str(app.get("name")),
            )
        if table.row_count:
            table.move_cursor(row=min(current, table.row_count - 1))
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            if key is not None:
                self.load_detail(str(key))

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
                rpo=fmt_duration(targets.get("rpo_s")),
                rto=fmt_duration(targets.get("rto_s")),
            )
        )
        checks = self.query_one("#checks-table", DataTable)
        checks.clear()
        rank = {"fail": 0, "warn": 1, "pass": 2}
        for i, check in enumerate(sorted(detail.get("checks") or [], key=lambda c: rank.get(c.get("verdict"), 3))):
            verdict = str(check.get("verdict"))
            evidence = (
                [e for e in check.get("evidence") or [] if e.get("verdict") == verdict] or check.get("evidence") or []
            )
            checks.add_row(
                text(check.get("title") or check.get("id")),
                text(tv("verdict", verdict), style=_VERDICT_STYLE.get(verdict, "")),
                text("; ".join(str(e.get("text")) for e in evidence[:2])),
                text(check.get("runbook") or ""),
                key=f"{i}:{check.get('runbook') or ''}",
            )

    def _selected_runbook(self) -> str | None:
        checks = self.query_one("#checks-table", DataTable)
        if not checks.row_count:
            return None
        key = checks.coordinate_to_cell_key(checks.cursor_coordinate).row_key.value or ""
        return key.partition(":")[2] or None

    @on(DataTable.RowSelected, "#checks-table")
    def action_runbook(self) -> None:
        name = self._selected_runbook()
        if name is None:
            self.notify(t("al.no_runbook"), severity="warning")
            return
        self.post_message(OpenRunbook(name))
