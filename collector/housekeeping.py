"""Hourly housekeeping (retention, rollups, metering points) on a thread and a
database connection of its own.

It used to run inside the writer's thread, between two batches: with 10,000
hosts on PostgreSQL a round took half a minute of round trips, and ingest
stood still meanwhile. Here it runs beside the writer; every step that must
not interleave with a booking is a short write transaction of its own
(`db.begin`), so the writer gets its turn between them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from . import db
from .db import Connection

__all__ = ["Housekeeper"]

log = logging.getLogger("leitstand.collector.housekeeping")


class Housekeeper:
    def __init__(
        self,
        connect: Callable[[], Connection],
        work: Callable[[Connection], None],
        *,
        every_s: float = 3600.0,
        first_after_s: float = 60.0,
    ) -> None:
        self._connect = connect
        self._work = work
        self._every_s = every_s
        self._first_after_s = first_after_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rounds = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="leitstand-housekeeping", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the step in progress (a round is only ever cut between statements)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run_once(self) -> None:
        started = time.perf_counter()
        conn = self._connect()
        try:
            self._work(conn)
            self.rounds += 1
        finally:
            conn.close()
        # beside the writer: when ingest latency rises once an hour, this says whether it was this
        log.info("housekeeping round in %.1f s", time.perf_counter() - started)

    def _run(self) -> None:
        wait = self._first_after_s
        while not self._stop.wait(wait):
            try:
                self.run_once()
            except db.STORAGE_FAILURES as exc:
                # next round tries again; nothing half-done stays behind (each step commits or not)
                log.error("housekeeping failed: %s", exc)
            wait = self._every_s
