"""The ledger against an independent reference model.

Random fleets (hosts with a printer each) report with random intervals,
outages, reboots, counter resets, 32-bit page counter wraps, printer
replacements and hostile spikes; the reports arrive in random order and
batches through the real ingest (`store.ingest`) into a real SQLite file.
The model below recomputes, from the rules in DESIGN.md and the README,
what each pair of consecutive readings books or holds. The ledger must
equal it exactly, the quarantine must hold exactly what it does not book,
and no held quantity may reach the usage totals or an export.

Values are chosen so every quantity is an exact integer in its scaled unit
(whole seconds, memory in whole KiB): the model needs no rounding rules.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.wire import Batch
from collector import admin, store
from collector.db import Connection, connect, migrate
from collector.enroll import enroll as enroll_agent
from collector.metering import export, ledger, pricing
from collector.metering.model import Period
from collector.metering.tariffs import TariffBook

START = Period(2026, 11).start_ts + 7200  # every report falls in November 2026
GIB = 2**30
MIB = 2**20
WRAP = 2**32
STEPS = (15, 60, 600, 900)
# the plausibility limits' defaults (collector config [metering.limits])
CPU_TOLERANCE, CPU_SLACK = 1.05, 2.0
NET_CEILING_BYTES_PER_S = 100e9 / 8
PAGES_PER_MINUTE, PAGES_SLACK = 300.0, 20.0
BOOT_TOLERANCE = 5.0


@dataclass
class Step:
    """What happens to one host between two reports."""

    dt: int  # seconds since the previous report
    interval: int  # declared interval_s (an outage: dt far beyond it)
    reboot: bool
    cpu: int  # busy seconds added (or since the reboot)
    cpu_spike: bool
    mem_mib: int
    mem_over_total: bool
    net: int
    net_spike: bool
    pages: int
    pages_spike: bool
    printer_swap: bool
    printer_reboot: bool


@dataclass
class Host:
    agent: str
    tenant: str
    cores: int
    pages_start: int
    steps: list[Step]
    reports: list[dict[str, Any]] = field(default_factory=list)


def step_strategy() -> st.SearchStrategy[Step]:
    @st.composite
    def build(draw: st.DrawFn) -> Step:
        interval = draw(st.sampled_from(STEPS))
        outage = draw(st.integers(0, 4)) == 0
        dt = interval * draw(st.integers(3, 12)) if outage else interval
        return Step(
            dt=dt,
            interval=interval,
            reboot=draw(st.integers(0, 7)) == 0,
            cpu=draw(st.integers(0, dt)),  # scaled by the cores below
            cpu_spike=draw(st.integers(0, 9)) == 0,
            mem_mib=draw(st.integers(0, 8192)),
            mem_over_total=draw(st.integers(0, 11)) == 0,
            net=draw(st.integers(0, 10**9)),
            net_spike=draw(st.integers(0, 11)) == 0,
            pages=draw(st.integers(0, dt * 5)),  # within 300 pages per minute
            pages_spike=draw(st.integers(0, 11)) == 0,
            printer_swap=draw(st.integers(0, 11)) == 0,
            printer_reboot=draw(st.integers(0, 9)) == 0,
        )

    return build()


def fleet_strategy() -> st.SearchStrategy[list[Host]]:
    @st.composite
    def build(draw: st.DrawFn) -> list[Host]:
        hosts = []
        for i in range(draw(st.integers(1, 3))):
            hosts.append(
                Host(
                    agent=f"h{i}",
                    tenant=("stadt-a", "stadt-b")[i % 2],
                    cores=draw(st.sampled_from((1, 2, 4))),
                    # a counter that starts near the top of 32 bits wraps soon
                    pages_start=draw(st.sampled_from((0, 1000, WRAP - 2000))),
                    steps=draw(st.lists(step_strategy(), min_size=1, max_size=14)),
                )
            )
        return hosts

    return build()


# -- what the agents send ------------------------------------------------------------


def render(host: Host) -> None:
    """Turn a host's steps into wire reports (seq 1..n+1), each with a printer reading."""
    ts, boot, busy, rx, uptime = START, START - 86400, 1000, 10**6, 5000.0
    pages, serial, mem = host.pages_start, 1, 1024
    hostile_net = 0
    host.reports = [_report(host, 1, ts, 60, boot, busy, mem, GIB * 8, rx, pages, uptime, serial)]
    for n, s in enumerate(host.steps, start=2):
        ts += s.dt
        if s.reboot:
            since = max(1, s.dt // 2)
            boot = ts - since
            busy = min(s.cpu, since) * host.cores  # busy time since the boot
            rx = s.net
        else:
            busy += s.cpu * host.cores
            rx += s.net
        if s.cpu_spike:
            busy += 10**7  # far beyond cores x time
        if s.net_spike and hostile_net < 4:  # stays within 2**63 however often
            rx += 2**60
            hostile_net += 1
        total = GIB * 8
        mem = s.mem_mib * MIB
        if s.mem_over_total:
            mem = total + s.mem_mib * MIB + MIB
        if s.printer_swap:
            serial += 1
            pages = s.pages  # the new unit's own counter
        else:
            pages = (pages + s.pages + (10**6 if s.pages_spike else 0)) % WRAP
        uptime = float(s.dt // 2 + 1) if s.printer_reboot else uptime + s.dt
        host.reports.append(_report(host, n, ts, s.interval, boot, busy, mem, total, rx, pages, uptime, serial))


def _report(host: Host, seq: int, ts: float, interval: int, boot: float, busy: int, mem: int, total: int, rx: int,
            pages: int, uptime: float, serial: int) -> dict[str, Any]:  # fmt: skip
    return {
        "seq": seq,
        "ts": ts,
        "interval_s": interval,
        "boot_time": boot,  # not a wire field: moved to the agent info when sent
        "cpu": {"count": host.cores, "percent": 1.0, "busy_seconds_total": float(busy)},
        "memory": {"total_bytes": total, "used_bytes": mem},
        "disks": [{"mount": "/", "device": "sda1", "total_bytes": 100 * GIB, "used_bytes": 10 * GIB}],
        "net": [{"nic": "eth0", "rx_bytes_total": rx, "tx_bytes_total": 0}],
        "snmp": [
            {
                "device": f"prn-{host.agent}",
                "kind": "printer",
                "ts": ts,
                "sys": {"uptime_s": uptime},
                "printer": {"pages_total": pages, "serial": f"SN{serial}", "model": "MFP"},
            }
        ],
    }


# -- the reference model -------------------------------------------------------------

Booked = Counter[tuple[str, str, str]]  # (tenant, meter, dim) -> scaled
Held = Counter[tuple[str, str, str, float, float, int]]  # (tenant, rule, meter, start, end, scaled)


def model(hosts: list[Host]) -> tuple[Booked, Held]:
    booked: Booked = Counter()
    held: Held = Counter()
    for host in hosts:
        t = host.tenant
        prev: dict[str, Any] | None = None
        for r in host.reports:
            ts = r["ts"]
            # gauges: the declared interval before ts, never time the previous report covered
            covered = min(r["interval_s"], 86400, ts - prev["ts"]) if prev else min(r["interval_s"], 86400)
            start = ts - covered
            booked[(t, "host_hours", "server")] += int(covered) * 1000
            used, total = r["memory"]["used_bytes"], r["memory"]["total_bytes"]
            kib_s = used // 1024 * int(covered)
            if used > total:
                held[(t, "memory_above_total", "memory_gib_hours", start, ts, kib_s)] += 1
            else:
                booked[(t, "memory_gib_hours", "")] += kib_s
            booked[(t, "storage_gib_hours", "")] += 10 * GIB // 1024 * int(covered)
            if prev is not None:
                span = ts - prev["ts"]
                moved = abs(r["boot_time"] - prev["boot_time"]) > BOOT_TOLERANCE
                rebooted = moved and prev["ts"] - BOOT_TOLERANCE <= r["boot_time"] <= ts + BOOT_TOLERANCE
                # cpu: a reboot or a decrease means the counter started again
                b0, b1 = prev["cpu"]["busy_seconds_total"], r["cpu"]["busy_seconds_total"]
                delta = b1 if rebooted or b1 < b0 else b1 - b0
                if delta > host.cores * (span * CPU_TOLERANCE + CPU_SLACK):
                    held[(t, "cpu_above_cores", "cpu_core_seconds", prev["ts"], ts, int(delta) * 10**6)] += 1
                else:
                    booked[(t, "cpu_core_seconds", "")] += int(delta) * 10**6
                rx0, rx1 = prev["net"][0]["rx_bytes_total"], r["net"][0]["rx_bytes_total"]
                d_rx = rx1 if rebooted or rx1 < rx0 else rx1 - rx0
                if d_rx > NET_CEILING_BYTES_PER_S * (span * 1.05 + 2.0):
                    held[(t, "network_above_link", "network_gib", prev["ts"], ts, d_rx)] += 1
                else:
                    booked[(t, "network_gib", "")] += d_rx
                _pages(booked, held, t, prev, r, span)
            prev = r
    return +booked, held


def _pages(booked: Booked, held: Held, tenant: str, prev: dict[str, Any], cur: dict[str, Any], span: float) -> None:
    p0, p1 = prev["snmp"][0], cur["snmp"][0]
    before, now = p0["printer"]["pages_total"], p1["printer"]["pages_total"]
    limit = PAGES_PER_MINUTE * span / 60 + PAGES_SLACK
    replaced = p0["printer"]["serial"] != p1["printer"]["serial"]
    rebooted = p1["sys"]["uptime_s"] < p0["sys"]["uptime_s"]
    if replaced:
        delta = now  # a new unit: its counter is the delta
    elif now >= before:
        delta = now - before
    elif not rebooted and before >= WRAP // 2 and now + WRAP - before <= limit:
        delta = now + WRAP - before  # a Counter32 wrap
    else:
        delta = now  # a reset
    for meter in ("printed_pages",):
        if delta > limit:
            held[(tenant, "pages_above_ceiling", meter, prev["ts"], cur["ts"], delta)] += 1
        else:
            booked[(tenant, meter, "")] += delta


# -- the real thing ------------------------------------------------------------------


def ingest(db: Path, hosts: list[Host], order: list[tuple[int, int]], cuts: set[int]) -> Connection:
    """Send the reports in `order` ((host, index) pairs), a new batch at each cut
    and whenever the host changes."""
    conn = connect(db)
    migrate(conn)
    principals = {}
    for host in hosts:
        if not conn.execute("SELECT 1 FROM tenants WHERE name = ?", (host.tenant,)).fetchone():
            admin.add_tenant(conn, host.tenant, actor="test")
        enroll = admin.create_token(conn, "enroll", actor="test", tenant=host.tenant)[1]
        token = enroll_agent(conn, admin.authenticate(conn, f"Bearer {enroll}"), host.agent, host.agent).token
        principals[host.agent] = admin.authenticate(conn, f"Bearer {token}")
    now = max(r["ts"] for h in hosts for r in h.reports) + 60
    batches: list[tuple[int, list[dict[str, Any]]]] = []
    for i, (h, idx) in enumerate(order):
        if not batches or batches[-1][0] != h or i in cuts:
            batches.append((h, []))
        batches[-1][1].append(hosts[h].reports[idx])
    for h, reports in batches:
        host = hosts[h]
        # one batch, one agent info: split where the boot time differs
        groups: list[list[dict[str, Any]]] = []
        for r in reports:
            if not groups or groups[-1][0]["boot_time"] != r["boot_time"]:
                groups.append([])
            groups[-1].append(r)
        for group in groups:
            body = {
                "agent": {"id": host.agent, "hostname": host.agent, "role": "server",
                          "boot_time": group[0]["boot_time"]},
                "reports": [{k: v for k, v in r.items() if k != "boot_time"} for r in group],
            }  # fmt: skip
            batch = msgspec.convert(body, Batch)
            conn.execute("BEGIN")
            store.ingest(conn, principals[host.agent], batch, now)
            conn.execute("COMMIT")
    return conn


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(hosts=fleet_strategy(), data=st.data())
def test_ledger_equals_the_reference_model_and_nothing_held_is_billed(hosts: list[Host], data: st.DataObject) -> None:
    for host in hosts:
        render(host)
    booked, held = model(hosts)
    pairs = [(h, i) for h, host in enumerate(hosts) for i in range(len(host.reports))]
    # any arrival order, and some reports sent twice (an agent that missed an ack)
    order = data.draw(st.permutations(pairs)) + data.draw(st.lists(st.sampled_from(pairs), max_size=4))
    cuts = set(data.draw(st.lists(st.integers(0, len(order)), max_size=8)))
    with tempfile.TemporaryDirectory() as tmp:
        conn = ingest(Path(tmp) / "collector.db", hosts, order, cuts)
        try:
            ledger_totals: Booked = Counter()
            for tenant, meter, dim, scaled in conn.execute("SELECT tenant, meter, dim, scaled FROM ledger"):
                ledger_totals[(tenant, meter, dim)] += int(scaled)
            assert +ledger_totals == booked
            pending: Held = Counter(
                (tenant, rule, meter, float(a), float(b), int(q))
                for tenant, rule, meter, a, b, q in conn.execute(
                    "SELECT tenant, rule, meter, start_ts, end_ts, quantity FROM quarantine WHERE status = 'pending'"
                )
            )
            assert pending == held
            # a replaced printer is an inventory event, once per swap, wherever the late readings fell
            swaps = Counter({h.tenant: 0 for h in hosts})
            swaps.update(h.tenant for h in hosts for s in h.steps if s.printer_swap)
            events = Counter({h.tenant: 0 for h in hosts})
            events.update(
                t for (t,) in conn.execute("SELECT tenant FROM inventory_events WHERE kind = 'device_replaced'")
            )
            assert events == swaps
            _usage_and_exports_bill_only_what_was_booked(conn, hosts, booked, held)
        finally:
            conn.close()


def _usage_and_exports_bill_only_what_was_booked(
    conn: Connection, hosts: list[Host], booked: Booked, held: Held
) -> None:
    november = Period(2026, 11)
    for tenant in sorted({h.tenant for h in hosts}):
        usage = ledger.period_usage(conn, tenant, november)
        totals = {(m.meter, m.dim): m.scaled for m in usage.meters if m.scaled}
        assert totals == {(m, d): s for (t, m, d), s in booked.items() if t == tenant}
        invoice = pricing.price(usage, TariffBook(versions=()))
        doc = json.loads(export.render_json(usage, invoice))
        own_held = sum(n for key, n in held.items() if key[0] == tenant)
        assert doc["quarantine_pending"] == own_held
        assert len(doc["quarantine"]) == own_held
        rows = list(csv.DictReader(io.StringIO(export.render_csv(usage, invoice).decode())))
        meters = {(r["meter"], r["dim"]): r["quantity"] for r in rows if r["record"] == "meter"}
        assert meters == {(m["meter"], m["dim"]): m["quantity"] for m in doc["meters"]}
        for (meter, dim), scaled in totals.items():
            assert meters[(meter, dim)] == export._quantity(meter, scaled)
        assert sum(1 for r in rows if r["record"] == "quarantine") == own_held
