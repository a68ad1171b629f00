"""The ledger booked at ingest, on a real (in-memory) SQLite database: totals
are true consumption and independent of arrival order, batching and resends."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.wire import AgentInfo, Batch, Cpu, Disk, Memory, Nic, Report
from collector import admin, store
from collector.db import connect, migrate
from collector.enroll import enroll as enroll_agent
from collector.metering import ledger
from collector.metering.model import Period

T0 = 1_793_000_000.0  # 2026-10-26, a Monday, 05:33 UTC
GIB = 2**30


def fresh() -> tuple[sqlite3.Connection, Any]:
    conn = connect(":memory:")
    migrate(conn)
    admin.add_tenant(conn, "t1", actor="test")
    enroll = admin.authenticate(conn, "Bearer " + admin.create_token(conn, "enroll", actor="t", tenant="t1")[1])
    token = enroll_agent(conn, enroll, "h1", "host-1").token
    return conn, admin.authenticate(conn, f"Bearer {token}")


@pytest.fixture
def db() -> Iterator[tuple[sqlite3.Connection, Any]]:
    conn, principal = fresh()
    yield conn, principal
    conn.close()


def rep(seq: int, *, ts: float | None = None, busy: float = 0.0, rx: int = 0, mem: int = GIB, sessions: int = 0,
        interval: float = 60.0) -> Report:  # fmt: skip
    return Report(
        seq=seq,
        ts=T0 + 60 * seq if ts is None else ts,
        interval_s=interval,
        cpu=Cpu(count=2, percent=10.0, busy_seconds_total=busy),
        memory=Memory(total_bytes=8 * GIB, used_bytes=mem),
        disks=[Disk(mount="/", total_bytes=100 * GIB, used_bytes=10 * GIB)],
        net=[Nic(nic="eth0", rx_bytes_total=rx, tx_bytes_total=0)],
        sessions=sessions,
    )


def agent(boot: float = T0 - 86400, role: str = "server") -> AgentInfo:
    return AgentInfo(id="h1", hostname="host-1", role=role, boot_time=boot)  # type: ignore[arg-type]


def send(conn: sqlite3.Connection, principal: Any, reports: list[Report], *, boot: float = T0 - 86400,
         role: str = "server", now: float | None = None) -> None:  # fmt: skip
    conn.execute("BEGIN")
    store.ingest(conn, principal, Batch(agent=agent(boot, role), reports=reports), now or T0 + 10**6)
    conn.execute("COMMIT")


def totals(conn: sqlite3.Connection) -> dict[tuple[str, str], int]:
    return {
        (m, d): int(s) for m, d, s in conn.execute("SELECT meter, dim, sum(scaled) FROM ledger GROUP BY meter, dim")
    }


def rows(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
    return conn.execute("SELECT * FROM ledger ORDER BY 1, 2, 3, 4").fetchall()


def test_counter_total_is_last_minus_first_without_resets(db: tuple[sqlite3.Connection, Any]) -> None:
    conn, principal = db
    send(conn, principal, [rep(s, busy=100.0 + 7.5 * s, rx=1000 * s * s) for s in range(1, 61)])
    t = totals(conn)
    assert t[("cpu_core_seconds", "")] == round(7.5 * 59 * 10**6)
    # rx grew from 1,000 to 3,600,000 bytes
    assert t[("network_gib", "")] == 3_600_000 - 1000  # bytes
    # gauges: 60 reports × 60 s covered, the first one covers its own interval too
    assert t[("host_hours", "server")] == 3600 * 1000  # ms: exactly one hour, no rounding drift
    assert t[("memory_gib_hours", "")] == GIB // 1024 * 3600  # KiB·s: 1 GiB for one hour


def test_reboot_resets_counters_by_boot_time(db: tuple[sqlite3.Connection, Any]) -> None:
    conn, principal = db
    send(conn, principal, [rep(1, busy=5000.0), rep(2, busy=5060.0)])
    # rebooted 30 s before report 3: the counter restarts (boot_time says so), so 50 s is the delta
    send(conn, principal, [rep(3, busy=50.0), rep(4, busy=80.0)], boot=T0 + 60 * 2.5)
    assert totals(conn)[("cpu_core_seconds", "")] == (60 + 50 + 30) * 10**6
    assert conn.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 0


def test_duplicate_resend_books_nothing(db: tuple[sqlite3.Connection, Any]) -> None:
    conn, principal = db
    batch = [rep(s, busy=10.0 * s) for s in range(1, 11)]
    send(conn, principal, batch)
    before = rows(conn)
    send(conn, principal, batch)
    send(conn, principal, batch[3:6])
    assert rows(conn) == before


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_arrival_order_and_batching_gives_the_same_ledger(data: st.DataObject) -> None:
    n = data.draw(st.integers(min_value=2, max_value=25))
    steps = data.draw(st.lists(st.integers(min_value=0, max_value=120_000), min_size=n, max_size=n))
    resets = data.draw(st.sets(st.integers(min_value=1, max_value=n - 1), max_size=3))
    busy, rx, reports = 1000.0, 10_000, []
    for i in range(n):
        busy = steps[i] / 1000 if i in resets else busy + steps[i] / 1000
        rx = steps[i] if i in resets else rx + steps[i] * 100
        gap = 60.0 * i + (17 if i % 5 == 0 else 0)  # irregular spacing
        reports.append(rep(i + 1, ts=T0 + gap, busy=busy, rx=rx, mem=GIB + steps[i], sessions=i % 2))
    in_order, principal = fresh()
    send(in_order, principal, reports, role="thin-client")
    expected = rows(in_order)
    expected_days = in_order.execute("SELECT * FROM workplace_days").fetchall()

    shuffled = data.draw(st.permutations(reports))
    dupes = data.draw(st.lists(st.sampled_from(reports), max_size=5))
    stream = shuffled + dupes
    cuts = sorted(data.draw(st.sets(st.integers(min_value=1, max_value=len(stream) - 1), max_size=6)))
    conn, principal = fresh()
    start = 0
    for cut in [*cuts, len(stream)]:
        if cut > start:
            send(conn, principal, stream[start:cut], role="thin-client")
            start = cut
    assert rows(conn) == expected
    assert conn.execute("SELECT * FROM workplace_days").fetchall() == expected_days


def test_closed_period_never_changes_and_late_data_becomes_an_adjustment(db: tuple[sqlite3.Connection, Any]) -> None:
    conn, principal = db
    october = Period(2026, 10)
    end = october.end_ts
    # reports up to just before the month end, then a gap (seq 4 missing), then November
    send(conn, principal, [rep(1, ts=end - 240, busy=0.0), rep(2, ts=end - 180, busy=60.0),
                           rep(3, ts=end - 120, busy=120.0), rep(5, ts=end + 60, busy=300.0)])  # fmt: skip
    closed = ledger.close_period(conn, october, actor="test", now=end + 3600)
    assert closed == ["t1"]
    frozen = ledger.period_usage(conn, "t1", october)
    before = rows(conn)
    # the late report 4 lands in October: after the close it must not touch October
    send(conn, principal, [rep(4, ts=end - 60, busy=180.0)])
    assert ledger.period_usage(conn, "t1", october) == frozen
    october_rows = [r for r in rows(conn) if r[1] < end]
    assert october_rows == [r for r in before if r[1] < end]
    november = ledger.period_usage(conn, "t1", Period(2026, 11))
    adjustments = {(a.for_period, a.meter, a.dim): a.scaled for a in november.adjustments}
    # Report 4 covers the minute before it: 60 s more host time in October.
    assert adjustments[("2026-10", "host_hours", "server")] == 60_000
    assert adjustments[("2026-10", "memory_gib_hours", "")] == GIB // 1024 * 60
    # Counters: 3 -> 5 had put 120 of its 180 s into October; 3 -> 4 -> 5 puts
    # 60 + 60 there. Same split, so no cpu adjustment at all.
    assert ("2026-10", "cpu_core_seconds", "") not in adjustments
    assert all(a.booked_on for a in november.adjustments)
    total_cpu = sum(int(s) for (s,) in conn.execute("SELECT scaled FROM ledger WHERE meter='cpu_core_seconds'"))
    total_cpu += sum(a.scaled for a in november.adjustments if a.meter == "cpu_core_seconds")
    assert total_cpu == 300 * 10**6  # nothing lost, nothing doubled across the close
    with pytest.raises(Exception, match="already closed"):
        ledger.close_period(conn, october, actor="test", now=end + 7200, tenant="t1")


def test_running_month_cannot_be_closed(db: tuple[sqlite3.Connection, Any]) -> None:
    conn, _ = db
    with pytest.raises(Exception, match="has not ended"):
        ledger.close_period(conn, Period(2026, 11), actor="test", now=Period(2026, 11).start_ts + 10)


def test_report_straddling_month_end_is_split_between_months(db: tuple[sqlite3.Connection, Any]) -> None:
    conn, principal = db
    end = Period(2026, 10).end_ts  # 2026-11-01 00:00 CET
    send(conn, principal, [rep(1, ts=end - 600, busy=0.0), rep(2, ts=end + 30, busy=63.0, interval=60.0)])
    oct_cpu = ledger.period_usage(conn, "t1", Period(2026, 10))
    nov_cpu = ledger.period_usage(conn, "t1", Period(2026, 11))
    cpu = {u.period: {m.meter: m.scaled for m in u.meters} for u in (oct_cpu, nov_cpu)}
    # 63 s over the 630 s from end-600 to end+30: 600/630 in October, 30/630 in November
    assert cpu["2026-10"]["cpu_core_seconds"] == 60 * 10**6
    assert cpu["2026-11"]["cpu_core_seconds"] == 3 * 10**6
    # host hours: report 2 covers 60 s, 30 of them in each month; report 1 covers 60 s in October
    assert cpu["2026-10"]["host_hours"] == 90_000  # ms
    assert cpu["2026-11"]["host_hours"] == 30_000


def test_pruned_points_still_place_a_late_gap_fill_exactly() -> None:
    reports = [rep(s, busy=10.0 * s + (s % 3), rx=500 * s, mem=GIB + s) for s in range(1, 21)]
    in_order, principal = fresh()
    send(in_order, principal, reports)
    conn, principal = fresh()
    send(conn, principal, reports[:10] + reports[14:])  # seq 11-14 still in flight
    in_order.execute("BEGIN")
    conn.execute("BEGIN")
    ledger.prune_points(conn, before=T0 + 10**7)  # everything is old
    conn.execute("COMMIT")
    in_order.execute("COMMIT")
    kept = [k2 for (k2,) in conn.execute("SELECT k2 FROM meter_points ORDER BY k2")]
    assert kept == [10, 15, 20]  # gap borders and the newest
    send(conn, principal, reports[10:14])
    assert rows(conn) == rows(in_order)


def _printer(conn: sqlite3.Connection, readings: list[tuple[float, int]], now: float) -> None:
    from collector.metering.points import DevicePoint

    booker = ledger.Booker(conn, now)
    for ts, pages in readings:
        booker.book_device_reading("t1", "prn-1", DevicePoint(ts, ts - T0 + 100.0, pages, None, None), True)
    booker.flush()


def test_late_device_reading_is_metered_after_points_were_pruned(
    db: tuple[sqlite3.Connection, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """A reading from last month that arrives after pruning still lands between
    its true neighbours: same ledger as if it had come in time."""
    conn, _ = db
    # hourly readings over six weeks (2026-10-26 .. 2026-12-07), one of them late
    hours = range(0, 24 * 42)
    readings = [(T0 + 3600 * h, 100 * h + (h * h) % 7) for h in hours]
    late = readings[24 * 10 + 5]  # 2026-11-05, the previous month when it arrives
    now = T0 + 3600 * 24 * 42
    in_order, _principal = fresh()
    in_order.execute("BEGIN")
    _printer(in_order, readings, now)
    in_order.execute("COMMIT")
    conn.execute("BEGIN")
    _printer(conn, [r for r in readings if r != late], now)
    ledger.prune_points(conn, before=now - 2 * 86400)  # metering.points_days = 2
    kept = conn.execute("SELECT min(ts) FROM meter_points WHERE stream = 'd:t1/prn-1'").fetchone()[0]
    start = Period(2026, 11).start_ts
    assert start <= kept < start + 3600  # kept from the start of the previous month
    _printer(conn, [late], now)
    conn.execute("COMMIT")
    assert rows(conn) == rows(in_order)
    assert "not metered" not in caplog.text
    polls = conn.execute("SELECT sum(polls), sum(ok) FROM device_coverage").fetchone()
    assert polls == (len(readings), len(readings))


def test_device_points_are_kept_as_far_back_as_ingest_accepts(db: tuple[sqlite3.Connection, Any]) -> None:
    """With a longer ingest window (`ingest.max_past_s`), housekeeping passes its
    start as `keep_from`: every device point inside it stays."""
    conn, _ = db
    readings = [(T0 + 86400 * d, 100 * d) for d in range(0, 70)]  # ten weeks, daily
    now = T0 + 86400 * 70
    conn.execute("BEGIN")
    _printer(conn, readings, now)
    ledger.prune_points(conn, before=now - 2 * 86400, keep_from=T0 + 86400 * 5)
    conn.execute("COMMIT")
    kept = [ts for (ts,) in conn.execute("SELECT ts FROM meter_points WHERE stream = 'd:t1/prn-1' ORDER BY ts")]
    assert kept == [ts for ts, _ in readings if ts >= T0 + 86400 * 5]
