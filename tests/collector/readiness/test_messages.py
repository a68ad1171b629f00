"""Every readiness message kind rendered in German and English with realistic values.

German numbers take a decimal comma and a whole value reads without `,0`
(`0,6 km (Warnung unter 200 km …)`); English texts keep the English style.
"""

from __future__ import annotations

import re

import pytest

from collector.readiness.messages import CATALOG, render
from collector.readiness.model import Finding

_HOST = {"host": "fv-einwohner-01", "role": "primary", "site": "rz-magdeburg-sued", "tenant": "zweckverband-nord"}
_SERIES = {"series": "fachverfahren-db", "host": "fv-einwohner-01", "site": "rz-magdeburg-sued"}
_UPS = {"device": "usv-rz-sued-1", "site": "rz-magdeburg-sued"}

#: realistic parameters per kind, as the checks fill them (floats where a check rounds a measurement)
PARAMS: dict[str, dict[str, object]] = {
    "evidence.missing": {"source": "backup_age (fv-einwohner-01)"},
    "evidence.stale": {"source": "ups (usv-rz-sued-1)", "age": "26 h 5 min", "age_s": 93900, "limit": "15 min"},
    "evidence.fresh": {"count": 7, "age": "95 min"},
    "instance.unknown": _HOST,
    "instance.ambiguous": {**_HOST, "agents": "a1b2c3, d4e5f6"},
    "source.ambiguous": {"source": "dns", "host": "fv-einwohner-01", "agents": "a1b2c3, d4e5f6"},
    "instance.healthy": {**_HOST, "cpu": 37.4, "memory": 81.0},
    "instance.overloaded": {**_HOST, "what": "CPU", "value": 93.7, "target": 85.0},
    "instance.no_data": _HOST,
    "instances.count": {"healthy": 1, "total": 2, "target": 2},
    "instances.no_standby": {},
    "sites.count": {"count": 1, "sites": "rz-magdeburg-sued", "target": 2},
    "sites.mismatch": {"host": "fv-einwohner-01", "site": "rz-magdeburg-sued", "reported": "rz-halle"},
    "sites.single": {"site": "rz-magdeburg-sued", "count": 2},
    "sites.spread": {"spread": "rz-halle: 1, rz-magdeburg-sued: 1"},
    "distance.single_site": {"site": "rz-magdeburg-sued"},
    "distance.pair": {"site": "rz-magdeburg-sued", "other": "rz-magdeburg-nord", "km": 0.6, "warn": 200.0, "fail": 5.0},
    "backup.ok": {**_SERIES, "age": "5 h 12 min", "value": 18720.0, "target": "24 h"},
    "backup.too_old": {**_SERIES, "age": "2 d 3 h", "value": 183600.0, "target": "24 h"},
    "backup.near_rpo": {**_SERIES, "age": "22 h 30 min", "value": 81000.0, "target": "24 h"},
    "backup.future": {**_SERIES, "age": "40 min", "value": -2400.0, "target": "24 h"},
    "replication.ok": {**_SERIES, "lag": "45 s", "value": 45.3, "target": "15 min"},
    "replication.too_high": {**_SERIES, "lag": "26 min", "value": 1560.0, "target": "15 min"},
    "replication.near_rpo": {**_SERIES, "lag": "13 min", "value": 780.5, "target": "15 min"},
    "headroom.cpu": {
        "host": "fv-einwohner-02",
        "site": "rz-halle",
        "free": 2.75,
        "need": 3.5,
        "margin": 20,
        "primary": "fv-einwohner-01",
    },
    "headroom.memory": {
        "host": "fv-einwohner-02",
        "site": "rz-halle",
        "free": 12.5,
        "need": 16.0,
        "margin": 20,
        "primary": "fv-einwohner-01",
    },
    "headroom.no_data": {"host": "fv-einwohner-02", "site": "rz-halle"},
    "ups.none": {"site": "rz-halle"},
    "ups.ok": {**_UPS, "runtime": "42 min", "target": "15 min"},
    "ups.runtime_low": {**_UPS, "runtime": "9 min", "target": "15 min"},
    "ups.runtime_near": {**_UPS, "runtime": "17 min", "target": "15 min"},
    "ups.runtime_unknown": _UPS,
    "ups.on_battery": {**_UPS, "runtime": "31 min"},
    "ups.battery": {**_UPS, "status": "low"},
    "ups.self_test_failed": {**_UPS, "result": "failed"},
    "device.unreachable": {**_UPS, "error": "timeout after 2.5 s"},
    "uplinks.none_declared": {"site": "rz-halle"},
    "uplinks.none_flagged": {"site": "rz-halle"},
    "uplinks.down": {"site": "rz-halle", "interface": "Gi1/0/48", "device": "sw-halle-core", "status": "down"},
    "uplinks.ok": {"site": "rz-halle", "up": 2, "target": 2},
    "uplinks.not_redundant": {"site": "rz-halle", "up": 1, "target": 2},
    "uplinks.all_down": {"site": "rz-halle", "target": 2},
    "failover.never": {},
    "failover.failed": {"date": "2026-09-14", "age": 81, "target": 180, "note": ": DB-Umschaltung hing"},
    "failover.overdue": {"date": "2026-03-02", "age": 277, "target": 180},
    "failover.due_soon": {"date": "2026-06-20", "age": 167, "target": 180, "left": 13},
    "failover.ok": {"date": "2026-11-02", "age": 32, "target": 180},
    "cert.ok": {**_SERIES, "days": 74.5, "warn": 30, "fail": 7},
    "cert.expiring": {**_SERIES, "days": 12.0, "warn": 30, "fail": 7},
    "cert.expired": {**_SERIES, "days": 3.2, "warn": 30, "fail": 7},
    "dns.ok": {**_SERIES, "value": 1.0},
    "dns.failed": {**_SERIES, "value": 0.0},
}

