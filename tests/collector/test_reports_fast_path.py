"""POST /api/v1/reports takes a short way into the app (CollectorApp.reports):
every answer, header and access-log line must be the one the normal
Starlette way gives. Each case runs both ways on the real app and database,
for two agents with the same history; and the body reader at the ASGI level,
where a whole body arrives in one message (no deadline armed) or the first
message is waited for (under the deadline)."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from collector.config import Config, ServerConfig
from collector.errors import OverloadedError
from tests.collector.conftest import Env, asgi_scope, auth, batch, report

T0 = 1_764_000_000.0


class Both:
    """The app with the short way on (`fast`) and off, one agent each."""

    def __init__(self, env: Env, tokens: dict[str, str]) -> None:
        self.env = env
        self.tokens = tokens
        self.fast_way = env.app.reports
        assert self.fast_way is not None
        self.taken = 0

        async def counted(scope: Any, receive: Any, send: Any) -> None:
            self.taken += 1
            assert self.fast_way is not None
            await self.fast_way(scope, receive, send)

        self.counted = counted
        # one client address each way: the failed-authentication log is limited per address
        self.clients = {
            fast: httpx.AsyncClient(
                transport=httpx.ASGITransport(app=env.app, client=(address, 40000)), base_url="http://collector"
            )
            for fast, address in ((True, "10.0.0.1"), (False, "10.0.0.2"))
        }

    async def close(self) -> None:
        for client in self.clients.values():
            await client.aclose()

    async def post(
        self, fast: bool, agent: str, body: bytes | None, headers: dict[str, str], path: str = "/api/v1/reports"
    ) -> httpx.Response:
        self.env.app.reports = self.counted if fast else None
        taken = self.taken
        try:
            return await self.clients[fast].post(path, content=body, headers=headers)
        finally:
            assert self.taken == taken + (1 if fast and path == "/api/v1/reports" else 0)
            self.env.app.reports = self.fast_way


async def both_ways(make_env: Callable[..., Env], config: Config | None = None) -> Both:
    env = make_env(config or Config(server=ServerConfig(rate_limit_rps=0)))
    enroll = env.tenant("t1")
    tokens = {agent: await env.enroll(enroll, agent) for agent in ("fast", "slow")}
    return Both(env, tokens)


def body_of(agent: str, reports: list[dict[str, Any]], **extra: Any) -> bytes:
    doc = batch(agent, reports)
    doc.update(extra)
    return json.dumps(doc).encode()


#: (name, body for an agent, extra headers, whose token: "own", "other", "none", "bogus")
CASES: list[tuple[str, Callable[[str], bytes], dict[str, str], str]] = [
    ("good", lambda a: body_of(a, [report(1, T0 - 60), report(2, T0)]), {}, "own"),
    ("resent", lambda a: body_of(a, [report(1, T0 - 60), report(2, T0)]), {}, "own"),
    ("gzip", lambda a: gzip.compress(body_of(a, [report(3, T0 + 1)])), {"Content-Encoding": "gzip"}, "own"),
    ("unknown field", lambda a: body_of(a, [report(4, T0 + 2, temp_c=41)]), {}, "own"),
    ("no token", lambda a: body_of(a, [report(5, T0 + 3)]), {}, "none"),
    ("bogus token", lambda a: body_of(a, [report(5, T0 + 3)]), {}, "bogus"),
    ("other agent's token", lambda a: body_of(a, [report(5, T0 + 3)]), {}, "other"),
    ("not JSON", lambda a: b"{nope", {}, "own"),
    ("schema", lambda a: body_of(a, [{"seq": "x"}]), {}, "own"),
    ("NUL", lambda a: body_of(a, [report(5, T0 + 3)], note="\u0000"), {}, "own"),
    ("encoding", lambda a: body_of(a, [report(5, T0 + 3)]), {"Content-Encoding": "br"}, "own"),
    ("bad gzip", lambda a: b"\x1f\x8bnot gzip", {"Content-Encoding": "gzip"}, "own"),
    ("too large", lambda a: b"[" + b" " * 11_000_000 + b"]", {}, "own"),
    ("future", lambda a: body_of(a, [report(5, T0 + 86400)]), {}, "own"),
    ("seq conflict", lambda a: body_of(a, [report(2, T0 + 5)]), {}, "own"),
    ("after all that", lambda a: body_of(a, [report(6, T0 + 6)]), {}, "own"),
]


def headers_for(both: Both, agent: str, whose: str, extra: dict[str, str]) -> dict[str, str]:
    other = "slow" if agent == "fast" else "fast"
    token = {"own": both.tokens[agent], "other": both.tokens[other], "bogus": "lst_0123456789ab_nope"}.get(whose)
    return {"Content-Type": "application/json", **(auth(token) if token else {}), **extra}


def anonymous(text: str) -> str:
    return text.replace("fast", "AGENT").replace("slow", "AGENT")


def comparable(r: httpx.Response, agent: str) -> tuple[int, dict[str, str], Any]:
    headers = {k: v for k, v in r.headers.items() if k != "content-length"}
    return r.status_code, headers, json.loads(anonymous(r.text))


def log_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What the collector logged, without what differs by design: the duration, agent, token id, address."""
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("leitstand.collector.")]
    caplog.clear()
    return [
        anonymous(re.sub(r"duration_ms=[0-9.]+ |10\.0\.0\.[12]|(?<=token=)[0-9a-f]{12}\b", "", line)) for line in lines
    ]


