"""Downsampling (collector/rollups.py): the pure bucket math, exhaustively, and
the storage functions against a real SQLite file fed through the real app."""

from __future__ import annotations

import itertools
import math
import random
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.wire import Cpu, Disk, Memory, Nic, Report
from collector import rollups, store
from collector.config import Config, StorageConfig, load_config
from collector.db import Connection, connect, migrate
from collector.errors import ConfigError
from collector.rollups import Rollup, bucket_of, rollup_reports, summarize
from tests.collector.conftest import Env, auth, batch, report

T0 = 1_764_000_000.0  # the fake clock's now; a multiple of 300 and of 3600
B = int(T0) - 86_400  # a bucket start one day back
GIB = 2**30


# -- pure: hand-made cases ----------------------------------------------------------


def rep(seq: int, ts: float, **over: Any) -> Report:
    fields: dict[str, Any] = {"seq": seq, "ts": ts, "interval_s": 60.0}
    fields.update(over)
    return Report(**fields)


def nic(rx: int, tx: int = 0, name: str = "eth0") -> Nic:
    return Nic(nic=name, rx_bytes_total=rx, tx_bytes_total=tx)


def test_bucket_of_aligns_to_the_epoch() -> None:
    assert bucket_of(B, 300) == B
    assert bucket_of(B + 299.999, 300) == B
    assert bucket_of(B + 300, 300) == B + 300
    assert bucket_of(B + 1234, 3600) == B
    assert bucket_of(1_000_000_123.5, 300) % 300 == 0


def test_summary_of_a_bucket_by_hand() -> None:
    reports = [
        rep(
            1,
            B,
            cpu=Cpu(count=4, percent=10.0, busy_seconds_total=1.0),
            memory=Memory(total_bytes=8 * GIB, used_bytes=2 * GIB),
            disks=[Disk(mount="/", total_bytes=100, used_bytes=40), Disk(mount="/data", total_bytes=10, used_bytes=1)],
            net=[nic(1000, 10)],
            load1=0.5,
            sessions=1,
        ),
        rep(
            2,
            B + 60,
            cpu=Cpu(count=4, percent=50.0, busy_seconds_total=2.0),
            memory=Memory(total_bytes=8 * GIB, used_bytes=6 * GIB),
            disks=[Disk(mount="/", total_bytes=100, used_bytes=40), Disk(mount="/data", total_bytes=10, used_bytes=9)],
            net=[nic(4000, 30)],
            load1=1.5,
            sessions=3,
        ),
        rep(3, B + 120, net=[nic(500, 40)]),  # rx went down: a reset, counts 500 from zero
    ]
    r = summarize(reports, bucket=B)
    assert r == Rollup(
        bucket=B,
        samples=3,
        cpu_pct_avg=30.0,
        cpu_pct_max=50.0,
        mem_pct_avg=50.0,
        mem_pct_max=75.0,
        load1_avg=1.0,
        load1_max=1.5,
        disk_pct_max=90.0,
        rx_bytes=3000 + 500,
        tx_bytes=20 + 10,
        sessions_max=3,
    )


def test_single_sample_bucket_has_no_counter_delta_without_a_baseline() -> None:
    one = rep(1, B + 10, cpu=Cpu(count=1, percent=42.0, busy_seconds_total=0), net=[nic(100)], load1=0.25)
    r = summarize([one], bucket=B)
    assert (r.samples, r.cpu_pct_avg, r.cpu_pct_max, r.load1_avg, r.load1_max) == (1, 42.0, 42.0, 0.25, 0.25)
    assert r.rx_bytes is None and r.tx_bytes is None
    assert r.mem_pct_avg is None and r.disk_pct_max is None and r.sessions_max is None


def test_baseline_before_the_bucket_counts_the_first_step() -> None:
    previous = rep(1, B - 60, net=[nic(1000, 100)])
    r = summarize([rep(2, B + 0.5, net=[nic(1600, 150)])], bucket=B, previous=previous)
    assert (r.rx_bytes, r.tx_bytes) == (600, 50)


