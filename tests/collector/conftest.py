"""The collector's real app and a real SQLite file, driven in process through
httpx.ASGITransport: real requests, no socket."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from starlette.applications import Starlette

from collector import admin
from collector.app import create_app
from collector.config import Config
from collector.db import Connection, connect, migrate


class FakeClock:
    def __init__(self, now: float = 1_764_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Env:
    app: Starlette
    client: httpx.AsyncClient
    db_path: Path
    clock: FakeClock
    admin_token: str

    def db(self) -> Connection:
        return connect(self.db_path)

    def tenant(self, name: str) -> str:
        """Create a tenant, return one of its enroll tokens."""
        conn = self.db()
        try:
            if not conn.execute("SELECT 1 FROM tenants WHERE name = ?", (name,)).fetchone():
                admin.add_tenant(conn, name, actor="test")
            return admin.create_token(conn, "enroll", actor="test", tenant=name)[1]
        finally:
            conn.close()

    def token(self, role: str, tenant: str | None = None) -> str:
        conn = self.db()
        try:
            return admin.create_token(conn, role, actor="test", tenant=tenant)[1]
        finally:
            conn.close()

    async def enroll(self, enroll_token: str, agent_id: str, hostname: str = "") -> str:
        r = await self.client.post(
            "/api/v1/enroll",
            json={"agent_id": agent_id, "hostname": hostname or agent_id},
            headers=auth(enroll_token),
        )
        assert r.status_code == 200, r.text
        token: str = r.json()["token"]
        return token

    async def post(self, token: str, body: Any, **kw: Any) -> httpx.Response:
        return await self.client.post("/api/v1/reports", json=body, headers=auth(token), **kw)

    def count(self, sql: str, *args: object) -> int:
        conn = self.db()
        try:
            return int(conn.execute(sql, args).fetchone()[0])
        finally:
            conn.close()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def asgi_scope(path: str, headers: list[tuple[bytes, bytes]], method: str = "POST") -> dict[str, Any]:
    """An HTTP scope as uvicorn builds it, for driving the app at the ASGI level."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"test"), *headers],
        "client": ("127.0.0.1", 40000),
        "server": ("test", 80),
        "state": {},
    }


def report(seq: int, ts: float, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "seq": seq,
        "ts": ts,
        "interval_s": 15,
        "cpu": {"count": 4, "percent": 12.5, "busy_seconds_total": 1000.0 + seq},
        "memory": {"total_bytes": 8 << 30, "used_bytes": 4 << 30},
        "disks": [{"mount": "/", "device": "sda1", "total_bytes": 100 << 30, "used_bytes": 40 << 30}],
        "net": [{"nic": "eth0", "rx_bytes_total": 1000 * seq, "tx_bytes_total": 500 * seq}],
        "load1": 0.5,
        "sessions": 1,
    }
    body.update(over)
    return body


def batch(agent_id: str, reports: list[dict[str, Any]], **agent: Any) -> dict[str, Any]:
    info = {"id": agent_id, "hostname": agent_id, "version": "0.1.0", "role": "server", "site": "rathaus"}
    info.update(agent)
    return {"agent": info, "reports": reports}


@pytest.fixture
def make_env(tmp_path: Path) -> Iterator[Callable[..., Env]]:
    apps: list[Starlette] = []
    clients: list[httpx.AsyncClient] = []

    def make(config: Config | None = None) -> Env:
        db_path = tmp_path / "collector.db"
        clock = FakeClock()
        conn = connect(db_path)
        migrate(conn)
        admin_token = admin.create_token(conn, "admin", actor="test")[1]
        conn.close()
        app = create_app(db_path, config, clock=clock)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://collector")
        apps.append(app)
        clients.append(client)
        return Env(app=app, client=client, db_path=db_path, clock=clock, admin_token=admin_token)

    yield make
    for app in apps:
        app.state.collector.close()


@pytest_asyncio.fixture
async def env(make_env: Callable[..., Env]) -> AsyncIterator[Env]:
    e = make_env()
    yield e
    await e.client.aclose()
