"""Quarantine at booking time: implausible quantities are held, never billed
unless released; review is audited; re-pairing a late point moves held
entries exactly like ledger rows; close refuses unreviewed months."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from agent.wire import AgentInfo, Batch, Cpu, Disk, Memory, Report
from collector import admin, store
from collector.db import Connection, connect, migrate
from collector.enroll import enroll as enroll_agent
from collector.errors import ConflictError, ValidationError
from collector.metering import export, ledger, pricing, quarantine, review
from collector.metering.model import Period
from collector.metering.tariffs import TariffBook

T0 = 1_793_000_000.0  # 2026-10-26 07:33:20 UTC
GIB = 2**30


def fresh() -> tuple[Connection, Any]:
    conn = connect(":memory:")
    migrate(conn)
    admin.add_tenant(conn, "t1", actor="test")
    enroll = admin.authenticate(conn, "Bearer " + admin.create_token(conn, "enroll", actor="t", tenant="t1")[1])
    token = enroll_agent(conn, enroll, "h1", "host-1").token
    return conn, admin.authenticate(conn, f"Bearer {token}")


@pytest.fixture
def db() -> Iterator[tuple[Connection, Any]]:
    conn, principal = fresh()
    yield conn, principal
    conn.close()


def rep(seq: int, busy: float, *, ts: float | None = None, mem: int = GIB, total: int = 8 * GIB,
        interval: float = 60.0) -> Report:  # fmt: skip
    return Report(
        seq=seq,
        ts=T0 + 60 * seq if ts is None else ts,
        interval_s=interval,
        cpu=Cpu(count=2, percent=10.0, busy_seconds_total=busy),
        memory=Memory(total_bytes=total, used_bytes=mem),
        disks=[Disk(mount="/", total_bytes=100 * GIB, used_bytes=10 * GIB)],
    )


def send(conn: Connection, principal: Any, reports: list[Report], now: float = T0 + 10**6) -> None:
    conn.execute("BEGIN")
    agent = AgentInfo(id="h1", hostname="host-1", role="server", boot_time=T0 - 86400)  # type: ignore[arg-type]
    store.ingest(conn, principal, Batch(agent=agent, reports=reports), now)
    conn.execute("COMMIT")


def cpu_total(conn: Connection) -> int:
    return sum(int(s) for (s,) in conn.execute("SELECT scaled FROM ledger WHERE meter = 'cpu_core_seconds'"))


def held(conn: Connection, status: str = "pending") -> list[tuple[str, str, float, float, str]]:
    return sorted(
        (r, m, float(a), float(b), q)
        for r, m, a, b, q in conn.execute(
            "SELECT rule, meter, start_ts, end_ts, quantity FROM quarantine WHERE status = ?", (status,)
        )
    )


def ledger_rows(conn: Connection) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in conn.execute("SELECT * FROM ledger ORDER BY 1, 2, 3, 4").fetchall()]


SPIKE = 9_000_000.0  # s of CPU in one minute on 2 cores


def test_cpu_spike_is_held_not_billed_and_release_books_it_audited(db: tuple[Connection, Any]) -> None:
    conn, principal = db
    send(conn, principal, [rep(1, 100.0), rep(2, 160.0), rep(3, 160.0 + SPIKE), rep(4, 200.0 + SPIKE)])
    # 1->2 60 s, 3->4 40 s booked; 2->3 held
    assert cpu_total(conn) == 100 * 10**6
    assert held(conn) == [("cpu_above_cores", "cpu_core_seconds", T0 + 120, T0 + 180, str(int(SPIKE * 10**6)))]
    usage = ledger.period_usage(conn, "t1", Period(2026, 10))
    assert {m.meter: m.scaled for m in usage.meters}["cpu_core_seconds"] == 100 * 10**6
    (item,) = usage.quarantine
    assert (item.status, item.subject_kind, item.subject, item.subject_name, item.agent_id) == (
        "pending", "host", "h1", "host-1", "h1",
    )  # fmt: skip
    assert "busy_seconds_total" in item.evidence

    with pytest.raises(ValidationError, match="reason"):
        review.release(conn, item.id, actor="cli:anna", reason="  ", now=T0 + 10**6)
    released = review.release(conn, item.id, actor="cli:anna", reason="Lasttest, Ticket 4711", now=T0 + 10**6)
    assert released.status == "released"
    assert cpu_total(conn) == 100 * 10**6 + int(SPIKE * 10**6)
    row = conn.execute("SELECT actor, action, target, detail FROM audit WHERE action LIKE 'quarantine.%'").fetchone()
    assert row[:3] == ("cli:anna", "quarantine.release", item.id)
    assert json.loads(row[3])["reason"] == "Lasttest, Ticket 4711"
    with pytest.raises(ConflictError, match="released, not pending"):
        review.dismiss(conn, item.id, actor="cli:anna", reason="again", now=T0 + 10**6)


def test_dismiss_books_nothing_and_an_unholdable_quantity_cannot_be_released(db: tuple[Connection, Any]) -> None:
    conn, principal = db
    # full memory of 4 EiB for a day: plausible (used <= total) but beyond 64 bits in KiB·s
    huge = 2**62
    send(conn, principal, [rep(1, 100.0, mem=huge, total=huge, interval=86400.0)])
    before = ledger_rows(conn)
    (entry,) = quarantine.items(conn, tenant="t1")
    item = entry[1]
    assert item.rule == "value_out_of_range"
    assert item.scaled > 2**63  # kept exactly, as text
    with pytest.raises(ValidationError, match="cannot be released"):
        review.release(conn, item.id, actor="cli:anna", reason="sieht echt aus", now=T0)
    review.dismiss(conn, item.id, actor="cli:bernd", reason="Agent meldet Unsinn", now=T0)
    assert ledger_rows(conn) == before
    assert held(conn) == []
    assert conn.execute("SELECT reviewed_by, reason FROM quarantine").fetchone() == ("cli:bernd", "Agent meldet Unsinn")
    assert conn.execute("SELECT count(*) FROM audit WHERE action = 'quarantine.dismiss'").fetchone()[0] == 1


@pytest.mark.parametrize("review_first", [None, "release", "dismiss"])
def test_late_point_supersedes_the_entry_of_the_pair_it_splits(
    db: tuple[Connection, Any], review_first: str | None
) -> None:
    """Seq 3 arrives after 2 -> 4 was held (and maybe reviewed): the ledger and
    the pending entries end as if 1..4 had arrived in order."""
    reports = [rep(1, 100.0), rep(2, 160.0), rep(3, 160.0 + SPIKE), rep(4, 200.0 + SPIKE)]
    in_order, principal_b = fresh()
    send(in_order, principal_b, reports)
    conn, principal = db
    send(conn, principal, [reports[0], reports[1], reports[3]])
    ((_t, item),) = quarantine.items(conn)
    assert (item.start, item.end) == (T0 + 120, T0 + 240)
    if review_first == "release":
        review.release(conn, item.id, actor="a", reason="r", now=T0)
    elif review_first == "dismiss":
        review.dismiss(conn, item.id, actor="a", reason="r", now=T0)
    send(conn, principal, [reports[2]])
    assert ledger_rows(conn) == ledger_rows(in_order)
    assert held(conn) == held(in_order)
    superseded = [("cpu_above_cores", "cpu_core_seconds", T0 + 120, T0 + 240, str(item.scaled))]
    assert held(conn, "superseded") == superseded


def test_close_refuses_unreviewed_entries_unless_forced(db: tuple[Connection, Any]) -> None:
    conn, principal = db
    october = Period(2026, 10)
    send(conn, principal, [rep(1, 100.0), rep(2, 160.0), rep(3, 160.0 + SPIKE), rep(4, 200.0 + SPIKE)])
    ((_t, item),) = quarantine.items(conn)
    with pytest.raises(ConflictError, match=item.id) as refused:
        ledger.close_period(conn, october, actor="test", now=october.end_ts + 60)
    assert any("--force" in line for line in refused.value.detail)
    assert not conn.execute("SELECT count(*) FROM periods").fetchone()[0]
    assert ledger.close_period(conn, october, actor="test", now=october.end_ts + 60, force=True) == ["t1"]
    forced = conn.execute("SELECT detail FROM audit WHERE action = 'period.close'").fetchone()[0]
    assert item.id in forced
    frozen = ledger.period_usage(conn, "t1", october)
    assert frozen.quarantine == []
    # released after the close: an adjustment in November, October stays frozen
    review.release(conn, item.id, actor="a", reason="geprüft", now=october.end_ts + 120)
    assert ledger.period_usage(conn, "t1", october) == frozen
    november = ledger.period_usage(conn, "t1", Period(2026, 11))
    assert sum(a.scaled for a in november.adjustments if a.meter == "cpu_core_seconds") == int(SPIKE * 10**6)


def test_open_month_exports_show_held_items_outside_totals_closed_ones_do_not(db: tuple[Connection, Any]) -> None:
    conn, principal = db
    october = Period(2026, 10)
    send(conn, principal, [rep(1, 100.0), rep(2, 160.0), rep(3, 160.0 + SPIKE), rep(4, 200.0 + SPIKE)])
    usage = ledger.period_usage(conn, "t1", october)
    invoice = pricing.price(usage, TariffBook(versions=()))
    doc = export.usage_document(usage, invoice)
    assert doc["quarantine_pending"] == 1
    (q,) = doc["quarantine"]
    assert set(q) == {"id", "rule", "meter", "dim", "subject_kind", "subject", "subject_name", "agent_id",
                      "quantity", "unit", "start", "end", "evidence", "status"}  # fmt: skip
    assert (q["quantity"], q["unit"], q["start"], q["status"]) == (
        "9000000.000",
        "s",
        "2026-10-26T07:35:20Z",
        "pending",
    )
    cpu = next(m for m in doc["meters"] if m["meter"] == "cpu_core_seconds")
    assert cpu["quantity"] == "100.000"
    csv_rows = export.render_csv(usage, invoice).decode().splitlines()
    marked = [r for r in csv_rows if r.startswith("quarantine,")]
    assert len(marked) == 1 and "QUARANTAENE/QUARANTINE" in marked[0] and "9000000.000" in marked[0]
    assert not any("9000100" in r for r in csv_rows)  # never added into a total
    ledger.close_period(conn, october, actor="test", now=october.end_ts + 60, force=True)
    closed = ledger.period_usage(conn, "t1", october)
    closed_invoice = pricing.price(closed, TariffBook(versions=()))
    assert not [r for r in export.render_csv(closed, closed_invoice).decode().splitlines() if "quarantine" in r]
    closed_doc = export.usage_document(closed, closed_invoice)
    assert (closed_doc["quarantine"], closed_doc["quarantine_pending"]) == ([], 0)


def test_a_ledger_row_never_leaves_the_cap(db: tuple[Connection, Any]) -> None:
    """A plausible but huge quantity that would take a row beyond 2**62 is held
    as value_out_of_range; the row and the other meters are unaffected."""
    conn, principal = db
    hour = int((T0 + 60) // 3600) * 3600
    conn.execute(
        "INSERT INTO ledger (tenant, hour, meter, dim, scaled) VALUES ('t1', ?, 'memory_gib_hours', '', ?)",
        (hour, ledger.LEDGER_MAX - 10),
    )
    pib = 2**50
    send(conn, principal, [rep(1, 100.0, mem=pib, total=pib)])
    assert conn.execute(
        "SELECT scaled FROM ledger WHERE hour = ? AND meter = 'memory_gib_hours'", (hour,)
    ).fetchone()[0] == ledger.LEDGER_MAX - 10  # fmt: skip
    assert [r[0] for r in held(conn)] == ["value_out_of_range"]
    assert conn.execute("SELECT count(*) FROM ledger WHERE meter = 'host_hours'").fetchone()[0] == 1
    # the month's total is summed exactly even though it is beyond 64 bits
    conn.execute(
        "INSERT INTO ledger (tenant, hour, meter, dim, scaled) VALUES ('t1', ?, 'memory_gib_hours', '', ?)",
        (hour - 3600, ledger.LEDGER_MAX),
    )
    usage = ledger.period_usage(conn, "t1", Period(2026, 10))
    assert {m.meter: m.scaled for m in usage.meters}["memory_gib_hours"] == 2 * ledger.LEDGER_MAX - 10


def test_long_intervals_are_billed_in_full(db: tuple[Connection, Any]) -> None:
    """A month reported every 600 s, then every 900 s, bills every second of it."""
    conn, principal = db
    november = Period(2026, 11)
    start, end = november.start_ts, november.end_ts
    middle = start + 15 * 86400
    stamps = [start + 600 * i for i in range(1, int((middle - start) // 600) + 1)]
    stamps += [middle + 900 * i for i in range(1, int((end - middle) // 900) + 1)]
    assert stamps[-1] == end
    reports = [rep(i + 1, 1000.0 + i, ts=ts, interval=600.0 if ts <= middle else 900.0) for i, ts in enumerate(stamps)]
    for i in range(0, len(reports), 500):
        send(conn, principal, reports[i : i + 500], now=end + 60)
    usage = {m.meter: m.scaled for m in ledger.period_usage(conn, "t1", november).meters}
    assert usage["host_hours"] == int(end - start) * 1000  # ms: the whole month
    assert usage["memory_gib_hours"] == GIB // 1024 * int(end - start)  # 1 GiB all month, in KiB·s
    assert held(conn) == []


def test_the_api_shows_what_is_held_for_a_closed_month_its_export_does_not(db: tuple[Connection, Any]) -> None:
    from collector import usage as usage_api

    conn, principal = db
    october = Period(2026, 10)
    send(conn, principal, [rep(1, 100.0), rep(2, 160.0), rep(3, 160.0 + SPIKE), rep(4, 200.0 + SPIKE)])
    ledger.close_period(conn, october, actor="test", now=october.end_ts + 60, force=True)
    doc = usage_api.usage_document(conn, "t1", october, None)
    assert doc["status"] == "closed"
    assert doc["quarantine_pending"] == 1 and doc["quarantine"][0]["status"] == "pending"
    conn.execute("BEGIN")
    exported = usage_api.export_period(conn, "t1", october, "json", None, now=october.end_ts + 120)
    conn.execute("COMMIT")
    frozen = json.loads(exported.content)
    assert (frozen["quarantine"], frozen["quarantine_pending"]) == ([], 0)
    # reviewing it later does not change the archived export
    ((_t, item),) = quarantine.items(conn)
    review.dismiss(conn, item.id, actor="a", reason="r", now=october.end_ts + 180)
    conn.execute("BEGIN")
    again = usage_api.export_period(conn, "t1", october, "json", None, now=october.end_ts + 240)
    conn.execute("COMMIT")
    assert again.verified and again.content == exported.content


def test_a_capped_booking_is_superseded_exactly_when_a_late_point_splits_it() -> None:
    """The 2**62 cap holds a meter's share of a pair; a late point between the
    pair supersedes that entry like any other: same ledger and quarantine as
    in order."""
    pib = 2**50
    reports = [rep(1, 100.0), rep(2, 130.0), rep(3, 160.0, mem=pib, total=pib, interval=120.0)]

    def near_cap(conn: Connection) -> None:
        for hour in {int((T0 + 60 * s) // 3600) * 3600 for s in (1, 2, 3)}:
            conn.execute(
                "INSERT INTO ledger (tenant, hour, meter, dim, scaled) VALUES ('t1', ?, 'memory_gib_hours', '', ?)",
                (hour, ledger.LEDGER_MAX - 2**20),
            )

    in_order, principal_a = fresh()
    near_cap(in_order)
    send(in_order, principal_a, reports)
    conn, principal = fresh()
    near_cap(conn)
    send(conn, principal, [reports[0], reports[2]])
    ((_t, first),) = quarantine.items(conn)
    assert (first.rule, first.meter) == ("value_out_of_range", "memory_gib_hours")
    send(conn, principal, [reports[1]])
    assert ledger_rows(conn) == ledger_rows(in_order)
    assert held(conn) == held(in_order) != []
    assert [r[1] for r in held(conn, "superseded")] == ["memory_gib_hours"]
    conn.close()
    in_order.close()
