"""Physical limits a metered quantity must respect, and what a breach is.

Pure: no I/O. `points.host_contributions` and `points.device_contributions`
check every delta and gauge against `Limits`; what fails is not a
contribution but an `Anomaly`, which the ledger puts into quarantine for a
billing operator's review instead of onto an invoice.

This module is the contract between the metering math (points, counters)
and the ledger (quarantine storage, review, exports).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["RULES", "Anomaly", "Contribution", "Limits", "Outcome"]

#: rule id -> what it means (English; the runbook explains them in German)
RULES: dict[str, str] = {
    "cpu_above_cores": "CPU busy time grew faster than cores x wall time",
    "memory_above_total": "memory in use above the host's total memory",
    "disk_above_total": "disk space in use above the disk's size",
    "network_above_link": "traffic above link speed x time (or the configured ceiling)",
    "pages_above_ceiling": "pages above the pages-per-minute ceiling x time",
    "value_out_of_range": "a quantity beyond what the ledger can hold",
}


@dataclass(frozen=True)
class Limits:
    """Ceilings for plausibility checks (collector config `[metering.limits]`)."""

    #: CPU busy may exceed cores x wall time by this factor (clock jitter, rounding)
    cpu_tolerance: float = 1.05
    #: ...plus this many seconds
    cpu_slack_s: float = 2.0
    #: bytes per second per host where no interface speed is known (default 100 Gbit/s)
    network_ceiling_bps: float = 100e9 / 8
    #: pages per minute per printer (the fastest office/production MFPs print ~150 ppm)
    pages_per_minute: float = 300.0


@dataclass(frozen=True)
class Anomaly:
    """An implausible quantity: never booked, kept for review with its evidence."""

    rule: str  # a key of RULES
    meter: str  # the meter it would have been booked to (model.METERS)
    dim: str
    #: what would have been booked, in the meter's scaled unit (may exceed 64 bits)
    scaled: int
    #: the span it covers (prev point's ts .. this point's ts; for a gauge the covered span)
    start: float
    end: float
    #: human-readable evidence naming the raw readings, e.g.
    #: "busy_seconds_total 1000.0 -> 9000000000000.0 in 60 s, 4 cores (limit 254 s)"
    evidence: str
    #: the raw readings the rule looked at (JSON-serializable scalars only)
    raw: dict[str, float | int | str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Contribution:
    """A quantity booked to one meter, dimension and UTC hour (scaled unit)."""

    meter: str
    dim: str
    hour: int
    scaled: int


@dataclass
class Outcome:
    """What a point adds: contributions to book, and anomalies to quarantine."""

    contributions: list[Contribution] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)
