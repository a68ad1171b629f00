"""The test fleet with the long names real municipal IT has (a Zweckverband
tenant, data centre sites, descriptive hostnames): what the snapshots and the
layout tests render, so that a column that cannot give way shows up there."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.tui.contract import AlertsContract
from tests.tui.fleet import HOSTS, POLLER, Fleet, build_fleet, kritis_config

__all__ = ["LONG", "build_long_fleet", "long_contract", "rename"]

#: short test names → realistic long ones
LONG = {
    "zweckverband": "zweckverband-kommunale-it-nord",
    "gemeinde-steinfeld": "gemeinde-steinfeld-oldenburger-land",
    "rz-nord": "rz-magdeburg-sued",
    "bauhof": "bauhof-industriestrasse",
    "zv-poller": "zv-snmp-poller-rz-magdeburg-sued",
    "lohne-srv-01": "lohne-srv-01-fachverfahren-ewo",
    "lohne-srv-02": "lohne-srv-02-ausweich-bauhof",
    "lohne-tc-003": "lohne-tc-003-bauhof-werkstatt",
    "steinfeld-tc-001": "steinfeld-tc-001-buergerbuero-schalter-2",
    "drucker-rathaus-eg": "drucker-rathaus-eg-buergerbuero",
}
_PATTERN = re.compile("|".join(re.escape(k) for k in sorted(LONG, key=len, reverse=True)))


def rename(value: Any) -> Any:
    """`value` with every short name replaced by its long one (inside lists, tuples and dicts too)."""
    if isinstance(value, str):
        return _PATTERN.sub(lambda m: LONG[m.group(0)], value)
    if isinstance(value, list | tuple):
        return type(value)(rename(v) for v in value)
    if isinstance(value, dict):
        return {k: rename(v) for k, v in value.items()}
    return value


async def build_long_fleet(tmp_path: Path) -> Fleet:
    return await build_fleet(tmp_path, kritis_config(rename), hosts=rename(HOSTS), poller=rename(POLLER))


def long_contract() -> AlertsContract:
    contract = AlertsContract()
    contract.alerts = {key: rename(alert) for key, alert in contract.alerts.items()}
    return contract
