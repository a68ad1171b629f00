"""Sustained ingest: 10,000 simulated agents reporting every 15 s (issue 9), and scale-out (issue 18).

The goals: "Sustained ingest with 10,000 simulated agents (15 s interval) on
one core, SQLite and PostgreSQL; goal: no errors, p99 under 250 ms" (issue 9);
one collector on PostgreSQL reaches >= 0.8x SQLite's throughput, two
collectors on one PostgreSQL >= 1.5x one where the machine has the cores for
it (issue 18). One run measures the setups side by side: `sqlite` (one
collector), `pg1` (one collector on PostgreSQL), `pg2` (two collectors
sharing one PostgreSQL database, the agents' connections spread over both as
by a load balancer), and prints the ratios.

An open-loop load, not a closed-loop throughput test: every agent sends one
report every `--interval` seconds on its own phase (spread uniformly over the
interval, deterministic for `--seed`), whatever the collector does, so 10,000
agents at 15 s offer 667 requests/s. Latency is measured from each request's
*scheduled* send time, so a stalled collector shows up as latency (no
coordinated omission). Throughput is what was acknowledged in the window; the
ratios mean capacity only where the setup was offered more than it served
(the output says when neither was); `--rates` steps each setup through
rising rates until it misses the goal and compares capacities, the highest
rate met. Each request is a real wire-format v1
batch of one report of a simulated host of collector.sim (seq increasing per
agent, gzip like agent/sender.py), with the agent's own bearer token from
POST /api/v1/enroll.

What runs where (Linux, taskset): collector i on core i while a core is left
over; the load generator (its own process, asyncio + uvloop, raw HTTP/1.1 on a
bounded pool of keep-alive connections shared by the agents) and the
throwaway PostgreSQL server of tests/pg_server.py (one for all PostgreSQL
setups, a fresh database each) on the remaining cores. With fewer cores than
collectors + 1 nothing is pinned, and the output says so: on 2 cores, two
collectors, PostgreSQL and the generator share both, so 1.5x is not
attainable there.

Per setup: tenants and tokens with the real CLI, enrollments through the API
(timed, not counted), every request body pre-built and gzip'd before the clock
starts, one interval of warm-up (every agent's first report), then
`--duration` seconds measured. Printed: offered and achieved requests/s,
errors by kind, latency p50/p95/p99/max, how late the generator itself issued
requests (send lag: if it fell behind, the output says so instead of blaming
the collector), the collectors' CPU and RSS, database growth, and an exact
check that the collectors stored as many reports as they acknowledged: once
the collectors have settled (every writer queue empty and the API's
Σ reports_total equal to the database's counters and `samples` rows, read in
one statement), stored = acknowledged, or, with requests written but never
answered (client timeouts), acknowledged <= stored <= acknowledged + those.

    .venv/bin/python bench/ingest_sustained.py --quick                 # all three setups, under a minute
    .venv/bin/python bench/ingest_sustained.py                         # all three, about 10 minutes
    .venv/bin/python bench/ingest_sustained.py --setups sqlite         # about 3 minutes
    .venv/bin/python bench/ingest_sustained.py --setups sqlite --agents 2000 --duration 30   # smoke run
    .venv/bin/python bench/ingest_sustained.py --setups sqlite --profile /tmp/prof           # plus py-spy
    .venv/bin/python bench/ingest_sustained.py --agents 3000 --duration 20 --rates 600,900,1200,1500  # capacities
    .venv/bin/python bench/ingest_sustained.py --setups pg1,pg2 --db postgresql://u@host:5432/leitstand

PostgreSQL needs Debian's `postgresql` package (a private server is started on
a free port) or `--db postgresql://...` (then both PostgreSQL setups write into
that database, each counting what it added); if `leitstand-collector` cannot
serve that URL, its rows say "skipped: ..." and the SQLite row still counts.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import gc
import gzip
import json
import math
import os
import queue
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench.*`, `agent` and `collector` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.wire import AgentInfo, Batch, encode
from bench._common import (
    REPO,
    VENV_BIN,
    BenchError,
    ManagedProcess,
    TreeSampler,
    TreeStats,
    finish_profiler,
    fmt,
    free_port,
    http_get,
    http_ok,
    machine_notes,
    pinned,
    print_table,
    running,
    start_process,
    start_profiler,
    wait_ready,
)
from collector.sim import model as fleet_model
from collector.sim import sampling, soak
from tests import pg_server as _postgres

GOAL_P99_MS = 250.0
#: The generator counts as keeping up while it issues 99 % of requests within this of their schedule
#: (a tenth of the goal: lag is part of every latency measured from the schedule).
LAG_LIMIT_MS = 25.0
REPORTS_PATH = "/api/v1/reports"
ENROLL_PATH = "/api/v1/enroll"
PG_DATABASE = "leitstand_sustained"


# --- the load generator (its own process) -------------------------------------------------


def emit(event: str, **data: object) -> None:
    """One line of the worker's protocol on stdout; the parent reads them."""
    print("LOADGEN " + json.dumps({"event": event, **data}), flush=True)


class Conn:
    """One keep-alive HTTP/1.1 connection of the shared pool; (re)opened lazily."""

    __slots__ = ("port", "reader", "taken", "uses", "writer")

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.uses = 0
        self.taken = 0.0  # when the current request got this connection

    def waited_from(self, asked: float) -> float:
        return max(0.0, self.taken - asked)

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.uses = 0

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class ExchangeError(Exception):
    """A request that got no HTTP answer (connection refused, reset, closed); `kind` names it."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@dataclass
class Pool:
    #: the collectors' ports: connections are spread over them round-robin, as by a load balancer
    ports: list[int]
    size: int
    timeout_s: float
    idle: asyncio.Queue[Conn] = field(default_factory=asyncio.Queue)
    #: resends after the collector had closed an idle keep-alive connection (nothing was read: not a loss)
    stale_resends: int = 0
    opened: int = 0

    @property
    def port(self) -> int:
        """The port named in the requests' Host header (any collector serves any agent)."""
        return self.ports[0]

    async def start(self) -> None:
        conns = [Conn(self.ports[i % len(self.ports)]) for i in range(self.size)]
        await asyncio.gather(*(c.open() for c in conns))
        self.opened += len(conns)
        for c in conns:
            self.idle.put_nowait(c)

    def close(self) -> None:
        while not self.idle.empty():
            self.idle.get_nowait().close()

    async def exchange(self, conn: Conn, payload: bytes, on_write: Callable[[], None]) -> tuple[int, bytes]:
        """Send one request on `conn` and read its answer; raises ExchangeError (the caller bounds the time).

        `on_write` is called once the request's bytes are handed to the socket."""
        try:
            return await self._exchange(conn, payload, on_write)
        except ExchangeError:
            conn.close()
            raise
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, IndexError) as exc:
            conn.close()
            raise ExchangeError(type(exc).__name__) from None
        except BaseException:  # a timeout or a cancellation with the answer still due: the connection is spent
            conn.close()
            raise

    async def request(self, payload: bytes, on_write: Callable[[], None]) -> tuple[int, bytes, float]:
        """Wait for a free connection, then exchange: (status, body, seconds waited for the connection)."""
        asked = time.monotonic()
        conn = await self.idle.get()
        try:
            status, body = await self.exchange(conn, payload, on_write)
        finally:
            self.idle.put_nowait(conn)
        return status, body, conn.waited_from(asked)

    async def _exchange(self, conn: Conn, payload: bytes, on_write: Callable[[], None]) -> tuple[int, bytes]:
        conn.taken = time.monotonic()
        for attempt in range(2):
            fresh = conn.writer is None
            if fresh:
                await conn.open()
                self.opened += 1
            assert conn.reader is not None and conn.writer is not None
            conn.writer.write(payload)
            on_write()
            try:
                head = await conn.reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionResetError) as exc:
                partial = getattr(exc, "partial", b"")
                if fresh or attempt or partial:
                    raise
                # uvicorn closes a keep-alive connection after 5 s idle; a pooling client resends on a
                # new connection when the old one closed before answering a single byte.
                conn.close()
                self.stale_resends += 1
                continue
            status = int(head[9:12])
            length = 0
            close = False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                key = name.strip().lower()
                if key == b"content-length":
                    length = int(value)
                elif key == b"connection" and value.strip().lower() == b"close":
                    close = True
            body = await conn.reader.readexactly(length) if length else b""
            conn.uses += 1
            if close:
                conn.close()
            return status, body
        raise ExchangeError("keep-alive connection closed twice")


