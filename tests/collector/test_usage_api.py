"""GET /api/v1/usage and /api/v1/periods: the DESIGN.md shape, decimal
strings only, and tenant isolation."""

from __future__ import annotations

from typing import Any

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
