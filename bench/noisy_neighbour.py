"""Noisy neighbour (issue 14): does a hostile tenant slow down everybody else?

Tenant B's simulated agents (default 1,000, every 10 s, open loop, real
wire-format batches of collector.sim) report to a real collector pinned to
one core. Halfway through, tenant A, whose tokens are in the wrong hands,
starts sending the hostile corpus of tests/e2e/hostile_corpus.py in a loop
(poison reports, deep nesting, 2^64 counters, truncated gzip, ReDoS and
year-5107 silences, periods 9999-12, /metrics probing) and holds connections
with unfinished headers. One run, one collector, two windows: B's latency
without A, then with A. Goal: B's p99 with A <= 1.5x its p99 without A, and
no error for B.

    .venv/bin/python bench/noisy_neighbour.py                       # about 2 minutes
    .venv/bin/python bench/noisy_neighbour.py --agents 300 --duration 20   # smoke run

Latency is measured from each request's scheduled send time (no coordinated
omission). Only 127.0.0.1 is ever contacted; every loop has a deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench.*`, `agent`, `collector`, `tests` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench._common import (
    REPO,
    VENV_BIN,
    BenchError,
    ManagedProcess,
    free_port,
    http_ok,
    machine_notes,
    pinned,
    print_table,
    running,
    start_process,
    wait_ready,
)
from bench.ingest_sustained import Pool, Records, build_plan, enroll_fleet, run_schedule
from collector import admin
from collector.db import connect, migrate
from collector.sim.model import build_fleet
from collector.sim.soak import percentile
from tests.e2e.hostile_corpus import corpus

GOAL_RATIO = 1.5
SERVER_CORE = 0


def setup(db: Path) -> dict[str, str]:
    conn = connect(db)
    try:
        migrate(conn)
        for tenant in ("stadt-a", "stadt-b"):
            admin.add_tenant(conn, tenant, actor="bench")
        return {
            "admin": admin.create_token(conn, "admin", actor="bench")[1],
            "enroll_a": admin.create_token(conn, "enroll", actor="bench", tenant="stadt-a")[1],
            "enroll_b": admin.create_token(conn, "enroll", actor="bench", tenant="stadt-b")[1],
            "tenant_a": admin.create_token(conn, "tenant", actor="bench", tenant="stadt-a")[1],
        }
    finally:
        conn.close()


class Attacker:
    """Tenant A: the hostile corpus in a loop plus connections that never finish their headers."""

    def __init__(self, base: str, port: int, tokens: dict[str, str], slow: int) -> None:
        self.base, self.port, self.slow = base, port, slow
        self.tokens = tokens
        self.statuses: Counter[str] = Counter()
        self.requests = 0
        self.stop = threading.Event()
        self.socks: list[socket.socket] = []

    def enroll(self) -> None:
        r = httpx.post(
            f"{self.base}/api/v1/enroll",
            json={"agent_id": "a-evil-1", "hostname": "a-evil-1"},
            headers={"Authorization": f"Bearer {self.tokens['enroll_a']}"},
            timeout=30,
        )
        r.raise_for_status()
        self.tokens["agent"] = r.json()["token"]

    def run(self, until: float) -> None:
        for _ in range(self.slow):
            with contextlib.suppress(OSError):
                s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
                s.sendall(b"POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                self.socks.append(s)
        # A holds no admin token: its "look" requests go out with its own tenant token
        tokens = {"agent": self.tokens["agent"], "tenant": self.tokens["tenant_a"], "admin": self.tokens["tenant_a"]}
        with httpx.Client(base_url=self.base, timeout=30) as client:
            while not self.stop.is_set() and time.monotonic() < until:
                for case in corpus("a-evil-1"):
                    if self.stop.is_set() or time.monotonic() >= until:
                        break
                    content, headers = case.request(tokens)
                    try:
                        r = client.request(case.method, case.path, content=content, params=case.params, headers=headers)
                        self.statuses[str(r.status_code)] += 1
                    except httpx.HTTPError as exc:
                        self.statuses[type(exc).__name__] += 1
                    self.requests += 1
        for s in self.socks:
            s.close()


def window(rec: Records, offsets: Sequence[float], t0: float, lo: float, hi: float) -> dict[str, float | int]:
    idx = [i for i, off in enumerate(offsets) if lo <= off < hi]
    ok = [i for i in idx if rec.status[i] == 200]
    latency = [rec.done[i] - (t0 + offsets[i]) for i in ok]
    return {
        "requests": len(idx),
        "errors": len(idx) - len(ok),
        "p50": 1000 * percentile(latency, 50),
        "p99": 1000 * percentile(latency, 99),
        "max": 1000 * max(latency, default=float("nan")),
    }


async def drive(args: argparse.Namespace, port: int, base: str, tokens: dict[str, str]) -> None:
    hosts = build_fleet(args.seed, agents=args.agents, tenants=1)
    pool = Pool([port], args.connections, 30.0)
    await pool.start()
    agent_tokens = await enroll_fleet(pool, hosts, [tokens["enroll_b"]])
    total = args.warmup + 2 * args.duration
    plan = build_plan(hosts, agent_tokens, port=port, seed=args.seed, interval=args.interval, total_s=total)
    pool.close()
    await pool.start()
    attacker = Attacker(base, port, tokens, args.slow)
    attacker.enroll()
    t0 = time.monotonic() + max(0.0, plan.wall0 - time.time())
    attack_at = t0 + args.warmup + args.duration
    thread = threading.Thread(
        target=lambda: (time.sleep(max(0.0, attack_at - time.monotonic())), attacker.run(t0 + total)),  # type: ignore[func-returns-value]
        daemon=True,
    )
    thread.start()
    await asyncio.sleep(max(0.0, t0 - time.monotonic()))
    rec = await run_schedule(pool, plan, t0, drain_s=40.0)
    attacker.stop.set()
    thread.join(60)
    pool.close()
    quiet = window(rec, plan.offsets, t0, args.warmup, args.warmup + args.duration)
    noisy = window(rec, plan.offsets, t0, args.warmup + args.duration, total)
    ratio = noisy["p99"] / quiet["p99"] if quiet["p99"] else float("nan")
    verdict = "met" if ratio <= GOAL_RATIO and not noisy["errors"] else "MISSED"
    rows = [
        ["B alone", str(quiet["requests"]), str(quiet["errors"]), f"{quiet['p50']:.1f}", f"{quiet['p99']:.1f}",
         f"{quiet['max']:.1f}", "1.00x (reference)"],
        ["B while A attacks", str(noisy["requests"]), str(noisy["errors"]), f"{noisy['p50']:.1f}",
         f"{noisy['p99']:.1f}", f"{noisy['max']:.1f}",
         f"{ratio:.2f}x ({verdict}: <= {GOAL_RATIO}x, 0 errors)"],
    ]  # fmt: skip
    print()
    print_table(
        ["tenant B's agents", "requests", "errors", "p50 ms", "p99 ms", "max ms", "p99 vs B alone"],
        rows,
        title=f"Noisy neighbour: {args.agents} agents of B every {args.interval:.0f} s, collector on one core",
    )
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(attacker.statuses.items()))
    held = len(attacker.socks)
    print(f"tenant A sent {attacker.requests} hostile requests ({statuses}) and held {held} slow connections")
    print(machine_notes())


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--agents", type=int, default=1000, help="tenant B's simulated agents")
    p.add_argument("--interval", type=float, default=10.0, help="seconds between two reports of one agent")
    p.add_argument("--warmup", type=float, default=15.0, help="seconds before the first window")
    p.add_argument("--duration", type=float, default=40.0, help="seconds of each window (without A, with A)")
    p.add_argument("--connections", type=int, default=64, help="B's keep-alive connections")
    p.add_argument("--slow", type=int, default=200, help="A's connections holding unfinished headers")
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="leitstand-noisy-") as tmp:
        workdir = Path(tmp)
        db = workdir / "collector.db"
        tokens = setup(db)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {**os.environ, "PYTHONPATH": str(REPO), "XDG_CONFIG_HOME": str(workdir), "XDG_DATA_HOME": str(workdir)}
        serve = [str(VENV_BIN / "leitstand-collector"), "serve", "--db", str(db), "--listen", f"127.0.0.1:{port}"]
        processes: list[ManagedProcess] = []
        with running(processes):
            collector = start_process("collector", pinned(SERVER_CORE, serve), log_dir=workdir, env=env, cwd=workdir)
            processes.append(collector)
            wait_ready(http_ok(f"{base}/healthz"), deadline_s=60, what="leitstand-collector serve", process=collector)
            try:
                asyncio.run(drive(args, port, base, tokens))
            except BenchError as exc:
                print(f"noisy_neighbour: {exc}", file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
