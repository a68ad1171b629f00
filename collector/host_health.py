"""What an agent tells about itself besides its reports: unknown fields it
sent (a newer agent, or a misspelled field that would lose billable data) and
reports it had to dead-letter. Kept per host, shown in its detail and in
/metrics, so nothing an agent sends is ignored without a trace."""

from __future__ import annotations

import json
import logging
import threading

from .db import Connection

__all__ = ["UnknownFieldWarnings", "host_health", "record_unknown_fields"]

log = logging.getLogger("leitstand.collector.ingest")

#: unknown paths remembered per host (the newest batch's, up to this many)
_KEEP = 50


def record_unknown_fields(conn: Connection, agent_id: str, paths: tuple[str, ...]) -> None:
    """Count a batch with unknown fields and remember its paths (inside the ingest job)."""
    conn.execute(
        "UPDATE hosts SET unknown_fields_total = unknown_fields_total + 1, unknown_fields = ? WHERE agent_id = ?",
        (json.dumps(sorted(paths)[:_KEEP]), agent_id),
    )


def host_health(conn: Connection, agent_id: str) -> dict[str, object]:
    row = conn.execute(
        "SELECT unknown_fields, unknown_fields_total, dead_letters FROM hosts WHERE agent_id = ?", (agent_id,)
    ).fetchone()
    if row is None:
        return {}
    return {"unknown_fields": json.loads(row[0]), "unknown_fields_batches": row[1], "dead_letters": row[2]}


class UnknownFieldWarnings:
    """Warns once per agent, agent version and set of paths, not once per batch:
    an agent reporting every 15 s would otherwise flood the log. Bounded, so a
    hostile agent cycling versions cannot grow it without limit."""

    def __init__(self, limit: int = 10_000) -> None:
        self._seen: set[tuple[str, str, tuple[str, ...]]] = set()
        self._limit = limit
        self._lock = threading.Lock()

    def warn(self, agent_id: str, tenant: str | None, version: str, paths: tuple[str, ...]) -> None:
        key = (agent_id, version, paths)
        with self._lock:
            if key in self._seen:
                return
            if len(self._seen) >= self._limit:
                self._seen.clear()
            self._seen.add(key)
        log.warning(
            "agent %s (tenant %s, version %r) sent fields this collector does not know, ignored: %s",
            agent_id,
            tenant,
            version,
            ", ".join(paths),
        )
