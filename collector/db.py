"""Opening the store: SQLite (the default, one file) or PostgreSQL (a URL).

Everything above this module speaks one interface, `Connection`: the subset
of `sqlite3.Connection` the store uses, which `collector.pg.PgConnection`
provides on PostgreSQL. The store's SQL is the dialect both engines share.
"""

from __future__ import annotations

import hashlib
import itertools
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from pathlib import Path
from typing import Any, Literal, Protocol

from sqlite_utils import Database

from .errors import StorageError
from .migrations import migrations

__all__ = [
    "ERRORS",
    "FAIL_WHERE",
    "INTEGRITY_ERRORS",
    "STORAGE_FAILURES",
    "Connection",
    "Leadership",
    "SchemaTooNewError",
    "Target",
    "connect",
    "describe",
    "dialect",
    "insert_rows",
    "is_postgres",
    "migrate",
    "stream_lock",
    "transaction",
]

_savepoints = itertools.count()

#: a SQLite file, ":memory:", or a postgresql:// URL
Target = Path | str


class Connection(Protocol):
    """What the store needs of a database connection (autocommit; explicit transactions)."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Any: ...

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Any: ...

    @property
    def in_transaction(self) -> bool: ...

    def close(self) -> None: ...

    def __enter__(self) -> Any: ...

    def __exit__(self, exc_type: Any, exc: Any, tb: Any, /) -> Any: ...


def _driver_errors() -> tuple[tuple[type[Exception], ...], tuple[type[Exception], ...]]:
    errors: list[type[Exception]] = [sqlite3.Error]
    integrity: list[type[Exception]] = [sqlite3.IntegrityError]
    try:
        import psycopg
    except ImportError:  # the postgres extra is not installed: SQLite only
        pass
    else:
        errors.append(psycopg.Error)
        integrity.append(psycopg.IntegrityError)
    return tuple(errors), tuple(integrity)


#: every error a database driver raises, and those that reject one statement's data
ERRORS, INTEGRITY_ERRORS = _driver_errors()


def is_postgres(target: object) -> bool:
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def dialect(conn: Connection) -> Literal["sqlite", "postgres"]:
    return "sqlite" if isinstance(conn, sqlite3.Connection) else "postgres"


def describe(target: Target) -> str:
    """The target for logs and messages: a PostgreSQL URL without its password."""
    if not is_postgres(target):
        return str(target)
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(str(target))
    if parts.password:
        host = parts.hostname or ""
        netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


def connect(target: Target, *, synchronous: str = "full") -> Connection:
    """A connection in autocommit mode; transactions are explicit."""
    if is_postgres(target):
        try:
            from . import pg
        except ImportError as exc:
            raise StorageError(
                "PostgreSQL storage needs psycopg: pip install 'leitstand[postgres]'", [str(exc)]
            ) from exc
        try:
            return pg.connect(str(target))
        except ERRORS as exc:
            raise StorageError(f"cannot connect to {describe(target)}: {str(exc).strip()}") from exc
    if str(target) != ":memory:":
        try:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create the data directory for {target}: {exc.strerror}") from exc
    try:
        conn = sqlite3.connect(str(target), isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={'FULL' if synchronous == 'full' else 'NORMAL'}")
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("PRAGMA foreign_keys=ON")
    except sqlite3.Error as exc:
        raise StorageError(f"cannot open database {target}: {exc}") from exc
    return conn


class SchemaTooNewError(StorageError):
    """The database carries migrations this code does not know: a newer Leitstand wrote it."""


def migrate(conn: Connection) -> None:
    try:
        if isinstance(conn, sqlite3.Connection):
            db = Database(conn)
            _refuse_newer({m.name for m in migrations.applied(db)} if db["_sqlite_migrations"].exists() else set())
            migrations.apply(db)
        else:
            from . import pg

            assert isinstance(conn, pg.PgConnection)
            _refuse_newer(pg.applied(conn))
            pg.migrate(conn, [(m.name, m.fn) for m in migrations._migrations])
    except ERRORS as exc:
        raise StorageError(f"cannot migrate database: {exc}") from exc


def _refuse_newer(applied: set[str]) -> None:
    # Running older code on it would write rows its schema no longer means.
    unknown = sorted(applied - {m.name for m in migrations._migrations})
    if unknown:
        raise SchemaTooNewError(
            "the database was migrated by a newer Leitstand than this one (unknown migrations: "
            + ", ".join(unknown)
            + ")",
            ["run the version that migrated it, or restore the backup taken before that upgrade (README, Upgrading)"],
        )


def begin(conn: Connection, streams: Iterable[int] | None = None) -> None:
    """Start a write transaction.

    On SQLite, IMMEDIATE takes the database's write lock now, so a transaction
    never fails half-way on a lock it could not upgrade, and every write
    transaction runs alone.

    On PostgreSQL several collectors write at once. A transaction without
    `streams` runs alone, as on SQLite: it holds the write lock (a
    transaction-scoped advisory lock) exclusively, so it sees the committed
    state of all earlier ones and none is aborted for another (enrollment,
    closing a period, housekeeping, every CLI command). A transaction that
    names the agent streams it writes (`stream_lock` keys: a writer batch of
    ingest jobs) holds the write lock shared, so such batches of several
    collectors run in parallel, and locks its streams, in ascending order so
    two batches never deadlock: each stream's seq bookkeeping and metering
    points stay serial. Reads never wait for either."""
    if isinstance(conn, sqlite3.Connection):
        conn.execute("BEGIN IMMEDIATE")
        return
    conn.execute("BEGIN")
    if streams is None:
        conn.execute("SELECT pg_advisory_xact_lock(?)", (WRITE_LOCK,))
        return
    conn.execute("SELECT pg_advisory_xact_lock_shared(?)", (WRITE_LOCK,))
    keys = sorted(set(streams))
    if keys:
        # one statement; the subquery's ORDER BY is the order the locks are taken in
        conn.execute(
            "SELECT count(pg_advisory_xact_lock(CAST(? AS integer), k)) "
            "FROM (SELECT unnest(CAST(? AS integer[])) AS k ORDER BY k) s",
            (STREAM_LOCKS, keys),
        )


def stream_lock(stream: str) -> int:
    """The advisory lock key of a stream (an agent's or a device's): a
    stable 32-bit hash. Two streams that share a key are only serialized."""
    digest = hashlib.blake2b(stream.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


def insert_rows(conn: Connection, head: str, rows: Sequence[Sequence[Any]], tail: str = "", chunk: int = 256) -> None:
    """`head VALUES (…), (…), … tail`: many rows in one statement (per
    `chunk` rows) where executemany would run one per row. On PostgreSQL
    one statement of column arrays instead (`PgConnection.insert_rows`)."""
    if not rows:
        return
    if not isinstance(conn, sqlite3.Connection):
        conn.insert_rows(head, rows, tail)  # type: ignore[attr-defined]
        return
    group = "(" + ", ".join("?" * len(rows[0])) + ")"
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        conn.execute(f"{head} VALUES {', '.join([group] * len(part))} {tail}", [v for row in part for v in row])


def pipeline(conn: Connection) -> AbstractContextManager[object]:
    """PostgreSQL's pipeline mode for a run of statements; nothing on SQLite,
    which has no round trips to save."""
    if isinstance(conn, sqlite3.Connection):
        return nullcontext()
    return conn.pipeline()  # type: ignore[attr-defined]


def sync(conn: Connection) -> None:
    """Wait for every pipelined statement's result; raises the first error."""
    if not isinstance(conn, sqlite3.Connection):
        conn.sync()  # type: ignore[attr-defined]