def test_counter_reset_counts_the_new_value_from_zero() -> None:
    r = summarize([rep(1, B, net=[nic(10_000)]), rep(2, B + 60, net=[nic(300)])], bucket=B)
    assert r.rx_bytes == 300


def test_new_interface_is_a_baseline_and_vanished_one_adds_nothing() -> None:
    reports = [
        rep(1, B, net=[nic(100, name="eth0")]),
        rep(2, B + 60, net=[nic(150, name="eth0"), nic(10**9, name="wg0")]),
        rep(3, B + 120, net=[nic(10**9 + 7, name="wg0")]),
    ]
    assert summarize(reports, bucket=B).rx_bytes == 50 + 7


def test_reports_without_shared_interfaces_give_unknown_not_zero() -> None:
    r = summarize([rep(1, B, net=[nic(1, name="a")]), rep(2, B + 60, net=[nic(2, name="b")])], bucket=B)
    assert r.rx_bytes is None
    r = summarize([rep(1, B, net=[nic(5)]), rep(2, B + 60, net=[nic(5)])], bucket=B)
    assert r.rx_bytes == 0


def test_empty_bucket_is_an_error_and_no_reports_no_rollups() -> None:
    with pytest.raises(ValueError):
        summarize([], bucket=B)
    assert rollup_reports([], resolution_s=300) == []


def test_zero_sized_and_absurd_capacities_give_no_percentage() -> None:
    r = summarize(
        [
            rep(
                1,
                B,
                memory=Memory(total_bytes=0, used_bytes=5),
                disks=[
                    Disk(mount="/", total_bytes=0, used_bytes=0),
                    Disk(mount="/x", total_bytes=1, used_bytes=10**400),
                ],
            )
        ],
        bucket=B,
    )
    assert r.mem_pct_avg is None and r.mem_pct_max is None
    assert r.disk_pct_max is None


def test_average_of_huge_loads_stays_finite() -> None:
    r = summarize([rep(1, B, load1=1e308), rep(2, B + 1, load1=1e308)], bucket=B)
    assert r.load1_avg == 1e308 and r.load1_max == 1e308


def test_reports_are_split_into_buckets_with_the_previous_as_baseline() -> None:
    reports = [rep(s, B + 60 * (s - 1), net=[nic(1000 * s)], sessions=s) for s in range(1, 12)]  # 11 minutes
    out = rollup_reports(reversed(reports), resolution_s=300)
    assert [r.bucket for r in out] == [B, B + 300, B + 600]
    assert [r.samples for r in out] == [5, 5, 1]
    assert [r.rx_bytes for r in out] == [4000, 5000, 1000]
    assert [r.sessions_max for r in out] == [5, 10, 11]
    hourly = rollup_reports(reports, resolution_s=3600)
    assert [(r.bucket, r.samples, r.rx_bytes) for r in hourly] == [(B, 11, 10_000)]


# -- pure: properties ---------------------------------------------------------------

_nics = st.lists(
    st.builds(
        Nic,
        nic=st.sampled_from(["eth0", "eth1", "wg0"]),
        rx_bytes_total=st.integers(0, 2**64),
        tx_bytes_total=st.integers(0, 2**40),
    ),
    max_size=3,
    unique_by=lambda n: n.nic,
)
_disks = st.lists(
    st.builds(
        Disk,
        mount=st.sampled_from(["/", "/var", "/data"]),
        total_bytes=st.integers(0, 2**50),
        used_bytes=st.integers(0, 2**50),
    ),
    max_size=3,
)