def http_request(path: str, port: int, token: str, body: bytes, *, gz: bool) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
        "Content-Type: application/json\r\n"
        + ("Content-Encoding: gzip\r\n" if gz else "")
        + f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def enroll_fleet(pool: Pool, hosts: list[fleet_model.SimHost], enroll_tokens: Sequence[str]) -> dict[str, str]:
    """POST /api/v1/enroll for every host, as many at once as the pool has connections: {agent id: token}."""
    tokens: dict[str, str] = {}
    todo = collections.deque(hosts)

    async def runner() -> None:
        conn = await pool.idle.get()
        try:
            while todo:
                h = todo.popleft()
                body = json.dumps({"agent_id": h.agent_id, "hostname": h.hostname}).encode()
                token = enroll_tokens[h.tenant_index % len(enroll_tokens)]
                request = http_request(ENROLL_PATH, pool.port, token, body, gz=False)
                status, answer = await asyncio.wait_for(pool.exchange(conn, request, lambda: None), 60)
                if status != 200:
                    raise BenchError(f"enrolling {h.agent_id} answered {status}: {answer[:300]!r}")
                tokens[h.agent_id] = str(json.loads(answer)["token"])
        finally:
            pool.idle.put_nowait(conn)

    await asyncio.gather(*(runner() for _ in range(pool.size)))
    return tokens


@dataclass
class Plan:
    """Every request of the run, sorted by its scheduled offset from the start."""

    offsets: list[float]
    payloads: list[bytes]
    seqs: list[int]
    wall0: float  # Unix time of offset 0 (the reports' ts are wall0 + offset)
    body_bytes: int = 0


def build_plan(
    hosts: list[fleet_model.SimHost], tokens: dict[str, str], *, port: int, seed: int, interval: float, total_s: float
) -> Plan:
    """Each agent's phase, then its reports at phase + k x interval (k = 0, 1, ...) below `total_s`.

    Reports come from collector.sim's sample (the simulated host's counters advance per
    report), encoded and gzip'd (level 6, as agent/sender.py) in advance so the
    generator only writes bytes while the clock runs. The reports' ts is their
    scheduled send time; the schedule starts at `wall0`, a few seconds after
    building (estimated generously; a later start is reported).
    """
    rng = random.Random(f"{seed}:phases")
    phases = [rng.uniform(0.0, interval) for _ in hosts]
    rounds = math.ceil(total_s / interval) + 1
    wall0 = time.time() + 1.0 + 60e-6 * len(hosts) * rounds
    rows: list[tuple[float, bytes, int]] = []
    body_bytes = 0
    for h, phase in zip(hosts, phases, strict=True):
        h.boot_time = float(int(wall0) - h.rng.randint(3600, 40 * 86400))
        info = AgentInfo(id=h.agent_id, hostname=h.hostname, version=fleet_model.VERSION, role=h.role, site=h.site,
                         os="Linux 6.1", boot_time=h.boot_time)  # fmt: skip
        token = tokens[h.agent_id]
        k = 0
        while phase + k * interval < total_s:
            offset = phase + k * interval
            report = sampling.sample(h, wall0 + offset, interval, k + 1, None)
            body = gzip.compress(encode(Batch(agent=info, reports=[report])), compresslevel=6, mtime=0)
            body_bytes += len(body)
            rows.append((offset, http_request(REPORTS_PATH, port, token, body, gz=True), k + 1))
            k += 1
    rows.sort(key=lambda r: r[0])
    return Plan(
        offsets=[r[0] for r in rows], payloads=[r[1] for r in rows], seqs=[r[2] for r in rows],
        wall0=wall0, body_bytes=body_bytes,
    )  # fmt: skip


@dataclass
class Records:
    """Per request, indexed like the plan; times on the monotonic clock."""

    n: int
    lag: list[float] = field(default_factory=list)  # dispatched - scheduled: the generator's own lateness
    wait: list[float] = field(default_factory=list)  # waited for a free connection (the collector is slow)
    done: list[float] = field(default_factory=list)  # answer read (or error), NaN while open
    status: list[int] = field(default_factory=list)  # HTTP status, 0: no answer
    kind: list[str] = field(default_factory=list)  # "" or the error's kind
    written: list[bool] = field(default_factory=list)  # its bytes went out (the collector may have stored it)
    bad_acks: int = 0

    def __post_init__(self) -> None:
        nan = float("nan")
        self.lag = [nan] * self.n
        self.wait = [nan] * self.n
        self.done = [nan] * self.n
        self.status = [0] * self.n
        self.kind = ["unsent"] * self.n
        self.written = [False] * self.n

    @property
    def written_unanswered(self) -> int:
        return sum(1 for w, s in zip(self.written, self.status, strict=True) if w and not s)


async def run_schedule(pool: Pool, plan: Plan, t0: float, drain_s: float) -> Records:
    """Dispatch each request at t0 + its offset (monotonic clock), never waiting for earlier answers."""
    n = len(plan.offsets)
    rec = Records(n)
    pending: set[asyncio.Task[None]] = set()

    async def one(i: int, dispatched: float) -> None:
        def wrote() -> None:
            rec.written[i] = True

        try:
            # The agent's timeout covers the whole request, waiting for a pooled connection included.
            status, body, waited = await asyncio.wait_for(pool.request(plan.payloads[i], wrote), pool.timeout_s)
        except TimeoutError:
            rec.kind[i] = "timeout" if rec.written[i] else "timeout waiting for a connection"
        except ExchangeError as exc:
            rec.kind[i] = exc.kind
        except asyncio.CancelledError:
            rec.kind[i] = "cancelled at the end"
            raise
        else:
            rec.wait[i] = waited
            rec.status[i] = status
            rec.kind[i] = ""
            if status == 200 and b'"accepted_through_seq":%d' % plan.seqs[i] not in body:
                rec.bad_acks += 1
                rec.kind[i] = "200 with a wrong ack"
        finally:
            rec.done[i] = time.monotonic()

    i = 0
    offsets = plan.offsets
    while i < n:
        now = time.monotonic()
        while i < n and t0 + offsets[i] <= now:
            rec.lag[i] = now - (t0 + offsets[i])
            task = asyncio.create_task(one(i, now))
            pending.add(task)
            task.add_done_callback(pending.discard)
            i += 1
        if i < n:
            await asyncio.sleep(max(0.0, t0 + offsets[i] - time.monotonic()))
    if pending:
        _done, still = await asyncio.wait(set(pending), timeout=drain_s)
        for task in still:
            task.cancel()
        await asyncio.gather(*still, return_exceptions=True)
    return rec


def pct_ms(values: list[float], q: float) -> float:
    return 1000 * soak.percentile(values, q) if values else float("nan")


