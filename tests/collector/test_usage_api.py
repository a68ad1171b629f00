"""GET /api/v1/usage and /api/v1/periods: the DESIGN.md shape, decimal
strings only, and tenant isolation."""

from __future__ import annotations

from typing import Any

import pytest

from collector.metering.model import Period
from tests.collector.conftest import Env, auth, batch, report

T0 = 1_764_000_000.0  # 2025-11-24
PERIOD = str(Period.containing(T0))


async def _fleet(env: Env) -> None:
    for tenant, agent in (("stadt-lohne", "lohne-1"), ("gemeinde-dinklage", "dinklage-1")):
        token = await env.enroll(env.tenant(tenant), agent)
        reports = [report(s, T0 - 600 + 60 * s, cpu={"count": 2, "percent": 5, "busy_seconds_total": 10.0 * s})
                   for s in range(1, 10)]  # fmt: skip
        r = await env.post(token, batch(agent, reports))
        assert r.status_code == 200, r.text


def _no_floats(value: Any) -> None:
    if isinstance(value, dict):
        for v in value.values():
            _no_floats(v)
    elif isinstance(value, list):
        for v in value:
            _no_floats(v)
    else:
        assert not isinstance(value, float), value


async def test_usage_has_the_design_shape_with_decimal_strings(env: Env) -> None:
    await _fleet(env)
    r = await env.client.get(f"/api/v1/usage?tenant=stadt-lohne&period={PERIOD}", headers=auth(env.admin_token))
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["tenant"] == "stadt-lohne"
    assert doc["period"] == PERIOD
    assert doc["status"] == "open"
    assert doc["currency"] == "EUR"
    cpu = next(m for m in doc["meters"] if m["meter"] == "cpu_core_seconds")
    assert cpu == {**cpu, "unit": "s", "quantity": "80.000", "coverage": "1.0000"}
    assert "lines" in doc
    assert "total" in doc
    _no_floats(doc)


async def test_tenant_token_reads_only_its_own_usage(env: Env) -> None:
    await _fleet(env)
    lohne = env.token("tenant", "stadt-lohne")
    own = await env.client.get("/api/v1/usage", headers=auth(lohne))
    assert own.status_code == 200
    assert own.json()["tenant"] == "stadt-lohne"
    other = await env.client.get("/api/v1/usage?tenant=gemeinde-dinklage", headers=auth(lohne))
    assert other.status_code == 403
    assert "stadt-lohne" in other.json()["error"]
    periods = (await env.client.get("/api/v1/periods", headers=auth(lohne))).json()["periods"]
    assert {p["tenant"] for p in periods} == {"stadt-lohne"}


async def test_billing_token_reads_every_tenant_but_must_name_one(env: Env) -> None:
    await _fleet(env)
    billing = env.token("billing")
    r = await env.client.get("/api/v1/usage", headers=auth(billing))
    assert r.status_code == 400
    assert "tenant" in r.json()["error"]
    for tenant in ("stadt-lohne", "gemeinde-dinklage"):
        r = await env.client.get(f"/api/v1/usage?tenant={tenant}&period={PERIOD}", headers=auth(billing))
        assert r.status_code == 200
        assert r.json()["tenant"] == tenant
    periods = (await env.client.get("/api/v1/periods", headers=auth(billing))).json()["periods"]
    assert {p["tenant"] for p in periods} == {"stadt-lohne", "gemeinde-dinklage"}
    assert all(p["status"] == "open" for p in periods)


async def test_agent_and_enroll_tokens_cannot_read_usage(env: Env) -> None:
    enroll = env.tenant("stadt-lohne")
    token = await env.enroll(enroll, "lohne-1")
    for t in (enroll, token):
        r = await env.client.get("/api/v1/usage?tenant=stadt-lohne", headers=auth(t))
        assert r.status_code == 403


async def test_bad_period_is_400(env: Env) -> None:
    r = await env.client.get("/api/v1/usage?tenant=x&period=2026-13", headers=auth(env.admin_token))
    assert r.status_code in (400, 404)
    env.tenant("x")
    r = await env.client.get("/api/v1/usage?tenant=x&period=2026-13", headers=auth(env.admin_token))
    assert r.status_code == 400
    assert "YYYY-MM" in r.json()["error"]


async def test_period_far_out_of_range_is_400_not_500(env: Env) -> None:
    env.tenant("x")
    for period in ("9999-12", "1969-12", "0000-01"):
        r = await env.client.get(f"/api/v1/usage?tenant=x&period={period}", headers=auth(env.admin_token))
        assert r.status_code == 400, r.text
        assert "out of range" in r.json()["error"]


