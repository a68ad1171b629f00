"""Deferred writer batches (collector.writestate) store exactly what job-by-job batches store.

A batch of ingest jobs first runs without a savepoint per job, its samples,
points and host rows written together before the commit; whatever does not
go as planned runs the batch again job by job. The same jobs, cut into the
same writer batches, must leave every stored row the same, byte for byte,
as the job-by-job reference (`WriteState.deferral` off). Real database files
(PostgreSQL with LEITSTAND_TEST_BACKEND=postgres)."""

from __future__ import annotations

import logging
import sqlite3
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlite_utils import Database

from agent.wire import AgentInfo, Batch, Cpu, Memory, Printer, Report, SnmpReading
from collector import db, hostrow
from collector.admin import Principal
from collector.db import connect
from collector.errors import ConflictError
from collector.ingest import HostSeqState
from collector.metering.streams import StreamKey
from collector.migrations import migrations
from collector.store import IngestJob
from collector.writer import Writer
from collector.writestate import WriteState

from .test_writer_cache import AGENTS, GIB, T0, rep, setup_db, snapshot, traced

#: every row ingest writes, every column but what differs between two set-ups (tokens, enrollment times, random ids)
DUMPS = {
    "samples": "SELECT agent_id, epoch, seq, ts, received_at, data FROM samples ORDER BY 1, 2, 3",
    "meter_points": "SELECT stream, k1, k2, ts, tenant, data FROM meter_points ORDER BY 1, 2, 3",
    "hosts": "SELECT agent_id, tenant, hostname, role, site, os, version, boot_time, rebase_allowed, epoch, "
    "last_seq, last_ts, latest_ts, last_seen, interval_s, reports_total, duplicates_total, gap_count, latest, "
    "unknown_fields, unknown_fields_total, dead_letters FROM hosts ORDER BY 1",
    "gaps": "SELECT agent_id, epoch, from_seq, to_seq, detected_at FROM gaps ORDER BY 1, 2, 3",
    "ledger": "SELECT tenant, hour, meter, dim, scaled FROM ledger ORDER BY 1, 2, 3, 4",
    "ledger_subject": "SELECT * FROM ledger_subject ORDER BY 1, 2, 3, 4, 5, 6",
    "coverage": "SELECT * FROM coverage ORDER BY 1, 2, 3, 4",
    "workplace_days": "SELECT agent_id, day, tenant, period, late FROM workplace_days ORDER BY 1, 2",
    "adjustments": "SELECT tenant, booked_period, for_period, meter, dim, kind, subject, scaled, booked_on, booked_at "
    "FROM adjustments ORDER BY 1, 2, 3, 4, 5, 6, 7, 8",
    "quarantine": "SELECT tenant, period, stream, subject_kind, subject, agent_id, rule, meter, dim, quantity, "
    "start_ts, end_ts, evidence, raw, status FROM quarantine ORDER BY 3, 11, 7, 8",
    "device_readings": "SELECT tenant, device_id, ts, agent_id, received_at, ok, data FROM device_readings "
    "ORDER BY 1, 2, 3",
    "device_coverage": "SELECT * FROM device_coverage ORDER BY 1, 2, 3",
}


def dump(path: db.Target) -> dict[str, list[tuple[Any, ...]]]:
    return snapshot(path, DUMPS)


def report(agent_id: str, seq: int, *, printer: bool) -> Report:
    r = rep(seq, sessions=seq % 3)
    if seq % 5 == 0:  # memory above total: quarantined
        full = Memory(total_bytes=GIB, used_bytes=2 * GIB)
        r = Report(seq=r.seq, ts=r.ts, interval_s=r.interval_s, cpu=r.cpu, memory=full, net=r.net)
    if seq % 7 == 0:  # more CPU than its cores can give: quarantined
        busy = Cpu(count=1, percent=1.0, busy_seconds_total=10**6.0 + seq)
        r = Report(seq=r.seq, ts=r.ts, interval_s=r.interval_s, cpu=busy)
    if printer:
        pages = 100 * seq
        reading = SnmpReading(device=f"pr-{agent_id}", kind="printer", ts=r.ts, printer=Printer(pages_total=pages))
        r = Report(seq=r.seq, ts=r.ts, interval_s=r.interval_s, cpu=r.cpu, memory=r.memory, snmp=[reading])
    return r