def summarize(rec: Records, plan: Plan, t0: float, *, warmup: float, duration: float) -> dict[str, Any]:
    """The measured window's numbers (requests scheduled in [warmup, warmup + duration)) and run totals."""
    end = warmup + duration
    window = [i for i, off in enumerate(plan.offsets) if warmup <= off < end]
    answered = [i for i in window if rec.status[i]]
    latency = [rec.done[i] - (t0 + plan.offsets[i]) for i in answered]
    errors: collections.Counter[str] = collections.Counter()
    for i in window:
        if rec.kind[i]:
            errors[rec.kind[i]] += 1
        elif not 200 <= rec.status[i] < 300:
            errors[f"HTTP {rec.status[i]}"] += 1
    ok_in_window = sum(
        1 for i, done in enumerate(rec.done) if 200 <= rec.status[i] < 300 and t0 + warmup <= done < t0 + end
    )
    lag = [rec.lag[i] for i in window if rec.lag[i] == rec.lag[i]]
    wait = [rec.wait[i] for i in window if rec.wait[i] == rec.wait[i]]
    buckets: dict[int, list[float]] = collections.defaultdict(list)
    for i, lat in zip(answered, latency, strict=True):
        buckets[int((plan.offsets[i] - warmup) // 10)].append(lat)
    timeline = [
        {"from_s": 10 * b, "requests": len(v), "p99_ms": pct_ms(v, 99), "max_ms": 1000 * max(v)}
        for b, v in sorted(buckets.items())
    ]
    slow = slow_periods(rec, plan, t0)
    all_errors: collections.Counter[str] = collections.Counter()
    for i in range(rec.n):
        if rec.kind[i]:
            all_errors[rec.kind[i]] += 1
        elif not 200 <= rec.status[i] < 300:
            all_errors[f"HTTP {rec.status[i]}"] += 1
    return {
        "scheduled": len(window),
        "answered": len(answered),
        "ok_in_window": ok_in_window,
        "p50_ms": pct_ms(latency, 50),
        "p95_ms": pct_ms(latency, 95),
        "p99_ms": pct_ms(latency, 99),
        "max_ms": 1000 * max(latency) if latency else float("nan"),
        "lag_p50_ms": pct_ms(lag, 50),
        "lag_p99_ms": pct_ms(lag, 99),
        "lag_max_ms": 1000 * max(lag) if lag else float("nan"),
        "wait_p99_ms": pct_ms(wait, 99),
        "wait_max_ms": 1000 * max(wait) if wait else float("nan"),
        "errors": dict(errors),
        "timeline": timeline,
        "slow_periods": slow,
        "total_requests": rec.n,
        "total_ok": sum(1 for s in rec.status if 200 <= s < 300),
        "total_errors": dict(all_errors),
        "written_unanswered": rec.written_unanswered,
        "bad_acks": rec.bad_acks,
    }


def slow_periods(rec: Records, plan: Plan, t0: float, limit: int = 8) -> list[dict[str, float]]:
    """Stretches of the whole run (warm-up included) whose requests took longer than the goal's p99,
    by scheduled offset; requests less than 1 s apart belong to the same stretch. The slowest first."""
    periods: list[dict[str, float]] = []
    for i, offset in enumerate(plan.offsets):
        if not rec.status[i] and not rec.kind[i]:
            continue
        latency = rec.done[i] - (t0 + offset)
        if not latency * 1000 > GOAL_P99_MS:
            continue
        if periods and offset - periods[-1]["to_s"] < 1.0:
            last = periods[-1]
            last["to_s"] = offset
            last["requests"] += 1
            last["max_ms"] = max(last["max_ms"], 1000 * latency)
        else:
            periods.append({"from_s": offset, "to_s": offset, "requests": 1, "max_ms": 1000 * latency})
    return sorted(periods, key=lambda p: -p["max_ms"])[:limit]


def loadgen_worker(spec_path: Path) -> int:
    """The load generator process: enroll, build, wait for "go" on stdin, run the schedule, report."""
    spec = json.loads(spec_path.read_text())
    with contextlib.suppress(ImportError):
        import uvloop  # type: ignore[import-not-found,unused-ignore]

        uvloop.install()
    try:
        return asyncio.run(_worker(spec))
    except (BenchError, OSError) as exc:
        emit("error", message=f"{type(exc).__name__}: {exc}")
        return 1


async def _worker(spec: dict[str, Any]) -> int:
    ports = [int(p) for p in spec["ports"]]
    port = ports[0]
    interval, warmup, duration = float(spec["interval"]), float(spec["warmup"]), float(spec["duration"])
    hosts = fleet_model.build_fleet(int(spec["seed"]), agents=int(spec["agents"]), tenants=int(spec["tenants"]))
    pool = Pool(ports, int(spec["connections"]), float(spec["timeout"]))
    await pool.start()
    started = time.perf_counter()
    tokens = await enroll_fleet(pool, hosts, spec["enroll_tokens"])
    emit("enrolled", seconds=time.perf_counter() - started, agents=len(tokens))

    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    if line.strip() != "go":
        emit("error", message=f"expected 'go' from the parent, got {line!r}")
        return 1
    started = time.perf_counter()
    plan = build_plan(hosts, tokens, port=port, seed=int(spec["seed"]), interval=interval, total_s=warmup + duration)
    payload_mb = sum(len(p) for p in plan.payloads) / 1e6
    emit("built", seconds=time.perf_counter() - started, requests=len(plan.offsets), mb=payload_mb,
         body_bytes_avg=plan.body_bytes / max(1, len(plan.offsets)))  # fmt: skip
    # uvicorn closed the pool's connections while they idled (5 s keep-alive): fresh ones for the start.
    pool.close()
    await pool.start()
    late_start_s = max(0.0, time.time() - plan.wall0)
    t0 = time.monotonic() + max(0.0, plan.wall0 - time.time())
    emit("start", t0=t0, late_start_s=late_start_s)
    # A full collection over the plan's objects would stall the generator (~0.1 s): the run is bounded,
    # so the plan moves out of the collector's sight and collection waits until the end.
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        await asyncio.sleep(max(0.0, t0 - time.monotonic()))
        rec = await run_schedule(pool, plan, t0, drain_s=pool.timeout_s + 30.0)
    finally:
        gc.enable()
        gc.unfreeze()
    pool.close()
    summary = summarize(rec, plan, t0, warmup=warmup, duration=duration)
    emit("done", stale_resends=pool.stale_resends, connections_opened=pool.opened, **summary)
    return 0


# --- the parent: collector, database, measurement ------------------------------------------


@dataclass(frozen=True)
class Setup:
    """One column of the comparison: a backend and how many collectors share its database."""

    key: str
    backend: str
    collectors: int

    @property
    def label(self) -> str:
        if self.backend == "sqlite":
            return "SQLite, 1 collector"
        return f"PostgreSQL, {self.collectors} collector{'s' if self.collectors > 1 else ''}"


SETUPS = {s.key: s for s in (Setup("sqlite", "sqlite", 1), Setup("pg1", "postgres", 1), Setup("pg2", "postgres", 2))}


@dataclass(frozen=True)
class Placement:
    """Which cores the collectors run on, and where everything else (generator, PostgreSQL) runs."""

    collector_cores: list[int | None]  # per collector; None: not pinned
    other_cores: set[int] | None  # the generator's and the database server's; None: not pinned

    def describe(self) -> str:
        pinned_cores = [c for c in self.collector_cores if c is not None]
        if len(pinned_cores) == len(self.collector_cores):
            where = (
                "collector" + ("s" if len(pinned_cores) > 1 else "") + " on core " + ",".join(map(str, pinned_cores))
            )
        else:
            where = f"{len(self.collector_cores)} collectors not pinned (fewer spare cores than collectors)"
        rest = (
            "generator and database server on cores " + ",".join(map(str, sorted(self.other_cores)))
            if (self.other_cores)
            else "generator and database server share all cores"
        )
        return f"{where}; {rest}"


def placement(collectors: int, cores: set[int] | None) -> Placement:
    """Collector i on core i while a core is left for the generator; else nobody is pinned."""
    if cores is None or not shutil.which("taskset") or collectors >= len(cores):
        return Placement([None] * collectors, None)
    ordered = sorted(cores)
    return Placement(list(ordered[:collectors]), set(ordered[collectors:]))


def set_tree_affinity(pid: int, cores: set[int]) -> None:
    """Move a running process tree (the PostgreSQL server and its backends) onto `cores`."""
    import psutil

    with contextlib.suppress(psutil.Error):
        root = psutil.Process(pid)
        for proc in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                proc.cpu_affinity(sorted(cores))


@dataclass
class Outcome:
    setup: Setup
    #: seconds between two reports of one agent in this run (a --rates sweep varies it)
    interval: float = float("nan")
    warmup: float = float("nan")
    db: str = ""
    note: str = ""  # "skipped: ..." / "failed: ..." when there are no results
    placement: str = ""
    load: dict[str, Any] | None = None
    collectors: list[TreeStats] = field(default_factory=list)
    loadgen: TreeStats | None = None
    dbserver: TreeStats | None = None
    enroll_s: float = float("nan")
    build: dict[str, Any] = field(default_factory=dict)
    late_start_s: float = 0.0
    #: seconds from the collector's start to the load's (offset 0)
    collector_age_s: float = float("nan")
    db_growth_bytes: int | None = None
    stored: int | None = None  # Σ reports_total through the API
    counted: int | None = None  # Σ hosts.reports_total, read in the same statement as the rows
    samples: int | None = None
    duplicates: int | None = None
    settled_s: float = float("nan")  # until the collectors had nothing left in flight
    #: what reading at the first empty writer queue (the old check) would have compared, when it disagreed
    unsettled_read: str = ""
    verified_ok: bool = False
    verified: str = "—"
    profile: str = ""

    @property
    def backend(self) -> str:
        return self.setup.backend

    @property
    def generator_kept_up(self) -> bool:
        if self.load is None:
            return False
        lag_ok = bool(self.load["lag_p99_ms"] <= LAG_LIMIT_MS)
        cpu_ok = self.loadgen is None or self.loadgen.wall_s <= 0 or self.loadgen.cpu_s / self.loadgen.wall_s < 0.9
        return lag_ok and cpu_ok


def all_cores() -> set[int] | None:
    """The cores this process may use (None where the OS cannot tell or pin)."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    return set(os.sched_getaffinity(0))


def is_pg_url(db: str) -> bool:
    return db.startswith(("postgresql://", "postgres://"))


def collector_argv() -> list[str]:
    script = VENV_BIN / "leitstand-collector"
    return [str(script)] if script.exists() else [sys.executable, "-m", "collector.cli"]


def hosts_of(base_url: str, admin_token: str, tenant: str) -> list[dict[str, Any]]:
    status, body = http_get(
        f"{base_url}/api/v1/hosts?tenant={tenant}", headers={"Authorization": f"Bearer {admin_token}"}, timeout=60
    )
    if status != 200:
        raise BenchError(f"GET /api/v1/hosts answered {status}: {body[:300]!r}")
    hosts: list[dict[str, Any]] = json.loads(body)["hosts"]
    return hosts


def writer_drained(base_url: str) -> bool:
    status, body = http_get(f"{base_url}/healthz", timeout=5)
    return status == 200 and json.loads(body).get("writer_queue") == 0


def config_args(args: argparse.Namespace) -> list[str]:
    return ["--config", str(args.config.resolve())] if args.config else []


def setup_tenants(db: str, tenants: int) -> tuple[list[str], str, list[str]]:
    """Tenants (fleet_model.TOWNS) and an enroll token each, plus an admin token: (enroll tokens, admin, names).

    Through collector.admin in this process, the functions behind `leitstand-collector tenant add` and
    `token create` (a CLI process each cost seconds of the quick run)."""
    from collector import admin as collector_admin
    from collector.db import connect, migrate

    names = [name for name, _ in fleet_model.TOWNS[:tenants]]
    try:
        conn = connect(db)
    except Exception as exc:  # the driver's error, whichever backend: the setup is skipped with it
        raise BenchError(f"cannot open {db}: {exc}") from exc
    try:
        migrate(conn)
        existing = {str(t["name"]) for t in collector_admin.list_tenants(conn)}
        enroll_tokens = []
        for name in names:
            if name not in existing:
                collector_admin.add_tenant(conn, name, actor="ingest_sustained")
            enroll_tokens.append(collector_admin.create_token(conn, "enroll", actor="ingest_sustained", tenant=name)[1])
        admin = collector_admin.create_token(conn, "admin", actor="ingest_sustained")[1]
    finally:
        conn.close()
    return enroll_tokens, admin, names


def pg_query(url: str, sql: str) -> str:
    proc = subprocess.run(
        ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql, url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if proc.returncode != 0:
        raise BenchError(f"psql: {proc.stderr.strip()[-300:]}")
    return proc.stdout.strip()


def sqlite_query(path: str, sql: str) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


def db_scalar(backend: str, db: str, sql: str) -> int:
    return int(pg_query(db, sql)) if backend == "postgres" else sqlite_query(db, sql)


def db_bytes(backend: str, db: str) -> int:
    """The database's size: PostgreSQL's pg_database_size, SQLite's pages (WAL frames included)."""
    if backend == "postgres":
        return int(pg_query(db, "SELECT pg_database_size(current_database())"))
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
        size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    finally:
        conn.close()
    return pages * size


def stored_totals(base: str, admin: str, tenants: Sequence[str]) -> tuple[int, int, int]:
    """(Σ reports_total, Σ duplicates_total, hosts) over the tenants' hosts, from GET /api/v1/hosts."""
    reports = duplicates = hosts = 0
    for tenant in tenants:
        for h in hosts_of(base, admin, tenant):
            reports += int(h["reports_total"])
            duplicates += int(h["duplicates_total"])
            hosts += 1
    return reports, duplicates, hosts


class Worker:
    """The load generator process and the lines it prints, read by a thread (every wait has a deadline)."""

    def __init__(self, spec_file: Path, env: dict[str, str], log: Path) -> None:
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--loadgen-worker", str(spec_file)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
            cwd=REPO,
            text=True,
        )
        self._lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._read, name="loadgen-reader", daemon=True)
        self._thread.start()
        self.log_path = log

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("LOADGEN "):
                self._lines.put(json.loads(line.removeprefix("LOADGEN ")))
        self._lines.put(None)

    def expect(self, event: str, deadline_s: float) -> dict[str, Any]:
        try:
            got = self._lines.get(timeout=deadline_s)
        except queue.Empty:
            raise BenchError(f"load generator: no '{event}' within {deadline_s:.0f} s") from None
        if got is None or got["event"] == "error":
            tail = self.log_path.read_text(errors="replace")[-1500:]
            message = got["message"] if got else f"exited with {self.proc.wait(10)}"
            raise BenchError(f"load generator failed before '{event}': {message}\n{tail}")
        if got["event"] != event:
            raise BenchError(f"load generator: expected '{event}', got {got}")
        return got

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()


