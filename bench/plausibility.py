"""What the metering plausibility checks cost, side by side in one run.

1. The pure math, per report: `host_point` + `host_contributions` as shipped
   (NIC filter, per-disk totals, CPU/memory/disk/network limits, 64-bit range
   check) against the same math without any check (the code before issue 13:
   every NIC kept, one disk sum, no limits), and `device_contributions` with
   and without the page ceiling, wrap rule and replacement detection. Three
   host shapes: a server (2 NICs, 3 disks), a VM host (40 NICs: bridges, vnet,
   a bond with members) and a thin client (1 NIC, 1 disk). CPU time of the
   process, best of `--repeat` interleaved runs of `--number` calls each
   (wall time on a shared machine swings by more than what is measured).

2. The share of ingest: batches of 1 and 10 reports through
   `collector.store.ingest` (the writer's job, no HTTP) into a real SQLite
   file, 50 jobs per transaction as a busy writer commits them, as shipped;
   CPU time per report, best of `--rounds`. The checks' µs per report from
   part 1 are set against it. HTTP and JSON decoding only add to each
   report's cost, so the checks' share of bench/ingest.py's throughput is at
   most the share shown here. (Swapping the checks out of the ingest and
   running both side by side was tried: on a shared machine those runs swing
   by ±15 %, far more than the difference.)

    .venv/bin/python bench/plausibility.py            # about a minute
    .venv/bin/python bench/plausibility.py --quick    # a few seconds
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import timeit
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from _common import fmt, machine_notes, print_table

from agent.wire import AgentInfo, Batch, Cpu, Disk, Memory, Nic, Report
from collector import admin, store
from collector.db import connect, migrate
from collector.enroll import enroll as enroll_agent
from collector.metering import ledger
from collector.metering.counters import counter_delta, covered_span, split_by_hour, to_scaled
from collector.metering.plausibility import Contribution, Limits, Outcome
from collector.metering.points import (
    DevicePoint,
    HostPoint,
    device_contributions,
    host_contributions,
    host_point,
)

GOAL_SHARE = 0.10  # of ingest throughput, at most
#: a busy writer commits many jobs per transaction (collector.writer); an fsync
#: per job would hide the CPU cost this measures
JOBS_PER_COMMIT = 50
T0 = 1_793_000_000.0
GIB = 2**30


# -- the math without checks (as before issue 13) -----------------------------------


def _spread(meter: str, dim: str, start: float, end: float, scaled: int) -> Iterator[Contribution]:
    for hour, part in split_by_hour(start, end, scaled):
        yield Contribution(meter, dim, hour, part)


def unchecked_point(agent: AgentInfo, report: Report, *, tenant: str, limits: Limits) -> HostPoint:
    return HostPoint(
        ts=report.ts,
        interval_s=report.interval_s,
        boot_time=agent.boot_time,
        role=agent.role,
        cpu_busy=report.cpu.busy_seconds_total if report.cpu else None,
        nics={n.nic: (n.rx_bytes_total, n.tx_bytes_total) for n in report.net if not n.nic.startswith("lo")},
        mem_used=report.memory.used_bytes if report.memory else None,
        disk_used=sum(d.used_bytes for d in report.disks) if report.disks else None,
        sessions=report.sessions,
    )


def unchecked_host(prev: HostPoint | None, cur: HostPoint, *, limits: Limits) -> Outcome:
    out: list[Contribution] = []
    start, end = covered_span(cur.ts, cur.interval_s, prev.ts if prev else None, limits.max_interval_s)
    covered = end - start
    if covered > 0:
        out += _spread("host_hours", cur.role, start, end, to_scaled(covered, 1000))
        if cur.mem_used is not None:
            out += _spread("memory_gib_hours", "", start, end, to_scaled(cur.mem_used / 1024 * covered, 1))
        if cur.disk_used is not None:
            out += _spread("storage_gib_hours", "", start, end, to_scaled(cur.disk_used / 1024 * covered, 1))
    if prev is None or prev.ts >= cur.ts:
        return Outcome(out)
    rebooted = abs(cur.boot_time - prev.boot_time) > 5.0
    if cur.cpu_busy is not None and prev.cpu_busy is not None:
        delta = counter_delta(prev.cpu_busy, cur.cpu_busy, reset=rebooted)
        out += _spread("cpu_core_seconds", "", prev.ts, cur.ts, to_scaled(delta, 10**6))
    traffic = 0
    for nic, (rx, tx) in cur.nics.items():
        before = prev.nics.get(nic)
        if before is not None:
            traffic += int(counter_delta(before[0], rx, reset=rebooted)) + int(
                counter_delta(before[1], tx, reset=rebooted)
            )
    if traffic:
        out += _spread("network_gib", "", prev.ts, cur.ts, traffic)
    return Outcome(out)


def unchecked_device(prev: DevicePoint | None, cur: DevicePoint, *, limits: Limits) -> Outcome:
    if prev is None or prev.ts >= cur.ts:
        return Outcome()
    rebooted = prev.uptime_s is not None and cur.uptime_s is not None and cur.uptime_s < prev.uptime_s
    out: list[Contribution] = []
    for meter, before, now in (
        ("printed_pages", prev.pages_total, cur.pages_total),
        ("printed_pages_mono", prev.pages_mono, cur.pages_mono),
        ("printed_pages_color", prev.pages_color, cur.pages_color),
    ):
        if before is not None and now is not None:
            out += _spread(meter, "", prev.ts, cur.ts, int(counter_delta(before, now, reset=rebooted, bits=32)))
    return Outcome(out)


# -- report shapes ------------------------------------------------------------------


def _nics(shape: str, k: int) -> list[Nic]:
    def nic(name: str, **kw: Any) -> Nic:
        return Nic(nic=name, rx_bytes_total=10**9 + 7919 * k, tx_bytes_total=10**8 + 104_729 * k, **kw)

    if shape == "thin client":
        return [nic("lo"), nic("enp1s0", speed_bps=10**9)]
    if shape == "server":
        return [nic("lo"), nic("eno1", speed_bps=10**9), nic("docker0"), nic("veth3f2a")]
    members = [nic(f"eno{i}", speed_bps=10**10, bond="bond0") for i in (1, 2)]
    return [nic("lo"), *members, nic("bond0", speed_bps=2 * 10**10), nic("br0"), nic("virbr0")] + [
        nic(f"vnet{i}") for i in range(34)
    ]


def make_report(shape: str, k: int) -> Report:
    disks = 1 if shape == "thin client" else 3
    return Report(
        seq=k + 1,
        ts=T0 + 60 * k,
        interval_s=60,
        cpu=Cpu(count=4, percent=12.5, busy_seconds_total=1000.0 + 30 * k),
        memory=Memory(total_bytes=8 * GIB, used_bytes=4 * GIB),
        disks=[Disk(mount=f"/d{i}", total_bytes=100 * GIB, used_bytes=40 * GIB + k) for i in range(disks)],
        net=_nics(shape, k),
        sessions=1,
    )


AGENT = AgentInfo(id="bench", hostname="bench", role="server", boot_time=T0 - 86400)


# -- 1. pure math -----------------------------------------------------------------------


def best_us(call: Callable[[], object], number: int, repeat: int) -> float:
    # CPU time of this process: other processes on a shared machine do not count
    return min(timeit.repeat(call, number=number, repeat=repeat, timer=time.process_time)) / number * 1e6


def side_by_side(a: Callable[[], object], b: Callable[[], object], number: int, repeat: int) -> tuple[float, float]:
    """Best µs per call of each, the runs interleaved so drift hits both alike."""
    best_a = best_b = float("inf")
    for _ in range(repeat):
        best_a = min(best_a, best_us(a, number, 1))
        best_b = min(best_b, best_us(b, number, 1))
    return best_a, best_b


def pure_rows(number: int, repeat: int) -> tuple[list[list[str]], dict[str, float]]:
    """Rows of the table, and µs the checks add per report by host shape."""
    limits = Limits()
    rows = []
    extra: dict[str, float] = {}
    for shape in ("thin client", "server", "VM host"):
        r1, r2 = make_report(shape, 1), make_report(shape, 2)

        p1 = host_point(AGENT, r1, tenant="t", limits=limits)
        u1 = unchecked_point(AGENT, r1, tenant="t", limits=limits)

        def checked(p1: HostPoint = p1, r2: Report = r2) -> object:
            return host_contributions(p1, host_point(AGENT, r2, tenant="t", limits=limits), limits=limits)

        def unchecked(u1: HostPoint = u1, r2: Report = r2) -> object:
            return unchecked_host(u1, unchecked_point(AGENT, r2, tenant="t", limits=limits), limits=limits)

        without, with_checks = side_by_side(unchecked, checked, number, repeat)
        extra[shape] = with_checks - without
        rows.append([f"host ({shape})", fmt(without, 2), fmt(with_checks, 2), fmt(with_checks / without, 2)])
    prev = DevicePoint(T0, 1000.0, 50_000, 40_000, 10_000, "CNB1", "HP M507")
    cur = DevicePoint(T0 + 300, 1300.0, 50_120, 40_100, 10_020, "CNB1", "HP M507")
    without, with_checks = side_by_side(
        lambda: unchecked_device(prev, cur, limits=limits),
        lambda: device_contributions(prev, cur, limits=limits),
        number,
        repeat,
    )
    rows.append(["printer", fmt(without, 2), fmt(with_checks, 2), fmt(with_checks / without, 2)])
    return rows, extra


# -- 2. share of ingest ---------------------------------------------------------------------


def ingest_rate(batch: int, batches: int, shape: str) -> float:
    """Reports per CPU second through store.ingest into a fresh SQLite file."""
    with tempfile.TemporaryDirectory() as tmp:
        conn = connect(Path(tmp) / "bench.db")
        try:
            migrate(conn)
            admin.add_tenant(conn, "t1", actor="bench")
            enroll = admin.authenticate(
                conn, "Bearer " + admin.create_token(conn, "enroll", actor="bench", tenant="t1")[1]
            )
            token = enroll_agent(conn, enroll, "bench", "bench").token
            principal = admin.authenticate(conn, f"Bearer {token}")
            jobs = [
                Batch(agent=AGENT, reports=[make_report(shape, j * batch + i) for i in range(batch)])
                for j in range(batches)
            ]
            settings = ledger.MeteringSettings(limits=Limits())
            now = T0 + 10**7
            # CPU time (the fsync wait is not CPU work, and a shared machine's
            # other processes do not count): the checks' share of it is at
            # least their share of wall-clock throughput
            start = time.process_time()
            for i in range(0, len(jobs), JOBS_PER_COMMIT):
                conn.execute("BEGIN")
                for job in jobs[i : i + JOBS_PER_COMMIT]:
                    store.ingest(conn, principal, job, now, settings)
                conn.execute("COMMIT")
            return batch * batches / (time.process_time() - start)
        finally:
            conn.close()


def ingest_rows(rounds: int, reports: int, extra_us: dict[str, float]) -> tuple[list[list[str]], float]:
    """The checks' cost (part 1: µs with minus µs without, per report) as a
    share of what ingesting a report costs as shipped. A side-by-side ingest
    run would be the direct measure, but on a shared machine its runs swing by
    ±15 %, more than the 1-3 % it would show."""
    rows = []
    worst = 0.0
    for shape in ("thin client", "server", "VM host"):
        for batch in (1, 10):
            rate = max(ingest_rate(batch, reports // batch, shape) for _ in range(rounds))
            per_report = 1e6 / rate
            share = extra_us[shape] / per_report
            worst = max(worst, share)
            rows.append([shape, str(batch), fmt(rate, 0), fmt(per_report, 1), fmt(extra_us[shape], 2),
                         f"{share * 100:+.1f} %"])  # fmt: skip
    return rows, worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds: fewer calls and reports")
    parser.add_argument("--number", type=int, default=2_000, help="calls per timing run (pure math)")
    parser.add_argument("--repeat", type=int, default=40, help="timing runs per side, interleaved; the best counts")
    parser.add_argument("--reports", type=int, default=1_000, help="reports per ingest run")
    parser.add_argument("--rounds", type=int, default=11, help="ingest runs per side, interleaved; the best counts")
    args = parser.parse_args(argv)
    if args.quick:
        args.number, args.repeat, args.reports, args.rounds = 500, 5, 300, 1
    print(machine_notes())
    rows, extra_us = pure_rows(args.number, args.repeat)
    print_table(
        ["per report", "µs without checks", "µs with checks", "ratio"],
        rows,
        title="1. Pure metering math per report (host_point + host_contributions; a printer: device_contributions)",
    )
    rows, worst = ingest_rows(args.rounds, args.reports, extra_us)
    print_table(
        ["host", "reports/batch", "reports/s", "µs/report", "µs of the checks", "share"],
        rows,
        title="2. Ingest as shipped through collector.store.ingest into SQLite (no HTTP), CPU time, best run; "
        "the checks' µs from part 1 as a share of it",
    )
    verdict = "ok" if worst <= GOAL_SHARE else "ABOVE GOAL"
    print(f"\nworst cost of the checks: {worst * 100:.1f} % of ingest throughput (goal <= {GOAL_SHARE:.0%}): {verdict}")
    return 0 if worst <= GOAL_SHARE else 1


if __name__ == "__main__":
    sys.exit(main())
