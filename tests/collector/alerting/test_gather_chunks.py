"""The alert evaluation reads hosts a chunk at a time (issue 18): the same
observations as one host at a time, in a number of statements that grows
with the chunks, not with the hosts. Runs on SQLite and, with
LEITSTAND_TEST_BACKEND=postgres, on PostgreSQL (tests/conftest.py).

The old per-host functions are kept below as the reference (`reference_hosts`):
they are the definition the set-based reads must reproduce, and a copy
here keeps that definition from moving with the code under test.
bench/alert_gather.py times the two against each other.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import random
import statistics
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from collector import arrivals, db
from collector.alerting import gather
from collector.alerting.documents import duration
from collector.alerting.gather import GIB, NEVER_H, Sources, _add, _disks_only, _slope, observe
from collector.alerting.model import Observation
from collector.alerting.policy import Scope
from collector.alerting.rules import by_name
from collector.config import Config, ServerConfig
from collector.db import Connection, connect, migrate
from tests.collector.conftest import Env, batch, report

# -- the reference: collector/alerting/gather.py as of 9d3e4de, one host at a time --------


def reference_send_period(conn: Connection, agent_id: str, interval_s: float) -> float:
    arrivals_ = sorted(
        {
            r
            for (r,) in conn.execute(
                "SELECT received_at FROM samples WHERE agent_id = ? ORDER BY ts DESC LIMIT 40", (agent_id,)
            )
        }
    )
    gaps = [b - a for a, b in itertools.pairwise(arrivals_) if b - a > 0]
    return max(interval_s, statistics.median(gaps) if gaps else 0.0, 1.0)


def reference_disk_history(
    conn: Connection, agent_id: str, now: float, window_s: float, interval_s: float
) -> dict[str, list[tuple[float, float]]]:
    step = max(1, round(window_s / max(interval_s, 1.0) / 30))
    out: dict[str, list[tuple[float, float]]] = {}
    for ts, data in conn.execute(
        "SELECT ts, data FROM samples WHERE agent_id = ? AND ts >= ? AND ts <= ? AND seq % ? = 0 ORDER BY ts",
        (agent_id, now - window_s, now, step),
    ):
        for d in _disks_only.decode(data).disks:
            out.setdefault(d.mount, []).append((ts, float(d.used_bytes)))
    return out


def reference_hosts(
    conn: Connection, now: float, sources: Sources, pause: Callable[[], None] = lambda: None
) -> list[Observation]:
    host_down = by_name("host_down")
    assert host_down is not None
    out: list[Observation] = []
    rows = conn.execute(
        "SELECT agent_id, tenant, hostname, role, site, last_seen, latest_ts, interval_s, gap_count, latest "
        "FROM hosts WHERE last_seen IS NOT NULL ORDER BY agent_id"
    ).fetchall()
    for agent_id, tenant, hostname, role, site, last_seen, latest_ts, interval_s, gaps, latest in rows:
        pause()
        period = reference_send_period(conn, agent_id, interval_s or 60.0)
        silent = max(0.0, now - last_seen)
        labels = {"host": hostname, "site": site, "role": role, "agent_id": agent_id}
        ob = functools.partial(
            _add, out, {"tenant": tenant, "site": site, "host": hostname, "host_id": agent_id, "labels": labels}
        )
        missed = silent / period
        if role in host_down.roles:
            ob("host_down", agent_id, missed, silent_for=duration(silent), period_s=period)
        scope = Scope(tenant, site, hostname, agent_id)
        if missed >= sources.policy.resolve(host_down, scope).threshold:
            continue
        report_ = json.loads(latest) if latest else {}
        if latest_ts is not None:
            delay = last_seen - latest_ts
            ob("agent_clock_skew", agent_id, -delay)
            ob("agent_spool_backlog", agent_id, delay, delay=duration(delay))
        ob("agent_data_gaps", agent_id, gaps or 0)
        cpu = report_.get("cpu")
        if cpu:
            ob("cpu_saturated", agent_id, cpu["percent"], cpu_count=cpu.get("count"), load1=report_.get("load1", "?"))
        mem = report_.get("memory")
        if mem and mem.get("total_bytes"):
            swap_total = mem.get("swap_total_bytes") or 0
            ob(
                "memory_pressure",
                agent_id,
                100.0 * mem["used_bytes"] / mem["total_bytes"],
                used_gib=mem["used_bytes"] / GIB,
                total_gib=mem["total_bytes"] / GIB,
                swap_pct=100.0 * (mem.get("swap_used_bytes") or 0) / swap_total if swap_total else 0.0,
            )
        disks = [d for d in report_.get("disks") or () if d.get("total_bytes")]
        if not disks:
            continue
        history = reference_disk_history(conn, agent_id, now, sources.disk_window_s, interval_s or 60.0)
        for d in disks:
            mount, total, used = d["mount"], d["total_bytes"], d.get("used_bytes", 0)
            obj = f"{agent_id}:{mount}"
            used_pct = 100.0 * used / total
            ob("disk_full", obj, used_pct, {"mount": mount}, free_gib=(total - used) / GIB, size_gib=total / GIB)
            slope = _slope(history.get(mount, []), sources.disk_window_s)
            hours = NEVER_H
            if slope is not None and slope > 0:
                hours = max(0.0, (total - used) / slope / 3600.0)
            ob(
                "disk_will_fill",
                obj,
                hours,
                {"mount": mount},
                used_pct=used_pct,
                growth_gib_h=(slope or 0.0) * 3600 / GIB,
                window_h=sources.disk_window_s / 3600,
            )
    return out


# -- a varied fleet, through the real ingest path -----------------------------------------

#: seconds the fleet reports for before the evaluations
SPAN_S = 2400.0


def _disk(mount: str, used_gib: float, total_gib: float = 100.0) -> dict[str, Any]:
    return {"mount": mount, "device": "sda1", "total_bytes": int(total_gib * GIB), "used_bytes": int(used_gib * GIB)}


def _schedule(rng: random.Random, t0: float) -> Iterator[tuple[float, str, dict[str, Any], list[dict[str, Any]]]]:
    """(send time, agent, agent info, reports) of every send of the fleet."""

    def host(
        agent: str,
        interval_s: float,
        *,
        per_send: int = 1,
        start: float = 0.0,
        until: float = SPAN_S,
        disks: Callable[[float], list[dict[str, Any]]] | None = None,
        skew: float = 0.0,
        hold_back: set[int] = frozenset(),  # type: ignore[assignment]
        **info: Any,
    ) -> Iterator[tuple[float, str, dict[str, Any], list[dict[str, Any]]]]:
        pending: list[dict[str, Any]] = []
        held: list[dict[str, Any]] = []
        seq, t = 0, t0 + start + rng.uniform(0, interval_s)
        while t < t0 + until:
            seq += 1
            over: dict[str, Any] = {"interval_s": interval_s}
            if disks is not None:
                over["disks"] = disks(t - t0)
            else:
                over.pop("disks", None)
            r = report(seq, t + skew, **over)
            if disks is None:
                del r["disks"]
            (held if seq in hold_back else pending).append(r)
            if len(pending) >= per_send:
                # jitter: arrivals a little after the last sample, not a fixed grid
                yield t + rng.uniform(0.1, 3.0), agent, info, pending
                pending = []
            if held and seq >= max(hold_back) + 3:  # a late report, after later ones arrived
                yield t + rng.uniform(3.1, 5.0), agent, info, held
                held = []
            t += interval_s
        if pending:
            yield t - interval_s + 1.0, agent, info, pending

    def growing(*mounts: str, rate_gib_h: float = 1.0) -> Callable[[float], list[dict[str, Any]]]:
        return lambda s: [_disk(m, 20.0 + i * 10 + rate_gib_h * s / 3600) for i, m in enumerate(mounts)]

    sends = itertools.chain(
        host("a-15-batched", 15, per_send=4, disks=growing("/", "/var", rate_gib_h=2.0)),
        host("b-30", 30, disks=growing("/", rate_gib_h=0.5)),
        host("c-60-static", 60, disks=lambda s: [_disk("/", 40.0)]),
        host("d-60-spool", 60, per_send=5, disks=growing("/", rate_gib_h=-1.0)),
        host("e-300", 300, disks=growing("/data", rate_gib_h=5.0)),
        host("f-7-burst", 7, per_send=10, disks=growing("/", rate_gib_h=0.1)),
        host("g-silent-srv", 60, until=1200, disks=growing("/")),
        host("h-silent-tc", 30, until=600, disks=growing("/"), role="thin-client"),
        host("i-two", 60, start=SPAN_S - 150, disks=growing("/")),  # new: 2 reports
        host("j-one-nodisks", 60, start=SPAN_S - 70),
        host("k-zero-total", 60, disks=lambda s: [_disk("/", 0.0, total_gib=0.0), _disk("/boot", 0.2, 1.0)]),
        host("l-late", 30, hold_back={20, 21, 45}, disks=growing("/", rate_gib_h=3.0)),
        host("m-skewed", 60, skew=-7200.0, disks=growing("/")),
        host(
            "n-mounts", 60, disks=lambda s: [_disk("/", 30.0 + s / 7200)] + ([_disk("/new", 1.0)] if s > 2200 else [])
        ),
        host("o-vm", 45, per_send=2, disks=growing("/", "/srv", rate_gib_h=1.5), role="vm", site="feuerwehr"),
    )
    yield from sorted(sends, key=lambda send: send[0])


async def _fleet(env: Env) -> None:
    rng = random.Random(18)
    t0 = env.clock.now
    enroll = {tenant: env.tenant(tenant) for tenant in ("stadt-a", "stadt-b")}
    tokens: dict[str, str] = {}
    for n, (at, agent, info, reports) in enumerate(_schedule(rng, t0)):
        if agent not in tokens:
            tokens[agent] = await env.enroll(enroll["stadt-a" if n % 2 else "stadt-b"], agent)
        env.clock.now = max(env.clock.now, at)
        r = await env.post(tokens[agent], batch(agent, reports, **info))
        assert r.status_code == 200, r.text
    await env.enroll(enroll["stadt-a"], "p-never-reported")
    env.clock.now = t0 + SPAN_S


@pytest.fixture
async def fleet(make_env: Callable[..., Env]) -> AsyncIterator[Env]:
    env = make_env(Config(server=ServerConfig(rate_limit_rps=0)))  # a fleet's worth of sends in a second
    await _fleet(env)
    yield env
    await env.client.aclose()


def _by_rule(obs: list[Observation]) -> dict[str, list[Observation]]:
    out: dict[str, list[Observation]] = {}
    for o in obs:
        out.setdefault(o.rule, []).append(o)
    return out


async def test_a_varied_fleet_gives_the_observations_host_by_host_did(fleet: Env) -> None:
    conn = fleet.db()
    try:
        end = fleet.clock.now
        checked = 0
        for window_s in (3600.0, 1800.0, 21600.0):
            for now in (end, end + 90, end + 700, end + 4000):
                sources = Sources(disk_window_s=window_s)
                want = reference_hosts(conn, now, sources)
                assert gather._hosts(conn, now, sources, lambda: None) == want, (window_s, now)
                assert observe(conn, now, sources)[: len(want)] == want
                checked += len(want)
        # the fleet reaches every branch, so equality above means something: late and shared arrivals, ...
        late = conn.execute(
            "SELECT count(*) FROM samples a JOIN samples b ON a.agent_id = b.agent_id "
            "AND a.seq < b.seq AND a.received_at > b.received_at"
        ).fetchone()[0]
        shared = conn.execute(
            "SELECT count(*) FROM (SELECT agent_id, received_at FROM samples GROUP BY agent_id, received_at "
            "HAVING count(*) > 1) AS d"
        ).fetchone()[0]
        intervals = {i for (i,) in conn.execute("SELECT DISTINCT interval_s FROM hosts WHERE interval_s IS NOT NULL")}
        assert late > 0 and shared > 0 and len(intervals) >= 6
        seen = _by_rule(reference_hosts(conn, end, Sources(disk_window_s=3600.0)))
        hours = {o.object: o.value for o in seen["disk_will_fill"]}
        assert 0 < hours["a-15-batched:/"] < NEVER_H and 0 < hours["l-late:/"] < NEVER_H  # a trend
        assert hours["c-60-static:/"] == NEVER_H and hours["d-60-spool:/"] == NEVER_H  # flat, shrinking
        assert hours["m-skewed:/"] == NEVER_H and hours["n-mounts:/new"] == NEVER_H  # no points, < 3 points
        assert hours["i-two:/"] == NEVER_H
        assert "k-zero-total:/" not in hours and "k-zero-total:/boot" in hours
        assert {o.object for o in seen["host_down"] if o.value >= 3} == {"g-silent-srv"}
        assert "h-silent-tc" not in {o.host_id for o in seen["agent_data_gaps"]}  # silent: skipped
        assert {o.object: o.value for o in seen["agent_data_gaps"]}["l-late"] == 0  # the late ones filled in
        assert "p-never-reported" not in {o.host_id for o in seen["agent_data_gaps"]}
        periods = {o.object: o.params["period_s"] for o in seen["host_down"]}
        assert periods["f-7-burst"] > 60 and periods["d-60-spool"] > 250  # sends, not samples
        assert checked > 400
    finally:
        conn.close()


async def test_pause_is_called_at_least_once_per_host(fleet: Env) -> None:
    conn = fleet.db()
    try:
        calls = 0

        def pause() -> None:
            nonlocal calls
            calls += 1

        hosts = conn.execute("SELECT count(*) FROM hosts WHERE last_seen IS NOT NULL").fetchone()[0]
        gather._hosts(conn, fleet.clock.now, Sources(disk_window_s=3600.0), pause)
        assert hosts == 15 and calls >= hosts
    finally:
        conn.close()


# -- round trips --------------------------------------------------------------------------


class Counting:
    """A connection that counts the statements sent through it."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.statements = 0

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        self.statements += 1
        return self.conn.execute(sql, parameters)


