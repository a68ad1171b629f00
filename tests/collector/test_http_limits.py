"""Limits with names: reports too old for any open month, gzip bodies that are
not complete. The real app and SQLite file, in process."""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from collector.app import oldest_accepted_ts
from collector.config import Config, IngestConfig, ServerConfig
from tests.collector.conftest import Env, asgi_scope, auth, batch, report

# 2025-11-24 17:20 Berlin (the FakeClock's default): the previous month, October, starts
# 2025-10-01 00:00 CEST = 2025-09-30 22:00 UTC.
T0 = 1_764_000_000.0
OCTOBER_START = dt.datetime(2025, 9, 30, 22, 0, tzinfo=dt.UTC).timestamp()


async def _agent(env: Env, agent_id: str = "a1") -> str:
    return await env.enroll(env.tenant("t1"), agent_id)


def _stored(env: Env) -> int:
    return env.count("SELECT count(*) FROM samples")


def test_default_limit_is_the_start_of_the_previous_berlin_month() -> None:
    assert oldest_accepted_ts(T0, 0) == OCTOBER_START
    # on the first of a month in Berlin (still the 31st in UTC) the previous month is the one before
    first_of_december = dt.datetime(2025, 11, 30, 23, 30, tzinfo=dt.UTC).timestamp()
    assert oldest_accepted_ts(first_of_december, 0) == dt.datetime(2025, 10, 31, 23, 0, tzinfo=dt.UTC).timestamp()
    assert oldest_accepted_ts(T0, 3600) == T0 - 3600


async def test_report_from_2001_is_refused_naming_limit_and_field(env: Env) -> None:
    token = await _agent(env)
    reports = [report(1, T0 - 60), report(2, T0 - 45), report(3, T0 - 30), report(4, 1_000_000_001.0)]
    r = await env.post(token, batch("a1", reports))
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error"] == "implausible timestamps"
    assert len(body["detail"]) == 1
    assert body["detail"][0].startswith("$.reports[3].ts: seq 4 is stamped before 2025-09-30T22:00:00Z")
    assert "ingest.max_past_s" in body["detail"][0]
    assert _stored(env) == 0  # nothing of the batch


async def test_previous_month_is_still_accepted_and_one_second_earlier_is_not(env: Env) -> None:
    token = await _agent(env)
    r = await env.post(token, batch("a1", [report(1, OCTOBER_START - 1)]))
    assert r.status_code == 400
    r = await env.post(token, batch("a1", [report(1, OCTOBER_START + 1), report(2, T0)]))
    assert r.status_code == 200, r.text
    assert _stored(env) == 2


async def test_configured_max_past_s_replaces_the_month_rule(make_env: Any) -> None:
    env = make_env(Config(ingest=IngestConfig(max_past_s=3600)))
    token = await _agent(env)
    r = await env.post(token, batch("a1", [report(1, T0 - 3601)]))
    assert r.status_code == 400
    assert "ingest.max_past_s = 3600 s" in r.json()["detail"][0]
    r = await env.post(token, batch("a1", [report(1, T0 - 3599)]))
    assert r.status_code == 200, r.text
    await env.client.aclose()


async def test_snmp_reading_timestamps_are_checked_both_ways(env: Env) -> None:
    token = await _agent(env)
    old = {"device": "drucker-1", "kind": "printer", "ts": 1_000_000_001.0}
    future = {"device": "drucker-2", "kind": "printer", "ts": T0 + 86400}
    r = await env.post(token, batch("a1", [report(1, T0, snmp=[old, future])]))
    assert r.status_code == 400
    detail = r.json()["detail"]
    assert detail[0].startswith("$.reports[0].snmp[0].ts: device 'drucker-1' is stamped before")
    assert detail[1].startswith("$.reports[0].snmp[1].ts: device 'drucker-2' is stamped 86400 s in the future")
    assert _stored(env) == 0


def _gzipped(env_body: dict[str, Any]) -> bytes:
    return gzip.compress(json.dumps(env_body).encode())


async def _post_raw(env: Env, token: str, data: bytes) -> Any:
    headers = {**auth(token), "Content-Type": "application/json", "Content-Encoding": "gzip"}
    return await env.client.post("/api/v1/reports", content=data, headers=headers)


async def test_gzip_with_truncated_trailer_is_refused(env: Env) -> None:
    token = await _agent(env)
    whole = _gzipped(batch("a1", [report(1, T0)]))
    # the JSON inflates completely from the first bytes; only the CRC-32 and size trailer is cut
    for cut in (1, 4, 8):
        r = await _post_raw(env, token, whole[:-cut])
        assert r.status_code == 400, (cut, r.text)
        assert r.json()["error"] == "gzip body is truncated"
    assert _stored(env) == 0
    r = await _post_raw(env, token, whole)
    assert r.status_code == 200, r.text
    assert _stored(env) == 1


