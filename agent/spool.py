"""The agent's on-disk outbox: reports wait here until the collector acknowledges them.

One SQLite file in WAL mode with ``synchronous=FULL``: once :meth:`Spool.enqueue`
returns, the report survives a crash or a power cut. Every change is one
transaction, so a process killed mid-write leaves the previous consistent state.

Sequence numbers: ``seq`` is assigned inside the enqueue transaction from
``last_seq`` in the ``meta`` table, so it is strictly increasing, survives
restarts and is never reused, not even after the outbox was emptied (the
collector ignores a seq it already stored, so a reused one would be lost).

Outbox invariant: rows are only ever deleted from the old end (acknowledged or
dropped), so the pending seqs always form one contiguous range.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from agent import wire

__all__ = ["DEFAULT_MAX_BYTES", "SendRecord", "Spool", "SpoolError", "encode_report"]

log = logging.getLogger("leitstand.agent")

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
SCHEMA_VERSION = 1

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

    def ack_through(self, seq: int) -> int:
        """Delete every pending report with a seq <= ``seq``; returns how many were deleted."""
        with self._write() as db:
            count, size = db.execute("SELECT count(*), total(size) FROM outbox WHERE seq <= ?", (seq,)).fetchone()
            if count:
                db.execute("DELETE FROM outbox WHERE seq <= ?", (seq,))
                self._set_meta("pending_bytes", int(self._meta("pending_bytes", 0)) - int(size))
        return int(count)

    # -- figures --------------------------------------------------------------

    def pending_count(self) -> int:
        # Pending seqs are contiguous (see module docstring), so min/max (each an index
        # lookup) give the count without scanning the table.
        low, high = self._conn.execute("SELECT (SELECT min(seq) FROM outbox), (SELECT max(seq) FROM outbox)").fetchone()
        return 0 if low is None else int(high) - int(low) + 1

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