@st.composite
def _reports(draw: st.DrawFn, *, max_size: int = 25) -> list[Report]:
    """One host's reports within one hour: distinct (ts, seq), any field may be missing."""
    times = draw(st.lists(st.integers(0, 3_599_999), max_size=max_size, unique=True))
    out = []
    for seq, offset in enumerate(times, start=1):
        out.append(
            Report(
                seq=seq,
                ts=B + offset / 1000,  # whole ms: B + offset stays inside the hour as a float
                interval_s=60.0,
                cpu=draw(
                    st.none()
                    | st.builds(Cpu, count=st.just(2), percent=st.floats(0, 100), busy_seconds_total=st.just(0.0))
                ),
                memory=draw(
                    st.none() | st.builds(Memory, total_bytes=st.integers(0, 2**40), used_bytes=st.integers(0, 2**40))
                ),
                disks=draw(_disks),
                net=draw(_nics),
                load1=draw(st.none() | st.floats(0, 1e6)),
                sessions=draw(st.none() | st.integers(0, 500)),
            )
        )
    return out


def _increase(series: list[Report]) -> tuple[int, int]:
    """Reference: Prometheus' increase per interface, summed (written independently of rollups)."""
    rx = tx = 0
    ordered = sorted(series, key=lambda r: (r.ts, r.seq))
    for before, after in itertools.pairwise(ordered):
        old = {n.nic: n for n in before.net}
        for n in after.net:
            if n.nic in old:
                o = old[n.nic]
                rx += n.rx_bytes_total - o.rx_bytes_total if n.rx_bytes_total >= o.rx_bytes_total else n.rx_bytes_total
                tx += n.tx_bytes_total - o.tx_bytes_total if n.tx_bytes_total >= o.tx_bytes_total else n.tx_bytes_total
    return rx, tx


@settings(max_examples=200)
@given(_reports(), st.randoms(use_true_random=False))
def test_order_of_reports_does_not_matter(reports: list[Report], rnd: random.Random) -> None:
    shuffled = list(reports)
    rnd.shuffle(shuffled)
    assert rollup_reports(shuffled, resolution_s=300) == rollup_reports(reports, resolution_s=300)
    if reports:
        assert summarize(shuffled, bucket=B) == summarize(reports, bucket=B)


@settings(max_examples=200)
@given(_reports(), st.sampled_from([60, 300, 3600]))
def test_buckets_partition_the_reports_and_counters_add_up(reports: list[Report], resolution_s: int) -> None:
    out = rollup_reports(reports, resolution_s=resolution_s)
    assert sum(r.samples for r in out) == len(reports)
    assert [r.bucket for r in out] == sorted({bucket_of(r.ts, resolution_s) for r in reports})
    assert all(r.bucket % resolution_s == 0 for r in out)
    # nothing is lost or counted twice at bucket edges
    assert (sum(r.rx_bytes or 0 for r in out), sum(r.tx_bytes or 0 for r in out)) == _increase(reports)
    assert all((r.rx_bytes or 0) >= 0 and (r.tx_bytes or 0) >= 0 for r in out)


@settings(max_examples=200)
@given(_reports(max_size=12))
def test_gauges_are_averages_and_maxima_of_what_was_reported(reports: list[Report]) -> None:
    if not reports:
        return
    r = summarize(reports, bucket=B)
    cpu = [x.cpu.percent for x in reports if x.cpu]
    load = [x.load1 for x in reports if x.load1 is not None]
    sessions = [x.sessions for x in reports if x.sessions is not None]
    for values, avg, top in ((cpu, r.cpu_pct_avg, r.cpu_pct_max), (load, r.load1_avg, r.load1_max)):
        if not values:
            assert avg is None and top is None
            continue
        assert top == max(values)
        assert avg is not None and min(values) <= avg <= max(values)
        assert avg == pytest.approx(math.fsum(values) / len(values), rel=1e-12, abs=1e-12)
    assert r.sessions_max == (max(sessions) if sessions else None)
    if r.mem_pct_max is not None:
        assert r.mem_pct_avg is not None and r.mem_pct_avg <= r.mem_pct_max


