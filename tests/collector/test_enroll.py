"""Enrollment through the real app and store: enroll tokens expire and carry a
use limit (spent atomically, also by two collectors at once), and re-enrolling
an enrolled agent id is an admin's decision, audited."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import httpx
import pytest

from collector import admin
from collector.cli import main
from collector.errors import ValidationError
from tests.collector.conftest import Env, auth, batch, report

T0 = 1_764_000_000.0  # the env's FakeClock


def _enroll_token(env: Env, tenant: str = "t1", **kw: object) -> tuple[str, str]:
    """(id, token) of an enroll token created at the env's clock."""
    conn = env.db()
    try:
        if not conn.execute("SELECT 1 FROM tenants WHERE name = ?", (tenant,)).fetchone():
            admin.add_tenant(conn, tenant, actor="test")
        return admin.create_token(conn, "enroll", actor="test", tenant=tenant, now=env.clock.now, **kw)  # type: ignore[arg-type]
    finally:
        conn.close()


async def _enroll(client: httpx.AsyncClient, token: str, agent_id: str, hostname: str | None = None) -> httpx.Response:
    return await client.post(
        "/api/v1/enroll", json={"agent_id": agent_id, "hostname": hostname or agent_id}, headers=auth(token)
    )


def _uses_left(env: Env, token_id: str) -> int | None:
    conn = env.db()
    try:
        row = conn.execute("SELECT uses_left FROM tokens WHERE id = ?", (token_id,)).fetchone()
        return None if row[0] is None else int(row[0])
    finally:
        conn.close()


def _audit(env: Env, action: str) -> list[dict[str, object]]:
    conn = env.db()
    try:
        return [e for e in admin.list_audit(conn, 1000) if e["action"] == action]
    finally:
        conn.close()


# -- expiry ---------------------------------------------------------------------------


async def test_enroll_token_expires_after_a_week_by_default(env: Env) -> None:
    _, token = _enroll_token(env)
    env.clock.now = T0 + 7 * 86400 - 60
    r = await _enroll(env.client, token, "a1")
    assert r.status_code == 200, r.text
    env.clock.now = T0 + 7 * 86400
    r = await _enroll(env.client, token, "a2")
    assert r.status_code == 401
    assert r.json()["error"].endswith("expired at 2025-12-01 16:00 UTC")
    assert "token create --role enroll --tenant t1" in r.json()["detail"][0]
    assert env.count("SELECT count(*) FROM hosts WHERE agent_id = 'a2'") == 0


async def test_enroll_token_with_explicit_lifetime_and_never(env: Env) -> None:
    _, short = _enroll_token(env, expires_s=admin.parse_lifetime("30m"))
    _, forever = _enroll_token(env, expires_s=admin.parse_lifetime("never"))
    env.clock.now = T0 + 31 * 60
    assert (await _enroll(env.client, short, "a1")).status_code == 401
    env.clock.now = T0 + 3650 * 86400
    assert (await _enroll(env.client, forever, "a1")).status_code == 200


# -- use limit ------------------------------------------------------------------------


async def test_use_limit_is_spent_by_each_enrolment_and_then_refused(env: Env) -> None:
    token_id, token = _enroll_token(env, uses=2)
    assert (await _enroll(env.client, token, "a1")).status_code == 200
    assert _uses_left(env, token_id) == 1
    assert (await _enroll(env.client, token, "a2")).status_code == 200
    r = await _enroll(env.client, token, "a3")
    assert r.status_code == 403
    assert r.json()["error"] == f"enroll token {token_id} is used up: all 2 enrolments spent"
    assert _uses_left(env, token_id) == 0
    assert env.count("SELECT count(*) FROM hosts") == 2


async def test_concurrent_enrolments_of_two_collectors_never_exceed_the_limit(make_env: Callable[..., Env]) -> None:
    first, second = make_env(), make_env()  # two collectors, one database
    try:
        token_id, token = _enroll_token(first, uses=5)
        clients = (first.client, second.client)
        answers = await asyncio.gather(*(_enroll(clients[n % 2], token, f"tc-{n:02d}") for n in range(30)))
        codes = sorted(r.status_code for r in answers)
        assert codes == [200] * 5 + [403] * 25
        assert _uses_left(first, token_id) == 0
        assert first.count("SELECT count(*) FROM hosts") == 5
        assert first.count("SELECT count(*) FROM tokens WHERE role = 'agent'") == 5
    finally:
        await first.client.aclose()
        await second.client.aclose()


# -- re-enrolment -----------------------------------------------------------------


async def test_reenrolling_an_enrolled_agent_id_is_refused_and_changes_nothing(env: Env) -> None:
    token_id, token = _enroll_token(env, uses=5)
    r = await _enroll(env.client, token, "emw-db-2-id", "emw-db-2")
    agent_token = r.json()["token"]
    assert (
        await env.post(agent_token, batch("emw-db-2-id", [report(1, T0 - 60)], hostname="emw-db-2"))
    ).status_code == 200
    r = await _enroll(env.client, token, "emw-db-2-id", "rathaus-tc-017")
    assert r.status_code == 409
    body = r.json()
    assert body["error"].startswith("agent id 'emw-db-2-id' is already enrolled (hostname 'emw-db-2')")
    assert "--tenant t1 --replace" in body["detail"][0]
    # the real agent keeps its token and its seq; the refusal spent no use
    assert (
        await env.post(agent_token, batch("emw-db-2-id", [report(2, T0 - 45)], hostname="emw-db-2"))
    ).status_code == 200
    assert env.count("SELECT count(*) FROM hosts WHERE hostname = 'emw-db-2' AND rebase_allowed = 0") == 1
    assert _uses_left(env, token_id) == 4
    assert _audit(env, "agent.replace") == []


