"""Ingest throughput and latency of the collector through its real HTTP server, on one core.

Starts `leitstand-collector serve` pinned to core 0, enrolls simulated agents,
and drives them with wrk (pinned to core 1) posting real wire-format batches of
1 and of 10 reports. Next to it, for scale, two references under the same
uvicorn (httptools/uvloop) with the same load: a trivial Starlette JSON POST
endpoint (the framework's ceiling), and a durable one that stores each report
once in SQLite (WAL, synchronous=FULL, group commit; the storage floor: what
any collector that acknowledges only stored reports must at least do). With
--rounds N each batch size runs N times, collector then references, and the
shares are printed as medians over rounds. Then it verifies through the API
that every acknowledged report was stored exactly once, and times the SQLite
write path (collector.store.ingest through the single writer) against a bare executemany of the same rows.

    .venv/bin/python bench/ingest.py            # a few minutes
    .venv/bin/python bench/ingest.py --quick    # about 30 s smoke run
    .venv/bin/python bench/ingest.py --rounds 3 --duration 8 --write-rows 0   # shares as medians
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from _common import (
    REPO,
    VENV_BIN,
    BenchError,
    ManagedProcess,
    TreeSampler,
    finish_profiler,
    fmt,
    free_port,
    http_get,
    http_ok,
    machine_notes,
    missing_peer,
    peer_path,
    pinned,
    print_table,
    running,
    start_process,
    start_profiler,
    wait_ready,
)

if TYPE_CHECKING:
    from collector.db import Connection

GOAL_BATCH1 = 2000.0  # reports/s, batches of 1
GOAL_BATCH10 = 5000.0  # reports/s, batches of 10
#: reports/s as a share of the trivial endpoint's at the same batch size, same run (issue 18)
GOAL_RATIO = {1: 0.35, 10: 0.25}
GOAL_WRITE_RATIO = 3.0  # bare executemany rows/s over ours, at most

SERVER_CORE = 0
LOADGEN_CORE = 1

# One report in wire format v1, as the agent sends it (tests/collector/conftest.py report()).
# Placeholders: seq, ts, busy_seconds_total, read_bytes_total, write_bytes_total,
# rx_bytes_total, tx_bytes_total. printf syntax, shared by Python and Lua.
REPORT_FMT = (
    '{"seq":%d,"ts":%.3f,"interval_s":10,'
    '"cpu":{"count":4,"percent":12.5,"busy_seconds_total":%d},'
    '"memory":{"total_bytes":8589934592,"used_bytes":4294967296,"swap_total_bytes":0,"swap_used_bytes":0},'
    '"disks":[{"mount":"/","device":"sda1","total_bytes":107374182400,"used_bytes":42949672960,'
    '"read_bytes_total":%d,"write_bytes_total":%d}],'
    '"net":[{"nic":"eth0","rx_bytes_total":%d,"tx_bytes_total":%d,"rx_errors_total":0,"tx_errors_total":0}],'
    '"load1":0.5,"sessions":1}'
)
AGENT_FMT = (
    '{"agent":{"id":"%s","hostname":"%s","version":"0.1.0","role":"server","site":"rathaus",'
    '"os":"Linux 6.1","boot_time":1763800000.0},"reports":['
)
REPORTS_PATH = "/api/v1/reports"


def report_json(seq: int, ts: float) -> str:
    return REPORT_FMT % (seq, ts, 1000 + seq, 4096 * seq, 8192 * seq, 1000 * seq, 500 * seq)


def batch_json(agent_id: str, first_seq: int, size: int, ts: float) -> str:
    reports = ",".join(report_json(first_seq + i, ts) for i in range(size))
    return AGENT_FMT % (agent_id, agent_id) + reports + "]}"


# The wrk script: each thread takes every NTHREADS-th agent (disjoint sets), round-robins
# over them and increments each agent's seq; done() prints one JSON line for the bench.
WRK_LUA = r"""
local ffi = require("ffi")
ffi.cdef[[ typedef struct { long tv_sec; long tv_usec; } bench_timeval;
           int gettimeofday(bench_timeval *tv, void *tz); ]]
local tv = ffi.new("bench_timeval")
local function now()
  ffi.C.gettimeofday(tv, nil)
  return tonumber(tv.tv_sec) + tonumber(tv.tv_usec) / 1e6
end

local AGENTS_FILE = [==[@AGENTS_FILE@]==]
local NTHREADS = @NTHREADS@
local BATCH = @BATCH@
local PATH = [==[@PATH@]==]
local REPORT_FMT = [==[@REPORT_FMT@]==]
local AGENT_FMT = [==[@AGENT_FMT@]==]

local created = 0
local threads = {}

function setup(thread)
  thread:set("tid", created)
  created = created + 1
  table.insert(threads, thread)
end

function init(args)
  agents = {}
  local i = 0
  for line in io.lines(AGENTS_FILE) do
    local id, token, seq = line:match("^(%S+) (%S+) (%d+)$")
    if id and i % NTHREADS == tid then
      table.insert(agents, {
        seq = tonumber(seq),
        prefix = string.format(AGENT_FMT, id, id),
        headers = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"},
      })
    end
    i = i + 1
  end
  nxt = 1
  sent = 0
  ok = 0
  s429 = 0
  other = 0
  s5xx = 0
end

function request()
  local a = agents[nxt]
  nxt = nxt % #agents + 1
  local parts = {}
  local ts = now()
  for k = 1, BATCH do
    local s = a.seq + k
    parts[k] = string.format(REPORT_FMT, s, ts, 1000 + s, 4096 * s, 8192 * s, 1000 * s, 500 * s)
  end
  a.seq = a.seq + BATCH
  sent = sent + 1
  return wrk.format("POST", PATH, a.headers, a.prefix .. table.concat(parts, ",") .. "]}")
end

