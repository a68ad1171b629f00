"""The writer's memory (collector.writestate) never changes what is stored.

Ingest through the real Writer, with its host cache, cached newest points and
ledger rows summed per batch, must store exactly what ingest without any of
it stores; and every change made past the cache (another connection: a CLI,
an enrollment, a second collector on the same PostgreSQL) must be seen. Real
database files (PostgreSQL with LEITSTAND_TEST_BACKEND=postgres)."""

from __future__ import annotations

import logging
import sqlite3
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.wire import AgentInfo, Batch, Cpu, Disk, Memory, Nic, Report
from collector import admin, db, store
from collector.admin import Principal
from collector.db import Connection, connect, migrate
from collector.enroll import enroll
from collector.errors import ConflictError
from collector.metering import ledger
from collector.metering.model import Period
from collector.writer import Writer
from collector.writestate import VERIFY_BATCHES, WriteState

T0 = 1_793_000_000.0  # 2026-10-26 05:33 UTC
GIB = 2**30
AGENTS = ("h1", "h2", "h3")
TABLES = {
    "ledger": "SELECT tenant, hour, meter, dim, scaled FROM ledger ORDER BY 1, 2, 3, 4",
    "ledger_subject": "SELECT * FROM ledger_subject ORDER BY 1, 2, 3, 4, 5, 6",
    "coverage": "SELECT tenant, period, stream, epoch, role, reports, min_seq, max_seq FROM coverage "
    "ORDER BY 1, 2, 3, 4",
    "workplace_days": "SELECT agent_id, day, tenant, period, late FROM workplace_days ORDER BY 1, 2",
    "samples": "SELECT agent_id, epoch, seq, ts FROM samples ORDER BY 1, 2, 3",
    # duplicates_total left out: it counts resends, which differ between deliveries
    "hosts": "SELECT agent_id, last_seq, epoch, gap_count, reports_total FROM hosts ORDER BY 1",
    "adjustments": "SELECT tenant, booked_period, for_period, meter, dim, kind, subject, scaled FROM adjustments "
    "ORDER BY 1, 2, 3, 4, 5, 6, 7, 8",
}


def rep(seq: int, *, ts: float | None = None, busy: float | None = None, sessions: int = 1) -> Report:
    return Report(
        seq=seq,
        ts=T0 + 60 * seq if ts is None else ts,
        interval_s=60.0,
        cpu=Cpu(count=2, percent=10.0, busy_seconds_total=10.0 * seq if busy is None else busy),
        memory=Memory(total_bytes=8 * GIB, used_bytes=GIB + seq),
        disks=[Disk(mount="/", total_bytes=100 * GIB, used_bytes=10 * GIB)],
        net=[Nic(nic="eth0", rx_bytes_total=1000 * seq * seq, tx_bytes_total=0)],
        sessions=sessions,
    )


def batch_of(agent_id: str, reports: Sequence[Report]) -> Batch:
    info = AgentInfo(id=agent_id, hostname=agent_id, role="thin-client", boot_time=T0 - 86400)  # type: ignore[arg-type]
    return Batch(agent=info, reports=list(reports))


def setup_db(path: db.Target) -> dict[str, Principal]:
    conn = connect(path)
    try:
        migrate(conn)
        admin.add_tenant(conn, "t1", actor="test")
        enroller = admin.authenticate(conn, "Bearer " + admin.create_token(conn, "enroll", actor="t", tenant="t1")[1])
        return {a: admin.authenticate(conn, f"Bearer {enroll(conn, enroller, a, a).token}") for a in AGENTS}
    finally:
        conn.close()


def snapshot(path: db.Target, tables: dict[str, str] = TABLES) -> dict[str, list[tuple[Any, ...]]]:
    conn = connect(path)
    try:
        return {name: [tuple(r) for r in conn.execute(sql).fetchall()] for name, sql in tables.items()}
    finally:
        conn.close()


def direct(path: db.Target, principals: dict[str, Principal], deliveries: Sequence[tuple[str, list[Report]]]) -> None:
    """The reference: each delivery its own transaction, no writer, no cache."""
    conn = connect(path)
    try:
        for agent_id, reports in deliveries:
            with db.transaction(conn):
                store.ingest(conn, principals[agent_id], batch_of(agent_id, reports), T0 + 10**6)
    finally:
        conn.close()


