"""What metering costs: ingest with and without it, and a month's export for a provider.

1. Ingest overhead. Reports go through `collector.store.ingest` inside
   `collector.writer.Writer`, in process (no HTTP), into a real SQLite file
   (WAL, synchronous=full: the production default), in jobs of 10 reports (one
   agent batch each) from `--agents` agents spread over `--tenants` tenants:
   thin clients with a session, every 15th agent a server. Reports are 60 s
   apart and carry cpu, memory (with swap), a disk (with I/O counters), a NIC
   (with error counters), load and sessions, with increasing counters: the
   shape of tests/collector/conftest.py `report()`. The batches are decoded
   before the clock starts (decoding is the HTTP handler's work). Once as in
   production, once with `collector.store.Booker` replaced by a class that
   books nothing; the runs alternate, each into a fresh file, and the best of
   each side counts. Two writer loads: a busy collector (1,000 jobs waiting,
   so the Writer commits 500 jobs per transaction) and a quiet one (one job
   at a time: a commit and an fsync per job, a tenth of the reports). The
   bench process is pinned to core 0. An untimed run with sqlite3's trace
   callback counts the SQL statements per report both ways, by statement and
   table. HTTP is not repeated here: bench/ingest.py measures it (with
   metering, as shipped).

2. Export of one month for a provider the size of the seeds' example:
   `--thin-clients` 2,200 cloud workplaces, `--servers` 154, `--printers` 40,
   60 s samples, spread unevenly over `--tenants` 10 member municipalities
   (28 % for the largest down to 4 %). Ingesting a whole month of 60 s
   reports (~100 M) is not feasible in a benchmark run, so the month's ledger
   state is written directly with SQL into the real schema
   (`collector.db.migrate`), shaped like ingest leaves it:
   - `ledger`: one row per tenant, UTC hour, meter and dim (host_hours by
     role; cpu, memory, storage, network, printed pages with mono/colour);
   - `ledger_subject`: one row per tenant, period, host or printer, meter, dim;
   - `workplace_days`: one row per thin client and day it had a session;
   - `coverage`: one row per host, epoch and period (reports, seq span);
     `gaps` for the seq ranges skipped inside it;
   - `device_coverage`: one row per printer and period (polls, ok);
   - `hosts` with hostnames, roles and the latest report as ingest stores it,
     `devices` for the printers, `tenants`; `adjustments` for late data of
     the closed previous month, one row per late report, meter and hour.
   Thin clients are on Monday to Friday 07:00-17:00 (Europe/Berlin), absent
   10 % of days, 2 % of them spares that never report; servers and printer
   polls run around the clock; 3 % of hosts have seq gaps, 0.5 % were
   re-enrolled (a second epoch) during the month. Hour totals and per-host
   totals are generated from the same per-host rates, so they agree exactly,
   as they do after ingest. `--history-months` earlier months (default 2) are
   built the same way and closed first, as in a collector that has run for a
   while.

   The shape is checked on every run, before the build: the script ingests
   real reports of a thin client and a server polling a printer through
   `store.ingest` into a scratch file, builds the same three subjects with the
   generator into another, and compares which tables get rows and the keys of
   those rows (meter and dim in `ledger`; kind, meter and dim in
   `ledger_subject`; tenant, period and late flag in `workplace_days`; stream
   kind, epoch and role in `coverage`; ...), hour alignment, and that
   `ledger` hours and `ledger_subject` sum to the same per meter. It stops
   when they differ. Not built: raw `samples`, `meter_points` and
   `device_readings` (a real month has ~100 M rows of each); the export never
   reads them, which the script verifies by recording, with sqlite3's
   authorizer, every table the export path reads.

   Then it times, per tenant and for all: `ledger.period_usage`,
   `pricing.price` (a realistic tariff book via `tariffs.parse_tariffs`:
   default prices with included quantities and flat rates, one tenant with
   VAT), `export.render_json`, `render_csv`, `render_focus`; then
   `ledger.close_period` for all tenants; and the real CLI
   `leitstand-collector meter export --all --period P --format F --out DIR`
   as a subprocess, for the open month and, after closing it, for the first
   export (stored for ten years) and a re-export (verified byte-identical;
   the FOCUS files of all three must be identical). Wall time and peak RSS
   are wait4's rusage of exactly the CLI process, forked by a small launcher:
   Linux starts a forked child's ru_maxrss at its parent's peak RSS, so
   RUSAGE_CHILDREN of this (large) benchmark process would report its own
   peak, not the CLI's.

Goal printed next to the results: the whole month's export under 5 s and
under 500 MB RSS.

    .venv/bin/python bench/metering.py            # about 1 minute
    .venv/bin/python bench/metering.py --quick    # about 15 s
    .venv/bin/python bench/metering.py --profile DIR   # plus cProfile of ingest and export
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import cProfile
import datetime as dt
import hashlib
import json
import os
import pstats
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

import msgspec
from _common import REPO, VENV_BIN, BenchError, fmt, machine_notes, print_table

from agent.wire import decode_batch
from collector import admin, store
from collector.admin import Principal
from collector.db import connect, migrate
from collector.enroll import enroll
from collector.metering import export, ledger, pricing
from collector.metering.model import BERLIN, Period
from collector.metering.tariffs import TariffBook, parse_tariffs
from collector.writer import Writer

GOAL_EXPORT_S = 5.0
GOAL_EXPORT_RSS_MB = 500.0
INGEST_CORE = 0
INTERVAL_S = 60
GIB = 2**30
KIB_PER_GIB = 2**20

TENANT_NAMES = (
    "stadt-lohne",
    "stadt-dinklage",
    "stadt-damme",
    "gemeinde-steinfeld",
    "gemeinde-goldenstedt",
    "gemeinde-bakum",
    "gemeinde-visbek",
    "gemeinde-holdorf",
    "gemeinde-neuenkirchen",
    "gemeinde-lutten",
)
#: share of the fleet per tenant, largest first (percent; cycled for more tenants)
TENANT_WEIGHTS = (28, 16, 12, 10, 8, 7, 6, 5, 4, 4)
#: local hours (Europe/Berlin) a thin client is on, Monday to Friday
BUSINESS_HOURS = range(7, 17)
#: relative load of a thin client by local hour (cpu and network scale with it)
TC_LOAD = {9: 2, 10: 2, 13: 2, 14: 2}

TARIFFS = """\
# Default price list of the provider, not subject to VAT.
[[tariff]]
valid_from = "2024-01"
vat_percent = 0

[tariff.prices]
cpu_core_seconds = "0.00001"
memory_gib_hours = "0.004"
storage_gib_hours = "0.0002"
network_gib = "0.01"
printed_pages_mono = "0.02"
printed_pages_color = "0.09"
workplace_days = "1.50"

[tariff.prices.host_hours]
server = "0.05"
vm = "0.02"
thin-client = 0

[tariff.included]
network_gib = 100
printed_pages_mono = 500

[tariff.included.host_hours]
vm = 720

[tariff.flat]
workplace_month = "12.00"

[tariff.flat.host_month]
server = "40.00"

# A member subject to VAT gets its own version.
[[tariff]]
tenant = "{vat_tenant}"
valid_from = "2024-01"
vat_percent = 19

[tariff.prices]
cpu_core_seconds = "0.00001"
memory_gib_hours = "0.004"
storage_gib_hours = "0.0002"
network_gib = "0.01"
printed_pages_mono = "0.02"
printed_pages_color = "0.09"
workplace_days = "1.50"

[tariff.prices.host_hours]
server = "0.05"

[tariff.flat]
workplace_month = "12.00"

[tariff.flat.host_month]
server = "40.00"
"""


# --- part 1: ingest overhead -----------------------------------------------------------


class NoBooker:
    """Stands in for collector.metering.ledger.Booker: every method (book_host_reports,
    book_device_reading, flush, …) does nothing, whatever the Booker's interface is today."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def __getattr__(self, name: str) -> Callable[..., None]:
        def nothing(*args: object, **kwargs: object) -> None:
            return None

        return nothing


