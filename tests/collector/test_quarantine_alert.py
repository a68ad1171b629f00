"""The metering_anomaly alert: fires while a tenant has pending quarantine
entries, names the rules, links its runbook, and resolves after review."""

from __future__ import annotations

from typing import Any

from collector.metering import review
from tests.collector.alerting.conftest import tick
from tests.collector.conftest import Env, auth, batch, report


async def _firing(env: Env) -> dict[str, dict[str, Any]]:
    r = await env.client.get("/api/v1/alerts", params={"state": "firing"}, headers=auth(env.admin_token))
    assert r.status_code == 200, r.text
    return {f"{a['rule']}/{a['object']}": a for a in r.json()["alerts"]}


async def test_pending_anomaly_fires_per_tenant_and_resolves_once_reviewed(env: Env) -> None:
    now = env.clock.now
    cpu = {"count": 2, "percent": 5}
    token = await env.enroll(env.tenant("stadt-a"), "srv-1")
    spike = [report(1, now - 120, cpu={**cpu, "busy_seconds_total": 10.0}),
             report(2, now - 60, cpu={**cpu, "busy_seconds_total": 5e6})]  # fmt: skip
    assert (await env.post(token, batch("srv-1", spike))).status_code == 200
    calm = await env.enroll(env.tenant("stadt-b"), "srv-2")
    assert (await env.post(calm, batch("srv-2", [report(1, now - 60), report(2, now)]))).status_code == 200
    await tick(env)
    firing = await _firing(env)
    alert = firing["metering_anomaly/stadt-a"]
    assert alert["severity"] == "warning"
    assert alert["runbook"] == "metering-anomaly"
    assert "cpu_above_cores" in alert["description"] and "Quarantäne" in alert["summary"]
    assert "metering_anomaly/stadt-b" not in firing
    conn = env.db()
    try:
        (item_id,) = [i for (i,) in conn.execute("SELECT id FROM quarantine WHERE status = 'pending'")]
        review.dismiss(conn, item_id, actor="test", reason="Agent defekt", now=now)
    finally:
        conn.close()
    env.clock.now += 60
    await tick(env)
    assert "metering_anomaly/stadt-a" not in await _firing(env)