async def test_every_answer_and_log_line_is_the_normal_ways(
    make_env: Callable[..., Env], caplog: pytest.LogCaptureFixture
) -> None:
    both = await both_ways(make_env)
    both.env.clock.now = T0 + 10
    caplog.set_level(logging.INFO)
    statuses = []
    for name, body, extra, whose in CASES:
        answers, logs = [], []
        for fast, agent in ((True, "fast"), (False, "slow")):
            r = await both.post(fast, agent, body(agent), headers_for(both, agent, whose, extra))
            answers.append(comparable(r, agent))
            logs.append(log_lines(caplog))
        assert answers[0] == answers[1], name
        assert logs[0] == logs[1], name
        statuses.append(answers[0][0])
    # the cases reach what they are named after
    assert statuses == [200, 200, 200, 200, 401, 401, 403, 400, 400, 400, 400, 400, 413, 400, 409, 200]
    hosts = {row[0]: row[1:] for row in both.env.db().execute("SELECT agent_id, last_seq, reports_total FROM hosts")}
    assert hosts["fast"] == hosts["slow"] == (6, 5)
    await both.close()


async def test_a_rate_limited_token_gets_the_same_429_either_way(make_env: Callable[..., Env]) -> None:
    both = await both_ways(make_env, Config(server=ServerConfig(rate_limit_rps=0.001, rate_limit_burst=1)))
    answers = []
    for fast, agent in ((True, "fast"), (False, "slow")):
        headers = headers_for(both, agent, "own", {})
        first = await both.post(fast, agent, body_of(agent, [report(1, T0)]), headers)
        assert first.status_code == 200
        answers.append(comparable(await both.post(not fast, agent, body_of(agent, [report(2, T0)]), headers), agent))
    assert answers[0] == answers[1]
    assert answers[0][0] == 429 and "retry-after" in answers[0][1]
    await both.close()