function response(status, headers, body)
  if status == 200 then
    ok = ok + 1
  elseif status == 429 then
    s429 = s429 + 1
  elseif status >= 500 then
    s5xx = s5xx + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local t_sent, t_ok, t_429, t_other, t_5xx = 0, 0, 0, 0, 0
  for _, t in ipairs(threads) do
    t_sent = t_sent + t:get("sent")
    t_ok = t_ok + t:get("ok")
    t_429 = t_429 + t:get("s429")
    t_other = t_other + t:get("other")
    t_5xx = t_5xx + t:get("s5xx")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"sent":%d,"ok":%d,"s429":%d,"other":%d,"s5xx":%d,' ..
    '"socket_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, t_sent, t_ok, t_429, t_other, t_5xx,
    e.connect + e.read + e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""

# The framework ceiling: the same uvicorn (httptools/uvloop) and Starlette, one JSON POST
# endpoint that parses the body and answers like the collector, no auth, no storage.
TRIVIAL_APP = """\
import json

from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


async def reports(request):
    batch = json.loads(await request.body())
    seq = max(r["seq"] for r in batch["reports"])
    return JSONResponse({"accepted_through_seq": seq, "stored": len(batch["reports"]), "duplicates": 0})


async def healthz(request):
    return Response("ok")


app = Starlette(routes=[Route("/api/v1/reports", reports, methods=["POST"]), Route("/healthz", healthz)])
"""


# The storage floor: the same uvicorn and Starlette, the body parsed as above, and
# each report stored durably once, the least a collector that acknowledges only
# what it stored must do: one row per report keyed by (agent, seq) so a resend is
# ignored, SQLite WAL with synchronous=FULL (the collector's default), one writer
# thread committing whatever queued meanwhile in one transaction (group commit),
# answers delivered to the event loop once per commit. No auth, no validation,
# no host rows, no metering.
DURABLE_APP = """\
import asyncio
import json
import os
import queue
import sqlite3
import threading

from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

DB = os.environ["BENCH_DURABLE_DB"]
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS samples (agent TEXT NOT NULL, seq INTEGER NOT NULL, ts REAL NOT NULL, "
    "data TEXT NOT NULL, PRIMARY KEY (agent, seq))"
)
jobs = queue.SimpleQueue()


def connect():
    conn = sqlite3.connect(DB, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(SCHEMA)
    return conn


def deliver(futures):
    for future in futures:
        if not future.done():
            future.set_result(None)


def writer():
    conn = connect()
    while True:
        items = [jobs.get()]
        while True:
            try:
                items.append(jobs.get_nowait())
            except queue.Empty:
                break
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT OR IGNORE INTO samples VALUES (?, ?, ?, ?)", [r for rows, _ in items for r in rows])
        conn.execute("COMMIT")
        loop = items[0][1].get_loop()
        loop.call_soon_threadsafe(deliver, [future for _, future in items])


threading.Thread(target=writer, daemon=True).start()
reader = connect()


async def reports(request):
    batch = json.loads(await request.body())
    agent = batch["agent"]["id"]
    rows = [(agent, r["seq"], r["ts"], json.dumps(r)) for r in batch["reports"]]
    future = asyncio.get_running_loop().create_future()
    jobs.put((rows, future))
    await future
    seq = max(r["seq"] for r in batch["reports"])
    return JSONResponse({"accepted_through_seq": seq, "stored": len(rows), "duplicates": 0})


async def last(request):
    return JSONResponse(dict(reader.execute("SELECT agent, max(seq) FROM samples GROUP BY agent").fetchall()))


async def healthz(request):
    return Response("ok")


app = Starlette(
    routes=[
        Route("/api/v1/reports", reports, methods=["POST"]),
        Route("/last", last),
        Route("/healthz", healthz),
    ]
)
"""

#: Row.kind of the two references
TRIVIAL = "trivial"
DURABLE = "durable"


@dataclass
class Agent:
    id: str
    token: str
    next_seq: int = 0  # the last seq sent so far; the load generator starts above it


@dataclass
class LoadResult:
    requests: int
    duration_s: float
    sent: int
    ok: int
    s429: int
    other: int  # answers that are neither 200, 429 nor 5xx (a 409 is a seq conflict)
    s5xx: int
    socket_errors: int
    timeouts: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    server_cpu_pct: float = float("nan")
    loadgen_cpu_pct: float = float("nan")
    #: CPU of the event-loop (main) thread per request, and of every other thread
    #: (the writer, readers, housekeeping) per report, in microseconds
    loop_us_per_request: float = float("nan")
    others_us_per_report: float = float("nan")

    @property
    def in_flight_at_stop(self) -> int:
        return max(0, self.sent - self.ok - self.s429 - self.other - self.s5xx)

    @classmethod
    def from_json(cls, data: dict[str, float]) -> LoadResult:
        return cls(
            requests=int(data["requests"]),
            duration_s=data["duration_us"] / 1e6,
            sent=int(data["sent"]),
            ok=int(data["ok"]),
            s429=int(data["s429"]),
            other=int(data["other"]),
            s5xx=int(data.get("s5xx", 0)),
            socket_errors=int(data["socket_errors"]),
            timeouts=int(data["timeouts"]),
            p50_ms=data["p50_us"] / 1000,
            p90_ms=data["p90_us"] / 1000,
            p99_ms=data["p99_us"] / 1000,
            max_ms=data["max_us"] / 1000,
        )


@dataclass
class Row:
    name: str
    batch: int
    result: LoadResult | None
    verified: str = "—"
    goal: float | None = None
    note: str = ""
    #: "collector", or the reference it is (TRIVIAL, DURABLE)
    kind: str = "collector"
    round: int = 1


# --- HTTP helpers ---------------------------------------------------------------


def post_json(url: str, body: object, token: str, timeout: float = 10.0) -> tuple[int, dict[str, object]]:
    data = json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def hosts_of(base_url: str, admin_token: str, tenant: str) -> list[dict[str, object]]:
    status, body = http_get(
        f"{base_url}/api/v1/hosts?tenant={tenant}", headers={"Authorization": f"Bearer {admin_token}"}, timeout=30
    )
    if status != 200:
        raise BenchError(f"GET /api/v1/hosts answered {status}: {body[:300]!r}")
    hosts: list[dict[str, object]] = json.loads(body)["hosts"]
    return hosts