@given(_reports(max_size=8))
def test_a_bucket_merges_like_its_halves(reports: list[Report]) -> None:
    """Hourly from 5-minute rollups: counts add, maxima merge, averages weight by count."""
    hourly = rollup_reports(reports, resolution_s=3600)
    fine = rollup_reports(reports, resolution_s=300)
    if not reports:
        assert hourly == fine == []
        return
    (h,) = hourly
    assert h.samples == sum(f.samples for f in fine)
    assert h.sessions_max == max((f.sessions_max for f in fine if f.sessions_max is not None), default=None)
    assert h.cpu_pct_max == max((f.cpu_pct_max for f in fine if f.cpu_pct_max is not None), default=None)
    assert (h.rx_bytes or 0) == sum(f.rx_bytes or 0 for f in fine)


# -- storage ------------------------------------------------------------------------


@pytest.fixture
def conn(env: Env) -> Iterator[Connection]:
    c: Connection = env.db()
    yield c
    c.close()


def rows(conn: Connection, agent_id: str = "a1", resolution_s: int = 300) -> list[dict[str, object]]:
    return rollups.host_rollups(conn, agent_id, since=0, until=2**40, resolution_s=resolution_s)


def _hand_reports() -> list[dict[str, Any]]:
    """Eight minutes of a host: buckets B (5 reports), B+300 (2), B+600 (1, incomplete)."""
    cpu = [10, 20, 30, 40, 50, 60, 80, 5]
    used_gib = [2, 4, 4, 4, 6, 4, 4, 4]
    load = [0.5, 1.0, 1.5, 1.0, 0.5, 1.0, 1.0, 9.0]
    data_used = [10, 10, 10, 10, 90, 10, 10, 10]
    rx = [1000, 2000, 500, 1500, 2500, 3000, 3500, 9000]
    sessions: list[int | None] = [1, 3, 2, None, 0, 1, 1, 7]
    out = []
    for i in range(8):
        out.append(
            report(
                i + 1,
                B + 60 * i if i < 7 else B + 600,
                cpu={"count": 4, "percent": cpu[i], "busy_seconds_total": 100.0 + i},
                memory={"total_bytes": 8 * GIB, "used_bytes": used_gib[i] * GIB},
                disks=[
                    {"mount": "/", "total_bytes": 100 * GIB, "used_bytes": 40 * GIB},
                    {"mount": "/data", "total_bytes": 100 * GIB, "used_bytes": data_used[i] * GIB},
                ],
                net=[{"nic": "eth0", "rx_bytes_total": rx[i], "tx_bytes_total": 100}],
                load1=load[i],
                sessions=sessions[i],
            )
        )
    return out


HAND = [
    {
        "resolution_s": 300,
        "bucket": B,
        "samples": 5,
        "cpu_pct_avg": 30.0,
        "cpu_pct_max": 50.0,
        "mem_pct_avg": 50.0,
        "mem_pct_max": 75.0,
        "load1_avg": pytest.approx(0.9),
        "load1_max": 1.5,
        "disk_pct_max": 90.0,
        "rx_bytes": 1000 + 500 + 1000 + 1000,  # the drop to 500 is a reset
        "tx_bytes": 0,
        "sessions_max": 3,
    },
    {
        "resolution_s": 300,
        "bucket": B + 300,
        "samples": 2,
        "cpu_pct_avg": 70.0,
        "cpu_pct_max": 80.0,
        "mem_pct_avg": 50.0,
        "mem_pct_max": 50.0,
        "load1_avg": 1.0,
        "load1_max": 1.0,
        "disk_pct_max": 40.0,
        "rx_bytes": 500 + 500,  # from the previous bucket's last report
        "tx_bytes": 0,
        "sessions_max": 1,
    },
]


