"""The collector's shared state: what every request handler and background loop
receives, typed. No web framework here: the HTTP layer (collector/http.py)
finds it on the request, the CLI and the tests build it through the app.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from . import db, tokens
from .admin import Principal
from .alerting.runtime import Alerting
from .config import Config
from .db import Connection, Leadership
from .housekeeping import Housekeeper
from .metering.booking import MeteringSettings
from .metering.tariffs import TariffBook
from .readiness.config import ReadinessSettings
from .writer import Writer

__all__ = ["Collector", "Readers"]

T = TypeVar("T")

#: reads a collector may run at once; more wait for a free connection
READ_THREADS = 4


class Readers:
    """Worker threads for the request path's reads, each with a connection of
    its own, so no read ever runs on the event loop and a slow one (a large
    tenant's usage) does not hold up the others. A database only this process
    can see (":memory:") is read on its one connection, one read at a time."""

    def __init__(self, target: str, shared: Connection, threads: int = READ_THREADS) -> None:
        self._shared = shared
        self._private = bool(target) and target != ":memory:"
        self._target = target
        self._local = threading.local()
        self._opened: list[Connection] = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(
            max_workers=threads if self._private else 1, thread_name_prefix="leitstand-read"
        )

    def _connection(self) -> Connection:
        if not self._private:
            return self._shared
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self.connect()
            with self._lock:
                self._opened.append(conn)
        return conn

    def connect(self) -> Connection:
        """A reader's own connection (a seam for tests that watch the reads)."""
        return db.connect(self._target)

    async def run(self, read: Callable[[Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        # in the request's context, as asyncio.to_thread does: authentication notes the token for the access log
        context = contextvars.copy_context()
        return await loop.run_in_executor(self._pool, context.run, lambda: read(self._connection()))

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        with self._lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()


@dataclass
class Collector:
    """Everything a request handler needs; built and owned by the app."""

    config: Config
    #: the connection the app was opened (and migrated) with; reads go through `read`
    reader: Connection
    writer: Writer
    clock: Callable[[], float] = time.time
    tariffs: TariffBook | None = None
    #: where the store is: a SQLite path or a postgresql:// URL
    target: str = ""
    #: whether this process runs the periodic evaluations and housekeeping (see db.Leadership)
    leader: Leadership | None = None
    housekeeper: Housekeeper | None = None
    readiness: ReadinessSettings = field(default_factory=ReadinessSettings)
    alerting: Alerting | None = None
    readers: Readers | None = None
    #: successful token lookups, kept [server] token_cache_s (see collector.tokens.TokenCache)
    tokens: tokens.TokenCache[Principal] = field(init=False)

    def __post_init__(self) -> None:
        if self.readers is None:
            self.readers = Readers(self.target, self.reader)
        self.tokens = tokens.TokenCache(self.config.server.token_cache_s)

    @functools.cached_property
    def metering(self) -> MeteringSettings:
        # Built once (every report batch uses it): the config never changes while the collector runs.
        return MeteringSettings(limits=self.config.metering.plausibility_limits())

    async def read(self, read: Callable[[Connection], T]) -> T:
        """Run a read of the request path in a reader thread: the event loop
        keeps answering agents while the database works."""
        assert self.readers is not None
        return await self.readers.run(read)

    async def read_off_loop(self, read: Callable[[Connection], T]) -> T:
        """Run a long read (a whole-fleet evaluation) in a worker thread on a
        connection of its own, opened for it, so neither the event loop nor
        the request path's readers wait for it."""

        def run() -> T:
            if not self.target or self.target == ":memory:":
                return read(self.reader)
            conn = db.connect(self.target)
            try:
                return read(conn)
            finally:
                conn.close()

        return await asyncio.to_thread(run)

    def close(self) -> None:
        if self.housekeeper is not None:
            self.housekeeper.stop()
        self.writer.stop()
        if self.readers is not None:
            self.readers.close()
        self.reader.close()
        if self.leader is not None:
            self.leader.close()
