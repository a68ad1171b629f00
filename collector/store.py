"""What the API reads and writes: ingest, hosts, retention (enrollment: enroll.py).

Write functions take the writer's connection and run inside its batch
transaction; read functions take any connection.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import msgspec

from agent.wire import Batch, BatchAck, Report

from . import devices, hostrow
from .admin import Principal, visible_tenant
from .db import Connection, insert_rows, stream_lock
from .errors import ConflictError, ForbiddenError, NotFoundError, OverloadedError
from .host_health import host_health, record_unknown_fields
from .ingest import HostSeqState, plan_batch
from .metering.booking import Booker, MeteringSettings
from .metering.points import device_point
from .metering.streams import StreamKey
from .periodic import no_pause
from .writestate import HostEntry, StaleHostError, WriteState

__all__ = [
    "HostFilter",
    "IngestJob",
    "get_host",
    "host_samples",
    "ingest",
    "list_hosts",
    "prune_samples",
]

_report_encoder = msgspec.json.Encoder()
_encode = _report_encoder.encode
_report_decoder = msgspec.json.Decoder(Report)
#: metering settings of an ingest called without (tests, tools): made once, ~9 µs each
_NO_SETTINGS = MeteringSettings()


@dataclass(frozen=True)
class IngestJob:
    """An agent's batch as a writer job (`writestate.StagedJob`): it locks
    only its own streams and shares the writer's state."""

    principal: Principal
    batch: Batch
    received_at: float
    metering: MeteringSettings | None = None
    #: the batch's unknown field paths, counted on the host
    unknown: tuple[str, ...] = ()

    @property
    def streams(self) -> Sequence[int]:
        """Lock keys: the agent's stream and each device it polled (by device
        id alone: its owner is decided inside the job; a shared key only
        serializes)."""
        host = _host_lock(self.batch.agent.id)
        keys: set[int] | None = None
        for report in self.batch.reports:
            for reading in report.snmp:
                if keys is None:
                    keys = {host}
                keys.add(stream_lock("device:" + reading.device))
        return (host,) if keys is None else tuple(keys)

    @property
    def host(self) -> str:
        """The host row the job writes (`writestate.hosts_of`)."""
        return self.batch.agent.id

    def __call__(self, conn: Connection, state: WriteState) -> BatchAck:
        ack = ingest(conn, self.principal, self.batch, self.received_at, self.metering, state)
        if self.unknown:
            record_unknown_fields(conn, self.batch.agent.id, self.unknown)
        return ack


#: host streams' lock keys by agent id: the event loop asks for them on
#: every request, and hashing the stream name again cost ~3 µs each time
_HOST_LOCKS: dict[str, int] = {}
#: agent ids remembered; beyond this the memo starts over
_HOST_LOCKS_MAX = 100_000


def _host_lock(agent_id: str) -> int:
    key = _HOST_LOCKS.get(agent_id)
    if key is None:
        if len(_HOST_LOCKS) >= _HOST_LOCKS_MAX:
            _HOST_LOCKS.clear()
        key = _HOST_LOCKS[agent_id] = stream_lock(StreamKey.host(agent_id).encode())
    return key


#: how often a host row is read again because someone changed it under a cached entry
_STALE_RETRIES = 3


