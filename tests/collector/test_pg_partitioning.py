"""On PostgreSQL, writer batches of different agents run in parallel (issue 18).

Ingest batches hold the write lock shared and lock only their own streams
(`db.begin`), so a second collector is write throughput, not only
availability; a transaction that must run alone (closing a period, a CLI
command, enrollment) still does. A real PostgreSQL (Debian's package)."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from collector import db, rollups, store
from collector.admin import Principal
from collector.db import connect
from collector.metering.streams import StreamKey
from collector.writer import Writer
from collector.writestate import WriteState
from tests.collector.test_writer_cache import AGENTS, direct, rep, setup_db, snapshot, staged

pytestmark = pytest.mark.sqlite_only  # each test picks its backend itself


@pytest.fixture
def shared(postgres_url: str) -> Iterator[tuple[str, dict[str, Principal], Writer, Writer]]:
    principals = setup_db(postgres_url)
    first, second = Writer(lambda: connect(postgres_url)), Writer(lambda: connect(postgres_url))
    first.start()
    second.start()
    yield postgres_url, principals, first, second
    first.stop()
    second.stop()


def _hold(url: str, streams: list[int] | None) -> db.Connection:
    """Another collector's write transaction, left open."""
    conn = connect(url)
    db.begin(conn, streams)
    return conn


def test_a_held_stream_blocks_only_its_own_agent(shared: tuple[str, dict[str, Principal], Writer, Writer]) -> None:
    url, principals, writer, _ = shared
    other = _hold(url, [db.stream_lock(StreamKey.host("h1").encode())])
    try:
        # another agent's batch commits while h1's stream is held
        assert writer.submit_staged(staged(principals["h2"], "h2", [rep(1), rep(2)])).result(10).stored == 2
        blocked = writer.submit_staged(staged(principals["h1"], "h1", [rep(1)]))
        with pytest.raises(concurrent.futures.TimeoutError):
            blocked.result(1)  # it waits for the stream, it is not refused
    finally:
        other.execute("COMMIT")
        other.close()
    assert blocked.result(10).stored == 1


def test_a_transaction_that_runs_alone_still_excludes_ingest(
    shared: tuple[str, dict[str, Principal], Writer, Writer],
) -> None:
    url, principals, writer, _ = shared
    other = _hold(url, None)  # e.g. closing a period
    try:
        blocked = writer.submit_staged(staged(principals["h2"], "h2", [rep(1)]))
        with pytest.raises(concurrent.futures.TimeoutError):
            blocked.result(1)
    finally:
        other.execute("COMMIT")
        other.close()
    assert blocked.result(10).stored == 1


def test_two_writers_ingesting_the_same_tenant_at_once_never_deadlock(
    shared: tuple[str, dict[str, Principal], Writer, Writer], tmp_path: Path
) -> None:
    """Their batches upsert the same ledger rows (one tenant, the same hours)
    in parallel; sorted upserts make one wait for the other, never a
    deadlock (which would fail a whole batch). The ledger is that of one
    SQLite collector that got every batch in order."""
    url, principals, first, second = shared
    futures = []
    for start in range(1, 61, 5):
        for i, agent_id in enumerate(AGENTS):
            writer = first if (i + start) % 2 else second
            reports = [rep(s) for s in range(start, start + 5)]
            futures.append(writer.submit_staged(staged(principals[agent_id], agent_id, reports)))
    assert sum(f.result(60).stored for f in futures) == 60 * len(AGENTS)
    ref = tmp_path / "ref.db"
    direct(ref, setup_db(ref), [(a, [rep(s) for s in range(1, 61)]) for a in AGENTS])
    assert snapshot(url) == snapshot(ref)


def test_rollups_go_on_while_ingest_batches_hold_the_write_lock(
    shared: tuple[str, dict[str, Principal], Writer, Writer],
) -> None:
    """A housekeeping round upserts rollups host by host, a transaction each,
    writing only a table ingest never writes: it holds the write lock shared,
    as ingest batches do. Exclusive, each of them (10,000 with 10,000 hosts)
    waited for the batches in flight and held the next ones back."""
    url, principals, writer, _ = shared
    assert writer.submit_staged(staged(principals["h2"], "h2", [rep(s) for s in range(1, 21)])).result(10).stored == 20
    other = _hold(url, [db.stream_lock(StreamKey.host("h1").encode())])  # an ingest batch in flight
    conn = connect(url)
    pool = concurrent.futures.ThreadPoolExecutor(1)
    try:
        rolled = pool.submit(rollups.rollup_samples, conn, before=rep(20).ts + 86400, resolution_s=300)
        assert rolled.result(10) > 0  # not waiting for the batch to commit
    finally:
        other.execute("COMMIT")  # before waiting for the pool: a rollup that waited for it ends now
        other.close()
        pool.shutdown()
        conn.close()


class _FailsOnTheServer:
    """An ingest job whose last write the server refuses (a duplicate key),
    which the pipeline reports only at a later round trip."""

    def __init__(self, job: store.IngestJob) -> None:
        self.job = job

    @property
    def streams(self) -> Sequence[int]:
        return self.job.streams

    def __call__(self, conn: db.Connection, state: WriteState) -> Any:
        ack = self.job(conn, state)
        conn.execute("INSERT INTO tenants (name) SELECT name FROM tenants")
        return ack


def test_an_ingest_write_the_server_refuses_fails_that_job_alone(postgres_url: str) -> None:
    """A write the server refuses surfaces only at a later round trip (the
    deferred batch's commit). The batch runs again job by job, a sync after
    each job pins the refusal on its job: that job fails with the refusal,
    the other agent's report in the same batch is stored and acknowledged."""
    principals = setup_db(postgres_url)
    writer = Writer(lambda: connect(postgres_url))
    bad = writer.submit_staged(_FailsOnTheServer(staged(principals["h1"], "h1", [rep(1)])))  # type: ignore[arg-type]
    good = writer.submit_staged(staged(principals["h2"], "h2", [rep(1)]))
    writer.start()  # both jobs were waiting: one batch
    try:
        with pytest.raises(db.INTEGRITY_ERRORS):
            bad.result(10)
        assert good.result(10).stored == 1
        assert writer.commits == 1
        assert writer.submit_staged(staged(principals["h1"], "h1", [rep(1)])).result(10).stored == 1
    finally:
        writer.stop()
    assert [h[:2] for h in snapshot(postgres_url)["hosts"]] == [("h1", 1), ("h2", 1), ("h3", 0)]