def job(principals: dict[str, Principal], agent_id: str, reports: Sequence[Report], received_at: float) -> IngestJob:
    role = "thin-client" if agent_id != "h3" else "server"
    info = AgentInfo(id=agent_id, hostname=f"{agent_id}-{len(reports)}", role=role, boot_time=T0 - 86400)  # type: ignore[arg-type]
    return IngestJob(principals[agent_id], Batch(agent=info, reports=list(reports)), received_at)


def run_batches(path: Path, deliveries: list[tuple[str, list[int]]], batch_max: int, *, deferral: bool) -> list[Any]:
    """All jobs queued before the writer starts: its batches are the same cuts in every run."""
    principals = setup_db(path)
    writer = Writer(lambda: connect(path), batch_max=batch_max)
    writer.state.deferral = deferral
    futures = [
        writer.submit_staged(job(principals, a, [report(a, s, printer=a == "h2") for s in seqs], T0 + 10**6 + i))
        for i, (a, seqs) in enumerate(deliveries)
    ]
    writer.start()
    try:
        outcomes: list[Any] = []
        for future in futures:
            try:
                outcomes.append(future.result(60))
            except ConflictError as exc:
                outcomes.append(type(exc))
        return outcomes
    finally:
        writer.stop()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_deferred_batches_store_what_job_by_job_batches_store(data: st.DataObject) -> None:
    """Shuffled, resent, gap-filling deliveries of three hosts (one polling a
    printer, with quarantined readings), cut into jobs and batches at random."""
    per_agent = data.draw(st.integers(min_value=3, max_value=14))
    items = [(a, s) for a in AGENTS for s in range(1, per_agent + 1)]
    stream = data.draw(st.permutations(items)) + data.draw(st.lists(st.sampled_from(items), max_size=8))
    cuts = sorted(data.draw(st.sets(st.integers(min_value=1, max_value=len(stream) - 1), max_size=12)))
    deliveries: list[tuple[str, list[int]]] = []
    start = 0
    for cut in [*cuts, len(stream)]:
        chunk, start = stream[start:cut], cut
        for agent_id in AGENTS:
            if mine := [s for a, s in chunk if a == agent_id]:
                deliveries.append((agent_id, mine))
    batch_max = data.draw(st.integers(min_value=1, max_value=8))
    with tempfile.TemporaryDirectory() as tmp:
        ref, got = Path(tmp) / "ref.db", Path(tmp) / "got.db"
        expected = run_batches(ref, deliveries, batch_max, deferral=False)
        assert run_batches(got, deliveries, batch_max, deferral=True) == expected
        assert dump(got) == dump(ref)


@pytest.mark.sqlite_only  # counted with SQLite's trace callback
def test_a_job_refused_before_it_wrote_leaves_its_batch_deferred(tmp_path: Path) -> None:
    """A seq reset is refused while the job has written nothing: the batch's
    other jobs commit as they ran, with no job-by-job rerun."""
    path = tmp_path / "w.db"
    principals = setup_db(path)
    counted, open_traced = traced(path)
    writer = Writer(open_traced)
    writer.submit_staged(job(principals, "h1", [rep(1), rep(2)], T0 + 10**6))
    writer.start()
    try:
        writer.submit_staged(job(principals, "h1", [rep(3)], T0 + 10**6)).result(30)
        writer.stop()
        counted.clear()
        reset = writer.submit_staged(job(principals, "h1", [rep(1, ts=T0 + 7200)], T0 + 10**6))
        fine = writer.submit_staged(job(principals, "h2", [rep(1), rep(2)], T0 + 10**6))
        writer.start()
        with pytest.raises(ConflictError):
            reset.result(30)
        assert fine.result(30).stored == 2
    finally:
        writer.stop()
    assert not [s for s in counted if s.startswith(("SAVEPOINT", "ROLLBACK"))], counted
    assert dump(path)["hosts"][0][10] == 3  # h1's last_seq: the reset stored nothing


