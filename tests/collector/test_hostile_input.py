"""Every malformed or hostile request gets the documented 4xx with a message
naming the problem, and nothing of a rejected batch is stored."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest

from collector.config import Config, ServerConfig
from tests.collector.conftest import Env, auth, batch, report

T0 = 1_764_000_000.0


async def _ready(env: Env) -> str:
    token = await env.enroll(env.tenant("t1"), "a1")
    r = await env.post(token, batch("a1", [report(1, T0 - 60)]))
    assert r.status_code == 200
    return token


def _assert_nothing_new(env: Env) -> None:
    assert env.count("SELECT count(*) FROM samples") == 1
    assert env.count("SELECT last_seq FROM hosts WHERE agent_id = 'a1'") == 1


async def _raw(env: Env, token: str, content: bytes, **headers: str) -> Any:
    return await env.client.post(
        "/api/v1/reports", content=content, headers={**auth(token), "Content-Type": "application/json", **headers}
    )


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"{not json", "malformed JSON"),
        (b"", "malformed JSON"),
        (b"[]", "Expected `object`"),
        (b'{"agent": {"id": "a1", "hostname": "a1"}, "reports": []}', "length >= 1"),
        (b'{"agent": {"id": "a1", "hostname": "a1"}}', "missing required field `reports`"),
    ],
)
async def test_malformed_body_is_400_naming_the_problem(env: Env, content: bytes, needle: str) -> None:
    token = await _ready(env)
    r = await _raw(env, token, content)
    assert r.status_code == 400
    body = r.json()
    assert set(body) == {"error", "detail"}
    assert needle in body["error"] + " ".join(body["detail"])
    _assert_nothing_new(env)


@pytest.mark.parametrize(
    ("override", "path"),
    [
        ({"seq": "2"}, "$.reports[1].seq"),
        ({"seq": 0}, "$.reports[1].seq"),
        ({"ts": -5}, "$.reports[1].ts"),
        ({"interval_s": 0}, "$.reports[1].interval_s"),
        ({"cpu": {"count": 4, "percent": 101, "busy_seconds_total": 1}}, "$.reports[1].cpu.percent"),
        ({"cpu": {"count": 4, "percent": 5, "busy_seconds_total": -1}}, "$.reports[1].cpu.busy_seconds_total"),
        ({"memory": {"total_bytes": 8, "used_bytes": -4}}, "$.reports[1].memory.used_bytes"),
        ({"load1": "high"}, "$.reports[1].load1"),
        ({"disks": [{"mount": "", "total_bytes": 1}]}, "$.reports[1].disks[0].mount"),
    ],
)
async def test_wrong_types_and_negative_values_reject_the_whole_batch(
    env: Env, override: dict[str, Any], path: str
) -> None:
    token = await _ready(env)
    # a valid report next to the bad one: the batch is all or nothing
    r = await env.post(token, batch("a1", [report(2, T0 - 30), report(3, T0 - 15) | override]))
    assert r.status_code == 400, r.text
    assert path in " ".join(r.json()["detail"])
    _assert_nothing_new(env)


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
async def test_non_finite_numbers_are_rejected(env: Env, literal: bytes) -> None:
    token = await _ready(env)
    good = json.dumps(batch("a1", [report(2, T0 - 10, load1=0.123456)])).encode()
    r = await _raw(env, token, good.replace(b"0.123456", literal))
    assert r.status_code == 400
    _assert_nothing_new(env)


async def test_timestamp_far_in_the_future_is_rejected(env: Env) -> None:
    token = await _ready(env)
    r = await env.post(token, batch("a1", [report(2, T0 + 30), report(3, T0 + 86400 * 365)]))
    assert r.status_code == 400
    assert "future" in r.json()["detail"][0]
    assert "$.reports[1].ts" in r.json()["detail"][0]
    _assert_nothing_new(env)


async def test_timestamp_before_2001_is_rejected(env: Env) -> None:
    token = await _ready(env)
    r = await env.post(token, batch("a1", [report(2, 5.0)]))
    assert r.status_code == 400
    assert "$.reports[0].ts" in r.json()["detail"][0]


async def test_huge_body_is_413(make_env: Any) -> None:
    env = make_env(Config(server=ServerConfig(max_body_bytes=64 * 1024)))
    token = await _ready(env)
    huge = batch("a1", [report(s, T0 - 10000 + s) for s in range(2, 400)])
    r = await env.post(token, huge)
    assert r.status_code == 413
    assert "too large" in r.json()["error"]
    _assert_nothing_new(env)
    await env.client.aclose()


async def test_gzip_bomb_is_413_not_memory(make_env: Any) -> None:
    env = make_env(Config(server=ServerConfig(max_body_bytes=64 * 1024)))
    token = await _ready(env)
    bomb = gzip.compress(b"{" + b" " * (50 * 1024 * 1024) + b"}")
    assert len(bomb) < 64 * 1024
    r = await _raw(env, token, bomb, **{"Content-Encoding": "gzip"})
    assert r.status_code == 413
    _assert_nothing_new(env)
    await env.client.aclose()


async def test_corrupt_gzip_is_400(env: Env) -> None:
    token = await _ready(env)
    r = await _raw(env, token, b"\x1f\x8b\x08garbage", **{"Content-Encoding": "gzip"})
    assert r.status_code == 400
    assert "gzip" in r.json()["error"]


async def test_unknown_token_is_401_and_missing_token_is_401(env: Env) -> None:
    await _ready(env)
    body = batch("a1", [report(2, T0)])
    r = await env.client.post("/api/v1/reports", json=body)
    assert r.status_code == 401
    assert "missing bearer token" in r.json()["error"]
    r = await env.post("lst_000000000000_forged", body)
    assert r.status_code == 401
    assert r.json()["error"] == "unknown token"
    r = await env.post("Basic abc", body)
    assert r.status_code == 401
    _assert_nothing_new(env)


async def test_token_of_another_agent_is_403(env: Env) -> None:
    enroll = env.tenant("t1")
    await _ready(env)
    other = await env.enroll(enroll, "a2")
    r = await env.post(other, batch("a1", [report(2, T0)]))
    assert r.status_code == 403
    assert "a2" in " ".join(r.json()["detail"])
    _assert_nothing_new(env)


async def test_another_tenants_tokens_see_nothing(env: Env) -> None:
    await _ready(env)
    env.tenant("t2")
    reader_t2 = env.token("tenant", "t2")
    hosts = (await env.client.get("/api/v1/hosts", headers=auth(reader_t2))).json()
    assert hosts == {"hosts": [], "count": 0}
    r = await env.client.get("/api/v1/hosts/a1", headers=auth(reader_t2))
    assert r.status_code == 404
    r = await env.client.get("/api/v1/hosts/a1/samples", headers=auth(reader_t2))
    assert r.status_code == 404
    r = await env.client.get("/api/v1/hosts?tenant=t1", headers=auth(reader_t2))
    assert r.status_code == 403
    reader_t1 = env.token("tenant", "t1")
    assert (await env.client.get("/api/v1/hosts", headers=auth(reader_t1))).json()["count"] == 1


async def test_enroll_token_cannot_post_reports_and_agent_token_cannot_enroll(env: Env) -> None:
    enroll = env.tenant("t1")
    token = await _ready(env)
    r = await env.post(enroll, batch("a1", [report(2, T0)]))
    assert r.status_code == 403
    r = await env.client.post("/api/v1/enroll", json={"agent_id": "x"}, headers=auth(token))
    assert r.status_code == 403
    _assert_nothing_new(env)


async def test_agent_id_cannot_be_stolen_by_another_tenant(env: Env) -> None:
    await _ready(env)
    other_enroll = env.tenant("t2")
    r = await env.client.post("/api/v1/enroll", json={"agent_id": "a1"}, headers=auth(other_enroll))
    assert r.status_code == 409
    assert "another tenant" in r.json()["error"]


@pytest.mark.parametrize(
    "body",
    [{"agent_id": ""}, {"agent_id": "a b"}, {"agent_id": "x" * 500}, {"hostname": "h"}, {"agent_id": 5}],
)
async def test_enroll_validates_agent_id(env: Env, body: dict[str, Any]) -> None:
    enroll = env.tenant("t1")
    r = await env.client.post("/api/v1/enroll", json=body, headers=auth(enroll))
    assert r.status_code == 400
    assert "agent_id" in " ".join(r.json()["detail"])
    assert env.count("SELECT count(*) FROM hosts") == 0


async def test_revoked_token_is_401(env: Env) -> None:
    from collector import admin

    token = await _ready(env)
    conn = env.db()
    token_id = token.split("_")[1]
    admin.revoke_token(conn, token_id, actor="test")  # as the CLI does: not through this collector
    conn.close()
    cache = env.app.state.collector.tokens
    now = cache.clock()
    cache.clock = lambda: now + cache.ttl_s  # revoked elsewhere: refused once the cached lookup expires
    r = await env.post(token, batch("a1", [report(2, T0)]))
    assert r.status_code == 401
    assert r.json()["error"] == "token revoked"


@pytest.mark.parametrize(
    "query",
    ["state=sleeping", "role=mainframe"],
)
async def test_bad_query_parameters_are_400(env: Env, query: str) -> None:
    r = await env.client.get(f"/api/v1/hosts?{query}", headers=auth(env.admin_token))
    assert r.status_code == 400
    assert query.split("=")[0] in r.json()["error"]


@pytest.mark.parametrize("query", ["since=abc", "limit=0", "limit=x", "since=10&until=5", "until=nan"])
async def test_bad_sample_queries_are_400(env: Env, query: str) -> None:
    await _ready(env)
    r = await env.client.get(f"/api/v1/hosts/a1/samples?{query}", headers=auth(env.admin_token))
    assert r.status_code == 400, r.text


async def test_billing_token_may_not_read_hosts(env: Env) -> None:
    billing = env.token("billing")
    r = await env.client.get("/api/v1/hosts", headers=auth(billing))
    assert r.status_code == 403


@pytest.mark.parametrize(
    ("hostname", "refused"),
    [
        (b"a\\u0000b", True),  # an escaped NUL
        (b"a\\\\\\u0000b", True),  # an escaped backslash, then an escaped NUL
        (b"a\\\\u0000b", False),  # an escaped backslash, then the text "u0000": no NUL
    ],
)
async def test_nul_in_a_json_string_is_400_and_an_escaped_backslash_is_not(
    env: Env, hostname: bytes, refused: bool
) -> None:
    token = await _ready(env)
    content = (
        json.dumps(batch("a1", [report(2, T0 - 30)]))
        .encode()
        .replace(b'"hostname": "a1"', b'"hostname": "' + hostname + b'"')
    )
    assert hostname in content
    r = await _raw(env, token, content)
    if refused:
        assert r.status_code == 400
        assert "NUL character" in r.json()["error"]
        _assert_nothing_new(env)
    else:
        assert r.status_code == 200, r.text
        assert env.count("SELECT count(*) FROM samples") == 2
