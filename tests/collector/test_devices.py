"""The device inventory: readings extracted at ingest, tenant isolation,
reachability state, history, and resends that never count twice (ownership
across tenants: test_devices_ownership.py)."""

from __future__ import annotations

from typing import Any

from tests.collector.conftest import Env, auth, batch, report


def printer_reading(device: str, ts: float, pages: int, ok: bool = True, **over: Any) -> dict[str, Any]:
    reading: dict[str, Any] = {
        "device": device,
        "kind": "printer",
        "ok": ok,
        "ts": ts,
        "address": "10.1.2.30:161",
        "sys": {"descr": "KYOCERA Document Solutions Printing System", "name": "drucker-eg", "uptime_s": 1000.0},
        "printer": {"pages_total": pages, "pages_mono": pages // 2, "pages_color": pages - pages // 2},
    }
    if not ok:
        reading = {"device": device, "kind": "generic", "ok": False, "ts": ts, "error": "no response (timeout)"}
    reading.update(over)
    return reading


async def setup(env: Env, tenant: str, agent: str) -> str:
    return await env.enroll(env.tenant(tenant), agent)


async def test_ingest_fills_the_inventory_and_history(env: Env) -> None:
    token = await setup(env, "stadt-lohne", "poller-1")
    now = env.clock.now
    r = await env.post(
        token,
        batch(
            "poller-1",
            [
                report(1, now - 60, snmp=[printer_reading("drucker-eg", now - 61, 1000)]),
                report(2, now, snmp=[printer_reading("drucker-eg", now - 1, 1010)]),
            ],
        ),
    )
    assert r.status_code == 200, r.text
    r = await env.client.get("/api/v1/devices", headers=auth(env.admin_token))
    assert r.status_code == 200
    (device,) = r.json()["devices"]
    assert device["id"] == "drucker-eg" and device["tenant"] == "stadt-lohne" and device["kind"] == "printer"
    assert device["state"] == "up" and device["readings_total"] == 2 and device["agent_id"] == "poller-1"
    detail = (await env.client.get("/api/v1/devices/drucker-eg", headers=auth(env.admin_token))).json()
    assert detail["reading"]["printer"]["pages_total"] == 1010
    history = (await env.client.get("/api/v1/devices/drucker-eg/readings", headers=auth(env.admin_token))).json()
    assert [h["printer"]["pages_total"] for h in history["readings"]] == [1000, 1010]


async def test_resend_does_not_store_readings_twice(env: Env) -> None:
    token = await setup(env, "t1", "poller-1")
    body = batch("poller-1", [report(1, env.clock.now, snmp=[printer_reading("d1", env.clock.now, 5)])])
    for _ in range(2):
        assert (await env.post(token, body)).status_code == 200
    assert env.count("SELECT count(*) FROM device_readings") == 1
    assert env.count("SELECT readings_total FROM devices WHERE device_id = 'd1'") == 1


async def test_failed_poll_shows_unreachable_and_keeps_last_values(env: Env) -> None:
    token = await setup(env, "t1", "poller-1")
    now = env.clock.now
    await env.post(token, batch("poller-1", [report(1, now - 30, snmp=[printer_reading("d1", now - 30, 7)])]))
    await env.post(token, batch("poller-1", [report(2, now, snmp=[printer_reading("d1", now, 0, ok=False)])]))
    detail = (await env.client.get("/api/v1/devices/d1", headers=auth(env.admin_token))).json()
    assert detail["state"] == "unreachable" and detail["error"] == "no response (timeout)"
    assert detail["kind"] == "printer"  # a failed auto poll does not forget the kind
    assert detail["reading"]["printer"]["pages_total"] == 7 and detail["reading"]["ok"] is False
    assert detail["failures_total"] == 1
    unreachable = (await env.client.get("/api/v1/devices?state=unreachable", headers=auth(env.admin_token))).json()
    assert unreachable["count"] == 1
    env.clock.now += 3600
    stale = (await env.client.get("/api/v1/devices?state=stale", headers=auth(env.admin_token))).json()
    assert [d["id"] for d in stale["devices"]] == ["d1"]


async def test_another_tenants_device_is_not_found(env: Env) -> None:
    token_a = await setup(env, "stadt-a", "poller-a")
    await env.post(
        token_a, batch("poller-a", [report(1, env.clock.now, snmp=[printer_reading("d-a", env.clock.now, 1)])])
    )
    env.tenant("stadt-b")
    reader_b = env.token("tenant", "stadt-b")
    r = await env.client.get("/api/v1/devices/d-a", headers=auth(reader_b))
    assert r.status_code == 404 and set(r.json()) == {"error", "detail"}
    r = await env.client.get("/api/v1/devices/d-a/readings", headers=auth(reader_b))
    assert r.status_code == 404
    assert (await env.client.get("/api/v1/devices", headers=auth(reader_b))).json()["count"] == 0
    reader_a = env.token("tenant", "stadt-a")
    assert (await env.client.get("/api/v1/devices/d-a", headers=auth(reader_a))).status_code == 200
    r = await env.client.get("/api/v1/devices?tenant=stadt-a", headers=auth(reader_b))
    assert r.status_code == 403


async def test_query_errors_use_the_error_shape(env: Env) -> None:
    for path in (
        "/api/v1/devices?kind=fax",
        "/api/v1/devices?state=sleeping",
        "/api/v1/devices/x/readings?limit=0",
        "/api/v1/devices/x/readings?since=nan",
    ):
        r = await env.client.get(path, headers=auth(env.admin_token))
        assert r.status_code == 400, path
        assert set(r.json()) == {"error", "detail"}
    agent_token = await setup(env, "t1", "a1")
    r = await env.client.get("/api/v1/devices", headers=auth(agent_token))
    assert r.status_code == 403


async def test_retention_prunes_old_readings_of_every_tenant_and_keeps_newer_ones(env: Env) -> None:
    from collector.devices import prune_readings

    now = env.clock.now
    for tenant, agent in (("stadt-a", "poller-a"), ("stadt-b", "poller-b")):
        token = await setup(env, tenant, agent)
        await env.post(token, batch(agent, [report(1, now - 60, snmp=[printer_reading("d1", now - 60, 5)])]))
    env.clock.now += 3600
    token = await setup(env, "stadt-b", "poller-b2")
    later = env.clock.now
    await env.post(token, batch("poller-b2", [report(1, later, snmp=[printer_reading("d1", later, 9)])]))
    conn = env.db()
    try:
        with conn:
            assert prune_readings(conn, before=now + 1, chunk=1) == 2
        rows = conn.execute("SELECT tenant, agent_id FROM device_readings").fetchall()
    finally:
        conn.close()
    assert [tuple(r) for r in rows] == [("stadt-b", "poller-b2")]
    assert env.count("SELECT count(*) FROM devices") == 2  # the inventory keeps its devices
