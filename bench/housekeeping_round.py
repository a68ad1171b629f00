"""One hourly housekeeping round, unpaced and paced, on the same seeded database.

Seeds a fresh database (SQLite file, or a throwaway PostgreSQL server of
tests/pg_server.py) with N hosts of one tenant and M raw samples each, 15 s
apart and received five days ago: beyond `storage.retention_days` = 3 and
`storage.downsample_after_days` = 1, so a round rolls them all up into
5-minute buckets and then deletes them (with defaults a round reads at most
200,000 raw samples or 960 per host, whichever is more: keep N x M at or
under it). Then runs the collector's
own round (`housekeeping_work` in a `Housekeeper`) once at duty 1 (unpaced)
and once at the default duty on an identical copy, and prints wall time, the
round thread's CPU time and the time it slept for the pacer. Rows written
are the same either way (tests/collector/test_housekeeping.py holds it).

  .venv/bin/python bench/housekeeping_round.py --hosts 2000 --samples 100
  .venv/bin/python bench/housekeeping_round.py --hosts 10000 --samples 20 --backend postgres
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` and the packages importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import machine_notes, print_table
from collector import admin
from collector.app import housekeeping_work
from collector.config import Config, StorageConfig
from collector.db import Target, connect, migrate
from collector.housekeeping import Housekeeper

__all__ = ["main"]

NOW = 1_764_000_000.0
CONFIG = Config(storage=StorageConfig(retention_days=3, downsample_after_days=1))
#: the duty a collector paces its rounds at (Housekeeper's default)
PACED: float = inspect.signature(Housekeeper).parameters["duty"].default


def _report(seq: int, ts: float) -> str:
    return json.dumps(
        {
            "seq": seq,
            "ts": ts,
            "interval_s": 15,
            "cpu": {"count": 4, "percent": 10.0 + seq % 7, "busy_seconds_total": 1000.0 + seq},
            "memory": {"total_bytes": 8 << 30, "used_bytes": (4 << 30) + seq},
            "disks": [{"mount": "/", "device": "sda1", "total_bytes": 100 << 30, "used_bytes": 40 << 30}],
            "net": [{"nic": "eth0", "rx_bytes_total": 1000 * seq, "tx_bytes_total": 500 * seq}],
            "load1": 0.5,
            "sessions": 1,
        }
    )


def seed(target: Target, hosts: int, samples: int) -> None:
    conn = connect(target)
    try:
        migrate(conn)
        admin.add_tenant(conn, "t1", actor="bench")
        old = NOW - 5 * 86400
        conn.execute("BEGIN")
        for h in range(hosts):
            agent = f"h{h:05d}"
            conn.execute(
                "INSERT INTO hosts (agent_id, tenant, hostname, enrolled_at) VALUES (?, 't1', ?, ?)",
                (agent, agent, old),
            )
            conn.executemany(
                "INSERT INTO samples (agent_id, epoch, seq, ts, received_at, data) VALUES (?, 0, ?, ?, ?, ?)",
                [(agent, s, old + 15 * s, old + 15 * s + 1, _report(s, old + 15 * s)) for s in range(1, samples + 1)],
            )
        conn.execute("COMMIT")
    finally:
        conn.close()


def one_round(target: Target, duty: float) -> tuple[float, float, float]:
    """(wall s, the round thread's CPU s, s slept for the pacer) of one round."""
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    keeper = Housekeeper(lambda: connect(target), housekeeping_work(CONFIG, lambda: NOW), duty=duty, sleep=sleep)
    started, cpu = time.perf_counter(), time.thread_time()
    if not keeper.run_once():
        raise RuntimeError("the round did not run")
    return time.perf_counter() - started, time.thread_time() - cpu, sum(slept)


@contextlib.contextmanager
def databases(backend: str, hosts: int, samples: int) -> Iterator[list[Target]]:
    """Two identically seeded databases: one for each round."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="leitstand-hk-") as tmp:
            first, second = Path(tmp) / "unpaced.db", Path(tmp) / "paced.db"
            seed(first, hosts, samples)
            shutil.copy(first, second)  # the seed's connection is closed: its WAL is checkpointed
            yield [first, second]
        return
    from tests.pg_server import postgres_server

    with postgres_server(fsync=True) as server:
        targets: list[Target] = [server.create_database("unpaced"), server.create_database("paced")]
        for target in targets:
            seed(target, hosts, samples)
        yield targets


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=2000)
    parser.add_argument("--samples", type=int, default=100, help="raw samples per host (default 100)")
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args(argv)
    rows = []
    with databases(args.backend, args.hosts, args.samples) as (unpaced, paced):
        for target, duty in ((unpaced, 1.0), (paced, PACED)):
            wall, cpu, slept = one_round(target, duty)
            rows.append([f"{duty:g}", f"{wall:.1f}", f"{cpu:.2f}", f"{slept:.1f}", f"{cpu / (wall or 1):.2f}"])
    title = f"{args.backend}, {args.hosts:,} hosts x {args.samples} raw samples, one housekeeping round"
    print_table(["duty", "wall s", "CPU s", "paced s", "CPU / wall"], rows, title=title)
    print(f"machine               {machine_notes()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
