"""Stored = acknowledged under overload, against a real collector process (issue 18).

Many agents at once (on PostgreSQL also through two collectors sharing the
database, each attempt to either), each with a client timeout far shorter than the
overloaded collector's latency and a tiny writer queue (429s), resending every
batch until it is acknowledged, as agent/sender.py does. The collector keeps
working on requests whose client gave up, so most resends arrive after the
first attempt was committed and must be answered as duplicates. Afterwards,
read in one snapshot of the database: every report stored exactly once, the
hosts' counters (database and API) equal the rows, the metering coverage and
points count each stored report once, and the ledger equals a reference
collector that got every batch exactly once, in order.
"""

from __future__ import annotations

import asyncio
import collections
import json
import random
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from collector import db
from tests.collector.conftest import batch, report
from tests.e2e.conftest import CollectorProcess

pytestmark = [pytest.mark.slow, pytest.mark.sqlite_only]  # each test picks its backend itself

AGENTS = 32
BATCHES = 6
PER_BATCH = 3
TENANTS = ("stadt-lohne", "gemeinde-goldenstedt")
#: The first attempt's client timeout: far below what an overloaded collector answers in.
FIRST_TIMEOUT_S = 0.005
MAX_TIMEOUT_S = 5.0
#: Every batch is acknowledged by then (the timeout doubles up to MAX_TIMEOUT_S; 429s are retried).
DELIVERY_DEADLINE_S = 120.0

#: A tiny writer queue and small commits: many requests wait, some get 429 (back-pressure).
OVERLOAD_CONFIG = """\
[server]
rate_limit_rps = 0
access_log = false

[ingest]
queue_max = 8
writer_batch_max = 4
"""


@dataclass
class Delivery:
    """What the agents saw."""

    attempts: int = 0
    timeouts: int = 0
    dropped: int = 0  # connections refused, reset or closed without an answer
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    acked_stored: int = 0  # Σ ack.stored of the acknowledgements received
    acked_duplicates: int = 0