COUNTS_SQL = (
    "SELECT (SELECT count(*) FROM samples), (SELECT coalesce(sum(reports_total), 0) FROM hosts), "
    "(SELECT coalesce(sum(duplicates_total), 0) FROM hosts)"
)


def db_counts(backend: str, db: str) -> tuple[int, int, int]:
    """(rows in samples, Σ reports_total, Σ duplicates_total), all read in one statement: one snapshot,
    so a commit landing between two reads cannot make the counters and the rows disagree."""
    if backend == "postgres":
        rows, reports, dups = (int(v) for v in pg_query(db, COUNTS_SQL).split("|"))
        return rows, reports, dups
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        rows, reports, dups = (int(v) for v in conn.execute(COUNTS_SQL).fetchone())
    finally:
        conn.close()
    return rows, reports, dups


@dataclass
class Settled:
    """The collectors' totals once nothing is in flight any more (or the deadline passed)."""

    api_reports: int
    api_duplicates: int
    hosts: int
    rows: int
    counted: int
    seconds: float
    quiet: bool
    #: (API Σ reports_total, rows) at the first poll that found every writer queue empty: what the old
    #: check compared (None: the queues were never empty)
    first_empty: tuple[int, int] | None = None


def settle(bases: Sequence[str], admin: str, tenants: Sequence[str], backend: str, db: str,
           deadline_s: float = 90.0) -> Settled:  # fmt: skip
    """Wait until the collectors are done with every request they took, then read the totals.

    An empty writer queue is not enough: the writer may be committing the batch it took, and an
    overloaded collector still has requests between reading and queueing (their clients gave up
    long ago). Reading the API's counters then and the rows a moment later compares two different
    moments, which is how `reports_total` came out below the `samples` rows in overloaded runs.
    So: poll until every writer queue is empty and the API's Σ reports_total equals the rows and
    counters read in one statement afterwards; a collector that counts wrong never settles."""
    started = time.monotonic()
    first_empty: tuple[int, int] | None = None
    api_reports = api_dups = hosts = rows = counted = -1
    while True:
        try:
            drained = all(writer_drained(base) for base in bases)
            api_reports, api_dups, hosts = stored_totals(bases[0], admin, tenants)
            rows, counted, _dups = db_counts(backend, db)
        except OSError:  # a timed-out poll: the collector is still too busy to answer, so not settled
            drained = False
        if drained and first_empty is None:
            first_empty = (api_reports, rows)
        quiet = drained and api_reports == counted == rows
        waited = time.monotonic() - started
        if quiet or waited > deadline_s:
            return Settled(api_reports, api_dups, hosts, rows, counted, waited, quiet, first_empty)
        time.sleep(0.2)  # polling interval of a deadline-bounded wait


