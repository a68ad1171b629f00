"""Device ownership across tenants, through the real HTTP API: a device is
named within its tenant, an assignment holds for the pollers it names only,
and a refused reading is counted, logged and named in the ack, never dropped
silently. Each case also checks that the other tenant's device and invoice
did not move."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from collector.config import Config, DeviceAssignment, DevicesConfig
from tests.collector.conftest import Env, auth, batch, report
from tests.collector.test_devices import printer_reading


def assigned(device: str, tenant: str, *pollers: str) -> Config:
    return Config(devices=DevicesConfig(assign={device: DeviceAssignment(tenant=tenant, pollers=list(pollers))}))


def pages(env: Env, tenant: str, device: str) -> int:
    """Printed pages booked to `tenant` for `device` (printed_pages: 1 scaled unit = 1 page)."""
    return env.count(
        "SELECT coalesce(sum(scaled), 0) FROM ledger_subject WHERE tenant = ? AND kind = 'device' "
        "AND subject = ? AND meter = 'printed_pages'",
        tenant,
        device,
    )


def device_rows(env: Env, device: str) -> list[tuple[Any, ...]]:
    conn = env.db()
    try:
        rows = conn.execute(
            "SELECT tenant, agent_id, readings_total FROM devices WHERE device_id = ? ORDER BY tenant", (device,)
        ).fetchall()
        return [tuple(r) for r in rows]
    finally:
        conn.close()


async def post_pages(env: Env, token: str, agent: str, seq: int, device: str, count: int) -> dict[str, Any]:
    ts = env.clock.now - 600 + seq * 60
    r = await env.post(token, batch(agent, [report(seq, ts, snmp=[printer_reading(device, ts, count)])]))
    assert r.status_code == 200, r.text
    ack: dict[str, Any] = r.json()
    ack.setdefault("refused", [])  # the wire format omits an empty list
    return ack


async def test_a_tenants_agent_reporting_a_device_assigned_to_another_is_refused_visibly(
    make_env: Any, caplog: pytest.LogCaptureFixture
) -> None:
    env: Env = make_env(assigned("prn-rathaus-1", "stadt-b", "poller-b"))
    try:
        token_b = await env.enroll(env.tenant("stadt-b"), "poller-b")
        token_a = await env.enroll(env.tenant("stadt-a"), "poller-a")
        assert (await post_pages(env, token_b, "poller-b", 1, "prn-rathaus-1", 1000))["refused"] == []
        assert (await post_pages(env, token_b, "poller-b", 2, "prn-rathaus-1", 1040))["refused"] == []
        assert pages(env, "stadt-b", "prn-rathaus-1") == 40

        with caplog.at_level(logging.WARNING, logger="leitstand.collector.devices"):
            for seq in (1, 2, 3):
                ack = await post_pages(env, token_a, "poller-a", seq, "prn-rathaus-1", 900_000 + seq)
                assert ack["stored"] == 1 and ack["accepted_through_seq"] == seq  # the report itself is stored
                assert ack["refused"] == [
                    "device prn-rathaus-1: assigned by the collector's config to other pollers; reading refused"
                ]
        # logged once per agent and device, not once per reading
        warnings = [r for r in caplog.records if "reported device 'prn-rathaus-1'" in r.getMessage()]
        assert len(warnings) == 1 and "poller-a" in warnings[0].getMessage()
        assert "stadt-b" in warnings[0].getMessage()
        assert env.count("SELECT refused_total FROM device_refusals WHERE agent_id = 'poller-a'") == 3
        assert env.count("SELECT count(*) FROM samples WHERE agent_id = 'poller-a'") == 3
        text = (await env.client.get("/metrics", headers=auth(env.admin_token))).text
        assert (
            'leitstand_device_readings_refused_total{agent_id="poller-a",device="prn-rathaus-1",tenant="stadt-a"} 3.0'
            in text
        )

        # B's device, its history and its invoice did not move; A got no device
        assert device_rows(env, "prn-rathaus-1") == [("stadt-b", "poller-b", 2)]
        assert env.count("SELECT count(*) FROM device_readings WHERE agent_id = 'poller-a'") == 0
        assert pages(env, "stadt-b", "prn-rathaus-1") == 40
        assert pages(env, "stadt-a", "prn-rathaus-1") == 0

        # B's poller goes on as before
        assert (await post_pages(env, token_b, "poller-b", 3, "prn-rathaus-1", 1050))["refused"] == []
        assert pages(env, "stadt-b", "prn-rathaus-1") == 50
    finally:
        await env.client.aclose()


async def test_an_unassigned_id_claimed_first_does_not_block_the_other_tenants_device(env: Env) -> None:
    token_a = await env.enroll(env.tenant("stadt-a"), "poller-a")
    token_b = await env.enroll(env.tenant("stadt-b"), "poller-b")
    # A's agent reports B's printer name first, with a wild counter
    await post_pages(env, token_a, "poller-a", 1, "drucker-eg", 5000)
    await post_pages(env, token_a, "poller-a", 2, "drucker-eg", 5100)
    # B's own printer of that name is stored and billed to B, paired with B's readings only
    assert (await post_pages(env, token_b, "poller-b", 1, "drucker-eg", 100))["refused"] == []
    assert (await post_pages(env, token_b, "poller-b", 2, "drucker-eg", 130))["refused"] == []
    assert device_rows(env, "drucker-eg") == [("stadt-a", "poller-a", 2), ("stadt-b", "poller-b", 2)]
    assert pages(env, "stadt-b", "drucker-eg") == 30
    assert pages(env, "stadt-a", "drucker-eg") == 100

    reader_b = env.token("tenant", "stadt-b")
    detail = (await env.client.get("/api/v1/devices/drucker-eg", headers=auth(reader_b))).json()
    assert detail["tenant"] == "stadt-b" and detail["reading"]["printer"]["pages_total"] == 130
    history = (await env.client.get("/api/v1/devices/drucker-eg/readings", headers=auth(reader_b))).json()
    assert [h["printer"]["pages_total"] for h in history["readings"]] == [100, 130]
    listed = (await env.client.get("/api/v1/devices", headers=auth(reader_b))).json()
    assert [(d["tenant"], d["id"]) for d in listed["devices"]] == [("stadt-b", "drucker-eg")]

    # an admin sees both; a device id two tenants use needs ?tenant=
    listed = (await env.client.get("/api/v1/devices", headers=auth(env.admin_token))).json()
    assert [(d["tenant"], d["id"]) for d in listed["devices"]] == [("stadt-a", "drucker-eg"), ("stadt-b", "drucker-eg")]
    for path in ("/api/v1/devices/drucker-eg", "/api/v1/devices/drucker-eg/readings"):
        r = await env.client.get(path, headers=auth(env.admin_token))
        assert r.status_code == 409, path
        assert r.json()["detail"] == ["tenants: stadt-a, stadt-b"]
    r = await env.client.get("/api/v1/devices/drucker-eg?tenant=stadt-a", headers=auth(env.admin_token))
    assert r.status_code == 200 and r.json()["reading"]["printer"]["pages_total"] == 5100
    r = await env.client.get("/api/v1/devices/drucker-eg/readings?tenant=stadt-a", headers=auth(env.admin_token))
    assert [h["printer"]["pages_total"] for h in r.json()["readings"]] == [5000, 5100]
    r = await env.client.get("/api/v1/devices/drucker-eg?tenant=stadt-c", headers=auth(env.admin_token))
    assert r.status_code == 404

    # /metrics: one series per tenant's device
    text = (await env.client.get("/metrics", headers=auth(env.admin_token))).text
    polls = [line for line in text.splitlines() if line.startswith("leitstand_device_polls_total{")]
    assert len(polls) == 2
    assert any('tenant="stadt-a"' in line and 'device="drucker-eg"' in line for line in polls)
    assert any('tenant="stadt-b"' in line and 'device="drucker-eg"' in line for line in polls)


async def test_the_named_poller_bills_the_assigned_tenant_and_no_other_poller_can(make_env: Any) -> None:
    env: Env = make_env(assigned("prn-zv-1", "zweckverband", "poller-1"))
    try:
        env.tenant("zweckverband")
        lohne = env.tenant("stadt-lohne")
        token_1 = await env.enroll(lohne, "poller-1")
        token_2 = await env.enroll(lohne, "poller-2")  # same tenant, not named in the assignment
        for seq, count in ((1, 10), (2, 25)):
            assert (await post_pages(env, token_1, "poller-1", seq, "prn-zv-1", count))["refused"] == []
        assert device_rows(env, "prn-zv-1") == [("zweckverband", "poller-1", 2)]
        assert pages(env, "zweckverband", "prn-zv-1") == 15
        assert pages(env, "stadt-lohne", "prn-zv-1") == 0

        ack = await post_pages(env, token_2, "poller-2", 1, "prn-zv-1", 99_999)
        assert ack["refused"] and "prn-zv-1" in ack["refused"][0]
        assert device_rows(env, "prn-zv-1") == [("zweckverband", "poller-1", 2)]
        assert pages(env, "zweckverband", "prn-zv-1") == 15

        owner = env.token("tenant", "zweckverband")
        r = await env.client.get("/api/v1/devices/prn-zv-1", headers=auth(owner))
        assert r.status_code == 200 and r.json()["tenant"] == "zweckverband"
        poller_tenant = env.token("tenant", "stadt-lohne")
        assert (await env.client.get("/api/v1/devices/prn-zv-1", headers=auth(poller_tenant))).status_code == 404
    finally:
        await env.client.aclose()


async def test_a_batch_with_own_and_refused_readings_keeps_the_own_ones(make_env: Any) -> None:
    env: Env = make_env(assigned("usv-b", "stadt-b", "poller-b"))
    try:
        env.tenant("stadt-b")
        token_a = await env.enroll(env.tenant("stadt-a"), "poller-a")
        now = env.clock.now
        snmp = [printer_reading("prn-a", now, 10), printer_reading("usv-b", now, 10), printer_reading("usv-b", now, 11)]
        r = await env.post(token_a, batch("poller-a", [report(1, now, snmp=snmp)]))
        assert r.status_code == 200
        assert r.json()["refused"] == [
            "device usv-b: assigned by the collector's config to other pollers; reading refused"
        ]  # one line per device, however many of its readings
        assert device_rows(env, "prn-a") == [("stadt-a", "poller-a", 1)]
        assert device_rows(env, "usv-b") == []
        assert env.count("SELECT refused_total FROM device_refusals WHERE device_id = 'usv-b'") == 2
    finally:
        await env.client.aclose()


async def test_two_tenants_printers_of_one_name_alert_each_for_its_own_tenant(env: Env) -> None:
    from tests.collector.alerting.conftest import printer, tick

    now = env.clock.now
    for tenant, agent, toner in (("stadt-a", "poller-a", 5), ("stadt-b", "poller-b", 3), ("stadt-c", "poller-c", 80)):
        token = await env.enroll(env.tenant(tenant), agent)
        r = await env.post(token, batch(agent, [report(1, now, snmp=[printer("drucker-eg", now, toner=toner)])]))
        assert r.status_code == 200, r.text
    await tick(env)
    r = await env.client.get("/api/v1/alerts", params={"state": "firing"}, headers=auth(env.admin_token))
    low = sorted((a["tenant"], a["object"]) for a in r.json()["alerts"] if a["rule"] == "printer_supply_low")
    # one alert per tenant's printer: neither merges into, hides nor takes over the other
    assert low == [("stadt-a", "stadt-a/drucker-eg/1.1"), ("stadt-b", "stadt-b/drucker-eg/1.1")]
    reader_c = env.token("tenant", "stadt-c")
    r = await env.client.get("/api/v1/alerts", headers=auth(reader_c))
    assert [a for a in r.json()["alerts"] if a["rule"] == "printer_supply_low"] == []


async def test_an_assignment_naming_an_unknown_tenant_or_poller_is_warned_about_at_start(
    make_env: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="leitstand.collector.devices"):
        env: Env = make_env(assigned("prn-1", "stadt-x", "poller-x"))
    await env.client.aclose()
    messages = [r.getMessage() for r in caplog.records]
    assert "devices.assign.prn-1: poller 'poller-x' is not known to the collector (yet)" in messages
    assert "devices.assign.prn-1: tenant 'stadt-x' is not known to the collector (yet)" in messages
