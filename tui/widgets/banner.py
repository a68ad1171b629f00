"""The banner that says the collector is gone, and that the TUI keeps trying."""

from __future__ import annotations

from typing import Any

from textual.widgets import Static

from ..safe_text import text

__all__ = ["ConnectionBanner"]


class ConnectionBanner(Static):
    """Hidden while the collector answers; follows the app's `connection_error`."""

    DEFAULT_CSS = """
    ConnectionBanner { display: none; background: $error; color: $text; padding: 0 1; height: auto; }
    ConnectionBanner.-lost { display: block; }
    """

    def __init__(self) -> None:
        super().__init__(markup=False)

    def on_mount(self) -> None:
        self.watch(self.app, "connection_error", self._changed)

    def _changed(self, error: Any) -> None:
        self.set_class(bool(error), "-lost")
        self.update(text(error or ""))