def run_setup(
    setup: Setup,
    args: argparse.Namespace,
    workdir: Path,
    db_override: str | None,
    pg_server: Callable[[], _postgres.PostgresServer],
    cores: set[int] | None,
) -> Outcome:
    out = Outcome(setup, interval=args.interval, warmup=args.warmup)
    step = f"{setup.key}_{args.agents / args.interval:.0f}" if args.rates else setup.key  # one per rate of a sweep
    bdir = workdir / step
    bdir.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "XDG_CONFIG_HOME": str(bdir / "xdg"),
        "XDG_DATA_HOME": str(bdir / "xdg"),
    }
    place = placement(setup.collectors, cores)
    out.placement = place.describe()
    with contextlib.ExitStack() as stack:
        pg: _postgres.PostgresServer | None = None
        if setup.backend == "postgres":
            if db_override:
                db = db_override  # shared by the PostgreSQL setups: each counts what it added
            else:
                try:
                    pg = pg_server()
                except _postgres.PostgresUnavailable as exc:
                    out.note = f"skipped: {exc}"
                    return out
                db = pg.create_database(f"{PG_DATABASE}_{step}")
        else:
            db = db_override or str(bdir / "collector.db")
        out.db = db
        print(f"{setup.label}: database {db}; {out.placement}", flush=True)
        # The generator (spawned below) and the database server run off the collectors' cores.
        if cores is not None:
            os.sched_setaffinity(0, place.other_cores or cores)
            if pg is not None and pg.process is not None:
                set_tree_affinity(pg.process.pid, place.other_cores or cores)

        t = time.monotonic()
        try:
            enroll_tokens, admin, tenants = setup_tenants(db, args.tenants)
        except BenchError as exc:
            if setup.backend != "postgres":
                raise
            out.note = f"skipped: {str(exc).splitlines()[0][:200]}"
            return out
        print(f"  {len(tenants)} tenants and tokens in {time.monotonic() - t:.1f} s", flush=True)

        processes: list[ManagedProcess] = []
        stack.enter_context(running(processes))
        collectors: list[ManagedProcess] = []
        bases: list[str] = []
        for i, core in enumerate(place.collector_cores):
            port = free_port()
            serve = [*collector_argv(), "serve", *config_args(args), "--db", db, "--listen", f"127.0.0.1:{port}"]
            collector = start_process(
                "collector" if setup.collectors == 1 else f"collector-{i + 1}",
                pinned(core, serve) if core is not None else serve,
                log_dir=bdir,
                env=env,
                cwd=bdir,
            )
            processes.append(collector)
            collectors.append(collector)
            bases.append(f"http://127.0.0.1:{port}")
        started = time.monotonic()
        for base, collector in zip(bases, collectors, strict=True):
            try:
                wait_ready(
                    http_ok(f"{base}/healthz"), deadline_s=60, what="leitstand-collector serve", process=collector
                )
            except BenchError as exc:
                if setup.backend != "postgres":
                    raise
                reason = next((ln.strip(" |") for ln in reversed(str(exc).splitlines()) if ln.strip(" |")), str(exc))
                out.note = f"skipped: `leitstand-collector serve --db {db}` did not start ({reason[:200]})"
                return out

        measure(out, args, bdir, env, bases, collectors, db, enroll_tokens, admin, tenants, pg, started)
        for collector in collectors:
            collector.stop()
            processes.remove(collector)
    return out


def measure(
    out: Outcome,
    args: argparse.Namespace,
    bdir: Path,
    env: dict[str, str],
    bases: list[str],
    collectors: list[ManagedProcess],
    db: str,
    enroll_tokens: list[str],
    admin: str,
    tenants: list[str],
    pg: _postgres.PostgresServer | None,
    collector_started: float,
) -> None:
    backend = out.backend
    spec_file = bdir / "loadgen.json"
    spec = {
        "ports": [int(base.rsplit(":", 1)[1]) for base in bases],
        "enroll_tokens": enroll_tokens,
        "agents": args.agents,
        "tenants": args.tenants,
        "seed": args.seed,
        "interval": args.interval,
        "warmup": args.warmup,
        "duration": args.duration,
        "connections": args.connections,
        "timeout": args.timeout,
    }
    spec_file.write_text(json.dumps(spec))
    worker = Worker(spec_file, env, bdir / "loadgen.log")
    try:
        print(f"  enrolling {args.agents:,} agents over {args.connections} connections …", flush=True)
        enrolled = worker.expect("enrolled", deadline_s=600)
        out.enroll_s = float(enrolled["seconds"])
        print(f"  enrolled in {out.enroll_s:.1f} s ({args.agents / out.enroll_s:,.0f}/s), not counted", flush=True)
        before = settle(bases, admin, tenants, backend, db)
        size0 = db_bytes(backend, db)

        worker.send("go")
        out.build = worker.expect("built", deadline_s=600)
        print(
            f"  built {out.build['requests']:,} requests in {out.build['seconds']:.1f} s "
            f"({out.build['mb']:.0f} MB, gzip body {out.build['body_bytes_avg']:.0f} bytes avg)",
            flush=True,
        )
        start = worker.expect("start", deadline_s=60)
        t0 = float(start["t0"])
        out.late_start_s = float(start["late_start_s"])
        out.collector_age_s = t0 - collector_started
        samplers = {f"collector{i}": TreeSampler(c.pid, interval_s=0.5, pss=False) for i, c in enumerate(collectors)}
        samplers["loadgen"] = TreeSampler(worker.proc.pid, interval_s=1.0, pss=False)
        if pg is not None and pg.process is not None:
            samplers["dbserver"] = TreeSampler(pg.process.pid, interval_s=1.0, pss=False)
        print(
            f"  load: {args.warmup:.0f} s warm-up, then {args.duration:.0f} s measured "
            f"({args.agents / args.interval:,.0f} req/s offered) …",
            flush=True,
        )
        time.sleep(max(0.0, t0 + args.warmup - time.monotonic()))  # the warm-up interval
        for sampler in samplers.values():
            sampler.start_window()
        raw = args.profile / f"collector-sustained-{out.setup.key}.txt" if args.profile else None
        profiler = start_profiler(collectors[0].pid, args.duration, raw, rate=100) if raw else None
        time.sleep(max(0.0, t0 + args.warmup + args.duration - time.monotonic()))  # the measured window
        stats = {name: sampler.finish() for name, sampler in samplers.items()}
        out.collectors = [stats[f"collector{i}"] for i in range(len(collectors))]
        out.loadgen = stats["loadgen"]
        out.dbserver = stats.get("dbserver")
        if profiler is not None:
            out.profile = finish_profiler(profiler, f"collector, {out.setup.label}", top=25, wait_s=60)
        out.load = worker.expect("done", deadline_s=120 + 3 * args.timeout)
    finally:
        worker.stop()

    after = settle(bases, admin, tenants, backend, db)
    out.settled_s = after.seconds
    if after.first_empty is not None and after.first_empty[0] != after.first_empty[1]:
        api, rows = (v - b for v, b in zip(after.first_empty, (before.api_reports, before.rows), strict=True))
        out.unsettled_read = f"API {api:,} vs rows {rows:,}"
    out.db_growth_bytes = db_bytes(backend, db) - size0
    out.stored = after.api_reports - before.api_reports
    out.counted = after.counted - before.counted
    out.samples = after.rows - before.rows
    out.duplicates = after.api_duplicates - before.api_duplicates
    verify(out, after.hosts, after.quiet)


