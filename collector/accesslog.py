"""One structured log line per request, and failed authentications rate-limited
per source address: an ASGI middleware around the whole app.

The access line (logger ``leitstand.collector.access``, INFO) has the method,
the route template (``/api/v1/hosts/{agent_id}``, never the raw path with its
ids), the status, the duration, the id of the token that was presented (never
the token) and the client address, as ``key=value`` pairs. A 401 or 403 is
also logged on ``leitstand.collector.auth`` (WARNING) at most once per source
address per window, the line saying how many were suppressed before it.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["AccessLog", "AuthFailureLimiter", "RequestNote", "format_fields", "note_token"]

access_log = logging.getLogger("leitstand.collector.access")
auth_log = logging.getLogger("leitstand.collector.auth")


@dataclass
class RequestNote:
    """What the handlers learn about a request that its log line needs."""

    token_id: str = "-"
    role: str = "-"


_note: contextvars.ContextVar[RequestNote | None] = contextvars.ContextVar("leitstand_request_note", default=None)


def note_token(token_id: str, role: str | None = None) -> None:
    """Called by authentication: the id (the public part) of the token presented,
    and its role once it is known to be valid. Outside a request: nothing."""
    note = _note.get()
    if note is not None:
        note.token_id = token_id
        if role is not None:
            note.role = role


_BARE = re.compile(r"^[A-Za-z0-9._:/{}\-+]+$")


def format_fields(fields: Iterable[tuple[str, object]]) -> str:
    """`key=value` pairs; a value with spaces, quotes or control characters is
    quoted with JSON-style escapes, so one line is one request and a value sent
    by a client cannot forge another field or line."""
    return " ".join(f"{key}={_text(value)}" for key, value in fields)


def _text(value: object) -> str:
    """One value as `format_fields` writes it."""
    text = str(value)
    if not _BARE.match(text):
        text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
        text = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)
    return text


@dataclass
class AuthFailureLimiter:
    """At most one log line per source address per `window_s`; the count of the
    failures not logged is handed to the next line that is. Memory is bounded:
    addresses whose window has passed are forgotten when the table is full."""

    window_s: float = 10.0
    max_addresses: int = 10_000
    clock: Callable[[], float] = time.monotonic
    _seen: dict[str, tuple[float, int]] = field(default_factory=dict)

    def admit(self, address: str) -> int | None:
        """None: suppress this failure; else log it, with this many suppressed before."""
        now = self.clock()
        entry = self._seen.get(address)
        if entry is not None and now - entry[0] < self.window_s:
            self._seen[address] = (entry[0], entry[1] + 1)
            return None
        if entry is None and len(self._seen) >= self.max_addresses:
            self._forget(now)
        self._seen[address] = (now, 0)
        return entry[1] if entry is not None else 0

    def _forget(self, now: float) -> None:
        for address in [a for a, (start, _) in self._seen.items() if now - start >= self.window_s]:
            del self._seen[address]
        while len(self._seen) >= self.max_addresses:  # all within their window: the oldest go
            del self._seen[next(iter(self._seen))]


def route_template(templates: dict[Any, str], scope: Scope) -> str:
    """The path template of the route a request matched, "-" for none (a 404).
    Starlette's router leaves the matched route's endpoint in the scope (also
    for a 405, the right path with another method); matching the routes again
    here would cost more than the rest of the log line."""
    endpoint = scope.get("endpoint")
    return templates.get(endpoint, "-") if endpoint is not None else "-"


class AccessLog:
    """The middleware; `enabled` switches the access lines (config
    `server.access_log`), failed authentications are logged either way."""

    def __init__(
        self,
        app: ASGIApp,
        routes: Callable[[], Iterable[BaseRoute]],
        enabled: bool = True,
        limiter: AuthFailureLimiter | None = None,
    ) -> None:
        self.app = app
        self.routes = routes
        self.enabled = enabled
        self.limiter = limiter or AuthFailureLimiter()
        self._templates: dict[Any, str] | None = None

    def templates(self) -> dict[Any, str]:
        if self._templates is None:
            templates: dict[Any, str] = {}
            for route in self.routes():
                endpoint, path = getattr(route, "endpoint", None), getattr(route, "path", None)
                if endpoint is not None and path is not None:
                    templates.setdefault(endpoint, str(path))
            self._templates = templates
        return self._templates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        note = RequestNote()
        token = _note.set(note)
        started = time.perf_counter()
        status = 500  # an exception before the response started: the error handler answers 500
        error_body = bytearray()

        async def send_logged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and status in (401, 403) and len(error_body) < 4096:
                error_body.extend(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_logged)
        finally:
            _note.reset(token)
            self._log(scope, status, (time.perf_counter() - started) * 1000, note, bytes(error_body))

    def _log(self, scope: Scope, status: int, duration_ms: float, note: RequestNote, body: bytes) -> None:
        failed_auth = status in (401, 403)
        if not failed_auth and not (self.enabled and access_log.isEnabledFor(logging.INFO)):
            return
        client = scope.get("client")
        address = str(client[0]) if client else "-"
        route = route_template(self.templates(), scope)
        if self.enabled and access_log.isEnabledFor(logging.INFO):
            access_log.info(access_line(scope.get("method", "-"), route, status, duration_ms, note, address))
        if failed_auth:
            suppressed = self.limiter.admit(address)
            if suppressed is not None:
                auth_log.warning(
                    "authentication failed: "
                    + format_fields(
                        (
                            ("status", status),
                            ("client", address),
                            ("method", scope.get("method", "-")),
                            ("route", route),
                            ("token", note.token_id),
                            ("reason", _reason(body)),
                            ("suppressed", suppressed),
                        )
                    )
                )


def access_line(method: str, route: str, status: int, duration_ms: float, note: RequestNote, client: str) -> str:
    """The access line: `format_fields` of its seven fields, written out for
    the one line every request logs. The status (an int) and the duration
    (`.1f`: digits, '.', '-', or nan/inf) are bare as they are; the other
    values are checked as `format_fields` checks them."""
    return (
        f"method={_text(method)} route={_text(route)} status={status} duration_ms={duration_ms:.1f} "
        f"token={_text(note.token_id)} role={_text(note.role)} client={_text(client)}"
    )


def _reason(body: bytes) -> str:
    """The `error` of the API's error body, for the log of a failed authentication."""
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        return "-"
    error = parsed.get("error") if isinstance(parsed, dict) else None
    return str(error)[:200] if error else "-"
