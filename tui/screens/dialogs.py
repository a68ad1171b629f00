"""Modal dialogs for the actions that write: acknowledge, silence, confirm."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Static

from ..i18n import t
from ..model import alert_object, parse_duration
from ..safe_text import clean, text, tr
from ..shell import shell
from .base import Dialog

__all__ = ["AckDialog", "ConfirmDialog", "SilenceDialog", "SilenceRequest"]


@dataclass(frozen=True)
class SilenceRequest:
    seconds: float
    comment: str


class _Form(Dialog):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "dlg.cancel")]

    def buttons(self) -> ComposeResult:
        with Horizontal(classes="buttons"):
            yield Button(t("dlg.confirm"), variant="primary", id="confirm")
            yield Button(t("dlg.cancel"), id="cancel")

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    def on_mount(self) -> None:
        if not shell(self).blink:
            for field in self.query(Input):
                field.cursor_blink = False


class AckDialog(_Form):
    """Returns the comment, or None when cancelled."""

    def __init__(self, alert: Mapping[str, Any]) -> None:
        super().__init__()
        self.alert = alert

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(
                tr("al.ack.title", rule=self.alert.get("rule"), object=alert_object(self.alert)),
                classes="title",
                markup=False,
            )
            yield Input(placeholder=t("al.ack.comment"), id="comment")
            yield Static("", id="form-error", classes="error", markup=False)
            yield from self.buttons()

    @on(Input.Submitted)
    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        comment = self.query_one("#comment", Input).value.strip()
        if not comment:
            self.query_one("#form-error", Static).update(t("dlg.comment_required"))
            return
        self.dismiss(comment)


class SilenceDialog(_Form):
    """Returns a SilenceRequest, or None when cancelled."""

    def __init__(self, alert: Mapping[str, Any], matchers: Sequence[Mapping[str, Any]]) -> None:
        super().__init__()
        self.alert = alert
        self.matchers = matchers

    def compose(self) -> ComposeResult:
        shown = ", ".join(f"{clean(m['name'])}={clean(m['value'])}" for m in self.matchers)
        with Vertical(classes="dialog"):
            yield Label(
                tr("al.silence.title", rule=self.alert.get("rule"), object=alert_object(self.alert)),
                classes="title",
                markup=False,
            )
            yield Static(tr("al.silence.matchers", matchers=shown), classes="matchers", markup=False)
            yield Input(value="2h", placeholder=t("al.silence.duration"), id="duration")
            yield Input(placeholder=t("al.ack.comment"), id="comment")
            yield Static("", id="form-error", classes="error", markup=False)
            yield from self.buttons()

    @on(Input.Submitted)
    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        raw = self.query_one("#duration", Input).value
        seconds = parse_duration(raw)
        error = self.query_one("#form-error", Static)
        if seconds is None:
            error.update(tr("al.silence.bad_duration", value=raw))
            return
        comment = self.query_one("#comment", Input).value.strip()
        if not comment:
            error.update(t("dlg.comment_required"))
            return
        self.dismiss(SilenceRequest(seconds, comment))


class ConfirmDialog(_Form):
    """Returns True, or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "confirm", "dlg.confirm")]

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(text(self.message), classes="title", markup=False)
            yield from self.buttons()

    @on(Button.Pressed, "#confirm")
    def action_confirm(self) -> None:
        self.dismiss(True)