def verify(out: Outcome, hosts: int, quiet: bool = True) -> None:
    """Stored (API reports_total, the database's counters, and rows in `samples`) against the 200s
    the generator counted; `quiet`: the collectors had settled (see `settle`)."""
    assert out.load is not None and out.stored is not None
    acked = int(out.load["total_ok"])
    maybe = int(out.load["written_unanswered"])
    counted = out.stored if out.counted is None else out.counted
    agree = out.stored == counted == out.samples
    exact = agree and out.stored == acked and out.duplicates == 0
    # A request written but never answered (timeout, reset) may or may not have been stored.
    within = maybe > 0 and agree and acked <= out.stored <= acked + maybe
    out.verified_ok = exact or within
    detail = (
        f"stored {out.stored:,} (API), counted {counted:,} and rows {out.samples:,} (database), acknowledged {acked:,}"
    )
    if maybe:
        detail += f", {maybe:,} unanswered (may be stored)"
    if out.duplicates:
        detail += f", {out.duplicates:,} duplicates"
    if not quiet:
        detail += ", the collectors had not settled within the deadline"
    verdict = "exact" if exact else ("within the unanswered" if within else "MISMATCH")
    out.verified = f"{'OK' if out.verified_ok else 'FAIL'} ({verdict}): {detail}; {hosts:,} hosts"


# --- output ---------------------------------------------------------------------------------


def errors_text(errors: dict[str, int]) -> str:
    total = sum(errors.values())
    if not total:
        return "0"
    return f"{total:,} (" + ", ".join(f"{n:,}× {kind}" for kind, n in sorted(errors.items())) + ")"


def goal_text(o: Outcome) -> str:
    assert o.load is not None
    errors = sum(o.load["errors"].values())
    p99 = float(o.load["p99_ms"])
    missed = []
    if errors:
        missed.append(f"{errors:,} errors")
    if not p99 < GOAL_P99_MS:
        missed.append(f"p99 {p99:,.0f} ms")
    if not o.generator_kept_up:
        lag = f"send lag p99 {o.load['lag_p99_ms']:.1f} / max {o.load['lag_max_ms']:.0f} ms"
        if not missed:
            return f"met, though the load generator fell behind ({lag})"
        # Lag adds to latency; a miss larger than the worst lag is the collector's all the same.
        if errors or p99 - float(o.load["lag_max_ms"]) >= GOAL_P99_MS:
            return "MISSED: " + ", ".join(missed) + f" (the load generator also lagged: {lag})"
        return f"INCONCLUSIVE: the load generator fell behind ({lag})"
    return "met" if not missed else "MISSED: " + ", ".join(missed)


def pct(stats: TreeStats | list[TreeStats] | None) -> str:
    """CPU as a share of one core (several collectors: their sum)."""
    many = stats if isinstance(stats, list) else [stats] if stats is not None else []
    if not many or any(st.wall_s <= 0 for st in many):
        return "—"
    return f"{sum(100 * st.cpu_s / st.wall_s for st in many):.0f} %"


#: (numerator, denominator, goal, what): the ratios of issue 18, each within one run
RATIOS = [
    ("pg1", "sqlite", 0.8, "PostgreSQL 1 collector vs SQLite"),
    ("pg2", "pg1", 1.5, "PostgreSQL 2 collectors vs 1"),
]


def saturated(o: Outcome) -> bool:
    """Whether the setup was offered more than it served: only then is its throughput its capacity."""
    assert o.load is not None
    return bool(sum(o.load["errors"].values()) or o.load["ok_in_window"] < 0.98 * o.load["scheduled"])


def ratio_lines(args: argparse.Namespace, outcomes: list[Outcome], cores: int) -> list[str]:
    by_key = {o.setup.key: o for o in outcomes if o.load is not None}
    lines = []
    for num, den, goal, what in RATIOS:
        a, b = by_key.get(num), by_key.get(den)
        if a is None or b is None or not b.load or not b.load["ok_in_window"]:
            continue
        assert a.load is not None
        value = a.load["ok_in_window"] / b.load["ok_in_window"]
        verdict = "met" if value >= goal else "MISSED"
        if not saturated(b) and not saturated(a):
            verdict = "not measured: neither setup was saturated (raise --agents or lower --interval)"
        elif not saturated(b):
            verdict += f" (an upper bound: {b.setup.label} kept up, its capacity is higher)"
        elif not saturated(a):
            verdict += f" (a lower bound: {a.setup.label} kept up, its capacity is higher)"
        if num == "pg2" and cores < 4:
            # two collectors, the database server and the generator need a core each to scale out
            verdict += f"; on {cores} cores the collectors, PostgreSQL and the generator share them (scale-out needs 4)"
        lines.append(
            f"  {what}: {value:.2f}x acknowledged req/s ({a.load['ok_in_window'] / args.duration:,.0f} vs "
            f"{b.load['ok_in_window'] / args.duration:,.0f}; goal >= {goal}x): {verdict}"
        )
    return lines


