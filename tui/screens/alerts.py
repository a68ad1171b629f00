"""Alerts: firing, pending, silenced, resolved; acknowledge with a comment,
silence for a duration, the runbook one key away. Every write is confirmed in
a dialog and its result reported."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from .. import fmt
from ..i18n import t, tv
from ..messages import OpenRunbook
from ..model import alert_object, parse_iso, silence_matchers, sort_alerts
from ..safe_text import text, tr
from ..source import NotAvailable, SourceError
from ..widgets import Column, CutLine, FitTable
from .base import ViewScreen
from .dialogs import AckDialog, ConfirmDialog, SilenceDialog, SilenceRequest

__all__ = ["WHICH", "AlertsScreen"]

WHICH = ("active", "firing", "pending", "silenced", "resolved")
_SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


def _matches(alert: Mapping[str, Any], which: str) -> bool:
    state, silenced = alert.get("state"), bool(alert.get("silenced"))
    if which == "active":
        return state in ("firing", "pending") and not silenced
    if which == "silenced":
        return silenced and state != "resolved"
    if which in ("firing", "pending"):
        return state == which and not silenced
    return state == which


def _columns() -> list[Column]:
    # Tenant stays at 80 columns: the same rule fires for several tenants
    return [
        Column("severity", t("al.col.severity"), 7, max_width=10),
        Column("state", t("al.col.state"), 7, priority=2, max_width=12),
        Column("flags", t("al.col.flags"), 2, priority=3),
        Column("since", t("al.col.since"), 5, priority=1, right=True, max_width=10),
        Column("rule", t("al.col.rule"), 10, max_width=24),
        Column("object", t("al.col.object"), 10, max_width=32, flex=True),
        Column("tenant", t("col.tenant"), 10, max_width=30),
    ]


class AlertsScreen(ViewScreen):
    view = "alerts"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "which", "bind.state"),
        Binding("k", "ack", "bind.ack"),
        Binding("x", "silence", "bind.silence"),
        Binding("u", "unsilence", "bind.unsilence"),
        Binding("b", "runbook", "bind.runbook"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.which = "active"
        self.alerts: dict[str, dict[str, Any]] = {}
        #: (tenant, device id) → the device's name, for the object column
        self.device_names: dict[tuple[str, str], str] = {}

    def body(self) -> ComposeResult:
        yield Static("", id="alerts-status", markup=False)
        yield FitTable(_columns(), id="alerts-table", zebra_stripes=True)
        yield CutLine("alerts-table")
        yield Static("", id="alert-detail", markup=False)

    async def load(self) -> None:
        answers: tuple[list[dict[str, Any]] | BaseException, ...] = await asyncio.gather(
            self.source.alerts(), self.source.devices(), return_exceptions=True
        )
        alerts, devices = answers
        if isinstance(alerts, NotAvailable):
            self.query_one("#alerts-status", Static).update(t("err.notavailable", what=t("view.alerts")))
            return
        if isinstance(alerts, BaseException):
            raise alerts
        # device names only make the object readable: without them the alerts still show
        if isinstance(devices, BaseException) and not isinstance(devices, SourceError):
            raise devices
        if not isinstance(devices, BaseException):
            self.device_names = {
                (str(d.get("tenant") or ""), str(d.get("id"))): str(d["name"]) for d in devices if d.get("name")
            }
        self.show(alerts)

    def show(self, alerts: list[dict[str, Any]]) -> None:
        shown = [a for a in sort_alerts(alerts) if _matches(a, self.which)]
        self.alerts = {str(a["id"]): dict(a) for a in shown}
        self.query_one("#alerts-status", Static).update(t("al.filter", which=t(f"al.which.{self.which}"), n=len(shown)))
        now = self.lapp.clock()
        rows = []
        for a in shown:
            severity = str(a.get("severity"))
            flags = ("Q" if t("al.col.flags").startswith("Q") else "A") if a.get("acknowledged") else "·"
            flags += "S" if a.get("silenced") else "·"
            cells = (
                text(tv("sev", severity), style=_SEVERITY_STYLE.get(severity, "")),
                text(tv("state", a.get("state"))),
                flags,
                fmt.age(parse_iso(a.get("started_at")), now),
                text(a.get("rule", "")),
                text(alert_object(a, self.device_names)),
                text(a.get("tenant", "")),
            )
            rows.append((str(a["id"]), cells))
        self.query_one("#alerts-table", FitTable).set_rows(rows)
        self._show_detail(self.current_id())
        if not shown:
            self.query_one("#alert-detail", Static).update(t("al.none"))

    def current_id(self) -> str | None:
        return self.query_one("#alerts-table", FitTable).current_key

    def current(self) -> dict[str, Any] | None:
        key = self.current_id()
        return None if key is None else self.alerts.get(key)

    @on(DataTable.RowHighlighted, "#alerts-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail(None if event.row_key.value is None else str(event.row_key.value))

    def _show_detail(self, alert_id: str | None) -> None:
        a = self.alerts.get(alert_id or "")
        detail = self.query_one("#alert-detail", Static)
        if a is None:
            detail.update("")
            return
        ack = a.get("acknowledged")
        ack_text = (
            t(
                "al.acked_by",
                by=ack.get("by"),
                at=fmt.date_time(parse_iso(ack.get("at"))),
                comment=ack.get("comment") or "",
            )
            if ack
            else ""
        )
        detail.update(
            tr(
                "al.detail",
                multiline=True,
                summary=a.get("summary") or a.get("rule"),
                description=a.get("description") or "",
                runbook=a.get("runbook") or "–",
                started=fmt.date_time(parse_iso(a.get("started_at"))),
                ack=ack_text,
            )
        )

    # -- actions ----------------------------------------------------------------------

    def action_which(self) -> None:
        self.which = WHICH[(WHICH.index(self.which) + 1) % len(WHICH)]
        self.reload()

    @on(DataTable.RowSelected, "#alerts-table")
    def action_runbook(self) -> None:
        a = self.current()
        if a is None:
            return
        if not a.get("runbook"):
            self.notify(t("al.no_runbook"), severity="warning")
            return
        self.post_message(OpenRunbook(str(a["runbook"]), a.get("runbook_url")))

    def action_ack(self) -> None:
        a = self.current()
        if a is None:
            return
        if a.get("acknowledged"):
            self.notify(t("al.ack.already", by=a["acknowledged"].get("by")), severity="warning")
            return

        def done(comment: object) -> None:
            if isinstance(comment, str):
                self._ack(a, comment)

        self.app.push_screen(AckDialog(a), done)

    @work(exclusive=True, group="write")
    async def _ack(self, alert: Mapping[str, Any], comment: str) -> None:
        try:
            await self.source.ack(str(alert["id"]), comment)
        except Exception as exc:
            self._failed(exc)
            return
        self.notify(t("al.ack.done", rule=alert.get("rule"), object=alert_object(alert, self.device_names)))
        self.reload()

    def action_silence(self) -> None:
        a = self.current()
        if a is None:
            return
        matchers = silence_matchers(a)

        def done(request: object) -> None:
            if isinstance(request, SilenceRequest):
                self._silence(a, matchers, request)

        self.app.push_screen(SilenceDialog(a, matchers), done)

    @work(exclusive=True, group="write")
    async def _silence(self, alert: Mapping[str, Any], matchers: list[dict[str, Any]], req: SilenceRequest) -> None:
        now = self.lapp.clock()
        try:
            body = await self.source.silence(matchers, now, now + req.seconds, req.comment)
        except Exception as exc:
            self._failed(exc)
            return
        self.notify(t("al.silence.done", until=fmt.date_time(now + req.seconds), id=body.get("id", "?")))
        self.reload()

    def action_unsilence(self) -> None:
        a = self.current()
        if a is None:
            return
        silence_id = a.get("silence_id")
        if not a.get("silenced") or not silence_id:
            self.notify(t("al.unsilence.none"), severity="warning")
            return

        def done(ok: object) -> None:
            if ok is True:
                self._unsilence(str(silence_id))

        self.app.push_screen(ConfirmDialog(t("al.unsilence.title", id=silence_id)), done)

    @work(exclusive=True, group="write")
    async def _unsilence(self, silence_id: str) -> None:
        try:
            await self.source.unsilence(silence_id)
        except Exception as exc:
            self._failed(exc)
            return
        self.notify(t("al.unsilence.done", id=silence_id))
        self.reload()

    def _failed(self, exc: Exception) -> None:
        from ..source import ApiError

        if isinstance(exc, ApiError):
            self.notify(t("al.failed", error=str(exc)), severity="error", timeout=10)
        else:
            self.lapp.report(exc)
