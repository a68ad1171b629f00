"""The agent's on-disk outbox: reports wait here until the collector acknowledges them.

One SQLite file in WAL mode with ``synchronous=FULL``: once :meth:`Spool.enqueue`
returns, the report survives a crash or a power cut. Every change is one
transaction, so a process killed mid-write leaves the previous consistent state.

Sequence numbers: ``seq`` is assigned inside the enqueue transaction from
``last_seq`` in the ``meta`` table, so it is strictly increasing, survives
restarts and is never reused, not even after the outbox was emptied (the
collector ignores a seq it already stored, so a reused one would be lost).

Outbox invariant: a row leaves the outbox only when the collector acknowledged
it, when the spool was full (dropped from the old end, counted), or when it is
moved, in the same transaction, to the ``deadletter`` table: a report the
collector refused on its own (see :mod:`agent.runner`). Pending seqs are
therefore ascending but not necessarily contiguous. Dead letters stay until an
admin retries (back into the outbox, same seq) or purges them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from agent import wire

__all__ = ["DEFAULT_MAX_BYTES", "AckNotes", "DeadLetter", "SendRecord", "Spool", "SpoolError", "encode_report"]

log = logging.getLogger("leitstand.agent")

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
# Dead letters may take up to this fraction (1/n) of max_bytes, on top of the outbox.
DEAD_LETTER_SHARE = 5
SCHEMA_VERSION = 1
# The collector's error body is short JSON; a proxy's HTML page is not worth keeping whole.
_MAX_ERROR_CHARS = 4000

_report_decoder = msgspec.json.Decoder(wire.Report)


class SpoolError(Exception):
    """The spool file cannot be used (not a database, or written by a newer agent)."""


@dataclass(frozen=True)
class SendRecord:
    """Outcome of the last send attempt, kept in the spool so ``status`` can show it."""

    at: float  # Unix time of the attempt
    ok: bool
    detail: str
    acked_through: int | None = None


@dataclass(frozen=True)
class DeadLetter:
    """A report moved out of the outbox because the collector could not take it."""

    seq: int
    at: float  # Unix time it was dead-lettered
    status: int  # the collector's HTTP status
    error: str  # the collector's error text (the whole body, shortened)
    body: bytes = b""  # the encoded report; empty when listed without bodies

    @property
    def error_line(self) -> str:
        """The first line of the error, for one-line listings."""
        return self.error.strip().splitlines()[0] if self.error.strip() else ""


class AckNotes(msgspec.Struct, frozen=True):
    """What the collector said about the last acknowledged batch besides the ack."""

    at: float
    refused: list[str] = []  # SNMP devices it refused (ownership)
    unknown_fields: list[str] = []  # field paths it ignored


def encode_report(seq: int, fields: Mapping[str, Any]) -> bytes:
    """Build ``wire.Report(seq=seq, **fields)``, check it against the schema, return its JSON.

    Checked before it is spooled because the outbox is sent oldest first: a report
    the collector rejects with 400 would block every report behind it. msgspec only
    validates constraints on decode, hence the round trip. Raises wire.WireError.
    """
    if "seq" in fields:
        raise wire.WireError("report fields must not contain seq; the spool assigns it")
    try:
        body = wire.encode(wire.Report(seq=seq, **fields))
        _report_decoder.decode(body)
    except TypeError as exc:  # unknown or missing field names
        raise wire.WireError("report fields do not match wire.Report", [str(exc)]) from exc
    except msgspec.ValidationError as exc:
        raise wire.WireError("invalid report", [str(exc)]) from exc
    except msgspec.EncodeError as exc:
        raise wire.WireError("report cannot be encoded", [str(exc)]) from exc
    return body


class Spool:
    """Bounded, durable FIFO of encoded reports.

    Drop policy: the spool holds at most ``max_bytes`` of encoded reports. When a
    new report would not fit, the OLDEST reports are deleted to make room and
    counted in :meth:`dropped_total`. The newest data matters most after an
    outage, and the loss stays visible: the collector sees the seq gap and records
    it as a data gap in metering coverage. A single report larger than
    ``max_bytes`` is still stored (alone). The database file is somewhat larger
    than ``max_bytes`` (page overhead); freed pages are reused, not returned.

    Not thread-safe: one process, one thread writes (the runner). Other processes
    (``leitstand-agent status``) may read concurrently; WAL lets them.
    """

    def __init__(self, path: str | os.PathLike[str], max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        self.path = Path(path)
        self.max_bytes = max_bytes
        self._dropping = False
        # isolation_level=None: we issue BEGIN IMMEDIATE ourselves so each public
        # call is exactly one transaction; timeout waits out a concurrent reader's lock.
        self._conn = sqlite3.connect(self.path, isolation_level=None, timeout=10.0)
        try:
            self._setup()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise SpoolError(f"{self.path}: not a usable spool: {exc}") from exc
        except BaseException:
            self._conn.close()
            raise

    def _setup(self) -> None:
        mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode != "wal":
            log.warning("spool %s: WAL not available (journal_mode=%s); writes are slower", self.path, mode)
        # FULL: a commit is on disk before enqueue returns; the price is one fsync per report.
        self._conn.execute("PRAGMA synchronous=FULL")
        with self._write() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS outbox ("
                " seq INTEGER PRIMARY KEY,"
                " size INTEGER NOT NULL,"  # before body: reading it does not load the blob
                " body BLOB NOT NULL)"
            )
            db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value)")
            # Added without a schema bump: an older agent ignores the table (and so
            # does not send what is in it), which is what a dead letter is for anyway.
            db.execute(
                "CREATE TABLE IF NOT EXISTS deadletter ("
                " seq INTEGER PRIMARY KEY,"
                " at REAL NOT NULL,"
                " status INTEGER NOT NULL,"
                " error TEXT NOT NULL,"
                " body BLOB NOT NULL)"
            )
            version = self._meta("schema_version", None)
            if version is None:
                self._set_meta("schema_version", SCHEMA_VERSION)
            elif int(version) > SCHEMA_VERSION:
                raise SpoolError(f"{self.path}: written by a newer agent (schema {version})")

    # -- transactions and meta ------------------------------------------------

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
            self._conn.execute("COMMIT")
        except BaseException:
            # Also when COMMIT itself fails (disk full): a transaction left open would
            # make every later BEGIN fail.
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise

    def _meta(self, key: str, default: Any) -> Any:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else row[0]

    def _set_meta(self, key: str, value: object) -> None:
        self._conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # -- the outbox -----------------------------------------------------------

    def enqueue(self, fields: Mapping[str, Any]) -> int:
        """Assign the next seq, store the report durably and return the seq.

        ``fields`` are every wire.Report field except ``seq`` (what Sampler.sample
        returns). Raises wire.WireError for a report that does not follow the wire
        format; nothing is stored then and no seq is used up.
        """
        with self._write() as db:
            seq = int(self._meta("last_seq", 0)) + 1
            body = encode_report(seq, fields)
            self._make_room(len(body))
            db.execute("INSERT INTO outbox (seq, size, body) VALUES (?, ?, ?)", (seq, len(body), body))
            self._set_meta("last_seq", seq)
            self._set_meta("pending_bytes", int(self._meta("pending_bytes", 0)) + len(body))
        return seq

    def _make_room(self, incoming: int) -> None:
        pending = int(self._meta("pending_bytes", 0))
        excess = pending + incoming - self.max_bytes
        if excess <= 0:
            self._dropping = False
            return
        freed = dropped = 0
        cut = None
        rows = self._conn.execute("SELECT seq, size FROM outbox ORDER BY seq")
        for seq, size in rows:
            freed += size
            dropped += 1
            cut = seq
            if freed >= excess:
                break
        rows.close()  # finish the read statement before deleting from the same table
        if cut is None:
            return
        self._conn.execute("DELETE FROM outbox WHERE seq <= ?", (cut,))
        self._set_meta("pending_bytes", pending - freed)
        self._set_meta("dropped_total", int(self._meta("dropped_total", 0)) + dropped)
        # Warn once per overflow episode, not every sample interval for hours.
        level = logging.DEBUG if self._dropping else logging.WARNING
        log.log(
            level,
            "spool full (%s bytes max): dropped %s oldest report(s) through seq %s; the collector will see a gap",
            self.max_bytes,
            dropped,
            cut,
        )
        self._dropping = True

    def peek(self, limit: int) -> list[tuple[int, bytes]]:
        """Up to ``limit`` pending reports as (seq, encoded JSON), oldest first."""
        rows = self._conn.execute("SELECT seq, body FROM outbox ORDER BY seq LIMIT ?", (limit,)).fetchall()
        return [(int(seq), bytes(body)) for seq, body in rows]

    def ack_through(self, seq: int, *, sent: Collection[int] | None = None) -> int:
        """Delete every pending report with a seq <= ``seq``; returns how many were deleted.

        With ``sent``, only those of its seqs: a dead letter that ``deadletter retry``
        (another process) put back while the batch was in flight was not sent, and
        must stay.
        """
        if sent is not None:
            return self._ack_sent(seq, sent)
        with self._write() as db:
            count, size = db.execute("SELECT count(*), total(size) FROM outbox WHERE seq <= ?", (seq,)).fetchone()
            if count:
                db.execute("DELETE FROM outbox WHERE seq <= ?", (seq,))
                self._set_meta("pending_bytes", int(self._meta("pending_bytes", 0)) - int(size))
        return int(count)

    def _ack_sent(self, through: int, sent: Collection[int]) -> int:
        wanted = {q for q in sent if q <= through}
        if not wanted:
            return 0
        with self._write() as db:
            rows = db.execute(
                "SELECT seq, size FROM outbox WHERE seq BETWEEN ? AND ?", (min(wanted), max(wanted))
            ).fetchall()
            gone = [(q, size) for q, size in rows if q in wanted]
            db.executemany("DELETE FROM outbox WHERE seq = ?", [(q,) for q, _ in gone])
            if gone:
                self._set_meta("pending_bytes", int(self._meta("pending_bytes", 0)) - sum(size for _, size in gone))
        return len(gone)

    # -- dead letters ---------------------------------------------------------

    def dead_letter(self, seq: int, status: int, error: str, at: float) -> bool:
        """Move pending report ``seq`` to the dead-letter table, in one transaction.

        Returns False (and changes nothing) when ``seq`` is not pending any more.
        """
        with self._write() as db:
            row = db.execute("SELECT size, body FROM outbox WHERE seq = ?", (seq,)).fetchone()
            if row is None:
                return False
            size, body = row
            db.execute(
                "INSERT OR REPLACE INTO deadletter (seq, at, status, error, body) VALUES (?, ?, ?, ?, ?)",
                (seq, at, status, error[:_MAX_ERROR_CHARS], body),
            )
            db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))
            self._set_meta("pending_bytes", int(self._meta("pending_bytes", 0)) - int(size))
            self._set_meta("dead_lettered_total", int(self._meta("dead_lettered_total", 0)) + 1)
            self._bound_dead_letters(db)
        return True

    def _bound_dead_letters(self, db: sqlite3.Connection) -> None:
        # A host whose every report is refused (a clock years behind) would otherwise
        # grow the table without end. The oldest go first, counted and logged.
        limit = self.max_bytes // DEAD_LETTER_SHARE
        total = int(db.execute("SELECT total(length(body)) FROM deadletter").fetchone()[0])
        if total <= limit:
            return
        dropped: list[int] = []
        for seq, size in db.execute("SELECT seq, length(body) FROM deadletter ORDER BY seq").fetchall():
            if total <= limit:
                break
            dropped.append(int(seq))
            total -= int(size)
        db.executemany("DELETE FROM deadletter WHERE seq = ?", [(q,) for q in dropped])
        self._set_meta("dead_letters_dropped", int(self._meta("dead_letters_dropped", 0)) + len(dropped))
        log.warning(
            "dead-letter table full (%s bytes max): deleted the oldest dead letter(s) seq %s",
            limit,
            ", ".join(map(str, dropped)),
        )

    def dead_letter_count(self) -> int:
        """Reports in the dead-letter table now."""
        return int(self._conn.execute("SELECT count(*) FROM deadletter").fetchone()[0])

    def dead_letters_dropped(self) -> int:
        """Dead letters deleted because the dead-letter table was full."""
        return int(self._meta("dead_letters_dropped", 0))

    def dead_lettered_total(self) -> int:
        """Reports ever moved to the dead-letter table (retries and purges do not lower it)."""
        return int(self._meta("dead_lettered_total", 0))

    def dead_letters(self, limit: int | None = None, *, bodies: bool = False) -> list[DeadLetter]:
        """Dead letters, newest (highest seq) first; ``limit`` None means all."""
        body = "body" if bodies else "x''"
        rows = self._conn.execute(
            f"SELECT seq, at, status, error, {body} FROM deadletter ORDER BY seq DESC LIMIT ?",
            (-1 if limit is None else limit,),
        ).fetchall()
        return [DeadLetter(int(q), float(a), int(st), str(e), bytes(b)) for q, a, st, e, b in rows]

    def retry_dead_letters(self, seqs: Iterable[int] | None = None) -> list[int]:
        """Move dead letters (all, or those in ``seqs``) back into the outbox under their seq.

        The collector stores a late seq in the gap it left, or acknowledges it as a
        duplicate if it had stored it after all; either way nothing counts twice.
        Returns the seqs moved.
        """
        with self._write() as db:
            rows = self._select_dead(db, "seq, body", seqs)
            for seq, body in rows:
                db.execute("INSERT INTO outbox (seq, size, body) VALUES (?, ?, ?)", (seq, len(body), body))
                db.execute("DELETE FROM deadletter WHERE seq = ?", (seq,))
            added = sum(len(body) for _, body in rows)
            if added:
                self._set_meta("pending_bytes", int(self._meta("pending_bytes", 0)) + added)
        return [int(seq) for seq, _ in rows]

    def purge_dead_letters(self, seqs: Iterable[int] | None = None) -> list[int]:
        """Delete dead letters (all, or those in ``seqs``) for good; returns the seqs deleted."""
        with self._write() as db:
            rows = self._select_dead(db, "seq", seqs)
            db.executemany("DELETE FROM deadletter WHERE seq = ?", rows)
            self._set_meta("dead_letters_purged", int(self._meta("dead_letters_purged", 0)) + len(rows))
        return [int(seq) for (seq,) in rows]

    @staticmethod
    def _select_dead(db: sqlite3.Connection, columns: str, seqs: Iterable[int] | None) -> list[Any]:
        if seqs is None:
            return db.execute(f"SELECT {columns} FROM deadletter ORDER BY seq").fetchall()
        rows = []
        for seq in sorted(set(seqs)):
            row = db.execute(f"SELECT {columns} FROM deadletter WHERE seq = ?", (seq,)).fetchone()
            if row is not None:
                rows.append(row)
        return rows

    # -- what the collector said about our data ---------------------------------

    def record_ack_notes(self, notes: AckNotes) -> None:
        with self._write():
            self._set_meta("ack_notes", msgspec.json.encode(notes).decode())

    def ack_notes(self) -> AckNotes | None:
        raw = self._meta("ack_notes", None)
        if raw is None:
            return None
        try:
            return msgspec.json.decode(raw, type=AckNotes)
        except msgspec.DecodeError:
            return None

    # -- figures --------------------------------------------------------------

    def pending_count(self) -> int:
        # Not max - min + 1: dead letters leave holes (see module docstring). A count of
        # a 50 MB outbox is a few ms.
        return int(self._conn.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def pending_bytes(self) -> int:
        return int(self._meta("pending_bytes", 0))

    def dropped_total(self) -> int:
        """Reports deleted unsent because the spool was full, since the spool was created."""
        return int(self._meta("dropped_total", 0))

    def last_seq(self) -> int:
        """The highest seq ever assigned (0 before the first report)."""
        return int(self._meta("last_seq", 0))

    def record_send(self, record: SendRecord) -> None:
        with self._write():
            self._set_meta("last_send", msgspec.json.encode(record).decode())

    def last_send(self) -> SendRecord | None:
        raw = self._meta("last_send", None)
        if raw is None:
            return None
        try:
            return msgspec.json.decode(raw, type=SendRecord)
        except msgspec.DecodeError:
            return None

    # -- lifecycle ------------------------------------------------------------

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
