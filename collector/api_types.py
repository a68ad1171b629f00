"""Request and response shapes of the read and enrollment API.

The ingest shapes live in `agent.wire`. These structs feed the OpenAPI
document; schemathesis checks in the test suite that responses match them.
"""

from __future__ import annotations

from typing import Any

import msgspec

from agent.wire import AgentId, Name

__all__ = ["EnrollRequest", "EnrollResponse", "Health", "HostDetail", "HostList", "HostSummary", "SampleList"]


class EnrollRequest(msgspec.Struct, forbid_unknown_fields=True):
    agent_id: AgentId
    hostname: Name | None = None


class EnrollResponse(msgspec.Struct):
    token: str
    agent_id: str
    tenant: str


class Headline(msgspec.Struct):
    cpu_percent: float | None = None
    memory_used_percent: float | None = None
    disk_used_percent_max: float | None = None
    load1: float | None = None
    sessions: int | None = None


class HostSummary(msgspec.Struct):
    id: str
    tenant: str
    hostname: str
    role: str
    site: str
    os: str
    version: str
    boot_time: float
    enrolled_at: float
    last_seq: int
    last_seen: float | None
    latest_ts: float | None
    interval_s: float | None
    reports_total: int
    duplicates_total: int
    gap_count: int
    state: str
    metrics: Headline


class Gap(msgspec.Struct):
    from_seq: int
    to_seq: int
    detected_at: float


class HostDetail(HostSummary):
    report: dict[str, Any] | None
    gaps: list[Gap]


class HostList(msgspec.Struct):
    hosts: list[HostSummary]
    count: int


class SampleList(msgspec.Struct):
    samples: list[dict[str, Any]]
    count: int


class Rollup(msgspec.Struct):
    """One host's bucket of downsampled reports (collector/rollups.py)."""

    resolution_s: int
    bucket: int
    samples: int
    cpu_pct_avg: float | None
    cpu_pct_max: float | None
    mem_pct_avg: float | None
    mem_pct_max: float | None
    load1_avg: float | None
    load1_max: float | None
    disk_pct_max: float | None
    rx_bytes: int | None
    tx_bytes: int | None
    sessions_max: int | None


class RollupList(msgspec.Struct):
    rollups: list[Rollup]
    count: int


class Health(msgspec.Struct):
    status: str
    writer_queue: int
    commits: int
    last_error: str | None
