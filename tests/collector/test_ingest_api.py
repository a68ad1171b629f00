"""POST /api/v1/reports and /api/v1/enroll through the real app and SQLite file."""

from __future__ import annotations

import gzip
import json

from tests.collector.conftest import Env, auth, batch, report

T0 = 1_764_000_000.0


async def test_enrolled_agent_reports_arrive_and_host_is_listed(env: Env) -> None:
    enroll = env.tenant("stadt-lohne")
    token = await env.enroll(enroll, "agent-1", "rathaus-tc-017")
    r = await env.post(token, batch("agent-1", [report(1, T0 - 30), report(2, T0 - 15)]))
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted_through_seq": 2, "stored": 2}
    hosts = (await env.client.get("/api/v1/hosts", headers=auth(env.admin_token))).json()
    assert hosts["count"] == 1
    host = hosts["hosts"][0]
    assert host["tenant"] == "stadt-lohne"
    assert host["state"] == "online"
    assert host["last_seq"] == 2
    assert host["metrics"]["memory_used_percent"] == 50.0
    assert host["metrics"]["disk_used_percent_max"] == 40.0


async def test_resend_is_acknowledged_but_not_stored_twice(env: Env) -> None:
    token = await env.enroll(env.tenant("t1"), "a1")
    body = batch("a1", [report(s, T0 - 100 + s) for s in range(1, 6)])
    first = await env.post(token, body)
    second = await env.post(token, body)
    assert first.json()["stored"] == 5
    assert second.status_code == 200
    assert second.json() == {"accepted_through_seq": 5, "duplicates": 5}
    assert env.count("SELECT count(*) FROM samples") == 5


async def test_out_of_order_and_overlapping_batches_store_each_seq_once(env: Env) -> None:
    token = await env.enroll(env.tenant("t1"), "a1")
    reports = {s: report(s, T0 - 1000 + s) for s in range(1, 11)}
    for seqs in ([3, 1], [2, 5, 4], [5, 6, 7, 8], [10], [9, 1, 10]):
        r = await env.post(token, batch("a1", [reports[s] for s in seqs]))
        assert r.status_code == 200, r.text
    assert env.count("SELECT count(*) FROM samples") == 10
    assert env.count("SELECT count(DISTINCT seq) FROM samples") == 10
    host = (await env.client.get("/api/v1/hosts/a1", headers=auth(env.admin_token))).json()
    assert host["gaps"] == []
    assert host["last_seq"] == 10


async def test_seq_gap_is_recorded_and_filled_by_late_report(env: Env) -> None:
    token = await env.enroll(env.tenant("t1"), "a1")
    await env.post(token, batch("a1", [report(1, T0 - 100), report(5, T0 - 40)]))
    host = (await env.client.get("/api/v1/hosts/a1", headers=auth(env.admin_token))).json()
    assert [(g["from_seq"], g["to_seq"]) for g in host["gaps"]] == [(2, 4)]
    await env.post(token, batch("a1", [report(3, T0 - 70)]))
    host = (await env.client.get("/api/v1/hosts/a1", headers=auth(env.admin_token))).json()
    assert [(g["from_seq"], g["to_seq"]) for g in host["gaps"]] == [(2, 2), (4, 4)]
    assert host["gap_count"] == 2
    # the late report must not replace the newer latest values
    assert host["report"]["seq"] == 5


async def test_gzip_body_is_accepted(env: Env) -> None:
    token = await env.enroll(env.tenant("t1"), "a1")
    raw = json.dumps(batch("a1", [report(1, T0)])).encode()
    r = await env.client.post(
        "/api/v1/reports",
        content=gzip.compress(raw),
        headers={**auth(token), "Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["stored"] == 1


async def test_reenrolled_agent_with_wiped_state_starts_new_epoch(env: Env) -> None:
    enroll = env.tenant("t1")
    token = await env.enroll(enroll, "a1")
    await env.post(token, batch("a1", [report(s, T0 - 1000 + s) for s in range(1, 4)]))
    # The agent's state dir was wiped: seq restarts at 1 with newer data.
    restarted = batch("a1", [report(1, T0 - 10)])
    r = await env.post(token, restarted)
    assert r.status_code == 409
    assert "re-enroll" in r.json()["error"]
    new_token = await env.enroll(env.admin_token, "a1")  # replacing an enrolled agent is an admin's decision
    old = await env.post(token, restarted)
    assert old.status_code == 401  # re-enrollment revoked the old token
    r = await env.post(new_token, restarted)
    assert r.status_code == 200, r.text
    assert r.json()["stored"] == 1
    assert env.count("SELECT count(*) FROM samples") == 4
    assert env.count("SELECT count(*) FROM samples WHERE epoch = 1") == 1
