"""The writer thread's work per report: deferred batches against job by job, in one run.

Ingest jobs (`collector.store.IngestJob`, metering on) of `--agents` enrolled
agents go straight into `collector.writer.Writer._commit`, `--batch` jobs per
writer transaction, into a real SQLite file (WAL, synchronous=full: the
production default), the way the writer thread runs them: no HTTP, no event
loop, batches decoded before the clock starts. Jobs of 1 report (the agent
default, an agent that keeps up) and of 10 (one catching up). Each setting
runs twice, alternating, each into a fresh file: with deferred batches (the
shipped default, `WriteState.deferral`) and job by job, each job in its
savepoint writing its own rows (the reference, as before issue 18's
deferral); the best of `--repeat` rounds counts. Measured: process CPU per
report, SQL statements SQLite runs per report (sqlite3's trace callback: an
executemany counts once per row), and pages
written per commit (WAL frames, with the automatic checkpoint off for that
count only), with `--btrees` also per B-tree (`dbstat`).

Pages per commit grow with the database: once each agent's entries fill
leaves of their own, the indexes keyed by agent take a leaf per report
(README, Ingest per core). `--warm` stores that many reports first,
outside the measurement, to measure a database that has run for a while.

    .venv/bin/python bench/writer_batches.py            # about a minute
    .venv/bin/python bench/writer_batches.py --batch 8 --warm 25600 --reports 1600 --btrees
"""

from __future__ import annotations

import argparse
import collections
import os
import sqlite3
import sys
import tempfile
import time
from concurrent.futures import Future
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import fmt, machine_notes, print_table
from ingest import batch_json

from agent.wire import decode_batch
from collector import store
from collector.admin import Principal, add_tenant, authenticate, create_token
from collector.db import connect, migrate
from collector.enroll import enroll
from collector.metering.booking import MeteringSettings
from collector.writer import Writer, _Item

WAL_FRAME_HEADER = 24


def setup(path: Path, agents: int) -> list[str]:
    conn = connect(path)
    try:
        migrate(conn)
        add_tenant(conn, "bench", actor="bench")
        enroller = authenticate(conn, "Bearer " + create_token(conn, "enroll", actor="bench", tenant="bench")[1])
        ids = [f"wp-{i:04d}" for i in range(agents)]
        for agent_id in ids:
            enroll(conn, enroller, agent_id, agent_id)
        return ids
    finally:
        conn.close()


