"""`leitstand-collector backup`: a consistent copy of a live SQLite database,
never a half file at --out, and a database newer than the code is refused."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import threading
from pathlib import Path

import pytest

from collector.backup import BackupError, backup
from collector.db import SchemaTooNewError, connect, migrate
from tests.support import leitstand, wait_until

pytestmark = pytest.mark.sqlite_only

BATCH = 50


def _migrated(path: Path) -> None:
    conn = connect(path)
    migrate(conn)
    conn.close()


def _ingest(path: Path, stop: threading.Event, batches: list[int]) -> None:
    """Commits batches of BATCH audit rows, as the writer commits report batches."""
    conn = connect(path)
    try:
        while not stop.is_set():
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT INTO audit (ts, actor, action, detail) VALUES (?, 'test', 'ingest', ?)",
                [(float(len(batches)), "x" * 200)] * BATCH,
            )
            conn.execute("COMMIT")
            batches.append(1)
    finally:
        conn.close()


def test_backup_while_ingest_runs_holds_whole_batches_and_passes_integrity_check(tmp_path: Path) -> None:
    db, out = tmp_path / "collector.db", tmp_path / "backup.db"
    _migrated(db)
    stop, batches = threading.Event(), []
    writer = threading.Thread(target=_ingest, args=(db, stop, batches))
    writer.start()
    try:
        wait_until(lambda: len(batches) >= 20, what="ingest running")
        copies = []
        for i in range(3):
            result = backup(db, out, force=i > 0)
            copy = sqlite3.connect(result.out)
            assert copy.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)
            copies.append(copy.execute("SELECT count(*) FROM audit").fetchone()[0])
            copy.close()
    finally:
        stop.set()
        writer.join(10)
    assert all(n > 0 and n % BATCH == 0 for n in copies), copies  # whole batches, never part of one
    assert copies == sorted(copies) and copies[-1] <= len(batches) * BATCH
    assert not (tmp_path / ".backup.db.partial").exists()


def test_backup_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    db, out = tmp_path / "collector.db", tmp_path / "backup.db"
    _migrated(db)
    out.write_text("an older backup")
    done = subprocess.run(
        [leitstand("leitstand-collector"), "backup", "--db", str(db), "--out", str(out)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1 and "--force" in done.stderr
    assert out.read_text() == "an older backup"
    done = subprocess.run(
        [leitstand("leitstand-collector"), "backup", "--db", str(db), "--out", str(out), "--force"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sqlite3.connect(out).execute("SELECT count(*) FROM tenants").fetchone() == (0,)


def test_backup_never_creates_or_migrates_a_database(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="no database"):
        backup(tmp_path / "missing.db", tmp_path / "out.db")
    assert not (tmp_path / "missing.db").exists() and not (tmp_path / "out.db").exists()


def test_backup_of_postgresql_points_to_pg_dump(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="pg_dump"):
        backup("postgresql://leitstand@db.example/leitstand", tmp_path / "out.db")


@pytest.mark.slow
def test_killed_backup_leaves_nothing_at_out(tmp_path: Path) -> None:
    db, out = tmp_path / "collector.db", tmp_path / "backup.db"
    _migrated(db)
    conn = sqlite3.connect(db)
    # large enough that the copy takes a while to write
    conn.execute("CREATE TABLE ballast (b BLOB)")
    conn.executemany("INSERT INTO ballast VALUES (randomblob(65536))", [()] * 4000)
    conn.commit()
    conn.close()
    partial = tmp_path / ".backup.db.partial"
    proc = subprocess.Popen(
        [leitstand("leitstand-collector"), "backup", "--db", str(db), "--out", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until(lambda: partial.exists() and partial.stat().st_size > 0, timeout=30, what="backup writing")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        assert proc.wait(10) == -signal.SIGKILL
    assert not out.exists()
    # the next run replaces the leftover and completes
    result = backup(db, out)
    assert result.size_bytes > 4000 * 65536 and not partial.exists()


def test_database_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "collector.db"
    _migrated(db)
    conn = sqlite3.connect(db)
    conn.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
        "VALUES ('leitstand.collector', 'm999_from_the_future', '2027-01-01')"
    )
    conn.commit()
    conn.close()
    with pytest.raises(SchemaTooNewError, match="m999_from_the_future"):
        _migrated(db)
    done = subprocess.run(
        [leitstand("leitstand-collector"), "tenant", "list", "--db", str(db)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1 and "newer Leitstand" in done.stderr
