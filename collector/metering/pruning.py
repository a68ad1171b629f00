"""Dropping metering points that late data can no longer need (housekeeping)."""

from __future__ import annotations

from collections.abc import Callable

from ..db import Connection, transaction
from ..periodic import no_pause
from .model import Period
from .streams import sql_host_stream, sql_kind

__all__ = ["prune_points"]


def prune_points(
    conn: Connection, *, before: float, keep_from: float | None = None, pause: Callable[[], None] = no_pause
) -> int:
    """Drop metering points older than `before` that late data can no longer need.

    A late host report is stored only if its seq fills a recorded gap, so a
    host point is kept while it is its stream's newest (the baseline of the
    next counter delta) or borders an open gap (the neighbour of a future
    fill). Device readings are ordered by time and any of them may come
    late, so device points are kept from `keep_from`, the oldest `ts` ingest
    accepts (`ingest.max_past_s`; by default the start of the previous month,
    which is also what is kept without it): every reading ingest accepts finds
    its true neighbours. A device stream remembers how far it was pruned.

    `pause` is called before each device stream's transaction, never inside
    one: housekeeping paces its thread there (`periodic.Pacer`).
    """
    device_before = min(before, Period.containing(before).previous().start_ts)
    if keep_from is not None:
        device_before = min(device_before, keep_from)
    # Each step is a write transaction of its own (db.begin): it must not
    # interleave with a booking that reads the same stream's neighbours, and
    # must not hold the writer for the whole round either.
    with transaction(conn):
        deleted = conn.execute(
            f"DELETE FROM meter_points AS m WHERE {sql_kind('host')} AND ts < ? "
            "AND EXISTS (SELECT 1 FROM meter_points n WHERE n.stream = m.stream AND (n.k1, n.k2) > (m.k1, m.k2)) "
            f"AND NOT EXISTS (SELECT 1 FROM gaps g WHERE {sql_host_stream('g.agent_id')} = m.stream AND g.epoch = m.k1 "
            "AND m.k2 BETWEEN g.from_seq - 1 AND g.to_seq + 1)",
            (before,),
        ).rowcount
    streams = [
        s
        for (s,) in conn.execute(
            f"SELECT DISTINCT stream FROM meter_points AS m WHERE {sql_kind('device')} AND ts < ? "
            "AND EXISTS (SELECT 1 FROM meter_points n WHERE n.stream = m.stream AND n.k2 > m.k2)",
            (device_before,),
        )
    ]
    for stream in streams:
        pause()
        with transaction(conn):
            deleted += conn.execute(
                "DELETE FROM meter_points AS m WHERE stream = ? AND ts < ? "
                "AND EXISTS (SELECT 1 FROM meter_points n WHERE n.stream = m.stream AND n.k2 > m.k2)",
                (stream, device_before),
            ).rowcount
            conn.execute(
                "INSERT INTO point_horizons AS h (stream, pruned_before) VALUES (?, ?) "
                "ON CONFLICT (stream) DO UPDATE SET pruned_before = "
                "CASE WHEN excluded.pruned_before > h.pruned_before THEN excluded.pruned_before "
                "ELSE h.pruned_before END",
                (stream, device_before),
            )
    return deleted
