"""Times as the CLIs print them: local time of the machine, always with its zone.

`2026-12-04 18:17 UTC` on a server that runs in UTC, `2026-12-04 19:17 CET`
on one in Europe/Berlin: a time without a zone is read as the reader's own
and is an hour off half the year.
"""

from __future__ import annotations

import time

__all__ = ["when"]


def when(ts: object) -> str:
    """A timestamp (seconds since the epoch) as `YYYY-MM-DD HH:MM ZONE`; `-` for none."""
    if not isinstance(ts, int | float) or isinstance(ts, bool) or not ts:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M %Z", time.localtime(ts))