_POINT_DECIMAL = re.compile(r"(?<![\d.])\d+\.\d+(?![\d.])")  # 0.6 — not a date 2026-03-02, not 1.2.3
_WHOLE_ZERO = re.compile(r"\d[.,]0(?!\d)")


def _finding(key: str) -> Finding:
    return Finding("warn", key, PARAMS[key])


def test_every_kind_has_realistic_values() -> None:
    assert set(PARAMS) == set(CATALOG)


@pytest.mark.parametrize("key", sorted(CATALOG))
def test_german_numbers(key: str) -> None:
    text = render(_finding(key), "de")
    assert "?" not in text.replace("<Agent-ID>", ""), text  # every field filled
    assert not _WHOLE_ZERO.search(text), text
    # a free-text parameter (an error message) keeps its own characters; the numbers must not
    numbers = _POINT_DECIMAL.findall(text.replace("2.5 s", ""))
    assert not numbers, text
    for name, value in PARAMS[key].items():
        if f"{{{name}}}" in CATALOG[key][0] and isinstance(value, float) and not value.is_integer():
            assert f"{value}".replace(".", ",") in text, (value, text)


@pytest.mark.parametrize("key", sorted(CATALOG))
def test_english_unchanged(key: str) -> None:
    template = CATALOG[key][1]
    assert render(_finding(key), "en") == template.format(**PARAMS[key])


def test_distance_reads_german() -> None:
    """The reported case: a decimal point and `200.0` in German text."""
    finding = _finding("distance.pair")
    assert render(finding, "de").endswith(": 0,6 km (Warnung unter 200 km, Fehler unter 5 km)")
    assert render(finding, "en").endswith(": 0.6 km (warn below 200.0 km, fail below 5.0 km)")


def test_headroom_reads_german() -> None:
    text = render(_finding("headroom.cpu"), "de")
    assert "2,75 Kerne frei" in text and "3,5 Kerne + 20 % Reserve" in text


def test_positive_control_catches_a_point() -> None:
    """The checks above would see a decimal point or a whole `,0` if one slipped through."""
    assert _POINT_DECIMAL.findall("0.6 km (Warnung unter 200 km)") == ["0.6"]
    assert _WHOLE_ZERO.search("Warnung unter 200,0 km")
    assert not _POINT_DECIMAL.findall("am 2026-03-02, Standort 1.2.3")
