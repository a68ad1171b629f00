"""Coverage, counters and the NIC filter through the collector's real HTTP
API and store (SQLite; PostgreSQL with LEITSTAND_TEST_BACKEND=postgres)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from collector.config import Config, LimitsConfig, MeteringConfig, NicFilterConfig, NicsConfig
from collector.metering.model import Period
from tests.collector.conftest import Env, auth, batch, report

NOW = 1_764_000_000.0  # the FakeClock: 2025-11-24 16:00 UTC
DAY = 86400
GIB = 2**30


def usage_of(doc: dict[str, Any], meter: str) -> Decimal:
    return sum((Decimal(m["quantity"]) for m in doc["meters"] if m["meter"] == meter), Decimal(0))


async def usage(env: Env, tenant: str, ts: float = NOW - DAY) -> dict[str, Any]:
    period = Period.containing(ts)
    r = await env.client.get(f"/api/v1/usage?tenant={tenant}&period={period}", headers=auth(env.admin_token))
    assert r.status_code == 200, r.text
    doc: dict[str, Any] = r.json()
    return doc


async def send(env: Env, token: str, agent: str, reports: list[dict[str, Any]], **info: Any) -> None:
    for i in range(0, len(reports), 500):
        r = await env.post(token, batch(agent, reports[i : i + 500], **info))
        assert r.status_code == 200, r.text


@pytest.mark.parametrize("interval", [600, 900])
async def test_a_day_of_10_and_15_minute_reports_is_billed_in_full(env: Env, interval: int) -> None:
    # Issue 13: a report every 10 minutes was billed 300 s of each 600.
    token = await env.enroll(env.tenant("stadt-lohne"), "tc-1")
    start = NOW - 2 * DAY
    reports = [report(k, start + k * interval, interval_s=interval) for k in range(1, DAY // interval + 1)]
    await send(env, token, "tc-1", reports)
    doc = await usage(env, "stadt-lohne")
    assert usage_of(doc, "host_hours") == 24
    assert usage_of(doc, "memory_gib_hours") == 4 * 24  # 4 GiB used all day
    assert usage_of(doc, "storage_gib_hours") == 40 * 24


async def test_a_silence_is_not_billed(env: Env) -> None:
    token = await env.enroll(env.tenant("stadt-lohne"), "srv-1")
    start = NOW - 2 * DAY
    # an hour of minute reports, six hours off, another hour
    ts = [start + 60 * k for k in range(1, 61)] + [start + 7 * 3600 + 60 * k for k in range(1, 61)]
    await send(env, token, "srv-1", [report(i + 1, t, interval_s=60) for i, t in enumerate(ts)])
    assert usage_of(await usage(env, "stadt-lohne"), "host_hours") == 2


def _nics(k: int) -> list[dict[str, Any]]:
    """A VM host: a VM's traffic crosses vnet0, br0 and eno1; a container's veth0 and docker0."""
    gib = k * GIB
    return [
        {"nic": "lo", "rx_bytes_total": 5 * gib, "tx_bytes_total": 5 * gib},
        {"nic": "eno1", "rx_bytes_total": gib, "tx_bytes_total": gib, "speed_bps": 10**10},
        {"nic": "br0", "rx_bytes_total": gib, "tx_bytes_total": gib},
        {"nic": "vnet0", "rx_bytes_total": gib, "tx_bytes_total": gib},
        {"nic": "docker0", "rx_bytes_total": gib, "tx_bytes_total": gib},
        {"nic": "veth0a1b", "rx_bytes_total": gib, "tx_bytes_total": gib},
    ]


async def test_network_counts_each_byte_once_on_the_physical_interface(env: Env) -> None:
    token = await env.enroll(env.tenant("stadt-lohne"), "kvm-1")
    start = NOW - 2 * DAY
    await send(env, token, "kvm-1", [report(k, start + 60 * k, net=_nics(k)) for k in range(1, 11)])
    # 9 deltas of 1 GiB in and 1 GiB out on eno1, nothing else
    assert usage_of(await usage(env, "stadt-lohne"), "network_gib") == 18


async def test_the_nic_filter_is_configured_per_tenant(make_env: Any) -> None:
    nics = NicsConfig(tenant={"kreis": NicFilterConfig(include=["br*"], exclude=[])})
    env: Env = make_env(Config(metering=MeteringConfig(limits=LimitsConfig(nics=nics))))
    start = NOW - 2 * DAY
    for tenant, agent in (("stadt-lohne", "kvm-1"), ("kreis", "kvm-2")):
        token = await env.enroll(env.tenant(tenant), agent)
        await send(env, token, agent, [report(k, start + 60 * k, net=_nics(k)) for k in range(1, 11)])
    assert usage_of(await usage(env, "stadt-lohne"), "network_gib") == 18  # eno1
    assert usage_of(await usage(env, "kreis"), "network_gib") == 18  # br0 only
    await env.client.aclose()


def _printer(ts: float, pages: int, uptime: float, serial: str | None = None) -> dict[str, Any]:
    printer: dict[str, Any] = {"pages_total": pages}
    if serial:
        printer["serial"] = serial
    return {"device": "drucker-1", "kind": "printer", "ts": ts, "sys": {"uptime_s": uptime}, "printer": printer}


async def test_a_swapped_printer_bills_its_pages_not_two_to_the_32(env: Env) -> None:
    # Issue 13's regression: the leased unit (15,000 pages) swapped over a weekend
    # for one at 11,340 with a higher uptime; then it prints 200 more.
    token = await env.enroll(env.tenant("stadt-lohne"), "poller-1")
    t = NOW - 4 * DAY
    readings = [
        (t, 14_000, 10_000.0),
        (t + 3600, 15_000, 13_600.0),  # 1,000 pages in an hour
        (t + 3600 + 2 * DAY, 11_340, 900_000.0),  # the replacement, polled on Monday
        (t + 7200 + 2 * DAY, 11_540, 903_600.0),
    ]
    reports = [report(i + 1, ts, snmp=[_printer(ts, pages, up)]) for i, (ts, pages, up) in enumerate(readings)]
    await send(env, token, "poller-1", reports)
    assert usage_of(await usage(env, "stadt-lohne", t), "printed_pages") == 1_000 + 11_340 + 200