async def test_gzip_with_trailing_garbage_or_bad_crc_is_refused(env: Env) -> None:
    token = await _agent(env)
    whole = _gzipped(batch("a1", [report(1, T0)]))
    r = await _post_raw(env, token, whole + b"junk")
    assert r.status_code == 400
    assert r.json()["error"] == "gzip body has trailing data"
    assert r.json()["detail"] == ["4 bytes after the end of the gzip stream"]
    bad_crc = whole[:-8] + bytes([whole[-8] ^ 0xFF]) + whole[-7:]
    r = await _post_raw(env, token, bad_crc)
    assert r.status_code == 400
    assert "gzip" in r.json()["error"]
    assert _stored(env) == 0


async def test_a_body_trickled_too_slowly_is_408_and_nothing_stored(make_env: Any) -> None:
    env = make_env(Config(server=ServerConfig(body_timeout_s=0.3)))
    token = await _agent(env)
    whole = json.dumps(batch("a1", [report(1, T0)])).encode()
    never = asyncio.Event()

    async def slow_body() -> AsyncIterator[bytes]:
        yield whole[:10]
        await never.wait()  # the rest never comes: the client stalls mid-body
        yield whole[10:]

    headers = {**auth(token), "Content-Type": "application/json"}
    started = time.monotonic()
    r = await env.client.post("/api/v1/reports", content=slow_body(), headers=headers)
    assert r.status_code == 408, r.text
    assert "server.body_timeout_s" in r.json()["error"]
    assert time.monotonic() - started < 5
    assert _stored(env) == 0
    r = await env.post(token, batch("a1", [report(1, T0)]))  # sent again in time: stored
    assert r.status_code == 200
    await env.client.aclose()


def test_server_settings_reach_uvicorn() -> None:
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    from collector.server import HeaderDeadline, uvicorn_options

    options = uvicorn_options(ServerConfig(header_timeout_s=3, keep_alive_timeout_s=7, max_connections=100))
    protocol = options["http"]
    assert issubclass(protocol, HeaderDeadline) and issubclass(protocol, AutoHTTPProtocol)
    assert protocol.header_timeout_s == 3.0
    assert options["timeout_keep_alive"] == 7
    assert options["limit_concurrency"] == 100
    assert options["access_log"] is False  # uvicorn's own; ours is collector/accesslog.py


def test_oldest_accepted_ts_follows_the_month_boundary_when_asked_in_turn() -> None:
    """The answer is kept per month: asked across a boundary (and back, as a
    clock set back does), it is the one of the month asked about each time."""
    first_of_december = dt.datetime(2025, 11, 30, 23, 0, tzinfo=dt.UTC).timestamp()  # 00:00 in Berlin
    december_answer = dt.datetime(2025, 10, 31, 23, 0, tzinfo=dt.UTC).timestamp()
    assert oldest_accepted_ts(first_of_december - 1, 0) == OCTOBER_START
    assert oldest_accepted_ts(first_of_december, 0) == december_answer
    assert oldest_accepted_ts(first_of_december - 1, 0) == OCTOBER_START
    assert oldest_accepted_ts(first_of_december + 86400, 0) == december_answer


async def _asgi_post(env: Env, path: str, token: str, parts: list[bytes], declared: int) -> list[dict[str, Any]]:
    """POST through the real app at the ASGI level: the body's `parts`, then the
    client disconnects (what httpx cannot do in process). The messages sent back."""
    events = [{"type": "http.request", "body": p, "more_body": True} for p in parts] + [{"type": "http.disconnect"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return events.pop(0) if events else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [
        (b"authorization", f"Bearer {token}".encode()),
        (b"content-type", b"application/json"),
        (b"content-length", str(declared).encode()),
    ]
    scope = asgi_scope(path, headers)
    await env.app(scope, receive, send)
    return sent


async def test_a_client_gone_mid_body_is_a_logged_400_not_a_500(env: Env, caplog: Any) -> None:
    token = await _agent(env)
    whole = json.dumps(batch("a1", [report(1, T0 - 30), report(2, T0)])).encode()
    sent = await _asgi_post(env, "/api/v1/reports", token, [whole[:40]], len(whole))
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 400  # a hostile client dropping connections must not flood the log with tracebacks
    body = json.loads(b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"))
    assert body["error"] == "client disconnected before the whole body arrived, nothing stored"
    assert not [r for r in caplog.records if r.levelno >= 40], [r.getMessage() for r in caplog.records]
    assert _stored(env) == 0
    # the same agent's whole batch afterwards is stored: nothing was half-booked
    r = await env.post(token, json.loads(whole))
    assert r.status_code == 200, r.text
    assert _stored(env) == 2


async def test_a_silence_body_is_bounded_while_it_is_read(env: Env) -> None:
    # refused on the declared length before a byte is read, then on what arrives
    sent = await _asgi_post(env, "/api/v1/silences", env.admin_token, [b"{" + b" " * 70_000], 10**9)
    assert next(m for m in sent if m["type"] == "http.response.start")["status"] == 413
    huge = b"{" + b" " * 70_000 + b"}"
    r = await env.client.post("/api/v1/silences", content=huge, headers=auth(env.admin_token))
    assert r.status_code == 413 and "too large" in r.json()["error"]
