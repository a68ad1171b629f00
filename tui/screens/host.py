"""One host: sparklines of the last hours, disks, NICs, textfile inputs, its alerts."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Sparkline, Static

from .. import fmt
from ..i18n import t, tv
from ..model import alerts_for_host, downsample, sort_alerts
from ..safe_text import clean, text, tr
from ..source import optional
from ..widgets import Column, CutLine, FitTable
from .base import ViewScreen

__all__ = ["HostScreen"]

HOURS = 3


def _series(samples: Sequence[Mapping[str, Any]]) -> dict[str, list[float]]:
    cpu, mem, load = [], [], []
    for s in samples:
        if s.get("cpu"):
            cpu.append(float(s["cpu"].get("percent") or 0.0))
        m = s.get("memory") or {}
        if m.get("total_bytes"):
            mem.append(100.0 * m.get("used_bytes", 0) / m["total_bytes"])
        if s.get("load1") is not None:
            load.append(float(s["load1"]))
    return {"cpu": cpu, "mem": mem, "load": load}


def _tables() -> dict[str, list[Column]]:
    return {
        "disks": [
            Column("mount", t("col.mount"), 8, max_width=30),
            Column("device", t("col.device"), 8, priority=2, max_width=30),
            Column("used", t("col.used"), 4, right=True),
            Column("size", t("col.size"), 7, right=True, priority=1),
        ],
        "nics": [
            Column("nic", t("col.nic"), 6, max_width=24),
            Column("rx", t("col.rx"), 8, right=True),
            Column("tx", t("col.tx"), 8, right=True),
            Column("errors", t("col.errors"), 3, right=True, priority=1),
        ],
        "textfile": [
            Column("metric", t("col.metric"), 12, max_width=40),
            Column("labels", t("col.labels"), 8, priority=1, flex=True),
            Column("value", t("col.value"), 6, right=True, max_width=24),
        ],
        "alerts": [
            Column("severity", t("al.col.severity"), 7, max_width=10),
            Column("state", t("al.col.state"), 7, priority=1, max_width=12),
            Column("rule", t("al.col.rule"), 10, max_width=24),
            Column("summary", t("al.col.summary"), 12, flex=True),
        ],
    }


class HostScreen(ViewScreen):
    view = "host"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "bind.back")]

    def __init__(self, agent_id: str) -> None:
        super().__init__()
        self.agent_id = agent_id
        self.detail: dict[str, Any] = {}

    def body(self) -> ComposeResult:
        with VerticalScroll(id="host-body"):
            yield Static(t("loading"), id="host-info", markup=False)
            yield Static("", id="host-gaps", markup=False)
            for key in ("cpu", "mem", "load"):
                yield Static("", id=f"spark-label-{key}", classes="spark-label")
                yield Sparkline([], id=f"spark-{key}")
            for key, columns in _tables().items():
                yield Static(t(f"host.{key}"), classes="section")
                yield FitTable(columns, id=f"host-{key}")
                yield CutLine(f"host-{key}")

    def subtitle(self) -> str:
        return clean(t("view.host", name=self.detail.get("hostname", self.agent_id)))

    def action_back(self) -> None:
        self.app.pop_screen()

    async def load(self) -> None:
        now = self.lapp.clock()
        detail, samples, alerts = await asyncio.gather(
            self.source.host(self.agent_id),
            self.source.samples(self.agent_id, since=now - HOURS * 3600, until=now, limit=10000),
            optional(self.source.alerts()),
        )
        self.detail = detail
        self.show(detail, samples, alerts, now)

    def show(
        self,
        d: Mapping[str, Any],
        samples: Sequence[Mapping[str, Any]],
        alerts: Sequence[Mapping[str, Any]] | None,
        now: float,
    ) -> None:
        self.sub_title = self.subtitle()
        self.query_one("#host-info", Static).update(
            tr(
                "host.info",
                hostname=d.get("hostname"),
                id=d.get("id"),
                tenant=d.get("tenant"),
                site=d.get("site") or "–",
                role=d.get("role"),
                os=d.get("os") or "–",
                version=d.get("version") or "–",
                state=tv("state", d.get("state")),
                seen=fmt.age(d.get("last_seen"), now),
            )
        )
        gaps = d.get("gaps") or []
        self.query_one("#host-gaps", Static).update(
            tr("host.gaps", gaps=", ".join(f"{g['from_seq']}–{g['to_seq']}" for g in gaps)) if gaps else ""
        )
        width = max(self.size.width - 4, 10)
        for key, values in _series(samples).items():
            label = t(f"host.spark.{key}", hours=HOURS)
            if values:
                digits = 2 if key == "load" else 0
                label += "  " + t(
                    "host.spark.range",
                    min=fmt.number(min(values), digits),
                    max=fmt.number(max(values), digits),
                    now=fmt.number(values[-1], digits),
                )
            self.query_one(f"#spark-label-{key}", Static).update(label)
            self.query_one(f"#spark-{key}", Sparkline).data = downsample(values, width)
        report = d.get("report") or {}
        self._fill(
            "disks",
            [
                (
                    x.get("mount", ""),
                    x.get("device", ""),
                    fmt.percent(100 * x.get("used_bytes", 0) / x["total_bytes"] if x.get("total_bytes") else None),
                    fmt.bytes_iec(x.get("total_bytes")),
                )
                for x in report.get("disks") or []
            ],
        )
        self._fill(
            "nics",
            [
                (
                    n.get("nic", ""),
                    fmt.bytes_iec(n.get("rx_bytes_total")),
                    fmt.bytes_iec(n.get("tx_bytes_total")),
                    fmt.integer(n.get("rx_errors_total", 0) + n.get("tx_errors_total", 0)),
                )
                for n in report.get("net") or []
            ],
        )
        self._fill(
            "textfile",
            [
                (
                    s.get("name", ""),
                    ",".join(f"{k}={v}" for k, v in sorted((s.get("labels") or {}).items())),
                    _value(s.get("name", ""), s.get("value")),
                )
                for s in report.get("textfile") or []
            ],
        )
        mine = sort_alerts(alerts_for_host(alerts or [], d))
        self._fill(
            "alerts",
            [
                (tv("sev", a.get("severity")), tv("state", a.get("state")), a.get("rule", ""), a.get("summary", ""))
                for a in mine
            ],
        )

    def _fill(self, key: str, rows: Sequence[Sequence[Any]]) -> None:
        table = self.query_one(f"#host-{key}", FitTable)
        # every cell is data (mounts, NIC names, textfile labels, alert texts)
        table.set_rows([(str(i), [text(cell) for cell in row]) for i, row in enumerate(rows)])
        table.styles.height = len(rows) + 1 if rows else 1


def _value(name: str, value: Any) -> str:
    if isinstance(value, int | float) and name.endswith("timestamp_seconds"):
        return fmt.date_time(float(value))
    return str(value)