def _post(url: str, path: str, body: dict[str, Any], token: str) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(
        url + path,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _get(url: str, path: str, token: str) -> dict[str, Any]:
    req = urllib.request.Request(url + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        result: dict[str, Any] = json.loads(resp.read())
        return result


def _enroll(coll: CollectorProcess, agents: list[str]) -> dict[str, str]:
    enroll = {t: coll.token("enroll", t) for t in TENANTS}
    tokens = {}
    for i, agent in enumerate(agents):
        status, body = _post(
            coll.url, "/api/v1/enroll", {"agent_id": agent, "hostname": agent}, enroll[TENANTS[i % len(TENANTS)]]
        )
        assert status == 200, body
        tokens[agent] = body["token"]
    return tokens


def _batches(agents: list[str]) -> dict[str, list[dict[str, Any]]]:
    start = time.time() - 2 * 3600
    return {
        agent: [
            batch(agent, [report(s, start + 60 * s, sessions=s % 3) for s in range(first, first + PER_BATCH)])
            for first in range(1, BATCHES * PER_BATCH + 1, PER_BATCH)
        ]
        for agent in agents
    }


async def _post_once(url: str, payload: bytes, token: str, timeout: float) -> tuple[int, dict[str, Any]]:
    """One attempt on a new connection, as an agent after a failed one: the whole request is written,
    then the answer awaited for `timeout` seconds at most (TimeoutError: the connection is dropped,
    and the collector, which has the request, may store it all the same)."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(
            f"POST /api/v1/reports HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
            + payload
        )
        await writer.drain()
        async with asyncio.timeout(timeout):
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            body = await reader.readexactly(length)
        return int(head[9:12]), json.loads(body)
    finally:
        writer.close()


async def _agent(
    urls: list[str], token: str, batches: list[dict[str, Any]], seen: Delivery, rng: random.Random
) -> None:
    """One agent: each batch in turn, resent until acknowledged (timeout doubling, as the agent's sender).
    With several collectors each attempt goes to a random one, as through a load balancer."""
    for body in batches:
        payload = json.dumps(body).encode()
        timeout = FIRST_TIMEOUT_S
        while True:
            seen.attempts += 1
            try:
                status, answer = await _post_once(rng.choice(urls), payload, token, timeout)
            except TimeoutError:
                seen.timeouts += 1  # the collector may well store it after we gave up
                timeout = min(2 * timeout, MAX_TIMEOUT_S)
                continue
            except (OSError, asyncio.IncompleteReadError):
                seen.dropped += 1  # reset or closed without an answer: resent, as by the agent
                continue
            seen.statuses[status] += 1
            if status == 200:
                seen.acked_stored += answer.get("stored", 0)
                seen.acked_duplicates += answer.get("duplicates", 0)
                break
            assert status in (429, 503), answer
            # The agent's back-off after 429/503 (not a wait for the server to start), jittered
            await asyncio.sleep(rng.uniform(0.0, 0.02))


async def _deliver(urls: list[str], tokens: dict[str, str], batches: dict[str, list[dict[str, Any]]]) -> Delivery:
    seen = Delivery()
    rng = random.Random(18)
    try:
        async with asyncio.timeout(DELIVERY_DEADLINE_S):
            await asyncio.gather(*(_agent(urls, tokens[a], batches[a], seen, rng) for a in tokens))
    except TimeoutError:
        raise AssertionError(f"not every batch acknowledged within {DELIVERY_DEADLINE_S} s: {seen}") from None
    return seen


def _snapshot(target: Path | str) -> dict[str, Any]:
    """Counters, rows and metering of the database, each read in one statement."""
    conn = db.connect(target)
    try:

        def rows(sql: str) -> dict[str, tuple[int, ...]]:
            return {str(r[0]): tuple(int(v) for v in r[1:]) for r in conn.execute(sql).fetchall()}

        return {
            "hosts": rows(
                "SELECT h.agent_id, h.reports_total, (SELECT count(*) FROM samples s WHERE s.agent_id = h.agent_id), "
                "h.last_seq, h.duplicates_total FROM hosts h"
            ),
            "coverage": rows("SELECT stream, sum(reports) FROM coverage GROUP BY stream"),
            "points": rows("SELECT stream, count(*) FROM meter_points GROUP BY stream"),
            "ledger": sorted(
                tuple(r) for r in conn.execute("SELECT tenant, hour, meter, dim, scaled FROM ledger").fetchall()
            ),
        }
    finally:
        conn.close()


@pytest.fixture
def overload_config(tmp_path: Path) -> Path:
    path = tmp_path / "overload.toml"
    path.write_text(OVERLOAD_CONFIG)
    return path


@pytest.fixture(params=["sqlite", "postgres", "postgres-2-collectors"])
def overloaded(
    request: pytest.FixtureRequest, tmp_path: Path, overload_config: Path
) -> Iterator[list[CollectorProcess]]:
    """The overloaded collectors sharing one database: one on SQLite, one or two on PostgreSQL."""
    target: Path | str = tmp_path / "overloaded.db"
    if request.param.startswith("postgres"):
        target = str(request.getfixturevalue("postgres_url"))
    count = 2 if request.param.endswith("2-collectors") else 1
    colls = [CollectorProcess(target, tmp_path / f"overloaded-{i}.log", config=overload_config) for i in range(count)]
    try:
        for coll in colls:  # one after the other: the first migrates the empty database
            coll.start()
        yield colls
    finally:
        for coll in colls:
            coll.stop()


def test_every_acknowledged_report_is_stored_and_counted_once_under_overload(
    overloaded: list[CollectorProcess], tmp_path: Path
) -> None:
    first = overloaded[0]
    agents = [f"host-{i:02d}" for i in range(AGENTS)]
    batches = _batches(agents)
    reports = AGENTS * BATCHES * PER_BATCH

    seen = asyncio.run(_deliver([c.url for c in overloaded], _enroll(first, agents), batches))

    # The overload really happened: first attempts timed out, and resends reached reports the
    # collector had committed after their client gave up (answered as duplicates).
    assert seen.timeouts > 0, seen
    assert seen.acked_duplicates > 0, seen
    # Every batch acknowledged, so every report is in. Late attempts can only be duplicates now.
    snap = _snapshot(first.db)
    expected_hosts = {a: (BATCHES * PER_BATCH,) * 3 for a in agents}
    assert {a: v[:3] for a, v in snap["hosts"].items()} == expected_hosts  # reports_total = rows = last_seq
    assert sum(v[1] for v in snap["hosts"].values()) == reports
    # What the acknowledgements said was stored, the collector stored; the rest was stored by attempts
    # whose answer was lost (never more than the reports), and resends were counted as duplicates.
    assert seen.acked_stored <= reports
    assert sum(v[3] for v in snap["hosts"].values()) >= seen.acked_duplicates
    # Metering: each stored report is one point and one covered report of its stream, never two.
    assert snap["coverage"] == snap["points"]
    assert sorted(v[0] for v in snap["points"].values()) == [BATCHES * PER_BATCH] * AGENTS
    # The API's counters are the database's.
    admin = first.token("admin")
    for coll in overloaded:
        api = {
            h["id"]: h["reports_total"]
            for tenant in TENANTS
            for h in _get(coll.url, f"/api/v1/hosts?tenant={tenant}", admin)["hosts"]
        }
        assert api == {a: BATCHES * PER_BATCH for a in agents}

    # The ledger equals one of a collector that got every batch once, in order, without overload.
    ref = CollectorProcess(tmp_path / "ref.db", tmp_path / "ref.log")
    ref.start()
    try:
        ref_tokens = _enroll(ref, agents)
        for agent in agents:
            for body in batches[agent]:
                status, ack = _post(ref.url, "/api/v1/reports", body, ref_tokens[agent])
                assert status == 200 and ack["stored"] == PER_BATCH, ack
    finally:
        ref.stop()
    ledger = _snapshot(tmp_path / "ref.db")["ledger"]
    assert ledger, "nothing was metered"
    assert _snapshot(first.db)["ledger"] == ledger
