"""Thresholds, `for` durations and disabled rules per tenant, site or host: pure data.

The most specific override that matches an object wins, key by key: host over
site over tenant over the global `[alerts]` tables over the rule's default.
An override matches when every scope key it sets (tenant, site, host) equals
the object's; `host` matches the hostname or the agent id.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field

from .rules import Rule

__all__ = ["Override", "Policy", "Resolved", "Scope"]


@dataclass(frozen=True)
class Scope:
    tenant: str = ""
    site: str = ""
    host: str = ""
    host_id: str = ""


@dataclass(frozen=True)
class Override:
    tenant: str = ""
    site: str = ""
    host: str = ""
    thresholds: Mapping[str, float] = field(default_factory=dict)
    for_s: Mapping[str, float] = field(default_factory=dict)
    disabled: frozenset[str] = frozenset()

    @property
    def specificity(self) -> int:
        return 4 * bool(self.host) + 2 * bool(self.site) + bool(self.tenant)

    def matches(self, scope: Scope) -> bool:
        if self.tenant and self.tenant != scope.tenant:
            return False
        if self.site and self.site != scope.site:
            return False
        return not (self.host and self.host not in (scope.host, scope.host_id))


@dataclass(frozen=True)
class Resolved:
    threshold: float
    for_s: float
    enabled: bool


@dataclass(frozen=True)
class Policy:
    thresholds: Mapping[str, float] = field(default_factory=dict)
    for_s: Mapping[str, float] = field(default_factory=dict)
    disabled: frozenset[str] = frozenset()
    overrides: tuple[Override, ...] = ()

    @functools.cached_property
    def _by_specificity(self) -> tuple[Override, ...]:
        # least specific first, so the most specific one is applied last; ties keep file order (a stable sort)
        return tuple(sorted(self.overrides, key=lambda o: o.specificity))

    def resolve(self, rule: Rule, scope: Scope) -> Resolved:
        if not self.overrides:
            # no overrides: one answer per rule, and a fleet's evaluation asks about 7 times per host
            return self._global(rule)
        threshold = self.thresholds.get(rule.name, rule.threshold)
        for_s = self.for_s.get(rule.name, rule.for_s)
        enabled = rule.name not in self.disabled
        for ov in self._by_specificity:
            if not ov.matches(scope):
                continue
            threshold = ov.thresholds.get(rule.name, threshold)
            for_s = ov.for_s.get(rule.name, for_s)
            if rule.name in ov.disabled:
                enabled = False
        return Resolved(threshold=threshold, for_s=for_s, enabled=enabled)

    def _global(self, rule: Rule) -> Resolved:
        # frozen: the cache lives beside the fields, outside equality and hashing
        cache: dict[tuple[str, float, float], Resolved] = self.__dict__.setdefault("_global_cache", {})
        key = (rule.name, rule.threshold, rule.for_s)
        resolved = cache.get(key)
        if resolved is None:
            resolved = cache[key] = Resolved(
                threshold=self.thresholds.get(rule.name, rule.threshold),
                for_s=self.for_s.get(rule.name, rule.for_s),
                enabled=rule.name not in self.disabled,
            )
        return resolved
