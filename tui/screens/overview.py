"""Overview: per tenant and site, hosts up/down, devices with problems, firing
alerts by severity, KRITIS applications not ready, metering coverage."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from .. import fmt
from ..i18n import t
from ..model import SEVERITIES, OverviewRow, device_problems, host_rows, overview, usage_coverage
from ..safe_text import text
from ..source import CollectorSource, SourceError, gather_limited, optional
from ..widgets import Column, CutLine, FitTable
from .base import ViewScreen

__all__ = ["OverviewScreen", "load_devices"]


async def load_devices(source: CollectorSource) -> list[tuple[dict[str, Any], dict[str, Any] | None, list[str]]]:
    """Devices with their latest reading and problems (details fetched concurrently)."""
    devices = await source.devices()
    details = await gather_limited([source.device(d["id"], tenant=d.get("tenant")) for d in devices])
    out = []
    for device, detail in zip(devices, details, strict=True):
        if isinstance(detail, BaseException):
            if not isinstance(detail, SourceError):
                raise detail
            reading = None
        else:
            reading = detail.get("reading")
        out.append((device, reading, device_problems(device, reading)))
    return out


def _columns() -> list[Column]:
    return [
        Column("tenant", t("ov.col.tenant"), 12, max_width=34, flex=True),
        Column("up", t("ov.col.up"), 3, right=True),
        Column("down", t("ov.col.down"), 3, right=True),
        Column("devices", t("ov.col.devices"), 3, right=True, priority=1),
        Column("alerts", t("ov.col.alerts"), 5, right=True),
        Column("kritis", t("ov.col.kritis"), 3, right=True, priority=1),
        Column("coverage", t("ov.col.coverage"), 6, right=True, priority=2),
    ]


class OverviewScreen(ViewScreen):
    view = "overview"

    def body(self) -> ComposeResult:
        yield Static(t("loading"), id="summary", markup=False)
        yield Static("", id="unavailable", markup=False)
        yield FitTable(_columns(), id="overview-table", zebra_stripes=True)
        yield CutLine("overview-table")

    async def load(self) -> None:
        source = self.source
        hosts_json, devices, alerts, readiness = await asyncio.gather(
            source.hosts(),
            optional(load_devices(source)),
            optional(source.alerts()),
            optional(source.readiness()),
        )
        rows = host_rows(hosts_json)
        self.lapp.host_rows = rows
        tenants = sorted({r.tenant for r in rows} | {str(d.get("tenant")) for d, _, _ in devices or ()})
        usages = await gather_limited([source.usage(tenant) for tenant in tenants])
        coverage: dict[str, Decimal | None] = {}
        for tenant, usage in zip(tenants, usages, strict=True):
            if isinstance(usage, BaseException):
                if not isinstance(usage, SourceError):
                    raise usage
                coverage[tenant] = None
            else:
                coverage[tenant] = usage_coverage(usage)
        device_pairs = None if devices is None else [(d, problems) for d, _, problems in devices]
        self.show(overview(rows, device_pairs, alerts, readiness, coverage), rows, device_pairs, alerts, readiness)

    def show(
        self,
        table_rows: Sequence[OverviewRow],
        hosts: Sequence[Any],
        devices: Sequence[tuple[Mapping[str, Any], Sequence[str]]] | None,
        alerts: Sequence[Mapping[str, Any]] | None,
        readiness: Sequence[Mapping[str, Any]] | None,
    ) -> None:
        up = sum(1 for h in hosts if h.online)
        firing = [a for a in alerts or () if a.get("state") == "firing" and not a.get("silenced")]
        alerts_text = (
            ", ".join(f"{sum(1 for a in firing if a.get('severity') == s)} {t(f'sev.{s}')}" for s in SEVERITIES[:2])
            if alerts is not None
            else "–"
        )
        not_ready = str(sum(1 for a in readiness if a.get("status") == "not_ready")) if readiness is not None else "–"
        bad = str(sum(1 for _, p in devices if p)) if devices is not None else "–"
        summary = t("ov.summary", up=up, total=len(hosts), bad=bad, alerts=alerts_text, nr=not_ready)
        self.query_one("#summary", Static).update(text(summary if hosts or devices else t("ov.empty")))
        missing = [
            t("err.notavailable", what=t(f"view.{name}"))
            for name, value in (("devices", devices), ("alerts", alerts), ("readiness", readiness))
            if value is None
        ]
        self.query_one("#unavailable", Static).update(" · ".join(missing))
        rows = [(json.dumps([row.tenant, row.site]), self._cells(row)) for row in table_rows]
        self.query_one("#overview-table", FitTable).set_rows(rows)

    @staticmethod
    def _cells(row: OverviewRow) -> list[Text | str]:
        if row.site is not None:
            return [text(f"  └ {row.site}", style="dim"), str(row.up), _down(row.down), "", "", "", ""]
        alerts = "/".join(str(row.alerts.get(s, 0)) for s in SEVERITIES)
        alert_style = "bold red" if row.alerts.get("critical") else ("yellow" if row.alerts.get("warning") else "")
        coverage = fmt.ratio(row.coverage)
        return [
            text(row.tenant, style="bold"),
            str(row.up),
            _down(row.down),
            _count(row.devices_bad, "yellow"),
            Text(alerts, style=alert_style),
            _count(row.not_ready, "bold red"),
            Text(coverage, style="yellow" if row.coverage is not None and row.coverage < Decimal("0.95") else ""),
        ]


def _down(n: int) -> Text:
    return Text(str(n), style="bold red" if n else "")


def _count(n: int | None, style: str) -> Text:
    if n is None:
        return Text("–", style="dim")
    return Text(str(n), style=style if n else "")