def report(args: argparse.Namespace, outcomes: list[Outcome], cores: int) -> None:
    header = [
        "setup", "agents", "interval", "offered req/s", "achieved req/s", "errors", "p50 ms", "p95 ms",
        "p99 ms", "max ms", "send lag p99 / max ms", "collector CPU", "collector RSS MB", "DB growth",
        "stored = acknowledged", "goal: no errors, p99 < 250 ms",
    ]  # fmt: skip
    rows = []
    for o in outcomes:
        if o.load is None:
            rows.append([o.setup.label, fmt(args.agents), f"{o.interval:g} s", *["—"] * 12, o.note])
            continue
        load = o.load
        growth = "—"
        if o.db_growth_bytes is not None and o.stored:
            growth = f"{o.db_growth_bytes / 1e6:,.1f} MB ({o.db_growth_bytes / o.stored:,.0f} B/report)"
        rss = max((st.rss_max for st in o.collectors), default=float("nan"))
        rows.append(
            [
                o.setup.label,
                fmt(args.agents),
                f"{o.interval:g} s",
                fmt(load["scheduled"] / args.duration, 0),
                fmt(load["ok_in_window"] / args.duration, 0),
                errors_text(load["errors"]),
                fmt(load["p50_ms"], 1),
                fmt(load["p95_ms"], 1),
                fmt(load["p99_ms"], 1),
                fmt(load["max_ms"], 0),
                f"{load['lag_p99_ms']:.1f} / {load['lag_max_ms']:.0f}",
                pct(o.collectors),
                fmt(rss, 0),
                growth,
                "OK" if o.verified_ok else "FAIL",
                goal_text(o),
            ]
        )
    every = (
        f"at {', '.join(f'{r:,g}' for r in args.rates)} req/s in turn (interval = agents / rate, warm-up one interval)"
        if args.rates
        else f"one report every {args.interval:g} s each (open loop), after {args.warmup:.0f} s warm-up"
    )
    print_table(
        header,
        rows,
        title=(
            f"Sustained ingest on {cores} cores: {args.agents:,} agents, {every}, {args.duration:.0f} s measured, "
            f"{args.connections} keep-alive connections, seed {args.seed}"
        ),
    )
    for o in outcomes:
        if o.load is None:
            continue
        load = o.load
        print(f"\n  {o.setup.label}: {o.db}")
        print(f"    cores: {o.placement}")
        print(f"    stored = acknowledged: {o.verified} (settled {o.settled_s:.1f} s after the load)")
        if o.unsettled_read:
            print(f"    read at the first empty writer queue instead, it would have compared {o.unsettled_read}")
        print(
            f"    requests in the window {load['scheduled']:,} ({load['answered']:,} answered); "
            f"whole run {load['total_requests']:,} requests, {load['total_ok']:,} acknowledged, "
            f"errors {errors_text(load['total_errors'])}"
        )
        print(
            f"    load generator: send lag p50 {load['lag_p50_ms']:.2f} / p99 {load['lag_p99_ms']:.2f} / max "
            f"{load['lag_max_ms']:.0f} ms, waited for a free connection p99 {load['wait_p99_ms']:.2f} / max "
            f"{load['wait_max_ms']:.0f} ms, CPU {pct(o.loadgen)} of a core, "
            f"{load['connections_opened']} connections opened, {load['stale_resends']} stale keep-alive resends"
            + ("" if o.generator_kept_up else "  <-- FELL BEHIND: latency overstated, not the collector's")
        )
        if o.late_start_s > 0.05:
            print(f"    the schedule started {o.late_start_s:.1f} s after the reports' ts (building took longer)")
        if o.dbserver is not None:
            print(f"    PostgreSQL server CPU {pct(o.dbserver)} of a core")
        print(
            f"    enrollment {o.enroll_s:.1f} s for {args.agents:,} agents (not counted); "
            f"{o.build.get('requests', 0):,} requests pre-built in {o.build.get('seconds', 0):.1f} s; "
            "collector RSS median " + ", ".join(f"{st.rss_median:.0f}" for st in o.collectors) + " MB"
        )
        print(
            "    p99 / max ms per 10 s of the window: "
            + ", ".join(f"{b['p99_ms']:.0f}/{b['max_ms']:.0f}" for b in load["timeline"])
        )
        if load["slow_periods"]:
            age = o.collector_age_s
            print(
                f"    slowest stretches over {GOAL_P99_MS:.0f} ms (s since the collector started; load began at "
                f"{age:.0f} s, window at {age + o.warmup:.0f} s): "
                + ", ".join(
                    f"{age + p['from_s']:.0f}–{age + p['to_s']:.0f} s max {p['max_ms']:,.0f} ms ({p['requests']:,})"
                    for p in sorted(load["slow_periods"], key=lambda p: p["from_s"])
                )
            )
        if o.profile:
            print(o.profile)
    lines = capacity_lines(args, outcomes, cores) if args.rates else ratio_lines(args, outcomes, cores)
    if lines:
        print(f"\nRatios (same run, {cores} cores):")
        print("\n".join(lines))


def met(o: Outcome) -> bool:
    """The goal met: no errors and p99 under the goal (a generator that fell behind still counts)."""
    return o.load is not None and goal_text(o).startswith("met")


def capacity(outcomes: Sequence[Outcome], key: str, agents: int) -> tuple[float, str] | None:
    """A setup's capacity from a --rates sweep: the highest offered rate it served meeting the goal,
    and what that number is ("" exact, "<": below the lowest rate tried, ">=": every rate was met)."""
    runs = sorted((o for o in outcomes if o.setup.key == key and o.load is not None), key=lambda o: -o.interval)
    if not runs:
        return None
    passed = [agents / o.interval for o in runs if met(o)]
    if not passed:
        return agents / runs[0].interval, "<"
    return max(passed), ">=" if len(passed) == len(runs) else ""


def capacity_lines(args: argparse.Namespace, outcomes: list[Outcome], cores: int) -> list[str]:
    """Each setup's capacity (max offered req/s with no errors and p99 < 250 ms) and their ratios."""
    found = {s.key: capacity(outcomes, s.key, args.agents) for s in SETUPS.values()}
    lines = [
        f"  capacity of {SETUPS[key].label}: {bound + ' ' if bound else ''}{value:,.0f} req/s"
        for key, got in found.items()
        if got is not None
        for value, bound in [got]
    ]
    for num, den, goal, what in RATIOS:
        a, b = found.get(num), found.get(den)
        if a is None or b is None:
            continue
        value = a[0] / b[0]
        verdict = "met" if value >= goal else "MISSED"
        lower = a[1] == ">=" or b[1] == "<"  # the numerator's capacity is higher, or the denominator's lower
        upper = a[1] == "<" or b[1] == ">="
        if lower and upper:
            verdict = "not measured: the capacities lie outside the rates tried (widen --rates)"
        elif lower or upper:
            verdict += f" ({'a lower' if lower else 'an upper'} bound: a capacity lies outside the rates tried)"
        if num == "pg2" and cores < 4:
            verdict += f"; on {cores} cores the collectors, PostgreSQL and the generator share them (scale-out needs 4)"
        lines.append(f"  {what}: {value:.2f}x capacity (goal >= {goal}x): {verdict}")
    return lines


# --- main -----------------------------------------------------------------------------------


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults after each flag (unless there is none), and the description and examples as written."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


#: (normal run, --quick): the quick run offers more than a collector serves here, briefly
SIZES: dict[str, tuple[float, float]] = {
    "agents": (10_000, 600),
    "interval": (15.0, 1.0),
    "duration": (120.0, 4.0),
    "tenants": (len(fleet_model.TOWNS), 1),
    "timeout": (10.0, 1.5),
}


