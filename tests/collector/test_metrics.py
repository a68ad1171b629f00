"""/metrics from the store: a custom collector on a registry of its own,
asserted with get_sample_value; the HTTP endpoint's token and ?tenant= rules.

``feed`` is the scenario the Prometheus and dashboard tests share: two
tenants, servers and a thin client with disks, NICs and sessions, a poller
reporting a printer, two UPS and two switches, textfile evidence for a
KRITIS application, tariffs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from collector.config import load_config
from collector.metrics import LeitstandCollector, ScrapeState, Source, WriterStats, render, render_reference
from tests.collector.conftest import Env, auth, batch, report

GIB = 1 << 30

TARIFFS = """\
[[tariff]]
valid_from = "2020-01"
currency = "EUR"
vat_percent = 19

[tariff.prices]
cpu_core_seconds = "0.01"
memory_gib_hours = "0.004"
workplace_days = "1.50"

[tariff.prices.host_hours]
server = "0.05"
thin-client = 0
"""

CONFIG = """\
[metering]
tariffs = "{tariffs}"

[metrics]
require_token = {require_token}

[readiness.sites.rz-nord]
lat = 53.14
lon = 8.21
ups = ["usv-n"]
switches = ["sw-n"]

[readiness.sites.rz-sued]
lat = 51.34
lon = 12.37
ups = ["usv-s"]
switches = ["sw-s"]