@contextlib.contextmanager
def metering(enabled: bool) -> Iterator[None]:
    """Ingest as shipped, or with store.Booker replaced by NoBooker."""
    if enabled:
        yield
        return
    original = store.Booker
    store.Booker = NoBooker  # type: ignore[assignment,misc]
    try:
        yield
    finally:
        store.Booker = original  # type: ignore[misc]


@dataclass(frozen=True)
class Agent:
    id: str
    tenant: str
    role: str


def ingest_agents(count: int, tenants: int) -> list[Agent]:
    names = tenant_names(tenants)
    return [
        Agent(f"agent-{i:04d}", names[i % len(names)], "server" if i % 15 == 14 else "thin-client")
        for i in range(count)
    ]


def wire_report(seq: int, ts: float, agent: Agent, rng: random.Random, state: dict[str, float]) -> dict[str, Any]:
    """One report in wire format v1 with counters that grow like a real host's."""
    server = agent.role == "server"
    cores = 8 if server else 2
    state["busy"] += INTERVAL_S * cores * rng.uniform(0.02, 0.6)
    state["read"] += rng.randint(0, 4 << 20)
    state["write"] += rng.randint(0, 8 << 20)
    state["rx"] += rng.randint(10_000, 5_000_000 if server else 500_000)
    state["tx"] += rng.randint(5_000, 2_000_000 if server else 200_000)
    return {
        "seq": seq,
        "ts": ts,
        "interval_s": INTERVAL_S,
        "cpu": {"count": cores, "percent": round(rng.uniform(1, 60), 1), "busy_seconds_total": round(state["busy"], 2)},
        "memory": {
            "total_bytes": (32 if server else 4) * GIB,
            "used_bytes": int((12 if server else 2) * GIB * rng.uniform(0.9, 1.1)),
            "swap_total_bytes": 2 * GIB,
            "swap_used_bytes": 0,
        },
        "disks": [
            {
                "mount": "/",
                "device": "sda1",
                "total_bytes": (500 if server else 32) * GIB,
                "used_bytes": (200 if server else 12) * GIB + seq * 4096,
                "read_bytes_total": int(state["read"]),
                "write_bytes_total": int(state["write"]),
            }
        ],
        "net": [
            {
                "nic": "eth0",
                "rx_bytes_total": int(state["rx"]),
                "tx_bytes_total": int(state["tx"]),
                "rx_errors_total": 0,
                "tx_errors_total": 0,
            }
        ],
        "load1": round(rng.uniform(0, 2), 2),
        "sessions": 0 if server else 1,
    }


