"""Delivery of queued notifications: Alertmanager (v2 API) and a generic webhook.

A separate step after evaluation, never inside it. Each notification is
tried with a timeout; a transport error, a timeout, 429 or a 5xx is retried
with exponential backoff (``backoff_s`` × 2^n) up to ``retries`` times, then
the notification becomes a dead letter (status ``dead`` with the last error)
and is logged. Any other 4xx is a bug to report, not to retry: dead at once.
Delivery never raises into the collector.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .config import Target

__all__ = [
    "DeliveryError",
    "Sender",
    "alertmanager_alert",
    "attempt",
    "post_json",
    "webhook_body",
]

log = logging.getLogger("leitstand.collector.alerting")

_LABEL_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


class DeliveryError(Exception):
    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


Sender = Callable[[str, bytes, float, Mapping[str, str]], None]


def post_json(url: str, body: bytes, timeout: float, headers: Mapping[str, str]) -> None:
    """POST a JSON body; DeliveryError(retry=...) when it was not accepted."""
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read(500).decode("utf-8", "replace").strip()
        exc.close()
        retry = exc.code == 429 or exc.code >= 500
        raise DeliveryError(f"HTTP {exc.code} {detail}".strip(), retry=retry) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"{type(exc).__name__}: {reason}", retry=True) from None


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat().replace("+00:00", "Z")


def alertmanager_alert(
    doc: Mapping[str, Any], *, now: float, ends_after_s: float, generator_url: str
) -> dict[str, Any]:
    """One entry of POST /api/v2/alerts from an alert document."""
    labels = {
        k: str(v)
        for k, v in doc["labels"].items()
        if v not in ("", None) and k and set(k) <= _LABEL_OK and not k[0].isdigit()
    }
    ends = doc.get("resolved_at") or (now + ends_after_s)
    return {
        "labels": labels,
        "annotations": {
            "summary": doc["summary"],
            "description": doc["description"],
            "runbook_url": doc["runbook_url"],
        },
        "startsAt": _iso(doc.get("fired_at") or doc["started_at"]),
        "endsAt": _iso(ends),
        "generatorURL": generator_url,
    }


def webhook_body(doc: Mapping[str, Any], event: str, now: float) -> dict[str, Any]:
    return {"version": "1", "source": "leitstand", "event": event, "sent_at": now, "alert": doc}


@dataclass(frozen=True)
class Result:
    status: str  # delivered | pending | dead
    attempts: int
    next_attempt_at: float
    error: str = ""


def attempt(target: Target, body: bytes, attempts: int, now: float, send: Sender) -> Result:
    """Try once; the outbox row's next state."""
    headers = {}
    if target.token_env and os.environ.get(target.token_env):
        headers["Authorization"] = f"Bearer {os.environ[target.token_env]}"
    url = target.url + "/api/v2/alerts" if target.name == "alertmanager" else target.url
    tried = attempts + 1
    try:
        send(url, body, target.timeout_s, headers)
    except DeliveryError as exc:
        if exc.retry and tried <= target.retries:
            return Result("pending", tried, now + target.backoff_s * 2 ** (tried - 1), str(exc))
        log.error("alert notification to %s given up after %s attempt(s): %s", target.name, tried, exc)
        return Result("dead", tried, now, str(exc))
    return Result("delivered", tried, now)


def encode(body: Any) -> bytes:
    return json.dumps(body, sort_keys=True).encode()
