"""A small, typed builder for Grafana dashboard JSON (schemaVersion 39).

Just what the Leitstand dashboards use: stat, gauge, bar gauge, time series
and table panels over Prometheus queries, query and datasource variables.
The datasource is always ``${DS_PROMETHEUS}``: an import input for the UI
import and a datasource variable of the same name, so the same JSON works
imported, provisioned from files and pushed (which maps it to a uid).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DS", "Dashboard", "Panel", "Threshold", "query_var"]

DS: dict[str, str] = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
Threshold = tuple[str, float | None]  # (colour, from value); the first has None

_SIZES = {"stat": (4, 4), "gauge": (4, 6), "bargauge": (8, 8), "timeseries": (12, 8), "table": (12, 8)}


@dataclass(frozen=True)
class Panel:
    title: str
    kind: str  # stat | gauge | bargauge | timeseries | table
    exprs: Sequence[str]
    unit: str = "short"
    thresholds: Sequence[Threshold] = (("green", None),)
    legend: str = ""
    description: str = ""
    width: int = 0
    decimals: int | None = None
    instant: bool = False
    minmax: tuple[float, float] | None = None
    mappings: Sequence[dict[str, Any]] = ()

    def render(self, pid: int, x: int, y: int) -> dict[str, Any]:
        w, h = _SIZES[self.kind]
        w = self.width or w
        defaults: dict[str, Any] = {
            "unit": self.unit,
            "thresholds": {
                "mode": "absolute",
                "steps": [{"color": c, "value": v} for c, v in self.thresholds],
            },
            "color": {"mode": "thresholds" if self.kind != "timeseries" else "palette-classic"},
            "mappings": list(self.mappings),
        }
        if self.decimals is not None:
            defaults["decimals"] = self.decimals
        if self.minmax is not None:
            defaults["min"], defaults["max"] = self.minmax
        instant = self.instant or self.kind in ("table", "bargauge")
        panel: dict[str, Any] = {
            "id": pid,
            "type": self.kind,
            "title": self.title,
            "description": self.description,
            "datasource": DS,
            "gridPos": {"h": h, "w": w, "x": x, "y": y},
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": _options(self.kind),
            "targets": [
                {
                    "datasource": DS,
                    "refId": chr(ord("A") + i),
                    "expr": expr,
                    "legendFormat": self.legend or "__auto",
                    "instant": instant,
                    "range": not instant,
                    **({"format": "table"} if self.kind == "table" else {}),
                }
                for i, expr in enumerate(self.exprs)
            ],
        }
        if self.kind == "table":
            panel["transformations"] = [{"id": "organize", "options": {"excludeByName": {"Time": True}}}]
        return panel


def _options(kind: str) -> dict[str, Any]:
    reduce = {"calcs": ["lastNotNull"], "fields": "", "values": False}
    if kind == "stat":
        return {"reduceOptions": reduce, "colorMode": "background", "graphMode": "area", "textMode": "auto"}
    if kind == "gauge":
        return {"reduceOptions": reduce, "showThresholdMarkers": True}
    if kind == "bargauge":
        return {"reduceOptions": reduce, "displayMode": "gradient", "orientation": "horizontal"}
    if kind == "table":
        return {"showHeader": True, "cellHeight": "sm"}
    return {"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "multi"}}


def query_var(name: str, label: str, metric: str, label_name: str, *, multi: bool = True) -> dict[str, Any]:
    query = f"label_values({metric}, {label_name})"
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DS,
        "query": {"query": query, "refId": f"var-{name}"},
        "definition": query,
        "refresh": 2,
        "sort": 1,
        "multi": multi,
        "includeAll": multi,
        "allValue": ".*",
        "current": {},
        "options": [],
    }


def _ds_var() -> dict[str, Any]:
    return {
        "name": "DS_PROMETHEUS",
        "label": "Datenquelle",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "hide": 0,
        "options": [],
        "refresh": 1,
        "regex": "",
    }


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    rows: Sequence[tuple[str, Sequence[Panel]]]
    variables: Sequence[dict[str, Any]] = ()
    time_from: str = "now-6h"
    tags: Sequence[str] = field(default=("leitstand",))

    def render(self) -> dict[str, Any]:
        panels: list[dict[str, Any]] = []
        pid, y = 1, 0
        for row_title, row in self.rows:
            panels.append(
                {
                    "id": pid,
                    "type": "row",
                    "title": row_title,
                    "collapsed": False,
                    "panels": [],
                    "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                }
            )
            pid, y, x, row_h = pid + 1, y + 1, 0, 0
            for p in row:
                w = p.width or _SIZES[p.kind][0]
                if x + w > 24:
                    x, y, row_h = 0, y + row_h, 0
                panels.append(p.render(pid, x, y))
                pid, x, row_h = pid + 1, x + w, max(row_h, _SIZES[p.kind][1])
            y += row_h
        return {
            "__inputs": [
                {
                    "name": "DS_PROMETHEUS",
                    "label": "Prometheus",
                    "description": "the Prometheus that scrapes the Leitstand collector",
                    "type": "datasource",
                    "pluginId": "prometheus",
                    "pluginName": "Prometheus",
                }
            ],
            "__requires": [
                {"type": "grafana", "id": "grafana", "name": "Grafana", "version": "10.0.0"},
                {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"},
            ],
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": list(self.tags),
            "timezone": "browser",
            "editable": True,
            "graphTooltip": 1,
            "schemaVersion": 39,
            "version": 1,
            "refresh": "1m",
            "time": {"from": self.time_from, "to": "now"},
            "templating": {"list": [_ds_var(), *self.variables]},
            "annotations": {"list": []},
            "links": [
                {
                    "type": "dashboards",
                    "tags": ["leitstand"],
                    "asDropdown": True,
                    "title": "Leitstand",
                    "icon": "external link",
                }
            ],
            "panels": panels,
        }