def test_a_staged_row_the_database_refuses_reruns_the_batch_job_by_job(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A sample already stored under a seq its host row does not know (a
    database changed by hand): the database refuses the row only when it is
    written (on PostgreSQL, at the deferred batch's commit), and the batch
    ends as it does job by job: the clashing job fails alone, the other
    agent's reports are stored and acknowledged."""
    runs = []
    for deferral in (False, True):
        path = tmp_path / f"{deferral}.db"
        principals = setup_db(path)
        conn = connect(path)
        try:
            conn.execute(
                "INSERT INTO samples (agent_id, epoch, seq, ts, received_at, data) VALUES ('h1', 0, 2, 0, 0, '{}')"
            )
        finally:
            conn.close()
        writer = Writer(lambda path=path: connect(path))  # type: ignore[misc]
        writer.state.deferral = deferral
        futures = [
            writer.submit_staged(job(principals, "h1", [rep(1), rep(2)], T0 + 10**6)),
            writer.submit_staged(job(principals, "h2", [rep(1), rep(2)], T0 + 10**6)),
        ]
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="leitstand.collector.writer"):
            writer.start()
            outcomes: list[Any] = []
            try:
                for future in futures:
                    try:
                        outcomes.append(future.result(30))
                    except db.INTEGRITY_ERRORS:
                        outcomes.append("refused")
            finally:
                writer.stop()
        runs.append((outcomes, dump(path)))
        assert writer.commits == 1  # a deferred batch that fails commits nothing
        assert ("runs again job by job" in caplog.text) == deferral
    assert runs[1] == runs[0]
    outcomes, stored = runs[1]
    assert outcomes[0] == "refused" and outcomes[1].stored == 2
    assert [r[:3] for r in stored["samples"]] == [("h1", 0, 2), ("h2", 0, 1), ("h2", 0, 2)]
    assert [r[0] for r in stored["meter_points"]] == ["h:h2", "h:h2"]
    assert [(r[0], r[10]) for r in stored["hosts"]] == [("h1", 0), ("h2", 2), ("h3", 0)]


@pytest.mark.parametrize("newer", [True, False])
def test_two_host_updates_combined_are_both_applied_in_turn(tmp_path: Path, newer: bool) -> None:
    """One host's two jobs in a deferred batch are written as one update:
    it must leave the row as the two updates do one after the other."""
    rows = []
    for combined in (False, True):
        path = tmp_path / f"{combined}.db"
        setup_db(path)
        info = AgentInfo(id="h1", hostname="a", role="server", boot_time=1.0)
        later_info = AgentInfo(id="h1", hostname="b", role="vm", boot_time=2.0, site="x")
        s0, s1 = HostSeqState(rebase_allowed=True), HostSeqState(last_seq=2, last_ts=T0)
        s2 = HostSeqState(last_seq=5, last_ts=T0 + 9)
        first = hostrow.host_update(
            info, tenant="t1", old=s0, reports_total=0, duplicates_total=0, new=s1,
            latest=('{"a":1}', T0 + 5, 60.0), received_at=T0 + 100, stored=2, duplicates=0,
        )  # fmt: skip
        second = hostrow.host_update(
            later_info, tenant="t1", old=s1, reports_total=2, duplicates_total=0, new=s2,
            latest=('{"b":2}', T0 + (6 if newer else 4), 30.0), received_at=T0 + 200, stored=3, duplicates=1,
        )  # fmt: skip
        conn = connect(path)
        try:
            conn.execute("BEGIN")
            if combined:
                assert hostrow.update_all(conn, [hostrow.combine(first, second)]) == 1
            else:
                assert hostrow.update(conn, first) and hostrow.update(conn, second)
            conn.execute("COMMIT")
        finally:
            conn.close()
        rows.append(dump(path)["hosts"])
    assert rows[0] == rows[1]
    assert rows[1][0][18] == ('{"b":2}' if newer else '{"a":1}')


def test_the_state_of_a_deferred_batch_starts_empty() -> None:
    state = WriteState()
    state.samples.append(("h1", 0, 1, 0.0, 0.0, "{}"))
    state.host_updates["h1"] = {"id": "h1"}
    state.batch_started(deferring=True)
    assert (state.samples, state.host_updates, state.deferring) == ([], {}, True)


@pytest.mark.sqlite_only  # PostgreSQL's samples table is a heap already: the step changes nothing there
def test_samples_move_to_a_rowid_table_with_every_row_and_index(tmp_path: Path) -> None:
    """m013_samples_rowid on a database with samples in the WITHOUT ROWID
    table: every row kept, the key still unique, both indexes back, and
    ingest goes on from there."""
    path = tmp_path / "old.db"
    conn = connect(path)
    assert isinstance(conn, sqlite3.Connection)
    try:
        migrations.apply(Database(conn), stop_before="m013_samples_rowid")
        assert "WITHOUT ROWID" in conn.execute("SELECT sql FROM sqlite_master WHERE name = 'samples'").fetchone()[0]
        rows = [("h1", 0, seq, T0 + seq, T0 + 2 * seq, f'{{"seq":{seq}}}') for seq in (3, 1, 2)]
        conn.executemany("INSERT INTO samples VALUES (?, ?, ?, ?, ?, ?)", rows)
        db.migrate(conn)
        assert "WITHOUT ROWID" not in conn.execute("SELECT sql FROM sqlite_master WHERE name = 'samples'").fetchone()[0]
        assert conn.execute("SELECT * FROM samples ORDER BY seq").fetchall() == sorted(rows, key=lambda r: r[2])
        indexes = {r[1] for r in conn.execute("PRAGMA index_list(samples)").fetchall()}
        assert {"samples_agent_ts", "samples_received"} <= indexes
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute("INSERT INTO samples VALUES ('h1', 0, 2, 0, 0, '{}')")
    finally:
        conn.close()


@pytest.mark.sqlite_only  # PostgreSQL's meter_points table is a heap already: the step changes nothing there
def test_meter_points_move_to_a_rowid_table_with_every_row(tmp_path: Path) -> None:
    """m014_meter_points_rowid on a database with points in the WITHOUT
    ROWID table: every row kept, the key still unique, a point's
    neighbour still found in key order."""
    path = tmp_path / "old.db"
    conn = connect(path)
    assert isinstance(conn, sqlite3.Connection)
    try:
        migrations.apply(Database(conn), stop_before="m014_meter_points_rowid")
        old_sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'meter_points'").fetchone()[0]
        assert "WITHOUT ROWID" in old_sql
        rows = [("h:h1", 0, float(seq), T0 + seq, "t1", bytes([seq])) for seq in (3, 1, 2)]
        rows.append(("d:t1/prn-1", 0, T0, T0, "t1", b"\x00"))
        conn.executemany("INSERT INTO meter_points VALUES (?, ?, ?, ?, ?, ?)", rows)
        db.migrate(conn)
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'meter_points'").fetchone()[0]
        assert "WITHOUT ROWID" not in sql
        assert "PRIMARY KEY (stream, k1, k2)" in sql
        assert conn.execute("SELECT * FROM meter_points ORDER BY stream, k1, k2").fetchall() == sorted(rows)
        before = conn.execute(
            "SELECT data FROM meter_points WHERE stream = ? AND (k1, k2) < (?, ?) ORDER BY k1 DESC, k2 DESC",
            ("h:h1", 0, 3.0),
        ).fetchone()
        assert before == (bytes([2]),)
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute("INSERT INTO meter_points VALUES ('h:h1', 0, 2.0, 0, 't1', x'00')")
    finally:
        conn.close()


def test_a_jobs_lock_keys_are_its_host_stream_and_each_polled_device() -> None:
    """IngestJob.streams: the host stream's key (memoized per agent id) and
    one per device polled, each as `db.stream_lock` hashes it."""
    principal = Principal(token_id="t", role="agent", tenant="t1", agent_id="h1")
    host = db.stream_lock(StreamKey.host("h1").encode())
    plain = job({"h1": principal}, "h1", [report("h1", 1, printer=False)], T0)
    assert plain.streams == (host,)
    assert plain.streams == (host,)  # the memoized key
    polled = job({"h1": principal}, "h1", [report("h1", 1, printer=True), report("h1", 2, printer=True)], T0)
    assert sorted(polled.streams) == sorted({host, db.stream_lock("device:pr-h1")})


@pytest.mark.sqlite_only  # a SQLite pragma
def test_the_writers_statement_journals_stay_in_memory(tmp_path: Path) -> None:
    """The writer's connection keeps SQLite's temp files (a batch's statement
    journals) in memory, and still commits durably (synchronous=FULL)."""
    conn = Writer(lambda: connect(tmp_path / "w.db")).connection()
    try:
        assert conn.execute("PRAGMA temp_store").fetchone() == (2,)
        assert conn.execute("PRAGMA synchronous").fetchone() == (2,)
    finally:
        conn.close()
