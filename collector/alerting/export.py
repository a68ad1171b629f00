"""`leitstand-collector rules export`: the built-in rules as a Prometheus
alerting rule file, for sites that alert from Prometheus instead.

Same names, severities, thresholds, `for` and runbook links as the
collector's own evaluation, over the series in ``metric_names``; each
expression's value is the number the collector compares (hours until a disk
is full, not bytes), so the texts name its unit. Texts are in ``alerts.lang``
with numbers written as that language does. An override
for a tenant, site or host becomes its own rule with label matchers on the
series; the general rule excludes the overridden scopes with negative
matchers. The file is YAML written by hand (JSON-quoted strings), so the
collector needs no YAML library; ``promtool check rules`` accepts it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from .config import Settings
from .policy import Override
from .rules import RULES, Rule, number, unit_label

__all__ = ["prometheus_rules"]

_METRIC = re.compile(r"\b(leitstand_[a-z_]+)(\{[^}]*\})?(?!\s*\()")
_DURATIONS = {"delay", "runtime"}
_LABEL_FIELDS = {"host", "site", "tenant", "device", "mount", "supply", "interface", "app", "agent_id", "role"}


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _selector(expr: str, matchers: Sequence[str]) -> str:
    """Add label matchers to every series selector of a PromQL expression."""
    if not matchers:
        return expr

    def add(m: re.Match[str]) -> str:
        inner = (m.group(2) or "{}")[1:-1]
        parts = [p for p in (inner, *matchers) if p]
        return f"{m.group(1)}{{{', '.join(parts)}}}"

    return _METRIC.sub(add, expr)


#: decimals of $value in a description, by the rule's unit (counts are whole numbers)
_PRECISION = {"%": 1, "h": 1, "intervals": 1}
_COUNTS = {"gaps", "errors", "entries"}
_THRESHOLD = {"de": "Schwelle", "en": "threshold"}
_ELSEWHERE = {"de": "(siehe Leitstand)", "en": "(see Leitstand)"}


def _value(lang: str, decimals: int) -> str:
    """$value as the language writes numbers: Go's printf knows no locale, so German swaps the point."""
    comma = ' | reReplaceAll "\\\\." ","' if lang == "de" else ""
    return "{{ " + f'printf "%.{decimals}f" $value' + comma + " }}"


def _promql_template(template: str, lang: str) -> str:
    """A rule's text template for Prometheus: labels from $labels, the value from $value."""

    def field(m: re.Match[str]) -> str:
        name, spec = m.group(1), m.group(2) or ""
        if name in _LABEL_FIELDS:
            return "{{ $labels." + name + " }}"
        if name == "value":
            decimals = re.search(r"\.(\d+)f", spec)
            return _value(lang, int(decimals.group(1)) if decimals else 1)
        if name in _DURATIONS:
            return "{{ $value | humanizeDuration }}"
        return _ELSEWHERE[lang]

    return re.sub(r"\{([a-z_]+)(?::([^}]*))?\}", field, template)


def _description(rule: Rule, threshold: float, lang: str) -> str:
    """What the rule watches, then value and threshold with their unit (a yes/no rule has neither)."""
    if not rule.unit:
        return rule.help.get(lang)
    if rule.unit in _COUNTS:
        count, limit = _value(lang, 0), number(threshold, "g", lang)
        return f"{rule.help.get(lang)} {'Anzahl' if lang == 'de' else 'Count'} {count} ({_THRESHOLD[lang]} {limit})."
    unit = unit_label(rule.unit, lang)
    value = _value(lang, _PRECISION.get(rule.unit, 0))
    limit = number(threshold, "g", lang)
    if lang == "de":
        return f"{rule.help.de} Wert {value} {unit}, Schwelle {limit} {unit}."
    return f"{rule.help.en} Value {value} {unit}, threshold {limit} {unit}."


def _scope_matchers(ov: Override) -> list[str]:
    out = []
    for key in ("tenant", "site", "host"):
        value = getattr(ov, key)
        if value:
            out.append(f"{key}={_q(value)}")
    return out


def _rule_yaml(
    rule: Rule, threshold: float, for_s: float, matchers: Sequence[str], settings: Settings, scope: str = ""
) -> list[str]:
    window = f"{round(settings.disk_projection_window_s)}s"
    expr = _selector(rule.expr.replace("{threshold}", f"{threshold:g}").replace("{window}", window), matchers)
    summary = _promql_template(rule.summary.get(settings.lang), settings.lang)
    description = _description(rule, threshold, settings.lang)
    lines = [
        f"      - alert: {rule.name}",
        f"        expr: {_q(expr)}",
    ]
    if for_s > 0:
        lines.append(f"        for: {int(for_s)}s")
    lines += [
        "        labels:",
        f"          severity: {rule.severity}",
        f"          rule: {rule.name}",
        *([f"          scope: {_q(scope)}"] if scope else []),
        "        annotations:",
        f"          summary: {_q(summary)}",
        f"          description: {_q(description)}",
        f"          runbook_url: {_q(settings.runbook_link(rule.runbook))}",
    ]
    return lines


def _within(inner: Override, outer: Override) -> bool:
    """Every scope key the outer override sets, the inner one sets to the same value."""
    return all(not getattr(outer, k) or getattr(inner, k) == getattr(outer, k) for k in ("tenant", "site", "host"))


def prometheus_rules(settings: Settings) -> str:
    policy = settings.policy
    out = [
        "# Leitstand alert rules for Prometheus, written by `leitstand-collector rules export`.",
        "# Check with: promtool check rules <file>",
        "groups:",
    ]
    for rule in RULES:
        base_threshold = policy.thresholds.get(rule.name, rule.threshold)
        base_for = policy.for_s.get(rule.name, rule.for_s)
        relevant = [
            o for o in policy.overrides if rule.name in o.thresholds or rule.name in o.for_s or rule.name in o.disabled
        ]
        body: list[str] = []
        if rule.name not in policy.disabled:
            excluded = [m.replace("=", "!=", 1) for o in relevant for m in _scope_matchers(o)[-1:]]
            body += _rule_yaml(rule, base_threshold, base_for, excluded, settings)
        for ov in sorted(relevant, key=lambda o: o.specificity):
            if rule.name in ov.disabled:
                continue
            more_specific = [o for o in relevant if o.specificity > ov.specificity and _within(o, ov)]
            matchers = _scope_matchers(ov) + [
                m.replace("=", "!=", 1) for o in more_specific for m in _scope_matchers(o)[-1:]
            ]
            scope = ",".join(f"{k}={getattr(ov, k)}" for k in ("tenant", "site", "host") if getattr(ov, k))
            threshold = ov.thresholds.get(rule.name, base_threshold)
            body += _rule_yaml(rule, threshold, ov.for_s.get(rule.name, base_for), matchers, settings, scope)
        if body:
            out += [f"  - name: leitstand-{rule.name.replace('_', '-')}", "    rules:", *body]
    return "\n".join(out) + "\n"
