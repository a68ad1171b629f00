"""Observations, alerts, transitions and silences: plain frozen data.

An observation is one number about one object for one rule, made by the
gathering step. An alert is one episode of a rule breached for an object:
pending, then firing, then resolved (kept as history). At most one episode
per rule and object is open at a time (deduplication).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from . import regex

__all__ = [
    "Ack",
    "Alert",
    "AlertState",
    "Book",
    "Event",
    "Key",
    "Matcher",
    "Observation",
    "Silence",
    "Transition",
    "alert_id",
    "silencing",
]

AlertState = Literal["pending", "firing", "resolved"]
Event = Literal["pending", "firing", "resolved", "dropped", "flapping", "ack_expired"]
Key = tuple[str, str]  # (rule, object)


@dataclass(frozen=True)
class Observation:
    rule: str
    object: str
    tenant: str
    value: float
    site: str = ""
    host: str = ""
    host_id: str = ""
    #: labels the alert carries (site, host, device, mount, ...), matched by silences
    labels: Mapping[str, str] = field(default_factory=dict)
    #: what the message templates need beyond the labels
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> Key:
        return (self.rule, self.object)


@dataclass(frozen=True)
class Ack:
    by: str
    at: float
    comment: str = ""


@dataclass(frozen=True)
class Alert:
    id: str
    rule: str
    object: str
    tenant: str
    severity: str
    state: AlertState
    labels: Mapping[str, str]
    params: Mapping[str, Any]
    value: float
    threshold: float
    started_at: float
    updated_at: float
    fired_at: float | None = None
    resolved_at: float | None = None
    #: when the condition last stopped holding while the alert kept firing (hold, flapping)
    clear_since: float | None = None
    flapping: bool = False
    #: its firing notification went out (a silenced alert's waits until the silence ends)
    notified: bool = False
    ack: Ack | None = None

    @property
    def key(self) -> Key:
        return (self.rule, self.object)

    @property
    def open(self) -> bool:
        return self.state != "resolved"

    def all_labels(self) -> dict[str, str]:
        """The label set silences match and forwarding sends."""
        return {
            **self.labels,
            "alertname": self.rule,
            "rule": self.rule,
            "severity": self.severity,
            "tenant": self.tenant,
            "object": self.object,
        }


@dataclass(frozen=True)
class Transition:
    alert: Alert
    event: Event


@dataclass(frozen=True)
class Book:
    """What the evaluation needs to remember: open episodes, and when recent
    episodes of each key started firing (flap detection)."""

    open: Mapping[Key, Alert] = field(default_factory=dict)
    recent_fires: Mapping[Key, tuple[float, ...]] = field(default_factory=dict)


def alert_id(rule: str, obj: str, started_at: float) -> str:
    return hashlib.sha256(f"{rule}\0{obj}\0{started_at!r}".encode()).hexdigest()[:16]


# -- silences ---------------------------------------------------------------------


@dataclass(frozen=True)
class Matcher:
    name: str
    value: str
    is_regex: bool = False

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.is_regex:
            # RE2, anchored: linear in the label's length whatever the pattern
            return regex.fullmatch(self.value, actual)
        return actual == self.value


@dataclass(frozen=True)
class Silence:
    id: str
    matchers: tuple[Matcher, ...]
    starts_at: float
    ends_at: float
    created_by: str = ""
    comment: str = ""
    #: set for a silence made with a tenant token: it only ever silences that tenant
    tenant: str | None = None
    created_at: float = 0.0

    def active(self, now: float) -> bool:
        return self.starts_at <= now < self.ends_at

    def state(self, now: float) -> str:
        if now < self.starts_at:
            return "pending"
        return "active" if now < self.ends_at else "expired"

    def silences(self, labels: Mapping[str, str], now: float) -> bool:
        if not self.active(now):
            return False
        if self.tenant is not None and labels.get("tenant") != self.tenant:
            return False
        return all(m.matches(labels) for m in self.matchers)


def silencing(labels: Mapping[str, str], silences: tuple[Silence, ...] | list[Silence], now: float) -> Silence | None:
    """The active silence that covers these labels (the one ending last), if any."""
    found = [s for s in silences if s.silences(labels, now)]
    return max(found, key=lambda s: (s.ends_at, s.id)) if found else None
