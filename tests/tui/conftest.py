"""Fixtures of the TUI tests: the real collector app with a realistic fleet,
the TUI's source on top of it (in process, no socket), and helpers to let the
app settle without sleeping."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio
from textual.pilot import Pilot

from tests.tui.contract import AlertsContract, Routed, Switchable
from tests.tui.fleet import NOW, Fleet, build_fleet
from tui.app import LeitstandApp, make_app
from tui.source import CollectorSource


@pytest_asyncio.fixture
async def fleet(tmp_path: Path) -> AsyncIterator[Fleet]:
    f = await build_fleet(tmp_path)
    yield f
    f.close()


@pytest.fixture
def contract() -> AlertsContract:
    return AlertsContract()


@pytest.fixture
def make_tui(fleet: Fleet, contract: AlertsContract) -> Callable[..., tuple[LeitstandApp, Switchable]]:
    """The TUI against the real collector; alerts, silences and runbooks from the
    contract fake until collector/alerting/ serves them (see contract.py)."""

    def make(lang: str = "en", *, route_alerts: bool = True) -> tuple[LeitstandApp, Switchable]:
        real = fleet.transport()
        inner = Routed(real, contract.handle) if route_alerts else real
        switch = Switchable(inner)
        source = CollectorSource("http://collector", fleet.admin_token, transport=switch)
        app = make_app(source, lang=lang, clock=lambda: NOW, refresh_s=0, retry_s=(0.05,), blink=False)
        return app, switch

    return make


async def settle(pilot: Pilot[None]) -> None:
    """Let pending messages, workers and their follow-ups run to completion."""
    for _ in range(3):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()
