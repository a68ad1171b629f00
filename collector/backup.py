"""A consistent copy of a live SQLite database, for `leitstand-collector backup`.

SQLite's online backup API copies the database as one read transaction sees
it: in WAL mode the collector keeps ingesting meanwhile and the copy holds
every committed batch or none of it. The copy is written to a hidden file
next to the target, checked, fsynced and renamed into place, so a crash or a
kill leaves either the previous file at the target or the complete new one.
PostgreSQL databases are backed up with its own tools (pg_dump).
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from .db import Target, describe, is_postgres
from .errors import CollectorError

__all__ = ["BackupError", "BackupResult", "backup"]


class BackupError(CollectorError):
    """The backup was refused or failed; nothing was written at the target."""


@dataclass(frozen=True)
class BackupResult:
    source: Path
    out: Path
    size_bytes: int
    seconds: float


def backup(source: Target, out: Path, *, force: bool = False) -> BackupResult:
    """Copy the SQLite database ``source`` to ``out`` while it may be in use."""
    if is_postgres(source):
        raise BackupError(
            f"{describe(source)} is a PostgreSQL database: back it up with pg_dump",
            ["e.g. pg_dump --format=custom --file=leitstand.dump 'postgresql://...'", "see the README, Upgrading"],
        )
    src_path = Path(source)
    if not src_path.is_file():
        # connecting would create an empty database and back that up
        raise BackupError(f"no database at {src_path}")
    if out.exists() and not force:
        raise BackupError(f"{out} exists; pass --force to replace it")
    if out.resolve() == src_path.resolve():
        raise BackupError(f"{out} is the database itself")
    partial = out.with_name(f".{out.name}.partial")
    started = time.monotonic()
    try:
        partial.unlink(missing_ok=True)  # left by a killed run
        _copy(src_path, partial)
        _fsync(partial)
        os.replace(partial, out)
        _fsync(out.parent)
    except BaseException as exc:
        partial.unlink(missing_ok=True)
        if isinstance(exc, OSError | sqlite3.Error):
            raise BackupError(f"backup of {src_path} to {out} failed: {exc}") from exc
        raise
    return BackupResult(src_path, out, out.stat().st_size, time.monotonic() - started)


def _copy(source: Path, dest: Path) -> None:
    src = sqlite3.connect(source, isolation_level=None)
    try:
        src.execute("PRAGMA busy_timeout=10000")
        dst = sqlite3.connect(dest, isolation_level=None)
        try:
            # pages=-1: the whole database in one step, i.e. one read snapshot; a
            # stepwise copy would restart whenever the collector commits.
            src.backup(dst, pages=-1)
            # one self-contained file, without -wal and -shm next to it
            dst.execute("PRAGMA journal_mode=DELETE")
            problems = [row[0] for row in dst.execute("PRAGMA quick_check").fetchall()]
            if problems != ["ok"]:
                raise BackupError(f"the copy of {source} fails SQLite's quick_check", problems[:10])
        finally:
            dst.close()
    finally:
        src.close()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
