"""The soak: N agents send M simulated minutes of 60 s samples as fast as the collector
takes them; throughput, latency, collector RSS and database growth are measured, and the
ledger is checked exactly against the ground truth."""

from __future__ import annotations

import asyncio
import contextlib
import math
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

import httpx
import psutil

from .model import STEP_S, TOWNS, SimHost, build_fleet
from .procs import ManagedProcess, collector_argv, free_port, http_ok, start_process, wait_ready
from .sampling import sample
from .truth import CHECKED, GroundTruth
from .wire import DEFAULT_RETRY, Fleet, RetryPolicy, Stats, auth_header, enroll_all, post_batch


class SoakOptions(TypedDict):
    """The load of a soak, as the command line gives it."""

    agents: int
    minutes: int
    seed: int
    #: reports per request (a spooled agent's batch)
    batch: int
    #: requests in flight
    concurrency: int


async def run_soak(
    client: httpx.AsyncClient,
    fleet: Fleet,
    *,
    minutes: int,
    batch: int,
    concurrency: int,
    now: float,
    stats: Stats | None = None,
    policy: RetryPolicy = DEFAULT_RETRY,
) -> tuple[GroundTruth, Stats, float]:
    """Send `minutes` of 60 s samples per host ending at the last whole minute before `now`.

    Returns (truth, stats, wall seconds of the sending)."""
    truth = GroundTruth()
    stats = stats if stats is not None else Stats()
    end = math.floor(now / STEP_S) * STEP_S
    start = end - minutes * STEP_S
    for h in fleet.hosts:
        h.boot_time = float(start - h.rng.randint(3600, 40 * 86400))
    sem = asyncio.Semaphore(concurrency)

    async def agent(h: SimHost) -> None:
        token = fleet.tokens[h.agent_id]
        for first in range(1, minutes + 1, batch):
            steps = range(first, min(first + batch, minutes + 1))
            reports = [sample(h, start + k * STEP_S, STEP_S, k, truth) for k in steps]
            if stats.gate is not None:
                await stats.gate.wait()
            async with sem:
                await post_batch(client, token, h, reports, stats, policy)

    t0 = time.perf_counter()
    await asyncio.gather(*(agent(h) for h in fleet.hosts))
    return truth, stats, time.perf_counter() - t0


async def compare_ledger(client: httpx.AsyncClient, fleet: Fleet, truth: GroundTruth, usage_token: str) -> list[str]:
    """Differences between the usage API and the ground truth; empty when they agree exactly."""
    diffs: list[str] = []
    for (tenant_index, period), want in truth.expected().items():
        tenant = fleet.tenant_names[tenant_index]
        r = await client.get(
            "/api/v1/usage", params={"tenant": tenant, "period": period}, headers=auth_header(usage_token)
        )
        if r.status_code != 200:
            diffs.append(f"{tenant} {period}: usage answered {r.status_code}: {r.text}")
            continue
        got = {(m["meter"], m.get("dim", "")): m["quantity"] for m in r.json()["meters"] if m["meter"] in CHECKED}
        for key in sorted(set(want) | set(got)):
            if want.get(key) != got.get(key):
                meter, dim = key
                name = f"{meter}[{dim}]" if dim else meter
                diffs.append(f"{tenant} {period} {name}: ledger {got.get(key)} != truth {want.get(key)}")
    return diffs


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


class RssSampler:
    """Peak RSS of the collector process, sampled in a thread."""

    def __init__(self, pid: int | None) -> None:
        self.peak = 0
        self._proc = psutil.Process(pid) if pid else None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rss", daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(0.25)

    def sample(self) -> int:
        if self._proc is None:
            return 0
        with contextlib.suppress(psutil.Error):
            rss = int(self._proc.memory_info().rss)
            self.peak = max(self.peak, rss)
            return rss
        return 0

    def __enter__(self) -> RssSampler:
        if self._proc is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2)


def db_bytes(db: Path) -> int:
    return sum(p.stat().st_size for p in (db, db.with_name(db.name + "-wal")) if p.exists())


