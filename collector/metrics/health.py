"""The collector's own ingest and storage health: writer queue, commits,
last error, database size, and how long this scrape took."""

from __future__ import annotations

import os
from collections.abc import Iterator

from .. import __version__, db
from .source import Family, Source, counter, gauge

__all__ = ["health_families", "scrape_duration"]


def _db_bytes(path: str | None) -> float | None:
    if not path:
        return None
    total = 0
    for suffix in ("", "-wal", "-shm"):
        try:
            total += os.stat(path + suffix).st_size
        except OSError:
            if not suffix:
                return None
    return float(total)


def health_families(src: Source) -> Iterator[Family]:
    info = gauge("leitstand_collector_info", "Collector version; always 1.", ["version"])
    info.add_metric([__version__], 1.0)
    yield info
    if src.writer is not None:
        w = src.writer
        yield gauge(
            "leitstand_collector_writer_queue_depth", "Ingest jobs waiting for the single writer.", value=w.depth
        )
        yield counter("leitstand_collector_writer_commits_total", "Transactions the writer committed.", value=w.commits)
        yield counter(
            "leitstand_collector_writer_jobs_total", "Jobs the writer ran (reports, enrollments, ...).", value=w.jobs
        )
        yield gauge(
            "leitstand_collector_writer_last_commit_failed",
            "1 if the writer's last commit failed (see /healthz for the error), else 0.",
            value=1.0 if w.last_error else 0.0,
        )
    size = _db_bytes(src.db_path) if src.db_path else _server_db_bytes(src)
    if size is not None:
        yield gauge(
            "leitstand_collector_database_size_bytes",
            "The database: SQLite file with its WAL, or pg_database_size on PostgreSQL.",
            value=size,
        )


def _server_db_bytes(src: Source) -> float | None:
    if db.dialect(src.conn) != "postgres":
        return None
    row = src.conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return float(row[0]) if row else None


def scrape_duration(seconds: float) -> Family:
    return gauge(
        "leitstand_collector_scrape_duration_seconds",
        "Time this scrape took to compute, before encoding.",
        value=seconds,
    )
