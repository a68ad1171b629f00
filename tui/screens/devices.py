"""Devices: printers (pages this month, supplies, status), UPS (state, runtime,
charge), switches (interfaces, uplinks)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from .. import fmt
from ..i18n import t, tv
from ..model import device_summary, month_start, pages_this_month
from ..safe_text import clean, text
from ..widgets import Column, CutLine, FitTable
from .base import ViewScreen
from .overview import load_devices

__all__ = ["DevicesScreen"]


def _bar(percent: float | None, width: int = 10) -> str:
    if percent is None:
        return "?" * width
    filled = round(width * max(0.0, min(100.0, percent)) / 100)
    return "█" * filled + "░" * (width - filled)


def _row_key(device: Mapping[str, Any]) -> str:
    """Device ids are unique per tenant only: the row is (tenant, id)."""
    return json.dumps([str(device.get("tenant") or ""), str(device["id"])])


def _columns() -> list[Column]:
    # Tenant stays at 80 columns: device ids are unique per tenant only
    return [
        Column("device", t("col.device"), 10, max_width=28),
        Column("kind", t("col.kind"), 4, priority=2, max_width=10),
        Column("state", t("col.state"), 4, priority=1, max_width=12),
        Column("problems", t("col.problems"), 8, priority=1, max_width=30),
        Column("summary", t("col.summary"), 12, priority=3, flex=True),
        Column("tenant", t("col.tenant"), 10, max_width=30),
    ]


class DevicesScreen(ViewScreen):
    view = "devices"

    def __init__(self) -> None:
        super().__init__()
        self.devices: dict[str, tuple[dict[str, Any], dict[str, Any] | None, list[str]]] = {}
        #: the lifetime page counter of each printer's first reading this month, by
        #: row key and month start; the month's pages are the latest counter minus it
        self.month_first: dict[str, tuple[float, int | None]] = {}

    def body(self) -> ComposeResult:
        yield FitTable(_columns(), id="devices-table", zebra_stripes=True)
        yield CutLine("devices-table")
        with VerticalScroll(id="device-detail"):
            yield Static("", id="device-text", markup=False)

    async def load(self) -> None:
        loaded = await load_devices(self.source)
        self.devices = {_row_key(d): (d, reading, problems) for d, reading, problems in loaded}
        rows = []
        for device, reading, problems in loaded:
            style = "bold red" if device.get("state") != "up" else ("yellow" if problems else "")
            cells = (
                text(device.get("name") or device["id"], style=style),
                text(tv("kind", device.get("kind"))),
                text(tv("state", device.get("state"))),
                Text(", ".join(t(p) for p in problems), style=style),
                text(device_summary(device, reading)),
                text(device.get("tenant", "")),
            )
            rows.append((_row_key(device), cells))
        self.query_one("#devices-table", FitTable).set_rows(rows)
        if not loaded:
            self.query_one("#device-text", Static).update(t("dev.none"))
        else:
            self._show(self._current_id())

    def _current_id(self) -> str | None:
        return self.query_one("#devices-table", FitTable).current_key

    @on(DataTable.RowHighlighted, "#devices-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = str(event.row_key.value) if event.row_key.value is not None else None
        self._show(key)
        device = self.devices.get(key or "")
        if device and device[0].get("kind") == "printer":
            known = self.month_first.get(key or "")
            if known is None or known[0] != month_start(self.lapp.clock()):
                self._load_month_first(key or "")

    @work(exclusive=True, group="month-pages")
    async def _load_month_first(self, key: str) -> None:
        """The month's first page counter (fetched once a month per printer; the
        latest counter comes with every reload, so the count keeps up)."""
        device = self.devices.get(key)
        if device is None:
            return
        try:
            now = self.lapp.clock()
            start = month_start(now)
            first = await self.source.device_readings(
                str(device[0]["id"]), since=start, until=now, limit=1, tenant=device[0].get("tenant")
            )
        except Exception as exc:
            self.lapp.report(exc)
            return
        self.month_first[key] = (start, (first[0].get("printer") or {}).get("pages_total") if first else None)
        if self._current_id() == key:
            self._show(key)

    def _show(self, key: str | None) -> None:
        pane = self.query_one("#device-text", Static)
        if key is None or key not in self.devices:
            pane.update("")
            return
        device, reading, _ = self.devices[key]
        pane.update(self._detail(device, reading or {}, key))

    def _detail(self, device: Mapping[str, Any], reading: Mapping[str, Any], key: str) -> Text:
        out = Text()

        def add(line: str, style: str = "") -> None:
            # one line each, cleaned before Rich sees it (Text.append drops some controls
            # silently); a newline inside data cannot forge a line of its own
            out.append(clean(line) + "\n", style=style)

        sys = reading.get("sys") or {}
        descr = sys.get("descr") or device.get("descr") or ""
        add(" · ".join(str(part) for part in (device["id"], device.get("address"), descr) if part))
        if device.get("error"):
            add(t("dev.error", error=device["error"]), style="red")
        printer = reading.get("printer")
        if printer:
            known = self.month_first.get(key)
            pages = pages_this_month(printer.get("pages_total"), known[1]) if known else None
            add(t("dev.month_pages", pages="…" if known is None else fmt.integer(pages)))
            add(t("dev.supplies"), style="bold")
            for s in printer.get("supplies") or []:
                pct = s.get("percent")
                name = clean(s.get("description") or s.get("index") or "?")
                low = pct is not None and pct < 10
                add(f"  {name[:24]:<24} {_bar(pct)} {fmt.percent(pct)}", style="red" if low else "")
        ups = reading.get("ups")
        if ups:
            add(device_summary(device, reading))
            if ups.get("load_pct") is not None:
                add(t("dev.ups_load", load=fmt.percent(ups["load_pct"]), battery=tv("snmp", ups.get("battery_status"))))
        interfaces = reading.get("interfaces")
        if interfaces:
            add(t("dev.interfaces"), style="bold")
            for i in sorted(interfaces, key=lambda i: (not i.get("uplink"), i.get("index", 0))):
                up = i.get("oper_status") == "up"
                speed = f"{fmt.integer(i['speed_bps'] / 1e6)} Mbit/s" if i.get("speed_bps") else ""
                flag = f" [{t('dev.uplink')}]" if i.get("uplink") else ""
                name = clean(i.get("name") or i.get("descr") or str(i.get("index")))
                add(
                    f"  {name[:20]:<20} {clean(tv('snmp', i.get('oper_status'))):<6} {speed:>12}{flag}",
                    style="" if up else ("bold red" if i.get("uplink") else "dim"),
                )
        return out