@pytest.fixture
def writer_db(tmp_path: Path) -> Iterator[tuple[Path, dict[str, Principal], Writer]]:
    path = tmp_path / "w.db"
    principals = setup_db(path)
    writer = Writer(lambda: connect(path))
    writer.start()
    yield path, principals, writer
    writer.stop()


def staged(principal: Principal, agent_id: str, reports: Sequence[Report]) -> store.IngestJob:
    return store.IngestJob(principal, batch_of(agent_id, reports), T0 + 10**6)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_delivery_through_the_writer_stores_what_direct_ingest_stores(data: st.DataObject) -> None:
    """Shuffled, resent and cut into jobs and writer batches at random: the
    same rows as every report delivered once, in order, without the writer."""
    per_agent = data.draw(st.integers(min_value=2, max_value=12))
    reports = {a: [rep(s, sessions=s % 2) for s in range(1, per_agent + 1)] for a in AGENTS}
    items = [(a, r) for a in AGENTS for r in reports[a]]
    stream = data.draw(st.permutations(items)) + data.draw(st.lists(st.sampled_from(items), max_size=6))
    cuts = sorted(data.draw(st.sets(st.integers(min_value=1, max_value=len(stream) - 1), max_size=10)))
    jobs: list[tuple[str, list[Report]]] = []
    start = 0
    for cut in [*cuts, len(stream)]:
        chunk = stream[start:cut]
        start = cut
        for agent_id in AGENTS:  # a job is one agent's batch
            mine = [r for a, r in chunk if a == agent_id]
            if mine:
                jobs.append((agent_id, mine))
    waits = data.draw(st.sets(st.integers(min_value=0, max_value=len(jobs) - 1), max_size=4))
    with tempfile.TemporaryDirectory() as tmp:
        ref, got = Path(tmp) / "ref.db", Path(tmp) / "got.db"
        direct(ref, setup_db(ref), [(a, reports[a]) for a in AGENTS])
        principals = setup_db(got)
        writer = Writer(lambda: connect(got))
        writer.start()
        try:
            futures = []
            for i, (agent_id, mine) in enumerate(jobs):
                futures.append(writer.submit_staged(staged(principals[agent_id], agent_id, mine)))
                if i in waits:  # end a writer batch here: the next one starts from the cache
                    futures[-1].result(30)
            for future in futures:
                future.result(30)
        finally:
            writer.stop()
        assert snapshot(got) == snapshot(ref)


def test_reports_another_writer_stored_are_seen_past_the_cache(
    writer_db: tuple[Path, dict[str, Principal], Writer], tmp_path: Path
) -> None:
    """A second collector on the same database (here: a direct ingest on its
    own connection) stores the middle of a host's stream: the writer's cached
    row and newest point are stale, and must not be used."""
    path, principals, writer = writer_db
    p = principals["h1"]
    writer.submit_staged(staged(p, "h1", [rep(1), rep(2), rep(3)])).result(30)
    assert writer.state.hosts["h1"].seq.last_seq == 3  # cached
    direct(path, principals, [("h1", [rep(4), rep(5), rep(6)])])
    ack = writer.submit_staged(staged(p, "h1", [rep(6), rep(7), rep(8)])).result(30)
    assert (ack.stored, ack.duplicates) == (2, 1)
    ref = tmp_path / "ref.db"
    direct(ref, setup_db(ref), [("h1", [rep(s) for s in range(1, 9)])])
    assert snapshot(path) == snapshot(ref)


