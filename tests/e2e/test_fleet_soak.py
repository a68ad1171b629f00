"""A tiny soak of the fleet simulator (collector.sim) against a real collector
process: the metering ledger must equal the simulator's ground truth exactly."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

from collector.sim.model import BERLIN
from collector.sim.soak import soak
from collector.sim.truth import CHECKED
from tests.e2e.conftest import CollectorProcess


def _last_weekday_noon() -> float:
    """12:00 Europe/Berlin on the latest weekday in the past, so printers print
    and thin clients have sessions whatever time the test runs at."""
    day = dt.datetime.now(BERLIN).date() - dt.timedelta(days=1)
    while day.weekday() >= 5:
        day -= dt.timedelta(days=1)
    return dt.datetime(day.year, day.month, day.day, 12, tzinfo=BERLIN).timestamp()


def test_tiny_soak_ledger_equals_ground_truth(collector_proc: CollectorProcess) -> None:
    collector_proc.start()
    enroll = [collector_proc.token("enroll", tenant) for tenant in ("stadt-lohne", "gemeinde-dinklage")]
    billing = collector_proc.token("billing")
    now = _last_weekday_noon()
    assert now < time.time()

    result = asyncio.run(
        soak(collector_proc.url, enroll, billing, agents=5, minutes=120, seed=7, batch=15, concurrency=4, now=now)
    )

    assert result.differences == []
    assert result.reports == 5 * 120
    # every checked meter shows up: town-hall printers print at noon, thin clients have sessions
    assert result.meters == set(CHECKED)
    assert "ledger check: OK" in result.render()
