"""The footer: quit and help first, so an 80-column terminal shows them too.

Textual's footer lists the keys in binding order and docks the command
palette's key on the right, and cuts whatever does not fit at the end: at 80
columns the quit key was never seen. This one shows, in this order: quit,
help, the current view's own keys, the views, the rest; the palette key is one
of the rest (the app binds it itself, to name it in the UI language).
"""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

__all__ = ["FIRST", "KeyFooter", "footer_order"]

#: actions the footer shows first, in this order
FIRST = ("quit", "help")


def _rank(action: str, own: bool) -> int:
    if action in FIRST:
        return FIRST.index(action)
    if own:
        return len(FIRST)
    if action.startswith("view("):
        return len(FIRST) + 1
    return len(FIRST) + 2


def footer_order(bindings: Iterable[tuple[Binding, bool, bool]]) -> list[tuple[Binding, bool]]:
    """(binding, enabled) in the footer's order, one per action; the input's flag
    `own` says the binding belongs to the screen or its widgets, not the app."""
    seen: set[str] = set()
    items: list[tuple[int, int, Binding, bool]] = []
    for i, (binding, enabled, own) in enumerate(bindings):
        if binding.action in seen:
            continue
        seen.add(binding.action)
        items.append((_rank(binding.action, own), i, binding, enabled))
    return [(b, enabled) for _, _, b, enabled in sorted(items, key=lambda x: (x[0], x[1]))]


class KeyFooter(Footer):
    def __init__(self) -> None:
        super().__init__(compact=True, show_command_palette=False)

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        app = self.app
        shown = [
            (binding, enabled, node is not app)
            for node, binding, enabled, _ in self.screen.active_bindings.values()
            if binding.show
        ]
        for binding, enabled in footer_order(shown):
            yield FooterKey(
                binding.key,
                app.get_key_display(binding),
                binding.description,
                binding.action,
                disabled=not enabled,
                tooltip=binding.tooltip or binding.description,
            ).data_bind(compact=Footer.compact)