@pytest.mark.parametrize("verify", [False, True])
def test_a_host_row_changed_past_the_cache_is_never_written_over(
    writer_db: tuple[Path, dict[str, Principal], Writer],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    verify: bool,
) -> None:
    """Another collector stores reports of a host this writer has cached,
    then a deferred batch of that host and another one runs. Trusting its
    entry (on PostgreSQL the default until a row was found changed), the
    host update's guard fails the whole transaction on the database before
    its COMMIT (on SQLite the update's row count says so), and the batch
    runs again job by job; checking its entries first (PostgreSQL, for a
    while after such a failure), it reads the row again and commits as
    planned. Either way each report is stored, metered and acknowledged once."""
    path, principals, writer = writer_db
    writer.submit_staged(staged(principals["h1"], "h1", [rep(1), rep(2)])).result(30)
    writer.submit_staged(staged(principals["h2"], "h2", [rep(1)])).result(30)
    direct(path, principals, [("h1", [rep(3), rep(4)])])
    conn = connect(path)
    postgres = db.dialect(conn) == "postgres"
    conn.close()
    writer.stop()  # both jobs wait, so they run in one batch
    writer.state.verify_batches = VERIFY_BATCHES if verify else 0
    futures = [
        writer.submit_staged(staged(principals["h1"], "h1", [rep(4), rep(5)])),
        writer.submit_staged(staged(principals["h2"], "h2", [rep(2)])),
    ]
    commits = writer.commits
    with caplog.at_level(logging.DEBUG, logger="leitstand.collector.writer"):
        writer.start()
        acks = [future.result(30) for future in futures]
    assert [(a.stored, a.duplicates, a.accepted_through_seq) for a in acks] == [(1, 1, 5), (1, 0, 2)]
    assert writer.commits == commits + 1
    assert ("runs again job by job" in caplog.text) == (not (verify and postgres))
    if postgres:  # the next batches check their entries first
        assert writer.state.verify_batches > 0
    ref = tmp_path / "ref.db"
    direct(ref, setup_db(ref), [("h1", [rep(s) for s in range(1, 6)]), ("h2", [rep(1), rep(2)])])
    assert snapshot(path) == snapshot(ref)