[[readiness.applications]]
name = "emw"
tenant = "stadt-lohne"
criticality = "kritis"
rpo = "24h"
rto = "4h"
instances = [
  {{host = "emw-db-1", site = "rz-nord", role = "primary"}},
  {{host = "emw-db-2", site = "rz-sued", role = "standby"}},
]
backup = {{metric = "backup_last_success_timestamp_seconds", labels = {{job = "emw"}}}}
replication = {{metric = "pg_replication_lag_seconds", host = "emw-db-2"}}
"""

#: agent id -> (tenant, site, role)
AGENTS = {
    "emw-db-1": ("stadt-lohne", "rz-nord", "server"),
    "emw-db-2": ("stadt-lohne", "rz-sued", "server"),
    "poller": ("stadt-lohne", "rz-nord", "vm"),
    "tc-017": ("stadt-lohne", "rathaus", "thin-client"),
    "b-web-1": ("stadt-b", "rz-nord", "server"),
}


def write_config(directory: Path, *, require_token: bool = True) -> Path:
    tariffs = directory / "tariffs.toml"
    tariffs.write_text(TARIFFS)
    path = directory / "collector.toml"
    path.write_text(CONFIG.format(tariffs=tariffs, require_token=str(require_token).lower()))
    return path


def _snmp(now: float, seq: int) -> list[dict[str, Any]]:
    printer = {
        "pages_total": 1000 + 10 * seq,
        "pages_mono": 800 + 8 * seq,
        "pages_color": 200 + 2 * seq,
        "device_status": "running",
        "detected_errors": ["lowToner"],
        "supplies": [
            {"index": "1", "description": "Black Toner", "type": "toner", "percent": 8},
            {"index": "2", "description": "Cyan Toner", "type": "toner", "percent": 55},
        ],
    }
    out: list[dict[str, Any]] = [
        {
            "device": "drucker-1",
            "kind": "printer",
            "ts": now,
            "sys": {"name": "HP-1", "uptime_s": 5000},
            "printer": printer,
        }
    ]
    for device in ("usv-n", "usv-s"):
        ups = {
            "source": "ups-mib",
            "on_battery": False,
            "battery_status": "normal",
            "runtime_s": 2400.0,
            "charge_pct": 100,
            "load_pct": 35,
            "input_voltage_v": 230,
        }
        out.append({"device": device, "kind": "ups", "ts": now, "ups": ups})
    for device in ("sw-n", "sw-s"):
        interfaces = [
            {
                "index": 49,
                "name": "Gi1/0/49",
                "oper_status": "up",
                "uplink": True,
                "speed_bps": 10**9,
                "in_octets_total": 10**6 * seq,
                "out_octets_total": 2 * 10**6 * seq,
                "in_errors_total": 0,
                "out_errors_total": 0,
            },
            {
                "index": 50,
                "name": "Gi1/0/50",
                "oper_status": "up",
                "uplink": True,
                "speed_bps": 10**9,
                "in_octets_total": 10**5 * seq,
                "out_octets_total": 10**5 * seq,
            },
            {"index": 1, "name": "Gi1/0/1", "oper_status": "down"},
        ]
        out.append({"device": device, "kind": "switch", "ts": now, "interfaces": interfaces})
    return out


def _report(agent: str, seq: int, ts: float, role: str) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if agent == "emw-db-1":
        extra["textfile"] = [
            {"name": "backup_last_success_timestamp_seconds", "labels": {"job": "emw"}, "value": ts - 3600}
        ]
    if agent == "emw-db-2":
        extra["textfile"] = [{"name": "pg_replication_lag_seconds", "labels": {}, "value": 30}]
    if agent == "poller":
        extra["snmp"] = _snmp(ts, seq)
    return report(
        seq,
        ts,
        cpu={"count": 8, "percent": 20.0 + seq, "busy_seconds_total": 1000.0 + 5 * seq},
        memory={"total_bytes": 32 * GIB, "used_bytes": 8 * GIB, "swap_total_bytes": GIB, "swap_used_bytes": 0},
        disks=[
            {
                "mount": "/",
                "device": "sda1",
                "total_bytes": 100 * GIB,
                "used_bytes": 40 * GIB,
                "read_bytes_total": 10**6 * seq,
                "write_bytes_total": 2 * 10**6 * seq,
            }
        ],
        sessions=1 if role == "thin-client" else 0,
        **extra,
    )


async def feed(client: httpx.AsyncClient, enroll: dict[str, str], now: float, *, reports: int = 3) -> None:
    """Enroll the agents and post ``reports`` reports each, 15 s apart, ending at ``now``."""
    for agent, (tenant, site, role) in AGENTS.items():
        r = await client.post(
            "/api/v1/enroll", json={"agent_id": agent, "hostname": agent}, headers=auth(enroll[tenant])
        )
        assert r.status_code == 200, r.text
        token = r.json()["token"]
        body = batch(
            agent,
            [_report(agent, seq, now - 15 * (reports - seq), role) for seq in range(1, reports + 1)],
            site=site,
            role=role,
            boot_time=now - 86400,
        )
        r = await client.post("/api/v1/reports", json=body, headers=auth(token))
        assert r.status_code == 200, r.text


@pytest_asyncio.fixture
async def fed(make_env: Callable[..., Env], tmp_path: Path) -> AsyncIterator[Env]:
    env = make_env(load_config(write_config(tmp_path)))
    await feed(env.client, {t: env.tenant(t) for t in ("stadt-lohne", "stadt-b")}, env.clock.now)
    yield env
    await env.client.aclose()


def _source(env: Env, tenant: str | None) -> Source:
    collector = env.app.state.collector
    return Source(
        conn=collector.reader,
        now=env.clock.now,
        tenant=tenant,
        writer=WriterStats(depth=0, commits=collector.writer.commits, jobs=1, last_error=None),
        db_path=str(env.db_path),
        tariffs=collector.tariffs,
        readiness=env.app.state.readiness,
        state=ScrapeState(),
    )


def registry_of(env: Env, tenant: str | None = None) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(LeitstandCollector(_source(env, tenant)))
    return registry


HOST = {"tenant": "stadt-lohne", "site": "rz-nord", "host": "emw-db-1", "agent_id": "emw-db-1", "role": "server"}


async def test_host_state_and_utilization_come_from_the_latest_report(fed: Env) -> None:
    reg = registry_of(fed)
    assert reg.get_sample_value("leitstand_host_up", HOST) == 1
    assert reg.get_sample_value("leitstand_host_cpu_percent", HOST) == 23.0
    assert reg.get_sample_value("leitstand_host_memory_used_bytes", HOST) == 8 * GIB
    assert reg.get_sample_value("leitstand_host_disk_size_bytes", {**HOST, "mount": "/"}) == 100 * GIB
    assert reg.get_sample_value("leitstand_host_cpu_busy_seconds_total", HOST) == 1015.0
    assert reg.get_sample_value("leitstand_host_reports_total", HOST) == 3
    assert reg.get_sample_value("leitstand_host_last_report_timestamp_seconds", HOST) == fed.clock.now
    # three reports in one POST: one arrival, so the send interval falls back to the sample interval
    assert reg.get_sample_value("leitstand_host_send_interval_seconds", HOST) == 15.0


async def test_an_offline_host_keeps_its_state_and_loses_its_stale_values(fed: Env) -> None:
    fed.clock.now += 3600
    reg = registry_of(fed)
    assert reg.get_sample_value("leitstand_host_up", HOST) == 0
    assert reg.get_sample_value("leitstand_host_reports_total", HOST) == 3
    assert reg.get_sample_value("leitstand_host_cpu_percent", HOST) is None


async def test_device_readings(fed: Env) -> None:
    reg = registry_of(fed)
    printer = {"tenant": "stadt-lohne", "site": "rz-nord", "device": "drucker-1"}
    assert reg.get_sample_value("leitstand_printer_pages_total", printer) == 1030
    assert (
        reg.get_sample_value(
            "leitstand_printer_supply_level_percent", {**printer, "supply": "Black Toner", "type": "toner"}
        )
        == 8
    )
    assert reg.get_sample_value("leitstand_printer_error", {**printer, "error": "jammed"}) == 0
    # the readiness config puts usv-s in rz-sued, though its poller sits in rz-nord
    ups = {"tenant": "stadt-lohne", "site": "rz-sued", "device": "usv-s"}
    assert reg.get_sample_value("leitstand_ups_runtime_seconds", ups) == 2400
    assert reg.get_sample_value("leitstand_ups_on_battery", ups) == 0
    uplink = {"tenant": "stadt-lohne", "site": "rz-nord", "device": "sw-n", "interface": "Gi1/0/49"}
    assert reg.get_sample_value("leitstand_switch_uplink_up", uplink) == 1
    assert reg.get_sample_value("leitstand_switch_interface_transmit_bytes_total", uplink) == 6 * 10**6
    assert reg.get_sample_value("leitstand_switch_uplink_up", {**uplink, "interface": "Gi1/0/1"}) is None


async def test_metering_counters_are_the_ledger_totals_in_base_units(fed: Env) -> None:
    reg = registry_of(fed)
    lohne = {"tenant": "stadt-lohne"}
    # emw-db-1: two deltas of 5 busy seconds
    usage = (
        await fed.client.get("/api/v1/usage", params={"tenant": "stadt-lohne"}, headers=auth(fed.admin_token))
    ).json()
    quantities = {m["meter"]: float(m["quantity"]) for m in usage["meters"]}
    assert reg.get_sample_value("leitstand_metering_cpu_seconds_total", lohne) == pytest.approx(
        quantities["cpu_core_seconds"]
    )
    assert reg.get_sample_value(
        "leitstand_metering_period_quantity", {**lohne, "meter": "cpu_core_seconds", "role": ""}
    ) == pytest.approx(quantities["cpu_core_seconds"])
    assert reg.get_sample_value("leitstand_metering_workplace_day_bookings_total", lohne) == 1
    assert reg.get_sample_value("leitstand_metering_printed_pages_total", lohne) == 20
    assert reg.get_sample_value("leitstand_metering_coverage_ratio", {**lohne, "meter": "host_hours"}) == 1.0
    # priced like the invoice: the net of the usage document's lines
    net = sum(float(line["amount"]) for line in usage["lines"] if line.get("amount") and line["kind"] != "vat")
    cost = sum(
        reg.get_sample_value("leitstand_metering_period_cost", {**lohne, "currency": "EUR", "line": line}) or 0.0
        for line in ("cpu_core_seconds", "memory_gib_hours", "host_hours", "workplace_days")
    )
    assert cost == pytest.approx(net)


async def test_readiness_and_alert_counts(fed: Env) -> None:
    reg = registry_of(fed)
    app = {"tenant": "stadt-lohne", "app": "emw"}
    # no failover test recorded: not ready
    assert reg.get_sample_value("leitstand_readiness_status", {**app, "status": "not_ready"}) == 1
    assert (
        reg.get_sample_value("leitstand_readiness_check_verdict", {**app, "check": "failover_test", "verdict": "fail"})
        == 1
    )
    assert (
        reg.get_sample_value("leitstand_readiness_check_verdict", {**app, "check": "backup_age", "verdict": "pass"})
        == 1
    )
    conn = fed.db()
    try:
        conn.execute(
            "INSERT INTO alerts (id, rule, object, tenant, severity, state, started_at, updated_at) "
            "VALUES ('a1', 'disk_full', 'emw-db-1:/', 'stadt-lohne', 'critical', 'firing', 0, 0)"
        )
    finally:
        conn.close()
    reg = registry_of(fed)
    assert (
        reg.get_sample_value("leitstand_alerts", {"tenant": "stadt-lohne", "severity": "critical", "state": "firing"})
        == 1
    )
    assert (
        reg.get_sample_value("leitstand_alerts", {"tenant": "stadt-b", "severity": "critical", "state": "firing"}) == 0
    )


async def test_a_tenant_scrape_holds_only_that_tenant(fed: Env) -> None:
    reg = registry_of(fed, "stadt-b")
    assert (
        reg.get_sample_value(
            "leitstand_host_up", {**HOST, "host": "b-web-1", "agent_id": "b-web-1", "tenant": "stadt-b"}
        )
        == 1
    )
    assert reg.get_sample_value("leitstand_host_up", HOST) is None
    assert reg.get_sample_value("leitstand_metering_cpu_seconds_total", {"tenant": "stadt-lohne"}) is None
    assert reg.get_sample_value("leitstand_readiness_score_ratio", {"tenant": "stadt-lohne", "app": "emw"}) is None
    assert reg.get_sample_value("leitstand_collector_writer_queue_depth") == 0


async def test_the_global_registry_stays_untouched(fed: Env) -> None:
    r = await fed.client.get("/metrics", headers=auth(fed.admin_token))
    assert r.status_code == 200
    assert REGISTRY.get_sample_value("leitstand_collector_writer_queue_depth") is None
    assert not any(name.startswith("leitstand_") for name in REGISTRY._names_to_collectors)


async def test_endpoint_narrows_to_a_tenant(fed: Env) -> None:
    r = await fed.client.get("/metrics", params={"tenant": "stadt-b"}, headers=auth(fed.admin_token))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert 'tenant="stadt-b"' in r.text and 'tenant="stadt-lohne"' not in r.text
    # an admin sees every tenant anyway: an unknown one is named as such
    r = await fed.client.get("/metrics", params={"tenant": "nowhere"}, headers=auth(fed.admin_token))
    assert r.status_code == 404 and r.json()["error"] == "unknown tenant 'nowhere'"


async def test_gzip_when_the_scraper_accepts_it(fed: Env) -> None:
    r = await fed.client.get("/metrics", headers={"Accept-Encoding": "gzip", **auth(fed.admin_token)})
    assert r.headers["content-encoding"] == "gzip" and "leitstand_host_up" in r.text


async def test_token_protection(make_env: Callable[..., Env], tmp_path: Path) -> None:
    env = make_env(load_config(write_config(tmp_path, require_token=True)))
    await feed(env.client, {t: env.tenant(t) for t in ("stadt-lohne", "stadt-b")}, env.clock.now)
    try:
        r = await env.client.get("/metrics")
        assert r.status_code == 401 and r.json()["error"] == "missing bearer token"
        assert (await env.client.get("/metrics", headers=auth(env.admin_token))).status_code == 200
        tenant_token = env.token("tenant", "stadt-b")
        r = await env.client.get("/metrics", headers=auth(tenant_token))
        assert r.status_code == 200 and 'tenant="stadt-lohne"' not in r.text and 'tenant="stadt-b"' in r.text
        # another tenant and a tenant that does not exist answer alike: nothing to enumerate
        other = await env.client.get("/metrics", params={"tenant": "stadt-lohne"}, headers=auth(tenant_token))
        unknown = await env.client.get("/metrics", params={"tenant": "nowhere"}, headers=auth(tenant_token))
        assert other.status_code == unknown.status_code == 403
        assert other.json() == unknown.json() == {"error": "token may only read tenant 'stadt-b'", "detail": []}
        # the metrics role: every tenant, for Prometheus, and nothing else
        metrics_token = env.token("metrics")
        r = await env.client.get("/metrics", headers=auth(metrics_token))
        assert r.status_code == 200 and 'tenant="stadt-lohne"' in r.text and 'tenant="stadt-b"' in r.text
        r = await env.client.get("/metrics", params={"tenant": "stadt-b"}, headers=auth(metrics_token))
        assert r.status_code == 200 and 'tenant="stadt-lohne"' not in r.text
        r = await env.client.get("/api/v1/hosts", headers=auth(metrics_token))
        assert r.status_code == 403
        r = await env.client.get("/metrics", headers=auth(env.token("billing")))
        assert r.status_code == 403 and r.json()["detail"] == ["use a metrics, admin or tenant token"]
        r = await env.client.get("/metrics", headers=auth("lst_0000_not-a-token"))
        assert r.status_code == 401
    finally:
        await env.client.aclose()


async def test_a_token_is_required_by_default(make_env: Callable[..., Env]) -> None:
    env = make_env()
    try:
        assert env.app.state.collector.config.metrics.require_token is True
        r = await env.client.get("/metrics")
        assert r.status_code == 401 and r.json()["error"] == "missing bearer token"
    finally:
        await env.client.aclose()


async def test_a_closed_network_may_turn_the_token_off(make_env: Callable[..., Env], tmp_path: Path) -> None:
    env = make_env(load_config(write_config(tmp_path, require_token=False)))
    await feed(env.client, {t: env.tenant(t) for t in ("stadt-lohne", "stadt-b")}, env.clock.now)
    try:
        r = await env.client.get("/metrics")
        assert r.status_code == 200 and 'tenant="stadt-lohne"' in r.text and 'tenant="stadt-b"' in r.text
        # a token sent anyway still narrows what it may see
        r = await env.client.get("/metrics", headers=auth(env.token("tenant", "stadt-b")))
        assert r.status_code == 200 and 'tenant="stadt-lohne"' not in r.text
    finally:
        await env.client.aclose()


HOSTILE = 'a "quoted" \\ back\\slash\nnew line, ümlaut ✓ \\n'


def _parsed(text: str) -> tuple[dict[str, tuple[str, str]], list[tuple[str, tuple[tuple[str, str], ...], float]]]:
    families: dict[str, tuple[str, str]] = {}
    samples = []
    for family in text_string_to_metric_families(text):
        families[family.name] = (family.type, family.documentation)
        samples += [(s.name, tuple(sorted(s.labels.items())), s.value) for s in family.samples]
    return families, sorted(samples)


@pytest.mark.parametrize("tenant", [None, "stadt-b"])
async def test_writer_serves_the_samples_of_prometheus_clients_exposition(fed: Env, tenant: str | None) -> None:
    """The exposition writer against generate_latest of the same store, with
    label values an agent or an SNMP answer can send: quotes, backslashes,
    newlines, unicode."""
    token = await fed.enroll(fed.tenant("stadt-b"), "hostile-1", HOSTILE)
    snmp = _snmp(fed.clock.now, 1)[:1]
    snmp[0]["device"] = "drucker-hostile"
    snmp[0]["printer"]["supplies"][0]["description"] = HOSTILE
    body = batch(
        "hostile-1",
        [
            report(
                1,
                fed.clock.now,
                disks=[{"mount": HOSTILE, "device": "sda1", "total_bytes": GIB, "used_bytes": 1}],
                net=[{"nic": HOSTILE + "2", "rx_bytes_total": 1, "tx_bytes_total": 2}],
                snmp=snmp,
            )
        ],
        site=HOSTILE,
        role="server",
    )
    r = await fed.client.post("/api/v1/reports", json=body, headers=auth(token))
    assert r.status_code == 200, r.text

    new, content_type = render(_source(fed, tenant))
    reference = render_reference(_source(fed, tenant))
    assert content_type.startswith("text/plain; version=0.0.4")
    new_families, new_samples = _parsed(new.decode())
    ref_families, ref_samples = _parsed(reference.decode())
    assert new_families == ref_families
    # the scrape's own duration differs between two scrapes, and only it
    duration = "leitstand_collector_scrape_duration_seconds"
    assert [s for s in new_samples if s[0] != duration] == [s for s in ref_samples if s[0] != duration]
    assert [s[:2] for s in new_samples] == [s[:2] for s in ref_samples]
    hostile = [s for s in new_samples if HOSTILE in dict(s[1]).values()]
    assert {"leitstand_host_info", "leitstand_host_disk_size_bytes"} <= {s[0] for s in hostile}
    assert any(dict(s[1]).get("nic") == HOSTILE + "2" for s in new_samples)
    assert any(dict(s[1]).get("supply") == HOSTILE for s in new_samples)
