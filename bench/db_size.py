"""Database bytes per host per day: raw samples against 5-minute rollups.

Simulates N hosts (the fleet of collector.sim: servers polling SNMP devices, VMs,
thin clients) for one day of 60 s reports, posted as real wire-format batches
through the real collector app (in process, over ASGI: the full HTTP handler,
the single writer, ingest with metering), into a fresh SQLite file. Then:

  (a) raw: VACUUM, and the size of every table with its indexes (dbstat);
  (b) downsampled: `collector.rollups.housekeep` as the writer's housekeeping
      runs it once the day is older than `storage.downsample_after_days`,
      then the raw samples and device readings deleted as their retention
      does (`store.prune_samples`, `devices.prune_readings`), the metering
      points as `metering.points_days` does, VACUUM, and the sizes again.

Prints a Markdown table in bytes per host per simulated day, and the time the
rollup took. Examples:

  .venv/bin/python bench/db_size.py                  # 50 hosts, 24 h: about a minute
  .venv/bin/python bench/db_size.py --agents 5 --hours 2
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

if __package__ in (None, ""):  # run as a script: make `bench` and the packages importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import machine_notes, print_table
from collector import devices, rollups, store
from collector.app import create_app
from collector.db import connect
from collector.metering import ledger
from collector.sim.model import build_fleet
from collector.sim.soak import prepare_db, run_soak
from collector.sim.wire import Fleet, Stats, enroll_all

__all__ = ["main"]

DAY = 86_400

#: rows of the table: label -> tables (with their indexes) counted in it; the rest is "other"
GROUPS: dict[str, tuple[str, ...]] = {
    "raw samples (`samples`)": ("samples",),
    "5-minute rollups (`rollups`)": ("rollups",),
    "SNMP device readings (`device_readings`)": ("device_readings",),
    "metering points (`meter_points`)": ("meter_points",),
}
OTHER = "ledger, hosts, devices, other"


@dataclass
class Sizes:
    file_bytes: int
    by_table: dict[str, int]  # table -> bytes of its pages and its indexes' pages
    rows: dict[str, int]


def measure(db: Path) -> Sizes:
    """VACUUM, then the file size and each table's share (dbstat, when SQLite has it)."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("VACUUM")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        file_bytes = conn.execute("PRAGMA page_count").fetchone()[0] * page_size
        owner = dict(conn.execute("SELECT name, tbl_name FROM sqlite_schema WHERE type IN ('table', 'index')"))
        by_table: dict[str, int] = {}
        try:
            for name, size in conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
                table = owner.get(name, name)
                by_table[table] = by_table.get(table, 0) + size
        except sqlite3.OperationalError:  # SQLite built without SQLITE_ENABLE_DBSTAT_VTAB: totals only
            by_table = {}
        rows = {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in ("samples", "rollups")}
    finally:
        conn.close()
    return Sizes(file_bytes, by_table, rows)


async def ingest_day(db: Path, *, agents: int, tenants: int, minutes: int, seed: int, now: float) -> int:
    """Post `minutes` of 60 s reports per host through the collector app; returns reports stored."""
    enroll_tokens, _billing = prepare_db(db, tenants)
    app = create_app(db)
    try:
        fleet = Fleet(build_fleet(seed, agents=agents, tenants=tenants))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://collector", timeout=120) as client:
            await enroll_all(client, fleet, enroll_tokens)
            _truth, stats, _wall = await run_soak(
                client, fleet, minutes=minutes, batch=15, concurrency=8, now=now, stats=Stats()
            )
    finally:
        app.state.collector.close()
    return stats.reports


