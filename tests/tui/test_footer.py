"""The footer's order (tui/widgets/footer.py): quit and help first, whatever the bindings' order."""

from __future__ import annotations

from textual.binding import Binding

from tui.widgets.footer import footer_order


def test_quit_and_help_first_then_the_views_own_keys_then_the_views_then_the_rest() -> None:
    bindings = [
        (Binding("o", "view('overview')", "Übersicht"), True, False),
        (Binding("h", "view('hosts')", "Hosts"), True, False),
        (Binding("f5", "refresh", "Neu laden"), True, False),
        (Binding("q", "quit", "Beenden"), True, False),
        (Binding("question_mark", "help", "Hilfe"), True, False),
        (Binding("ctrl+p", "command_palette", "Befehle"), True, False),
        (Binding("k", "ack", "Quittieren"), False, True),
        (Binding("enter", "select", "Öffnen"), True, True),
        (Binding("ctrl+r", "refresh", "Neu laden"), True, False),  # the same action once
    ]
    order = [(b.key, enabled) for b, enabled in footer_order(bindings)]
    assert order == [
        ("q", True),
        ("question_mark", True),
        ("k", False),
        ("enter", True),
        ("o", True),
        ("h", True),
        ("f5", True),
        ("ctrl+p", True),
    ]
