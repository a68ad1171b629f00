"""Downsampling of raw samples into per-host rollups (Zabbix trends, Prometheus
recording rules): one row per host and time bucket, kept long after the raw
samples are gone.

Buckets are aligned to the Unix epoch (a 300 s bucket starts at a multiple of
300). A bucket is rolled up once it is complete and older than the
`storage.downsample_after_days` horizon; raw samples are still deleted by
their own retention (`store.prune_samples`), so the horizon must lie inside it.

Averages are per sample, not time-weighted: a host reports at a steady
interval, and a sample-weighted average can be merged exactly from
(count, avg) pairs. Counters (network bytes) are summed as Prometheus'
`increase` does: the non-negative steps between consecutive reports, a
decrease being a counter reset that counts the new value from zero. A step
belongs to the bucket of its later report, and the first report of a bucket
steps from the last report before it, so the buckets' deltas add up to the
increase over the whole series with nothing lost at bucket edges.

The SQL is the dialect SQLite and PostgreSQL share (see `collector.db`):
`?` parameters, `ON CONFLICT` upserts, no engine-specific functions; the
reports are decoded here with msgspec, never with SQL JSON functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import msgspec

from agent.wire import Report

from .db import Connection, transaction
from .metering.counters import counter_delta
from .migrations import ROLLUPS_DDL
from .periodic import no_pause

__all__ = [
    "DEFAULT_RESOLUTION_S",
    "RESOLUTIONS",
    "ROLLUPS_DDL",
    "ROWS_PER_HOST",
    "Rollup",
    "bucket_of",
    "host_rollups",
    "housekeep",
    "prune_rollups",
    "rollup_reports",
    "rollup_samples",
    "summarize",
]

DEFAULT_RESOLUTION_S = 300
#: resolutions housekeeping builds; hourly views can be merged from 5-minute rows.
RESOLUTIONS: tuple[int, ...] = (DEFAULT_RESOLUTION_S,)
#: raw samples a housekeeping round may read per host (`housekeep`): two hours of reports every 15 s
ROWS_PER_HOST = 960

#: the wire format does not bound counters; a BIGINT column does
_BIGINT_MAX = 2**63 - 1

_METRICS = (
    "samples",
    "cpu_pct_avg",
    "cpu_pct_max",
    "mem_pct_avg",
    "mem_pct_max",
    "load1_avg",
    "load1_max",
    "disk_pct_max",
    "rx_bytes",
    "tx_bytes",
    "sessions_max",
)

_UPSERT = (
    f"INSERT INTO rollups (agent_id, resolution_s, bucket, {', '.join(_METRICS)}) "
    f"VALUES ({', '.join('?' for _ in range(3 + len(_METRICS)))}) "
    "ON CONFLICT (agent_id, resolution_s, bucket) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _METRICS)
    # A bucket is only ever rebuilt with more samples (reports that arrived
    # late): never replaced by a poorer one once part of its raw samples is pruned.
    + " WHERE excluded.samples > rollups.samples"
)

_decoder = msgspec.json.Decoder(Report)


# -- pure ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rollup:
    """One host's bucket. A value is None when no report in it carried the
    metric (for rx/tx: no two consecutive reports shared an interface)."""

    bucket: int
    samples: int
    cpu_pct_avg: float | None = None
    cpu_pct_max: float | None = None
    mem_pct_avg: float | None = None
    mem_pct_max: float | None = None
    load1_avg: float | None = None
    load1_max: float | None = None
    disk_pct_max: float | None = None
    rx_bytes: int | None = None
    tx_bytes: int | None = None
    sessions_max: int | None = None


def bucket_of(ts: float, resolution_s: int) -> int:
    """Start of the epoch-aligned bucket holding `ts`."""
    return math.floor(ts / resolution_s) * resolution_s


def _order(report: Report) -> tuple[float, int]:
    return (report.ts, report.seq)


def _pct(used: int, total: int) -> float | None:
    if total <= 0:
        return None
    try:
        return 100.0 * used / total
    except OverflowError:  # a hostile byte count beyond any float: no number at all
        return None


def _avg_max(values: Sequence[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    n = len(values)
    hi = max(values)
    # dividing first keeps a sum of huge (still finite) load values finite;
    # clamping absorbs the last-bit rounding so the average never leaves [min, max]
    avg = math.fsum(v / n for v in values)
    return min(max(avg, min(values)), hi), hi


def _memory_pct(report: Report) -> float | None:
    mem = report.memory
    return _pct(mem.used_bytes, mem.total_bytes) if mem is not None else None


def _fullest_disk_pct(report: Report) -> float | None:
    used = [p for d in report.disks if (p := _pct(d.used_bytes, d.total_bytes)) is not None]
    return max(used) if used else None


def _step(before: Report, after: Report) -> tuple[int, int] | None:
    """Bytes received and sent between two reports; None when they share no interface
    (a new interface's first reading is a baseline, not traffic)."""
    previous = {n.nic: n for n in before.net}
    rx = tx = 0
    shared = False
    for nic in after.net:
        old = previous.get(nic.nic)
        if old is None:
            continue
        shared = True
        rx += int(counter_delta(old.rx_bytes_total, nic.rx_bytes_total))
        tx += int(counter_delta(old.tx_bytes_total, nic.tx_bytes_total))
    return (rx, tx) if shared else None


def summarize(reports: Iterable[Report], *, bucket: int, previous: Report | None = None) -> Rollup:
    """The rollup of one host's reports in one bucket (any order). `previous`
    is the host's last report before the bucket, the baseline of its counters."""
    ordered = sorted(reports, key=_order)
    if not ordered:
        raise ValueError("a rollup needs at least one report")
    cpu = [r.cpu.percent for r in ordered if r.cpu is not None]
    mem = [p for r in ordered if (p := _memory_pct(r)) is not None]
    load = [r.load1 for r in ordered if r.load1 is not None]
    disk = [p for r in ordered if (p := _fullest_disk_pct(r)) is not None]
    sessions = [r.sessions for r in ordered if r.sessions is not None]
    rx: int | None = None
    tx: int | None = None
    for before, after in zip([previous, *ordered], ordered, strict=False):
        step = _step(before, after) if before is not None else None
        if step is not None:
            rx = (rx or 0) + step[0]
            tx = (tx or 0) + step[1]
    cpu_avg, cpu_max = _avg_max(cpu)
    mem_avg, mem_max = _avg_max(mem)
    load_avg, load_max = _avg_max(load)
    return Rollup(
        bucket=bucket,
        samples=len(ordered),
        cpu_pct_avg=cpu_avg,
        cpu_pct_max=cpu_max,
        mem_pct_avg=mem_avg,
        mem_pct_max=mem_max,
        load1_avg=load_avg,
        load1_max=load_max,
        disk_pct_max=max(disk) if disk else None,
        rx_bytes=rx,
        tx_bytes=tx,
        sessions_max=max(sessions) if sessions else None,
    )


def rollup_reports(
    reports: Iterable[Report],
    *,
    resolution_s: int = DEFAULT_RESOLUTION_S,
    previous: Report | None = None,
    pause: Callable[[], None] = no_pause,
) -> list[Rollup]:
    """Rollups of one host's reports (any order), one per bucket that has a
    report, oldest first; each bucket's counter baseline is the report before it.
    `pause` is called before each bucket (see `rollup_samples`)."""
    ordered = sorted(reports, key=_order)
    out: list[Rollup] = []
    start = 0
    while start < len(ordered):
        pause()
        bucket = bucket_of(ordered[start].ts, resolution_s)
        stop = start
        while stop < len(ordered) and ordered[stop].ts < bucket + resolution_s:
            stop += 1
        out.append(summarize(ordered[start:stop], bucket=bucket, previous=previous))
        previous = ordered[stop - 1]
        start = stop
    return out


# -- storage ------------------------------------------------------------------------


def _clamp(value: int | None) -> int | None:
    return None if value is None else min(value, _BIGINT_MAX)


def _row(agent_id: str, resolution_s: int, r: Rollup) -> tuple[object, ...]:
    return (
        agent_id,
        resolution_s,
        r.bucket,
        r.samples,
        r.cpu_pct_avg,
        r.cpu_pct_max,
        r.mem_pct_avg,
        r.mem_pct_max,
        r.load1_avg,
        r.load1_max,
        r.disk_pct_max,
        _clamp(r.rx_bytes),
        _clamp(r.tx_bytes),
        _clamp(r.sessions_max),
    )


def _agents(conn: Connection, resolution_s: int) -> list[str]:
    """Every host, the furthest behind first: never rolled up, then by its
    newest rollup bucket (one index seek each, inside the database), then by
    id. A round that runs out of its row budget stops part way; in agent id
    order the same first hosts took the budget every round and, in a fleet
    whose hour of reports outgrew it (~830 hosts at 15 s against 200,000
    rows), the rest were never rolled up before their raw samples expired.
    Hosts, not SELECT DISTINCT over samples or rollups: that would scan whole tables."""
    return [
        row[0]
        for row in conn.execute(
            "SELECT h.agent_id FROM hosts h ORDER BY coalesce((SELECT max(r.bucket) FROM rollups r "
            "WHERE r.agent_id = h.agent_id AND r.resolution_s = ?), -1), h.agent_id",
            (resolution_s,),
        ).fetchall()
    ]


def _resume_at(conn: Connection, agent_id: str, resolution_s: int) -> int | None:
    """First bucket to (re)build: the newest one already rolled up, since reports
    still arriving for it (an agent's spool draining) may complete it; else the
    bucket of the oldest raw sample; None when the host has no samples."""
    row = conn.execute(
        "SELECT max(bucket) FROM rollups WHERE agent_id = ? AND resolution_s = ?", (agent_id, resolution_s)
    ).fetchone()
    if row is not None and row[0] is not None:
        return int(row[0])
    row = conn.execute("SELECT min(ts) FROM samples WHERE agent_id = ?", (agent_id,)).fetchone()
    if row is None or row[0] is None:
        return None
    return bucket_of(float(row[0]), resolution_s)


def _baseline(conn: Connection, agent_id: str, before: int) -> Report | None:
    row = conn.execute(
        "SELECT data FROM samples WHERE agent_id = ? AND ts < ? ORDER BY ts DESC, seq DESC LIMIT 1",
        (agent_id, before),
    ).fetchone()
    return _decoder.decode(row[0]) if row is not None else None


def _samples(conn: Connection, agent_id: str, start: int, stop: int, limit: int | None) -> list[tuple[float, str]]:
    sql = "SELECT ts, data FROM samples WHERE agent_id = ? AND ts >= ? AND ts < ? ORDER BY ts"
    if limit is None:
        return [(float(ts), data) for ts, data in conn.execute(sql, (agent_id, start, stop)).fetchall()]
    rows = conn.execute(sql + " LIMIT ?", (agent_id, start, stop, limit)).fetchall()
    return [(float(ts), data) for ts, data in rows]


def rollup_samples(
    conn: Connection,
    *,
    before: float,
    resolution_s: int,
    after: float | None = None,
    chunk: int = 5000,
    max_rows: int | None = None,
    pause: Callable[[], None] = no_pause,
) -> int:
    """Roll up every complete bucket older than `before` not yet rolled up; returns
    the rollup rows inserted or grown. Idempotent: running it again with nothing
    new changes no row and returns 0.

    Works host by host, in chunks of at most `chunk` raw samples (one
    transaction each), so no statement holds the writer for long. Once
    `max_rows` raw samples were read it stops after the current host, and the
    next call carries on with the hosts furthest behind: a first run over
    weeks of history is spread over several housekeeping rounds instead of
    stalling ingest for minutes, and no host waits behind the others.
    Buckets ending before `after` are skipped: they would be pruned right
    away.

    A report arriving after its bucket and a later one were rolled up is not
    added: it stays in the raw samples until their retention ends.

    `pause` is called before each host and each bucket, outside any
    transaction: housekeeping paces its thread there (`periodic.Pacer`).
    """
    if resolution_s <= 0 or chunk <= 0:
        raise ValueError("resolution_s and chunk must be positive")
    end = bucket_of(before, resolution_s)  # buckets starting before it are complete
    floor = bucket_of(after, resolution_s) if after is not None else None
    written = 0
    read = 0
    for agent_id in _agents(conn, resolution_s):
        if max_rows is not None and read >= max_rows:
            break
        pause()
        start = _resume_at(conn, agent_id, resolution_s)
        if start is None:
            continue
        if floor is not None:
            start = max(start, floor)
        previous = _baseline(conn, agent_id, start) if start < end else None
        while start < end:
            rows = _samples(conn, agent_id, start, end, chunk + 1)
            if not rows:
                break
            stop = end
            if len(rows) > chunk:
                # the chunk may end inside a bucket: keep only whole buckets
                first, cut = bucket_of(rows[0][0], resolution_s), bucket_of(rows[-1][0], resolution_s)
                if cut > first:
                    stop = cut
                    rows = [row for row in rows if row[0] < cut]
                else:  # one bucket holds more than a chunk: take it whole
                    stop = first + resolution_s
                    rows = _samples(conn, agent_id, first, stop, None)
            read += len(rows)
            reports = [_decoder.decode(data) for _, data in rows]
            built = rollup_reports(reports, resolution_s=resolution_s, previous=previous, pause=pause)
            # Only this table, which ingest never writes: on PostgreSQL the write lock shared,
            # as ingest batches hold it. Exclusive, each of a round's transactions (one per
            # host, 10,000 with 10,000 hosts) waited for the batches in flight and held the
            # next ones back.
            with transaction(conn, streams=()):
                cur = conn.executemany(_UPSERT, [_row(agent_id, resolution_s, r) for r in built])
            # rows inserted or grown; a rebuilt bucket that gained nothing is not counted
            written += max(cur.rowcount, 0)
            previous = max(reports, key=_order)
            start = stop
    return written


def prune_rollups(conn: Connection, *, before: float, resolution_s: int, pause: Callable[[], None] = no_pause) -> int:
    """Delete rollups whose bucket ended at or before `before`; host by host, so
    each statement touches one host's expired rows (an hour's worth, normally).
    `pause` is called before each host's statement."""
    last = math.floor(before) - resolution_s  # bucket + resolution_s <= before
    deleted = 0
    for (agent_id,) in conn.execute("SELECT agent_id FROM hosts ORDER BY agent_id").fetchall():
        pause()
        cur = conn.execute(
            "DELETE FROM rollups WHERE agent_id = ? AND resolution_s = ? AND bucket <= ?",
            (agent_id, resolution_s, last),
        )
        deleted += max(cur.rowcount, 0)
    return deleted


def host_rollups(
    conn: Connection, agent_id: str, *, since: float, until: float, resolution_s: int = DEFAULT_RESOLUTION_S
) -> list[dict[str, object]]:
    """A host's rollups whose bucket starts in [since, until], oldest first. No
    access check: the caller has already resolved the host for its principal."""
    rows = conn.execute(
        f"SELECT bucket, {', '.join(_METRICS)} FROM rollups "
        "WHERE agent_id = ? AND resolution_s = ? AND bucket >= ? AND bucket <= ? ORDER BY bucket",
        (agent_id, resolution_s, since, until),
    ).fetchall()
    return [{"resolution_s": resolution_s, **dict(zip(("bucket", *_METRICS), row, strict=True))} for row in rows]


def housekeep(
    conn: Connection,
    *,
    now: float,
    downsample_after_s: float,
    rollup_retention_s: float,
    max_rows: int | None = 200_000,
    pause: Callable[[], None] = no_pause,
) -> tuple[int, int]:
    """Housekeeping's hourly rollup step: (rollup rows written, rollups pruned).
    Run it before the raw samples are pruned. 0 disables either half, as in
    the config (`storage.downsample_after_days`, `storage.rollup_retention_days`).
    `pause` is called between hosts and buckets, never inside a transaction.

    A round reads at most `max_rows` raw samples, or `ROWS_PER_HOST` per host
    where that is more: a fixed budget falls behind a fleet whose hourly
    reports outgrow it (10,000 hosts at 15 s send 2.4 million an hour), and
    the backlog then grows until raw retention deletes samples nobody rolled
    up. Per host it is twice what an agent sending every 15 s adds in an
    hour, so an hourly round keeps up with any usual interval and works off
    a backlog at least as fast as it grew."""
    rolled = pruned = 0
    if max_rows is not None:
        (hosts,) = conn.execute("SELECT count(*) FROM hosts").fetchone()
        max_rows = max(max_rows, ROWS_PER_HOST * int(hosts))
    after = now - rollup_retention_s if rollup_retention_s > 0 else None
    for resolution_s in RESOLUTIONS:
        if downsample_after_s > 0:
            rolled += rollup_samples(
                conn,
                before=now - downsample_after_s,
                resolution_s=resolution_s,
                after=after,
                max_rows=max_rows,
                pause=pause,
            )
        if rollup_retention_s > 0:
            pruned += prune_rollups(conn, before=now - rollup_retention_s, resolution_s=resolution_s, pause=pause)
    return rolled, pruned
