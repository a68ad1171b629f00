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

A batch of ingest jobs alone is first run *deferred* (`deferring`): no
savepoint per job, and each job's samples, metering points and host update
are kept here and written for the whole batch in a few multi-row statements
before the commit (`write_pending`). Each host update names the values its
entry was built from; on PostgreSQL one whose row changed fails the
transaction on the server (`hostrow.update_all`), and after that has
happened the cached host entries of the next batches are checked against
their rows in one read first (`verify_hosts`, which on PostgreSQL also reads
the hosts not cached, with their streams' newest points). Should anything not
go as planned (a job fails after it wrote or staged something, a host row
changed all the same, a staged row is refused), the writer rolls the batch
back and runs it again job by job with savepoints: deferring saves
statements, never changes what is stored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import msgspec

from . import hostrow
from .db import FAIL_WHERE, Connection, dialect, insert_rows
from .ingest import HostSeqState
from .metering.booking import HostTail, PointRow
from .metering.buffer import LedgerBuffer
from .metering.points import HostPoint
from .metering.streams import StreamKey

__all__ = ["HostEntry", "StagedJob", "StaleHostError", "WriteState", "hosts_of"]

T_co = TypeVar("T_co", covariant=True)

#: hosts kept; beyond this the cache starts over (each entry is read again once)
MAX_HOSTS = 50_000
#: workplace days remembered per host (a batch's reports fall on one or two)
MAX_DAYS = 4
#: PostgreSQL: deferred batches that check their cached host rows first
#: after a host row was found changed past the writer (`verify_hosts`)
VERIFY_BATCHES = 64
#: PostgreSQL: periods remembered as closed or open (`assume_periods`)
MAX_PERIODS = 1000


#: PostgreSQL (`verify_hosts`): host rows with their gaps and the newest
#: point of their stream, by agent id and stream; the guard's columns first
_READ_HOSTS = (
    f"SELECT h.agent_id, {', '.join('h.' + c for c in hostrow.GUARD_COLUMNS.split(', '))}, h.last_ts, "
    "(SELECT array_agg(g.from_seq ORDER BY g.from_seq) FROM gaps g WHERE g.agent_id = h.agent_id "
    "AND g.epoch = h.epoch), "
    "(SELECT array_agg(g.to_seq ORDER BY g.from_seq) FROM gaps g WHERE g.agent_id = h.agent_id "
    "AND g.epoch = h.epoch), "
    "p.k1, p.k2, p.data "
    "FROM unnest(CAST(? AS text[]), CAST(? AS text[])) AS a(agent_id, stream) "
    "JOIN hosts h ON h.agent_id = a.agent_id LEFT JOIN LATERAL "
    "(SELECT k1, k2, data FROM meter_points m WHERE m.stream = a.stream ORDER BY k1 DESC, k2 DESC LIMIT 1) p ON true"
)
_host_point = msgspec.msgpack.Decoder(HostPoint)


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
    several collectors run in parallel (`db.begin`). One that writes a host
    row names it in a `host` attribute (the agent id: `hosts_of`)."""

    @property
    def streams(self) -> Sequence[int]: ...

    def __call__(self, conn: Connection, state: WriteState, /) -> T_co: ...


class StaleHostError(Exception):
    """A deferred batch cannot be used as it ran: a host row it updates
    changed under it, or it must be run job by job for another reason."""


def hosts_of(jobs: Sequence[object]) -> list[str]:
    """The host rows the jobs write, where they say (`StagedJob`)."""
    return [host for job in jobs if isinstance(host := getattr(job, "host", None), str)]


@dataclass
class WriteState:
    hosts: dict[str, HostEntry] = field(default_factory=dict)
    closed: dict[tuple[str, str], bool] = field(default_factory=dict)
    #: rows of the batch's finished jobs, written before the commit
    pending: LedgerBuffer = field(default_factory=LedgerBuffer)
    #: rows of the running job
    staged: LedgerBuffer = field(default_factory=LedgerBuffer)
    #: whether batches of ingest jobs alone run deferred first (off: job by job, as a reference)
    deferral: bool = True
    #: the running batch is deferred: jobs book into `pending` and stage the rows below
    deferring: bool = False
    #: the running job has neither written nor staged anything yet (its failure needs no rollback)
    clean: bool = False
    #: staged by a deferred batch: samples rows, metering points and host updates (by agent id)
    samples: list[tuple[str, int, int, float, float, str]] = field(default_factory=list)
    points: list[PointRow] = field(default_factory=list)
    host_updates: dict[str, hostrow.HostUpdate] = field(default_factory=dict)
    #: (role, site) as this writer's last deferred update of each host stored
    #: them (`hostrow.update_all`'s `lean`): only a guess, checked by the update
    placed: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: PostgreSQL: how many more deferred batches check their cached host rows first
    verify_batches: int = 0
    #: PostgreSQL: whether each period (tenant, period) was closed, as batches found it (`assume_periods`)
    periods: dict[tuple[str, str], bool] = field(default_factory=dict)

    def remember(self, agent_id: str, entry: HostEntry) -> None:
        if len(entry.days) > MAX_DAYS:
            entry.days.clear()
        self.hosts[agent_id] = entry

    def batch_started(self, *, deferring: bool = False) -> None:
        # bounded between batches: a deferred batch relies on the entries it made
        if len(self.hosts) >= MAX_HOSTS:
            self.hosts.clear()
        if len(self.placed) >= MAX_HOSTS:
            self.placed.clear()
        self.closed.clear()
        self.pending.clear()
        self.staged.clear()
        self.deferring = deferring
        self.samples.clear()
        self.points.clear()
        self.host_updates.clear()

    def job_started(self) -> None:
        self.clean = False

    def job_succeeded(self) -> None:
        self.pending.merge(self.staged)
        self.staged.clear()

    def job_failed(self) -> None:
        self.staged.clear()
        self.hosts.clear()

    def defer_host_update(self, params: hostrow.HostUpdate) -> None:
        agent_id = params["id"]
        earlier = self.host_updates.get(agent_id)
        self.host_updates[agent_id] = params if earlier is None else hostrow.combine(earlier, params)

    def verify_hosts(self, conn: Connection, agent_ids: Sequence[str]) -> None:
        """PostgreSQL, before a deferred batch's jobs: read in one round trip
        the rows of these hosts not cached, each with its stream's newest
        metering point (a job would read each, two round trips per host),
        and, only for a while after a row was found changed past the writer
        (`verify_batches`: another collector may ingest the same hosts), those
        of the cached ones, whose entries are replaced where the row changed.

        Otherwise a batch trusts its entries without this read: a host
        update whose row changed fails the batch's transaction on the server
        (`hostrow.update_all`), the batch runs again job by job, and the
        batches after it check. On SQLite this writer is the only one that
        ingests, a row changes past it only by an enrollment from the CLI,
        and the host update's guard catches that the same way; a read costs
        no round trip there."""
        if dialect(conn) == "sqlite":
            return
        verify = self.verify_batches > 0
        if verify:
            self.verify_batches -= 1
        wanted = sorted({a for a in agent_ids if verify or a not in self.hosts})
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            rows = conn.execute(_READ_HOSTS, (part, [StreamKey.host(a).encode() for a in part])).fetchall()
            for gone in set(part).difference(row[0] for row in rows):
                self.hosts.pop(gone, None)  # not enrolled (any more): the job says so
            for agent_id, *guarded, last_ts, from_seqs, to_seqs, key1, key2, point in rows:
                entry = self.hosts.get(agent_id)
                if entry is not None:
                    if tuple(guarded) == hostrow.guard(
                        entry.tenant, entry.seq, entry.reports_total, entry.duplicates_total
                    ):
                        continue
                    self.verify_batches = VERIFY_BATCHES  # still changing past the writer
                tenant, last_seq, epoch, rebase_allowed, gap_count, reports_total, duplicates_total = guarded
                gaps = tuple(zip(from_seqs, to_seqs, strict=True)) if gap_count and from_seqs else ()
                seq = HostSeqState(
                    last_seq=last_seq, last_ts=last_ts, gaps=gaps, epoch=epoch, rebase_allowed=bool(rebase_allowed)
                )
                # no point at all: its first report has no predecessor, as a read would find
                tail: HostTail = (
                    ((key1, int(key2)), _host_point.decode(point)) if point is not None else ((epoch, last_seq), None)
                )
                self.hosts[agent_id] = HostEntry(tenant, seq, reports_total, duplicates_total, tail=tail)

    def assume_periods(self, conn: Connection) -> None:
        """PostgreSQL, a deferred batch: take the periods earlier batches
        found closed or open as still so, without a read each (a round trip
        per tenant and batch), and have the database fail the transaction
        where one is no longer so (`db.FAIL_WHERE`; closing a period waits
        for the batch's shared write lock, so what holds now holds until the
        COMMIT). The batch then runs again job by job, reading them."""
        if dialect(conn) == "sqlite" or not self.periods:
            return
        self.closed.update(self.periods)
        tenants, periods, closed = zip(*((t, p, int(c)) for (t, p), c in self.periods.items()), strict=True)
        conn.execute(
            FAIL_WHERE + "EXISTS (SELECT 1 FROM unnest(CAST(? AS text[]), CAST(? AS text[]), CAST(? AS bigint[])) "
            "AS a(tenant, period, closed) WHERE (a.closed = 1) <> EXISTS "
            "(SELECT 1 FROM periods p WHERE p.tenant = a.tenant AND p.period = a.period))",
            (list(tenants), list(periods), list(closed)),
        )

    def write_pending(self, conn: Connection) -> None:
        """Write what the batch's finished jobs left to it: host updates
        (raises StaleHostError where a row changed), samples, metering
        points, then the ledger rows."""
        if self.host_updates:
            updates = [self.host_updates[a] for a in sorted(self.host_updates)]
            self.host_updates.clear()
            placed = self.placed
            lean = {u["id"] for u in updates if placed.get(u["id"]) == hostrow.placement(u)}
            if hostrow.update_all(conn, updates, lean) != len(updates):
                raise StaleHostError("a host row changed under a deferred batch")  # `batch_failed` forgets `placed`
            for u in updates:
                placed[u["id"]] = hostrow.placement(u)
        if self.samples:
            insert_rows(conn, "INSERT INTO samples (agent_id, epoch, seq, ts, received_at, data)", self.samples)
            self.samples.clear()
        if self.points:
            insert_rows(conn, "INSERT INTO meter_points (stream, k1, k2, ts, tenant, data)", self.points)
            self.points.clear()
        self.pending.write(conn)
        if len(self.periods) > MAX_PERIODS:
            self.periods.clear()
        self.periods.update(self.closed)  # read in this transaction, or checked in it (`assume_periods`)

    def serial_job_done(self) -> None:
        # it may have closed a period
        self.closed.clear()

    def batch_failed(self) -> None:
        self.hosts.clear()
        self.placed.clear()  # perhaps its guess was wrong, or the rows it wrote are gone
        self.batch_started()
        self.verify_batches = VERIFY_BATCHES  # perhaps a host row changed past the writer
        self.periods.clear()


def plain(job: Callable[[Connection], T_co]) -> Callable[[Connection, WriteState], T_co]:
    """A job that needs no state, in the staged jobs' signature."""
    return lambda conn, _state: job(conn)
