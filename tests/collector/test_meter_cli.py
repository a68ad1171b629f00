"""`leitstand-collector meter ...` end to end on a real database file."""

from __future__ import annotations

import hashlib
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


def _db(tmp_path: Path) -> Path:
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
                seq=s, ts=OCT.start_ts + 60 * s, interval_s=60, cpu=Cpu(count=1, percent=1, busy_seconds_total=s * 6)
            )
            for s in range(1, 50)
        ]
        conn.execute("BEGIN")
        store.ingest(conn, principal, Batch(AgentInfo(id=f"{tenant}-1", hostname="h"), reports), OCT.end_ts)
        conn.execute("COMMIT")
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
