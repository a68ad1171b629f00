"""`leitstand-collector meter ...` end to end on a real database file."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from agent.wire import AgentInfo, Batch, Cpu, Report
from collector import admin, store
from collector.db import connect, migrate
from collector.enroll import enroll as enroll_agent
from collector.metering.model import Period
from tests.support import leitstand

OCT = Period(2026, 10)


def _db(tmp_path: Path, *, spike: bool = False) -> Path:
    """Two tenants metered through October; with `spike`, stadt-lohne's host
    reports 10**6 s of CPU on one core in a minute (seq 24 -> 25)."""
    db = tmp_path / "c.db"
    conn = connect(db)
    migrate(conn)
    for tenant in ("stadt-lohne", "gemeinde-dinklage"):
        admin.add_tenant(conn, tenant, actor="test")
        enroll = admin.authenticate(conn, "Bearer " + admin.create_token(conn, "enroll", actor="t", tenant=tenant)[1])
        token = enroll_agent(conn, enroll, f"{tenant}-1", f"{tenant}-host").token
        principal = admin.authenticate(conn, f"Bearer {token}")
        reports = [
            Report(
                seq=s,
                ts=OCT.start_ts + 60 * s,
                interval_s=60,
                cpu=Cpu(count=1, percent=1, busy_seconds_total=s * 6 + (10**6 if spike and s >= 25 else 0)),
            )
            for s in range(1, 50)
        ]
        conn.execute("BEGIN")
        store.ingest(conn, principal, Batch(AgentInfo(id=f"{tenant}-1", hostname="h"), reports), OCT.end_ts)
        conn.execute("COMMIT")
        spike = False  # one tenant only
    conn.close()
    return db


def cli(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [leitstand("leitstand-collector"), *args, "--db", str(db)], capture_output=True, text=True, timeout=60
    )


@pytest.mark.sqlite_only  # drives the CLI in a subprocess on a SQLite path
def test_close_then_export_all_writes_files_with_checksums(tmp_path: Path) -> None:
    db = _db(tmp_path)
    periods = cli(db, "meter", "periods")
    assert periods.returncode == 0
    assert "2026-10" in periods.stdout and "open" in periods.stdout
    closed = cli(db, "meter", "close", "--period", "2026-10")
    assert closed.returncode == 0, closed.stderr
    assert "closed 2026-10 for gemeinde-dinklage" in closed.stdout
    again = cli(db, "meter", "close", "--period", "2026-10", "--tenant", "stadt-lohne")
    assert again.returncode == 1
    assert "already closed" in again.stderr
    out = tmp_path / "exports"
    export = cli(db, "meter", "export", "--all", "--period", "2026-10", "--format", "focus", "--out", str(out))
    assert export.returncode == 0, export.stderr
    files = sorted(p.name for p in out.iterdir())
    assert files == [
        "gemeinde-dinklage-2026-10-focus.csv",
        "gemeinde-dinklage-2026-10-focus.csv.sha256",
        "stadt-lohne-2026-10-focus.csv",
        "stadt-lohne-2026-10-focus.csv.sha256",
    ]
    content = (out / "stadt-lohne-2026-10-focus.csv").read_bytes()
    digest, name = (out / "stadt-lohne-2026-10-focus.csv.sha256").read_text().split()
    assert digest == hashlib.sha256(content).hexdigest()
    assert name == "stadt-lohne-2026-10-focus.csv"
    assert b"gemeinde-dinklage" not in content  # one tenant per file
    # a re-export of the closed month is byte-identical and says so
    second = cli(db, "meter", "export", "--tenant", "stadt-lohne", "--period", "2026-10", "--format", "focus",
                 "--out", str(tmp_path / "again.csv"))  # fmt: skip
    assert second.returncode == 0, second.stderr
    assert (tmp_path / "again.csv").read_bytes() == content
    assert "identical to the export issued before" in second.stderr


def test_running_month_cannot_be_closed_and_bad_period_is_an_error(tmp_path: Path) -> None:
    db = _db(tmp_path)
    r = cli(db, "meter", "close", "--period", "2199-01")
    assert r.returncode == 1
    assert "has not ended" in r.stderr
    r = cli(db, "meter", "export", "--tenant", "stadt-lohne", "--period", "26-10")
    assert r.returncode == 1
    assert "YYYY-MM" in r.stderr
    # far beyond any billing period: a clear message, no traceback
    for args in (("close", "--period", "9999-12"), ("export", "--tenant", "stadt-lohne", "--period", "9999-12")):
        r = cli(db, "meter", *args)
        assert r.returncode == 1, r.stderr
        assert "out of range" in r.stderr and "2199-12" in r.stderr
        assert "Traceback" not in r.stderr


def test_export_to_stdout(tmp_path: Path) -> None:
    db = _db(tmp_path)
    r = cli(db, "meter", "export", "--tenant", "stadt-lohne", "--period", "2026-10", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert '"tenant": "stadt-lohne"' in r.stdout
    assert "sha256 " in r.stderr


@pytest.mark.sqlite_only  # drives the CLI in a subprocess on a SQLite path
def test_anomalies_review_release_and_close(tmp_path: Path) -> None:
    db = _db(tmp_path, spike=True)
    listed = cli(db, "meter", "anomalies", "--period", "2026-10")
    assert listed.returncode == 0, listed.stderr
    assert "cpu_above_cores" in listed.stdout and "stadt-lohne" in listed.stdout and "pending" in listed.stdout
    (item,) = json.loads(cli(db, "meter", "anomalies", "--json").stdout)
    assert (item["tenant"], item["period"], item["quantity"], item["unit"]) == (
        "stadt-lohne", "2026-10", "1000006.000", "s",
    )  # fmt: skip
    refused = cli(db, "meter", "close", "--period", "2026-10")
    assert refused.returncode == 1
    assert item["id"] in refused.stderr and "--force" in refused.stderr
    assert "closed" not in cli(db, "meter", "periods").stdout
    no_reason = cli(db, "meter", "anomalies", "release", item["id"])
    assert no_reason.returncode == 2 and "--reason" in no_reason.stderr
    released = cli(db, "meter", "anomalies", "release", item["id"], "--reason", "Rechenlauf, Ticket 4711")
    assert released.returncode == 0, released.stderr
    assert "released" in released.stdout
    assert "no pending quarantine entries" in cli(db, "meter", "anomalies").stdout
    assert json.loads(cli(db, "meter", "anomalies", "--status", "released", "--json").stdout)[0]["id"] == item["id"]
    closed = cli(db, "meter", "close", "--period", "2026-10")
    assert closed.returncode == 0, closed.stderr
    export = cli(db, "meter", "export", "--tenant", "stadt-lohne", "--period", "2026-10", "--format", "json")
    cpu = next(m for m in json.loads(export.stdout)["meters"] if m["meter"] == "cpu_core_seconds")
    assert cpu["quantity"] == "1000288.000"  # 47 x 6 s + the released 10**6 + 6 s
    audit = cli(db, "audit").stdout
    assert "quarantine.release" in audit and "Rechenlauf, Ticket 4711" in audit


@pytest.mark.sqlite_only
def test_dismissed_anomaly_books_nothing_and_force_closes_past_pending(tmp_path: Path) -> None:
    db = _db(tmp_path, spike=True)
    (item,) = json.loads(cli(db, "meter", "anomalies", "--json").stdout)
    forced = cli(db, "meter", "close", "--period", "2026-10", "--tenant", "gemeinde-dinklage")
    assert forced.returncode == 0, forced.stderr  # the other tenant has nothing held
    dismissed = cli(db, "meter", "anomalies", "dismiss", item["id"], "--reason", "Agent defekt")
    assert dismissed.returncode == 0, dismissed.stderr
    again = cli(db, "meter", "anomalies", "release", item["id"], "--reason", "doch")
    assert again.returncode == 1 and "dismissed, not pending" in again.stderr
    export = cli(db, "meter", "export", "--tenant", "stadt-lohne", "--period", "2026-10", "--format", "json")
    doc = json.loads(export.stdout)
    cpu = next(m for m in doc["meters"] if m["meter"] == "cpu_core_seconds")
    assert cpu["quantity"] == "282.000"  # 47 x 6 s: the held minute is not billed
    assert [q["status"] for q in doc["quarantine"]] == ["dismissed"]


def test_export_files_are_fsynced_with_their_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import stat

    from collector.metering import cli as metering_cli

    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    target = tmp_path / "lohne.csv"
    metering_cli.write_durable(target, b"record,tenant\n")
    assert target.read_bytes() == b"record,tenant\n"
    assert synced == ["file", "dir"]  # the data, then the rename
    assert not list(tmp_path.glob(".*.tmp"))
