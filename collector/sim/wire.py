"""The simulated agents on the wire: enrollment and wire-format v1 batches over real HTTP,
retried as the agent retries them (429/503 with Retry-After, back-off on transport errors)."""

from __future__ import annotations

import asyncio
import gzip
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

from agent.wire import AgentInfo, Batch, Report, encode

from .model import VERSION, SimHost
from .procs import SimError


@dataclass
class Stats:
    latencies_ms: list[float] = field(default_factory=list)
    requests: int = 0
    reports: int = 0
    retries: int = 0
    errors: list[str] = field(default_factory=list)
    #: sends that failed before any answer (connection refused, reset, closed)
    transport_errors: int = 0
    #: HTTP status -> count, and the first body seen for each status
    statuses: dict[int, int] = field(default_factory=dict)
    bodies: dict[int, str] = field(default_factory=dict)
    #: when set and not open, agents hold their next send (a fault injector's pause)
    gate: asyncio.Event | None = None
    #: called with the reports acknowledged so far, after each acknowledgement (progress)
    on_reports: Callable[[int], None] | None = None


def auth_header(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def enroll(client: httpx.AsyncClient, token: str, h: SimHost) -> tuple[str, str]:
    """(agent token, tenant name) for a simulated host."""
    r = await client.post(
        "/api/v1/enroll", json={"agent_id": h.agent_id, "hostname": h.hostname}, headers=auth_header(token)
    )
    if r.status_code != 200:
        raise SimError(f"enrolling {h.agent_id} failed: {r.status_code} {r.text}")
    body = r.json()
    return str(body["token"]), str(body["tenant"])


@dataclass(frozen=True)
class RetryPolicy:
    """How a simulated agent keeps an unacknowledged batch: `attempts` sends at most,
    exponential back-off from 0.1 s up to `backoff_cap_s` after transport errors, the
    collector's Retry-After (at most `retry_after_cap_s`) after 429 and 503."""

    attempts: int = 20
    backoff_cap_s: float = 5.0
    retry_after_cap_s: float = 60.0


DEFAULT_RETRY = RetryPolicy()


async def post_batch(
    client: httpx.AsyncClient,
    token: str,
    h: SimHost,
    reports: list[Report],
    stats: Stats,
    policy: RetryPolicy = DEFAULT_RETRY,
) -> None:
    """Post until acknowledged, as the agent does: 429, 503 and transport errors are retried, other 4xx are bugs."""
    info = AgentInfo(id=h.agent_id, hostname=h.hostname, version=VERSION, role=h.role, site=h.site,
                     os="Linux 6.1", boot_time=h.boot_time)  # fmt: skip
    body = gzip.compress(encode(Batch(agent=info, reports=reports)), compresslevel=1)
    headers = {**auth_header(token), "Content-Type": "application/json", "Content-Encoding": "gzip"}
    last = ""
    for attempt in range(policy.attempts):
        start = time.perf_counter()
        try:
            r = await client.post("/api/v1/reports", content=body, headers=headers)
        except httpx.TransportError as exc:
            stats.retries += 1
            stats.transport_errors += 1
            await asyncio.sleep(min(policy.backoff_cap_s, 0.1 * 2 ** min(attempt, 16)))
            last = f"{type(exc).__name__}: {exc}"
            continue
        stats.latencies_ms.append((time.perf_counter() - start) * 1000)
        stats.requests += 1
        stats.statuses[r.status_code] = stats.statuses.get(r.status_code, 0) + 1
        stats.bodies.setdefault(r.status_code, r.text)
        if r.status_code == 200:
            ack = int(r.json()["accepted_through_seq"])
            if ack < reports[-1].seq:
                raise SimError(f"{h.agent_id}: acknowledged through {ack}, sent through {reports[-1].seq}")
            stats.reports += len(reports)
            if stats.on_reports is not None:
                stats.on_reports(stats.reports)
            return
        if r.status_code in (429, 503):
            stats.retries += 1
            await asyncio.sleep(min(policy.retry_after_cap_s, float(r.headers.get("Retry-After", "1"))))
            last = f"{r.status_code} {r.text}"
            continue
        raise SimError(f"{h.agent_id}: collector answered {r.status_code}: {r.text}")
    raise SimError(f"{h.agent_id}: not acknowledged after {policy.attempts} attempts ({last})")


@dataclass
class Fleet:
    hosts: list[SimHost]
    tokens: dict[str, str] = field(default_factory=dict)
    #: tenant index -> tenant name (as the collector enrolled it)
    tenant_names: dict[int, str] = field(default_factory=dict)


async def enroll_all(client: httpx.AsyncClient, fleet: Fleet, enroll_tokens: Sequence[str]) -> None:
    sem = asyncio.Semaphore(16)

    async def one(h: SimHost) -> None:
        async with sem:
            token, tenant = await enroll(client, enroll_tokens[h.tenant_index % len(enroll_tokens)], h)
        fleet.tokens[h.agent_id] = token
        fleet.tenant_names[h.tenant_index] = tenant

    await asyncio.gather(*(one(h) for h in fleet.hosts))
