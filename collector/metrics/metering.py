"""Metering families: the ledger as counters, the running month as gauges.

Counters (``leitstand_metering_*_total``) are the ledger's all-time totals
per tenant in base units, late data for closed periods (adjustments)
included: they only grow, so ``rate()`` and ``increase()`` work across
month ends. The running billing period (calendar month, Europe/Berlin) is
a gauge: ``leitstand_metering_period_quantity`` is exactly the quantity the
invoice of that month shows so far, in the meter's invoice unit, and
``leitstand_metering_period_cost`` its priced lines (only with tariffs).

Cheap at any age of the ledger: the history before a daily cutoff is summed
once a day (``ScrapeState``), after a scrape and off it (``refresh_history``,
called by http.py); a scrape reads the hours from the history's cutoff on.
Late data for hours before the cutoff shows in the counters at the next
daily refresh (they jump, never go back).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from ..alerting import metric_names as m
from ..metering import pricing
from ..metering.model import METERS, Adjustment, MeterTotal, Period, PeriodUsage
from ..metering.reading import DEVICE_METERS, HOST_METERS
from ..metering.tariffs import TariffBook
from .source import Family, ScrapeState, Source, counter, gauge

__all__ = ["COUNTERS", "History", "history", "history_outdated", "metering_families", "refresh_history"]

#: meter -> (counter name, factor from the stored integer to the base unit, help)
COUNTERS: dict[str, tuple[str, float, str]] = {
    "cpu_core_seconds": ("leitstand_metering_cpu_seconds_total", 1e-6, "CPU core seconds (busy time)."),
    "memory_gib_hours": ("leitstand_metering_memory_byte_seconds_total", 1024.0, "Memory in use x time."),
    "storage_gib_hours": ("leitstand_metering_storage_byte_seconds_total", 1024.0, "Disk space in use x time."),
    "network_gib": ("leitstand_metering_network_bytes_total", 1.0, "Network traffic received and sent."),
    "printed_pages": ("leitstand_metering_printed_pages_total", 1.0, "Printed pages."),
    "printed_pages_mono": ("leitstand_metering_printed_pages_mono_total", 1.0, "Printed pages, black and white."),
    "printed_pages_color": ("leitstand_metering_printed_pages_color_total", 1.0, "Printed pages, colour."),
    "workplace_days": (
        "leitstand_metering_workplace_day_bookings_total",
        1.0,
        "Thin-client workplace days with a session (one per thin client and day).",
    ),
    "host_hours": ("leitstand_metering_host_seconds_total", 1e-3, "Time hosts reported, by role."),
}

Key = tuple[str, str, str]  # tenant, meter, dim


def _exact_sum(expr: str) -> str:
    """``sum(expr)`` of 64-bit integers as two sums that cannot overflow (SQLite's
    ``sum`` fails the whole query with "integer overflow", PostgreSQL's bigint
    arithmetic with "out of range"): the high and the low 32 bits of each
    value, summed apart; ``_join`` puts them back together in Python, exact."""
    return f"sum(({expr}) >> 32), sum(({expr}) & 4294967295)"


def _join(high: int, low: int) -> int:
    return (int(high) << 32) + int(low)


_MONTH = "CASE WHEN hour >= ? THEN scaled ELSE 0 END"
_LEDGER = (
    f"SELECT tenant, meter, dim, {_exact_sum('scaled')}, {_exact_sum(_MONTH)} FROM ledger WHERE {{}} "
    "GROUP BY tenant, meter, dim"
)


def _in(tenants: list[str]) -> str:
    return f"tenant IN ({','.join('?' * len(tenants))})"


def _cutoff(now: float) -> int:
    """The history ends two UTC days back: the hours after it still change."""
    return int(now // 86400) * 86400 - 2 * 86400


@dataclass(frozen=True)
class History:
    """The ledger's sums of every hour before ``cutoff`` (``month``: those in
    ``period``), and the workplace days of the periods before ``period``."""

    cutoff: int
    period: str
    total: dict[Key, int]
    month: dict[Key, int]


def history(src: Source) -> History:
    """The history a scrape adds its live sums to. Any cutoff gives exact
    counters, as the scrape reads the live sums from the history's own
    cutoff on: so a scrape takes whatever history there is, and only the
    first one after a start (when the warm-up has not finished) waits for
    one. A scrape narrowed to a tenant that finds none sums that tenant
    alone (a range of the ledger's primary key, a twentieth of 20 tenants'
    ledger), so sharded scrapes after a start do not wait for the whole
    ledger. ``refresh_history`` moves the cutoff, off the scrape."""
    state = src.state
    if state.history is not None:
        return state.history
    if src.tenant is not None:
        with state.tenant_history_lock:
            kept = state.tenant_history.get(src.tenant)
            if kept is None:
                kept = state.tenant_history[src.tenant] = _sum_history(src, src.tenant)
            return kept
    with state.history_lock:
        if state.history is None:
            state.history = _sum_history(src)
            state.tenant_history.clear()
        return state.history


def history_outdated(state: ScrapeState, now: float) -> bool:
    """Whether the history's cutoff (daily) or period should move on, or
    there is none of all tenants yet (tenant scrapes only, no warm-up)."""
    kept = state.history
    return kept is None or (kept.cutoff, kept.period) != (_cutoff(now), str(Period.containing(now)))


def refresh_history(src: Source) -> None:
    """Sum the history again up to today's cutoff (late data before the old
    cutoff shows now) while scrapes go on with the old one; one at a time."""
    state = src.state
    if not state.history_lock.acquire(blocking=False):
        return  # another refresh runs
    try:
        if state.history is None or history_outdated(state, src.now):
            state.history = _sum_history(src)
            state.tenant_history.clear()
    finally:
        state.history_lock.release()


def _sum_history(src: Source, tenant: str | None = None) -> History:
    period = Period.containing(src.now)
    cutoff = _cutoff(src.now)
    where, args = ("tenant = ? AND ", (tenant,)) if tenant is not None else ("", ())
    total: dict[Key, int] = {}
    month: dict[Key, int] = {}
    start = int(period.start_ts)
    for t, meter, dim, s_hi, s_lo, m_hi, m_lo in src.conn.execute(
        _LEDGER.format(f"{where}hour < ?"), (start, start, *args, cutoff)
    ):
        total[(t, meter, dim)] = _join(s_hi, s_lo)
        month[(t, meter, dim)] = _join(m_hi, m_lo)
    for t, n in src.conn.execute(
        f"SELECT tenant, count(*) FROM workplace_days WHERE {where}period < ? GROUP BY tenant", (*args, str(period))
    ):
        total[(t, "workplace_days", "")] = int(n)
    return History(cutoff, str(period), total, month)


def metering_families(src: Source) -> Iterator[Family]:
    tenants = src.tenants()
    period = Period.containing(src.now)
    p, pstart = str(period), int(period.start_ts)
    hist = history(src)
    cutoff = hist.cutoff
    total: dict[Key, int] = {k: v for k, v in hist.total.items() if k[0] in tenants}
    # a history of an earlier period holds no hour of this one: its cutoff lies before this period's start
    month: dict[Key, int] = {k: v for k, v in hist.month.items() if k[0] in tenants} if hist.period == p else {}
    workplaces: dict[str, int] = {}
    hosts_by_role: dict[str, dict[str, int]] = {}
    adjustments: dict[str, list[Adjustment]] = {}
    if tenants:
        tin = _in(tenants)
        for tenant, meter, dim, s_hi, s_lo, m_hi, m_lo in src.conn.execute(
            _LEDGER.format(f"{tin} AND hour >= ?"), (pstart, pstart, *tenants, cutoff)
        ):
            total[(tenant, meter, dim)] = total.get((tenant, meter, dim), 0) + _join(s_hi, s_lo)
            month[(tenant, meter, dim)] = month.get((tenant, meter, dim), 0) + _join(m_hi, m_lo)
        for tenant, meter, dim, s_hi, s_lo in src.conn.execute(
            f"SELECT tenant, meter, dim, {_exact_sum('scaled')} FROM adjustments WHERE {tin} "
            "AND meter != 'workplace_days' GROUP BY tenant, meter, dim",
            tenants,
        ):
            total[(tenant, meter, dim)] = total.get((tenant, meter, dim), 0) + _join(s_hi, s_lo)
        if hist.period != p:  # workplace days of the periods since the history's
            for tenant, n in src.conn.execute(
                f"SELECT tenant, count(*) FROM workplace_days WHERE {tin} AND period >= ? AND period < ? "
                "GROUP BY tenant",
                (*tenants, hist.period, p),
            ):
                key = (tenant, "workplace_days", "")
                total[key] = total.get(key, 0) + int(n)
        for tenant, n, booked, hosts in src.conn.execute(
            "SELECT tenant, count(*), sum(CASE WHEN late = 0 THEN 1 ELSE 0 END), "
            "count(DISTINCT CASE WHEN late = 0 THEN agent_id END) "
            f"FROM workplace_days WHERE {tin} AND period = ? GROUP BY tenant",
            (*tenants, p),
        ):
            key = (tenant, "workplace_days", "")
            total[key] = total.get(key, 0) + int(n)
            month[key] = int(booked)
            workplaces[tenant] = int(hosts)
        if src.tariffs is not None:
            for tenant, role, n in src.conn.execute(
                f"SELECT tenant, dim, count(DISTINCT subject) FROM ledger_subject WHERE {tin} AND period = ? "
                "AND meter = 'host_hours' AND scaled > 0 GROUP BY tenant, dim",
                (*tenants, p),
            ):
                hosts_by_role.setdefault(tenant, {})[role] = int(n)
            for tenant, for_period, meter, dim, s_hi, s_lo in src.conn.execute(
                f"SELECT tenant, for_period, meter, dim, {_exact_sum('scaled')} FROM adjustments WHERE {tin} "
                "AND booked_period = ? GROUP BY tenant, for_period, meter, dim",
                (*tenants, p),
            ):
                adjustments.setdefault(tenant, []).append(Adjustment(for_period, meter, dim, "", _join(s_hi, s_lo), ""))

    families: dict[str, Family] = {}
    for meter, (name, _f, doc) in COUNTERS.items():
        families[meter] = counter(name, doc, ["tenant", "role"] if meter == "host_hours" else ["tenant"])
    for (tenant, meter, dim), scaled in sorted(total.items()):
        if meter in COUNTERS:
            labels = [tenant, dim] if meter == "host_hours" else [tenant]
            families[meter].add_metric(labels, scaled * COUNTERS[meter][1])
    yield from families.values()

    quantity = gauge(
        "leitstand_metering_period_quantity",
        "Running billing month (Europe/Berlin) so far, in the meter's invoice unit; role only for host_hours.",
        ["tenant", "meter", "role"],
    )
    for (tenant, meter, dim), scaled in sorted(month.items()):
        if meter in METERS:
            quantity.add_metric([tenant, meter, dim], float(Decimal(scaled) / METERS[meter].scale))
    yield quantity
    yield _coverage(src, tenants, p)
    yield _quarantine(src, tenants)
    if isinstance(src.tariffs, TariffBook):
        yield _cost(src.tariffs, tenants, p, month, workplaces, hosts_by_role, adjustments)


def _quarantine(src: Source, tenants: list[str]) -> Family:
    held = gauge(
        m.METERING_QUARANTINE_PENDING,
        "Usage quantities held in quarantine for review (implausible, not billed).",
        ["tenant"],
    )
    if tenants:
        pending = dict(
            src.conn.execute(
                f"SELECT tenant, count(*) FROM quarantine WHERE status = 'pending' AND {_in(tenants)} GROUP BY tenant",
                tenants,
            ).fetchall()
        )
        for tenant in sorted(tenants):
            held.add_metric([tenant], float(pending.get(tenant, 0)))
    return held


def _coverage(src: Source, tenants: list[str], period: str) -> Family:
    cov = gauge(
        m.METERING_COVERAGE_RATIO, "Share of expected reports that arrived in the running month.", ["tenant", "meter"]
    )
    if not tenants:
        return cov
    tin = _in(tenants)
    hosts: dict[str, list[float]] = {}
    thin: dict[str, list[float]] = {}
    # seq spans are the agent's numbers (up to 2^62 each): summed as doubles, a
    # ratio needs no more, and two hostile agents cannot overflow the tenant's sum
    for tenant, role, arrived, expected in src.conn.execute(
        "SELECT tenant, role, sum(CAST(reports AS DOUBLE PRECISION)), "
        "sum(CAST(max_seq AS DOUBLE PRECISION) - min_seq + 1) "
        f"FROM coverage WHERE {tin} AND period = ? GROUP BY tenant, role",
        (*tenants, period),
    ):
        for acc in (hosts, thin) if role == "thin-client" else (hosts,):
            a = acc.setdefault(tenant, [0.0, 0.0])
            a[0] += float(arrived)
            a[1] += float(expected)
    devices = {
        tenant: [float(ok), float(polls)]
        for tenant, polls, ok in src.conn.execute(
            "SELECT tenant, sum(CAST(polls AS DOUBLE PRECISION)), sum(CAST(ok AS DOUBLE PRECISION)) "
            f"FROM device_coverage WHERE {tin} AND period = ? GROUP BY tenant",
            (*tenants, period),
        )
    }
    for meters, acc in ((HOST_METERS, hosts), (("workplace_days",), thin), (DEVICE_METERS, devices)):
        for tenant, (arrived, expected) in sorted(acc.items()):
            if expected > 0:
                for meter in meters:
                    cov.add_metric([tenant, meter], min(arrived, expected) / expected)
    return cov


def _cost(
    book: TariffBook,
    tenants: list[str],
    period: str,
    month: dict[Key, int],
    workplaces: dict[str, int],
    hosts_by_role: dict[str, dict[str, int]],
    adjustments: dict[str, list[Adjustment]],
) -> Family:
    cost = gauge(
        "leitstand_metering_period_cost",
        "Priced invoice lines of the running month so far (net per line; line vat is the VAT).",
        ["tenant", "currency", "line"],
    )
    for tenant in tenants:
        usage = PeriodUsage(
            tenant=tenant,
            period=period,
            status="open",
            closed_at=None,
            meters=[MeterTotal(meter, dim, s) for (t, meter, dim), s in sorted(month.items()) if t == tenant],
            subjects=[],
            adjustments=adjustments.get(tenant, []),
            coverage={},
            gaps=[],
            hosts_by_role=hosts_by_role.get(tenant, {}),
            workplaces=workplaces.get(tenant, 0),
        )
        invoice = pricing.price(usage, book)
        amounts: dict[str, Decimal] = {}
        for line in invoice.lines:
            if line.amount is not None:
                key = "adjustment" if line.kind == "adjustment" else line.meter
                amounts[key] = amounts.get(key, Decimal(0)) + line.amount
        for key, amount in amounts.items():
            cost.add_metric([tenant, invoice.currency, key], float(amount))
    return cost
