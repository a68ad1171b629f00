"""Reading the ledger: a tenant's usage of a period (frozen once closed, live
until then) and the periods there are."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import msgspec

from ..db import Connection
from . import quarantine
from .model import Adjustment, Coverage, GapInfo, MeterTotal, Period, PeriodUsage, SubjectTotal
from .streams import StreamKey

__all__ = ["DEVICE_METERS", "HOST_METERS", "CoverageRow", "list_periods", "live_usage", "period_usage"]

HOST_METERS = ("cpu_core_seconds", "memory_gib_hours", "storage_gib_hours", "network_gib", "host_hours")
DEVICE_METERS = ("printed_pages", "printed_pages_mono", "printed_pages_color")


class CoverageRow(NamedTuple):
    """A row of `coverage`: how many reports of a host's stream (and boot epoch) arrived in a period."""

    stream: str
    epoch: int
    role: str
    reports: int
    min_seq: int
    max_seq: int


def period_usage(conn: Connection, tenant: str, period: Period) -> PeriodUsage:
    """The usage of a tenant in a period: frozen snapshot if closed, live otherwise."""
    row = conn.execute("SELECT snapshot FROM periods WHERE tenant = ? AND period = ?", (tenant, str(period))).fetchone()
    if row is not None:
        return msgspec.json.decode(row[0], type=PeriodUsage)
    return live_usage(conn, tenant, period)


def live_usage(conn: Connection, tenant: str, period: Period) -> PeriodUsage:
    """The usage of a tenant in a period as the ledger has it now (what closing freezes)."""
    p = str(period)
    start, end = int(period.start_ts), int(period.end_ts)
    # Summed in Python: each row is within LEDGER_MAX, but a month of them
    # need not be within 64 bits (SQLite's sum() would raise).
    sums: dict[tuple[str, str], int] = {}
    for meter, dim, scaled in conn.execute(
        "SELECT meter, dim, scaled FROM ledger WHERE tenant = ? AND hour >= ? AND hour < ?", (tenant, start, end)
    ):
        sums[(meter, dim)] = sums.get((meter, dim), 0) + int(scaled)
    meters = [MeterTotal(meter, dim, scaled) for (meter, dim), scaled in sorted(sums.items())]
    days = conn.execute(
        "SELECT count(*), count(DISTINCT agent_id) FROM workplace_days WHERE tenant = ? AND period = ? AND late = 0",
        (tenant, p),
    ).fetchone()
    if days[0]:
        meters.append(MeterTotal("workplace_days", "", int(days[0])))
    names = dict(conn.execute("SELECT agent_id, hostname FROM hosts WHERE tenant = ?", (tenant,)).fetchall())
    subjects = [
        SubjectTotal(kind, subject, names.get(subject, subject) if kind == "host" else subject, meter, dim, int(s))
        for kind, subject, meter, dim, s in conn.execute(
            "SELECT kind, subject, meter, dim, scaled FROM ledger_subject WHERE tenant = ? AND period = ? "
            "AND scaled != 0 ORDER BY kind, subject, meter, dim",
            (tenant, p),
        )
    ]
    subjects += [
        SubjectTotal("host", agent, names.get(agent, agent), "workplace_days", "", int(n))
        for agent, n in conn.execute(
            "SELECT agent_id, count(*) FROM workplace_days WHERE tenant = ? AND period = ? AND late = 0 "
            "GROUP BY agent_id ORDER BY agent_id",
            (tenant, p),
        )
    ]
    booked: dict[tuple[str, str, str, str], tuple[int, str]] = {}
    for for_period, meter, dim, subject, s, booked_on in conn.execute(
        "SELECT for_period, meter, dim, subject, scaled, booked_on FROM adjustments "
        "WHERE tenant = ? AND booked_period = ?",
        (tenant, p),
    ):
        total, first = booked.get((for_period, meter, dim, subject), (0, booked_on))
        booked[(for_period, meter, dim, subject)] = (total + int(s), min(first, booked_on))
    adjustments = [
        Adjustment(for_period, meter, dim, subject, total, first)
        for (for_period, meter, dim, subject), (total, first) in sorted(booked.items())
    ]
    host_rows = [
        CoverageRow(*row)
        for row in conn.execute(
            "SELECT stream, epoch, role, reports, min_seq, max_seq FROM coverage WHERE tenant = ? AND period = ?",
            (tenant, p),
        )
    ]

    def cov(rows: Iterable[CoverageRow]) -> Coverage:
        rows = list(rows)
        return Coverage(expected=sum(r.max_seq - r.min_seq + 1 for r in rows), arrived=sum(r.reports for r in rows))

    coverage = {m: cov(host_rows) for m in HOST_METERS}
    coverage["workplace_days"] = cov(r for r in host_rows if r.role == "thin-client")
    polls, ok = conn.execute(
        "SELECT coalesce(sum(polls), 0), coalesce(sum(ok), 0) FROM device_coverage WHERE tenant = ? AND period = ?",
        (tenant, p),
    ).fetchone()
    for m in DEVICE_METERS:
        coverage[m] = Coverage(expected=int(polls), arrived=int(ok))
    gaps: list[GapInfo] = []
    for row in sorted(host_rows):
        agent, epoch, lo, hi = StreamKey.decode(row.stream).id, row.epoch, row.min_seq, row.max_seq
        gaps += [
            GapInfo(agent, max(a, lo), min(b, hi))
            for a, b in conn.execute(
                "SELECT from_seq, to_seq FROM gaps WHERE agent_id = ? AND epoch = ? AND to_seq >= ? AND from_seq <= ? "
                "ORDER BY from_seq",
                (agent, epoch, lo, hi),
            )
        ]
    hosts_by_role = {
        role: int(n)
        for role, n in conn.execute(
            "SELECT dim, count(DISTINCT subject) FROM ledger_subject WHERE tenant = ? AND period = ? "
            "AND meter = 'host_hours' AND scaled > 0 GROUP BY dim ORDER BY dim",
            (tenant, p),
        )
    }
    return PeriodUsage(
        tenant=tenant,
        period=p,
        status="open",
        closed_at=None,
        meters=meters,
        subjects=subjects,
        adjustments=adjustments,
        coverage=coverage,
        gaps=gaps,
        hosts_by_role=hosts_by_role,
        workplaces=int(days[1]),
        quarantine=[item for _tenant, item in quarantine.items(conn, tenant=tenant, period=p)],
    )


def list_periods(conn: Connection, tenant: str | None) -> list[dict[str, object]]:
    """Periods with data or closed, newest first, per tenant."""
    where, args = ("WHERE tenant = ?", (tenant,)) if tenant else ("", ())
    rows = conn.execute(
        f"SELECT tenant, period FROM ledger_subject {where} UNION SELECT tenant, period FROM periods {where} "
        "ORDER BY 1, 2 DESC",
        args * 2,
    ).fetchall()
    closed = {
        (t, p): (at, by) for t, p, at, by in conn.execute("SELECT tenant, period, closed_at, closed_by FROM periods")
    }
    return [
        {
            "tenant": t,
            "period": p,
            "status": "closed" if (t, p) in closed else "open",
            "closed_at": closed[(t, p)][0] if (t, p) in closed else None,
            "closed_by": closed[(t, p)][1] if (t, p) in closed else None,
        }
        for t, p in rows
    ]
