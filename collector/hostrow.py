"""A host row as ingest writes it: the UPDATE that stores a job's new seq
state and latest report, guarded by the values the writer's cache was built
from, and how two such updates of one writer batch combine into one.

Every ingest of a host changes `reports_total` or `duplicates_total`, and
enrollment sets `rebase_allowed`: the guard (`was_*`) names them, so a row
someone else changed since updates nothing (rowcount 0) and the caller reads
it again.
"""

from __future__ import annotations

import re
from collections.abc import Container, Sequence
from typing import Any

from agent.wire import AgentInfo

from .db import FAIL_WHERE, Connection, dialect
from .ingest import HostSeqState

__all__ = ["GUARD_COLUMNS", "HostUpdate", "combine", "guard", "host_update", "placement", "update", "update_all"]

#: a host update's parameters (named, as the statement takes them)
HostUpdate = dict[str, Any]

#: the columns the guard compares, in its order (`was_tenant` … `was_dups`)
GUARD_COLUMNS = "tenant, last_seq, epoch, rebase_allowed, gap_count, reports_total, duplicates_total"

_SET = (
    "UPDATE hosts SET hostname=:hostname, {placement}os=:os, version=:version, "
    "boot_time=:boot_time, dead_letters=:dead_letters, "
    "last_seq=:last_seq, last_ts=:last_ts, epoch=:epoch, rebase_allowed=0, "
    "last_seen=:seen, reports_total=reports_total+:stored, duplicates_total=duplicates_total+:dups, "
    "gap_count=:gaps"
)
#: role and site are in the index hosts_tenant: naming them in SET rewrites
#: its entry (a page per commit) even when they are unchanged, so where the
#: writer knows the row already has the report's role and site (`lean`) the
#: update leaves them out and names them in its guard instead: a row someone
#: changed them in updates nothing, as any other changed row.
_PLACEMENT = "role=:role, site=:site, "
_PLACED = " AND role{eq}:role AND site{eq}:site"
# Only a report newer than the stored latest replaces it: a late gap filler
# must not make the host look like it went back in time.
_LATEST = (
    ", latest = CASE WHEN latest_ts IS NULL OR :latest_ts >= latest_ts THEN :latest ELSE latest END"
    ", interval_s = CASE WHEN latest_ts IS NULL OR :latest_ts >= latest_ts"
    " THEN :interval ELSE interval_s END"
    ", latest_ts = CASE WHEN latest_ts IS NULL OR :latest_ts >= latest_ts THEN :latest_ts ELSE latest_ts END"
)
_WHERE = (
    " WHERE agent_id=:id AND tenant{eq}:was_tenant AND last_seq=:was_seq AND epoch=:was_epoch"
    " AND rebase_allowed=:was_rebase AND gap_count=:was_gaps AND reports_total=:was_reports"
    " AND duplicates_total=:was_dups"
)


def _statements(eq: str) -> dict[tuple[bool, bool], str]:
    """The updates by (with latest, lean), the guard's tenant, role and site
    compared with `eq`."""
    return {
        (latest, lean): _SET.format(placement="" if lean else _PLACEMENT)
        + (_LATEST if latest else "")
        + _WHERE.format(eq=eq)
        + (_PLACED.format(eq=eq) if lean else "")
        for latest in (False, True)
        for lean in (False, True)
    }


_SQL = _statements("=")
# PostgreSQL: the guard compares tenant, role and site with IS NOT DISTINCT
# FROM (the same for these NOT NULL columns), which no index can serve, so
# the row is always found by its primary key. With `=` the lean update
# matched every column of hosts_tenant, and without statistics (a fresh or
# newly enrolled fleet, until autovacuum's first ANALYZE) the planner found
# both indexes equally cheap and took hosts_tenant: each update read every
# host of its tenant, site and role (measured, 10,000 agents: 616 buffers
# and 643 µs per update against 6 and 32 once analyzed; the server's CPU
# per report doubled).
_PG_SQL = _statements(" IS NOT DISTINCT FROM ")
# PostgreSQL, a deferred batch's updates (`update_all`): one whose guard does
# not hold fails the transaction on the server (`db.FAIL_WHERE`), so the
# writer need not wait for the row counts before sending the COMMIT (a round
# trip per batch), and the batch runs again job by job, reading the row.
_ENFORCED = {
    key: f"WITH u AS ({sql} RETURNING 1) {FAIL_WHERE}NOT EXISTS (SELECT 1 FROM u)" for key, sql in _PG_SQL.items()
}

#: SQLite binds numbered parameters (`?3`) from a tuple at a third of what
#: it costs to bind names from a dict; PostgreSQL (`pg.translate`) takes names
_NAMES = {key: tuple(dict.fromkeys(re.findall(r":(\w+)", sql))) for key, sql in _SQL.items()}