def _bulk_fleet(path: Path, hosts: int, now: float) -> Connection:
    """`hosts` hosts with a disk each and 40 reports a minute apart, straight into the tables."""
    conn = connect(path)
    migrate(conn)
    host_rows, sample_rows = [], []
    for i in range(hosts):
        agent = f"agent-{i:05d}"
        latest = report(40, now - 30, interval_s=60, disks=[_disk("/", 40 + i % 7)])
        host_rows.append(
            (agent, "stadt-a", agent, "server", "s", now - 86400, now - 30, now - 30, 60.0, json.dumps(latest))
        )
        for seq in range(1, 41):
            body = json.dumps({"disks": [_disk("/", 30 + seq / 4 + i % 7)]})
            sample_rows.append((agent, 0, seq, now - 60 * (41 - seq), now - 60 * (41 - seq) + 1, body))
    with db.transaction(conn):
        conn.execute("INSERT INTO tenants (name, created_at) VALUES (?, ?)", ("stadt-a", now))
        db.insert_rows(
            conn,
            "INSERT INTO hosts (agent_id, tenant, hostname, role, site, enrolled_at, latest_ts, last_seen, "
            "interval_s, latest)",
            host_rows,
        )
        db.insert_rows(conn, "INSERT INTO samples (agent_id, epoch, seq, ts, received_at, data)", sample_rows)
    return conn


