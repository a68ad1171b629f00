"""Ground truth of a soak: what the metering ledger must contain, computed from what the
simulator sent, in the ledger's integer units."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from .model import BERLIN

CHECKED: dict[str, tuple[int, int]] = {
    "cpu_core_seconds": (10**6, 3),
    "network_gib": (2**30, 6),
    "host_hours": (3_600_000, 3),
    "memory_gib_hours": (2**20 * 3600, 6),
    "storage_gib_hours": (2**20 * 3600, 6),
    "printed_pages": (1, 0),
    "printed_pages_mono": (1, 0),
    "printed_pages_color": (1, 0),
    "workplace_days": (1, 0),
}


def _hour_of(ts: float) -> int:
    """The UTC hour a counter span ending at `ts` is booked into (spans are half-open on the left)."""
    hour = math.floor(ts / 3600) * 3600
    return hour - 3600 if hour == ts else hour


def _period_of_hour(hour: int) -> str:
    local = dt.datetime.fromtimestamp(hour, BERLIN)
    return f"{local.year:04d}-{local.month:02d}"


@dataclass
class GroundTruth:
    """What the ledger must contain, computed from what was sent, in the ledger's integer units.

    The simulator keeps every span inside one UTC hour (samples on whole minutes), so no
    quantity has to be split across hours: the truth is plain integer sums.
    """

    #: (tenant index, period, meter, dim) -> scaled integer
    scaled: dict[tuple[int, str, str, str], int] = field(default_factory=dict)
    workplace: set[tuple[str, dt.date]] = field(default_factory=set)

    def add(self, tenant: int, ts: float, meter: str, dim: str, scaled: int) -> None:
        if scaled:
            key = (tenant, _period_of_hour(_hour_of(ts)), meter, dim)
            self.scaled[key] = self.scaled.get(key, 0) + scaled

    def day(self, tenant: int, agent_id: str, ts: float) -> None:
        day = dt.datetime.fromtimestamp(ts, BERLIN).date()
        if (agent_id, day) not in self.workplace:
            self.workplace.add((agent_id, day))
            self.add(tenant, ts, "workplace_days", "", 1)

    def expected(self) -> dict[tuple[int, str], dict[tuple[str, str], str]]:
        """{(tenant index, period): {(meter, dim): quantity as the usage API shows it}}."""
        out: dict[tuple[int, str], dict[tuple[str, str], str]] = {}
        for (tenant, period, meter, dim), scaled in sorted(self.scaled.items()):
            scale, decimals = CHECKED[meter]
            quantum = Decimal(1).scaleb(-decimals)
            out.setdefault((tenant, period), {})[(meter, dim)] = format(
                (Decimal(scaled) / Decimal(scale)).quantize(quantum, rounding=ROUND_HALF_UP), "f"
            )
        return out
