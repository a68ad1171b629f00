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

from ..arrivals import CHUNK, last_reports
from ..arrivals import LAST_REPORTS as FALLBACK_REPORTS
from ..db import Connection

__all__ = ["CHUNK", "FALLBACK_REPORTS", "SEND_WINDOW_S", "last_reports", "window"]

#: arrivals of this window estimate each host's send interval ...
SEND_WINDOW_S = 900.0
#: ... else the arrivals of its last FALLBACK_REPORTS reports (collector.arrivals, which the
#: alert evaluation shares), CHUNK hosts per query

_WINDOW = (
    "SELECT agent_id, count(*), max(received_at) - min(received_at) FROM "
    "(SELECT DISTINCT agent_id, received_at FROM samples WHERE received_at >= ?) AS arrivals "
    "GROUP BY agent_id"
)


def window(conn: Connection, now: float) -> dict[str, float]:
    """Mean gap between the distinct arrival times of each host with two or
    more arrivals in the last ``SEND_WINDOW_S``, one query for all hosts."""
    found: dict[str, float] = {}
    for agent_id, arrivals, span in conn.execute(_WINDOW, (now - SEND_WINDOW_S,)).fetchall():
        if arrivals >= 2 and span > 0:
            found[agent_id] = span / (arrivals - 1)
    return found