def jobs_for(ids: list[str], job_size: int, reports: int) -> list[store.IngestJob]:
    seqs = dict.fromkeys(ids, 0)
    ts0 = time.time() - 3600
    # one settings object for every job, as the collector has (`Collector.metering`): a
    # new one per job cost a nic filter lookup by value (~5 µs) that the collector never pays
    metering = MeteringSettings()
    jobs = []
    for n in range(reports // job_size):
        agent_id = ids[n % len(ids)]
        first = seqs[agent_id] + 1
        seqs[agent_id] += job_size
        body = batch_json(agent_id, first, job_size, ts0 + n * job_size / 1000)
        principal = Principal(token_id=agent_id, role="agent", tenant="bench", agent_id=agent_id)
        jobs.append(store.IngestJob(principal, decode_batch(body.encode()), time.time(), metering))
    return jobs


def run(args: argparse.Namespace, job_size: int, *, deferral: bool, counting: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="leitstand-writer-") as tmp:
        path = Path(tmp) / "w.db"
        ids = setup(path, args.agents)
        warm = args.warm // job_size // args.batch * args.batch
        jobs = jobs_for(ids, job_size, warm * job_size + args.reports)
        items = [[_Item(job, Future(), tuple(job.streams)) for job in jobs[i : i + args.batch]]
                 for i in range(0, len(jobs), args.batch)]  # fmt: skip
        writer = Writer(lambda: connect(path))
        writer.state.deferral = deferral
        conn = writer.connection()
        assert isinstance(conn, sqlite3.Connection)
        for batch in items[: warm // args.batch]:
            writer._commit(conn, batch)
        items, jobs, writer.commits = items[warm // args.batch :], jobs[warm:], 0
        statements: list[str] = []
        if counting:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("PRAGMA wal_autocheckpoint=0")
            conn.set_trace_callback(statements.append)
        cpu = time.process_time()
        for batch in items:
            writer._commit(conn, batch)
        cpu = time.process_time() - cpu
        for batch in items:
            for item in batch:
                item.future.result()  # every job stored
        result = {"us_per_report": cpu / (len(jobs) * job_size) * 1e6, "commits": writer.commits}
        if counting:
            frames = (os.path.getsize(f"{path}-wal") - 32) / (4096 + WAL_FRAME_HEADER)
            result["statements"] = len(statements) / (len(jobs) * job_size)
            result["pages"] = frames / writer.commits
            if args.btrees:
                result.update({f"btree {name}": n / writer.commits for name, n in pages_by_btree(conn, path).items()})
        conn.close()
        return result


def pages_by_btree(conn: sqlite3.Connection, path: Path) -> dict[str, int]:
    """WAL frames per B-tree (table or index name) of what the WAL holds now."""
    names = dict(conn.execute("SELECT pageno, name FROM dbstat"))
    found: collections.Counter[str] = collections.Counter()
    with open(f"{path}-wal", "rb") as wal:
        wal.seek(32)
        while header := wal.read(WAL_FRAME_HEADER):
            if len(header) < WAL_FRAME_HEADER:
                break
            found[names.get(int.from_bytes(header[:4], "big"), "?")] += 1
            wal.seek(4096, os.SEEK_CUR)
    return dict(found.most_common())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=64, help="enrolled agents the jobs rotate over")
    parser.add_argument("--batch", type=int, default=16, help="jobs per writer transaction")
    parser.add_argument("--reports", type=int, default=3200, help="reports per run")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best CPU of each side counts")
    parser.add_argument("--core", type=int, help="pin the process to this core (default: not pinned)")
    parser.add_argument("--warm", type=int, default=0, help="reports stored first, not measured (an older database)")
    parser.add_argument("--btrees", action="store_true", help="also print pages per commit by B-tree")
    args = parser.parse_args()
    if args.core is not None:
        os.sched_setaffinity(0, {args.core})
    rows: list[list[str]] = []
    btrees: list[list[str]] = []
    for job_size in (1, 10):
        best: dict[bool, float] = {}
        counts: dict[bool, dict[str, float]] = {}
        for deferral in (True, False):
            counts[deferral] = run(args, job_size, deferral=deferral, counting=True)
        for _ in range(args.repeat):
            for deferral in (True, False):
                cpu = run(args, job_size, deferral=deferral, counting=False)["us_per_report"]
                best[deferral] = min(best.get(deferral, cpu), cpu)
        for deferral, label in ((True, "deferred batch"), (False, "job by job (reference)")):
            ratio = best[deferral] / best[False]
            rows.append([f"jobs of {job_size}, {label}", fmt(best[deferral]), f"{ratio:.2f}x",
                         fmt(counts[deferral]["statements"], 2), fmt(counts[deferral]["pages"])])  # fmt: skip
            for key, pages in counts[deferral].items():
                if deferral and key.startswith("btree "):
                    btrees.append([f"jobs of {job_size}, {label}", key.removeprefix("btree "), fmt(pages, 1)])
    print(machine_notes())
    title = (f"Writer thread per report: {args.agents} agents, {args.batch} jobs per commit, {args.reports} reports "
             f"per run after {args.warm} stored first, best of {args.repeat}, SQLite synchronous=full, "
             "metering on")  # fmt: skip
    header = ["setting", "CPU µs/report", "vs job by job", "statements/report", "pages/commit"]
    print_table(header, rows, title=title)
    if btrees:
        print_table(["setting", "B-tree", "pages/commit"], btrees, title="Pages per commit by B-tree, deferred batches")


if __name__ == "__main__":
    main()
