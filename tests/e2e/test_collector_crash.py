"""kill -9 of the collector in the middle of ingest: nothing acknowledged is
lost, the database is intact, and the resent rest is stored exactly once."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from collector import db
from tests.collector.conftest import batch, report
from tests.e2e.conftest import CollectorProcess

pytestmark = pytest.mark.slow

AGENTS = 8
PER_AGENT = 120
BATCH = 4
# a resent report is byte-identical to the first send, as the agent's spool keeps it
T0 = time.time() - 7200


def _enroll(c: CollectorProcess, enroll: str, n: int) -> dict[str, str]:
    tokens = {}
    with httpx.Client(base_url=c.url, timeout=10) as client:
        for i in range(n):
            r = client.post("/api/v1/enroll", json={"agent_id": f"a{i}"}, headers={"Authorization": f"Bearer {enroll}"})
            r.raise_for_status()
            tokens[f"a{i}"] = r.json()["token"]
    return tokens


def _send_all(url: str, agent: str, token: str, acked: dict[str, int], stop: threading.Event) -> None:
    """A simulated agent: sends its reports in order, remembers what was acked."""
    seq = acked.get(agent, 0) + 1
    with httpx.Client(base_url=url, timeout=5, headers={"Authorization": f"Bearer {token}"}) as client:
        while seq <= PER_AGENT and not stop.is_set():
            reports = [report(s, T0 + 15 * s) for s in range(seq, min(seq + BATCH, PER_AGENT + 1))]
            try:
                r = client.post("/api/v1/reports", json=batch(agent, reports))
            except httpx.TransportError:
                return  # the collector is gone; what was not acked stays "spooled"
            assert r.status_code == 200, r.text
            acked[agent] = r.json()["accepted_through_seq"]
            seq = acked[agent] + 1


def _stored(target: Any) -> dict[str, list[int]]:
    if db.is_postgres(target):
        conn: Any = db.connect(target)  # PostgreSQL's own recovery; nothing to check by hand
    else:
        conn = sqlite3.connect(target)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    try:
        rows = conn.execute("SELECT agent_id, seq FROM samples ORDER BY agent_id, seq").fetchall()
    finally:
        conn.close()
    out: dict[str, list[int]] = {}
    for agent, seq in rows:
        out.setdefault(agent, []).append(seq)
    return out


@pytest.fixture(params=["sqlite", "postgres"])
def crashing_collector(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CollectorProcess]:
    target = tmp_path / "collector.db" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    proc = CollectorProcess(target, tmp_path / "collector.log")
    yield proc
    proc.stop()


def test_kill9_mid_ingest_loses_nothing_acknowledged(crashing_collector: CollectorProcess) -> None:
    c = crashing_collector
    enroll = c.token("enroll", "t1")
    c.start()
    tokens = _enroll(c, enroll, AGENTS)
    acked: dict[str, int] = {}
    stop = threading.Event()
    threads = [
        threading.Thread(target=_send_all, args=(c.url, a, t, acked, stop), daemon=True) for a, t in tokens.items()
    ]
    for t in threads:
        t.start()
    # Kill once a good part, but not all, has been acknowledged.
    deadline = time.monotonic() + 60
    while sum(acked.values()) < AGENTS * PER_AGENT // 3 and time.monotonic() < deadline:
        time.sleep(0.005)
    c.kill9()
    stop.set()
    for t in threads:
        t.join(10)
    acked_at_kill = dict(acked)
    assert 0 < sum(acked_at_kill.values()) < AGENTS * PER_AGENT

    stored = _stored(c.db)
    for agent, through in acked_at_kill.items():
        # everything acknowledged is there, contiguous from seq 1
        assert stored[agent][:through] == list(range(1, through + 1)), agent

    # Restart; the agents resend from their last ack, overlapping by one batch
    # to exercise duplicates of what may have been committed but not acked.
    c.start()
    resend = {a: max(0, n - BATCH) for a, n in acked_at_kill.items()}
    threads = [
        threading.Thread(target=_send_all, args=(c.url, a, t, resend, threading.Event()), daemon=True)
        for a, t in tokens.items()
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    stored = _stored(c.db)
    for agent in tokens:
        assert stored[agent] == list(range(1, PER_AGENT + 1)), agent
