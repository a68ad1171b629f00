"""Request helpers every API module shares: the collector and the caller of
a request, JSON responses, query parameters."""

from __future__ import annotations

import asyncio
import functools
import re
import zlib
from collections.abc import Awaitable, Callable, Generator, Iterable
from typing import Any
from urllib.parse import parse_qsl

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import admin
from .accesslog import note_token
from .admin import Principal
from .context import Collector
from .errors import ClientDisconnectedError, PayloadTooLargeError, RequestTimeoutError, ValidationError

__all__ = [
    "KnownQueryParams",
    "authenticated",
    "collector_of",
    "error_response",
    "json_response",
    "limit_param",
    "principal_of",
    "query_param",
    "read_body",
    "receive_body",
    "send_json",
    "time_window",
]

_encoder = msgspec.json.Encoder()


def collector_of(request: Request) -> Collector:
    """The collector serving the request (`app.state.collector`, set by create_app)."""
    collector: Collector = request.app.state.collector
    return collector


async def authenticated(request: Request) -> tuple[Collector, Principal]:
    """The collector and who is asking (the bearer token); raises AuthError (401)."""
    collector = collector_of(request)
    return collector, await principal_of(collector, request.headers.get("authorization"))


async def principal_of(collector: Collector, authorization: str | None) -> Principal:
    """Who an Authorization header names; raises AuthError (401). The token is
    looked up in a reader thread, as every read of a request is, and a valid
    one is then kept in the collector's token cache for a few seconds."""
    token = admin.bearer_token(authorization)
    cache = collector.tokens
    principal = cache.get(token)
    if principal is not None:
        note_token(principal.token_id, principal.role)
        return principal
    generation = cache.generation
    principal = await collector.read(lambda conn: admin.authenticate(conn, authorization))
    cache.put(token, principal.token_id, principal, since=generation)
    return principal


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, gunzipped, never more than `limit` bytes either way, and
    without an escaped NUL (no text column of either backend can hold one)."""
    headers = request.headers
    return await receive_body(
        request.receive,
        headers.get("content-length"),
        headers.get("content-encoding"),
        limit,
        collector_of(request).config.server.body_timeout_s,
    )


async def receive_body(
    receive: Receive, declared: str | None, encoding: str | None, limit: int, timeout_s: float
) -> bytes:
    """`read_body` from the ASGI `receive` and the Content-Length and
    Content-Encoding headers, for a caller without a Request."""
    if declared is not None:
        if not declared.isdigit():
            raise ValidationError("invalid Content-Length header")
        if int(declared) > limit:
            raise PayloadTooLargeError(limit)
    first = _Started(receive())
    message = first.value
    if message is not None and message["type"] == "http.request" and not message.get("more_body", False):
        # The whole body was there at once (nearly every upload): no deadline
        # to arm. asyncio.timeout costs ~9 us of the event loop's CPU per request.
        body = message.get("body", b"")
        if len(body) > limit:
            raise PayloadTooLargeError(limit)
    else:
        try:
            # a body trickled in a byte at a time must not hold a request open for ever
            async with asyncio.timeout(timeout_s):
                body = await _rest_of_body(receive, await first, limit)
        except TimeoutError as exc:
            raise RequestTimeoutError(timeout_s) from exc
    return _decoded(body, encoding, limit)


class _Started:
    """An awaitable run up to where it first waits, or to its end: `value` is
    its result if it did not wait. Awaiting it (once) finishes it, passing on
    what the task sends or throws in, as `await` itself would."""

    def __init__(self, awaitable: Awaitable[Message]) -> None:
        self._inner = awaitable.__await__()
        self.value: Message | None = None
        try:
            self._waits_on: Any = self._inner.send(None)
        except StopIteration as finished:
            self.value = finished.value

    def __await__(self) -> Generator[Any, Any, Message]:
        if self.value is not None:
            return self.value
        step = self._waits_on
        while True:
            try:
                sent = yield step
            except GeneratorExit:
                self._inner.close()
                raise
            except BaseException as exc:  # a cancellation (the deadline) goes to the awaitable
                advance = functools.partial(self._inner.throw, exc)
            else:
                advance = functools.partial(self._inner.send, sent)
            try:
                step = advance()
            except StopIteration as finished:
                message: Message = finished.value
                return message


async def _rest_of_body(receive: Receive, message: Message, limit: int) -> bytes:
    """The body from the first message on, as Starlette's Request.stream reads it."""
    chunks, size = [], 0
    while True:
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise PayloadTooLargeError(limit)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)
        elif message["type"] == "http.disconnect":
            raise ClientDisconnectedError()
        message = await receive()


def _decoded(body: bytes, encoding: str | None, limit: int) -> bytes:
    """The body gunzipped (bounded) and checked for an escaped NUL."""
    encoding = (encoding or "identity").strip().lower()
    if encoding == "gzip":
        # Bounded decompression: a 10 KB gzip bomb must not become 10 GB.
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            body = inflater.decompress(body, limit + 1)
        except zlib.error as exc:
            raise ValidationError("body is not valid gzip", [str(exc)]) from exc
        if len(body) > limit or inflater.unconsumed_tail:
            raise PayloadTooLargeError(limit)
        # zlib only reaches eof after the trailer's CRC-32 and length checked out:
        # a cut-off upload must not be stored as if it were the whole batch.
        if not inflater.eof:
            raise ValidationError("gzip body is truncated", ["the gzip stream ends before its trailer (CRC-32, size)"])
        if inflater.unused_data:
            raise ValidationError(
                "gzip body has trailing data", [f"{len(inflater.unused_data)} bytes after the end of the gzip stream"]
            )
    elif encoding not in ("identity", ""):
        raise ValidationError(f"unsupported Content-Encoding {encoding!r}", ["use gzip or none"])
    # The cheap tests first: a backslash (memchr: 0.2 us for 5 KB, where the
    # substring search takes 2.3 us), then the substring (~100x cheaper than
    # the regex, which must try every position); nearly every body has neither.
    if b"\\" in body and b"\\u0000" in body and _JSON_NUL.search(body):
        # No text column of either backend can hold it (PostgreSQL refuses it
        # outright), and no host name, mount or message needs it.
        raise ValidationError("a JSON string contains a NUL character (\\u0000), which is not allowed")
    return body