def settle(conn: Connection) -> None:
    """After a failed statement: let the connection take the rollback that
    follows (PostgreSQL's pipeline skips statements up to its next sync)."""
    if not isinstance(conn, sqlite3.Connection):
        conn.settle()  # type: ignore[attr-defined]


#: the advisory lock every write transaction on PostgreSQL holds (exclusive,
#: or shared by writer batches of ingest jobs: `begin`)
WRITE_LOCK = 0x4C656975
#: the first key of the two-key advisory locks of streams (`stream_lock` the second)
STREAM_LOCKS = 0x4C656977


#: PostgreSQL: followed by a condition, a statement that fails its
#: transaction where the condition holds, so that a COMMIT sent after it
#: does not commit, and the writer need not wait for a result before sending
#: it: the row it then inserts has no id, a NOT NULL violation, an integrity
#: error (a deferred writer batch runs again job by job: `collector.writer`)
FAIL_WHERE = "INSERT INTO hosts (agent_id) SELECT NULL WHERE "


#: what a background task (leadership, housekeeping) logs and tries again later
STORAGE_FAILURES: tuple[type[Exception], ...] = (StorageError, *ERRORS)


class Leadership:
    """Whether this collector runs the periodic evaluations (alerts, readiness)
    and housekeeping.

    On SQLite there is one collector per database: always. On PostgreSQL the
    first collector to take a session advisory lock leads until its
    connection ends (it stopped or died); the others ask again every tick.

    Callable from several threads: the event loop asks before each evaluation
    and the housekeeping thread before each round. One instance for both, not
    one each: a second session of the same process could never take the lock
    the first holds, and a second key would let alerts and housekeeping lead
    on different collectors: two leaders to look for in the logs, and a stop
    that hands over only half of the work. The instance's connection and its
    `_held` flag are guarded by `_lock`: unguarded, two first calls at once
    would each open a session, the one whose session took the lock would be
    overwritten by the other, and the lock would stay held by a session nobody
    closes: no collector would lead again until the process ends. A caller
    waits at most for the other's one round trip, the wait the event loop
    already has on its own.
    """

    _KEY = 0x4C656976

    def __init__(self, target: Target) -> None:
        self._target = target
        self._conn: Connection | None = None
        self._held = False
        self._lock = threading.Lock()

    def __call__(self) -> bool:
        if not is_postgres(self._target):
            return True
        with self._lock:
            try:
                if self._conn is None:
                    self._conn = connect(self._target)
                if self._held:
                    self._conn.execute("SELECT 1")  # the lock lives as long as this session
                else:
                    self._held = bool(self._conn.execute("SELECT pg_try_advisory_lock(?)", (self._KEY,)).fetchone()[0])
            except STORAGE_FAILURES:
                self._close()
            return self._held

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        self._held = False
        if self._conn is not None:
            with suppress(*ERRORS):
                self._conn.close()
            self._conn = None


@contextmanager
def transaction(conn: Connection, streams: Iterable[int] | None = None) -> Iterator[Connection]:
    """Atomic block that nests: a savepoint inside the writer's batch
    transaction, a transaction of its own when called from the CLI.
    `streams`: as for `begin` (a transaction of its own on PostgreSQL holds
    the write lock shared and locks these streams; None: exclusive)."""
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
    begin(conn, streams)
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
