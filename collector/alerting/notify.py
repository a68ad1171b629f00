"""Which notifications an evaluation causes: pure, given the outcome, the
silences and the configured targets. Delivery is ``forward.py``.

- a firing episode is announced once, when it fires; if a silence covers it
  then, it is announced when the silence ends (if it still fires);
- a resolved episode is announced only if its firing was;
- an acknowledgement that lapsed (``ack_expiry_s``) announces the alert again.

A restarted collector loads the episodes with their `notified` flag, so
nothing is announced twice.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .evaluate import Outcome
from .model import Alert, Silence, silencing

__all__ = ["Notification", "plan"]


@dataclass(frozen=True)
class Notification:
    alert: Alert
    target: str
    event: Literal["firing", "resolved"]


def plan(
    outcome: Outcome, silences: Sequence[Silence], targets: Sequence[str], now: float
) -> tuple[tuple[Alert, ...], tuple[Notification, ...]]:
    """The outcome's alerts with `notified` updated, and the notifications to send."""
    lapsed = {t.alert.id for t in outcome.transitions if t.event == "ack_expired"}
    alerts: list[Alert] = []
    out: list[Notification] = []
    for alert in outcome.alerts:
        silenced = silencing(alert.all_labels(), list(silences), now) is not None
        if alert.state == "firing" and not silenced and (not alert.notified or alert.id in lapsed):
            out += [Notification(alert, t, "firing") for t in targets]
            alert = dataclasses.replace(alert, notified=True)
        elif alert.state == "resolved" and alert.notified and alert.resolved_at == now:
            out += [Notification(alert, t, "resolved") for t in targets]
        alerts.append(alert)
    return tuple(alerts), tuple(out)