def settled_last_seqs(base_url: str, admin_token: str, tenant: str, server: ManagedProcess) -> dict[str, int]:
    """Each agent's last stored seq once the collector has finished what the load generator left.

    Requests in flight when wrk stopped are still handled after it exits. A
    seq read before the last of them is stored would make the next run resend
    it with a newer ts, which the collector rightly rejects (409, "agent state
    reset"). So: the writer queue is empty and the seqs did not move for 0.5 s.
    """
    previous: dict[str, int] | None = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        wait_ready(lambda: writer_drained(base_url), what="writer queue drain", process=server)
        current = {str(h["id"]): int(h["last_seq"]) for h in hosts_of(base_url, admin_token, tenant)}  # type: ignore[call-overload]
        if current == previous:
            return current
        previous = current
        time.sleep(0.5)
    raise BenchError("the collector's stored seqs did not settle within 30 s after the load stopped")


def writer_drained(base_url: str) -> bool:
    status, body = http_get(f"{base_url}/healthz", timeout=2)
    return status == 200 and json.loads(body).get("writer_queue") == 0


# --- the collector under test ----------------------------------------------------


def collector_argv() -> list[str]:
    script = VENV_BIN / "leitstand-collector"
    return [str(script)] if script.exists() else [sys.executable, "-m", "collector.cli"]


