"""Hosts: the whole fleet, filtered and sorted in plain Python on cached rows."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Input, Static

from .. import fmt
from ..i18n import t, tv
from ..messages import OpenHost
from ..model import SORT_KEYS, HostRow, apply_query, parse_query, sort_rows
from ..widgets import Column, CutLine, VirtualTable
from .base import ViewScreen

__all__ = ["HostsScreen"]


def _columns() -> list[Column]:
    return [
        Column("hostname", t("col.host"), 16, max_width=40, flex=True),
        Column("tenant", t("col.tenant"), 10, priority=1, max_width=32),
        Column("site", t("col.site"), 8, priority=2, max_width=24),
        Column("role", t("col.role"), 6, priority=4, max_width=12),
        Column("state", t("col.state"), 7),
        Column("cpu", t("col.cpu"), 4, right=True),
        Column("mem", t("col.mem"), 4, right=True, priority=1),
        Column("disk", t("col.disk"), 4, right=True, priority=1),
        Column("load", t("col.load"), 5, right=True, priority=5),
        Column("sessions", t("col.sessions"), 5, right=True, priority=6),
        Column("last_seen", t("col.last_seen"), 6, right=True, priority=3),
    ]


class HostsScreen(ViewScreen):
    view = "hosts"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus_filter", "bind.filter"),
        Binding("s", "sort", "bind.sort"),
        Binding("S", "reverse", "bind.reverse"),
        Binding("escape", "clear_filter", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.all_rows: list[HostRow] = []
        self.sorted_rows: list[HostRow] = []
        self.sort_key = "hostname"
        self.sort_reverse = False

    def body(self) -> ComposeResult:
        yield Input(placeholder=t("hosts.filter"), id="filter")
        yield Static("", id="hosts-status")
        yield VirtualTable[HostRow](_columns(), self._cells, lambda r: r.id, self._row_class, id="hosts-table")
        yield CutLine("hosts-table")

    def on_mount(self) -> None:
        # Textual calls ViewScreen.on_mount itself (every class's handler runs)
        self.table.focus()

    @property
    def table(self) -> VirtualTable[HostRow]:
        return self.query_one("#hosts-table", VirtualTable)

    def _cells(self, r: HostRow) -> list[str]:
        now = self.lapp.clock()
        return [
            r.hostname,
            r.tenant,
            r.site,
            r.role,
            tv("state", r.state),
            fmt.percent(r.cpu),
            fmt.percent(r.mem),
            fmt.percent(r.disk),
            fmt.number(r.load, 1),
            "–" if r.sessions is None else str(r.sessions),
            fmt.age(r.last_seen, now),
        ]

    @staticmethod
    def _row_class(r: HostRow) -> str | None:
        if not r.online:
            return "bad"
        if (r.cpu or 0) >= 90 or (r.mem or 0) >= 90 or (r.disk or 0) >= 90:
            return "warn"
        return None

    async def load(self) -> None:
        from ..model import host_rows

        self.all_rows = host_rows(await self.source.hosts())
        self.lapp.host_rows = self.all_rows
        self.resort()

    # -- filter and sort (plain Python, no round trip) ---------------------------------

    def resort(self) -> None:
        self.sorted_rows = sort_rows(self.all_rows, self.sort_key, self.sort_reverse)
        self.refilter()

    def refilter(self) -> None:
        query = parse_query(self.query_one("#filter", Input).value)
        shown = apply_query(self.sorted_rows, query)
        table = self.table
        table.sort_key, table.sort_reverse = self.sort_key, self.sort_reverse
        table.set_rows(shown)
        direction = " ▼" if self.sort_reverse else " ▲"
        self.query_one("#hosts-status", Static).update(
            t(
                "hosts.count",
                shown=len(shown),
                total=len(self.all_rows),
                column=t(f"col.{self.sort_key}"),
                dir=direction,
            )
        )

    @on(Input.Changed, "#filter")
    def _filter_changed(self) -> None:
        self.refilter()

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self.table.focus()

    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_clear_filter(self) -> None:
        field = self.query_one("#filter", Input)
        if field.has_focus and field.value == "":
            self.table.focus()
        else:
            field.value = ""
            self.table.focus()

    def action_sort(self) -> None:
        self.sort_key = SORT_KEYS[(SORT_KEYS.index(self.sort_key) + 1) % len(SORT_KEYS)]
        self.sort_reverse = self.sort_key in ("cpu", "mem", "disk")  # worst first
        self.resort()

    def action_reverse(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self.resort()

    @on(VirtualTable.Selected, "#hosts-table")
    def _open(self, event: VirtualTable.Selected) -> None:
        self.post_message(OpenHost(event.key))
