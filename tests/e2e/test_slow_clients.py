"""Slow clients against the real collector process: 1,000 connections that
never finish their request headers (and a slowloris trickling them) are closed
within the header timeout, while /healthz and another agent keep being served."""

from __future__ import annotations

import selectors
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.collector.conftest import batch, report
from tests.e2e.conftest import CollectorProcess

pytestmark = pytest.mark.slow

HEADER_TIMEOUT_S = 2.0
SLOW = 1000


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[CollectorProcess]:
    config = tmp_path / "collector.toml"
    config.write_text(f"[server]\nheader_timeout_s = {HEADER_TIMEOUT_S}\nkeep_alive_timeout_s = 2\n")
    proc = CollectorProcess(tmp_path / "collector.db", tmp_path / "collector.log", config=config)
    proc.start()
    yield proc
    proc.stop()


def _open(port: int, first_bytes: bytes) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    if first_bytes:
        s.sendall(first_bytes)
    s.setblocking(False)
    return s


def _closed_by_peer(s: socket.socket) -> bool:
    try:
        return s.recv(4096) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


def test_unfinished_headers_are_closed_in_bounded_time_and_others_are_served(
    collector: CollectorProcess,
) -> None:
    enroll = collector.token("enroll", tenant="other")
    with httpx.Client(base_url=collector.url, timeout=5) as client:
        r = client.post("/api/v1/enroll", json={"agent_id": "b1"}, headers={"Authorization": f"Bearer {enroll}"})
        assert r.status_code == 200, r.text
        agent_token = r.json()["token"]

    started = time.monotonic()
    # half never send a byte, half stop in the middle of their headers
    partial = b"POST /api/v1/reports HTTP/1.1\r\nHost: collector\r\nContent-Type: appl"
    slow = [_open(collector.port, partial if i % 2 else b"") for i in range(SLOW)]
    # a slowloris: one more header byte every 0.25 s, which must not extend its deadline
    loris = _open(collector.port, b"GET /healthz HTTP/1.1\r\n")
    loris_closed_at: float | None = None

    sel = selectors.DefaultSelector()
    for s in slow:
        sel.register(s, selectors.EVENT_READ)
    open_left = set(slow)
    healthz_ms: list[float] = []
    seq = 0
    deadline = started + HEADER_TIMEOUT_S + 8
    next_trickle = time.monotonic()
    with httpx.Client(base_url=collector.url, timeout=5) as client:
        while (open_left or loris_closed_at is None) and time.monotonic() < deadline:
            # others are served all the while: /healthz and another tenant's agent
            t = time.perf_counter()
            assert client.get("/healthz").status_code == 200
            healthz_ms.append((time.perf_counter() - t) * 1000)
            seq += 1
            r = client.post(
                "/api/v1/reports",
                json=batch("b1", [report(seq, time.time())]),
                headers={"Authorization": f"Bearer {agent_token}"},
            )
            assert r.status_code == 200, r.text
            if loris_closed_at is None and time.monotonic() >= next_trickle:
                try:
                    loris.send(b"X")
                except OSError:
                    loris_closed_at = time.monotonic()
                next_trickle += 0.25
            if loris_closed_at is None and _closed_by_peer(loris):
                loris_closed_at = time.monotonic()
            for key, _ in sel.select(timeout=0.05):
                s = key.fileobj
                assert isinstance(s, socket.socket)
                if _closed_by_peer(s):
                    sel.unregister(s)
                    open_left.discard(s)
    elapsed = time.monotonic() - started
    for s in [*slow, loris]:
        s.close()
    sel.close()

    assert not open_left, f"{len(open_left)} of {SLOW} slow connections still open after {elapsed:.1f} s"
    assert loris_closed_at is not None, "the slowloris connection was kept open"
    assert loris_closed_at - started < HEADER_TIMEOUT_S + 3
    # the header deadline, not something else, closed them: none before it
    assert elapsed >= HEADER_TIMEOUT_S
    assert seq >= 5  # the other agent kept reporting
    assert max(healthz_ms) < 1000, healthz_ms  # a shared 2-core CI machine, not the 100 ms of an idle one
    assert sorted(healthz_ms)[len(healthz_ms) // 2] < 100


def _response(s: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        assert chunk, "connection closed before the response"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = next(int(line.split(b":")[1]) for line in lines if line.lower().startswith(b"content-length"))
    while len(body) < length:
        body += s.recv(4096)
    return lines[0]


def test_kept_alive_connection_with_timely_requests_outlives_the_header_timeout(
    collector: CollectorProcess,
) -> None:
    """The deadline runs per request: several requests on one connection over
    more than the header timeout, each with its headers in time, are all answered."""
    with socket.create_connection(("127.0.0.1", collector.port), timeout=5) as s:
        first = time.monotonic()
        answered = 0
        while time.monotonic() - first < HEADER_TIMEOUT_S * 1.5:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: collector\r\n\r\n")
            assert _response(s) == b"HTTP/1.1 200 OK"
            answered += 1
            time.sleep(0.5)  # the client's pace between requests, not a wait for the server
        assert answered >= 6
    # the real process writes its access log by default, one line per request
    log = collector.log.read_text()
    assert log.count("method=GET route=/healthz status=200") >= answered
