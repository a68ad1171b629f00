"""Messages the TUI's widgets and screens exchange."""

from __future__ import annotations

from textual.message import Message

__all__ = ["OpenHost", "OpenRunbook"]


class OpenHost(Message):
    """Open a host's detail view (from the palette, the hosts table, an alert)."""

    def __init__(self, agent_id: str) -> None:
        self.agent_id = agent_id
        super().__init__()


class OpenRunbook(Message):
    """Show a runbook inside the TUI."""

    def __init__(self, name: str, url: str | None = None) -> None:
        self.name = name
        self.url = url
        super().__init__()
