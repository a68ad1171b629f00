"""Snapshots (pytest-textual-snapshot) of every view at 80x24 and 120x40, in
German and English, with the long names of tests/tui/long_names.py.

Deterministic: the collector's and the TUI's clocks are fixed, text cursors do
not blink, live refresh is off, alerts come from the contract fake. Update
after an intended change with `pytest tests/tui/test_snapshots.py --snapshot-update`
and look at the SVGs in tests/tui/__snapshots__/. What the snapshots show is
asserted, not only pictured, in test_layout.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.tui.contract import Routed
from tests.tui.fleet import NOW, Fleet
from tests.tui.long_names import build_long_fleet, long_contract
from tui.app import LeitstandApp, make_app
from tui.source import CollectorSource

#: view → the keys that lead there from the start (the overview)
VIEW_KEYS: dict[str, tuple[str, ...]] = {
    "overview": (),
    "hosts": ("h",),
    "host": ("h", "slash", "l", "o", "h", "n", "e", "enter", "enter"),
    "devices": ("d",),
    "alerts": ("a",),
    "readiness": ("r",),
    "metering": ("m",),
    "runbook": ("a", "b"),
}


@pytest.fixture
def snap_fleet(tmp_path: Path) -> Iterator[Fleet]:
    fleet = asyncio.run(build_long_fleet(tmp_path))
    yield fleet
    fleet.close()


@pytest.fixture
def snap_app(snap_fleet: Fleet) -> Callable[[str], LeitstandApp]:
    def make(lang: str) -> LeitstandApp:
        transport = Routed(snap_fleet.transport(), long_contract().handle)
        source = CollectorSource("http://collector", snap_fleet.admin_token, transport=transport)
        return make_app(source, lang=lang, clock=lambda: NOW, refresh_s=0, blink=False)

    return make


async def _settle(pilot: object) -> None:
    from textual.pilot import Pilot

    assert isinstance(pilot, Pilot)
    for _ in range(3):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()


@pytest.mark.parametrize("lang", ["de", "en"])
@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@pytest.mark.parametrize("view", list(VIEW_KEYS))
def test_view(snap_compare: Callable[..., bool], snap_app: Callable[[str], LeitstandApp], view: str,
              size: tuple[int, int], lang: str) -> None:  # fmt: skip
    async def run_before(pilot: object) -> None:
        from textual.pilot import Pilot

        assert isinstance(pilot, Pilot)
        await _settle(pilot)
        for key in VIEW_KEYS[view]:
            await pilot.press(key)
            await _settle(pilot)

    assert snap_compare(snap_app(lang), terminal_size=size, run_before=run_before)
