"""The access log and the log of failed authentications, through the real app."""

from __future__ import annotations

import logging
import shlex
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.accesslog import AuthFailureLimiter, RequestNote, access_line, format_fields
from collector.config import Config, ServerConfig
from tests.collector.conftest import Env, auth, batch, report

T0 = 1_764_000_000.0


def _lines(caplog: pytest.LogCaptureFixture, logger: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == logger]


def _fields(line: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in shlex.split(line.removeprefix("authentication failed: ")))


async def test_one_line_per_request_with_route_template_and_token_id_never_the_token(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    token = await env.enroll(env.tenant("t1"), "agent-7")
    token_id = token.split("_")[1]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="leitstand.collector.access"):
        assert (await env.post(token, batch("agent-7", [report(1, T0)]))).status_code == 200
        r = await env.client.get("/api/v1/hosts/agent-7", headers=auth(env.admin_token))
        assert r.status_code == 200
        assert (await env.client.get("/nowhere/agent-7")).status_code == 404
        assert (await env.client.delete("/api/v1/hosts/agent-7", headers=auth(token))).status_code == 405
    lines = _lines(caplog, "leitstand.collector.access")
    assert len(lines) == 4, lines
    post, host, missing, wrong_method = (_fields(line) for line in lines)
    assert wrong_method["route"] == "/api/v1/hosts/{agent_id}" and wrong_method["status"] == "405"
    assert post["method"] == "POST"
    assert post["route"] == "/api/v1/reports"
    assert post["status"] == "200"
    assert post["token"] == token_id
    assert post["role"] == "agent"
    assert post["client"] == "127.0.0.1"
    assert float(post["duration_ms"]) >= 0
    assert host["route"] == "/api/v1/hosts/{agent_id}"  # the template, not the id
    assert host["token"] == env.admin_token.split("_")[1]
    assert missing == {**missing, "route": "-", "status": "404", "token": "-"}
    text = "\n".join(lines)
    assert token not in text and env.admin_token not in text
    # The secret is base64url and may itself contain "_": split off the prefix and id only.
    assert token.split("_", 2)[2] not in text  # no part of the secret


async def test_failed_authentication_is_logged_with_address_and_rate_limited(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    token = await env.enroll(env.tenant("t1"), "agent-7")
    forged = f"lst_{token.split('_')[1]}_not-the-secret"
    caplog.clear()
    with caplog.at_level(logging.INFO):
        for _ in range(5):
            r = await env.post(forged, batch("agent-7", [report(1, T0)]))
            assert r.status_code == 401
        tenant_token = env.token("tenant", "t1")
        r = await env.client.get("/api/v1/hosts", params={"tenant": "t2"}, headers=auth(tenant_token))
        assert r.status_code == 403
    failures = _lines(caplog, "leitstand.collector.auth")
    # five 401s and a 403 from one address within the window: one line
    assert len(failures) == 1, failures
    line = _fields(failures[0])
    assert line["status"] == "401"
    assert line["client"] == "127.0.0.1"
    assert line["route"] == "/api/v1/reports"
    assert line["token"] == token.split("_")[1]
    assert line["reason"] == "unknown token"
    assert line["suppressed"] == "0"
    assert "not-the-secret" not in "\n".join(r.getMessage() for r in caplog.records)
    assert len(_lines(caplog, "leitstand.collector.access")) == 6  # each still has its access line


async def test_access_log_can_be_switched_off_failed_auth_still_logged(
    make_env: Any, caplog: pytest.LogCaptureFixture
) -> None:
    env = make_env(Config(server=ServerConfig(access_log=False)))
    with caplog.at_level(logging.INFO):
        assert (await env.client.get("/healthz")).status_code == 200
        assert (await env.client.get("/api/v1/hosts")).status_code == 401
    assert _lines(caplog, "leitstand.collector.access") == []
    assert len(_lines(caplog, "leitstand.collector.auth")) == 1
    await env.client.aclose()


def test_limiter_counts_what_it_suppressed_per_address() -> None:
    now = [0.0]
    limiter = AuthFailureLimiter(window_s=10, max_addresses=3, clock=lambda: now[0])
    assert limiter.admit("10.0.0.1") == 0
    assert limiter.admit("10.0.0.1") is None
    assert limiter.admit("10.0.0.2") == 0  # another address has its own window
    now[0] = 9.9
    assert limiter.admit("10.0.0.1") is None
    now[0] = 10.0
    assert limiter.admit("10.0.0.1") == 2  # the two suppressed since the last line
    assert limiter.admit("10.0.0.3") == 0
    assert limiter.admit("10.0.0.4") == 0  # table full: 10.0.0.2's window has passed, it is forgotten
    assert len(limiter._seen) <= 3


def test_values_a_client_controls_cannot_forge_fields_or_lines() -> None:
    line = format_fields([("token", 'x" status=200\nforged=1'), ("route", "/api/v1/hosts/{agent_id}")])
    assert "\n" not in line
    assert line == 'token="x\\" status=200\\u000aforged=1" route=/api/v1/hosts/{agent_id}'


@settings(max_examples=300)
@given(
    texts=st.lists(st.text(max_size=20), min_size=5, max_size=5),
    status=st.integers(min_value=-1, max_value=999),
    duration_ms=st.floats(allow_nan=True, allow_infinity=True),
)
def test_the_access_line_is_format_fields_of_its_fields(texts: list[str], status: int, duration_ms: float) -> None:
    method, route, token, role, client = texts
    expected = format_fields(
        (
            ("method", method),
            ("route", route),
            ("status", status),
            ("duration_ms", f"{duration_ms:.1f}"),
            ("token", token),
            ("role", role),
            ("client", client),
        )
    )
    assert access_line(method, route, status, duration_ms, RequestNote(token, role), client) == expected
