"""Scrape latency and size of the collector's /metrics at 1,000 and 10,000 hosts.

Builds a collector database of N hosts (a realistic latest report each: two
filesystems, two NICs, sessions; 5 % offline), a printer, UPS and switch per
50 hosts, 20 tenants, 14 months of hourly ledger, 40 minutes of samples
(for the send-interval estimate), then scrapes GET /metrics through the real
app (in process, ASGI, its lifespan run as under uvicorn) several times and
prints a Markdown table: the first scrape right after the start (the
start-up warm-up of the scrape caches may still run), median and worst of
the later ones, first/warm, series, size plain and gzipped, and the same
per tenant (``?tenant=``, the sharding path).

A second table compares the exposition's CPU per series, measured in the
same run: the old path (prometheus_client's ``generate_latest`` of
``LeitstandCollector``, kept as the reference), the collector's exposition
writer, and node_exporter's own (its process CPU over scrapes of this
machine, from /proc; Debian package prometheus-node-exporter), and the
first scrape of a collector without warm-up, where the scrape computes
every cache itself (ledger history, send intervals), also after an outage
longer than the send-interval window. Each of ours counts the whole scrape:
queries, families and text.

A third table times an agent's report to the same collector while a scrape
of all hosts renders, against the same report with no scrape: the scrape
runs in a worker thread, so the event loop answers agents meanwhile (only
the GIL is shared).

    .venv/bin/python bench/metrics_scrape.py            # 1,000 and 10,000 hosts
    .venv/bin/python bench/metrics_scrape.py --hosts 2000 --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from collector import admin
from collector.app import create_app
from collector.config import Config, ServerConfig
from collector.db import connect, migrate
from collector.metrics import ScrapeState, Source, render, render_reference

GIB = 1 << 30
TENANTS = 20


def build(db: Path, hosts: int, now: float) -> str:
    conn = connect(db, synchronous="normal")
    migrate(conn)
    token = admin.create_token(conn, "metrics", actor="bench")[1]
    conn.execute("BEGIN")
    for t in range(TENANTS):
        conn.execute("INSERT INTO tenants (name, created_at) VALUES (?, ?)", (f"tenant-{t:02d}", now))
    host_rows, sample_rows = [], []
    for i in range(hosts):
        tenant = f"tenant-{i % TENANTS:02d}"
        role = "thin-client" if i % 3 else "server"
        last_seen = now - (3600 if i % 20 == 0 else 10)
        report = {
            "seq": 100,
            "ts": last_seen,
            "interval_s": 15,
            "cpu": {"count": 4, "percent": 12.5, "busy_seconds_total": 86123.4},
            "memory": {"total_bytes": 8 * GIB, "used_bytes": 3 * GIB, "swap_total_bytes": GIB, "swap_used_bytes": 0},
            "disks": [
                {
                    "mount": m,
                    "device": "sda1",
                    "total_bytes": 100 * GIB,
                    "used_bytes": 40 * GIB,
                    "read_bytes_total": 10**9,
                    "write_bytes_total": 10**9,
                }
                for m in ("/", "/var")
            ],
            "net": [{"nic": n, "rx_bytes_total": 10**9, "tx_bytes_total": 10**8} for n in ("eth0", "eth1")],
            "load1": 0.4,
            "sessions": 1,
        }
        agent = f"agent-{i:05d}"
        host_rows.append(
            (
                agent,
                tenant,
                f"host-{i:05d}",
                role,
                f"site-{i % 7}",
                "Linux 6.1",
                "0.1.0",
                now - 86400,
                now,
                100,
                last_seen - 1,
                last_seen,
                last_seen,
                15.0,
                100,
                json.dumps(report),
            )
        )
        sample_rows += [(agent, 0, s, now - 60 * (40 - s), now - 60 * (40 - s), "{}") for s in range(40)]
    conn.executemany(
        "INSERT INTO hosts (agent_id, tenant, hostname, role, site, os, version, boot_time, enrolled_at, last_seq, "
        "last_ts, latest_ts, last_seen, interval_s, reports_total, latest) VALUES "
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        host_rows,
    )
    conn.executemany(
        "INSERT INTO samples (agent_id, epoch, seq, ts, received_at, data) VALUES (?, ?, ?, ?, ?, ?)", sample_rows
    )
    for d in range(hosts // 50):
        kind = ("printer", "ups", "switch")[d % 3]
        reading: dict[str, object] = {"device": f"dev-{d}", "kind": kind, "ok": True, "sys": {"uptime_s": 100}}
        if kind == "printer":
            reading["printer"] = {
                "pages_total": 1000,
                "device_status": "running",
                "supplies": [{"index": "1", "description": "Black", "percent": 50}],
            }
        elif kind == "ups":
            reading["ups"] = {"source": "ups-mib", "on_battery": False, "runtime_s": 1800, "charge_pct": 100}
        else:
            reading["interfaces"] = [
                {
                    "index": p,
                    "name": f"Gi1/0/{p}",
                    "oper_status": "up",
                    "uplink": p > 48,
                    "in_octets_total": 10**9,
                    "out_octets_total": 10**9,
                }
                for p in range(1, 53)
            ]
        conn.execute(
            "INSERT INTO devices (device_id, tenant, agent_id, kind, first_seen, last_seen, last_ts, ok, "
            "readings_total, latest) VALUES (?, ?, ?, ?, ?, ?, ?, 1, 10, ?)",
            (f"dev-{d}", f"tenant-{d % TENANTS:02d}", f"agent-{d * 50:05d}", kind, now, now, now, json.dumps(reading)),
        )
    start_hour = int(now // 3600) * 3600 - 14 * 30 * 86400
    conn.executemany(
        "INSERT INTO ledger (tenant, hour, meter, dim, scaled) VALUES (?, ?, ?, ?, ?)",
        [
            (f"tenant-{t:02d}", h, meter, "", 10**9)
            for t in range(TENANTS)
            for h in range(start_hour, int(now), 3600)
            for meter in ("cpu_core_seconds", "memory_gib_hours", "storage_gib_hours", "network_gib")
        ],
    )
    conn.execute("COMMIT")
    conn.close()
    return token


async def scrape(db: Path, token: str, runs: int, tenant: str | None) -> tuple[list[float], int, int, int]:
    """Latencies of `runs` scrapes of a collector that has just started (its
    ASGI lifespan runs, as under uvicorn): the first comes at once, while the
    start-up warm-up may still run."""
    app = create_app(db)
    times: list[float] = []
    body = b""
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://collector") as client,
        ):
            for _ in range(runs):
                started = time.perf_counter()
                r = await client.get(
                    "/metrics",
                    params={"tenant": tenant} if tenant else None,
                    headers={"Authorization": f"Bearer {token}", "Accept-Encoding": "identity"},
                )
                times.append(time.perf_counter() - started)
                assert r.status_code == 200, r.text
                body = r.content
    finally:
        app.state.collector.close()
    return times, _series(body), len(body), len(gzip.compress(body, 1))


async def ingest_during_scrape(db: Path, token: str, probes: int = 20) -> tuple[float, float, float, int]:
    """An agent's report answered while a whole scrape renders, against the
    same report with no scrape: median ms idle, median and worst ms during
    the scrape, and how many reports were answered before it ended."""
    conn = connect(db)
    try:
        enroll = admin.create_token(conn, "enroll", actor="bench", tenant="tenant-00")[1]
    finally:
        conn.close()
    # one agent reporting as fast as it is answered: no per-token limit
    app = create_app(db, Config(server=ServerConfig(rate_limit_rps=0)))
    seq = 0

    async def report(client: httpx.AsyncClient, agent_token: str) -> float:
        nonlocal seq
        seq += 1
        body = {
            "agent": {"id": "probe", "hostname": "probe", "version": "0.1.0", "role": "server", "site": "s"},
            "reports": [{"seq": seq, "ts": time.time(), "interval_s": 15, "load1": 0.1}],
        }
        started = time.perf_counter()
        r = await client.post("/api/v1/reports", json=body, headers={"Authorization": f"Bearer {agent_token}"})
        assert r.status_code == 200, r.text
        return (time.perf_counter() - started) * 1000

    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://collector") as client,
        ):
            r = await client.post(
                "/api/v1/enroll",
                json={"agent_id": "probe", "hostname": "probe"},
                headers={"Authorization": f"Bearer {enroll}"},
            )
            assert r.status_code == 200, r.text
            agent_token = r.json()["token"]
            await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})  # caches warm
            idle = [await report(client, agent_token) for _ in range(probes)]
            scraping = asyncio.create_task(
                client.get("/metrics", headers={"Authorization": f"Bearer {token}", "Accept-Encoding": "identity"})
            )
            during: list[float] = []
            while not scraping.done():
                during.append(await report(client, agent_token))
            (await scraping).raise_for_status()
    finally:
        app.state.collector.close()
    # the last report may have been answered after the scrape: count the ones before
    answered = len(during) - 1
    return statistics.median(idle), statistics.median(during), max(during), answered


def _series(body: bytes) -> int:
    return sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))


def exposition_us(db: Path, runs: int) -> tuple[float, float, float, float, int]:
    """µs of thread CPU per series: the first scrape of a collector without
    its start-up warm-up (every cache computed by the scrape); the same after
    the collector was down longer than the send-interval window (no host has
    arrivals in it: every host's estimate comes from its last reports); the
    median of `runs` of the writer and of the old path; and the series."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, check_same_thread=False)
    state = ScrapeState()
    try:

        def source(after_outage: bool = False) -> Source:
            if not after_outage:
                return Source(conn=conn, now=time.time(), db_path=str(db), state=state)
            # an hour later, hosts and devices still counted up: the same series
            return Source(
                conn=conn,
                now=time.time() + 3600,
                db_path=str(db),
                offline_after_s=7200,
                stale_after_s=7200,
                state=ScrapeState(),
            )

        started = time.thread_time()
        series = _series(render(source())[0])
        first = time.thread_time() - started
        started = time.thread_time()
        outage_series = _series(render(source(after_outage=True))[0])
        outage = time.thread_time() - started
        old, new = [], []
        for _ in range(runs):
            started = time.thread_time()
            render_reference(source())
            old.append(time.thread_time() - started)
            started = time.thread_time()
            render(source())
            new.append(time.thread_time() - started)
    finally:
        conn.close()
    return (
        first * 1e6 / series,
        outage * 1e6 / outage_series,
        statistics.median(new) * 1e6 / series,
        statistics.median(old) * 1e6 / series,
        series,
    )


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def node_exporter_us(scrapes: int = 40) -> tuple[float, int]:
    """node_exporter's CPU per series over `scrapes` scrapes of this machine."""
    exe = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
    if exe is None:
        raise SystemExit("node_exporter not found: apt-get install prometheus-node-exporter (make system-deps)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [exe, f"--web.listen-address=127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        deadline = time.monotonic() + 30
        while True:
            try:
                body = httpx.get(url, headers={"Accept-Encoding": "identity"}).content
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("node_exporter did not start") from None
                time.sleep(0.05)
        series = _series(body)
        with httpx.Client(headers={"Accept-Encoding": "identity"}) as client:
            before = _cpu_seconds(proc.pid)
            for _ in range(scrapes):
                client.get(url).raise_for_status()
            spent = _cpu_seconds(proc.pid) - before
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return spent * 1e6 / scrapes / series, series


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, nargs="*", default=[1000, 10000])
    parser.add_argument("--runs", type=int, default=5, help="scrapes per size (the first fills the caches)")
    args = parser.parse_args()
    rows, cpu_rows, ingest_rows = [], [], []
    ne_us, ne_series = node_exporter_us()
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.hosts:
            db = Path(tmp) / f"bench-{n}.db"
            now = time.time()
            started = time.perf_counter()
            token = build(db, n, now)
            print(f"built {n} hosts in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            first_us, outage_us, new_us, old_us, series = exposition_us(db, args.runs)
            cpu_rows.append(
                f"| {n:,} | {series:,} | {first_us:.2f} | {outage_us:.2f} | {new_us:.2f} | {old_us:.2f} | "
                f"{ne_us:.2f} | {first_us / new_us:.2f}x | {outage_us / new_us:.2f}x | {new_us / ne_us:.2f}x | "
                f"{first_us / ne_us:.2f}x |"
            )
            idle_ms, during_ms, worst_ms, answered = asyncio.run(ingest_during_scrape(db, token))
            ingest_rows.append(
                f"| {n:,} | {idle_ms:.1f} | {during_ms:.1f} | {worst_ms:.1f} | "
                f"{during_ms / idle_ms:.2f}x | {answered} |"
            )
            for tenant in (None, "tenant-00"):
                times, series, size, gz = asyncio.run(scrape(db, token, args.runs, tenant))
                warm = statistics.median(times[1:] or times)
                rows.append(
                    f"| {n:,} | {tenant or 'all'} | {times[0] * 1000:,.0f} | {warm * 1000:,.0f} | "
                    f"{times[0] / warm:.2f}x | {max(times[1:] or times) * 1000:,.0f} | {series:,} | "
                    f"{size / 1e6:.1f} | {gz / 1e6:.2f} |"
                )
    print("Scrapes over HTTP of a collector just started (warm-up at start-up, first scrape at once):")
    print()
    print("| hosts | scrape | first ms | warm median ms | first/warm | worst warm ms | series | MB | MB gzip |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    print("\n".join(rows))
    print()
    print(
        f"Exposition CPU per series; first = a scrape computing every cache itself (no warm-up); "
        f"node_exporter: {ne_series:,} series of this machine, same run."
    )
    print()
    print(
        "| hosts | series | first µs/series | first after outage | writer (warm) | old path (warm) | node_exporter "
        "| first/writer | outage/writer | writer/node_exporter | first/node_exporter |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    print("\n".join(cpu_rows))
    print()
    print("An agent's report answered while a scrape of all hosts renders (the scrape runs in a worker thread):")
    print()
    print("| hosts | report ms, no scrape | report ms during a scrape | worst | during/none | reports answered |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    print("\n".join(ingest_rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
