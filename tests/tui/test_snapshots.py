"""Snapshots (pytest-textual-snapshot) of the main views at 80x24 and 120x40.

Deterministic: the collector's and the TUI's clocks are fixed, text cursors do
not blink, live refresh is off, alerts come from the contract fake. Update
after an intended change with `pytest tests/tui/test_snapshots.py --snapshot-update`
and look at the SVGs in tests/tui/__snapshots__/.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.tui.contract import AlertsContract, Routed
from tests.tui.fleet import NOW, Fleet, build_fleet
from tui.app import LeitstandApp, make_app
from tui.source import CollectorSource


@pytest.fixture
def snap_fleet(tmp_path: Path) -> Iterator[Fleet]:
    fleet = asyncio.run(build_fleet(tmp_path))
    yield fleet
    fleet.close()


@pytest.fixture
def snap_app(snap_fleet: Fleet) -> Callable[[], LeitstandApp]:
    def make() -> LeitstandApp:
        transport = Routed(snap_fleet.transport(), AlertsContract().handle)
        source = CollectorSource("http://collector", snap_fleet.admin_token, transport=transport)
        return make_app(source, lang="de", clock=lambda: NOW, refresh_s=0, blink=False)

    return make


async def _settle(pilot: object) -> None:
    from textual.pilot import Pilot

    assert isinstance(pilot, Pilot)
    for _ in range(3):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@pytest.mark.parametrize("keys", [(), ("h",), ("a",), ("h", "slash", "l", "o", "h", "n", "e", "enter", "enter")],
                         ids=["overview", "hosts", "alerts", "host"])  # fmt: skip
def test_main_views(snap_compare: Callable[..., bool], snap_app: Callable[[], LeitstandApp], size: tuple[int, int],
                    keys: tuple[str, ...]) -> None:  # fmt: skip
    async def run_before(pilot: object) -> None:
        from textual.pilot import Pilot

        assert isinstance(pilot, Pilot)
        await _settle(pilot)
        for key in keys:
            await pilot.press(key)
            await _settle(pilot)

    assert snap_compare(snap_app(), terminal_size=size, run_before=run_before)
