"""Issue 14's hostile corpus: what a tenant whose token is in the wrong hands
sends, and what each request must get. Used by tests/e2e/test_hostile_corpus.py
(against a real collector process) and bench/noisy_neighbour.py (in a loop
while another tenant's agents report)."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Case", "corpus"]

_OK = (200,)
_REFUSED = (400,)


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    #: which of the attacker's tokens: agent (its enrolled agent), tenant (read), admin (to look)
    token: str
    expect: tuple[int, ...]
    body: Any = None
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    #: send the body gzipped with its trailer cut off
    gzip_truncate: bool = False
    #: runs on the decoded answer when the status is as expected
    check: Callable[[Any], None] | None = None

    def request(self, tokens: dict[str, str]) -> tuple[bytes | None, dict[str, str]]:
        """The body and headers to send, with the token named by `token` from `tokens`."""
        headers = dict(self.headers)
        if self.token in tokens:
            headers["Authorization"] = f"Bearer {tokens[self.token]}"
        if self.body is None:
            return None, headers
        content = self.body if isinstance(self.body, bytes) else json.dumps(self.body).encode()
        headers.setdefault("Content-Type", "application/json")
        if self.gzip_truncate:
            content = gzip.compress(content)[:-4]
            headers["Content-Encoding"] = "gzip"
        return content, headers


MARKUP_HOSTNAME = "[@click=app.quit]harmless[/]\x1b[2J"


def _report(seq: int, ts: float, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "seq": seq,
        "ts": ts,
        "interval_s": 60,
        "cpu": {"count": 4, "percent": 5.0, "busy_seconds_total": 1000.0 + seq % 100_000},
        "memory": {"total_bytes": 8 << 30, "used_bytes": 2 << 30},
        "net": [
            {"nic": "eth0", "rx_bytes_total": 1000 * (seq % 100_000), "tx_bytes_total": 1000},
            {"nic": "eth1", "rx_bytes_total": 1000 * (seq % 100_000), "tx_bytes_total": 1000},
        ],
    }
    body.update(over)
    return body


def _printer(ts: float, pages: int) -> list[dict[str, Any]]:
    return [
        {
            "device": "prn-a-1",
            "kind": "printer",
            "ts": ts,
            "sys": {"uptime_s": 100000.0 + ts % 1000},
            "printer": {"pages_total": pages, "serial": "X1", "model": "M"},
        }
    ]


def _batch(agent_id: str, reports: list[dict[str, Any]], hostname: str = "") -> dict[str, Any]:
    return {
        "agent": {"id": agent_id, "hostname": hostname or agent_id, "version": "0.1.0", "role": "server"},
        "reports": reports,
    }


def _hostname_is_literal(host: Any) -> None:
    assert host["hostname"] == MARKUP_HOSTNAME, host["hostname"]


def corpus(agent_id: str, now: float | None = None) -> list[Case]:
    """The cases in the order they are sent (the agent's seqs build on each other)."""
    t = (now or time.time()) - 600  # five reports a minute apart, all in the past
    deep = (
        f'{{"agent":{{"id":"{agent_id}","hostname":"h","x":'.encode()
        + b"[" * 100_000
        + b"]" * 100_000
        + b'},"reports":[{"seq":99,"ts":'
        + str(t).encode()
        + b',"interval_s":60}]}'
    )
    matcher = {"name": "hostname", "value": "(a+)+b", "is_regex": True}
    in_an_hour = (now or time.time()) + 3600
    return [
        Case("baseline report", "POST", "/api/v1/reports", "agent", _OK,
             _batch(agent_id, [_report(1, t, snmp=_printer(t, 100))])),
        Case("cpu busy jumps by 9e12 s in 60 s", "POST", "/api/v1/reports", "agent", _OK,
             _batch(agent_id, [_report(2, t + 60, cpu={"count": 4, "percent": 1.0, "busy_seconds_total": 9e12})])),
        Case("two NICs jump by 2^62 bytes", "POST", "/api/v1/reports", "agent", _OK,
             _batch(agent_id, [_report(3, t + 120, net=[
                 {"nic": "eth0", "rx_bytes_total": 2**62, "tx_bytes_total": 0},
                 {"nic": "eth1", "rx_bytes_total": 2**62, "tx_bytes_total": 0}])])),
        Case("printer pages jump by 2^62", "POST", "/api/v1/reports", "agent", _OK,
             _batch(agent_id, [_report(4, t + 180, snmp=_printer(t + 180, 2**62))])),
        Case("markup and escape codes in the hostname", "POST", "/api/v1/reports", "agent", _OK,
             _batch(agent_id, [_report(5, t + 240)], hostname=MARKUP_HOSTNAME)),
        Case("hostname stored as text", "GET", f"/api/v1/hosts/{agent_id}", "tenant", _OK,
             check=_hostname_is_literal),
        Case("counter of 2^64", "POST", "/api/v1/reports", "agent", _REFUSED,
             _batch(agent_id, [_report(6, t + 300, net=[{"nic": "eth0", "rx_bytes_total": 2**64}])])),
        Case("cpu busy 1e15 s", "POST", "/api/v1/reports", "agent", _REFUSED,
             _batch(agent_id, [_report(6, t + 300, cpu={"count": 4, "percent": 1.0, "busy_seconds_total": 1e15})])),
        Case("report stamped 2001", "POST", "/api/v1/reports", "agent", _REFUSED,
             _batch(agent_id, [_report(6, 1_000_000_001.0)])),
        Case("100,000-deep nesting", "POST", "/api/v1/reports", "agent", _REFUSED, deep),
        Case("truncated gzip trailer", "POST", "/api/v1/reports", "agent", _REFUSED,
             _batch(agent_id, [_report(6, t + 300)]), gzip_truncate=True),
        Case("seq 2^62 (beyond the wire's 2^53 - 1)", "POST", "/api/v1/reports", "agent", _REFUSED,
             _batch(agent_id, [_report(2**62, t + 360)])),
        Case("seq 2^53 - 1 after seq 5", "POST", "/api/v1/reports", "agent", _OK,
             _batch(agent_id, [_report(2**53 - 1, t + 360)])),
        Case("metrics after the seq 1 .. 2^53 - 1 pair", "GET", "/metrics", "admin", _OK),
        Case("metrics without a token", "GET", "/metrics", "none", (401,)),
        Case("metrics of an unknown tenant", "GET", "/metrics", "tenant", (403, 404), params={"tenant": "no-such"}),
        Case("metrics of another tenant", "GET", "/metrics", "tenant", (403, 404), params={"tenant": "stadt-b"}),
        Case("usage of period 9999-12", "GET", "/api/v1/usage", "tenant", _REFUSED, params={"period": "9999-12"}),
        Case("usage of period 0001-01", "GET", "/api/v1/usage", "tenant", _REFUSED, params={"period": "0001-01"}),
        Case("silence with (a+)+b (RE2: linear)", "POST", "/api/v1/silences", "tenant", (200, 201),
             {"matchers": [matcher], "ends_at": in_an_hour}),
        Case("silence with a backreference", "POST", "/api/v1/silences", "tenant", _REFUSED,
             {"matchers": [{**matcher, "value": "(a)\\1"}], "ends_at": in_an_hour}),
        Case("silence ending in 5107", "POST", "/api/v1/silences", "tenant", _REFUSED,
             {"matchers": [{"name": "hostname", "value": "x"}], "ends_at": 99_999_999_999.0}),
        Case("host named to hit (a+)+b reports", "POST", "/api/v1/reports", "agent", _OK,
             _batch(agent_id, [_report(2**53 - 2, t + 330)], hostname="a" * 25 + "!")),
    ]  # fmt: skip
