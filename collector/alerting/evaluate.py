"""Alert evaluation: a pure function of rules, observations, the previous
state and the time. No I/O; sending is a separate step (``notify.py``,
``forward.py``).

Per rule and object (deduplicated: several observations of one key count as
the one furthest into breach):

- breached, nothing open: a new episode starts ``pending`` (``firing`` at
  once when the rule's ``for`` is 0);
- breached, pending for at least ``for``: ``firing``;
- not breached (or no longer observed), pending: the episode is dropped;
- not breached, firing: ``resolved`` once the condition has stayed clear for
  the hold time (the rule's ``keep_firing_for_s``, or ``flap_hold_s`` while
  the alert is flapping). Resolved episodes are kept as history.

Flapping is damped: an episode that starts firing while ``flap_threshold - 1``
earlier episodes of the same key fired within ``flap_window_s`` is marked
flapping and held firing until its condition has been clear for
``flap_hold_s``, so a condition toggling every minute costs a few
notifications, not one per toggle.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from .model import Alert, Book, Key, Observation, Transition, alert_id
from .policy import Policy, Scope
from .rules import Rule

__all__ = ["EvalSettings", "Outcome", "evaluate"]


@dataclass(frozen=True)
class EvalSettings:
    flap_window_s: float = 3600.0
    #: episodes firing within the window (this one included) that make it flapping
    flap_threshold: int = 3
    flap_hold_s: float = 1800.0
    #: an acknowledgement lapses after this long while the alert still fires (0: never)
    ack_expiry_s: float = 0.0


@dataclass(frozen=True)
class Outcome:
    #: open episodes after this evaluation, and the ones it resolved
    alerts: tuple[Alert, ...]
    transitions: tuple[Transition, ...]
    #: ids of pending episodes whose condition cleared before `for` (not kept)
    dropped: tuple[str, ...]

    @property
    def open(self) -> dict[Key, Alert]:
        return {a.key: a for a in self.alerts if a.open}


def _dedup(rules: Mapping[str, Rule], observations: Iterable[Observation]) -> dict[Key, Observation]:
    out: dict[Key, Observation] = {}
    for ob in observations:
        rule = rules.get(ob.rule)
        if rule is None:
            continue
        seen = out.get(ob.key)
        if seen is None or rule.worse(seen.value, ob.value) == ob.value != seen.value:
            out[ob.key] = ob
    return out


def evaluate(
    rules: Mapping[str, Rule],
    observations: Iterable[Observation],
    book: Book,
    policy: Policy,
    settings: EvalSettings,
    now: float,
    pause: Callable[[], None] | None = None,
) -> Outcome:
    """`pause`, when given, is called before each key: the collector paces a
    fleet-wide evaluation in its worker thread there (`periodic.Pacer`)."""
    observed = _dedup(rules, observations)
    alerts: list[Alert] = []
    transitions: list[Transition] = []
    dropped: list[str] = []

    def emit(alert: Alert, event: str) -> None:
        transitions.append(Transition(alert, event))  # type: ignore[arg-type]

    for key in sorted(set(observed) | set(book.open)):
        if pause is not None:
            pause()
        ob = observed.get(key)
        prev = book.open.get(key)
        rule = rules.get(key[0])
        if rule is None:  # a rule that no longer exists: close its episodes
            if prev is not None:
                done = dataclasses.replace(prev, state="resolved", resolved_at=now, updated_at=now)
                alerts.append(done)
                if prev.state == "firing":
                    emit(done, "resolved")
                else:
                    dropped.append(prev.id)
            continue
        breached = False
        for_s = rule.for_s
        threshold = prev.threshold if prev is not None else rule.threshold
        if ob is not None:
            resolved = policy.resolve(rule, Scope(ob.tenant, ob.site, ob.host, ob.host_id))
            threshold, for_s = resolved.threshold, resolved.for_s
            breached = resolved.enabled and rule.breached(ob.value, threshold)
        if breached:
            assert ob is not None
            if prev is None:
                alert = Alert(
                    id=alert_id(rule.name, ob.object, now),
                    rule=rule.name,
                    object=ob.object,
                    tenant=ob.tenant,
                    severity=rule.severity,
                    state="pending",
                    labels=dict(ob.labels),
                    params=dict(ob.params),
                    value=ob.value,
                    threshold=threshold,
                    started_at=now,
                    updated_at=now,
                )
                if for_s <= 0:
                    alert = _fire(alert, book, settings, now)
                    emit(alert, "firing")
                else:
                    emit(alert, "pending")
                alerts.append(alert)
                continue
            alert = dataclasses.replace(
                prev,
                labels=dict(ob.labels),
                params=dict(ob.params),
                value=ob.value,
                threshold=threshold,
                updated_at=now,
                clear_since=None,
                tenant=ob.tenant,
            )
            if alert.state == "pending" and now - alert.started_at >= for_s:
                alert = _fire(alert, book, settings, now)
                emit(alert, "firing")
            elif alert.state == "firing":
                alert = _ack_expiry(alert, settings, now, emit)
            alerts.append(alert)
            continue
        # not breached, or not observed any more
        if prev is None:
            continue
        if prev.state == "pending":
            dropped.append(prev.id)
            emit(dataclasses.replace(prev, updated_at=now), "dropped")
            continue
        clear_since = prev.clear_since if prev.clear_since is not None else now
        hold = settings.flap_hold_s if prev.flapping else rule.keep_firing_for_s
        if ob is not None:
            prev = dataclasses.replace(prev, value=ob.value, params=dict(ob.params), labels=dict(ob.labels))
        if now - clear_since >= hold:
            done = dataclasses.replace(prev, state="resolved", resolved_at=now, updated_at=now, clear_since=clear_since)
            alerts.append(done)
            emit(done, "resolved")
        else:
            alerts.append(dataclasses.replace(prev, clear_since=clear_since, updated_at=now))
    return Outcome(alerts=tuple(alerts), transitions=tuple(transitions), dropped=tuple(dropped))


def _fire(alert: Alert, book: Book, settings: EvalSettings, now: float) -> Alert:
    earlier = [t for t in book.recent_fires.get(alert.key, ()) if now - t < settings.flap_window_s]
    flapping = len(earlier) + 1 >= settings.flap_threshold
    return dataclasses.replace(alert, state="firing", fired_at=now, updated_at=now, flapping=flapping)


def _ack_expiry(alert: Alert, settings: EvalSettings, now: float, emit: object) -> Alert:
    if alert.ack is None or settings.ack_expiry_s <= 0 or now - alert.ack.at < settings.ack_expiry_s:
        return alert
    lapsed = dataclasses.replace(alert, ack=None)
    emit(lapsed, "ack_expired")  # type: ignore[operator]
    return lapsed