async def post(env: Env, agent_id: str, reports: list[dict[str, Any]], token: str | None = None) -> str:
    token = token or await env.enroll(env.tenant("t1"), agent_id)
    r = await env.post(token, batch(agent_id, reports))
    assert r.status_code == 200, r.text
    return token


async def test_rollups_equal_the_hand_computed_values(env: Env, conn: Connection) -> None:
    await post(env, "a1", _hand_reports())
    written = rollups.rollup_samples(conn, before=B + 600 + 299, resolution_s=300)
    assert written == 2  # B+600 is not complete yet
    assert rows(conn) == HAND


async def test_rolling_up_twice_adds_nothing(env: Env, conn: Connection) -> None:
    await post(env, "a1", _hand_reports())
    await post(env, "a2", [report(s, B + 30 * s) for s in range(1, 30)])
    first = rollups.rollup_samples(conn, before=T0, resolution_s=300)
    snapshot = conn.execute("SELECT * FROM rollups ORDER BY agent_id, bucket").fetchall()
    assert first == len(snapshot) == 3 + 3
    assert rollups.rollup_samples(conn, before=T0, resolution_s=300) == 0
    assert rollups.housekeep(conn, now=T0 + 86_400, downsample_after_s=86_400, rollup_retention_s=0) == (0, 0)
    assert conn.execute("SELECT * FROM rollups ORDER BY agent_id, bucket").fetchall() == snapshot


async def test_later_run_adds_only_the_newly_complete_buckets(env: Env, conn: Connection) -> None:
    await post(env, "a1", _hand_reports())
    assert rollups.rollup_samples(conn, before=B + 300, resolution_s=300) == 1
    assert rollups.rollup_samples(conn, before=B + 300, resolution_s=300) == 0
    assert rollups.rollup_samples(conn, before=B + 900, resolution_s=300) == 2
    assert [r["bucket"] for r in rows(conn)] == [B, B + 300, B + 600]
    assert rows(conn)[:2] == HAND


async def test_reports_arriving_late_for_the_newest_bucket_complete_it(env: Env, conn: Connection) -> None:
    hand = _hand_reports()
    token = await post(env, "a1", hand[:3])  # an agent's spool draining while housekeeping runs
    assert rollups.rollup_samples(conn, before=B + 600, resolution_s=300) == 1
    assert rows(conn)[0]["samples"] == 3
    await post(env, "a1", hand[3:], token)
    assert rollups.rollup_samples(conn, before=B + 600, resolution_s=300) == 2  # B grew, B+300 is new
    assert rows(conn) == HAND


async def test_rollups_outlive_the_raw_samples(env: Env, conn: Connection) -> None:
    await post(env, "a1", _hand_reports())
    rollups.rollup_samples(conn, before=B + 600, resolution_s=300)
    deleted = store.prune_samples(conn, before=math.inf)  # raw retention ends for every sample
    assert deleted == 8
    assert conn.execute("SELECT count(*) FROM samples").fetchone()[0] == 0
    assert rows(conn) == HAND
    # nothing left to roll up, and nothing rolled up is lost or changed
    assert rollups.rollup_samples(conn, before=T0, resolution_s=300) == 0
    assert rows(conn) == HAND


async def test_prune_removes_only_expired_rollups(env: Env, conn: Connection) -> None:
    await post(env, "a1", _hand_reports())
    rollups.rollup_samples(conn, before=B + 900, resolution_s=300)
    assert rollups.prune_rollups(conn, before=B + 599, resolution_s=300) == 1  # B+300 ends at B+600
    assert [r["bucket"] for r in rows(conn)] == [B + 300, B + 600]
    assert rollups.prune_rollups(conn, before=B + 599, resolution_s=300) == 0
    assert rollups.prune_rollups(conn, before=B + 600, resolution_s=300) == 1
    # a pruned bucket is not rebuilt from raw samples still there when `after` says it is expired
    assert rollups.rollup_samples(conn, before=B + 900, resolution_s=300, after=B + 600) == 0
    assert [r["bucket"] for r in rows(conn)] == [B + 600]


