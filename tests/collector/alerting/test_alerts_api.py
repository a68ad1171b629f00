"""End to end through the in-process app: reports and SNMP readings in, alerts
out through the API, with acknowledgements, silences, tenant isolation,
runbooks and a collector restart."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from collector import admin
from collector.alerting import gather, storage
from collector.alerting.gather import KritisStatus
from collector.alerting.model import Ack
from collector.db import transaction
from collector.metering import ledger
from collector.metering.model import Period
from tests.collector.alerting.conftest import printer, switch, tick, ups
from tests.collector.conftest import Env, auth, batch, report


async def alerts(env: Env, token: str | None = None, **params: str) -> list[dict[str, Any]]:
    r = await env.client.get("/api/v1/alerts", params=params, headers=auth(token or env.admin_token))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["count"] == len(body["alerts"])
    result: list[dict[str, Any]] = body["alerts"]
    return result


async def host(env: Env, tenant: str, agent: str, **agent_info: Any) -> str:
    token = await env.enroll(env.tenant(tenant), agent)
    r = await env.post(token, batch(agent, [report(1, env.clock.now)], **agent_info))
    assert r.status_code == 200, r.text
    return token


async def test_host_that_goes_silent_fires_host_down_and_resolves_when_back(env: Env) -> None:
    token = await host(env, "stadt-a", "srv-1", hostname="rathaus-fs01")
    assert not (await tick(env)).transitions
    env.clock.now += 3600  # an hour of silence
    first = await tick(env)
    assert [(t.alert.rule, t.event) for t in first.transitions] == [("host_down", "pending")]
    assert [a["state"] for a in await alerts(env)] == ["pending"]
    env.clock.now += 120  # the rule's `for`
    await tick(env)
    (alert,) = await alerts(env, state="firing")
    assert alert["rule"] == "host_down" and alert["severity"] == "critical"
    assert alert["tenant"] == "stadt-a" and alert["object"] == "srv-1"
    assert alert["labels"]["host"] == "rathaus-fs01" and alert["labels"]["site"] == "rathaus"
    assert alert["summary"] == "Host rathaus-fs01 meldet sich nicht"
    assert alert["runbook"] == "host-down"
    assert alert["runbook_url"] == "http://127.0.0.1:8470/api/v1/runbooks/host-down"
    assert alert["acknowledged"] is None and alert["silenced"] is False and alert["resolved_at"] is None
    english = (await alerts(env, state="firing", lang="en"))[0]
    assert english["summary"] == "Host rathaus-fs01 is not reporting"
    # the host reports again: resolved, kept as history
    r = await env.post(token, batch("srv-1", [report(2, env.clock.now)], hostname="rathaus-fs01"))
    assert r.status_code == 200
    await tick(env)
    assert await alerts(env, state="firing") == []
    (done,) = await alerts(env, state="resolved")
    assert done["id"] == alert["id"] and done["resolved_at"] == env.clock.now


async def test_thin_clients_switched_off_at_night_do_not_page(env: Env) -> None:
    await host(env, "stadt-a", "tc-1", role="thin-client")
    env.clock.now += 12 * 3600
    await tick(env)
    env.clock.now += 600
    await tick(env)
    assert await alerts(env) == []


async def test_printer_supply_low_and_printer_error_from_snmp(env: Env) -> None:
    token = await env.enroll(env.tenant("stadt-a"), "poller-1")
    now = env.clock.now
    r = await env.post(token, batch("poller-1", [report(1, now, snmp=[printer("drucker-eg", now, toner=5)])]))
    assert r.status_code == 200, r.text
    await tick(env)
    (low,) = await alerts(env, state="firing")
    assert low["rule"] == "printer_supply_low" and low["object"] == "stadt-a/drucker-eg/1.1"
    assert low["labels"]["device"] == "drucker-eg" and low["labels"]["supply"] == "Black Toner"
    assert low["summary"] == "Drucker drucker-eg: Black Toner fast leer (5 %)"
    assert low["runbook_url"].endswith("/printer-supply-low")
    assert (await alerts(env, lang="en"))[0]["summary"] == "Printer drucker-eg: Black Toner almost empty (5 %)"
    # a paper jam: pending for the rule's `for`, then firing with the German error text
    env.clock.now += 60
    now = env.clock.now
    r = await env.post(
        token, batch("poller-1", [report(2, now, snmp=[printer("drucker-eg", now, toner=5, errors=("jammed",))])])
    )
    await tick(env)
    env.clock.now += 120
    r = await env.post(
        token,
        batch("poller-1", [report(3, env.clock.now, snmp=[printer("drucker-eg", env.clock.now, errors=("jammed",))])]),
    )
    await tick(env)
    firing = {a["rule"]: a for a in await alerts(env, state="firing")}
    assert set(firing) == {"printer_error"}  # new toner: supply alert resolved
    assert firing["printer_error"]["summary"] == "Drucker drucker-eg gestört: Papierstau"
    assert [a["rule"] for a in await alerts(env, state="resolved")] == ["printer_supply_low"]


async def test_ups_on_battery_and_uplinks(env: Env) -> None:
    token = await env.enroll(env.tenant("stadt-a"), "poller-1")
    now = env.clock.now
    readings = [ups("usv-1", now, on_battery=True, runtime_s=300), switch("sw-1", now, up=(True, False))]
    r = await env.post(token, batch("poller-1", [report(1, now, snmp=readings)], site="rathaus"))
    assert r.status_code == 200, r.text
    await tick(env)
    env.clock.now += 300
    r = await env.post(
        token,
        batch(
            "poller-1",
            [report(2, env.clock.now, snmp=[ups("usv-1", env.clock.now, on_battery=True, runtime_s=240),
                                            switch("sw-1", env.clock.now, up=(True, False))])],
            site="rathaus",
        ),
    )  # fmt: skip
    await tick(env)
    firing = {a["rule"]: a for a in await alerts(env, state="firing")}
    assert set(firing) == {"ups_on_battery", "ups_runtime_low", "uplink_down", "site_uplink_redundancy"}
    assert firing["ups_on_battery"]["summary"] == "USV usv-1 läuft auf Batterie"
    assert firing["ups_runtime_low"]["summary"] == "USV usv-1: Restlaufzeit nur 4 min"
    assert firing["uplink_down"]["object"] == "stadt-a/sw-1/Gi0/2"
    assert firing["site_uplink_redundancy"]["labels"]["site"] == "rathaus"
    assert "1 von 2 Uplinks" in firing["site_uplink_redundancy"]["description"]


async def test_kritis_applications_from_the_readiness_evaluation(env: Env) -> None:
    """Fed through the small KritisSource interface (the real one wraps collector.readiness)."""
    status = {"value": "not_ready"}

    def fake(conn: Any, now: float) -> list[KritisStatus]:
        return [
            KritisStatus(
                app="ewo",
                tenant="stadt-a",
                status=status["value"],
                failed=(("backup_age", "Alter der Sicherung", "Backup age", "kritis-backup-too-old"),)
                if status["value"] == "not_ready"
                else (),
                warned=(("certificate", "Zertifikat", "Certificate", "kritis-certificate-expiry"),),
            )
        ]

    env.tenant("stadt-a")
    env.app.state.alerting.kritis = fake
    await tick(env)
    (alert,) = await alerts(env, state="firing")
    assert alert["rule"] == "kritis_not_ready" and alert["labels"]["app"] == "ewo"
    assert (
        "Alter der Sicherung (Runbook: http://127.0.0.1:8470/api/v1/runbooks/kritis-backup-too-old)"
        in (alert["description"])
    )
    assert "Backup age" in (await alerts(env, state="firing", lang="en"))[0]["description"]
    status["value"] = "degraded"
    await tick(env)
    env.clock.now += 300
    await tick(env)
    (alert,) = await alerts(env, state="firing")
    assert alert["rule"] == "kritis_degraded" and "Zertifikat" in alert["description"]


async def test_metering_coverage_low_for_a_tenant(env: Env) -> None:
    token = await env.enroll(env.tenant("stadt-a"), "srv-1")
    now = env.clock.now
    # seq 11..30 never arrive: 20 of 40 expected reports
    reports = [report(s, now - 15 * (40 - s)) for s in (*range(1, 11), *range(31, 41))]
    r = await env.post(token, batch("srv-1", reports))
    assert r.status_code == 200, r.text
    await tick(env)
    env.clock.now += 3600
    await env.post(token, batch("srv-1", [report(41, env.clock.now)]))
    await tick(env)
    firing = {a["rule"]: a for a in await alerts(env, state="firing")}
    assert "metering_coverage_low" in firing
    assert firing["metering_coverage_low"]["object"] == "stadt-a"
    assert "21 von 41 erwarteten Meldungen" in firing["metering_coverage_low"]["description"]
    # the alert reads the hosts' coverage alone: the same numbers as the period's whole usage
    conn = env.db()
    try:
        period = Period.containing(env.clock.now)
        whole = ledger.period_usage(conn, "stadt-a", period).coverage["host_hours"]
        assert gather._host_coverage(conn, "stadt-a", period) == whole
    finally:
        conn.close()


async def fire_host_down(env: Env, tenant: str, agent: str) -> dict[str, Any]:
    await host(env, tenant, agent)
    env.clock.now += 3600
    await tick(env)
    env.clock.now += 120
    await tick(env)
    found = [a for a in await alerts(env, state="firing") if a["object"] == agent]
    assert found
    return found[0]


def audit_actions(env: Env) -> list[tuple[str, str, str]]:
    conn = env.db()
    try:
        return [(e["actor"], e["action"], e["target"]) for e in admin.list_audit(conn, 50)]  # type: ignore[misc]
    finally:
        conn.close()


async def test_acknowledge_records_who_when_and_why(env: Env) -> None:
    alert = await fire_host_down(env, "stadt-a", "srv-1")
    conn = env.db()
    token_id, token = admin.create_token(conn, "tenant", actor="test", tenant="stadt-a")
    conn.close()
    r = await env.client.post(
        f"/api/v1/alerts/{alert['id']}/ack", json={"comment": "Techniker unterwegs"}, headers=auth(token)
    )
    assert r.status_code == 200, r.text
    ack = r.json()["acknowledged"]
    assert ack == {"by": f"token:{token_id}", "at": env.clock.now, "comment": "Techniker unterwegs"}
    assert (f"token:{token_id}", "alert.ack", alert["id"]) in audit_actions(env)
    # the acknowledgement survives further evaluation rounds
    env.clock.now += 60
    await tick(env)
    assert (await alerts(env, state="firing"))[0]["acknowledged"]["comment"] == "Techniker unterwegs"
    # unknown alert, bad body, resolved alert
    r = await env.client.post("/api/v1/alerts/nope/ack", json={}, headers=auth(token))
    assert r.status_code == 404 and r.json()["error"] == "no alert 'nope'"
    r = await env.client.post(f"/api/v1/alerts/{alert['id']}/ack", content=b"{", headers=auth(token))
    assert r.status_code == 400 and set(r.json()) == {"error", "detail"}


async def test_acknowledgement_made_while_the_fleet_is_evaluated_is_kept(env: Env) -> None:
    """The fleet is read and evaluated outside the writer; an acknowledgement
    stored meanwhile must not be overwritten by that (stale) result."""
    alert = await fire_host_down(env, "stadt-a", "srv-1")
    alerting = env.app.state.alerting

    def ack_during_the_reading(conn: Any, now: float) -> list[KritisStatus]:
        other = env.db()  # what the API's writer would do meanwhile, on a connection of its own
        try:
            with transaction(other):
                storage.set_ack(other, alert["id"], Ack(by="token:t1", at=now, comment="Techniker unterwegs"))
        finally:
            other.close()
        return []

    alerting.kritis = ack_during_the_reading
    env.clock.now += 60
    result = await tick(env)
    alerting.kritis = None
    assert [(a.id, a.ack) for a in result.outcome.alerts] == [
        (alert["id"], Ack(by="token:t1", at=env.clock.now, comment="Techniker unterwegs"))
    ]
    (firing,) = await alerts(env, state="firing")
    assert firing["acknowledged"] == {"by": "token:t1", "at": env.clock.now, "comment": "Techniker unterwegs"}


async def test_silence_marks_alerts_silenced_until_deleted(env: Env) -> None:
    alert = await fire_host_down(env, "stadt-a", "srv-1")
    body = {
        "matchers": [
            {"name": "site", "value": "rath.*", "is_regex": True},
            {"name": "alertname", "value": "host_down"},
        ],
        "starts_at": None,
        "ends_at": env.clock.now + 7200,
        "comment": "Wartung Serverraum",
    }
    r = await env.client.post("/api/v1/silences", json=body, headers=auth(env.admin_token))
    assert r.status_code == 200, r.text
    silence = r.json()
    assert silence["state"] == "active" and silence["starts_at"] == env.clock.now
    (shown,) = await alerts(env)
    assert shown["id"] == alert["id"] and shown["silenced"] is True and shown["silence_id"] == silence["id"]
    r = await env.client.get("/api/v1/silences", headers=auth(env.admin_token))
    assert [s["id"] for s in r.json()["silences"]] == [silence["id"]]
    r = await env.client.delete(f"/api/v1/silences/{silence['id']}", headers=auth(env.admin_token))
    assert r.status_code == 200 and r.json()["state"] == "expired"
    assert (await alerts(env))[0]["silenced"] is False
    actions = [a[1] for a in audit_actions(env)]
    assert "silence.create" in actions and "silence.delete" in actions
    # a silence that ends before it starts, or in the past, or with a broken regex
    for bad in (
        {**body, "starts_at": env.clock.now + 100, "ends_at": env.clock.now + 50},
        {**body, "ends_at": env.clock.now - 1},
        {**body, "matchers": [{"name": "host", "value": "(", "is_regex": True}]},
        {**body, "matchers": []},
    ):
        r = await env.client.post("/api/v1/silences", json=bad, headers=auth(env.admin_token))
        assert r.status_code == 400, bad
        assert set(r.json()) == {"error", "detail"}


async def test_silence_expiry_sends_the_held_back_notification(make_env: Callable[..., Env]) -> None:
    from collector.config import Config

    config = Config()
    config.alerts.webhook.url = "http://127.0.0.1:9/hook"
    env = make_env(config)
    sent: list[bytes] = []
    env.app.state.alerting.send = lambda url, body, timeout, headers: sent.append(body)
    await host(env, "stadt-a", "srv-1")
    r = await env.client.post(
        "/api/v1/silences",
        json={"matchers": [{"name": "tenant", "value": "stadt-a"}], "ends_at": env.clock.now + 3900},
        headers=auth(env.admin_token),
    )
    assert r.status_code == 200
    env.clock.now += 3600
    await tick(env)
    env.clock.now += 120
    await tick(env)
    assert (await alerts(env, state="firing"))[0]["silenced"] is True
    assert sent == []
    env.clock.now += 300  # the silence has ended
    await tick(env)
    (body,) = sent
    assert json.loads(body)["event"] == "firing"
    await env.client.aclose()


async def test_tenant_token_sees_and_changes_only_its_own_alerts(env: Env) -> None:
    await host(env, "stadt-b", "srv-b")
    alert_a = await fire_host_down(env, "stadt-a", "srv-a")
    conn = env.db()
    token_b = admin.create_token(conn, "tenant", actor="test", tenant="stadt-b")[1]
    billing = admin.create_token(conn, "billing", actor="test")[1]
    conn.close()
    visible = await alerts(env, token_b)
    assert {a["tenant"] for a in visible} == {"stadt-b"}
    assert alert_a["id"] not in {a["id"] for a in visible}
    r = await env.client.get(f"/api/v1/alerts/{alert_a['id']}", headers=auth(token_b))
    assert r.status_code == 404
    r = await env.client.post(f"/api/v1/alerts/{alert_a['id']}/ack", json={}, headers=auth(token_b))
    assert r.status_code == 404
    r = await env.client.get("/api/v1/alerts", params={"tenant": "stadt-a"}, headers=auth(token_b))
    assert r.status_code == 403
    r = await env.client.get("/api/v1/alerts", headers=auth(billing))
    assert r.status_code == 403
    # stadt-b's silence on everything never silences stadt-a
    r = await env.client.post(
        "/api/v1/silences",
        json={"matchers": [{"name": "alertname", "value": ".*", "is_regex": True}], "ends_at": env.clock.now + 60},
        headers=auth(token_b),
    )
    assert r.status_code == 200 and r.json()["tenant"] == "stadt-b"
    silence_b = r.json()["id"]
    by_tenant = {a["tenant"]: a["silenced"] for a in await alerts(env)}
    assert by_tenant == {"stadt-a": False, "stadt-b": True}
    # and stadt-a cannot see or delete it
    conn = env.db()
    token_a = admin.create_token(conn, "tenant", actor="test", tenant="stadt-a")[1]
    conn.close()
    r = await env.client.get("/api/v1/silences", headers=auth(token_a))
    assert r.json()["silences"] == []
    r = await env.client.delete(f"/api/v1/silences/{silence_b}", headers=auth(token_a))
    assert r.status_code == 404


async def test_collector_restart_keeps_firing_alerts_without_notifying_again(
    make_env: Callable[..., Env],
) -> None:
    from collector.config import Config

    config = Config()
    config.alerts.webhook.url = "http://127.0.0.1:9/hook"
    sent: list[dict[str, Any]] = []

    def capture(url: str, body: bytes, timeout: float, headers: Any) -> None:
        sent.append(json.loads(body))

    env = make_env(config)
    env.app.state.alerting.send = capture
    alert = await fire_host_down(env, "stadt-a", "srv-1")
    assert [(b["event"], b["alert"]["id"]) for b in sent] == [("firing", alert["id"])]
    assert sent[0]["alert"]["runbook_url"].endswith("/host-down")
    now = env.clock.now
    await env.client.aclose()
    env.app.state.collector.close()

    again = make_env(config)  # same database file
    again.clock.now = now + 60
    again.app.state.alerting.send = capture
    result = await tick(again)
    assert result.transitions == () and result.notifications == 0
    (still,) = await alerts(again, state="firing")
    assert still["id"] == alert["id"] and still["started_at"] == alert["started_at"]
    assert len(sent) == 1
    await again.client.aclose()


async def test_runbooks_are_served_as_markdown_and_json(env: Env) -> None:
    r = await env.client.get("/api/v1/runbooks/host-down")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/markdown")
    assert "## Diagnose" in r.text
    r = await env.client.get("/api/v1/runbooks/host-down", params={"format": "json"})
    doc = r.json()
    assert doc["name"] == "host-down" and doc["title"] == "Host meldet sich nicht" and doc["rule"] == "host_down"
    for bad in ("nope", "..%2F..%2Fetc%2Fpasswd", "README"):
        r = await env.client.get(f"/api/v1/runbooks/{bad}")
        assert r.status_code == 404 and set(r.json()) == {"error", "detail"}
    r = await env.client.get("/api/v1/rules")
    rules = r.json()["rules"]
    assert {x["runbook"] for x in rules} >= {"host-down", "ups-on-battery"}


async def test_query_errors_use_the_error_shape(env: Env) -> None:
    for params in ({"state": "burning"}, {"severity": "x"}, {"limit": "0"}, {"lang": "fr"}):
        r = await env.client.get("/api/v1/alerts", params=params, headers=auth(env.admin_token))
        assert r.status_code == 400 and set(r.json()) == {"error", "detail"}
    r = await env.client.get("/api/v1/alerts")
    assert r.status_code == 401