def cli(args: Sequence[str], db: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(
        [*collector_argv(), *args, "--db", str(db)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=REPO,
    )
    if proc.returncode != 0:
        raise BenchError(f"leitstand-collector {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def enroll_agents(base_url: str, enroll_token: str, prefix: str, count: int) -> list[Agent]:
    agents = []
    for i in range(count):
        agent_id = f"{prefix}-{i:04d}"
        status, body = post_json(
            f"{base_url}/api/v1/enroll", {"agent_id": agent_id, "hostname": agent_id}, enroll_token
        )
        if status != 200:
            raise BenchError(f"enrolling {agent_id} answered {status}: {body}")
        agents.append(Agent(id=agent_id, token=str(body["token"])))
    return agents


# --- load generators ---------------------------------------------------------------


@dataclass
class LoadSpec:
    port: int
    batch: int
    connections: int
    threads: int
    duration_s: float
    agents: list[Agent]
    workdir: Path


def run_wrk(wrk: str, spec: LoadSpec, tag: str) -> tuple[LoadResult, str]:
    agents_file = spec.workdir / f"agents-{tag}.txt"
    agents_file.write_text("".join(f"{a.id} {a.token} {a.next_seq}\n" for a in spec.agents))
    script = (
        WRK_LUA.replace("@AGENTS_FILE@", str(agents_file))
        .replace("@NTHREADS@", str(spec.threads))
        .replace("@BATCH@", str(spec.batch))
        .replace("@PATH@", REPORTS_PATH)
        .replace("@REPORT_FMT@", REPORT_FMT)
        .replace("@AGENT_FMT@", AGENT_FMT)
    )
    script_file = spec.workdir / f"load-{tag}.lua"
    script_file.write_text(script)
    argv = pinned(
        LOADGEN_CORE,
        [
            wrk,
            f"-t{spec.threads}",
            f"-c{spec.connections}",
            f"-d{max(1, round(spec.duration_s))}s",
            "--timeout",
            "10s",
            "--latency",
            "-s",
            str(script_file),
            f"http://127.0.0.1:{spec.port}{REPORTS_PATH}",
        ],
    )
    return _run_loadgen(argv, spec, "wrk")


def run_python_loadgen(spec: LoadSpec, tag: str) -> tuple[LoadResult, str]:
    spec_file = spec.workdir / f"loadgen-{tag}.json"
    spec_file.write_text(
        json.dumps(
            {
                "port": spec.port,
                "batch": spec.batch,
                "connections": spec.connections,
                "duration_s": spec.duration_s,
                "agents": [[a.id, a.token, a.next_seq] for a in spec.agents],
            }
        )
    )
    argv = pinned(LOADGEN_CORE, [sys.executable, str(Path(__file__).resolve()), "--loadgen-worker", str(spec_file)])
    return _run_loadgen(argv, spec, "python")


def _run_loadgen(argv: list[str], spec: LoadSpec, name: str) -> tuple[LoadResult, str]:
    # The load generator is this process's only child reaped in between: its CPU is the delta.
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = proc.communicate(timeout=spec.duration_s + 60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise BenchError(f"{name} did not finish within {spec.duration_s + 60:.0f} s") from None
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    line = next((x for x in out.splitlines() if x.startswith("BENCHJSON ")), None)
    if proc.returncode != 0 or line is None:
        raise BenchError(f"{name} failed (exit {proc.returncode}):\n{out[-2000:]}")
    result = LoadResult.from_json(json.loads(line.removeprefix("BENCHJSON ")))
    result.loadgen_cpu_pct = 100.0 * cpu / wall if wall else float("nan")
    return result, out


def loadgen_worker(spec_path: Path) -> int:
    """The fallback load generator (no wrk): asyncio, raw HTTP/1.1 keep-alive, one process."""
    spec = json.loads(spec_path.read_text())
    try:
        import uvloop  # type: ignore[import-not-found,unused-ignore]

        uvloop.install()
    except ImportError:
        pass
    return asyncio.run(_loadgen(spec))


async def _loadgen(spec: dict[str, object]) -> int:
    port = int(spec["port"])  # type: ignore[call-overload]
    batch = int(spec["batch"])  # type: ignore[call-overload]
    connections = int(spec["connections"])  # type: ignore[call-overload]
    duration = float(spec["duration_s"])  # type: ignore[arg-type]
    agents = [[a[0], a[1], int(a[2])] for a in spec["agents"]]  # type: ignore[attr-defined]
    counts = {"sent": 0, "ok": 0, "s429": 0, "other": 0, "s5xx": 0, "errors": 0}
    latencies: list[float] = []
    rr = 0
    start = time.monotonic()
    deadline = start + duration

    async def connection() -> None:
        nonlocal rr
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.monotonic() < deadline:
                agent = agents[rr % len(agents)]
                rr += 1
                body = batch_json(agent[0], agent[2] + 1, batch, time.time()).encode()
                agent[2] += batch
                head = (
                    f"POST {REPORTS_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                    f"Authorization: Bearer {agent[1]}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n"
                ).encode()
                t0 = time.perf_counter()
                counts["sent"] += 1
                writer.write(head + body)
                status_line = await asyncio.wait_for(reader.readline(), 10)
                length = 0
                while True:
                    header = await reader.readline()
                    if header in (b"\r\n", b""):
                        break
                    name, _, value = header.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - t0)
                status = int(status_line.split()[1])
                key = "ok" if status == 200 else "s429" if status == 429 else "s5xx" if status >= 500 else "other"
                counts[key] += 1
        except (OSError, asyncio.IncompleteReadError, TimeoutError, IndexError, ValueError):
            counts["errors"] += 1
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(connections)))
    elapsed = time.monotonic() - start
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1e6 if latencies else 0.0

    result = {
        "requests": len(latencies),
        "duration_us": elapsed * 1e6,
        "sent": counts["sent"],
        "ok": counts["ok"],
        "s429": counts["s429"],
        "other": counts["other"],
        "s5xx": counts["s5xx"],
        "socket_errors": counts["errors"],
        "timeouts": 0,
        "p50_us": pct(50),
        "p90_us": pct(90),
        "p99_us": pct(99),
        "max_us": latencies[-1] * 1e6 if latencies else 0.0,
    }
    print("BENCHJSON " + json.dumps(result), flush=True)
    return 0


# --- one scenario against one server ------------------------------------------------


def drive(
    *,
    name: str,
    spec: LoadSpec,
    warmup_s: float,
    server: ManagedProcess,
    wrk: str | None,
    tag: str,
    refresh_seqs: Callable[[], None] | None = None,
    profile_dir: Path | None = None,
) -> tuple[LoadResult, list[LoadResult]]:
    """Warm up, then the measured run; returns (measured result, all runs incl. warm-up)."""
    runs: list[LoadResult] = []
    if warmup_s > 0:
        warm = LoadSpec(**{**spec.__dict__, "duration_s": warmup_s})
        result, _ = run_wrk(wrk, warm, f"{tag}-warm") if wrk else run_python_loadgen(warm, f"{tag}-warm")
        runs.append(result)
        if refresh_seqs is not None:
            refresh_seqs()
    profiler = (
        start_profiler(server.pid, spec.duration_s, profile_dir / f"collector-{tag}.txt", core=LOADGEN_CORE)
        if profile_dir is not None
        else None
    )
    sampler = TreeSampler(server.pid, interval_s=0.5, pss=False)
    sampler.start_window()
    threads_before = thread_cpu(server.pid)
    result, output = run_wrk(wrk, spec, tag) if wrk else run_python_loadgen(spec, tag)
    threads_after = thread_cpu(server.pid)
    stats = sampler.finish()
    loop_s = threads_after[0] - threads_before[0]
    others_s = threads_after[1] - threads_before[1]
    if result.requests:
        result.loop_us_per_request = loop_s / result.requests * 1e6
        result.others_us_per_report = others_s / (result.requests * spec.batch) * 1e6
    if profiler is not None:
        print(finish_profiler(profiler, name))
    result.server_cpu_pct = 100.0 * stats.cpu_s / stats.wall_s if stats.wall_s else float("nan")
    (spec.workdir / f"loadgen-{tag}.out").write_text(output)
    runs.append(result)
    print(
        f"  {name}: {result.ok * spec.batch / result.duration_s:,.0f} reports/s, "
        f"p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms, "
        f"server CPU {result.server_cpu_pct:.0f} %, load generator CPU {result.loadgen_cpu_pct:.0f} %, "
        f"loop thread {result.loop_us_per_request:.0f} us/request, "
        f"other threads {result.others_us_per_report:.0f} us/report",
        flush=True,
    )
    return result, runs


def thread_cpu(pid: int) -> tuple[float, float]:
    """CPU seconds so far of the server's main (event-loop) thread and of all its other threads."""
    try:
        threads = psutil.Process(pid).threads()
    except psutil.Error:
        return float("nan"), float("nan")
    loop = sum(t.user_time + t.system_time for t in threads if t.id == pid)
    others = sum(t.user_time + t.system_time for t in threads if t.id != pid)
    return loop, others


# --- profiling the server with py-spy --------------------------------------------------


# --- the SQLite write path, in process ------------------------------------------------


@dataclass
class WritePathResult:
    rows: int
    ours_rows_s: float
    bare_rows_s: float
    commits: int
    synchronous: str

    @property
    def ratio(self) -> float:
        return self.bare_rows_s / self.ours_rows_s


def write_path_bench(
    workdir: Path, total: int, job_size: int, agents: int, synchronous: str, repeats: int = 2
) -> WritePathResult:
    """(a) collector.store.ingest through collector.writer.Writer, jobs of `job_size`;
    (b) bare executemany of the identical rows in 1,000-row transactions. Same schema and pragmas.

    Runs alternate (bare, ours, bare, ours, …), each into a fresh file, and the best
    of each side counts: the machine is noisy and the ratio is what matters. The
    bench process is pinned to the server's core while it runs.
    """
    from agent.wire import decode_batch
    from collector.admin import Principal

    ids = [f"wp-{i:04d}" for i in range(agents)]
    # Decoding is the HTTP handler's work, not the write path's: decode before timing.
    jobs = []
    ts0 = time.time() - total  # distinct, increasing timestamps
    seqs = dict.fromkeys(ids, 0)
    for n in range(total // job_size):
        agent_id = ids[n % agents]
        first = seqs[agent_id] + 1
        seqs[agent_id] += job_size
        body = batch_json(agent_id, first, job_size, ts0 + n * job_size / 1000)
        principal = Principal(token_id=agent_id, role="agent", tenant="bench", agent_id=agent_id)
        jobs.append((principal, decode_batch(body.encode())))

    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    if affinity is not None and SERVER_CORE in affinity:
        os.sched_setaffinity(0, {SERVER_CORE})
    try:
        ours: list[float] = []
        bare: list[float] = []
        commits = 0
        rows: list[tuple[object, ...]] = []
        for attempt in range(repeats):
            if rows:
                bare.append(_bare_executemany(workdir / f"writepath-bare-{attempt}.db", rows, synchronous))
            rate, commits, stored = _through_writer(workdir / f"writepath-ours-{attempt}.db", ids, jobs, synchronous)
            ours.append(rate)
            rows = rows or stored
        bare.append(_bare_executemany(workdir / "writepath-bare-last.db", rows, synchronous))
    finally:
        if affinity is not None:
            os.sched_setaffinity(0, affinity)
    return WritePathResult(
        rows=len(rows), ours_rows_s=max(ours), bare_rows_s=max(bare), commits=commits, synchronous=synchronous
    )


def _through_writer(
    path: Path, ids: list[str], jobs: list[tuple[Any, Any]], synchronous: str
) -> tuple[float, int, list[tuple[object, ...]]]:
    """rows/s of store.ingest through the Writer; also returns its commits and the stored rows."""
    from collector.admin import add_tenant, authenticate, create_token
    from collector.db import connect, migrate
    from collector.enroll import enroll
    from collector.writer import Writer

    conn = connect(path, synchronous=synchronous)
    migrate(conn)
    add_tenant(conn, "bench", actor="bench")
    enroller = authenticate(conn, "Bearer " + create_token(conn, "enroll", actor="bench", tenant="bench")[1])
    for agent_id in ids:
        enroll(conn, enroller, agent_id, agent_id)
    conn.close()

    received_at = time.time()
    expected = sum(len(batch.reports) for _, batch in jobs)
    writer = Writer(lambda: connect(path, synchronous=synchronous))
    writer.start()
    window = 1000  # jobs in flight: below the writer's queue_max, like many agents posting at once
    pending: collections.deque[Any] = collections.deque()
    start = time.perf_counter()
    for principal, batch in jobs:
        pending.append(writer.submit(_ingest_job(principal, batch, received_at)))
        if len(pending) >= window:
            pending.popleft().result(60)
    for future in pending:
        future.result(60)
    elapsed = time.perf_counter() - start
    commits = writer.commits
    writer.stop()

    check = connect(path)
    # In the order the writer inserted them: agent round-robin, seq ascending.
    rows = check.execute(
        "SELECT agent_id, epoch, seq, ts, received_at, data FROM samples ORDER BY seq, agent_id"
    ).fetchall()
    check.close()
    if len(rows) != expected:
        raise BenchError(f"write path stored {len(rows)} rows, expected {expected}")
    return expected / elapsed, commits, rows


def _ingest_job(principal: Any, batch: Any, received_at: float) -> Callable[[Connection], Any]:
    from collector import store

    def job(conn: Connection) -> Any:
        return store.ingest(conn, principal, batch, received_at)

    return job


def _bare_executemany(path: Path, rows: list[tuple[object, ...]], synchronous: str) -> float:
    from collector.db import connect, migrate

    conn = connect(path, synchronous=synchronous)
    migrate(conn)
    sql = "INSERT INTO samples (agent_id, epoch, seq, ts, received_at, data) VALUES (?, ?, ?, ?, ?, ?)"
    start = time.perf_counter()
    for i in range(0, len(rows), 1000):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(sql, rows[i : i + 1000])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return len(rows) / elapsed


# --- main -------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench/ingest.py",
        description=(
            "Collector ingest through the real HTTP server on one core (wrk on the other), next to a "
            "trivial uvicorn/Starlette POST endpoint; plus the SQLite write path against bare executemany."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="smoke run of about 30 s (short runs, fewer rows)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of each measured load run")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of load before each measured run")
    parser.add_argument("--agents", type=int, default=64, help="simulated agents per configuration")
    parser.add_argument("--connections", type=int, default=16, help="concurrent HTTP connections")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (each gets its own agents)")
    parser.add_argument("--batches", default="1,10", help="reports per POST, comma-separated (one configuration each)")
    parser.add_argument(
        "--write-rows", type=int, default=50_000, help="reports for the in-process write-path comparison (0: skip)"
    )
    parser.add_argument("--job-size", type=int, default=10, help="reports per writer job in the write-path comparison")
    parser.add_argument(
        "--synchronous",
        choices=["full", "normal"],
        default="full",
        help="SQLite synchronous of the collector (its config's storage.synchronous; full is its default)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="rounds of each batch size (collector, then the references); shares printed as medians",
    )
    parser.add_argument("--no-peer", action="store_true", help="skip the reference endpoints (trivial, durable)")
    parser.add_argument("--no-http", action="store_true", help="only the in-process write-path comparison")
    parser.add_argument(
        "--loadgen", choices=["auto", "wrk", "python"], default="auto", help="load generator (auto: wrk if installed)"
    )
    parser.add_argument(
        "--require-peers", action="store_true", help="exit non-zero when wrk (the load generator) is not installed"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="record the collector with py-spy during each measured run; summary printed, stacks kept in DIR",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp directory (databases, logs, scripts)")
    parser.add_argument("--loadgen-worker", type=Path, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.loadgen_worker:
        return loadgen_worker(args.loadgen_worker)
    if args.quick:
        args.duration = min(args.duration, 5.0)
        args.warmup = min(args.warmup, 1.0)
        args.write_rows = min(args.write_rows, 10_000)
        args.agents = min(args.agents, 32)
    try:
        batches = [int(b) for b in args.batches.split(",") if b.strip()]
    except ValueError:
        print(f"bench/ingest.py: --batches expects integers, got {args.batches!r}", file=sys.stderr)
        return 2
    if args.rounds < 1:
        print("bench/ingest.py: --rounds must be at least 1", file=sys.stderr)
        return 2
    if not batches or any(not 1 <= b <= 1000 for b in batches) or args.agents < args.threads:
        print("bench/ingest.py: batches must be 1..1000 and --agents at least --threads", file=sys.stderr)
        return 2

    wrk_missing = missing_peer("wrk", "wrk")
    if wrk_missing and (args.require_peers or args.loadgen == "wrk"):
        print(f"bench/ingest.py: wrk {wrk_missing}; it is the load generator", file=sys.stderr)
        return 1
    wrk = peer_path("wrk") if args.loadgen != "python" else None

    print(f"machine: {machine_notes()}")
    print(
        f"load generator: {'wrk ' + wrk if wrk else 'Python asyncio (wrk ' + (wrk_missing or 'not chosen') + ')'}; "
        f"server on core {SERVER_CORE}, load on core {LOADGEN_CORE}"
        + ("" if shutil.which("taskset") else " (taskset missing: not pinned)"),
        flush=True,
    )
    workdir = Path(tempfile.mkdtemp(prefix="leitstand-bench-ingest-"))
    try:
        rows: list[Row] = []
        if not args.no_http:
            rows = http_benchmarks(args, batches, workdir, wrk)
        write = None
        if args.write_rows > 0:
            print(f"write path: {args.write_rows:,} reports in jobs of {args.job_size} …", flush=True)
            write = write_path_bench(workdir, args.write_rows, args.job_size, args.agents, args.synchronous)
        report(args, rows, write, wrk is not None)
    except BenchError as exc:
        print(f"bench/ingest.py: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


def http_benchmarks(args: argparse.Namespace, batches: list[int], workdir: Path, wrk: str | None) -> list[Row]:
    # PYTHONPATH: run the working tree even where the editable install is stale; XDG: not the developer's config.
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "XDG_CONFIG_HOME": str(workdir / "xdg"),
        "XDG_DATA_HOME": str(workdir / "xdg"),
    }
    db = workdir / "collector.db"
    config = workdir / "collector.toml"
    # 64 agents sending flat out measure the write path, not real agents (one report per
    # interval): the per-token rate limit would turn that into 429s
    config.write_text(f'[storage]\nsynchronous = "{args.synchronous}"\n[server]\nrate_limit_rps = 0\n')
    # a tenant per round and batch size: each round's check of stored = acknowledged counts its own hosts
    tenants = {(n, b): f"bench-r{n}-b{b}" for n in range(1, args.rounds + 1) for b in batches}
    enroll_tokens = {}
    for key, tenant in tenants.items():
        cli(["tenant", "add", tenant], db, env)
        enroll_tokens[key] = cli(["token", "create", "--role", "enroll", "--tenant", tenant], db, env)
    admin_token = cli(["token", "create", "--role", "admin"], db, env)

    rows: list[Row] = []
    processes: list[ManagedProcess] = []
    with running(processes):
        port = free_port()
        collector = start_process(
            "collector",
            pinned(
                SERVER_CORE,
                [*collector_argv(), "serve", "--db", str(db), "--config", str(config), "--listen", f"127.0.0.1:{port}"],
            ),
            log_dir=workdir,
            env=env,
            cwd=REPO,
        )
        processes.append(collector)
        base = f"http://127.0.0.1:{port}"
        wait_ready(http_ok(f"{base}/healthz"), what="leitstand-collector serve", process=collector)
        # All servers are up from the start and each batch size runs on the
        # collector and then at once on each reference: on a shared machine the
        # neighbours' load moves between runs, and a share is only meaningful
        # for runs close together. An idle server waits on its socket and costs
        # the others nothing.
        peers: dict[str, tuple[ManagedProcess, int]] = {}
        if not args.no_peer:
            peers[TRIVIAL] = start_peer(workdir, env, "uvicorn-trivial", TRIVIAL_APP)
            peers[DURABLE] = start_peer(
                workdir, env, "uvicorn-durable", DURABLE_APP, {"BENCH_DURABLE_DB": str(workdir / "durable.db")}
            )
            processes.extend(process for process, _ in peers.values())
        peer_agents = {kind: {b: dummy_agents(f"{kind}-b{b}", args.agents) for b in batches} for kind in peers}
        for n in range(1, args.rounds + 1):
            for batch in batches:
                rows.extend(one_round(args, n, batch, port, admin_token, tenants[n, batch], enroll_tokens[n, batch],
                                      collector, peers, peer_agents, workdir, wrk))  # fmt: skip
        collector_rss = collector_rss_mb(collector)
        last_collector_row = next(row for row in reversed(rows) if row.kind == "collector")
        last_collector_row.note = f"collector RSS after the runs: {collector_rss:.0f} MB"
    return rows


def one_round(
    args: argparse.Namespace,
    n: int,
    batch: int,
    port: int,
    admin_token: str,
    tenant: str,
    enroll_token: str,
    collector: ManagedProcess,
    peers: dict[str, tuple[ManagedProcess, int]],
    peer_agents: dict[str, dict[int, list[Agent]]],
    workdir: Path,
    wrk: str | None,
) -> list[Row]:
    """One batch size on the collector (on `port`), then on each reference."""
    base = f"http://127.0.0.1:{port}"
    suffix = f", round {n}" if args.rounds > 1 else ""
    name = f"leitstand collector, batch {batch}{suffix}"
    print(f"{name}: enrolling {args.agents} agents …", flush=True)
    agents = enroll_agents(base, enroll_token, f"r{n}b{batch}", args.agents)
    spec = LoadSpec(port, batch, args.connections, args.threads, args.duration, agents, workdir)

    def refresh() -> None:
        # Continue each agent's sequence where the collector has it (warm-up done).
        last = settled_last_seqs(base, admin_token, tenant, collector)
        for agent in agents:
            agent.next_seq = last[agent.id]

    tag = f"r{n}-b{batch}"
    result, runs = drive(name=name, spec=spec, warmup_s=args.warmup, server=collector, wrk=wrk, tag=tag,
                         refresh_seqs=refresh, profile_dir=args.profile)  # fmt: skip
    verified = verify(base, admin_token, tenant, batch, runs, collector)
    goal = GOAL_BATCH1 if batch == 1 else GOAL_BATCH10 if batch == 10 else None
    rows = [Row(name, batch, result, verified, goal, round=n)]
    for kind, (process, peer_port) in peers.items():
        what = "trivial POST" if kind == TRIVIAL else "durable POST (SQLite, group commit)"
        peer_name = f"uvicorn {what}, batch {batch}{suffix}"
        dummies = peer_agents[kind][batch]

        def refresh_peer(dummies: list[Agent] = dummies, port: int = peer_port) -> None:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/last", timeout=30) as answer:
                last = json.loads(answer.read())
            for agent in dummies:
                agent.next_seq = int(last.get(agent.id, agent.next_seq))

        if kind == DURABLE:
            refresh_peer()  # on from the last round's seqs: a resend would only be ignored
        peer_spec = LoadSpec(peer_port, batch, args.connections, args.threads, args.duration, dummies, workdir)
        peer_result, _ = drive(name=peer_name, spec=peer_spec, warmup_s=args.warmup, server=process, wrk=wrk,
                               tag=f"{kind}-{tag}", refresh_seqs=refresh_peer if kind == DURABLE else None)  # fmt: skip
        note = "— (stores nothing)" if kind == TRIVIAL else "— (stores each report once, nothing else)"
        rows.append(Row(peer_name, batch, peer_result, note, kind=kind, round=n))
    return rows


def dummy_agents(prefix: str, count: int) -> list[Agent]:
    """Agents of a reference endpoint (it checks no token)."""
    return [Agent(id=f"{prefix}-{i:04d}", token=f"lst_000000000000_{i}") for i in range(count)]


def start_peer(
    workdir: Path, env: dict[str, str], name: str, source: str, extra_env: dict[str, str] | None = None
) -> tuple[ManagedProcess, int]:
    """A reference app under uvicorn (httptools, uvloop, no access log), pinned
    to the collector's core; returns the process and its port."""
    app_dir = workdir / name
    app_dir.mkdir()
    (app_dir / "peer_app.py").write_text(source)
    port = free_port()
    process = start_process(
        name,
        pinned(
            SERVER_CORE,
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--app-dir",
                str(app_dir),
                "peer_app:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--loop",
                "uvloop",
                "--http",
                "httptools",
                "--log-level",
                "warning",
                "--no-access-log",
            ],
        ),
        log_dir=workdir,
        env={**env, **(extra_env or {})},
    )
    wait_ready(http_ok(f"http://127.0.0.1:{port}/healthz"), what=f"{name} app", process=process)
    return process, port


def collector_rss_mb(process: ManagedProcess) -> float:
    import psutil

    try:
        return float(psutil.Process(process.pid).memory_info().rss) / 1e6
    except psutil.Error:
        return float("nan")


def non2xx(errors: int, r: LoadResult) -> str:
    parts = [f"{n}×{what}" for n, what in ((r.s429, "429"), (r.s5xx, "5xx"), (r.other, "other 4xx")) if n]
    return f"{errors} / {r.s429 + r.s5xx + r.other}" + (f" ({', '.join(parts)})" if parts else "")


def verify(base: str, admin_token: str, tenant: str, batch: int, runs: list[LoadResult], server: ManagedProcess) -> str:
    """Stored reports (API) against what the load generator got 200s for."""
    settled_last_seqs(base, admin_token, tenant, server)
    hosts = hosts_of(base, admin_token, tenant)
    stored = sum(int(h["reports_total"]) for h in hosts)  # type: ignore[call-overload]
    dups = sum(int(h["duplicates_total"]) for h in hosts)  # type: ignore[call-overload]
    gaps = sum(int(h["gap_count"]) for h in hosts)  # type: ignore[call-overload]
    last_seq_sum = sum(int(h["last_seq"]) for h in hosts)  # type: ignore[call-overload]
    acked = sum(r.ok for r in runs) * batch
    in_flight = sum(r.in_flight_at_stop for r in runs) * batch
    extra = stored - acked
    # Requests still in flight when the load generator stopped may have been stored
    # without their 200 being counted; nothing acknowledged may be missing.
    ok = 0 <= extra <= in_flight and dups == 0
    detail = f"stored {stored:,} = 200s×{batch} {acked:,}" + (f" + {extra} in flight at stop" if extra else "")
    if gaps:
        detail += f", {gaps} seq gaps"
    if last_seq_sum != stored and not gaps:
        detail += f", Σlast_seq {last_seq_sum:,}"
    return ("OK: " if ok else "MISMATCH: ") + detail


def cpu_per_report(row: Row) -> float:
    r = row.result
    assert r is not None
    return r.server_cpu_pct / 100 * r.duration_s / (r.ok * row.batch) * 1e6


def round_summary(rows: list[Row], rates: dict[tuple[str, int, int], float]) -> list[list[str]]:
    """Per batch size: the collector's share of each reference's reports/s, median over rounds."""
    summary = []
    for batch in sorted({row.batch for row in rows}):
        rounds = sorted({row.round for row in rows if row.batch == batch and row.kind == "collector"})
        shares: dict[str, list[float]] = {TRIVIAL: [], DURABLE: [], "durable/trivial": []}
        for n in rounds:
            ours = rates.get(("collector", n, batch))
            for kind in (TRIVIAL, DURABLE):
                if ours and rates.get((kind, n, batch)):
                    shares[kind].append(ours / rates[kind, n, batch])
            if rates.get((DURABLE, n, batch)) and rates.get((TRIVIAL, n, batch)):
                shares["durable/trivial"].append(rates[DURABLE, n, batch] / rates[TRIVIAL, n, batch])
        if not shares[TRIVIAL]:
            continue

        def spread(values: list[float]) -> str:
            if not values:
                return "—"
            return f"{statistics.median(values):.2f}× ({min(values):.2f}–{max(values):.2f})"

        goal = "—"
        if batch in GOAL_RATIO:
            met = statistics.median(shares[TRIVIAL]) >= GOAL_RATIO[batch]
            goal = f"≥ {GOAL_RATIO[batch]:.2f}× {'met' if met else 'MISSED'}"
        dt = shares["durable/trivial"]
        summary.append([str(batch), str(len(rounds)), spread(shares[TRIVIAL]), goal, spread(shares[DURABLE]),
                        f"{statistics.median(dt):.2f}×" if dt else "—"])  # fmt: skip
    return summary


def report(args: argparse.Namespace, rows: list[Row], write: WritePathResult | None, wrk: bool) -> None:
    if rows:
        header = [
            "configuration",
            "reports/s",
            "requests/s",
            "p50 ms",
            "p99 ms",
            "errors / non-2xx",
            "server CPU",
            "loadgen CPU",
            "loop thread µs/request",
            "other threads µs/report",
            "goal",
            "vs trivial (goal)",
            "vs durable",
            "stored = acknowledged?",
        ]
        rates = {
            (row.kind, row.round, row.batch): row.result.ok * row.batch / row.result.duration_s
            for row in rows
            if row.result is not None and row.result.duration_s
        }
        table = []
        for row in rows:
            r = row.result
            if r is None:
                table.append([row.name, *["—"] * 12, row.note])
                continue
            reports_s = r.ok * row.batch / r.duration_s
            goal = "—"
            if row.goal is not None:
                goal = f"≥ {row.goal:,.0f} {'met' if reports_s >= row.goal else 'MISSED'}"
            versus = versus_durable = "—"
            if row.kind == "collector" and rates.get((TRIVIAL, row.round, row.batch)):
                ratio = reports_s / rates[TRIVIAL, row.round, row.batch]
                versus = f"{ratio:.2f}×"
                if row.batch in GOAL_RATIO:
                    wanted = GOAL_RATIO[row.batch]
                    versus += f" (≥ {wanted:.2f}× {'met' if ratio >= wanted else 'MISSED'})"
            if row.kind != DURABLE and rates.get((DURABLE, row.round, row.batch)):
                versus_durable = f"{reports_s / rates[DURABLE, row.round, row.batch]:.2f}×"
            errors = r.socket_errors + r.timeouts
            table.append(
                [
                    row.name,
                    fmt(reports_s, 0),
                    fmt(r.requests / r.duration_s, 0),
                    fmt(r.p50_ms, 1),
                    fmt(r.p99_ms, 1),
                    non2xx(errors, r),
                    f"{r.server_cpu_pct:.0f} %",
                    f"{r.loadgen_cpu_pct:.0f} %",
                    fmt(r.loop_us_per_request, 0),
                    fmt(r.others_us_per_report, 0),
                    goal,
                    versus,
                    versus_durable,
                    row.verified,
                ]
            )
        print_table(
            header,
            table,
            title=(
                f"HTTP ingest, server on 1 core: {args.agents} agents, {args.connections} connections, "
                f"{args.duration:.0f} s runs after {args.warmup:.0f} s warm-up, "
                f"{'wrk' if wrk else 'Python load generator'}, SQLite synchronous={args.synchronous}"
            ),
        )
        for row in rows:
            if row.note:
                print(f"  {row.name}: {row.note}")
        cpu = {
            (row.kind, row.round, row.batch): cpu_per_report(row)
            for row in rows
            if row.result is not None and row.result.ok
        }
        for row in rows:
            if row.kind != "collector" or (TRIVIAL, row.round, row.batch) not in cpu:
                continue
            # CPU per report is steadier than throughput on a shared machine: a busy
            # neighbour slows both servers, but not in the same proportion.
            ours, theirs = cpu["collector", row.round, row.batch], cpu[TRIVIAL, row.round, row.batch]
            line = (
                f"  batch {row.batch}{f', round {row.round}' if args.rounds > 1 else ''}: server CPU per report "
                f"{ours:.0f} µs, trivial endpoint {theirs:.0f} µs (efficiency {theirs / ours:.2f}×)"
            )
            durable = cpu.get((DURABLE, row.round, row.batch))
            if durable:
                line += f", durable endpoint {durable:.0f} µs ({durable / ours:.2f}×)"
            print(line)
        summary = round_summary(rows, rates)
        if summary:
            summary_header = ["batch", "rounds", "vs trivial: median (min–max)", "goal"]
            summary_header += ["vs durable: median (min–max)", "durable vs trivial: median"]
            print_table(
                summary_header,
                summary,
                title="Shares of the references' reports/s, each within one round (collector, then the references)",
            )
        body1 = len(batch_json("b1-0000", 1, 1, time.time()))
        body10 = len(batch_json("b1-0000", 1, 10, time.time()))
        print(f"  request body: {body1} bytes (batch 1), {body10} bytes (batch 10), uncompressed JSON")
    if write is not None:
        goal = f"≤ {GOAL_WRITE_RATIO:.0f}× {'met' if write.ratio <= GOAL_WRITE_RATIO else 'MISSED'}"
        print_table(
            ["write path", "rows/s", "ratio to bare", "goal"],
            [
                [
                    f"store.ingest via Writer, jobs of {args.job_size} ({write.commits} commits)",
                    fmt(write.ours_rows_s, 0),
                    f"{write.ratio:.2f}×",
                    goal,
                ],
                ["bare executemany, 1,000 rows per transaction", fmt(write.bare_rows_s, 0), "1.00×", "—"],
            ],
            title=f"SQLite write path, in process, {write.rows:,} rows, synchronous={write.synchronous}, same schema",
        )


if __name__ == "__main__":
    sys.exit(main())
