"""How often each host sends, as the collector observes it, computed from
the store alone: the same store and clock give the same numbers on a
collector that just started, one that has run for months, and every
collector sharing a PostgreSQL database.

A host's estimate is the mean gap between the distinct arrival times of its
reports in the last ``SEND_WINDOW_S``; a host without two arrivals there
(offline, or the collector was down) gets the median gap between the
arrivals of its last ``FALLBACK_REPORTS`` reports; a host without two
arrivals at all gets 0 (the caller then uses its sample interval).

Both are set-based: one query over the window for all hosts, and one
query per ``CHUNK`` hosts for those the window leaves out. At 10,000 hosts
a round trip per host made the first scrape after a start several seconds
slower than the next (issue 18). What to keep, and for how long, is the
caller's (hosts.py).
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Iterable, Sequence

from ..db import Connection

__all__ = ["FALLBACK_REPORTS", "SEND_WINDOW_S", "last_reports", "window"]

#: arrivals of this window estimate each host's send interval ...
SEND_WINDOW_S = 900.0
#: ... else the arrivals of its last reports
FALLBACK_REPORTS = 40
#: hosts per fallback query (SQLite allows 32,766 parameters, older builds 999)
CHUNK = 500

_WINDOW = (
    "SELECT agent_id, count(*), max(received_at) - min(received_at) FROM "
    "(SELECT DISTINCT agent_id, received_at FROM samples WHERE received_at >= ?) AS arrivals "
    "GROUP BY agent_id"
)
# The arrival times of each host's last reports: the ts of its FALLBACK_REPORTS-th
# newest report (one index seek per host, inside the database) bounds a range
# scan of samples_agent_ts; a host with fewer reports reads them all. MATERIALIZED:
# flattened, the seek would run again for every sample row.
_LAST = (
    "WITH f AS MATERIALIZED (SELECT h.agent_id, coalesce((SELECT x.ts FROM samples x WHERE x.agent_id = h.agent_id "
    f"ORDER BY x.ts DESC LIMIT 1 OFFSET {FALLBACK_REPORTS - 1}), -1e308) AS since FROM hosts h "
    "WHERE h.agent_id IN ({agents})) "
    "SELECT s.agent_id, s.received_at FROM f JOIN samples s ON s.agent_id = f.agent_id AND s.ts >= f.since"
)


def _in(agents: Sequence[str]) -> str:
    return ",".join("?" * len(agents))


def _chunks(agents: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(agents), CHUNK):
        yield agents[start : start + CHUNK]


def window(conn: Connection, now: float) -> dict[str, float]:
    """Mean gap between the distinct arrival times of each host with two or
    more arrivals in the last ``SEND_WINDOW_S``, one query for all hosts."""
    found: dict[str, float] = {}
    for agent_id, arrivals, span in conn.execute(_WINDOW, (now - SEND_WINDOW_S,)).fetchall():
        if arrivals >= 2 and span > 0:
            found[agent_id] = span / (arrivals - 1)
    return found


def last_reports(conn: Connection, agents: Sequence[str]) -> dict[str, float]:
    """Median gap between the distinct arrival times of each host's last
    ``FALLBACK_REPORTS`` reports, 0 without two; one query per ``CHUNK`` hosts."""
    arrivals: dict[str, set[float]] = {a: set() for a in agents}
    for chunk in _chunks(agents):
        for agent_id, received_at in conn.execute(_LAST.format(agents=_in(chunk)), tuple(chunk)).fetchall():
            arrivals[agent_id].add(received_at)
    found: dict[str, float] = {}
    for agent_id, times in arrivals.items():
        gaps = [b - a for a, b in itertools.pairwise(sorted(times)) if b - a > 0]
        found[agent_id] = statistics.median(gaps) if gaps else 0.0
    return found