async def test_a_hostile_spike_is_quarantined_visibly_and_hurts_no_one_else(env: Env) -> None:
    await _fleet(env)  # both tenants report normally
    token = await env.enroll(env.tenant("stadt-lohne"), "lohne-2", "rathaus-tc-9")
    cpu = {"count": 4, "percent": 5}
    spike = [
        report(1, T0 - 120, cpu={**cpu, "busy_seconds_total": 10.0}),
        report(2, T0 - 60, cpu={**cpu, "busy_seconds_total": 9e12}),  # 9e12 s on 4 cores in 60 s
    ]
    r = await env.post(token, batch("lohne-2", spike, hostname="rathaus-tc-9"))
    assert r.status_code == 200, r.text
    other = await env.post(await env.enroll(env.tenant("gemeinde-dinklage"), "dinklage-2"),
                           batch("dinklage-2", [report(1, T0 - 30)]))  # fmt: skip
    assert other.status_code == 200
    r = await env.client.get(f"/api/v1/usage?tenant=stadt-lohne&period={PERIOD}", headers=auth(env.admin_token))
    doc = r.json()
    cpu_meter = next(m for m in doc["meters"] if m["meter"] == "cpu_core_seconds")
    assert cpu_meter["quantity"] == "80.000"  # unchanged: the spike is not billed
    assert doc["quarantine_pending"] == 1
    (item,) = doc["quarantine"]
    assert item == {
        "id": item["id"],
        "rule": "cpu_above_cores",
        "meter": "cpu_core_seconds",
        "dim": "",
        "subject_kind": "host",
        "subject": "lohne-2",
        "subject_name": "rathaus-tc-9",
        "agent_id": "lohne-2",
        "quantity": "8999999999990.000",
        "unit": "s",
        "start": "2025-11-24T15:58:00Z",
        "end": "2025-11-24T15:59:00Z",
        "evidence": item["evidence"],
        "status": "pending",
    }
    assert "9000000000000" in item["evidence"]
    _no_floats(doc)
    # another tenant sees nothing of it
    dinklage = (await env.client.get(f"/api/v1/usage?tenant=gemeinde-dinklage&period={PERIOD}",
                                     headers=auth(env.admin_token))).json()  # fmt: skip
    assert (dinklage["quarantine"], dinklage["quarantine_pending"]) == ([], 0)
    assert env.count("SELECT count(*) FROM samples WHERE agent_id = 'dinklage-2'") == 1


def _printer(pages: int) -> list[dict[str, Any]]:
    sys = {"uptime_s": 10_000.0, "name": "Drucker Flur 2"}
    return [{"device": "prn-1", "kind": "printer", "sys": sys, "printer": {"pages_total": pages}}]


# (rule, meter, what report 2 says instead, what the tenant's invoice shows for that meter)
HOSTILE = [
    ("memory_above_total", "memory_gib_hours",
     {"memory": {"total_bytes": 8 << 30, "used_bytes": 16 << 30}}, "0.033333"),  # r1 and r3: 2 x 15 s of 4 GiB
    ("disk_above_total", "storage_gib_hours",
     {"disks": [{"mount": "/", "total_bytes": 100 << 30, "used_bytes": 200 << 30}]}, "0.333333"),  # 2 x 15 s of 40 GiB
    ("network_above_link", "network_gib",
     {"net": [{"nic": "eth0", "rx_bytes_total": 2**62, "tx_bytes_total": 1000}]}, "0.000003"),  # rx reset, tx +500
    ("pages_above_ceiling", "printed_pages", {"snmp": _printer(2**62)}, "10"),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "meter", "hostile", "billed"), HOSTILE, ids=[h[0] for h in HOSTILE])
async def test_each_hostile_value_is_held_and_the_invoice_unchanged(
    env: Env, rule: str, meter: str, hostile: dict[str, Any], billed: str
) -> None:
    other = await env.enroll(env.tenant("gemeinde-dinklage"), "dinklage-1")
    token = await env.enroll(env.tenant("stadt-lohne"), "lohne-1")
    reports = [
        report(1, T0 - 30, snmp=_printer(100)),
        report(2, T0 - 15, **({"snmp": _printer(150)} | hostile)),
        report(3, T0, snmp=_printer(2**62 + 10) if "snmp" in hostile else _printer(160)),
    ]
    reports[2]["net"] = [{"nic": "eth0", "rx_bytes_total": 3000, "tx_bytes_total": 1500}]
    r = await env.post(token, batch("lohne-1", reports))
    assert r.status_code == 200, r.text
    r = await env.post(other, batch("dinklage-1", [report(1, T0 - 15), report(2, T0)]))
    assert r.status_code == 200, r.text  # another tenant's reports are stored as ever
    doc = (
        await env.client.get(f"/api/v1/usage?tenant=stadt-lohne&period={PERIOD}", headers=auth(env.admin_token))
    ).json()
    assert [(q["rule"], q["meter"], q["status"]) for q in doc["quarantine"]] == [(rule, meter, "pending")]
    shown = {m["meter"]: m["quantity"] for m in doc["meters"]}
    assert shown[meter] == billed  # without the held value
    (item,) = doc["quarantine"]
    who = ("device", "prn-1", "Drucker Flur 2") if meter == "printed_pages" else ("host", "lohne-1", "lohne-1")
    assert (item["subject_kind"], item["subject"], item["subject_name"], item["agent_id"]) == (*who, "lohne-1")
    assert env.count("SELECT count(*) FROM samples WHERE agent_id = 'dinklage-1'") == 2
