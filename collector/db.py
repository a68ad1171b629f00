"""Opening the SQLite file: pragmas and migrations in one place."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlite_utils import Database

from .errors import StorageError
from .migrations import migrations

__all__ = ["connect", "migrate", "transaction"]

_savepoints = itertools.count()


def connect(path: Path | str, *, synchronous: str = "full") -> sqlite3.Connection:
    """A connection in autocommit mode; transactions are explicit."""
    if str(path) != ":memory:":
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create the data directory for {path}: {exc.strerror}") from exc
    try:
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={'FULL' if synchronous == 'full' else 'NORMAL'}")
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("PRAGMA foreign_keys=ON")
    except sqlite3.Error as exc:
        raise StorageError(f"cannot open database {path}: {exc}") from exc
    return conn


def migrate(conn: sqlite3.Connection) -> None:
    try:
        migrations.apply(Database(conn))
    except sqlite3.Error as exc:
        raise StorageError(f"cannot migrate database: {exc}") from exc


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Atomic block that nests: a savepoint inside the writer's batch
    transaction, a transaction of its own when called from the CLI."""
    if conn.in_transaction:
        name = f"sp{id(conn)}_{next(_savepoints)}"
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield conn
        except BaseException:
            conn.execute(f"ROLLBACK TO {name}")
            conn.execute(f"RELEASE {name}")
            raise
        conn.execute(f"RELEASE {name}")
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
