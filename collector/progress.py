"""Progress lines of long CLI jobs (closing or exporting every tenant's month).

One line per step on stderr, so stdout stays the job's output (an export
piped into a file). Quiet when stderr is not a terminal (cron, CI, a pipe
into a log) or with ``--quiet``: progress is for the person watching.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    def __init__(
        self,
        job: str,
        total: int,
        *,
        quiet: bool = False,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.job = job
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = not quiet and self.stream.isatty()
        self._clock = clock
        self._started = clock()
        self._done = 0

    def step(self, what: str) -> None:
        """Say that the next step (`what`, e.g. a tenant) starts now."""
        self._done += 1
        if self.enabled:
            elapsed = self._clock() - self._started
            width = len(str(self.total))
            print(f"[{self._done:>{width}}/{self.total}] {self.job}: {what} ({elapsed:.0f} s)", file=self.stream)
            self.stream.flush()
