"""The alert evaluation's read of all hosts (collector/alerting/gather.py), one
host at a time against a chunk of hosts at a time (issue 18), on SQLite and
PostgreSQL.

Builds a store of N hosts straight into the tables: a realistic latest
report each (two filesystems growing, two NICs), an hour of reports a minute
apart (the disk trend reads `--window-h` of them, every n-th; the send
interval the last 40 arrivals), 5 % of the hosts silent for an hour. Then
times rounds of the hosts' observations, the old read (the reference kept in
tests/collector/alerting/test_gather_chunks.py) and the new one by turns, in
this process, unpaced (the collector paces the same work to a share of a
core: `Pacer`), and counts the statements each sends. Prints wall time and
thread CPU per round (median of `--rounds`), statements, and new/old.
Both reads must give the same observations; the script stops if not.

`--busy N` keeps N more processes spinning on the machine meanwhile (as busy
as the bench itself, started and stopped by it): a collector under ingest
load shares its cores with its PostgreSQL server, and every round trip then
waits for the server's turn, which an idle machine does not show.

There was no bench of the evaluation alone: bench/ingest_sustained.py runs
it inside collectors under load, where a round shows only in their logs.

    .venv/bin/python bench/alert_gather.py                          # 2,000 and 10,000 hosts, both backends
    .venv/bin/python bench/alert_gather.py --hosts 2000 --backends sqlite --rounds 3
    .venv/bin/python bench/alert_gather.py --hosts 10000 --busy 2        # on a loaded machine

PostgreSQL needs Debian's `postgresql` package (a private server is started
on a free port, tests/pg_server.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import machine_notes, print_table
from collector import db
from collector.alerting import gather
from collector.alerting.gather import Sources
from collector.alerting.model import Observation
from collector.db import Connection, connect, migrate
from tests import pg_server
from tests.collector.alerting.test_gather_chunks import Counting, reference_hosts

GIB = 1 << 30
INTERVAL_S = 60.0
REPORTS = 60  # an hour a minute apart


def _report(seq: int, ts: float, used_gib: float) -> str:
    return json.dumps(
        {
            "seq": seq,
            "ts": ts,
            "interval_s": INTERVAL_S,
            "cpu": {"count": 4, "percent": 12.5, "busy_seconds_total": 86123.4 + seq},
            "memory": {"total_bytes": 8 * GIB, "used_bytes": 3 * GIB, "swap_total_bytes": GIB, "swap_used_bytes": 0},
            "disks": [
                {
                    "mount": m,
                    "device": "sda1",
                    "total_bytes": 100 * GIB,
                    "used_bytes": int((used_gib + i * 10) * GIB),
                    "read_bytes_total": 10**9 + seq,
                    "write_bytes_total": 10**9 + seq,
                }
                for i, m in enumerate(("/", "/var"))
            ],
            "net": [{"nic": n, "rx_bytes_total": 10**9 + seq, "tx_bytes_total": 10**8 + seq} for n in ("eth0", "eth1")],
            "load1": 0.4,
            "sessions": 1,
        }
    )


def build(conn: Connection, hosts: int, now: float) -> None:
    migrate(conn)
    with db.transaction(conn):
        conn.execute("INSERT INTO tenants (name, created_at) VALUES (?, ?)", ("tenant-00", now))
    for start in range(0, hosts, 500):
        host_rows, sample_rows = [], []
        for i in range(start, min(start + 500, hosts)):
            agent = f"agent-{i:05d}"
            silent = i % 20 == 0
            last = now - (3600 if silent else 20)
            for seq in range(1, REPORTS + 1):
                ts = last - INTERVAL_S * (REPORTS - seq)
                sample_rows.append((agent, 0, seq, ts, ts + 1 + (i % 5), _report(seq, ts, 30 + seq / 30 + i % 9)))
            host_rows.append(
                (agent, "tenant-00", f"host-{i:05d}", "thin-client" if i % 3 else "server", f"site-{i % 7}",
                 now - 86400, last, last + 1 + (i % 5), INTERVAL_S, REPORTS, sample_rows[-1][5])
            )  # fmt: skip
        with db.transaction(conn):
            db.insert_rows(
                conn,
                "INSERT INTO hosts (agent_id, tenant, hostname, role, site, enrolled_at, latest_ts, last_seen, "
                "interval_s, last_seq, latest)",
                host_rows,
            )
            db.insert_rows(conn, "INSERT INTO samples (agent_id, epoch, seq, ts, received_at, data)", sample_rows)
    if db.dialect(conn) == "postgres":
        conn.execute("ANALYZE")
    else:
        conn.execute("PRAGMA optimize")


Read = Callable[[Connection, float, Sources], list[Observation]]


def _new(conn: Connection, now: float, sources: Sources) -> list[Observation]:
    return gather._hosts(conn, now, sources, lambda: None)


def _old(conn: Connection, now: float, sources: Sources) -> list[Observation]:
    return reference_hosts(conn, now, sources)


def _round(read: Read, conn: Connection, now: float, sources: Sources) -> tuple[float, float, int, int]:
    counting = Counting(conn)
    started, cpu = time.perf_counter(), time.thread_time()
    out = read(counting, now, sources)  # type: ignore[arg-type]
    return time.perf_counter() - started, time.thread_time() - cpu, counting.statements, len(out)


@contextlib.contextmanager
def _store(backend: str, tmp: Path, n: int, server: Callable[[], pg_server.PostgresServer]) -> Iterator[Connection]:
    if backend == "sqlite":
        conn = connect(tmp / f"gather-{n}.db", synchronous="normal")
    else:
        conn = connect(server().create_database(f"gather{n}"))
    try:
        yield conn
    finally:
        conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, nargs="*", default=[2000, 10000])
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each read, by turns")
    parser.add_argument("--busy", type=int, default=0, help="processes spinning meanwhile (a loaded machine)")
    parser.add_argument("--window-h", type=float, default=1.0, help="the disk trend's window (default config: 6)")
    args = parser.parse_args()
    print(machine_notes(), file=sys.stderr)
    rows: list[list[str]] = []
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="leitstand-gather-") as tmp, contextlib.ExitStack() as stack:
        servers: list[pg_server.PostgresServer] = []

        def server() -> pg_server.PostgresServer:
            if not servers:
                servers.append(stack.enter_context(pg_server.postgres_server(fsync=False)))
            return servers[0]

        for backend in args.backends.split(","):
            for n in args.hosts:
                with _store(backend, Path(tmp), n, server) as conn:
                    now = time.time()
                    started = time.perf_counter()
                    build(conn, n, now)
                    print(f"{backend}: built {n:,} hosts in {time.perf_counter() - started:.0f} s", file=sys.stderr)
                    sources = Sources(disk_window_s=args.window_h * 3600)
                    if _new(conn, now, sources) != _old(conn, now, sources):
                        raise SystemExit(f"{backend}, {n} hosts: the two reads disagree")
                    results: dict[str, list[tuple[float, float, int, int]]] = {"old": [], "new": []}
                    spinning = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)]
                    try:
                        for r in range(args.rounds):
                            order = (("old", _old), ("new", _new)) if r % 2 == 0 else (("new", _new), ("old", _old))
                            for name, read in order:
                                results[name].append(_round(read, conn, now, sources))
                                loads.append(os.getloadavg()[0])
                    finally:
                        for proc in spinning:
                            proc.kill()
                            proc.wait()
                    old_wall = statistics.median(x[0] for x in results["old"])
                    new_wall = statistics.median(x[0] for x in results["new"])
                    old_cpu = statistics.median(x[1] for x in results["old"])
                    new_cpu = statistics.median(x[1] for x in results["new"])
                    rows.append(
                        [
                            backend,
                            f"{n:,}",
                            f"{results['new'][0][3]:,}",
                            f"{old_wall:.2f}",
                            f"{new_wall:.2f}",
                            f"{new_wall / old_wall:.2f}x",
                            f"{old_cpu:.2f}",
                            f"{new_cpu:.2f}",
                            f"{new_cpu / old_cpu:.2f}x",
                            f"{results['old'][0][2]:,}",
                            f"{results['new'][0][2]:,}",
                            " ".join(f"{x[0]:.2f}" for x in results["old"]) + " / "
                            + " ".join(f"{x[0]:.2f}" for x in results["new"]),
                        ]
                    )  # fmt: skip
    print_table(
        [
            "backend",
            "hosts",
            "observations",
            "old s",
            "new s",
            "new/old",
            "old CPU s",
            "new CPU s",
            "new/old CPU",
            "old statements",
            "new statements",
            "rounds old / new (s)",
        ],
        rows,
        title=f"A round's read of all hosts, unpaced, median of {args.rounds} "
        f"(disk window {args.window_h:g} h; {args.busy} processes spinning; "
        f"load average {min(loads):.1f}-{max(loads):.1f}):",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
