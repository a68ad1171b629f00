"""What the writer keeps in memory between jobs, and when it forgets it.

The ingest path would otherwise read, for every report, the host's row, its
gaps, the newest metering point of its stream and whether the period is
closed, and write each ledger row once per job. The writer keeps instead:

- per host (`HostEntry`): the row as the writer last wrote it (seq state,
  gaps, tenant, report totals), the stream's newest metering point and the
  workplace days stored. An entry is never trusted blindly: the host's
  UPDATE at the start of the next ingest names the values it was built from
  (`store.ingest`), so a row changed by anyone else (enrollment, a CLI, another
  collector on the same PostgreSQL) updates nothing, and the entry is read
  again from the database. Ingest is the only writer of these rows' seq state
  and of a host stream's points, and always goes through that UPDATE.
- which periods are closed, for one batch only: the batch's transaction keeps
  a period from being closed while it runs (SQLite's write lock; on
  PostgreSQL the write lock closing needs exclusively).
- the ledger, subject and coverage rows of the batch's jobs (`LedgerBuffer`),
  upserted once before the commit; before a job that is not an ingest job
  (it might read them), they are written first.

A job that fails drops its rows and every host entry (its savepoint is
rolled back: the entries it updated may describe rows that are gone); a
batch that fails drops everything. A restart starts empty.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from .db import Connection
from .ingest import HostSeqState
from .metering.booking import HostTail
from .metering.buffer import LedgerBuffer

__all__ = ["HostEntry", "StagedJob", "WriteState"]

T_co = TypeVar("T_co", covariant=True)

#: hosts kept; beyond this the cache starts over (each entry is read again once)
MAX_HOSTS = 50_000
#: workplace days remembered per host (a batch's reports fall on one or two)
MAX_DAYS = 4


@dataclass
class HostEntry:
    """A host's row as the writer last wrote it, and its stream's newest point."""

    tenant: str
    seq: HostSeqState
    reports_total: int
    duplicates_total: int
    #: the stream's newest metering point, where known
    tail: HostTail | None = None
    #: (agent id, day) of the workplace days stored for this host
    days: set[tuple[str, dt.date]] = field(default_factory=set)


class StagedJob(Protocol[T_co]):
    """A writer job that uses the writer's state and names the streams it
    writes (`db.stream_lock` keys): on PostgreSQL, batches of such jobs of
    several collectors run in parallel (`db.begin`)."""

    @property
    def streams(self) -> Sequence[int]: ...

    def __call__(self, conn: Connection, state: WriteState, /) -> T_co: ...


@dataclass
class WriteState:
    hosts: dict[str, HostEntry] = field(default_factory=dict)
    closed: dict[tuple[str, str], bool] = field(default_factory=dict)
    #: rows of the batch's finished jobs, written before the commit
    pending: LedgerBuffer = field(default_factory=LedgerBuffer)
    #: rows of the running job
    staged: LedgerBuffer = field(default_factory=LedgerBuffer)

    def remember(self, agent_id: str, entry: HostEntry) -> None:
        if len(self.hosts) >= MAX_HOSTS and agent_id not in self.hosts:
            self.hosts.clear()
        if len(entry.days) > MAX_DAYS:
            entry.days.clear()
        self.hosts[agent_id] = entry

    def batch_started(self) -> None:
        self.closed.clear()
        self.pending.clear()
        self.staged.clear()

    def job_succeeded(self) -> None:
        self.pending.merge(self.staged)
        self.staged.clear()

    def job_failed(self) -> None:
        self.staged.clear()
        self.hosts.clear()

    def write_pending(self, conn: Connection) -> None:
        self.pending.write(conn)

    def serial_job_done(self) -> None:
        # it may have closed a period
        self.closed.clear()

    def batch_failed(self) -> None:
        self.hosts.clear()
        self.batch_started()


def plain(job: Callable[[Connection], T_co]) -> Callable[[Connection, WriteState], T_co]:
    """A job that needs no state, in the staged jobs' signature."""
    return lambda conn, _state: job(conn)
