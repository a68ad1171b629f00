"""No request handler reads the database on the event loop: every statement a
request causes runs in a reader thread (or the writer's), so a slow read
never stalls the agents' reports. Every route of the OpenAPI document is
called through the real app, with data behind it, on connections that record
each statement run on the event-loop thread."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from collector.config import load_config
from collector.context import Readers
from collector.db import Connection
from collector.openapi import openapi_document
from tests.collector.conftest import Env, auth, batch, report

CONFIG = """\
[readiness.sites.rz-nord]
lat = 53.14
lon = 8.21

[[readiness.applications]]
name = "emw"
tenant = "stadt-lohne"
criticality = "standard"
rpo = "24h"
rto = "4h"
min_sites = 1
min_healthy = 1
instances = [
  {host = "emw-db-1", site = "rz-nord", role = "active"},
  {host = "emw-db-2", site = "rz-nord", role = "active"},
]
"""


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class Watched:
    """A connection that notes every statement run on an event-loop thread."""

    def __init__(self, conn: Connection, on_loop: list[str]) -> None:
        self._conn = conn
        self._on_loop = on_loop

    def execute(self, sql: str, *args: Any) -> Any:
        if _on_event_loop():
            self._on_loop.append(sql)
        return self._conn.execute(sql, *args)

    def executemany(self, sql: str, *args: Any) -> Any:
        if _on_event_loop():
            self._on_loop.append(sql)
        return self._conn.executemany(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


@pytest.fixture
def watched(make_env: Callable[..., Env], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Env, list[str]]:
    on_loop: list[str] = []
    connect = Readers.connect
    monkeypatch.setattr(Readers, "connect", lambda self: Watched(connect(self), on_loop))
    path = tmp_path / "collector.toml"
    path.write_text(CONFIG)
    env = make_env(load_config(path))
    collector = env.app.state.collector
    collector.reader = Watched(collector.reader, on_loop)
    return env, on_loop


def _paths() -> list[tuple[str, str]]:
    return [(method.upper(), path) for path, ops in openapi_document()["paths"].items() for method in ops]


async def test_the_watch_sees_a_read_on_the_loop(watched: tuple[Env, list[str]]) -> None:
    env, on_loop = watched
    env.app.state.collector.reader.execute("SELECT 1")  # as a handler that forgot collector.read would
    assert on_loop == ["SELECT 1"]


async def test_no_route_reads_the_database_on_the_event_loop(watched: tuple[Env, list[str]]) -> None:
    env, on_loop = watched
    c, admin = env.client, auth(env.admin_token)
    token = await env.enroll(env.tenant("stadt-lohne"), "emw-db-1")
    snmp = [{"device": "drucker-1", "kind": "printer", "ok": True, "sys": {"name": "drucker-1"}}]
    r = await env.post(token, batch("emw-db-1", [report(1, env.clock.now - 60), report(2, env.clock.now, snmp=snmp)]))
    assert r.status_code == 200, r.text
    silence = await c.post(
        "/api/v1/silences",
        json={"matchers": [{"name": "rule", "value": "host-down"}], "ends_at": env.clock.now + 3600},
        headers=admin,
    )
    assert silence.status_code == 200, silence.text
    params = {
        "{agent_id}": "emw-db-1",
        "{device_id}": "drucker-1",
        "{app}": "emw",
        "{alert_id}": "no-such-alert",
        "{silence_id}": silence.json()["id"],
        "{name}": "host-down",
    }
    called = []
    for method, template in _paths():
        path = template
        for name, value in params.items():
            path = path.replace(name, value)
        if method == "POST" and template in ("/api/v1/reports", "/api/v1/enroll", "/api/v1/silences"):
            continue  # called above, with a body that is stored
        query = {"tenant": "stadt-lohne"} if template in ("/api/v1/usage", "/metrics") else {}
        body = {"comment": "x"} if method == "POST" else None
        r = await c.request(method, path, headers=admin, params=query, json=body)
        assert r.status_code < 500, (method, path, r.text)
        called.append((method, template, r.status_code))
    assert ("GET", "/api/v1/readiness/{app}", 200) in called and ("GET", "/api/v1/usage", 200) in called
    assert ("POST", "/api/v1/alerts/{alert_id}/ack", 404) in called  # the alert lookup ran, and found none
    assert on_loop == []
