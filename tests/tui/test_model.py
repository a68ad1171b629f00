"""The TUI's pure layer: filtering, sorting, aggregation, parsing (no terminal)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tui import i18n
from tui.model import (
    HostRow,
    alert_object,
    alerts_for_host,
    apply_query,
    device_problems,
    device_summary,
    downsample,
    host_rows,
    overview,
    pages_this_month,
    parse_duration,
    parse_query,
    silence_matchers,
    sort_rows,
)


@pytest.fixture(autouse=True)
def _english() -> None:
    i18n.set_language("en")


def host(i: str, tenant: str = "t", site: str = "s", state: str = "online", cpu: float | None = 10.0) -> dict[str, Any]:
    return {
        "id": i,
        "hostname": i,
        "tenant": tenant,
        "site": site,
        "role": "thin-client",
        "state": state,
        "last_seen": 1.0,
        "metrics": {"cpu_percent": cpu, "memory_used_percent": 50.0},
    }


def test_query_words_fields_and_comparisons() -> None:
    rows = host_rows(
        [
            host("rathaus-tc-1", cpu=95.0),
            host("rathaus-tc-2", state="offline"),
            host("bauhof-tc-1", tenant="lohne"),
            host("x", cpu=None),
        ]
    )
    ids = lambda q: [r.id for r in apply_query(rows, parse_query(q))]  # noqa: E731
    assert ids("") == ["rathaus-tc-1", "rathaus-tc-2", "bauhof-tc-1", "x"]
    assert ids("RATHAUS") == ["rathaus-tc-1", "rathaus-tc-2"]
    assert ids("state:off") == ["rathaus-tc-2"]
    assert ids("tenant:lohne tc") == ["bauhof-tc-1"]
    assert ids("cpu>=90") == ["rathaus-tc-1"]
    assert ids("cpu<50") == ["rathaus-tc-2", "bauhof-tc-1"]  # no value never matches a comparison
    assert ids("colour:red") == []  # an unknown field is a plain word
    assert parse_query("host:a cpu>1.5").fields == (("hostname", "a"),)


def test_sort_keeps_missing_values_last_both_ways() -> None:
    rows = host_rows([host("a", cpu=5.0), host("b", cpu=None), host("c", cpu=50.0)])
    assert [r.id for r in sort_rows(rows, "cpu")] == ["a", "c", "b"]
    assert [r.id for r in sort_rows(rows, "cpu", reverse=True)] == ["c", "a", "b"]
    with pytest.raises(ValueError):
        sort_rows(rows, "colour")


def test_overview_per_tenant_and_site_with_missing_features() -> None:
    rows = host_rows([host("a", "t1", "rathaus"), host("b", "t1", "bauhof", "offline"), host("c", "t2", "")])
    alerts: list[dict[str, Any]] = [
        {"tenant": "t1", "state": "firing", "severity": "critical"},
        {"tenant": "t1", "state": "firing", "severity": "warning", "silenced": True},
        {"tenant": "t1", "state": "pending", "severity": "warning"},
    ]
    out = overview(rows, None, alerts, None, {"t1": Decimal("0.98")})
    t1, bauhof, rathaus, t2 = out
    assert (t1.tenant, t1.site, t1.up, t1.down, t1.alerts) == ("t1", None, 1, 1, {"critical": 1})
    assert t1.devices_bad is None and t1.not_ready is None and t1.coverage == Decimal("0.98")
    assert (bauhof.site, bauhof.down, rathaus.site, rathaus.up) == ("bauhof", 1, "rathaus", 1)
    assert (t2.tenant, t2.up, t2.coverage) == ("t2", 1, None)


def test_device_problems() -> None:
    printer = {"printer": {"supplies": [{"percent": 5.0}], "detected_errors": ["jam"]}}
    assert device_problems({"state": "up"}, printer) == ["problem.supply_low", "problem.printer_error"]
    ups = {"ups": {"on_battery": True, "runtime_s": 300}}
    assert device_problems({"state": "up"}, ups) == ["problem.on_battery", "problem.runtime_low"]
    switch = {"interfaces": [{"uplink": True, "oper_status": "down"}, {"oper_status": "down"}]}
    assert device_problems({"state": "stale"}, switch) == ["problem.stale", "problem.uplink_down"]
    assert device_problems({"state": "unreachable"}, None) == ["problem.unreachable"]


def test_alerts_for_host_and_silence_matchers() -> None:
    alerts = [
        {"object": "h1", "labels": {}},
        {"object": "x", "labels": {"host": "h1"}},
        {"object": "y", "labels": {"agent_id": "other"}},
    ]
    assert len(alerts_for_host(alerts, {"id": "h1", "hostname": "h1"})) == 2
    assert silence_matchers({"rule": "r", "object": "o", "labels": {}}) == [
        {"name": "rule", "value": "r", "is_regex": False},
        {"name": "object", "value": "o", "is_regex": False},
    ]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30m", 1800), ("2h", 7200), ("2", 7200), ("1d", 86400), ("1,5 h", 5400), ("2 Std", 7200), ("1w", 604800)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "zwei", "0h", "-1h", "100d"])
def test_parse_duration_rejects(text: str) -> None:
    assert parse_duration(text) is None


def test_downsample_keeps_spikes() -> None:
    values = [1.0] * 100
    values[37] = 99.0
    small = downsample(values, 10)
    assert len(small) == 10 and max(small) == 99.0
    assert downsample([1.0, 2.0], 10) == [1.0, 2.0]


def test_row_search_text_is_lowercase() -> None:
    (row,) = host_rows([host("Rathaus-TC")])
    assert isinstance(row, HostRow) and "rathaus-tc" in row.search


@pytest.mark.parametrize(
    ("alert", "shown"),
    [
        # a host's alert: the agent id becomes the hostname
        ({"object": "a1b2c3", "labels": {"agent_id": "a1b2c3", "host": "lohne-srv-01"}}, "lohne-srv-01"),
        # disk_full names the mount after the agent id
        ({"object": "a1b2c3:/var", "labels": {"agent_id": "a1b2c3", "host": "lohne-srv-01"}}, "lohne-srv-01:/var"),
        # a device's: its name and id, the supply index kept; tenant has its own column
        (
            {"object": "stadt-lohne/prn-1/1", "tenant": "stadt-lohne", "labels": {"device": "prn-1"}},
            "Drucker Bürgerbüro (prn-1)/1",
        ),
        ({"object": "stadt-lohne/ups-9", "tenant": "stadt-lohne", "labels": {"device": "ups-9"}}, "ups-9"),
        # a site's alert and anything unknown: as the collector names it
        (
            {"object": "stadt-lohne/rathaus", "tenant": "stadt-lohne", "labels": {"site": "rathaus"}},
            "stadt-lohne/rathaus",
        ),
        ({"object": "a1b2c3", "labels": {"agent_id": "a1b2c3"}}, "a1b2c3"),
        ({"object": None}, ""),
    ],
)
def test_alert_object_names_host_and_device(alert: dict[str, object], shown: str) -> None:
    names = {("stadt-lohne", "prn-1"): "Drucker Bürgerbüro", ("stadt-lohne", "ups-9"): "ups-9"}
    assert alert_object(alert, names) == shown


@pytest.mark.parametrize(
    ("latest", "first", "pages"),
    [
        (10087, 10000, 87),
        (10000, 10000, 0),  # nothing printed yet this month
        (120, 10000, None),  # the counter went back: a new or reset printer, the month's count is unknown
        (10087, None, None),  # no reading this month yet
        (None, 10000, None),
        (2**40 + 5, 2**40, 5),
    ],
)
def test_pages_this_month(latest: int | None, first: int | None, pages: int | None) -> None:
    assert pages_this_month(latest, first) == pages


def test_printer_summary_keeps_whole_supply_names_and_translates_the_state() -> None:
    device = {"kind": "printer"}
    reading = {
        "printer": {
            "pages_total": 123456,
            "printer_status": "idle",
            "supplies": [{"description": "Black Toner Cartridge", "percent": 100.0}],
        }
    }
    i18n.set_language("de")
    try:
        assert device_summary(device, reading) == "123.456 Seiten · bereit · Black Toner Cartridge 100 %"
    finally:
        i18n.set_language("en")
    assert device_summary(device, reading) == "123,456 pages · idle · Black Toner Cartridge 100%"
    reading["printer"]["printer_status"] = "something-new"
    assert "· something-new ·" in device_summary(device, reading)  # an unknown state as the device said it