async def test_housekeep_rolls_up_then_prunes_and_zero_disables(env: Env, conn: Connection) -> None:
    await post(env, "a1", _hand_reports())
    now = B + 900 + 2 * 86_400
    assert rollups.housekeep(conn, now=now, downsample_after_s=0, rollup_retention_s=0) == (0, 0)
    assert rows(conn) == []
    assert rollups.housekeep(conn, now=now, downsample_after_s=2 * 86_400, rollup_retention_s=0) == (3, 0)
    # ten days later, with rollups kept for 12 days and a second: B and B+300 ended by then
    later = now + 10 * 86_400
    assert later - (12 * 86_400 + 1) == B + 899
    assert rollups.housekeep(conn, now=later, downsample_after_s=2 * 86_400, rollup_retention_s=12 * 86_400 + 1) == (
        0,
        2,
    )
    assert [r["bucket"] for r in rows(conn)] == [B + 600]


@pytest.mark.parametrize("chunk", [1, 2, 3, 4, 7, 5000])
async def test_chunk_size_does_not_change_the_result(env: Env, conn: Connection, chunk: int) -> None:
    await post(env, "a1", _hand_reports())
    rollups.rollup_samples(conn, before=B + 900, resolution_s=300, chunk=chunk)
    assert rows(conn)[:2] == HAND
    assert len(rows(conn)) == 3


async def test_row_budget_stops_early_and_the_next_call_carries_on(env: Env, conn: Connection) -> None:
    await post(env, "a1", _hand_reports())
    a2 = [report(s, B + 60 * s) for s in range(1, 20)]
    await post(env, "a2", a2)
    rollups.rollup_samples(conn, before=T0, resolution_s=300, chunk=2, max_rows=3)
    assert rows(conn, "a2") == []  # hosts in agent id order: a1 used up the budget
    for _ in range(10):
        rollups.rollup_samples(conn, before=T0, resolution_s=300, chunk=2, max_rows=3)
    assert rows(conn)[:2] == HAND and len(rows(conn)) == 3
    expected = rollup_reports([msgspec.convert(r, Report) for r in a2], resolution_s=300)
    assert [(r["bucket"], r["samples"], r["rx_bytes"], r["cpu_pct_max"]) for r in rows(conn, "a2")] == [
        (e.bucket, e.samples, e.rx_bytes, e.cpu_pct_max) for e in expected
    ]


async def test_a_budget_smaller_than_a_rounds_reports_starves_no_host(env: Env, conn: Connection) -> None:
    # Six hosts each send a bucket's worth of reports between two rounds, and a
    # round may read two hosts' worth: in agent id order a1 and a2 took the
    # budget every round and a3..a6 were never rolled up. Furthest behind first,
    # every host gets its turn.
    agents = [f"a{i}" for i in range(1, 7)]
    tokens = {a: await env.enroll(env.tenant("t1"), a) for a in agents}
    seq = dict.fromkeys(agents, 0)
    rounds = 12
    for r in range(rounds):
        for a in agents:
            reports = [report(seq[a] + i + 1, B + 300 * r + 60 * i) for i in range(5)]
            seq[a] += 5
            await post(env, a, reports, tokens[a])
        rollups.rollup_samples(conn, before=B + 300 * (r + 1), resolution_s=300, max_rows=10)
        if r == 0:
            assert [a for a in agents if rows(conn, a)] == ["a1", "a2"]  # the budget: two hosts a round
    newest = {a: max((int(str(row["bucket"])) for row in rows(conn, a)), default=None) for a in agents}
    assert all(bucket is not None for bucket in newest.values()), newest
    # the budget is below what arrives, so no host keeps up, but they take turns:
    # none is more than one turn of all six behind the newest complete bucket
    last = B + 300 * (rounds - 1)
    assert max(b for b in newest.values() if b is not None) == last
    assert min(b for b in newest.values() if b is not None) >= last - 300 * len(agents), newest