def test_a_host_s_role_and_site_changed_past_the_cache_are_stored_again(
    writer_db: tuple[Path, dict[str, Principal], Writer], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Once a deferred batch stored a host's role and site, the writer's next
    updates of it leave them out (they are in the index hosts_tenant) and
    name them in the guard instead: a row someone changed them in (here a
    plain UPDATE from another connection; nothing else of the row changes)
    runs the batch again job by job, which stores the agent's role and site
    as direct ingest does."""
    path, principals, writer = writer_db
    writer.submit_staged(staged(principals["h1"], "h1", [rep(1)])).result(30)
    writer.submit_staged(staged(principals["h1"], "h1", [rep(2)])).result(30)
    assert writer.state.placed["h1"] == ("thin-client", "")
    conn = connect(path)
    try:
        conn.execute("UPDATE hosts SET role = 'server', site = 'elsewhere' WHERE agent_id = 'h1'")
    finally:
        conn.close()
    with caplog.at_level(logging.DEBUG, logger="leitstand.collector.writer"):
        ack = writer.submit_staged(staged(principals["h1"], "h1", [rep(3)])).result(30)
    assert ack.stored == 1
    assert "runs again job by job" in caplog.text
    ref = tmp_path / "ref.db"
    direct(ref, setup_db(ref), [("h1", [rep(1), rep(2), rep(3)])])
    placement = {"hosts": "SELECT agent_id, role, site, last_seq, reports_total FROM hosts ORDER BY 1"}
    assert snapshot(path, placement) == snapshot(ref, placement)
    assert snapshot(path) == snapshot(ref)


def test_a_new_writer_takes_stored_hosts_up_as_they_are(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A restarted collector's writer knows no host. Its first deferred
    batch (on PostgreSQL: the rows of all its hosts, their gaps and their
    streams' newest points in one read first; none for a host that has no
    reports yet) stores what direct ingest stores: a gap filled, a report
    after a stored one, a host's first report."""
    path = tmp_path / "w.db"
    principals = setup_db(path)
    stored = [("h1", [rep(1), rep(2), rep(5)]), ("h2", [rep(1)])]  # h1 misses 3 and 4
    direct(path, principals, stored)
    later = [("h1", [rep(3), rep(6)]), ("h2", [rep(2)]), ("h3", [rep(1)])]
    writer = Writer(lambda: connect(path))
    futures = [writer.submit_staged(staged(principals[a], a, reports)) for a, reports in later]
    with caplog.at_level(logging.DEBUG, logger="leitstand.collector.writer"):
        writer.start()
        try:
            acks = [future.result(30) for future in futures]
        finally:
            writer.stop()
    assert [(a.stored, a.accepted_through_seq) for a in acks] == [(2, 6), (1, 2), (1, 1)]
    assert writer.commits == 1
    assert "runs again job by job" not in caplog.text
    ref = tmp_path / "ref.db"
    direct(ref, setup_db(ref), [*stored, *later])
    assert snapshot(path) == snapshot(ref)


def test_a_re_enrollment_past_the_cache_lets_the_agent_restart_its_sequence(
    writer_db: tuple[Path, dict[str, Principal], Writer],
) -> None:
    path, principals, writer = writer_db
    writer.submit_staged(staged(principals["h1"], "h1", [rep(1), rep(2)])).result(30)
    assert writer.state.hosts["h1"].seq.rebase_allowed is False  # cached
    conn = connect(path)
    try:  # an admin re-enrolls it from the CLI: rebase_allowed is set past the writer
        admin_principal = admin.authenticate(conn, "Bearer " + admin.create_token(conn, "admin", actor="t")[1])
        token = enroll(conn, admin_principal, "h1", "h1").token
        principal = admin.authenticate(conn, f"Bearer {token}")
    finally:
        conn.close()
    # the agent's state was wiped: its sequence restarts, its data is newer
    ack = writer.submit_staged(staged(principal, "h1", [rep(1, ts=T0 + 3600)])).result(30)
    assert ack.stored == 1
    assert snapshot(path)["hosts"][0][:3] == ("h1", 1, 1)  # a new epoch
    with pytest.raises(ConflictError):  # once rebased, a second restart is refused again
        writer.submit_staged(staged(principal, "h1", [rep(1, ts=T0 + 7200)])).result(30)


def test_a_period_closed_past_the_cache_gets_late_data_as_an_adjustment(
    writer_db: tuple[Path, dict[str, Principal], Writer], caplog: pytest.LogCaptureFixture
) -> None:
    """On PostgreSQL the writer's batches take periods as earlier batches
    found them (`WriteState.assume_periods`): October, found open, is closed
    past the writer; the database fails the deferred batch that took it as
    open, and the batch runs again job by job, reading it."""
    path, principals, writer = writer_db
    october = Period(2026, 10)
    end = october.end_ts
    p = principals["h1"]
    writer.submit_staged(staged(p, "h1", [rep(1, ts=end - 240), rep(2, ts=end - 180), rep(4, ts=end + 60)])).result(30)
    conn = connect(path)
    try:
        assert ledger.close_period(conn, october, actor="test", now=end + 3600) == ["t1"]
        frozen = ledger.period_usage(conn, "t1", october)
    finally:
        conn.close()
    with caplog.at_level(logging.DEBUG, logger="leitstand.collector.writer"):
        writer.submit_staged(staged(p, "h1", [rep(3, ts=end - 120)])).result(30)  # fills the gap, in October
    conn = connect(path)
    try:
        postgres = db.dialect(conn) == "postgres"
        assert ("runs again job by job" in caplog.text) == postgres
        assert writer.state.periods[("t1", "2026-10")] is True
        assert ledger.period_usage(conn, "t1", october) == frozen
        late = conn.execute("SELECT count(*) FROM adjustments WHERE for_period = '2026-10'").fetchone()[0]
        assert late > 0
    finally:
        conn.close()


class _Crashes:
    """A staged ingest job that fails after it booked everything."""

    def __init__(self, job: store.IngestJob, error: Exception) -> None:
        self.job, self.error = job, error

    @property
    def streams(self) -> Sequence[int]:
        return self.job.streams

    def __call__(self, conn: Connection, state: WriteState) -> Any:
        self.job(conn, state)
        raise self.error


def test_a_job_that_fails_after_booking_leaves_no_rows_and_no_cache(
    writer_db: tuple[Path, dict[str, Principal], Writer], tmp_path: Path
) -> None:
    path, principals, writer = writer_db
    p = principals["h1"]
    writer.submit_staged(staged(p, "h1", [rep(1), rep(2)])).result(30)
    crashing = _Crashes(staged(p, "h1", [rep(3), rep(4)]), ConflictError("refused late"))
    futures = [
        writer.submit_staged(crashing),  # type: ignore[arg-type]
        writer.submit_staged(staged(principals["h2"], "h2", [rep(1), rep(2)])),
    ]
    with pytest.raises(ConflictError):
        futures[0].result(30)
    futures[1].result(30)
    # the rolled-back job's reports are not stored: they count when resent
    ack = writer.submit_staged(staged(p, "h1", [rep(3), rep(4), rep(5)])).result(30)
    assert ack.stored == 3
    ref = tmp_path / "ref.db"
    direct(ref, setup_db(ref), [("h1", [rep(s) for s in range(1, 6)]), ("h2", [rep(1), rep(2)])])
    assert snapshot(path) == snapshot(ref)


def test_a_batch_whose_storage_fails_is_forgotten_so_its_resend_is_stored(
    writer_db: tuple[Path, dict[str, Principal], Writer], tmp_path: Path
) -> None:
    """Nothing of a failed batch is acknowledged, so the agent resends it:
    the writer must not remember it as stored."""
    path, principals, writer = writer_db
    p = principals["h1"]
    writer.submit_staged(staged(p, "h1", [rep(1)])).result(30)
    failing = _Crashes(staged(p, "h1", [rep(2), rep(3)]), db.ERRORS[0]("disk I/O error"))
    with pytest.raises(Exception, match="storage unavailable"):
        writer.submit_staged(failing).result(30)  # type: ignore[arg-type]
    assert writer.state.hosts == {}
    ack = writer.submit_staged(staged(p, "h1", [rep(2), rep(3)])).result(30)
    assert ack.stored == 2
    ref = tmp_path / "ref.db"
    direct(ref, setup_db(ref), [("h1", [rep(1), rep(2), rep(3)])])
    assert snapshot(path) == snapshot(ref)


def traced(path: Path) -> tuple[list[str], Callable[[], Connection]]:
    """The statements run on the connections it opens, and how to open one (SQLite's trace callback)."""
    counted: list[str] = []

    def open_traced() -> Connection:
        conn = connect(path)
        assert isinstance(conn, sqlite3.Connection)
        conn.set_trace_callback(counted.append)
        return conn

    return counted, open_traced


@pytest.mark.sqlite_only  # counted with SQLite's trace callback
def test_a_writer_batch_costs_few_statements_per_report(tmp_path: Path) -> None:
    """The round trips the cache saves (issue 18): jobs of ten reports from
    known hosts run in deferred batches, about one statement per table and
    batch, no savepoint per job."""
    path = tmp_path / "count.db"
    principals = setup_db(path)
    counted, open_traced = traced(path)
    writer = Writer(open_traced)
    writer.start()
    try:
        for agent_id in AGENTS:  # first sight: the cache is filled
            writer.submit_staged(staged(principals[agent_id], agent_id, [rep(1)])).result(30)
        counted.clear()
        commits = writer.commits
        futures = [
            writer.submit_staged(staged(principals[a], a, [rep(s) for s in range(first, first + 10)]))
            for first in range(2, 102, 10)
            for a in AGENTS
        ]
        for future in futures:
            future.result(30)
        batches = writer.commits - commits
    finally:
        writer.stop()
    reports = 100 * len(AGENTS)
    # a batch's samples, points, host rows and ledger rows: one statement per table
    assert len(counted) / reports <= 0.2, sorted(set(counted))
    assert not [s for s in counted if s.startswith(("SAVEPOINT", "ROLLBACK"))]
    # role and site left as they are (their index not rewritten) from the second batch of a host on
    updates = [s for s in counted if s.startswith("UPDATE hosts")]
    assert sum("role=" in s.split(" WHERE ")[0] for s in updates) <= len(AGENTS), updates
    reads = [s for s in counted if s.startswith("SELECT")]
    # a known host costs no read (on SQLite the host update's guard alone
    # checks its row); whether its month is closed, once per batch
    assert all(" FROM periods " in s for s in reads), reads
    assert len(reads) <= batches
