"""An alert as the API, the CLI and the forwarders show it: texts rendered in
German (default) or English from the rule's templates."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .model import Alert, Silence
from .rules import by_name, render

__all__ = ["alert_document", "duration", "silence_document", "text_params"]


def duration(seconds: float | None) -> str:
    """`45 s`, `12 min`, `2 h 05 min`, `3 d 4 h`: readable in German and English."""
    if seconds is None:
        return "?"
    s = max(0, round(seconds))
    if s < 120:
        return f"{s} s"
    minutes = s // 60
    if minutes < 120:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def text_params(alert: Alert, lang: str) -> dict[str, object]:
    """Labels, parameters, value and threshold; a parameter `x_en` replaces `x` in English."""
    params: dict[str, object] = {**alert.labels, **alert.params}
    for key, value in list(params.items()):
        if key.endswith(f"_{lang}"):
            params[key[: -len(lang) - 1]] = value
    params.update(tenant=alert.tenant, object=alert.object, value=alert.value, threshold=alert.threshold)
    return params


def alert_document(alert: Alert, *, lang: str, runbook_url: str, silence: Silence | None) -> dict[str, Any]:
    rule = by_name(alert.rule)
    params = text_params(alert, lang)
    summary = render(rule.summary.get(lang), params, lang) if rule else alert.rule
    description = render(rule.description.get(lang), params, lang) if rule else ""
    runbook = rule.runbook if rule else ""
    ack = alert.ack
    return {
        "id": alert.id,
        "rule": alert.rule,
        "severity": alert.severity,
        "state": alert.state,
        "tenant": alert.tenant,
        "object": alert.object,
        "labels": alert.all_labels(),
        "summary": summary,
        "description": description,
        "runbook": runbook,
        "runbook_url": runbook_url.rstrip("/") + "/" + runbook if runbook else "",
        "started_at": alert.started_at,
        "fired_at": alert.fired_at,
        "updated_at": alert.updated_at,
        "resolved_at": alert.resolved_at,
        "value": alert.value,
        "threshold": alert.threshold,
        "flapping": alert.flapping,
        "acknowledged": {"by": ack.by, "at": ack.at, "comment": ack.comment} if ack else None,
        "silenced": silence is not None,
        "silence_id": silence.id if silence else None,
    }


def silence_document(silence: Silence, now: float, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {
        "id": silence.id,
        "matchers": [{"name": m.name, "value": m.value, "is_regex": m.is_regex} for m in silence.matchers],
        "starts_at": silence.starts_at,
        "ends_at": silence.ends_at,
        "created_by": silence.created_by,
        "comment": silence.comment,
        "created_at": silence.created_at,
        "tenant": silence.tenant,
        "state": silence.state(now),
        **(extra or {}),
    }
