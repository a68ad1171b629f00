"""Silences a tenant cannot turn against the collector: RE2 regexes (linear
time, anchored, length-limited), silences stored before RE2 that no longer
compile, and a longest silence (``alerts.max_silence_s``)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from collector.alerting import regex, storage
from collector.alerting.model import Matcher
from collector.config import Config
from tests.collector.alerting.conftest import tick
from tests.collector.conftest import Env, auth, batch, report
from tests.support import leitstand, run_cli

REDOS = "(a+)+b"
#: 25 a's: Python's backtracking re needs ~2^25 steps to give up on this one
VICTIM = "a" * 25 + "!"
DAY = 86400.0


def silence(env: Env, value: str, *, is_regex: bool = True, name: str = "host", **over: Any) -> dict[str, Any]:
    return {
        "matchers": [{"name": name, "value": value, "is_regex": is_regex}],
        "ends_at": env.clock.now + 3600,
        **over,
    }


async def firing_host(env: Env, tenant: str, agent: str, hostname: str) -> str:
    token = await env.enroll(env.tenant(tenant), agent)
    r = await env.post(token, batch(agent, [report(1, env.clock.now)], hostname=hostname))
    assert r.status_code == 200, r.text
    env.clock.now += 3600
    await tick(env)
    env.clock.now += 120
    await tick(env)
    return token


def test_matchers_are_re2_anchored_and_linear() -> None:
    assert Matcher("host", "rath.*", True).matches({"host": "rathaus-fs01"})
    # anchored at both ends, as in Alertmanager
    assert not Matcher("host", "rath", True).matches({"host": "rathaus"})
    assert not Matcher("host", "fs01", True).matches({"host": "rathaus-fs01"})
    assert Matcher("host", "a|b", True).matches({"host": "b"})  # ^(?:a|b)$, not ^a|b$
    assert Matcher("host", "fs.?01", True).matches({"host": "fs\ud80001"})  # not UTF-8: no crash
    assert Matcher("host", "ä+", True).matches({"host": "ää"})
    started = time.perf_counter()
    for _ in range(100):
        assert not Matcher("host", REDOS, True).matches({"host": VICTIM})
    redos = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(100):
        assert not Matcher("host", "b", True).matches({"host": VICTIM})
    trivial = time.perf_counter() - started
    # backtracking needs seconds per call here; RE2 is as fast as a trivial pattern
    assert redos < max(20 * trivial, 0.05), (redos, trivial)
    # what only a backtracking engine can do is refused: it is RE2
    for pattern in (r"(a)\1", "(?=a)a", "(?<=a)b", "a" * (regex.MAX_PATTERN_CHARS + 1)):
        with pytest.raises(regex.ValidationError):
            regex.check(pattern)


async def test_redos_silence_from_a_tenant_stays_fast(env: Env) -> None:
    await firing_host(env, "stadt-a", "srv-1", VICTIM)
    token = env.token("tenant", "stadt-a")
    r = await env.client.post("/api/v1/silences", json=silence(env, REDOS), headers=auth(token))
    assert r.status_code == 200, r.text
    started = time.perf_counter()
    await tick(env)
    r = await env.client.get("/api/v1/alerts", headers=auth(env.admin_token))
    elapsed = time.perf_counter() - started
    assert r.status_code == 200
    (alert,) = r.json()["alerts"]
    assert alert["labels"]["host"] == VICTIM and alert["silenced"] is False
    assert elapsed < 1.0, elapsed  # Python's re: several seconds per match
    # and a matching silence does silence it
    r = await env.client.post("/api/v1/silences", json=silence(env, "a+!"), headers=auth(token))
    assert r.status_code == 200, r.text
    r = await env.client.get("/api/v1/alerts", headers=auth(env.admin_token))
    assert r.json()["alerts"][0]["silenced"] is True


async def test_regexes_re2_cannot_run_are_refused_with_the_reason(env: Env) -> None:
    cases = {
        r"(a)\1": "invalid escape sequence",
        "(?=a)a": "invalid perl operator",
        "(": "missing )",
    }
    for pattern, reason in cases.items():
        r = await env.client.post("/api/v1/silences", json=silence(env, pattern), headers=auth(env.admin_token))
        assert r.status_code == 400, pattern
        body = r.json()
        assert body["error"].startswith("matcher host: ") and reason in body["error"], body
    # as the README shows it
    r = await env.client.post("/api/v1/silences", json=silence(env, r"(a)\1"), headers=auth(env.admin_token))
    assert r.json() == {
        "error": "matcher host: invalid regular expression: invalid escape sequence: \\1",
        "detail": ["RE2 syntax as in Alertmanager: no backreferences (\\1), no lookaround ((?=, (?<=)"],
    }
    # the length limit is in the schema (and so in the OpenAPI document)
    too_long = silence(env, "x" * (regex.MAX_PATTERN_CHARS + 1))
    r = await env.client.post("/api/v1/silences", json=too_long, headers=auth(env.admin_token))
    assert r.status_code == 400 and "length <= 1024" in r.json()["detail"][0], r.json()
    # a plain (non-regex) matcher may hold anything: it is compared, never compiled
    r = await env.client.post(
        "/api/v1/silences", json=silence(env, r"(a)\1", is_regex=False), headers=auth(env.admin_token)
    )
    assert r.status_code == 200, r.text
    assert env.count("SELECT count(*) FROM silences") == 1


async def test_a_stored_silence_re2_refuses_is_skipped_not_fatal(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    await firing_host(env, "stadt-a", "srv-1", "rathaus-fs01")
    legacy = "(?=rathaus)rathaus-fs0(?!2)1"  # Python syntax, stored before RE2
    conn = env.db()
    try:
        storage.add_silence(
            conn, [Matcher("host", legacy, True)], starts_at=env.clock.now, ends_at=env.clock.now + 3600,
            created_by="test", comment="", tenant=None, now=env.clock.now,
        )  # fmt: skip
        conn.commit()
    finally:
        conn.close()
    with caplog.at_level(logging.WARNING, logger="collector.alerting.regex"):
        env.clock.now += 60
        await tick(env)
        r = await env.client.get("/api/v1/alerts", headers=auth(env.admin_token))
    assert r.status_code == 200
    (alert,) = r.json()["alerts"]
    assert alert["state"] == "firing" and alert["silenced"] is False
    assert any("silence matcher ignored" in m and "invalid perl operator" in m for m in caplog.messages)
    r = await env.client.get("/api/v1/silences", headers=auth(env.admin_token))
    assert r.status_code == 200 and r.json()["count"] == 1


async def test_silences_are_at_most_max_silence(env: Env) -> None:
    now = env.clock.now
    admin = auth(env.admin_token)
    ok = silence(env, "srv-1", is_regex=False, ends_at=now + 30 * DAY)
    r = await env.client.post("/api/v1/silences", json=ok, headers=admin)
    assert r.status_code == 200, r.text
    # a start in the past means now (as in Alertmanager), so it cannot stretch the limit
    r = await env.client.post("/api/v1/silences", json={**ok, "starts_at": now - 365 * DAY}, headers=admin)
    assert r.status_code == 200 and r.json()["starts_at"] == now
    year_5107 = 98_000_000_000.0
    for bad in (
        {**ok, "ends_at": now + 30 * DAY + 1},
        {**ok, "ends_at": year_5107},
        {**ok, "starts_at": now + 31 * DAY, "ends_at": now + 32 * DAY},
    ):
        r = await env.client.post("/api/v1/silences", json=bad, headers=admin)
        assert r.status_code == 400, bad
        assert "(limit alerts.max_silence_s = 2592000 (30 days))" in r.json()["error"], r.json()
    r = await env.client.post("/api/v1/silences", json={**ok, "ends_at": now + 30 * DAY + 1}, headers=admin)
    assert r.json()["error"] == (
        "a silence of 2592001 s is longer than allowed (limit alerts.max_silence_s = 2592000 (30 days))"
    )
    assert env.count("SELECT count(*) FROM silences") == 2


async def test_max_silence_comes_from_the_config(make_env: Callable[..., Env]) -> None:
    config = Config()
    config.alerts.max_silence_s = 7200
    env = make_env(config)
    r = await env.client.post(
        "/api/v1/silences", json=silence(env, "x", ends_at=env.clock.now + 7201), headers=auth(env.admin_token)
    )
    assert r.status_code == 400 and "alerts.max_silence_s = 7200 (2 h)" in r.json()["error"]
    r = await env.client.post(
        "/api/v1/silences", json=silence(env, "x", ends_at=env.clock.now + 7200), headers=auth(env.admin_token)
    )
    assert r.status_code == 200, r.text
    await env.client.aclose()


@pytest.mark.sqlite_only  # drives the CLI in a subprocess on a SQLite path
async def test_cli_silence_refuses_what_the_api_refuses(make_env: Callable[..., Env], tmp_path: Path) -> None:
    env = make_env()
    await env.client.aclose()
    env.app.state.collector.close()
    cli_env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    exe = leitstand("leitstand-collector")
    db = ["--db", str(env.db_path)]
    r = run_cli(exe, "alerts", "silence", "--match", r"host=~(a)\1", "--duration", "1h", *db, env=cli_env)
    assert r.returncode == 1 and "invalid regular expression" in r.stderr and "escape" in r.stderr, r.stderr
    r = run_cli(exe, "alerts", "silence", "--match", "host=x", "--duration", "31d", *db, env=cli_env)
    assert r.returncode == 1 and "alerts.max_silence_s" in r.stderr, r.stderr
    r = run_cli(exe, "alerts", "silence", "--match", "host=x", "--until", "98000000000", *db, env=cli_env)
    assert r.returncode == 1 and "alerts.max_silence_s" in r.stderr, r.stderr
    r = run_cli(exe, "alerts", "silence", "--match", f"host=~{REDOS}", "--duration", "30d", *db, env=cli_env)
    assert r.returncode == 0, r.stderr
    assert env.count("SELECT count(*) FROM silences") == 1


async def test_a_tenant_holds_at_most_max_silences_per_tenant(make_env: Callable[..., Env]) -> None:
    config = Config()
    config.alerts.max_silences_per_tenant = 2
    env = make_env(config)
    env.tenant("stadt-a")
    env.tenant("stadt-b")
    token_a, token_b = env.token("tenant", "stadt-a"), env.token("tenant", "stadt-b")
    ids = []
    for _ in range(2):
        r = await env.client.post("/api/v1/silences", json=silence(env, "x"), headers=auth(token_a))
        assert r.status_code == 200, r.text
        ids.append(r.json()["id"])
    r = await env.client.post("/api/v1/silences", json=silence(env, "x"), headers=auth(token_a))
    assert r.status_code == 400
    assert r.json()["error"] == (
        "the tenant already has 2 silences that have not ended (limit alerts.max_silences_per_tenant = 2)"
    )
    # another tenant and the admin are not held back by stadt-a's silences
    for token in (token_b, env.admin_token):
        r = await env.client.post("/api/v1/silences", json=silence(env, "x"), headers=auth(token))
        assert r.status_code == 200, r.text
    # an ended silence frees its place, and so does one that ran out
    r = await env.client.delete(f"/api/v1/silences/{ids[0]}", headers=auth(token_a))
    assert r.status_code == 200
    r = await env.client.post("/api/v1/silences", json=silence(env, "x"), headers=auth(token_a))
    assert r.status_code == 200, r.text
    env.clock.now += 3601
    r = await env.client.post("/api/v1/silences", json=silence(env, "x"), headers=auth(token_a))
    assert r.status_code == 200, r.text
    await env.client.aclose()
