"""When each host's reports arrived: the median gap between the distinct
arrival times of its last ``LAST_REPORTS`` reports, for many hosts in one
query per ``CHUNK``.

Shared by /metrics (collector.metrics.send_intervals: the send interval of a
host the window leaves out) and the alert evaluation (collector.alerting.gather:
how many sends a silent host missed), so both read a host's sending alike. A
module of its own: the two packages import each other's names, and neither
package's import should pull in the other's.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Iterable, Sequence
from typing import TypeVar

from .db import Connection

__all__ = ["CHUNK", "LAST_REPORTS", "chunks", "last_reports"]

T = TypeVar("T")

#: how many of a host's newest reports (by ts) estimate its send interval
LAST_REPORTS = 40
#: hosts per query (SQLite allows 32,766 parameters, older builds 999)
CHUNK = 500

# The arrival times of each host's last reports: the ts of its LAST_REPORTS-th
# newest report (one index seek per host, inside the database) bounds a range
# scan of samples_agent_ts; a host with fewer reports reads them all. MATERIALIZED:
# flattened, the seek would run again for every sample row.
#
# Reports that share the bounding ts are all read, so a host can give more
# than LAST_REPORTS rows. That only happens when two reports of a host carry
# the same ts at exactly that position (an agent reset that restarted seq at
# the same second, a clock stepped back); "ORDER BY ts DESC LIMIT n" would
# then take some of them, which ones up to the query plan, so the estimate
# could differ between backends and between runs. Taking all of them gives
# one answer everywhere, and a gap or two more among about 40 moves a median
# little, if at all.
_LAST = (
    "WITH f AS MATERIALIZED (SELECT h.agent_id, coalesce((SELECT x.ts FROM samples x WHERE x.agent_id = h.agent_id "
    f"ORDER BY x.ts DESC LIMIT 1 OFFSET {LAST_REPORTS - 1}), -1e308) AS since FROM hosts h "
    "WHERE h.agent_id IN ({agents})) "
    "SELECT s.agent_id, s.received_at FROM f JOIN samples s ON s.agent_id = f.agent_id AND s.ts >= f.since"
)


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def last_reports(conn: Connection, agents: Sequence[str]) -> dict[str, float]:
    """Median gap between the distinct arrival times of each host's last
    ``LAST_REPORTS`` reports, 0 without two; one query per ``CHUNK`` hosts.
    Every agent asked for gets a value; one not in ``hosts`` gets 0."""
    arrivals: dict[str, set[float]] = {a: set() for a in agents}
    for chunk in chunks(agents):
        sql = _LAST.format(agents=",".join("?" * len(chunk)))
        for agent_id, received_at in conn.execute(sql, tuple(chunk)).fetchall():
            arrivals[agent_id].add(received_at)
    found: dict[str, float] = {}
    for agent_id, times in arrivals.items():
        gaps = [b - a for a, b in itertools.pairwise(sorted(times)) if b - a > 0]
        found[agent_id] = statistics.median(gaps) if gaps else 0.0
    return found