def test_housekeeping_budget_grows_with_the_fleet(conn: Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    # no samples at all: what is checked is the budget rollup_samples is given
    conn.execute("INSERT INTO tenants (name, created_at) VALUES ('t1', 0)")
    conn.executemany(
        "INSERT INTO hosts (agent_id, tenant, hostname, enrolled_at) VALUES (?, 't1', ?, 0)",
        [(f"h{i:03d}", f"h{i:03d}") for i in range(300)],
    )
    conn.commit()
    seen: list[int | None] = []
    real = rollups.rollup_samples

    def spy(*args: Any, **kwargs: Any) -> int:
        seen.append(kwargs["max_rows"])
        return real(*args, **kwargs)

    monkeypatch.setattr(rollups, "rollup_samples", spy)
    for floor in (1_000, 10**9, None):
        rollups.housekeep(conn, now=T0, downsample_after_s=86_400, rollup_retention_s=0, max_rows=floor)
    assert seen == [300 * rollups.ROWS_PER_HOST, 10**9, None]


async def test_counters_beyond_bigint_are_clamped(env: Env, conn: Connection) -> None:
    # The wire format does not bound counters. Two interfaces near 2**63 add up beyond
    # BIGINT; written straight into samples, since ingest's ledger refuses them itself.
    await env.enroll(env.tenant("t1"), "a1")
    near = 2**63 - 1
    reports = [
        rep(1, B, net=[nic(0, name="a"), nic(0, name="b")], sessions=near),
        rep(2, B + 60, net=[nic(near, name="a"), nic(near, name="b")]),
    ]
    conn.executemany(
        "INSERT INTO samples (agent_id, epoch, seq, ts, received_at, data) VALUES ('a1', 0, ?, ?, ?, ?)",
        [(r.seq, r.ts, r.ts, msgspec.json.encode(r).decode()) for r in reports],
    )
    assert summarize(reports, bucket=B).rx_bytes == 2 * near
    assert rollups.rollup_samples(conn, before=B + 300, resolution_s=300) == 1
    (row,) = rows(conn)
    assert row["rx_bytes"] == row["sessions_max"] == near


async def test_hourly_resolution_and_read_window(env: Env, conn: Connection) -> None:
    await post(env, "a1", [report(s, B + 600 * s) for s in range(1, 13)])  # 10-minute reports, 2 hours
    assert rollups.rollup_samples(conn, before=B + 7200, resolution_s=3600) == 2
    hourly = rows(conn, resolution_s=3600)
    assert [(r["bucket"], r["samples"]) for r in hourly] == [(B, 5), (B + 3600, 6)]
    assert rows(conn, resolution_s=300) == []
    window = rollups.host_rollups(conn, "a1", since=B + 1, until=B + 3600, resolution_s=3600)
    assert [r["bucket"] for r in window] == [B + 3600]
    assert rollups.host_rollups(conn, "nobody", since=0, until=T0) == []


async def test_rollups_endpoint_serves_a_tenant_its_own_hosts_only(env: Env, conn: Connection) -> None:
    await post(env, "a1", _hand_reports())
    rollups.rollup_samples(conn, before=B + 600 + 299, resolution_s=300)
    own = env.token("tenant", "t1")
    r = await env.client.get("/api/v1/hosts/a1/rollups", params={"since": B - 1, "until": B + 900}, headers=auth(own))
    assert r.status_code == 200, r.text
    assert r.json() == {"rollups": HAND, "count": len(HAND)}
    r = await env.client.get("/api/v1/hosts/a1/rollups", params={"since": B + 1}, headers=auth(own))
    assert r.json()["count"] == 1  # only the bucket starting at B + 300 lies in the window
    env.tenant("t2")
    other = env.token("tenant", "t2")
    r = await env.client.get("/api/v1/hosts/a1/rollups", headers=auth(other))
    assert r.status_code == 404
    r = await env.client.get("/api/v1/hosts/a1/rollups", params={"since": 10, "until": 5}, headers=auth(own))
    assert r.status_code == 400 and "since" in r.json()["error"]


@pytest.mark.sqlite_only
def test_migration_creates_the_table_on_a_fresh_file(tmp_path: Path) -> None:
    c = connect(tmp_path / "fresh.db")
    try:
        migrate(c)
        migrate(c)  # applied once
        assert isinstance(c, sqlite3.Connection)
        assert c.execute("SELECT count(*) FROM rollups").fetchone()[0] == 0
        pk = [r[1] for r in sorted(c.execute("PRAGMA table_info(rollups)"), key=lambda r: r[5]) if r[5]]
        assert pk == ["agent_id", "resolution_s", "bucket"]
    finally:
        c.close()


def test_sql_is_the_dialect_sqlite_and_postgresql_share() -> None:
    from collector.pg import translate_ddl

    # nothing for the PostgreSQL backend to translate: the DDL is portable as written
    assert translate_ddl(rollups.ROLLUPS_DDL) == rollups.ROLLUPS_DDL
    source = Path(rollups.__file__).read_text()
    for banned in (r"OR\s+IGNORE", r"OR\s+REPLACE", r"json_\w+\(", r"WITHOUT\s+ROWID"):
        assert not re.search(banned, source, re.IGNORECASE), banned
    assert not re.search(r"\b(max|min)\([^()]*,[^()]*\)", rollups._UPSERT), "scalar max/min"
    assert not re.search(r"DELETE[^\"]*LIMIT", source)


# -- config -------------------------------------------------------------------------


def test_defaults() -> None:
    storage = Config().storage
    assert (storage.downsample_after_days, storage.rollup_retention_days, storage.retention_days) == (2, 400, 35)


def test_downsampling_must_happen_before_raw_retention(tmp_path: Path) -> None:
    path = tmp_path / "collector.toml"
    path.write_text("[storage]\nretention_days = 7\ndownsample_after_days = 7\n")
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    message = str(exc.value)
    assert message.startswith(f"{path}:3: storage.downsample_after_days: must be less than storage.retention_days (7)")
    # the default downsample horizon (2 days) with a short raw retention points at the line that set it
    path.write_text("[storage]\nretention_days = 2\n")
    with pytest.raises(ConfigError, match=r"collector.toml:2: storage.downsample_after_days: .*retention_days \(2\)"):
        load_config(path)


def test_rollups_must_be_kept_longer_than_the_downsample_horizon(tmp_path: Path) -> None:
    path = tmp_path / "collector.toml"
    path.write_text("[storage]\ndownsample_after_days = 3\nrollup_retention_days = 3\n")
    with pytest.raises(ConfigError, match=r":3: storage.rollup_retention_days: must be greater than .*\(3\)"):
        load_config(path)


@pytest.mark.parametrize(
    "text",
    [
        "[storage]\nretention_days = 2\ndownsample_after_days = 0\n",  # rollups off
        "[storage]\nretention_days = 0\ndownsample_after_days = 90\n",  # raw kept forever
        "[storage]\ndownsample_after_days = 1\nrollup_retention_days = 0\n",  # rollups kept forever
        "[storage]\nretention_days = 3\ndownsample_after_days = 2\nrollup_retention_days = 3\n",
    ],
)
def test_valid_combinations(tmp_path: Path, text: str) -> None:
    path = tmp_path / "collector.toml"
    path.write_text(text)
    assert isinstance(load_config(path).storage, StorageConfig)


def test_negative_values_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "collector.toml"
    path.write_text("[storage]\nrollup_retention_days = -1\n")
    with pytest.raises(ConfigError, match=r":2: storage.rollup_retention_days: Expected `int` >= 0"):
        load_config(path)