def ingest_jobs(agents: list[Agent], total: int, job_size: int) -> list[tuple[Principal, Any]]:
    """Decoded batches of `job_size` reports, agents round-robin, each agent's reports 60 s apart, ending now."""
    per_agent = max(1, total // (len(agents) * job_size)) * job_size
    start = time.time() - (per_agent + 2) * INTERVAL_S
    rng = random.Random(4)
    states = {a.id: dict.fromkeys(("busy", "read", "write", "rx", "tx"), 1000.0) for a in agents}
    jobs: list[tuple[Principal, Any]] = []
    for first in range(1, per_agent + 1, job_size):
        for n, agent in enumerate(agents):
            offset = (n * 0.731) % INTERVAL_S  # agents do not report in lockstep
            reports = [
                wire_report(seq, start + seq * INTERVAL_S + offset, agent, rng, states[agent.id])
                for seq in range(first, first + job_size)
            ]
            info = {
                "id": agent.id,
                "hostname": f"{agent.id}.{agent.tenant}.example",
                "version": "0.1.0",
                "role": agent.role,
                "site": "rathaus",
                "os": "Linux 6.1",
                "boot_time": start - 86400,
            }
            batch = decode_batch(msgspec.json.encode({"agent": info, "reports": reports}))
            principal = Principal(token_id=agent.id, role="agent", tenant=agent.tenant, agent_id=agent.id)
            jobs.append((principal, batch))
    return jobs


def fresh_db(path: Path, agents: list[Agent]) -> None:
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(f"{path}{suffix}")
    conn = connect(path)
    migrate(conn)
    for tenant in sorted({a.tenant for a in agents}):
        admin.add_tenant(conn, tenant, actor="bench")
    enrollers = {
        tenant: admin.authenticate(
            conn, "Bearer " + admin.create_token(conn, "enroll", actor="bench", tenant=tenant)[1]
        )
        for tenant in sorted({a.tenant for a in agents})
    }
    for agent in agents:
        enroll(conn, enrollers[agent.tenant], agent.id, f"{agent.id}.{agent.tenant}.example")
    conn.close()


@dataclass
class IngestRun:
    rate: float
    commits: int
    db_bytes: int
    rows: dict[str, int]


def run_ingest(
    path: Path,
    agents: list[Agent],
    jobs: list[tuple[Principal, Any]],
    *,
    metered: bool,
    in_flight: int = 1000,
    trace: bool = False,
) -> tuple[IngestRun, collections.Counter[str]]:
    """reports/s of store.ingest through the Writer with up to `in_flight` jobs waiting (the Writer
    commits up to 500 per transaction: 1,000 is a busy collector, 1 one commit and fsync per job)."""
    fresh_db(path, agents)
    statements: collections.Counter[str] = collections.Counter()

    def open_conn() -> sqlite3.Connection:
        conn = connect(path)
        if trace:
            conn.set_trace_callback(lambda sql: statements.update([statement_key(sql)]))
        return conn

    expected = sum(len(batch.reports) for _, batch in jobs)
    received_at = time.time()
    with metering(metered):
        writer = Writer(open_conn)
        writer.start()
        pending: collections.deque[Any] = collections.deque()
        start = time.perf_counter()
        for principal, batch in jobs:
            pending.append(writer.submit_staged(store.IngestJob(principal, batch, received_at)))
            if len(pending) >= in_flight:
                pending.popleft().result(120)
        for future in pending:
            future.result(120)
        elapsed = time.perf_counter() - start
        writer.stop()
    conn = connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    rows = {
        table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        for table in ("samples", "meter_points", "ledger", "ledger_subject", "coverage", "workplace_days")
    }
    page_size, pages = (conn.execute(f"PRAGMA {p}").fetchone()[0] for p in ("page_size", "page_count"))
    conn.close()
    if rows["samples"] != expected:
        raise BenchError(f"ingest stored {rows['samples']} reports, expected {expected}")
    if metered != (rows["meter_points"] == expected and rows["ledger"] > 0):
        raise BenchError(f"metering {'on' if metered else 'off'}, but the ledger tables hold {rows}")
    return IngestRun(expected / elapsed, writer.commits, page_size * pages, rows), statements


_TABLE_RE = re.compile(r"\b(?:INTO|UPDATE|FROM)\s+(\w+)", re.IGNORECASE)


def statement_key(sql: str) -> str:
    words = sql.split()
    verb = words[0].upper() if words else "?"
    if verb in ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE", "ROLLBACK"):
        return "(transaction control)"
    if verb == "INSERT" and len(words) > 2 and words[1].upper() == "OR":
        verb = f"INSERT OR {words[2].upper()}"
    if verb == "INSERT" and "ON CONFLICT" in sql.upper():
        verb = "UPSERT"
    table = _TABLE_RE.search(sql)
    return f"{verb} {table.group(1) if table else ''}".strip()


@dataclass
class IngestConfig:
    in_flight: int
    reports: int
    metered: IngestRun
    unmetered: IngestRun


@dataclass
class IngestResult:
    agents: int
    tenants: int
    job_size: int
    repeats: int
    configs: list[IngestConfig]
    statements_on: collections.Counter[str]
    statements_off: collections.Counter[str]
    trace_reports: int


def ingest_overhead(args: argparse.Namespace, workdir: Path) -> IngestResult:
    agents = ingest_agents(args.agents, args.tenants)
    jobs = ingest_jobs(agents, args.reports, args.job_size)
    # One job in flight: each job is its own commit and fsync, so fewer reports keep the run short.
    few = jobs[: max(len(agents), len(jobs) // 10)]
    print(
        f"ingest: {sum(len(b.reports) for _, b in jobs):,} reports from {len(agents)} agents in jobs of "
        f"{args.job_size}, with and without metering, {args.repeats} run(s) each …",
        flush=True,
    )
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    if affinity is not None and INGEST_CORE in affinity:
        os.sched_setaffinity(0, {INGEST_CORE})
    configs = []
    try:
        for in_flight, config_jobs in ((1000, jobs), (1, few)):
            on: list[IngestRun] = []
            off: list[IngestRun] = []
            for attempt in range(args.repeats):
                path = workdir / f"ingest-{in_flight}-{attempt}"
                off.append(
                    run_ingest(Path(f"{path}-off.db"), agents, config_jobs, metered=False, in_flight=in_flight)[0]
                )
                on.append(run_ingest(Path(f"{path}-on.db"), agents, config_jobs, metered=True, in_flight=in_flight)[0])
            configs.append(
                IngestConfig(
                    in_flight=in_flight,
                    reports=sum(len(b.reports) for _, b in config_jobs),
                    metered=max(on, key=lambda r: r.rate),
                    unmetered=max(off, key=lambda r: r.rate),
                )
            )
    finally:
        if affinity is not None:
            os.sched_setaffinity(0, affinity)
    # Statements per report: an untimed run of the first few jobs of every agent, traced.
    sample = jobs[: len(agents) * 3]
    trace_reports = sum(len(b.reports) for _, b in sample)
    _, stmts_on = run_ingest(workdir / "trace-on.db", agents, sample, metered=True, trace=True)
    _, stmts_off = run_ingest(workdir / "trace-off.db", agents, sample, metered=False, trace=True)
    if args.profile:
        profile_ingest(args.profile, workdir, agents, jobs)
    return IngestResult(
        agents=len(agents),
        tenants=len({a.tenant for a in agents}),
        job_size=args.job_size,
        repeats=args.repeats,
        configs=configs,
        statements_on=stmts_on,
        statements_off=stmts_off,
        trace_reports=trace_reports,
    )


def profile_ingest(profile_dir: Path, workdir: Path, agents: list[Agent], jobs: list[tuple[Principal, Any]]) -> None:
    """cProfile of the metered ingest, run synchronously (the Writer's thread is invisible to cProfile):
    the same jobs, 500 per transaction, each in a savepoint, like the Writer does."""
    path = workdir / "ingest-profile.db"
    fresh_db(path, agents)
    conn = connect(path)
    received_at = time.time()
    profiler = cProfile.Profile()
    profiler.enable()
    for start in range(0, len(jobs), 500):
        conn.execute("BEGIN IMMEDIATE")
        for n, (principal, batch) in enumerate(jobs[start : start + 500]):
            conn.execute(f"SAVEPOINT job{n}")
            store.ingest(conn, principal, batch, received_at)
            conn.execute(f"RELEASE job{n}")
        conn.execute("COMMIT")
    profiler.disable()
    conn.close()
    show_profile(profiler, profile_dir / "ingest-metered.prof", "ingest with metering (synchronous, cProfile)")


def show_profile(profiler: cProfile.Profile, target: Path, title: str, top: int = 18) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    profiler.dump_stats(target)
    print(f"\nprofile: {title}; saved to {target}\n")
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.strip_dirs().sort_stats("tottime").print_stats(top)


# --- part 2: the fleet and its month ---------------------------------------------------


@dataclass(frozen=True)
class Host:
    agent_id: str
    hostname: str
    role: str
    site: str
    #: per second of activity, in the meters' stored units
    mem_kib: int
    disk_kib: int
    cpu_us: int  # at load 1
    net_bytes: int  # at load 1
    spare: bool = False


@dataclass(frozen=True)
class Printer:
    device_id: str
    poller: str
    pages_per_hour: int  # at load 1, in business hours
    color_percent: int


@dataclass
class TenantFleet:
    name: str
    hosts: list[Host] = field(default_factory=list)
    printers: list[Printer] = field(default_factory=list)

    def count(self, role: str) -> int:
        return sum(1 for h in self.hosts if h.role == role)


def tenant_names(count: int) -> list[str]:
    return [TENANT_NAMES[i] if i < len(TENANT_NAMES) else f"gemeinde-{i + 1:03d}" for i in range(count)]


def spread(total: int, weights: Sequence[int], minimum: int = 0) -> list[int]:
    """`total` split in proportion to `weights` (largest remainder), each at least `minimum` where possible."""
    whole = sum(weights)
    parts = [total * w // whole for w in weights]
    order = sorted(range(len(weights)), key=lambda i: -(total * weights[i] % whole))
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    for i in range(len(parts)):
        while parts[i] < minimum and max(parts) > minimum:
            parts[parts.index(max(parts))] -= 1
            parts[i] += 1
    return parts


def make_fleet(thin_clients: int, servers: int, printers: int, tenants: int, *, seed: int = 7) -> list[TenantFleet]:
    rng = random.Random(seed)
    weights = [TENANT_WEIGHTS[i % len(TENANT_WEIGHTS)] for i in range(tenants)]
    fleet = []
    for name, n_tc, n_srv, n_prn in zip(
        tenant_names(tenants),
        spread(thin_clients, weights),
        spread(servers, weights, 1),
        spread(printers, weights, 1 if printers >= tenants else 0),
        strict=True,
    ):
        short = name.split("-", 1)[1][:8]
        t = TenantFleet(name)
        for i in range(n_srv):
            t.hosts.append(
                Host(
                    agent_id=str(uuid.UUID(int=rng.getrandbits(128))),
                    hostname=f"{short}-srv-{i + 1:03d}",
                    role="server",
                    site="rechenzentrum" if i % 3 else "rathaus",
                    mem_kib=rng.randint(4, 96) * KIB_PER_GIB,
                    disk_kib=rng.randint(40, 2000) * KIB_PER_GIB,
                    cpu_us=rng.randint(100_000, 3_000_000),
                    net_bytes=rng.randint(50_000, 5_000_000),
                )
            )
        for i in range(n_tc):
            t.hosts.append(
                Host(
                    agent_id=str(uuid.UUID(int=rng.getrandbits(128))),
                    hostname=f"{short}-tc-{i + 1:04d}",
                    role="thin-client",
                    site=("rathaus", "bauhof", "schule", "buergerbuero")[i % 4],
                    mem_kib=rng.randint(1_200_000, 3_000_000),
                    disk_kib=rng.randint(6, 14) * KIB_PER_GIB,
                    cpu_us=rng.randint(30_000, 250_000),
                    net_bytes=rng.randint(5_000, 150_000),
                    spare=rng.random() < 0.02,
                )
            )
        pollers = [h for h in t.hosts if h.role == "server"] or t.hosts
        for i in range(n_prn):
            t.printers.append(
                Printer(
                    device_id=f"{short}-prn-{i + 1:02d}",
                    poller=pollers[i % len(pollers)].agent_id,
                    pages_per_hour=rng.randint(5, 120),
                    color_percent=rng.choice((0, 0, 10, 20, 35)),
                )
            )
        fleet.append(t)
    return fleet


@dataclass(frozen=True)
class Hour:
    ts: int  # UTC hour start
    day: str  # Europe/Berlin date
    weekday: int
    local_hour: int

    @property
    def business(self) -> bool:
        return self.weekday < 5 and self.local_hour in BUSINESS_HOURS


def month_hours(period: Period) -> list[Hour]:
    hours = []
    for ts in range(int(period.start_ts), int(period.end_ts), 3600):
        local = dt.datetime.fromtimestamp(ts, BERLIN)
        hours.append(Hour(ts, local.date().isoformat(), local.weekday(), local.hour))
    return hours


def tc_load(hour: Hour) -> int:
    return TC_LOAD.get(hour.local_hour, 1)


def server_load(hour: Hour) -> int:
    return 2 if hour.business else 1


@dataclass
class SeqState:
    epoch: int = 0
    next_seq: int = 1
    reports: int = 0
    gap_count: int = 0
    last_ts: float | None = None


def host_json(host: Host, seq: int, ts: float, printer: Printer | None) -> str:
    """The latest report as ingest keeps it in hosts.latest (wire JSON)."""
    server = host.role == "server"
    body: dict[str, Any] = {
        "seq": seq,
        "ts": ts,
        "interval_s": float(INTERVAL_S),
        "cpu": {"count": 8 if server else 2, "percent": 12.5, "busy_seconds_total": 86123.4},
        "memory": {
            "total_bytes": (128 if server else 4) * GIB,
            "used_bytes": host.mem_kib * 1024,
            "swap_total_bytes": 2 * GIB,
            "swap_used_bytes": 0,
        },
        "disks": [
            {
                "mount": "/",
                "device": "sda1",
                "total_bytes": 2 * host.disk_kib * 1024,
                "used_bytes": host.disk_kib * 1024,
                "read_bytes_total": 123456789,
                "write_bytes_total": 987654321,
            }
        ],
        "net": [
            {
                "nic": "eth0",
                "rx_bytes_total": 123456789012,
                "tx_bytes_total": 12345678901,
                "rx_errors_total": 0,
                "tx_errors_total": 0,
            }
        ],
        "load1": 0.4,
        "sessions": 0 if server else 1,
    }
    if printer is not None:
        body["snmp"] = [printer_reading(printer, ts, 123456, 1000)]
    return json.dumps(body, separators=(",", ":"))


def printer_reading(printer: Printer, ts: float, pages: int, uptime: float) -> dict[str, Any]:
    color = pages * printer.color_percent // 100
    return {
        "device": printer.device_id,
        "kind": "printer",
        "ok": True,
        "ts": ts,
        "address": "10.20.30.40",
        "sys": {"descr": "Kyocera ECOSYS", "name": printer.device_id, "uptime_s": uptime},
        "printer": {
            "pages_total": pages,
            "pages_mono": pages - color,
            "pages_color": color,
            "pages_source": "printer-mib",
            "model": "ECOSYS M5526cdw",
            "device_status": "running",
            "printer_status": "idle",
            "supplies": [{"index": "1", "description": "Toner black", "type": "toner", "percent": 64.0}],
        },
    }


class MonthBuilder:
    """Writes months of ledger state for a fleet, as ingest would have left them."""

    def __init__(self, conn: sqlite3.Connection, fleet: list[TenantFleet], *, seed: int = 11, noise: bool = True):
        self.conn = conn
        self.fleet = fleet
        self.rng = random.Random(seed)
        self.noise = noise
        self.seqs: dict[str, SeqState] = {h.agent_id: SeqState() for t in fleet for h in t.hosts}
        self.rows: collections.Counter[str] = collections.Counter()
        self.last_month: Period | None = None

    def insert(self, table: str, rows: list[tuple[object, ...]], *, verb: str = "INSERT") -> None:
        if rows:
            marks = ", ".join("?" * len(rows[0]))
            self.conn.executemany(f"{verb} INTO {table} VALUES ({marks})", rows)
            if verb == "INSERT":
                self.rows[table] += len(rows)
            else:
                self.rows[table] = len(rows)

    def tenants(self) -> None:
        now = time.time()
        self.insert("tenants", [(t.name, now - 400 * 86400) for t in self.fleet])

    def month(self, period: Period, *, late_for: Period | None = None) -> None:
        """One period: ledger, ledger_subject, workplace_days, coverage, gaps, device_coverage (and adjustments)."""
        hours = month_hours(period)
        days = sorted({h.day for h in hours if h.weekday < 5})
        business_load = sum(TC_LOAD.get(h, 1) for h in BUSINESS_HOURS)
        p = str(period)
        self.conn.execute("BEGIN")
        for t in self.fleet:
            tcs = [h for h in t.hosts if h.role == "thin-client" and not h.spare]
            servers = [h for h in t.hosts if h.role != "thin-client"]
            active: dict[str, list[Host]] = {}
            for day in days:
                active[day] = [h for h in tcs if not self.noise or self.rng.random() >= 0.10]
            per_day = {
                day: (
                    len(hs),
                    sum(h.mem_kib for h in hs),
                    sum(h.disk_kib for h in hs),
                    sum(h.cpu_us for h in hs),
                    sum(h.net_bytes for h in hs),
                )
                for day, hs in active.items()
            }
            srv = (
                len(servers),
                sum(h.mem_kib for h in servers),
                sum(h.disk_kib for h in servers),
                sum(h.cpu_us for h in servers),
                sum(h.net_bytes for h in servers),
            )
            ledger_rows: list[tuple[object, ...]] = []
            pages: dict[str, list[int]] = {pr.device_id: [0, 0] for pr in t.printers}
            for hour in hours:
                n_srv, mem, disk, cpu, net = srv
                load = server_load(hour)
                cpu, net = cpu * load, net * load
                roles = {"server": n_srv} if n_srv else {}
                if hour.business and hour.day in per_day and per_day[hour.day][0]:
                    n_tc, m, d, c, nb = per_day[hour.day]
                    roles["thin-client"] = n_tc
                    mem, disk = mem + m, disk + d
                    cpu, net = cpu + c * tc_load(hour), net + nb * tc_load(hour)
                for role, n in sorted(roles.items()):
                    ledger_rows.append((t.name, hour.ts, "host_hours", role, n * 3_600_000))
                if roles:
                    ledger_rows += [
                        (t.name, hour.ts, "cpu_core_seconds", "", cpu * 3600),
                        (t.name, hour.ts, "memory_gib_hours", "", mem * 3600),
                        (t.name, hour.ts, "network_gib", "", net * 3600),
                        (t.name, hour.ts, "storage_gib_hours", "", disk * 3600),
                    ]
                if hour.business and t.printers:
                    total = color = 0
                    for pr in t.printers:
                        n_pages = pr.pages_per_hour * tc_load(hour)
                        n_color = n_pages * pr.color_percent // 100
                        pages[pr.device_id][0] += n_pages
                        pages[pr.device_id][1] += n_color
                        total, color = total + n_pages, color + n_color
                    ledger_rows += [
                        (t.name, hour.ts, "printed_pages", "", total),
                        (t.name, hour.ts, "printed_pages_color", "", color),
                        (t.name, hour.ts, "printed_pages_mono", "", total - color),
                    ]
            self.insert("ledger", [r for r in ledger_rows if r[4]])

            subject_rows: list[tuple[object, ...]] = []
            wp_rows: list[tuple[object, ...]] = []
            days_of: dict[str, list[str]] = collections.defaultdict(list)
            for day, hs in active.items():
                for h in hs:
                    days_of[h.agent_id].append(day)
            server_hours = len(hours)
            server_loadsum = sum(server_load(h) for h in hours)
            for h in t.hosts:
                if h.role == "thin-client":
                    n_days = len(days_of.get(h.agent_id, ()))
                    if not n_days:
                        continue
                    n_hours, loadsum = n_days * len(BUSINESS_HOURS), n_days * business_load
                    wp_rows += [(h.agent_id, day, t.name, p, 0) for day in days_of[h.agent_id]]
                    last_day = max(days_of[h.agent_id])
                    last_ts = next(x.ts for x in reversed(hours) if x.day == last_day and x.business) + 3600.0
                else:
                    n_hours, loadsum = server_hours, server_loadsum
                    last_ts = float(hours[-1].ts + 3600)
                subject_rows += [
                    (t.name, p, "host", h.agent_id, "cpu_core_seconds", "", h.cpu_us * 3600 * loadsum),
                    (t.name, p, "host", h.agent_id, "host_hours", h.role, n_hours * 3_600_000),
                    (t.name, p, "host", h.agent_id, "memory_gib_hours", "", h.mem_kib * 3600 * n_hours),
                    (t.name, p, "host", h.agent_id, "network_gib", "", h.net_bytes * 3600 * loadsum),
                    (t.name, p, "host", h.agent_id, "storage_gib_hours", "", h.disk_kib * 3600 * n_hours),
                ]
                self.coverage(t.name, p, h, n_hours * 3600 // INTERVAL_S, last_ts)
            for pr in t.printers:
                total, color = pages[pr.device_id]
                subject_rows += [
                    (t.name, p, "device", pr.device_id, meter, "", value)
                    for meter, value in (
                        ("printed_pages", total),
                        ("printed_pages_color", color),
                        ("printed_pages_mono", total - color),
                    )
                    if value
                ]
                polls = len(hours) * 3600 // INTERVAL_S
                failed = self.rng.randint(0, 200) if self.noise else 0
                self.insert("device_coverage", [(t.name, p, pr.device_id, polls, polls - failed)])
            self.insert("ledger_subject", [r for r in subject_rows if r[6]])
            self.insert("workplace_days", wp_rows)
            if late_for is not None and self.noise:
                self.adjustments(t, period, late_for)
        self.conn.execute("COMMIT")
        self.last_month = period

    def coverage(self, tenant: str, period: str, host: Host, seqs: int, last_ts: float) -> None:
        """Coverage rows (and gaps) for `seqs` reports the host sent in the period."""
        state = self.seqs[host.agent_id]
        epochs = [seqs]
        if self.noise and self.rng.random() < 0.005 and seqs > 100:
            epochs = [seqs // 2, seqs - seqs // 2]  # re-enrolled mid-month: a new epoch, seq from 1
        for index, count in enumerate(epochs):
            if index:
                state.epoch, state.next_seq, state.gap_count = state.epoch + 1, 1, 0
            lo, hi = state.next_seq, state.next_seq + count - 1
            missing = 0
            if self.noise and self.rng.random() < 0.03 and count > 100:
                gap_rows = []
                for _ in range(self.rng.randint(1, 2)):
                    start = self.rng.randint(lo + 1, hi - 40)
                    end = start + self.rng.randint(0, 30)
                    if gap_rows and start <= int(gap_rows[-1][3]) + 1:
                        continue
                    gap_rows.append((host.agent_id, state.epoch, start, end, last_ts))
                    missing += end - start + 1
                self.insert("gaps", gap_rows)
                state.gap_count += len(gap_rows)
            self.insert(
                "coverage",
                [(tenant, period, f"h:{host.agent_id}", state.epoch, host.role, count - missing, lo, hi)],
            )
            state.next_seq = hi + 1
            state.reports += count - missing
        state.last_ts = last_ts

    def adjustments(self, t: TenantFleet, period: Period, late_for: Period) -> None:
        """Late reports of two thin clients for the closed previous month, booked into `period`."""
        booked_at = period.start_ts + 2 * 86400 + 9 * 3600
        booked_on = dt.datetime.fromtimestamp(booked_at, BERLIN).date().isoformat()
        rows: list[tuple[object, ...]] = []
        for h in [h for h in t.hosts if h.role == "thin-client" and not h.spare][:2]:
            for _ in range(5):  # one row per late report, meter and hour, as Booker._adjust writes them
                for meter, dim, value in (
                    ("cpu_core_seconds", "", h.cpu_us * INTERVAL_S),
                    ("host_hours", h.role, INTERVAL_S * 1000),
                    ("memory_gib_hours", "", h.mem_kib * INTERVAL_S),
                    ("network_gib", "", h.net_bytes * INTERVAL_S),
                    ("storage_gib_hours", "", h.disk_kib * INTERVAL_S),
                ):
                    late = (t.name, str(period), str(late_for), meter, dim, "host", h.agent_id, value)
                    rows.append((None, *late, booked_on, booked_at))
        self.insert("adjustments", rows)

    def hosts_and_devices(self) -> None:
        """hosts rows (the current state of each agent) and the printers' devices rows; again after
        each month, so the state is the latest."""
        enrolled = time.time() - 400 * 86400
        host_rows: list[tuple[object, ...]] = []
        device_rows: list[tuple[object, ...]] = []
        for t in self.fleet:
            polled = {pr.poller: pr for pr in t.printers}
            for h in t.hosts:
                s = self.seqs[h.agent_id]
                last_seq = s.next_seq - 1
                latest = host_json(h, last_seq, s.last_ts, polled.get(h.agent_id)) if s.last_ts else None
                host_rows.append(
                    (
                        h.agent_id,
                        t.name,
                        h.hostname,
                        h.role,
                        h.site,
                        "Linux 6.1.0-28-amd64",
                        "0.1.0",
                        enrolled,
                        enrolled,
                        0,
                        s.epoch,
                        last_seq,
                        s.last_ts,
                        s.last_ts,
                        s.last_ts,
                        float(INTERVAL_S) if s.last_ts else None,
                        s.reports,
                        0,
                        s.gap_count,
                        latest,
                        "[]",  # unknown_fields
                        0,  # unknown_fields_total
                        0,  # dead_letters
                    )
                )
            for pr in t.printers:
                last = self.seqs[pr.poller].last_ts or time.time()
                reading = json.dumps(printer_reading(pr, last, 123456, 1000), separators=(",", ":"))
                seen = (enrolled, last, last, last)
                device_rows.append(
                    (t.name, pr.device_id, pr.poller, "printer", "10.20.30.40", *seen, 1, "", 500_000, 120, reading)
                )
        self.insert("hosts", host_rows, verb="INSERT OR REPLACE")
        self.insert("devices", device_rows, verb="INSERT OR REPLACE")


# --- shape check: generator against real ingest ------------------------------------------


def real_ingest_shape(path: Path, period: Period) -> None:
    """A thin client and a server polling a printer, 90 minutes of real reports through store.ingest."""
    conn = connect(path)
    migrate(conn)
    admin.add_tenant(conn, "shape-check", actor="bench")
    first_day = next(h for h in month_hours(period) if h.weekday < 5 and h.local_hour == 9)
    start = first_day.ts + 50 * 60  # 09:50 local: crosses an hour boundary
    enroller = admin.authenticate(
        conn, "Bearer " + admin.create_token(conn, "enroll", actor="bench", tenant="shape-check")[1]
    )
    rng = random.Random(3)
    for role, agent_id in (("thin-client", "shape-tc"), ("server", "shape-srv")):
        enroll(conn, enroller, agent_id, f"{agent_id}.example")
        agent = Agent(agent_id, "shape-check", role)
        state = dict.fromkeys(("busy", "read", "write", "rx", "tx"), 1000.0)
        principal = Principal(token_id=agent_id, role="agent", tenant="shape-check", agent_id=agent_id)
        for first in range(1, 91, 10):
            reports = []
            for seq in range(first, first + 10):
                ts = start + seq * INTERVAL_S
                report = wire_report(seq, ts, agent, rng, state)
                if role == "server":
                    pr = Printer("shape-prn", agent_id, 60, 20)
                    report["snmp"] = [printer_reading(pr, ts, 1000 + seq * 3, 5000.0 + seq * INTERVAL_S)]
                reports.append(report)
            info = {"id": agent_id, "hostname": f"{agent_id}.example", "role": role, "boot_time": start - 86400}
            batch = decode_batch(msgspec.json.encode({"agent": info, "reports": reports}))
            conn.execute("BEGIN IMMEDIATE")
            store.ingest(conn, principal, batch, time.time())
            conn.execute("COMMIT")
    conn.close()


def shape_of(conn: sqlite3.Connection, period: Period) -> dict[str, object]:
    p = str(period)
    q: dict[str, str] = {
        "ledger": "SELECT DISTINCT meter, dim FROM ledger",
        "ledger_subject": "SELECT DISTINCT period, kind, meter, dim FROM ledger_subject",
        "workplace_days": "SELECT DISTINCT period, late, typeof(day), length(day) FROM workplace_days",
        "coverage": "SELECT DISTINCT period, substr(stream, 1, 2), epoch, role FROM coverage",
        "device_coverage": "SELECT DISTINCT period, typeof(polls), typeof(ok) FROM device_coverage",
        "hosts": "SELECT DISTINCT role, typeof(latest), typeof(last_ts), epoch FROM hosts",
        "devices": "SELECT DISTINCT kind, typeof(latest) FROM devices",
        "ledger.hour % 3600": "SELECT DISTINCT hour % 3600, typeof(hour), typeof(scaled) FROM ledger",
    }
    shape: dict[str, object] = {k: sorted(conn.execute(sql).fetchall()) for k, sql in q.items()}
    tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    shape["tables with rows"] = [t for t in tables if conn.execute(f"SELECT 1 FROM {t} LIMIT 1").fetchone()]
    shape["subject ids"] = sorted(
        conn.execute("SELECT DISTINCT kind, subject IN (SELECT agent_id FROM hosts) FROM ledger_subject").fetchall()
    )
    shape["ledger = sum of subjects"] = ledger_matches_subjects(conn, period)
    shape["workplace_days of thin clients"] = conn.execute(
        "SELECT count(*) = count(h.agent_id) FROM workplace_days w LEFT JOIN hosts h "
        "ON h.agent_id = w.agent_id AND h.role = 'thin-client' WHERE w.period = ?",
        (p,),
    ).fetchone()[0]
    return shape


def ledger_matches_subjects(conn: sqlite3.Connection, period: Period) -> bool:
    by_hour = dict(
        conn.execute(
            "SELECT tenant || '/' || meter || '/' || dim, sum(scaled) FROM ledger WHERE hour >= ? AND hour < ? "
            "GROUP BY tenant, meter, dim",
            (int(period.start_ts), int(period.end_ts)),
        ).fetchall()
    )
    by_subject = dict(
        conn.execute(
            "SELECT tenant || '/' || meter || '/' || dim, sum(scaled) FROM ledger_subject WHERE period = ? "
            "GROUP BY tenant, meter, dim",
            (str(period),),
        ).fetchall()
    )
    return bool(by_hour) and by_hour == by_subject


#: tables the real ingest fills that the generator leaves out (raw data and credentials)
NOT_BUILT = ("audit", "device_readings", "meter_points", "samples", "tokens")


def check_shape(workdir: Path, period: Period) -> str:
    real_path, synthetic_path = workdir / "shape-real.db", workdir / "shape-synthetic.db"
    real_ingest_shape(real_path, period)
    conn = connect(synthetic_path)
    migrate(conn)
    tc = Host("shape-tc", "shape-tc.example", "thin-client", "rathaus", 2 * KIB_PER_GIB, 12 * KIB_PER_GIB, 10**5, 10**5)
    srv = Host("shape-srv", "shape-srv.example", "server", "rathaus", 12 * KIB_PER_GIB, 200 * KIB_PER_GIB, 10**6, 10**6)
    fleet = [TenantFleet("shape-check", [tc, srv], [Printer("shape-prn", "shape-srv", 60, 20)])]
    builder = MonthBuilder(conn, fleet, noise=False)
    builder.tenants()
    builder.month(period)
    builder.hosts_and_devices()
    synthetic = shape_of(conn, period)
    conn.close()
    conn = connect(real_path)
    real = shape_of(conn, period)
    conn.close()
    real["tables with rows"] = [t for t in real["tables with rows"] if t not in NOT_BUILT]  # type: ignore[attr-defined]
    differences = [
        f"{key}: ingest {real[key]} vs generated {synthetic.get(key)}"
        for key in real
        if real[key] != synthetic.get(key)
    ]
    if differences:
        raise BenchError("the generated month is not shaped like ingest leaves it:\n  " + "\n  ".join(differences))
    tables = ", ".join(str(t) for t in real["tables with rows"])  # type: ignore[attr-defined]
    return f"OK (same tables with rows: {tables}; same keys, hour alignment, ledger = Σ subjects)"


# --- part 2: timing ------------------------------------------------------------------------


@dataclass
class Timings:
    usage: float = float("inf")
    price: float = float("inf")
    json: float = float("inf")
    csv: float = float("inf")
    focus: float = float("inf")
    subjects: int = 0
    focus_rows: int = 0
    focus_bytes: int = 0
    json_bytes: int = 0
    csv_bytes: int = 0

    @property
    def total(self) -> float:
        return self.usage + self.price + self.json + self.csv + self.focus


def time_tenant(conn: sqlite3.Connection, tenant: str, period: Period, book: TariffBook, into: Timings) -> bytes:
    t0 = time.perf_counter()
    usage = ledger.period_usage(conn, tenant, period)
    t1 = time.perf_counter()
    invoice = pricing.price(usage, book)
    t2 = time.perf_counter()
    as_json = export.render_json(usage, invoice)
    t3 = time.perf_counter()
    as_csv = export.render_csv(usage, invoice)
    t4 = time.perf_counter()
    focus = export.render_focus(usage, invoice)
    t5 = time.perf_counter()
    for name, seconds in (
        ("usage", t1 - t0),
        ("price", t2 - t1),
        ("json", t3 - t2),
        ("csv", t4 - t3),
        ("focus", t5 - t4),
    ):
        setattr(into, name, min(getattr(into, name), seconds))
    into.subjects = len(usage.subjects)
    into.focus_rows = focus.count(b"\n") - 1
    into.focus_bytes, into.json_bytes, into.csv_bytes = len(focus), len(as_json), len(as_csv)
    return focus


def time_all(conn: sqlite3.Connection, tenants: list[str], period: Period, book: TariffBook, repeats: int) -> Timings:
    """A full pass over every tenant, best of `repeats` per step (summed over the tenants)."""
    best = Timings()
    for _ in range(repeats):
        run = Timings(usage=0, price=0, json=0, csv=0, focus=0)
        for tenant in tenants:
            one = Timings()
            time_tenant(conn, tenant, period, book, one)
            for name in ("usage", "price", "json", "csv", "focus"):
                setattr(run, name, getattr(run, name) + getattr(one, name))
            for name in ("subjects", "focus_rows", "focus_bytes", "json_bytes", "csv_bytes"):
                setattr(run, name, getattr(run, name) + getattr(one, name))
        if run.total < best.total:
            best = run
    return best


def tables_read(conn: sqlite3.Connection, tenants: list[str], period: Period, book: TariffBook) -> list[str]:
    """Every table the export path reads, recorded with sqlite3's authorizer."""
    seen: set[str] = set()

    def authorize(action: int, arg1: str | None, arg2: str | None, db: str | None, source: str | None) -> int:
        if action == sqlite3.SQLITE_READ and arg1:
            seen.add(arg1)
        return sqlite3.SQLITE_OK

    conn.set_authorizer(authorize)
    try:
        for tenant in tenants:
            usage = ledger.period_usage(conn, tenant, period)
            export.render_focus(usage, pricing.price(usage, book))
    finally:
        conn.set_authorizer(None)
    return sorted(seen)


@dataclass
class CliRun:
    what: str
    wall_s: float
    rss_mb: float
    files: int = 0
    out_bytes: int = 0
    sha: str = ""
    goal: bool = False

    def verdict(self, goal_s: float, goal_rss_mb: float) -> str:
        """The goal column: "—" for a run without a goal, else the goal and whether it was met."""
        if not self.goal:
            return "—"
        met = self.wall_s < goal_s and self.rss_mb < goal_rss_mb
        return f"< {goal_s:.0f} s, < {goal_rss_mb:.0f} MB: {'met' if met else 'MISSED'}"


#: Runs a command as its own child and reports that child's wall time, exit code and ru_maxrss.
#: The launcher is small on purpose: Linux starts a forked child's ru_maxrss at its parent's peak
#: RSS, so a child forked by this benchmark (hundreds of MB) would report the benchmark's peak.
LAUNCHER = """\
import os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
with open(sys.argv[1], "w") as f:
    f.write(f"{wall} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
"""


def run_cli(what: str, argv: list[str], env: dict[str, str], log: Path, out: Path | None = None) -> CliRun:
    """Wall time and peak RSS (ru_maxrss of exactly the CLI process, see LAUNCHER) of one CLI run."""
    measured = log.with_suffix(".rusage")
    with log.open("wb") as sink:
        subprocess.run(
            [sys.executable, "-I", "-S", "-c", LAUNCHER, str(measured), *argv],
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            check=False,
            timeout=600,
        )
    try:
        wall, maxrss_kib, code = measured.read_text().split()
    except (OSError, ValueError):
        raise BenchError(f"{what}: the launcher reported nothing:\n{log.read_text(errors='replace')}") from None
    if int(code) != 0:
        raise BenchError(f"{' '.join(argv[1:4])} … exited with {code}:\n{log.read_text(errors='replace')}")
    run = CliRun(what, float(wall), int(maxrss_kib) * 1024 / 1e6)
    if out is not None:
        files = sorted(p for p in out.iterdir() if not p.name.endswith(".sha256"))
        digest = hashlib.sha256()
        for p in files:
            data = p.read_bytes()
            run.out_bytes += len(data)
            digest.update(data)
        run.files, run.sha = len(files), digest.hexdigest()
    return run


@dataclass
class ExportResult:
    period: Period
    fleet: list[TenantFleet]
    shape: str
    build_s: float
    rows: dict[str, int]
    db_mb: float
    per_tenant: dict[str, Timings]
    all_open: Timings
    all_closed: Timings
    close_s: float
    read_tables: list[str]
    cli: list[CliRun]
    repeats: int


def export_month(args: argparse.Namespace, workdir: Path) -> ExportResult:
    period = Period.parse(args.period) if args.period else Period.containing(time.time()).previous()
    print(f"export: checking the generator against real ingest ({period}) …", flush=True)
    shape = check_shape(workdir, period)
    print(f"  shape: {shape}", flush=True)

    fleet = make_fleet(args.thin_clients, args.servers, args.printers, args.tenants)
    tenants = [t.name for t in fleet]
    db = workdir / "month.db"
    print(
        f"export: building {period} for {args.thin_clients:,} thin clients, {args.servers} servers, "
        f"{args.printers} printers in {args.tenants} tenants (+ {args.history_months} closed earlier months) …",
        flush=True,
    )
    start = time.perf_counter()
    conn = connect(db)
    migrate(conn)
    builder = MonthBuilder(conn, fleet)
    builder.tenants()
    months = [period]
    for _ in range(args.history_months):
        months.insert(0, months[0].previous())
    for month in months[:-1]:
        builder.month(month)
    builder.hosts_and_devices()
    for month in months[:-1]:
        ledger.close_period(conn, month, actor="bench", now=time.time())
    builder.month(period, late_for=period.previous() if args.history_months else None)
    builder.hosts_and_devices()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    build_s = time.perf_counter() - start
    if not ledger_matches_subjects(conn, period):
        raise BenchError("generated ledger hours and ledger_subject disagree")
    rows = {t: builder.rows[t] for t in sorted(builder.rows)}
    rows["ledger (this month)"] = conn.execute(
        "SELECT count(*) FROM ledger WHERE hour >= ? AND hour < ?", (int(period.start_ts), int(period.end_ts))
    ).fetchone()[0]
    db_mb = (db.stat().st_size + sum(p.stat().st_size for p in workdir.glob("month.db-*"))) / 1e6

    (workdir / "tariffs.toml").write_text(TARIFFS.replace("{vat_tenant}", tenants[min(1, len(tenants) - 1)]))
    book = parse_tariffs((workdir / "tariffs.toml").read_text(), source="tariffs.toml")

    print(f"export: timing period_usage, price and the three renderers, best of {args.repeats} …", flush=True)
    per_tenant: dict[str, Timings] = {}
    for tenant in tenants:
        per_tenant[tenant] = Timings()
        for _ in range(args.repeats):
            time_tenant(conn, tenant, period, book, per_tenant[tenant])
    all_open = time_all(conn, tenants, period, book, args.repeats)
    read = tables_read(conn, tenants, period, book)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for tenant in tenants:
            usage = ledger.period_usage(conn, tenant, period)
            invoice = pricing.price(usage, book)
            export.render_json(usage, invoice)
            export.render_csv(usage, invoice)
            export.render_focus(usage, invoice)
        profiler.disable()
        show_profile(profiler, args.profile / "export-open.prof", "export of the open month, all tenants (cProfile)")
    conn.close()

    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "XDG_CONFIG_HOME": str(workdir / "xdg"),
        "XDG_DATA_HOME": str(workdir / "xdg"),
    }
    config = workdir / "collector.toml"
    config.write_text(f'[metering]\ntariffs = "{workdir / "tariffs.toml"}"\n')
    exe = str(VENV_BIN / "leitstand-collector")

    def export_cli(what: str, fmt_: str, tag: str) -> CliRun:
        out = workdir / f"out-{tag}"
        argv = [exe, "meter", "export", "--all", "--period", str(period), "--format", fmt_, "--out", str(out)]
        run = run_cli(what, [*argv, "--db", str(db), "--config", str(config)], env, workdir / f"cli-{tag}.log", out)
        if run.files != len(tenants):
            raise BenchError(f"{what}: {run.files} files for {len(tenants)} tenants")
        run.goal = True
        return run

    print("export: the CLI as a subprocess …", flush=True)
    cli = [run_cli("`leitstand-collector --help` (start-up only)", [exe, "--help"], env, workdir / "cli-help.log")]
    cli.append(export_cli("`meter export --all --format focus`, open month", "focus", "focus-open"))
    cli.append(export_cli("`meter export --all --format csv`, open month", "csv", "csv-open"))
    cli.append(export_cli("`meter export --all --format json`, open month", "json", "json-open"))

    conn = connect(db)
    start = time.perf_counter()
    closed = ledger.close_period(conn, period, actor="bench", now=time.time())
    close_s = time.perf_counter() - start
    if len(closed) != len(tenants):
        raise BenchError(f"close_period closed {closed}")
    all_closed = time_all(conn, tenants, period, book, args.repeats)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    cli.append(export_cli("`meter export --all --format focus`, closed month, first export (stored)", "focus", "f1"))
    cli.append(export_cli("`meter export --all --format focus`, closed month, re-export (verified)", "focus", "f2"))
    if not cli[1].sha == cli[-2].sha == cli[-1].sha:
        raise BenchError("the FOCUS export of the open month, its first closed export and its re-export differ")
    return ExportResult(
        period=period,
        fleet=fleet,
        shape=shape,
        build_s=build_s,
        rows=rows,
        db_mb=db_mb,
        per_tenant=per_tenant,
        all_open=all_open,
        all_closed=all_closed,
        close_s=close_s,
        read_tables=read,
        cli=cli,
        repeats=args.repeats,
    )


# --- output --------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return fmt(seconds * 1000, 1)


def report_ingest(r: IngestResult) -> None:
    rows = []
    for c in r.configs:
        how = f"{c.in_flight:,} jobs in flight" if c.in_flight > 1 else "1 job in flight (a commit per job)"
        for label, run in (("with metering (as shipped)", c.metered), ("without (Booker → no-op)", c.unmetered)):
            rows.append(
                [
                    how,
                    label,
                    fmt(c.reports),
                    fmt(run.rate, 0),
                    fmt(1e6 / run.rate, 0),
                    fmt(run.commits),
                    fmt(run.db_bytes / c.reports, 0),
                    f"{c.unmetered.rate / c.metered.rate:.2f}× slower" if run is c.metered else "1.00×",
                ]
            )
    print_table(
        ["writer load", "metering", "reports", "reports/s", "µs per report", "commits", "DB bytes/report", "ratio"],
        rows,
        title=(
            f"Ingest through store.ingest + Writer, in process, 1 core: {r.agents} agents in {r.tenants} tenants, "
            f"jobs of {r.job_size} reports, 60 s apart, synchronous=full; best of {r.repeats} each"
        ),
    )
    print()
    for c in r.configs:
        cost_us = 1e6 / c.metered.rate - 1e6 / c.unmetered.rate
        print(f"  {c.in_flight} in flight: metering costs {cost_us:,.0f} µs per report")
    on = r.configs[0].metered.rows
    print(
        f"  rows metering added in the first configuration: {on['meter_points']:,} meter_points, "
        f"{on['ledger']:,} ledger, {on['ledger_subject']:,} ledger_subject, {on['coverage']:,} coverage, "
        f"{on['workplace_days']:,} workplace_days"
    )
    keys = sorted(set(r.statements_on) | set(r.statements_off), key=lambda k: (-r.statements_on[k], k))
    print_table(
        ["SQL statement", "per report, with", "per report, without"],
        [
            [f"`{k}`", f"{r.statements_on[k] / r.trace_reports:.2f}", f"{r.statements_off[k] / r.trace_reports:.2f}"]
            for k in keys
        ]
        + [
            [
                "**all**",
                f"{sum(r.statements_on.values()) / r.trace_reports:.2f}",
                f"{sum(r.statements_off.values()) / r.trace_reports:.2f}",
            ]
        ],
        title=(
            f"SQL statements executed per report (sqlite3 trace callback, {r.trace_reports:,} reports, untimed; "
            "each row of an executemany counts)"
        ),
    )


def report_export(r: ExportResult) -> None:
    tc = sum(t.count("thin-client") for t in r.fleet)
    srv = sum(t.count("server") for t in r.fleet)
    prn = sum(len(t.printers) for t in r.fleet)
    print(f"\nshape check against real ingest: {r.shape}")
    print(f"export reads only: {', '.join(r.read_tables)}")
    print_table(
        ["table", "rows"],
        [[name, fmt(n)] for name, n in r.rows.items()] + [["database file", f"{r.db_mb:,.1f} MB"]],
        title=(
            f"Generated ledger state: {r.period} plus the months before it, {tc:,} thin clients, {srv} servers, "
            f"{prn} printers, {len(r.fleet)} tenants (built in {r.build_s:.1f} s)"
        ),
    )
    header = [
        "tenant",
        "TC / srv / prn",
        "detail rows",
        "period_usage ms",
        "price ms",
        "JSON ms",
        "CSV ms",
        "FOCUS ms",
        "sum ms",
        "FOCUS rows",
        "FOCUS kB",
    ]
    rows = []
    for t in r.fleet:
        x = r.per_tenant[t.name]
        rows.append(
            [
                t.name,
                f"{t.count('thin-client')} / {t.count('server')} / {len(t.printers)}",
                fmt(x.subjects),
                ms(x.usage),
                ms(x.price),
                ms(x.json),
                ms(x.csv),
                ms(x.focus),
                ms(x.total),
                fmt(x.focus_rows),
                fmt(x.focus_bytes / 1e3, 0),
            ]
        )
    for label, x in (("**all, open month (live ledger)**", r.all_open), ("**all, closed (snapshot)**", r.all_closed)):
        rows.append(
            [
                label,
                f"{tc} / {srv} / {prn}",
                fmt(x.subjects),
                ms(x.usage),
                ms(x.price),
                ms(x.json),
                ms(x.csv),
                ms(x.focus),
                ms(x.total),
                fmt(x.focus_rows),
                fmt(x.focus_bytes / 1e3, 0),
            ]
        )
    print_table(header, rows, title=f"Export of {r.period} in process, best of {r.repeats}")
    goal_rows = []
    for run in r.cli:
        goal_rows.append(
            [
                run.what,
                f"{run.wall_s:.2f}",
                fmt(run.rss_mb, 0),
                fmt(run.files) if run.files else "—",
                fmt(run.out_bytes / 1e6, 1) if run.files else "—",
                run.verdict(GOAL_EXPORT_S, GOAL_EXPORT_RSS_MB),
            ]
        )
    goal_rows.insert(4, ["`ledger.close_period`, all tenants (in process)", f"{r.close_s:.2f}", "—", "—", "—", "—"])
    print_table(
        ["whole month, all tenants", "wall s", "peak RSS MB", "files", "output MB", "goal"],
        goal_rows,
        title=f"Whole-month export of {r.period} through the CLI (subprocess, including Python start-up)",
    )
    print()
    print("  the FOCUS files of the open month, the first closed export and the re-export are byte-identical")
    print(
        "  peak RSS: ru_maxrss of the CLI process itself, forked by a small launcher (a child forked by the "
        "benchmark would inherit the benchmark's own peak in ru_maxrss)"
    )


# --- main ------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench/metering.py",
        description=(
            "Metering cost: ingest reports/s with and without metering (store.ingest + Writer, in process), and "
            "the export of a whole month for a provider with 2,200 thin clients, 154 servers and 40 printers."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="smoke run of about 15 s (fewer reports, one repeat)")
    parser.add_argument("--reports", type=int, default=50_000, help="reports per ingest run (0: skip the ingest part)")
    parser.add_argument("--agents", type=int, default=100, help="simulated agents in the ingest part")
    parser.add_argument("--job-size", type=int, default=10, help="reports per agent batch (one writer job)")
    parser.add_argument("--tenants", type=int, default=10, help="tenants the hosts are spread over")
    parser.add_argument("--thin-clients", type=int, default=2200, help="cloud workplaces of the provider")
    parser.add_argument("--servers", type=int, default=154, help="servers of the provider")
    parser.add_argument("--printers", type=int, default=40, help="SNMP printers of the provider")
    parser.add_argument("--period", help="month to export, YYYY-MM (default: the previous month)")
    parser.add_argument("--history-months", type=int, default=2, help="closed months built before it")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each timing; the best counts")
    parser.add_argument("--no-export", action="store_true", help="skip the export part")
    parser.add_argument(
        "--profile", type=Path, metavar="DIR", help="cProfile the metered ingest and the export; print and keep in DIR"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp directory (databases, exports, logs)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.quick:
        args.reports = min(args.reports, 6_000)
        args.repeats = 1
        args.history_months = min(args.history_months, 1)
    if args.tenants < 1 or args.agents < 1 or args.job_size < 1 or args.thin_clients < 0 or args.servers < 1:
        print("bench/metering.py: --tenants, --agents, --job-size and --servers must be at least 1", file=sys.stderr)
        return 2
    print(f"machine: {machine_notes()}", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="leitstand-bench-metering-"))
    try:
        ingest = ingest_overhead(args, workdir) if args.reports > 0 else None
        month = None if args.no_export else export_month(args, workdir)
        if ingest is not None:
            report_ingest(ingest)
        if month is not None:
            report_export(month)
    except BenchError as exc:
        print(f"bench/metering.py: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