def ingest(
    conn: Connection,
    principal: Principal,
    batch: Batch,
    received_at: float,
    metering: MeteringSettings | None = None,
    state: WriteState | None = None,
) -> BatchAck:
    """Store the new reports of a batch and book their metering; all or
    nothing (the writer's savepoint, or its deferred batch). With the
    writer's `state`, the host's row and newest point come from its cache,
    and the ledger rows are left to the writer to upsert for the whole
    batch; in a deferred batch (`WriteState.deferring`) the samples, points
    and host update too."""
    agent = batch.agent
    if principal.role != "agent" or principal.agent_id != agent.id:
        raise ForbiddenError(
            "token not valid for this agent",
            [f"the token belongs to agent {principal.agent_id!r}, the batch to {agent.id!r}"],
        )
    deferring = state is not None and state.deferring
    if deferring:
        assert state is not None
        state.clean = True  # nothing written yet: a refusal below needs no rollback
    entry = state.hosts.get(agent.id) if state is not None else None
    encoded: list[str] = []  # the new reports' JSON, in the order of plan.new
    for _attempt in range(_STALE_RETRIES):
        cached = entry is not None
        if entry is None:
            if deferring and agent.id in state.host_updates:  # type: ignore[union-attr]
                # its row as this batch left it is not stored yet: run the batch job by job
                state.clean = False  # type: ignore[union-attr]
                raise StaleHostError(f"host {agent.id} must be read again inside a deferred batch")
            entry = _read_host(conn, agent.id)
        try:
            if entry is None or entry.tenant != principal.tenant:
                raise ForbiddenError("agent is not enrolled in the token's tenant")
            plan = plan_batch(entry.seq, batch.reports)
        except (ForbiddenError, ConflictError):
            if not cached:
                raise
            plan = None  # judged on a cached row: judge again on the stored one
        if plan is not None and entry is not None:
            new = plan.new
            encoded = [_encode(r).decode() for r in new]
            latest: Report | None = None
            if new:
                # the first of the newest, as max() picks it
                latest_i, newest_ts = 0, new[0].ts
                for i in range(1, len(new)):
                    if new[i].ts > newest_ts:
                        latest_i, newest_ts = i, new[i].ts
                latest = new[latest_i]
            params = hostrow.host_update(
                agent,
                tenant=entry.tenant,
                old=entry.seq,
                reports_total=entry.reports_total,
                duplicates_total=entry.duplicates_total,
                new=plan.state,
                latest=(encoded[latest_i], latest.ts, latest.interval_s) if latest is not None else None,
                received_at=received_at,
                stored=len(plan.new),
                duplicates=plan.duplicates,
            )
            if deferring:
                assert state is not None
                state.clean = False
                state.defer_host_update(params)  # written, and checked, before the commit
                break
            # Updated first, naming the values the entry was built from: a row
            # someone else changed since (enrollment, another collector) is not
            # updated, and the entry is read again.
            if hostrow.update(conn, params):
                break
        if state is not None:
            state.hosts.pop(agent.id, None)
        entry = None
    else:
        raise OverloadedError("the host's row kept changing while its reports were stored; retry", retry_after_s=1)
    assert plan is not None and entry is not None  # the loop ends at a successful update
    old, new_state = entry.seq, plan.state
    refused: list[str] = []  # one line per device whose readings ownership refused
    # the cached newest point, where it is still the stream's newest
    tail = entry.tail if entry.tail is not None and entry.tail[0] == (old.epoch, old.last_seq) else None
    if plan.new:
        epoch = new_state.epoch
        rows = [(agent.id, epoch, r.seq, r.ts, received_at, text) for r, text in zip(plan.new, encoded, strict=True)]
        if deferring:
            assert state is not None
            state.samples.extend(rows)
        else:
            insert_rows(conn, "INSERT INTO samples (agent_id, epoch, seq, ts, received_at, data)", rows)
        settings = metering or _NO_SETTINGS
        if state is None:
            booker = Booker(conn, received_at, settings, days=entry.days)
        elif deferring:
            # straight into the batch's rows: a failure here reruns the whole batch
            booker = Booker(conn, received_at, settings, closed=state.closed, buffer=state.pending, pending=None,
                            write_buffer=False, days=entry.days, points=state.points, write_points=False)  # fmt: skip
        else:
            booker = Booker(conn, received_at, settings, closed=state.closed, buffer=state.staged,
                            pending=state.pending, write_buffer=False, days=entry.days)  # fmt: skip
        tail = booker.book_host_reports(
            entry.tenant,
            agent,
            new_state.epoch,
            plan.new,
            newest_after=(old.epoch, old.last_seq),
            tail=tail,
        )
        if any(r.snmp for r in plan.new):  # most reports carry no device readings
            readings = devices.ingest_readings(conn, entry.tenant, agent.id, plan.new, received_at)
            refused = readings.refused
            for owner, reading in readings.accepted:
                if reading.kind == "printer":
                    booker.book_device_reading(
                        owner, reading.device, device_point(reading), reading.ok, agent_id=agent.id
                    )
        booker.flush()
    if new_state.gaps != old.gaps or new_state.epoch != old.epoch:
        conn.execute("DELETE FROM gaps WHERE agent_id = ?", (agent.id,))
        conn.executemany(
            "INSERT INTO gaps (agent_id, epoch, from_seq, to_seq, detected_at) VALUES (?, ?, ?, ?, ?)",
            [(agent.id, new_state.epoch, lo, hi, received_at) for lo, hi in new_state.gaps],
        )
    if state is not None:
        newest = (new_state.epoch, new_state.last_seq)
        state.remember(
            agent.id,
            HostEntry(
                tenant=entry.tenant,
                seq=new_state,
                reports_total=entry.reports_total + len(plan.new),
                duplicates_total=entry.duplicates_total + plan.duplicates,
                tail=tail if tail is not None and tail[0] == newest else None,
                days=entry.days,
            ),
        )
    return BatchAck(
        accepted_through_seq=plan.accepted_through_seq,
        stored=len(plan.new),
        duplicates=plan.duplicates,
        refused=refused,
    )


def _read_host(conn: Connection, agent_id: str) -> HostEntry | None:
    row = conn.execute(
        "SELECT tenant, last_seq, last_ts, epoch, rebase_allowed, gap_count, reports_total, duplicates_total "
        "FROM hosts WHERE agent_id = ?",
        (agent_id,),
    ).fetchone()
    if row is None:
        return None
    tenant, last_seq, last_ts, epoch, rebase_allowed, gap_count, reports_total, duplicates_total = row
    gaps: tuple[tuple[int, int], ...] = ()
    if gap_count:
        gaps = tuple(
            (int(lo), int(hi))
            for lo, hi in conn.execute(
                "SELECT from_seq, to_seq FROM gaps WHERE agent_id = ? AND epoch = ? ORDER BY from_seq",
                (agent_id, epoch),
            ).fetchall()
        )
    seq = HostSeqState(last_seq=last_seq, last_ts=last_ts, gaps=gaps, epoch=epoch, rebase_allowed=bool(rebase_allowed))
    return HostEntry(tenant=tenant, seq=seq, reports_total=reports_total, duplicates_total=duplicates_total)


