"""Meters, billing periods and the usage of one tenant in one period.

Quantities are kept as integers scaled per meter (see `METERS`), so sums are
exact and independent of the order in which reports arrive; they become
Decimals only for display and pricing.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from .streams import StreamKind

__all__ = [
    "BERLIN",
    "METERS",
    "Adjustment",
    "Coverage",
    "GapInfo",
    "MeterSpec",
    "MeterTotal",
    "Period",
    "PeriodUsage",
    "QuarantineItem",
    "SubjectTotal",
    "to_quantity",
]

BERLIN = ZoneInfo("Europe/Berlin")
KIB_SECONDS_PER_GIB_HOUR = 2**20 * 3600


@dataclass(frozen=True)
class MeterSpec:
    unit: str
    #: stored integer = quantity × scale
    scale: int
    #: decimals shown on an invoice line (quantities are rounded half-up to these)
    decimals: int
    description: str


METERS: dict[str, MeterSpec] = {
    # Stored units are the natural ones where possible (µs, KiB·s, bytes, ms),
    # so each report's share is (nearly) an exact integer and rounding cannot
    # pile up a bias over the thousands of reports in a month.
    "cpu_core_seconds": MeterSpec("s", 10**6, 3, "CPU core seconds (busy time)"),
    "memory_gib_hours": MeterSpec("GiB·h", KIB_SECONDS_PER_GIB_HOUR, 6, "memory in use × time"),
    "storage_gib_hours": MeterSpec("GiB·h", KIB_SECONDS_PER_GIB_HOUR, 6, "disk space in use × time"),
    "network_gib": MeterSpec("GiB", 2**30, 6, "network traffic received and sent"),
    "printed_pages": MeterSpec("pages", 1, 0, "printed pages"),
    "printed_pages_mono": MeterSpec("pages", 1, 0, "printed pages, black and white"),
    "printed_pages_color": MeterSpec("pages", 1, 0, "printed pages, colour"),
    "workplace_days": MeterSpec("days", 1, 0, "thin-client workplace days with a session"),
    "host_hours": MeterSpec("h", 3_600_000, 3, "hours a host reported"),
}


def to_quantity(meter: str, scaled: int) -> Decimal:
    """The stored integer as a Decimal in the meter's unit (exact to 28 digits)."""
    return Decimal(scaled) / Decimal(METERS[meter].scale)


_PERIOD_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
#: Billing periods outside these years are refused: nothing is metered before
#: 2000, and dates past 9999 cannot even be computed (9999-12 ends in year 10000).
FIRST_YEAR = 2000
LAST_YEAR = 2199


@dataclass(frozen=True, order=True)
class Period:
    """A calendar month in Europe/Berlin."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Period:
        m = _PERIOD_RE.match(text)
        if not m:
            raise ValueError(f"invalid period {text!r}; expected YYYY-MM, e.g. 2026-11")
        year = int(m.group(1))
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise ValueError(
                f"period {text!r} out of range; billing periods run from {FIRST_YEAR}-01 to {LAST_YEAR}-12"
            )
        return cls(year, int(m.group(2)))

    @classmethod
    def containing(cls, ts: float) -> Period:
        local = dt.datetime.fromtimestamp(ts, BERLIN)
        return cls(local.year, local.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def next(self) -> Period:
        return Period(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Period:
        return Period(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    @property
    def start(self) -> dt.datetime:
        """Inclusive start, aware (Europe/Berlin)."""
        return dt.datetime(self.year, self.month, 1, tzinfo=BERLIN)

    @property
    def end(self) -> dt.datetime:
        """Exclusive end, aware (Europe/Berlin)."""
        return self.next().start

    @property
    def start_ts(self) -> float:
        return self.start.timestamp()

    @property
    def end_ts(self) -> float:
        return self.end.timestamp()


@dataclass(frozen=True)
class MeterTotal:
    meter: str
    #: dimension: the role for host_hours, else ""
    dim: str
    scaled: int

    @property
    def quantity(self) -> Decimal:
        return to_quantity(self.meter, self.scaled)


@dataclass(frozen=True)
class SubjectTotal:
    """One host's or device's share of a meter, for the detail section."""

    kind: str  # "host" | "device"
    subject: str  # agent id or device id
    name: str  # hostname or device name
    meter: str
    dim: str
    scaled: int

    @property
    def quantity(self) -> Decimal:
        return to_quantity(self.meter, self.scaled)


@dataclass(frozen=True)
class Adjustment:
    """Late data for a closed period, booked into this (open) period."""

    for_period: str
    meter: str
    dim: str
    subject: str
    scaled: int
    booked_on: str  # ISO date (Europe/Berlin) the adjustment was booked

    @property
    def quantity(self) -> Decimal:
        return to_quantity(self.meter, self.scaled)


@dataclass(frozen=True)
class Coverage:
    """Share of expected samples that arrived."""

    expected: int
    arrived: int

    @property
    def ratio(self) -> Decimal:
        if self.expected <= 0:
            return Decimal("1.0000")
        return (Decimal(min(self.arrived, self.expected)) / Decimal(self.expected)).quantize(Decimal("0.0001"))


@dataclass(frozen=True)
class GapInfo:
    subject: str
    from_seq: int
    to_seq: int


@dataclass(frozen=True)
class PeriodUsage:
    """Everything an invoice and an export of one tenant and period need."""

    tenant: str
    period: str
    status: str  # "open" | "closed"
    closed_at: float | None
    meters: list[MeterTotal]
    subjects: list[SubjectTotal]
    adjustments: list[Adjustment]
    #: per meter
    coverage: dict[str, Coverage]
    gaps: list[GapInfo]
    #: hosts that reported in the period, by role (flat rates per host)
    hosts_by_role: dict[str, int] = field(default_factory=dict)
    #: thin clients with at least one workplace day (flat rate per workplace)
    workplaces: int = 0
    #: quantities held for review (open periods only: never in totals, never in a closed snapshot)
    quarantine: list[QuarantineItem] = field(default_factory=list)


@dataclass(frozen=True)
class QuarantineItem:
    """An implausible quantity held for a billing operator's review, not billed
    (unless released)."""

    id: str
    rule: str
    meter: str
    dim: str
    subject_kind: StreamKind
    subject: str  # agent id or device id
    subject_name: str
    agent_id: str  # the agent that reported it
    #: what would have been booked, scaled (may exceed 64 bits)
    scaled: int
    start: float
    end: float
    evidence: str
    status: str  # pending | released | dismissed
    period: str = ""

    @property
    def quantity(self) -> Decimal:
        return to_quantity(self.meter, self.scaled)
