"""Faults injected into a soak (kill, outage, slow clients, malformed requests, full disk),
each against its own collector and database; the exact ledger check proves nothing was
lost and nothing counted twice."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import errno
import gzip
import json
import math
import signal
import sqlite3
import subprocess
import tempfile
import time
import zlib
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, Unpack

import httpx

from agent.wire import AgentInfo, Batch, encode

from ..progress import Progress
from .model import GIB, MIB, STEP_S, VERSION, SimHost, build_fleet
from .procs import ManagedProcess, SimError, collector_argv, free_port, http_ok, start_process, wait_ready
from .sampling import sample
from .soak import SoakOptions, SoakResult, compare_ledger, prepare_db, run_soak
from .truth import GroundTruth
from .wire import Fleet, RetryPolicy, Stats, auth_header, enroll_all

#: Faults `--soak --faults` injects, each in a soak of its own against a fresh database.
FAULTS = ("kill", "outage", "slow", "malformed", "diskfull")

#: The error body of a write the database refused (collector/writer.py, README "HTTP API").
STORAGE_ERROR = "storage unavailable, nothing stored"


class Controller(Protocol):
    """A collector process the soak may kill and restart (same port, same database)."""

    url: str
    db: Path

    def start(self) -> None: ...

    def kill9(self) -> None: ...

    def stop(self) -> None: ...


class OwnCollectorProcess:
    """The bench's restartable collector: `leitstand-collector serve` on one fixed free port."""

    def __init__(self, db: Path, log_dir: Path) -> None:
        self.db = db
        self.log_dir = log_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: ManagedProcess | None = None

    def start(self) -> None:
        argv = collector_argv("serve", "--db", str(self.db), "--listen", f"127.0.0.1:{self.port}")
        self.proc = start_process("collector", argv, log_dir=self.log_dir)
        wait_ready(http_ok(f"{self.url}/healthz"), deadline_s=30, what="collector", process=self.proc)

    def kill9(self) -> None:
        if self.proc is not None:
            self.proc.popen.send_signal(signal.SIGKILL)
            self.proc.popen.wait(10)
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
            self.proc = None


class MountError(SimError):
    """A tmpfs cannot be mounted here (not root, or no CAP_SYS_ADMIN)."""


@contextlib.contextmanager
def small_disk(path: Path, size_mb: int) -> Iterator[Path]:
    """A tmpfs of `size_mb` MiB mounted at `path`, unmounted (lazily if busy) on the way out."""
    path.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(path)],
                              capture_output=True, text=True, timeout=20)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise MountError(f"cannot mount a tmpfs at {path}: {exc}") from exc
    if done.returncode != 0:
        raise MountError(f"cannot mount a tmpfs at {path}: {done.stderr.strip() or done.returncode}")
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True, timeout=20).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=20)


def fill_disk(filler: Path, *, limit_bytes: int = 4 * GIB) -> int:
    """Write `filler` until the filesystem is full (ENOSPC); returns the bytes written."""
    written = 0
    with filler.open("wb", buffering=0) as f:
        for chunk in (MIB, 4096, 512):
            block = b"\0" * chunk
            while written < limit_bytes:
                try:
                    written += f.write(block) or 0
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
    return written


def integrity(db: Path) -> str:
    """`PRAGMA integrity_check` of the database, read-only, next to the running collector."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return ", ".join(str(row[0]) for row in conn.execute("PRAGMA integrity_check"))
    finally:
        conn.close()


async def until(check: Callable[[], bool], *, deadline_s: float, what: str, interval_s: float = 0.01) -> float:
    """Poll `check` until true (seconds it took); SimError after the deadline."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > deadline_s:
            raise SimError(f"timed out after {deadline_s:g} s waiting for {what}")
        await asyncio.sleep(interval_s)  # polling interval, not a wait for readiness
    return time.monotonic() - start


@dataclass
class FaultOutcome:
    fault: str
    happened: str = ""
    recovered: bool = False
    ledger_ok: bool = False
    #: what the fault check itself found wrong (statuses, bodies, integrity)
    problems: list[str] = field(default_factory=list)
    result: SoakResult | None = None
    #: HTTP status each malformed request got, by name
    statuses: dict[str, int | str] = field(default_factory=dict)
    #: what the fault check saw, for tests: the 503 body, /healthz while full and after, integrity_check
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.recovered and self.ledger_ok and not self.problems