#: an escaped NUL in a JSON string: \u0000 preceded by an even number of backslashes
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def json_response(body: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """`body` (msgspec structs, dataclasses, dicts) as JSON."""
    return Response(_encoder.encode(body), status_code=status, media_type="application/json", headers=headers)


async def send_json(send: Send, body: object) -> None:
    """`json_response(body)` sent straight to the ASGI `send`: the same
    messages and headers, without building a Response (the reports fast
    path answers every acknowledgement this way)."""
    encoded = _encoder.encode(body)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", str(len(encoded)).encode()), (b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": encoded})


def error_response(
    status: int, error: str, detail: list[str] | None = None, headers: dict[str, str] | None = None
) -> Response:
    """The one error body of every endpoint: {"error": ..., "detail": [...]}."""
    return json_response({"error": error, "detail": list(detail or [])}, status, headers)


def query_param(request: Request, name: str, kind: type, default: Any = None, choices: tuple[str, ...] = ()) -> Any:
    """A query parameter converted to `kind`; a 400 naming it when it is not one."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if "\x00" in raw:
        raise ValidationError(f"query parameter {name!r} contains a NUL character")
    if choices and raw not in choices:
        raise ValidationError(f"query parameter {name!r} must be one of: {', '.join(choices)}")
    try:
        value = _integral(raw) if kind is int else kind(raw)
    except (ValueError, OverflowError) as exc:
        raise ValidationError(f"query parameter {name!r} is not a valid {kind.__name__}: {raw!r}") from exc
    if kind is float and not (value == value and abs(value) != float("inf")):
        raise ValidationError(f"query parameter {name!r} is not a finite number")
    return value


def time_window(request: Request, now: float, span_s: float) -> tuple[float, float]:
    """`since` and `until` (Unix seconds): by default the `span_s` up to now;
    a 400 when `since` lies after `until`."""
    until: float = query_param(request, "until", float, now)
    since: float = query_param(request, "since", float, until - span_s)
    if since > until:
        raise ValidationError("'since' lies after 'until'")
    return since, until


def limit_param(request: Request, default: int = 1000, most: int = 10000) -> int:
    """The `limit` query parameter, 1 to `most`."""
    limit: int = query_param(request, "limit", int, default)  # "10.0" too: an integer as JSON Schema has it
    if not 1 <= limit <= most:
        raise ValidationError(f"query parameter 'limit' must be between 1 and {most}")
    return limit


def _integral(raw: str) -> int:
    """An integer as JSON Schema (and so the OpenAPI document) has it: `10` or `10.0`."""
    try:
        return int(raw)
    except ValueError:
        number = float(raw)
        if not number.is_integer():
            raise
        return int(number)


def _route(routes: Iterable[BaseRoute], scope: Scope) -> str | None:
    """The path template of the route a request matches fully, else None."""
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return str(getattr(route, "path", "")) or None
    return None


class KnownQueryParams:
    """Refuse a query parameter the OpenAPI document does not name for the
    operation (400, naming it and the known ones), as unknown body fields are
    named: `?tenat=stadt-lohne` must not silently read every tenant. The
    document is the one list of parameters, so it cannot drift from the server."""

    def __init__(
        self, app: ASGIApp, routes: Callable[[], Iterable[BaseRoute]], document: Callable[[], dict[str, Any]]
    ) -> None:
        self.app = app
        self.routes = routes
        self.document = document
        self._known: dict[tuple[str, str], frozenset[str]] | None = None

    def known(self) -> dict[tuple[str, str], frozenset[str]]:
        if self._known is None:
            self._known = {
                (path, method.upper()): frozenset(p["name"] for p in op.get("parameters", []) if p.get("in") == "query")
                for path, ops in self.document()["paths"].items()
                for method, op in ops.items()
            }
        return self._known

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("query_string"):
            route = _route(self.routes(), scope)
            allowed = self.known().get((route, scope["method"])) if route else None
            if allowed is not None:
                problem = _query_problem(scope["query_string"], route or "", allowed)
                if problem is not None:
                    response = error_response(400, problem[0], problem[1])
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def _query_problem(query: bytes, route: str, allowed: frozenset[str]) -> tuple[str, list[str]] | None:
    """Why a query string is refused, or None."""
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    unknown = sorted({name for name, _ in pairs} - allowed)
    if unknown:
        listed = ", ".join(repr(n[:64]) for n in unknown[:10])
        return f"unknown query parameter {listed}", [
            f"{route} takes: {', '.join(sorted(allowed)) or 'no query parameters'}"
        ]
    seen: set[str] = set()
    for name, value in pairs:
        if name in seen:
            # each takes one value: which of several would count is not for the server to guess
            return f"query parameter {name!r} given more than once", []
        seen.add(name)
        if "\x00" in value:
            # no text column can hold it, and no name or filter needs it
            return f"query parameter {name!r} contains a NUL character", []
    return None