def test_statements_grow_with_the_chunks_not_the_hosts(tmp_path: Path) -> None:
    n, now = 1200, 1_764_000_000.0
    conn = _bulk_fleet(tmp_path / "bulk.db", n, now)
    try:
        sources = Sources(disk_window_s=3600.0)
        new, old = Counting(conn), Counting(conn)
        got = gather._hosts(new, now, sources, lambda: None)  # type: ignore[arg-type]
        want = reference_hosts(old, now, sources)  # type: ignore[arg-type]
        assert got == want and len(_by_rule(got)["disk_will_fill"]) == n
        assert old.statements == 1 + 2 * n  # one host at a time: the counter counts
        chunks = math.ceil(n / arrivals.CHUNK)
        # the hosts, then per chunk its arrivals, and its disk samples per DISK_CHUNK hosts
        assert new.statements == 1 + chunks + math.ceil(n / gather.DISK_CHUNK)
        assert new.statements < n / 50
    finally:
        conn.close()


def test_reports_sharing_the_40th_newest_ts_are_all_read(tmp_path: Path) -> None:
    """Where the host-at-a-time read differed: two reports with the same ts
    at the 40th position. It took one of them, which one up to the plan; the
    chunked read takes both, the same on every backend (collector/arrivals.py)."""
    now, agent = 1_764_000_000.0, "agent-00000"
    conn = _bulk_fleet(tmp_path / "tie.db", 1, now)
    try:
        # arrivals 30 and 90 s apart by turns: 20 gaps of 30, 19 of 90
        received = list(itertools.accumulate((30.0 if k % 2 else 90.0 for k in range(1, 40)), initial=now - 5000))
        oldest = conn.execute("SELECT min(ts) FROM samples").fetchone()[0]
        with db.transaction(conn):
            for seq, at in enumerate(received, start=1):
                conn.execute("UPDATE samples SET received_at = ? WHERE seq = ?", (at, seq))
        assert arrivals.last_reports(conn, [agent]) == {agent: 30.0} == {agent: reference_send_period(conn, agent, 1)}
        # an earlier epoch's report with the same ts as the 40th newest, arrived 90 s before it
        with db.transaction(conn):
            conn.execute(
                "INSERT INTO samples (agent_id, epoch, seq, ts, received_at, data) VALUES (?, ?, ?, ?, ?, ?)",
                (agent, -1, 99, oldest, received[0] - 90, "{}"),
            )
        assert arrivals.last_reports(conn, [agent]) == {agent: 60.0}  # both: 20 gaps of 30 and 20 of 90
        assert reference_send_period(conn, agent, 1) in (30.0, 90.0)  # one or the other: 30 or 90
    finally:
        conn.close()