def _numbered_sql(sql: str, names: tuple[str, ...]) -> str:
    return re.sub(r":(\w+)", lambda m: f"?{names.index(m.group(1)) + 1}", sql)


_NUMBERED = {key: _numbered_sql(sql, _NAMES[key]) for key, sql in _SQL.items()}


#: the guard's parameters, in the order of GUARD_COLUMNS
_GUARD = ("was_tenant", "was_seq", "was_epoch", "was_rebase", "was_gaps", "was_reports", "was_dups")


def guard(tenant: str, seq: HostSeqState, reports_total: int, duplicates_total: int) -> tuple[object, ...]:
    """The values of GUARD_COLUMNS a host row has when it is as a cache entry
    built from these says: what the update's guard compares, and what
    `WriteState.verify_hosts` reads back."""
    return (tenant, seq.last_seq, seq.epoch, int(seq.rebase_allowed), len(seq.gaps), reports_total, duplicates_total)


def host_update(
    agent: AgentInfo,
    *,
    tenant: str,
    old: HostSeqState,
    reports_total: int,
    duplicates_total: int,
    new: HostSeqState,
    latest: tuple[str, float, float] | None,
    received_at: float,
    stored: int,
    duplicates: int,
) -> HostUpdate:
    """The parameters of a host's update: `latest` is the newest new report
    as (JSON, ts, interval_s), if any; the rest names the row as it was."""
    params: HostUpdate = {
        "id": agent.id,
        "hostname": agent.hostname,
        "role": agent.role,
        "site": agent.site,
        "os": agent.os,
        "version": agent.version,
        "boot_time": agent.boot_time,
        "dead_letters": agent.dead_letters,
        "last_seq": new.last_seq,
        "last_ts": new.last_ts,
        "epoch": new.epoch,
        "seen": received_at,
        "stored": stored,
        "dups": duplicates,
        "gaps": len(new.gaps),
    }
    params.update(zip(_GUARD, guard(tenant, old, reports_total, duplicates_total), strict=True))
    if latest is not None:
        params["latest"], params["latest_ts"], params["interval"] = latest
    return params


def combine(earlier: HostUpdate, later: HostUpdate) -> HostUpdate:
    """One update with the effect of `earlier` then `later` (two jobs of one
    host in a writer batch): guarded by the row as `earlier` found it."""
    merged = dict(later)
    for key in _GUARD:
        merged[key] = earlier[key]
    merged["stored"] = earlier["stored"] + later["stored"]
    merged["dups"] = earlier["dups"] + later["dups"]
    # Applied in turn, each replaces the stored latest when its ts is at least
    # as new: the result is the later of the two where it is as new, else the earlier.
    if "latest_ts" in earlier and ("latest_ts" not in later or later["latest_ts"] < earlier["latest_ts"]):
        for key in ("latest", "latest_ts", "interval"):
            merged[key] = earlier[key]
    return merged


def _numbered(params: HostUpdate, key: tuple[bool, bool]) -> tuple[Any, ...]:
    return tuple(map(params.__getitem__, _NAMES[key]))


def placement(params: HostUpdate) -> tuple[str, str]:
    """The (role, site) the update stores: what `lean` compares."""
    return params["role"], params["site"]


def update(conn: Connection, params: HostUpdate) -> bool:
    """Write one host update; False where the row is no longer what it names."""
    key = ("latest_ts" in params, False)
    if dialect(conn) == "sqlite":
        return bool(conn.execute(_NUMBERED[key], _numbered(params, key)).rowcount)
    return bool(conn.execute(_PG_SQL[key], params).rowcount)


def update_all(conn: Connection, updates: Sequence[HostUpdate], lean: Container[str] = frozenset()) -> int:
    """Write host updates; the number of rows that were still what they name.
    `lean`: the agent ids whose rows the caller knows to have the role and
    site their update stores already (a guess: a wrong one makes the row
    look changed). On PostgreSQL all of them: one that is not fails the
    transaction (an integrity error, raised where its result arrives, by the
    COMMIT's sync at the latest)."""
    groups: dict[tuple[bool, bool], list[HostUpdate]] = {}
    for params in updates:
        groups.setdefault(("latest_ts" in params, params["id"] in lean), []).append(params)
    done = 0
    for key in sorted(groups):
        group = groups[key]
        # SQLite: one UPDATE ... FROM (VALUES ...) for the group costs 3x the
        # executemany (it materializes every new row, `latest` included, first)
        if dialect(conn) == "sqlite":  # sqlite3 sums an executemany's row counts
            rows = [_numbered(params, key) for params in group]
            done += conn.executemany(_NUMBERED[key], rows).rowcount
        else:  # one cursor for all (a cursor each costs 6x); nothing read back
            conn.executemany(_ENFORCED[key], group)
            done += len(group)
    return done
