"""What the screens and the command palette may ask of the app that hosts them.

Screens and commands see the app through this protocol, never by importing
``tui.app`` (which imports them): the import-linter layers contract in
pyproject.toml keeps it so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Protocol, cast

from textual.dom import DOMNode

from .model import HostRow
from .source import CollectorSource

__all__ = ["Shell", "shell"]


class Shell(Protocol):
    source: CollectorSource
    clock: Callable[[], float]
    refresh_s: float
    #: text cursors blink (off for deterministic snapshots)
    blink: bool
    #: the fleet as last loaded (hosts view, overview, palette)
    host_rows: list[HostRow]
    connection_error: str | None
    connected: asyncio.Event
    #: the views' names, in the footer's order
    view_names: Sequence[str]

    def report(self, exc: BaseException) -> None: ...

    def reached(self) -> None: ...

    def action_view(self, name: str) -> None: ...

    def action_refresh(self) -> None: ...

    def open_host(self, agent_id: str) -> None: ...


def shell(node: DOMNode) -> Shell:
    """The Leitstand app `node` runs in."""
    return cast(Shell, node.app)