async def test_overload_and_crashes_are_answered_the_same_either_way(make_env: Callable[..., Env]) -> None:
    both = await both_ways(make_env)
    writer = both.env.app.state.collector.writer

    def full(*job: object) -> None:
        raise OverloadedError("collector is busy, retry later", retry_after_s=7)

    writer._put = full
    answers = [
        comparable(await both.post(fast, a, body_of(a, [report(1, T0)]), headers_for(both, a, "own", {})), a)
        for fast, a in ((True, "fast"), (False, "slow"))
    ]
    assert answers[0] == answers[1] and answers[0][0] == 429 and answers[0][1]["retry-after"] == "7"

    def broken(*job: object) -> None:
        raise RuntimeError("a bug")

    writer._put = broken
    # the server sees the exception (and logs it) after the 500 went out, either way
    lenient = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=both.env.app, raise_app_exceptions=False), base_url="http://collector"
    )
    for fast, agent in ((True, "fast"), (False, "slow")):
        both.env.app.reports = both.fast_way if fast else None
        with pytest.raises(RuntimeError, match="a bug"):
            await both.env.client.post(
                "/api/v1/reports", content=body_of(agent, [report(1, T0)]), headers=headers_for(both, agent, "own", {})
            )
        r = await lenient.post(
            "/api/v1/reports", content=body_of(agent, [report(1, T0)]), headers=headers_for(both, agent, "own", {})
        )
        assert (r.status_code, r.json()) == (500, {"error": "internal error", "detail": ["RuntimeError"]})
    await lenient.aclose()
    await both.close()


async def test_a_query_string_or_another_method_takes_the_normal_way(make_env: Callable[..., Env]) -> None:
    both = await both_ways(make_env)
    headers = headers_for(both, "fast", "own", {})
    r = await both.post(True, "fast", body_of("fast", [report(1, T0)]), headers, path="/api/v1/reports?x=1")
    assert r.status_code == 400 and "unknown query parameter" in r.json()["error"]
    r = await both.env.client.get("/api/v1/reports", headers=headers)
    assert r.status_code == 405
    await both.close()


# --- the body reader at the ASGI level -------------------------------------------------


async def asgi_post(env: Env, token: str, receive: Callable[[], Any]) -> tuple[int, dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = asgi_scope("/api/v1/reports", [(b"authorization", f"Bearer {token}".encode())])
    await env.app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], json.loads(b"".join(m.get("body", b"") for m in sent if m["type"] != start["type"]))


async def messages(*events: dict[str, Any], wait_first: asyncio.Event | None = None) -> AsyncIterator[Any]:
    if wait_first is not None:
        await wait_first.wait()
    for event in events:
        yield event
    await asyncio.Event().wait()  # then nothing more: a stalled client


async def test_a_body_in_one_message_a_waited_for_one_and_a_stalled_one(make_env: Callable[..., Env]) -> None:
    env = make_env(Config(server=ServerConfig(rate_limit_rps=0, body_timeout_s=0.3)))
    env.clock.now = T0 + 10
    token = await env.enroll(env.tenant("t1"), "a1")

    def receiver(stream: AsyncIterator[Any]) -> Callable[[], Any]:
        return lambda: stream.__anext__()

    whole = body_of("a1", [report(1, T0)])
    one = messages({"type": "http.request", "body": whole, "more_body": False})
    status, answer = await asgi_post(env, token, receiver(one))
    assert (status, answer["accepted_through_seq"]) == (200, 1)

    # the first message is not there yet: it is waited for, under the deadline
    arrives = asyncio.Event()
    later = messages({"type": "http.request", "body": body_of("a1", [report(2, T0 + 1)])}, wait_first=arrives)
    asyncio.get_running_loop().call_later(0.05, arrives.set)
    status, answer = await asgi_post(env, token, receiver(later))
    assert (status, answer["accepted_through_seq"]) == (200, 2)

    started = time.monotonic()
    status, answer = await asgi_post(env, token, receiver(messages(wait_first=asyncio.Event())))
    assert status == 408 and "server.body_timeout_s" in answer["error"]
    assert time.monotonic() - started < 5

    status, answer = await asgi_post(env, token, receiver(messages({"type": "http.disconnect"})))
    assert (status, answer["error"]) == (400, "client disconnected before the whole body arrived, nothing stored")
    assert env.count("SELECT count(*) FROM samples") == 2