def _rates(text: str) -> list[float]:
    try:
        rates = [float(r) for r in text.split(",") if r.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: comma-separated numbers, e.g. 600,900,1200") from None
    if not rates or any(not r > 0 for r in rates) or rates != sorted(rates):
        raise argparse.ArgumentTypeError(f"{text!r}: positive rates, lowest first, e.g. 600,900,1200")
    return rates


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench/ingest_sustained.py",
        description=(
            "Sustained open-loop ingest (issues 9, 18): N simulated agents each POST one real wire-format report\n"
            "every INTERVAL seconds, each on its own phase, to `leitstand-collector serve`: one collector on\n"
            "SQLite, one and two collectors sharing one PostgreSQL, side by side in one run. Latency counts\n"
            "from each request's scheduled time; the load generator reports how late it issued requests.\n"
            "Goal: no errors, p99 under 250 ms; PostgreSQL 1 collector >= 0.8x SQLite, 2 collectors >= 1.5x\n"
            "one (where the cores allow). Afterwards checks that the collectors stored exactly the reports\n"
            "they acknowledged (API, the database's counters and its rows)."
        ),
        epilog=(
            "examples:\n"
            "  bench/ingest_sustained.py --quick                           # all three setups, under a minute\n"
            "  bench/ingest_sustained.py                                   # SQLite, PostgreSQL x1 and x2\n"
            "  bench/ingest_sustained.py --setups sqlite --profile /tmp/p  # plus py-spy of the collector\n"
            "  bench/ingest_sustained.py --setups sqlite --agents 2000 --duration 30   # smoke run\n"
            "  bench/ingest_sustained.py --agents 3000 --duration 20 --rates 600,900,1200,1500  # capacities"
        ),
        formatter_class=_HelpFormatter,
    )
    parser.add_argument(
        "--quick", action="store_true",
        help="a short overloaded run of every setup (under a minute): " + ", ".join(
            f"--{k} {v[1]:g}" for k, v in SIZES.items()
        ) + "; flags given explicitly win",
    )  # fmt: skip
    parser.add_argument(
        "--agents", type=int, help=f"simulated agents (collector.sim fleet hosts) [{SIZES['agents'][0]:g}]"
    )
    parser.add_argument("--interval", type=float, help="seconds between two reports of one agent [15]")
    parser.add_argument("--duration", type=float, help="seconds measured, after the warm-up [120]")
    parser.add_argument(
        "--warmup", type=float, default=None, help="seconds of load before the window (default: one --interval)"
    )
    parser.add_argument(
        "--setups",
        default=",".join(SETUPS),
        help="comma-separated: sqlite (1 collector), pg1 (1 collector on PostgreSQL), pg2 (2 collectors on one "
        "PostgreSQL database)",
    )
    parser.add_argument(
        "--backend", choices=["sqlite", "postgres", "both"], help="shorthand: sqlite, postgres (pg1,pg2) or both"
    )
    parser.add_argument(
        "--db",
        help="SQLite file, or postgresql://... URL of an existing database (instead of a temporary one) for the "
        "setups of its backend",
    )
    parser.add_argument(
        "--config",
        type=Path,
        metavar="TOML",
        help="collector config for `serve` and the CLI (default: built-in defaults; e.g. [alerts] enabled = false)",
    )
    parser.add_argument("--seed", type=int, default=1, help="fleet, phases and readings are deterministic for it")
    parser.add_argument("--tenants", type=int, help=f"tenants the agents are spread over [{len(fleet_model.TOWNS)}]")
    parser.add_argument(
        "--connections", type=int, default=128, help="keep-alive connections shared by all agents (the pool)"
    )
    parser.add_argument("--timeout", type=float, help="seconds per request, as the agent's sender [10]")
    parser.add_argument(
        "--profile", type=Path, metavar="DIR", help="record the collector with py-spy during the window; keep stacks"
    )
    parser.add_argument(
        "--rates",
        type=_rates,
        help="offered req/s to step through, lowest first, instead of --interval (agents / rate each): every "
        "setup runs at each rate until it misses the goal; prints each setup's capacity (the highest rate with "
        "no errors and p99 < 250 ms) and the ratios of the capacities",
    )
    parser.add_argument(
        "--keep", action="store_true",
        help="keep the temp directory (databases, logs; the private PostgreSQL server's log as postgresql.log, "
        "with autovacuum runs and statements over 100 ms)",
    )  # fmt: skip
    parser.add_argument(
        "--pg-set", action="append", default=[], metavar="NAME=VALUE", type=_pg_setting,
        help="a setting of the private PostgreSQL server (repeatable), e.g. "
        "--pg-set shared_preload_libraries=pg_stat_statements --pg-set autovacuum_naptime=5s",
    )  # fmt: skip
    parser.add_argument("--loadgen-worker", type=Path, help=argparse.SUPPRESS)
    return parser


def _pg_setting(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=VALUE, e.g. autovacuum_naptime=5s")
    return name.strip(), value.strip()


def steps(args: argparse.Namespace) -> list[argparse.Namespace]:
    """The runs of one setup: one, or one per --rates rate (interval = agents / rate, warm-up one interval)."""
    if not args.rates:
        return [args]
    return [
        argparse.Namespace(**{**vars(args), "interval": args.agents / rate, "warmup": args.agents / rate})
        for rate in args.rates
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.loadgen_worker:
        return loadgen_worker(args.loadgen_worker)
    for name, sizes in SIZES.items():
        if getattr(args, name) is None:
            setattr(args, name, type(sizes[0])(sizes[1] if args.quick else sizes[0]))
    args.agents, args.tenants = int(args.agents), int(args.tenants)
    args.warmup = args.interval if args.warmup is None else args.warmup
    prog = "bench/ingest_sustained.py"
    if args.config is not None and not args.config.is_file():
        print(f"{prog}: --config {args.config}: no such file", file=sys.stderr)
        return 2
    if args.rates and args.db:
        print(f"{prog}: --rates enrolls the agents anew for every rate: it needs the temporary databases, not --db",
              file=sys.stderr)  # fmt: skip
        return 2
    if args.agents < 1 or args.interval <= 0 or args.duration <= 0 or args.warmup < 0 or args.connections < 1:
        print(f"{prog}: --agents, --interval, --duration and --connections must be positive", file=sys.stderr)
        return 2
    if not 1 <= args.tenants <= len(fleet_model.TOWNS):
        print(f"{prog}: --tenants must be 1..{len(fleet_model.TOWNS)}", file=sys.stderr)
        return 2
    if args.backend:
        args.setups = {"sqlite": "sqlite", "postgres": "pg1,pg2", "both": "sqlite,pg1,pg2"}[args.backend]
    keys = [k.strip() for k in args.setups.split(",") if k.strip()]
    unknown = [k for k in keys if k not in SETUPS]
    if unknown or not keys:
        print(f"{prog}: --setups {args.setups}: choose from {', '.join(SETUPS)}", file=sys.stderr)
        return 2
    setups = [SETUPS[k] for k in keys]
    overrides: dict[str, str | None] = {"sqlite": None, "postgres": None}
    if args.db:
        named = "postgres" if is_pg_url(args.db) else "sqlite"
        if named not in {s.backend for s in setups}:
            print(f"{prog}: --db {args.db} is a {named} database, but no setup uses {named}", file=sys.stderr)
            return 2
        overrides[named] = args.db if named == "postgres" else str(Path(args.db).resolve())

    cores = all_cores()
    print(f"machine: {machine_notes()}")
    if not shutil.which("taskset"):
        print("taskset missing: nothing is pinned", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="leitstand-bench-sustained-"))
    outcomes: list[Outcome] = []
    with contextlib.ExitStack() as stack:
        servers: list[_postgres.PostgresServer] = []

        def pg_server() -> _postgres.PostgresServer:
            """One PostgreSQL server for every PostgreSQL setup, started when the first needs it."""
            if not servers:
                # --keep: the server log says when autovacuum ran and which statements were slow
                extra = dict(args.pg_set)
                if args.keep:
                    extra = {"log_autovacuum_min_duration": "0", "log_min_duration_statement": "100", **extra}
                servers.append(stack.enter_context(_postgres.postgres_server(extra=extra)))
            return servers[0]

        try:
            for setup in setups:
                for step in steps(args):
                    try:
                        outcomes.append(run_setup(setup, step, workdir, overrides[setup.backend], pg_server, cores))
                    except BenchError as exc:
                        outcomes.append(Outcome(setup, note=f"failed: {str(exc).splitlines()[0][:300]}"))
                        print(f"{prog}: {setup.label}: {exc}", file=sys.stderr)
                        break
                    if args.rates and not met(outcomes[-1]):
                        break  # a higher rate would miss as well
            report(args, outcomes, len(cores) if cores else os.cpu_count() or 1)
        finally:
            if args.keep:
                for server in servers:
                    with contextlib.suppress(OSError):
                        shutil.copy(server.datadir.parent / "server.log", workdir / "postgresql.log")
                print(f"kept {workdir}")
            else:
                shutil.rmtree(workdir, ignore_errors=True)
    failed = any(o.note.startswith("failed") or (o.load is not None and not o.verified_ok) for o in outcomes)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