def render_faults(outcomes: Sequence[FaultOutcome]) -> str:
    rows = [("fault", "what happened", "recovered", "ledger")]
    for o in outcomes:
        ledger_text = "OK" if o.ledger_ok else ("MISMATCH" if o.result is not None else "-")
        rows.append((o.fault, o.happened, "yes" if o.recovered else "no", ledger_text))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:3], widths, strict=True)) + "  " + r[3] for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths) + "  ------")
    for o in outcomes:
        lines += [f"{o.fault}: {p}" for p in o.problems]
        if o.result is not None:
            lines += [f"{o.fault}: {d}" for d in o.result.differences]
    return "\n".join(lines)


def _probe_batch(h: SimHost, ts: float, seq: int) -> bytes:
    """A well-formed batch of one report of `h` (sampled on a copy: the simulation is untouched)."""
    twin = copy.deepcopy(h)
    info = AgentInfo(id=h.agent_id, hostname=h.hostname, version=VERSION, role=h.role, site=h.site,
                     os="Linux 6.1", boot_time=h.boot_time)  # fmt: skip
    return encode(Batch(agent=info, reports=[sample(twin, ts, STEP_S, seq, None)]))


def _gzip_bomb(prefix: bytes, inflated: int) -> bytes:
    """`prefix` and spaces up to `inflated` bytes, gzip'd in chunks (a few hundred KB on the wire)."""
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [z.compress(prefix)]
    block = b" " * MIB
    parts += [z.compress(block) for _ in range(max(1, (inflated - len(prefix)) // MIB))]
    parts.append(z.flush())
    return b"".join(parts)


async def _malformed(client: httpx.AsyncClient, token: str, h: SimHost, ts: float) -> dict[str, int | str]:
    """Send each bad request once; {name: status (or the transport error's name)}.

    The payloads that decode at all carry a real report of a real agent (seq far ahead,
    inside the soak's time range), so were any of them stored, the ledger would show it."""
    valid = _probe_batch(h, ts, 10**6)
    wrong = json.loads(valid)
    wrong["reports"][0]["cpu"]["count"] = "eight"
    wrong["reports"][0]["seq"] = "next"
    gz = {"Content-Encoding": "gzip"}
    cases: list[tuple[str, bytes, dict[str, str]]] = [
        ("garbage JSON", b'{"agent": {"id": "x", "reports": [1, 2,', {}),
        ("not JSON at all", b"\x00\xff binary \xfe", {}),
        ("wrong types", json.dumps(wrong).encode(), {}),
        ("broken gzip", gzip.compress(valid)[:-12], gz),
        ("unknown encoding", valid, {"Content-Encoding": "br"}),
        ("20 MB body", valid + b" " * (20 * MIB), {}),
        ("gzip bomb", _gzip_bomb(valid, 256 * MIB), gz),
    ]
    out: dict[str, int | str] = {}
    for name, body, extra in cases:
        headers = {**auth_header(token), "Content-Type": "application/json", **extra}
        try:
            r = await client.post("/api/v1/reports", content=body, headers=headers)
            out[name] = r.status_code
        except httpx.TransportError as exc:
            out[name] = type(exc).__name__
    return out


#: The status every malformed request must get (README, "HTTP API").
MALFORMED_EXPECTED: dict[str, int] = {
    "garbage JSON": 400,
    "not JSON at all": 400,
    "wrong types": 400,
    "broken gzip": 400,
    "unknown encoding": 400,
    "20 MB body": 413,
    "gzip bomb": 413,
}


async def _slow_client(port: int, stop: asyncio.Event, sent: list[int], closed: list[bool], i: int) -> None:
    """Trickle a request one byte every 50 ms until `stop` (or the collector hangs up)."""
    request = (
        b"POST /api/v1/reports HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + b"X-Slow: " + b"s" * 4000 + b"\r\nContent-Length: 100000\r\n\r\n" + b"{" * 100_000
    )  # fmt: skip
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for byte in range(len(request)):  # bounded: the request's length
            if stop.is_set():
                return
            writer.write(request[byte : byte + 1])
            try:
                await writer.drain()
            except ConnectionError:
                closed[i] = True
                return
            sent[i] += 1
            if reader.at_eof():
                closed[i] = True
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=0.05)  # the trickle's pace, not a readiness wait
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def soak_with_fault(
    ctl: Controller,
    fault: str,
    enroll_tokens: Sequence[str],
    usage_token: str,
    *,
    agents: int,
    minutes: int,
    seed: int,
    batch: int,
    concurrency: int,
    now: float | None = None,
    outage_s: float = 2.0,
    slow_clients: int = 4,
    fault_deadline_s: float = 30.0,
) -> FaultOutcome:
    """A soak against the running collector `ctl` with `fault` injected mid-run; the soak's
    exact ledger check verifies that nothing was lost and nothing counted twice."""
    if fault not in FAULTS:
        raise SimError(f"unknown fault {fault!r} (choose from {', '.join(FAULTS)})")
    outcome = FaultOutcome(fault)
    fleet = Fleet(build_fleet(seed, agents=agents, tenants=len(enroll_tokens)))
    total = agents * minutes
    stats = Stats()
    policy = RetryPolicy(attempts=2000, backoff_cap_s=0.25, retry_after_cap_s=0.5)
    port = int(ctl.url.rsplit(":", 1)[1])
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with (
        httpx.AsyncClient(base_url=ctl.url, timeout=60, limits=limits) as client,
        httpx.AsyncClient(base_url=ctl.url, timeout=60) as side,
    ):
        await enroll_all(client, fleet, enroll_tokens)
        start_ts = math.floor((now or time.time()) / STEP_S) * STEP_S - minutes * STEP_S

        async def progressed(fraction: float) -> int:
            await until(lambda: stats.reports >= total * fraction, deadline_s=fault_deadline_s, what="the load")
            return stats.reports

        async def kill() -> None:
            at = await progressed(0.3)
            before = stats.transport_errors
            await asyncio.to_thread(ctl.kill9)
            # Counted before the restart: agents send as soon as the new process listens,
            # which is before start() has seen it ready, and on a fast machine the whole
            # rest of the load can land in that window.
            dead = stats.reports
            t0 = time.monotonic()
            await asyncio.to_thread(ctl.start)
            restart = time.monotonic() - t0
            early = stats.reports - dead
            await until(lambda: stats.reports > dead, deadline_s=fault_deadline_s, what="ingest after the restart")
            outcome.recovered = True
            outcome.happened = (
                f"SIGKILL at {at}/{total} reports, restarted in {restart:.1f} s "
                f"({early} reports landed before it was seen ready); "
                f"{stats.transport_errors - before} sends failed, batches kept and resent"
            )

        async def outage() -> None:
            at = await progressed(0.3)
            # Hold new sends while the collector shuts down: on a fast machine the
            # rest of the load could otherwise finish inside its graceful stop.
            stats.gate = asyncio.Event()
            await asyncio.to_thread(ctl.stop)
            before = stats.transport_errors
            down = time.monotonic()
            stats.gate.set()
            try:
                # hold the collector down: the agents must find it unreachable and back off
                await until(lambda: stats.transport_errors >= before + agents, deadline_s=fault_deadline_s,
                            what="agents to notice the outage")  # fmt: skip
                await asyncio.sleep(max(0.0, outage_s - (time.monotonic() - down)))  # the outage's length
            finally:
                stuck = stats.reports
                await asyncio.to_thread(ctl.start)
            held = time.monotonic() - down
            await until(lambda: stats.reports > stuck, deadline_s=fault_deadline_s, what="ingest after the outage")
            outcome.recovered = stuck == at or stats.reports > stuck
            outcome.happened = (
                f"down {held:.1f} s at {at}/{total} reports; "
                f"{stats.transport_errors - before} refused sends, agents backed off and resent"
            )

        async def slow() -> None:
            stop = asyncio.Event()
            sent, closed = [0] * slow_clients, [False] * slow_clients
            tasks = [asyncio.create_task(_slow_client(port, stop, sent, closed, i)) for i in range(slow_clients)]
            try:
                await until(lambda: all(n > 0 for n in sent), deadline_s=fault_deadline_s, what="slow clients")
                at = stats.reports
                go.set()
                await until(lambda: stats.reports >= total, deadline_s=fault_deadline_s * 4, what="the load")
                open_ = sum(not c for c in closed)
                outcome.evidence.update(slow_sent=list(sent), slow_open=open_, reports_before_load=at)
                outcome.recovered = stats.reports > at
                outcome.happened = (
                    f"{slow_clients} sockets trickling 1 byte/50 ms ({sum(sent):,} bytes); "
                    f"all {total} reports ingested meanwhile; {open_} still open"
                )
            finally:
                stop.set()
                await asyncio.gather(*tasks, return_exceptions=True)

        async def malformed() -> None:
            at = await progressed(0.25)
            h = fleet.hosts[0]
            got = await _malformed(side, fleet.tokens[h.agent_id], h, start_ts + 90)
            outcome.statuses = got
            for name, want in MALFORMED_EXPECTED.items():
                if got.get(name) != want:
                    outcome.problems.append(f"{name}: expected {want}, got {got.get(name)}")
            await until(lambda: stats.reports > at, deadline_s=fault_deadline_s, what="ingest after the bad requests")
            outcome.recovered = True
            statuses = ", ".join(f"{n} {s}" for n, s in got.items())
            outcome.happened = f"sent at {at}/{total} reports: {statuses}"

        async def diskfull() -> None:
            at = await progressed(0.25)
            filler = ctl.db.parent / "filler"
            filled = await asyncio.to_thread(fill_disk, filler)
            try:
                before = stats.statuses.get(503, 0)
                await until(lambda: stats.statuses.get(503, 0) > before, deadline_s=fault_deadline_s,
                            what="a write to fail on the full disk")  # fmt: skip
                body = json.loads(stats.bodies.get(503, "{}"))
                if body.get("error") != STORAGE_ERROR or not body.get("detail"):
                    outcome.problems.append(f"503 body {body} is not the documented storage error")
                # A small commit can still fit into pages SQLite already owns, and
                # /healthz tells the last commit's fate: while the disk stays full
                # it must say "degraded" again soon, so poll it with a deadline.
                deadline = time.monotonic() + fault_deadline_s
                health = await side.get("/healthz")
                while health.status_code != 503 and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)  # polling interval
                    health = await side.get("/healthz")
                if health.status_code != 503 or health.json().get("status") != "degraded":
                    outcome.problems.append(f"/healthz on a full disk: {health.status_code} {health.text}")
                check = await asyncio.to_thread(integrity, ctl.db)
                outcome.evidence.update(body_503=body, healthz_full=(health.status_code, health.json()))
                outcome.evidence["integrity"] = check
                if check != "ok":
                    outcome.problems.append(f"integrity_check on a full disk: {check}")
            finally:
                filler.unlink()
            freed_at = stats.reports
            await until(lambda: stats.reports > freed_at, deadline_s=fault_deadline_s, what="ingest after freeing")
            # the collector stays degraded until a commit succeeds: poll it, within the deadline
            deadline = time.monotonic() + fault_deadline_s
            while True:
                health = await side.get("/healthz")
                outcome.recovered = health.status_code == 200 and health.json().get("status") == "ok"
                if outcome.recovered or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)  # polling interval
            outcome.evidence["healthz_after"] = (health.status_code, health.json())
            outcome.evidence["integrity_after"] = await asyncio.to_thread(integrity, ctl.db)
            outcome.happened = (
                f"{filled / MIB:.1f} MiB filler at {at}/{total} reports: 503 {body.get('error')!r} "
                f"({body.get('detail', [''])[0]}), /healthz degraded, integrity_check {check}; "
                f"{stats.statuses.get(503, 0) - before} refused batches resent after freeing"
            )
            if not outcome.recovered:
                outcome.problems.append(f"/healthz after freeing space: {health.status_code} {health.text}")

        injectors: dict[str, Callable[[], Awaitable[None]]] = {
            "kill": kill,
            "outage": outage,
            "slow": slow,
            "malformed": malformed,
            "diskfull": diskfull,
        }
        go = asyncio.Event()
        if fault != "slow":
            go.set()

        async def load() -> tuple[GroundTruth, Stats, float]:
            await go.wait()
            return await run_soak(client, fleet, minutes=minutes, batch=batch, concurrency=concurrency,
                                  now=now or time.time(), stats=stats, policy=policy)  # fmt: skip

        t0 = time.perf_counter()
        load_task = asyncio.create_task(load())
        try:
            await injectors[fault]()
        except SimError as exc:
            outcome.problems.append(str(exc))
            go.set()
        truth, stats, _ = await load_task
        wall = time.perf_counter() - t0
        diffs = await compare_ledger(client, fleet, truth, usage_token)
    outcome.result = SoakResult.of(stats, truth, diffs, agents=agents, minutes=minutes, wall_s=wall)
    outcome.ledger_ok = not diffs and stats.reports == total
    return outcome


def run_faults(
    faults: Sequence[str],
    *,
    tenants: int,
    disk_mb: int = 16,
    progress: Progress | None = None,
    **kw: Unpack[SoakOptions],
) -> list[FaultOutcome]:
    """Each fault in a soak of its own: own collector, fresh database (for `diskfull` on a
    `disk_mb` MiB tmpfs; a row says so when mounting is not permitted)."""
    outcomes = []
    for fault in faults:
        if progress is not None:
            progress.step(fault)
        with contextlib.ExitStack() as stack:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"leitstand-fault-{fault}-")))
            data = tmp
            if fault == "diskfull":
                try:
                    data = stack.enter_context(small_disk(tmp / "disk", disk_mb))
                except MountError as exc:
                    outcomes.append(FaultOutcome(fault, happened=f"skipped: {exc}", problems=[str(exc)]))
                    continue
            enroll_tokens, usage_token = prepare_db(data / "collector.db", tenants)
            ctl = OwnCollectorProcess(data / "collector.db", tmp)
            stack.callback(ctl.stop)
            ctl.start()
            outcomes.append(asyncio.run(soak_with_fault(ctl, fault, enroll_tokens, usage_token, **kw)))
    return outcomes