def downsample(db: Path, *, sim_end: float) -> tuple[int, float]:
    """Housekeeping once the simulated day is past the downsampling horizon and
    past the raw retention: (rollup rows written, seconds the rollup took)."""
    conn = connect(db)
    try:
        horizon = 2 * DAY  # storage.downsample_after_days' default
        now = sim_end + horizon + rollups.DEFAULT_RESOLUTION_S  # the day's last bucket is complete and due
        t0 = time.perf_counter()
        written, _pruned = rollups.housekeep(
            conn, now=now, downsample_after_s=horizon, rollup_retention_s=400 * DAY, max_rows=None
        )
        took = time.perf_counter() - t0
        # then the raw retention ends (received_at is wall-clock time: delete all)
        store.prune_samples(conn, before=math.inf)
        devices.prune_readings(conn, before=math.inf)
        ledger.prune_points(conn, before=math.inf)
    finally:
        conn.close()
    return written, took


def render(raw: Sizes, down: Sizes, *, hosts: int, days: float) -> str:
    def per(n: int) -> str:
        return f"{n / hosts / days:,.0f}"

    def group(sizes: Sizes, tables: Sequence[str]) -> int:
        return sum(sizes.by_table.get(t, 0) for t in tables)

    rows: list[list[str]] = []
    if raw.by_table:
        named = {t for tables in GROUPS.values() for t in tables}
        for label, tables in GROUPS.items():
            rows.append([label, per(group(raw, tables)), per(group(down, tables))])
        rows.append(
            [
                OTHER,
                per(sum(v for t, v in raw.by_table.items() if t not in named)),
                per(sum(v for t, v in down.by_table.items() if t not in named)),
            ]
        )
    rows.append(["whole database file", per(raw.file_bytes), per(down.file_bytes)])
    return print_table(
        ["bytes per host per day", "(a) raw, as ingested", "(b) downsampled, raw deleted"],
        rows,
        title=f"Database size, {hosts} hosts, {days * 24:g} h of 60 s reports (after VACUUM)",
    )


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="db_size.py",
        description=(
            "Database bytes per host per day: raw samples as the collector stores them, "
            "and after downsampling into 5-minute rollups with the raw samples deleted."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: db_size.py --agents 50 --hours 24",
    )
    p.add_argument("--agents", type=int, default=50, help="simulated hosts (default 50)")
    p.add_argument("--tenants", type=int, default=4, help="member municipalities (default 4)")
    p.add_argument("--hours", type=float, default=24.0, help="simulated hours of 60 s reports (default 24)")
    p.add_argument("--seed", type=int, default=1, help="random seed: the same seed gives the same data (default 1)")
    p.add_argument("--keep", type=Path, help="directory for the database, kept afterwards (default: temporary)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    minutes = round(args.hours * 60)
    if args.agents < 1 or minutes < 10:
        print("db_size.py: needs at least 1 agent and 10 simulated minutes", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="leitstand-dbsize-") as tmp:
        directory = args.keep or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        db = directory / "collector.db"
        if db.exists():
            print(f"db_size.py: {db} exists; give an empty --keep directory", file=sys.stderr)
            return 2
        sim_end = math.floor(time.time() / 60) * 60
        t0 = time.perf_counter()
        reports = asyncio.run(
            ingest_day(db, agents=args.agents, tenants=args.tenants, minutes=minutes, seed=args.seed, now=sim_end)
        )
        ingest_s = time.perf_counter() - t0
        raw = measure(db)
        written, rollup_s = downsample(db, sim_end=sim_end)
        down = measure(db)
    days = minutes / 1440
    render(raw, down, hosts=args.agents, days=days)
    samples = raw.by_table.get("samples", raw.file_bytes)
    kept = down.by_table.get("rollups", 0)
    print()
    print(f"reports ingested      {reports:,} ({raw.rows['samples']:,} raw samples) in {ingest_s:.1f} s")
    print(
        f"rollup                {written:,} rows of 300 s from {raw.rows['samples']:,} samples in {rollup_s:.2f} s "
        f"({raw.rows['samples'] / max(rollup_s, 1e-9):,.0f} samples/s)"
    )
    if kept:
        print(f"samples vs rollups    {samples / kept:,.1f}x smaller per host per day")
    print(f"machine               {machine_notes()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