async def test_replace_token_reenrolls_revokes_allows_seq_restart_and_is_audited(env: Env) -> None:
    _, plain = _enroll_token(env)
    replace_id, replace = _enroll_token(env, replace=True, uses=1)
    old = (await _enroll(env.client, plain, "a1", "host-old")).json()["token"]
    await env.post(old, batch("a1", [report(s, T0 - 100 + s) for s in range(1, 4)], hostname="host-old"))
    r = await _enroll(env.client, replace, "a1", "host-new")
    assert r.status_code == 200, r.text
    new = r.json()["token"]
    assert (await env.post(old, batch("a1", [report(4, T0 - 10)]))).status_code == 401
    r = await env.post(new, batch("a1", [report(1, T0 - 5)], hostname="host-new"))  # wiped state: seq 1 again
    assert r.status_code == 200, r.text
    assert env.count("SELECT count(*) FROM samples WHERE agent_id = 'a1' AND epoch = 1") == 1
    (entry,) = _audit(env, "agent.replace")
    detail = json.loads(str(entry["detail"]))
    assert entry["actor"] == f"token:{replace_id}"
    assert entry["target"] == "a1"
    assert detail["old_hostname"] == "host-old"
    assert detail["hostname"] == "host-new"
    assert detail["by_role"] == "enroll"
    assert len(detail["revoked_tokens"]) == 1


async def test_admin_token_reenrolls_only_existing_agents(env: Env) -> None:
    _, plain = _enroll_token(env)
    assert (await _enroll(env.client, plain, "a1")).status_code == 200
    r = await _enroll(env.client, env.admin_token, "a1", "a1-reinstalled")
    assert r.status_code == 200, r.text
    assert r.json()["tenant"] == "t1"
    r = await _enroll(env.client, env.admin_token, "never-seen")
    assert r.status_code == 403
    assert "re-enrolls existing agents only" in r.json()["error"]
    (entry,) = _audit(env, "agent.replace")
    assert json.loads(str(entry["detail"]))["by_role"] == "admin"


async def test_replace_token_never_moves_an_agent_between_tenants(env: Env) -> None:
    _, a = _enroll_token(env, "stadt-a")
    _, b_replace = _enroll_token(env, "stadt-b", replace=True)
    assert (await _enroll(env.client, a, "shared-id")).status_code == 200
    r = await _enroll(env.client, b_replace, "shared-id")
    assert r.status_code == 409
    assert "another tenant" in r.json()["error"]
    assert env.count("SELECT count(*) FROM hosts WHERE tenant = 'stadt-a'") == 1


async def test_tenant_and_agent_tokens_cannot_enroll(env: Env) -> None:
    _enroll_token(env)
    agent_token = await env.enroll(env.tenant("t1"), "a1")
    for token in (env.token("tenant", "t1"), agent_token):
        r = await _enroll(env.client, token, "a9")
        assert r.status_code == 403


# -- creation and listing -------------------------------------------------------


def test_parse_lifetime() -> None:
    assert admin.parse_lifetime("30m") == 1800
    assert admin.parse_lifetime("12h") == 43200
    assert admin.parse_lifetime(" 7d ") == 604800
    assert admin.parse_lifetime("never") is None
    for bad in ("7", "0d", "1w", "-1d", "7 days", ""):
        with pytest.raises(ValidationError, match="invalid lifetime"):
            admin.parse_lifetime(bad)


def test_limits_apply_to_enroll_tokens_only(env: Env) -> None:
    conn = env.db()
    try:
        admin.add_tenant(conn, "t1", actor="test")
        with pytest.raises(ValidationError, match="enroll tokens only"):
            admin.create_token(conn, "tenant", actor="test", tenant="t1", uses=3)
        with pytest.raises(ValidationError, match="enroll tokens only"):
            admin.create_token(conn, "admin", actor="test", expires_s=60.0)
        with pytest.raises(ValidationError, match="at least 1"):
            admin.create_token(conn, "enroll", actor="test", tenant="t1", uses=0)
    finally:
        conn.close()


def test_cli_creates_and_lists_enroll_tokens_with_expiry_and_uses(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    db = ["--db", str(env.db_path)]
    assert main(["tenant", "add", "stadt-lohne", *db]) == 0
    capsys.readouterr()
    argv = ["token", "create", "--role", "enroll", "--tenant", "stadt-lohne", "--expires", "12h", "--uses", "50"]
    assert main([*argv, *db]) == 0
    out = capsys.readouterr()
    assert out.out.startswith("lst_")
    assert "50 enrolments" in out.err
    assert (
        main(["token", "create", "--role", "enroll", "--tenant", "stadt-lohne", "--expires", "never", "--replace", *db])
        == 0
    )
    capsys.readouterr()
    assert main(["token", "list", *db]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "EXPIRES" in lines[0] and "USES LEFT" in lines[0]
    enroll_lines = [line for line in lines if " enroll " in line]
    assert len(enroll_lines) == 2
    assert enroll_lines[0].endswith("50/50")
    assert enroll_lines[1].split()[-4:] == ["never", "unlimited,", "may", "replace"]
    assert main(["token", "list", "--json", *db]) == 0
    listed = json.loads(capsys.readouterr().out)
    limited = next(t for t in listed if t["uses_max"] == 50)
    assert limited["uses_left"] == 50
    assert limited["expires_at"] - limited["created_at"] == 12 * 3600
    assert main(["token", "create", "--role", "billing", "--uses", "5", *db]) == 1
    assert "enroll tokens only" in capsys.readouterr().err
    assert main(["token", "create", "--role", "enroll", "--tenant", "stadt-lohne", "--expires", "1w", *db]) == 1
    assert "invalid lifetime '1w'" in capsys.readouterr().err
