"""The database refusing writes (disk full) loses nothing already stored,
acknowledges nothing new, and recovers when space returns."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

import collector.app
from collector.db import connect as real_connect
from tests.collector.conftest import batch, report

T0 = 1_764_000_000.0


@pytest.mark.sqlite_only  # fills the disk under a SQLite file
async def test_disk_full_is_503_nothing_stored_then_recovers(make_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    writer_conns: list[sqlite3.Connection] = []

    def connect(path: Path | str, **kw: Any) -> sqlite3.Connection:
        conn = real_connect(path, **kw)
        writer_conns.append(conn)
        return conn

    monkeypatch.setattr(collector.app, "connect", connect)
    env = make_env()
    token = await env.enroll(env.tenant("t1"), "a1")
    assert (await env.post(token, batch("a1", [report(1, T0 - 100)]))).status_code == 200
    writer = writer_conns[-1]
    pages = writer.execute("PRAGMA page_count").fetchone()[0]
    # SQLite's own quota: the same SQLITE_FULL a full disk gives.
    writer.execute(f"PRAGMA max_page_count = {pages}")
    big = [
        report(s, T0 - 90 + s, textfile=[{"name": "x", "value": 1, "labels": {"k": "v" * 1000}}] * 50) for s in (2, 3)
    ]
    r = await env.post(token, batch("a1", big))
    assert r.status_code == 503
    assert "nothing stored" in r.json()["error"]
    assert "full" in " ".join(r.json()["detail"])
    health = await env.client.get("/healthz")
    assert health.status_code == 503
    assert env.count("SELECT count(*) FROM samples") == 1
    assert env.count("SELECT last_seq FROM hosts") == 1
    conn = env.db()
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    writer.execute("PRAGMA max_page_count = 1073741823")
    r = await env.post(token, batch("a1", big))
    assert r.status_code == 200
    assert r.json()["stored"] == 2
    assert (await env.client.get("/healthz")).status_code == 200
    await env.client.aclose()


async def test_retention_prunes_only_old_raw_samples(make_env: Any) -> None:
    from collector import store

    env = make_env()
    token = await env.enroll(env.tenant("t1"), "a1")
    env.clock.now = T0
    await env.post(token, batch("a1", [report(1, T0 - 100)]))
    env.clock.now = T0 + 40 * 86400
    await env.post(token, batch("a1", [report(2, T0 + 40 * 86400 - 10)]))
    conn = env.db()
    try:
        conn.execute("BEGIN")
        deleted = store.prune_samples(conn, before=env.clock.now - 35 * 86400)
        conn.execute("COMMIT")
        assert deleted == 1
        assert [s for (s,) in conn.execute("SELECT seq FROM samples")] == [2]
        # the ledger is not touched by raw-sample retention
        assert conn.execute("SELECT count(*) FROM ledger").fetchone()[0] > 0
    finally:
        conn.close()
    await env.client.aclose()