@dataclass(frozen=True)
class HostFilter:
    tenant: str | None = None
    role: str | None = None
    site: str | None = None
    state: str | None = None  # online | offline


_HOST_COLUMNS = (
    "agent_id, tenant, hostname, role, site, os, version, boot_time, enrolled_at, "
    "last_seq, last_seen, latest_ts, interval_s, reports_total, duplicates_total, gap_count, latest"
)


def list_hosts(
    conn: Connection, principal: Principal, flt: HostFilter, *, now: float, offline_after_s: float
) -> list[dict[str, object]]:
    tenant = visible_tenant(principal, flt.tenant, "hosts")
    where: list[str] = []
    args: list[object] = []
    for column, value in (("tenant", tenant), ("role", flt.role), ("site", flt.site)):
        if value:
            where.append(f"{column} = ?")
            args.append(value)
    if flt.state == "online":
        where.append("last_seen >= ?")
        args.append(now - offline_after_s)
    elif flt.state == "offline":
        where.append("(last_seen IS NULL OR last_seen < ?)")
        args.append(now - offline_after_s)
    sql = f"SELECT {_HOST_COLUMNS} FROM hosts"
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = conn.execute(sql + " ORDER BY tenant, hostname", args).fetchall()
    return [_host_summary(row, now, offline_after_s) for row in rows]


def get_host(
    conn: Connection, principal: Principal, agent_id: str, *, now: float, offline_after_s: float
) -> dict[str, object]:
    tenant = visible_tenant(principal, None, "hosts")
    row = conn.execute(f"SELECT {_HOST_COLUMNS} FROM hosts WHERE agent_id = ?", (agent_id,)).fetchone()
    # Another tenant's host is "not found", not "forbidden": its existence is not ours to tell.
    if row is None or (tenant is not None and row[1] != tenant):
        raise NotFoundError(f"no host {agent_id!r}")
    host = _host_summary(row, now, offline_after_s)
    host["report"] = json.loads(row[-1]) if row[-1] else None
    host["health"] = host_health(conn, agent_id)
    host["gaps"] = [
        {"from_seq": lo, "to_seq": hi, "detected_at": at}
        for lo, hi, at in conn.execute(
            "SELECT from_seq, to_seq, detected_at FROM gaps WHERE agent_id = ? ORDER BY from_seq", (agent_id,)
        )
    ]
    return host


def host_samples(
    conn: Connection,
    principal: Principal,
    agent_id: str,
    *,
    since: float,
    until: float,
    limit: int,
    now: float,
    offline_after_s: float,
) -> list[dict[str, object]]:
    get_host(conn, principal, agent_id, now=now, offline_after_s=offline_after_s)  # access check
    rows = conn.execute(
        "SELECT data FROM samples WHERE agent_id = ? AND ts >= ? AND ts <= ? ORDER BY ts LIMIT ?",
        (agent_id, since, until, limit),
    ).fetchall()
    return [json.loads(data) for (data,) in rows]


def _host_summary(row: tuple[object, ...], now: float, offline_after_s: float) -> dict[str, object]:
    names = [c.strip() for c in _HOST_COLUMNS.split(",")]
    host = dict(zip(names, row, strict=True))
    latest = host.pop("latest")
    report = _report_decoder.decode(latest) if isinstance(latest, str) else None
    last_seen = host["last_seen"]
    host["id"] = host.pop("agent_id")
    host["state"] = "online" if isinstance(last_seen, float) and now - last_seen <= offline_after_s else "offline"
    host["metrics"] = _headline(report)
    return host


def _headline(report: Report | None) -> dict[str, float | int | None]:
    """The few numbers a fleet table shows, derived from the latest report."""
    if report is None:
        return {}
    mem = report.memory
    disk_pct = [100.0 * d.used_bytes / d.total_bytes for d in report.disks if d.total_bytes]
    return {
        "cpu_percent": report.cpu.percent if report.cpu else None,
        "memory_used_percent": round(100.0 * mem.used_bytes / mem.total_bytes, 2) if mem and mem.total_bytes else None,
        "disk_used_percent_max": round(max(disk_pct), 2) if disk_pct else None,
        "load1": report.load1,
        "sessions": report.sessions,
    }


def prune_samples(conn: Connection, *, before: float, chunk: int = 10000, pause: Callable[[], None] = no_pause) -> int:
    """Delete raw samples received before `before`, in chunks so the writer
    never holds the database for long. `pause` is called before each chunk:
    on SQLite the deleting is this thread's own CPU (housekeeping paces it)."""
    deleted = 0
    while True:
        pause()
        cur = conn.execute(
            "DELETE FROM samples WHERE (agent_id, epoch, seq) IN "
            "(SELECT agent_id, epoch, seq FROM samples WHERE received_at < ? LIMIT ?)",
            (before, chunk),
        )
        deleted += cur.rowcount
        if cur.rowcount < chunk:
            return deleted