@dataclass
class SoakResult:
    agents: int
    minutes: int
    reports: int
    requests: int
    retries: int
    wall_s: float
    p50_ms: float
    p99_ms: float
    rss_peak_mb: float | None
    differences: list[str]
    checked: int
    #: the meters the truth has a quantity for
    meters: frozenset[str] = frozenset()
    db_before: int = 0
    db_growth_per_host_day_kib: float | None = None

    @classmethod
    def of(
        cls,
        stats: Stats,
        truth: GroundTruth,
        differences: list[str],
        *,
        agents: int,
        minutes: int,
        wall_s: float,
        rss_peak_mb: float | None = None,
        db_before: int = 0,
    ) -> SoakResult:
        """The result of a soak that sent what `stats` counted and `truth` booked."""
        return cls(
            agents=agents,
            minutes=minutes,
            reports=stats.reports,
            requests=stats.requests,
            retries=stats.retries,
            wall_s=wall_s,
            p50_ms=statistics.median(stats.latencies_ms) if stats.latencies_ms else float("nan"),
            p99_ms=percentile(stats.latencies_ms, 99),
            rss_peak_mb=rss_peak_mb,
            db_before=db_before,
            differences=differences,
            checked=sum(len(v) for v in truth.expected().values()),
            meters=frozenset(meter for _, _, meter, _ in truth.scaled),
        )

    def measure_db(self, db: Path) -> None:
        """Database growth per host per simulated day (call once the collector has stopped and checkpointed)."""
        self.db_growth_per_host_day_kib = (db_bytes(db) - self.db_before) / 1024 / self.agents / (self.minutes / 1440)

    @property
    def ok(self) -> bool:
        return not self.differences

    def render(self) -> str:
        rows = [
            ("agents", f"{self.agents}"),
            ("simulated time", f"{self.minutes} min of 60 s samples ({self.reports:,} reports)"),
            ("requests", f"{self.requests:,} ({self.retries} retried)"),
            ("wall time", f"{self.wall_s:.1f} s"),
            ("throughput", f"{self.reports / self.wall_s:,.0f} reports/s, {self.requests / self.wall_s:,.1f} req/s"),
            ("ingest latency", f"p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms"),
            ("collector RSS peak", f"{self.rss_peak_mb:.0f} MB" if self.rss_peak_mb is not None else "n/a (not ours)"),
            (
                "database growth",
                f"{self.db_growth_per_host_day_kib:,.0f} KiB per host per day"
                if self.db_growth_per_host_day_kib is not None
                else "n/a (not ours)",
            ),
        ]
        width = max(len(k) for k, _ in rows)
        lines = [f"{k.ljust(width)}  {v}" for k, v in rows]
        if self.ok:
            lines.append(f"ledger check: OK ({self.checked} meter totals equal the ground truth exactly)")
        else:
            lines.append(f"ledger check: MISMATCH ({len(self.differences)} of {self.checked})")
            lines += [f"  {d}" for d in self.differences]
        return "\n".join(lines)


@contextlib.contextmanager
def own_collector(log_dir: Path, tenants: int) -> Iterator[tuple[str, list[str], str, ManagedProcess, Path]]:
    """A collector on a free port and a fresh database: (url, enroll tokens, admin token, process, db)."""
    db = log_dir / "collector.db"
    enroll_tokens, admin_token = prepare_db(db, tenants)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_process(
        "collector",
        collector_argv("serve", "--db", str(db), "--listen", f"127.0.0.1:{port}"),
        log_dir=log_dir,
    )
    try:
        wait_ready(http_ok(f"{url}/healthz"), deadline_s=30, what="collector", process=proc)
        yield url, enroll_tokens, admin_token, proc, db
    finally:
        proc.stop()


async def soak(
    url: str,
    enroll_tokens: Sequence[str],
    usage_token: str,
    *,
    agents: int,
    minutes: int,
    seed: int,
    batch: int,
    concurrency: int,
    pid: int | None = None,
    db: Path | None = None,
    tenants: int | None = None,
    now: float | None = None,
    progress: Callable[[int], None] | None = None,
) -> SoakResult:
    """A soak (module docstring); `progress` is called with the reports acknowledged so far."""
    fleet = Fleet(build_fleet(seed, agents=agents, tenants=tenants or len(enroll_tokens)))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        await enroll_all(client, fleet, enroll_tokens)
        size_before = db_bytes(db) if db else 0
        with RssSampler(pid) as rss:
            truth, stats, wall = await run_soak(
                client, fleet, minutes=minutes, batch=batch, concurrency=concurrency, now=now or time.time(),
                stats=Stats(on_reports=progress),
            )  # fmt: skip
            rss.sample()
        diffs = await compare_ledger(client, fleet, truth, usage_token)
    return SoakResult.of(
        stats, truth, diffs, agents=agents, minutes=minutes, wall_s=wall,
        rss_peak_mb=rss.peak / 1e6 if pid else None, db_before=size_before,
    )  # fmt: skip


def prepare_db(db: Path, tenants: int) -> tuple[list[str], str]:
    """A fresh, migrated database with the first `tenants` towns: (enroll tokens, billing token)."""
    from collector import admin
    from collector.db import connect, migrate

    conn = connect(db)
    try:
        migrate(conn)
        enroll_tokens = []
        for tenant, _ in TOWNS[:tenants]:
            admin.add_tenant(conn, tenant, actor="fleet")
            enroll_tokens.append(admin.create_token(conn, "enroll", actor="fleet", tenant=tenant)[1])
        return enroll_tokens, admin.create_token(conn, "billing", actor="fleet", label="fleet soak")[1]
    finally:
        conn.close()
