"""Ledger, subject and coverage rows summed in memory, written in one upsert per table.

Every upsert adds (`scaled = l.scaled + excluded.scaled`, `reports = c.reports
+ excluded.reports`, min/max of the seq span), so rows summed over a whole
writer batch give the same ledger as rows written job by job, in any order:
the writer sums its jobs' rows and writes them once before it commits.

Rows are written sorted by key. On PostgreSQL two collectors that upsert some
of the same rows then take those row locks in one order: one waits for the
other, they never deadlock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from ..db import Connection, insert_rows
from .streams import StreamKind

__all__ = ["CoverageKey", "LedgerBuffer", "LedgerKey", "SubjectKey"]


class LedgerKey(NamedTuple):
    """A row of `ledger`: a tenant's hour of a meter."""

    tenant: str
    hour: int
    meter: str
    dim: str


class SubjectKey(NamedTuple):
    """A row of `ledger_subject`: a host's or device's month of a meter."""

    tenant: str
    period: str
    kind: StreamKind
    subject: str
    meter: str
    dim: str


class CoverageKey(NamedTuple):
    """A row of `coverage`: one host stream's epoch in a tenant's period."""

    tenant: str
    period: str
    stream: str
    epoch: int


class Coverage(NamedTuple):
    role: str
    reports: int
    min_seq: int
    max_seq: int

    def merged(self, later: Coverage) -> Coverage:
        # the role as the later report had it, as the upsert keeps it
        return Coverage(
            later.role, self.reports + later.reports, min(self.min_seq, later.min_seq), max(self.max_seq, later.max_seq)
        )


@dataclass
class LedgerBuffer:
    ledger: dict[LedgerKey, int] = field(default_factory=dict)
    subjects: dict[SubjectKey, int] = field(default_factory=dict)
    coverage: dict[CoverageKey, Coverage] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.ledger or self.subjects or self.coverage)

    def add_ledger(self, key: LedgerKey, scaled: int) -> None:
        self.ledger[key] = self.ledger.get(key, 0) + scaled

    def add_subject(self, key: SubjectKey, scaled: int) -> None:
        self.subjects[key] = self.subjects.get(key, 0) + scaled

    def add_coverage(self, key: CoverageKey, row: Coverage) -> None:
        before = self.coverage.get(key)
        self.coverage[key] = row if before is None else before.merged(row)

    def merge(self, other: LedgerBuffer) -> None:
        """Add another buffer's rows (a job's, into its batch's)."""
        for key, scaled in other.ledger.items():
            self.add_ledger(key, scaled)
        for skey, scaled in other.subjects.items():
            self.add_subject(skey, scaled)
        for ckey, row in other.coverage.items():
            self.add_coverage(ckey, row)

    def clear(self) -> None:
        self.ledger.clear()
        self.subjects.clear()
        self.coverage.clear()

    def write(self, conn: Connection) -> None:
        """Upsert every row, sorted by key; then empty the buffer."""
        insert_rows(
            conn,
            "INSERT INTO ledger AS l (tenant, hour, meter, dim, scaled)",
            [(*key, scaled) for key, scaled in sorted(self.ledger.items()) if scaled],
            "ON CONFLICT (tenant, hour, meter, dim) DO UPDATE SET scaled = l.scaled + excluded.scaled",
        )
        insert_rows(
            conn,
            "INSERT INTO ledger_subject AS l (tenant, period, kind, subject, meter, dim, scaled)",
            [(*skey, scaled) for skey, scaled in sorted(self.subjects.items()) if scaled],
            "ON CONFLICT (tenant, period, kind, subject, meter, dim) DO UPDATE SET scaled = l.scaled + excluded.scaled",
        )
        insert_rows(
            conn,
            "INSERT INTO coverage AS c (tenant, period, stream, epoch, role, reports, min_seq, max_seq)",
            [(*ckey, *row) for ckey, row in sorted(self.coverage.items())],
            "ON CONFLICT (tenant, period, stream, epoch) DO UPDATE SET "
            "reports = c.reports + excluded.reports, "
            "min_seq = CASE WHEN excluded.min_seq < c.min_seq THEN excluded.min_seq ELSE c.min_seq END, "
            "max_seq = CASE WHEN excluded.max_seq > c.max_seq THEN excluded.max_seq ELSE c.max_seq END, "
            "role = excluded.role",
        )
        self.clear()
