"""Requests per credential: one tenant's token cannot take the collector's core.

A token bucket per presented credential (the Authorization header; the client
address when there is none) refills at `rate` requests per second up to
`burst`. A request beyond it gets 429 with `Retry-After` before its body is
read or its token is looked up, so an over-eager or hostile client costs
almost nothing, and every other tenant's agents keep their latency. Agents
already treat 429 as "keep the reports spooled and come back later".

The credential is kept only as a hash in memory, never logged. The table is
bounded: when it is full, the buckets closest to full (idle clients) are
dropped first.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["RateLimit", "TokenBuckets"]

#: paths never limited: probes must see the collector as it is, and a rollout
#: enrolls hundreds of agents with one enroll token at once (enrollment is
#: bounded by the token's use limit and expiry instead, and audited)
_EXEMPT = frozenset({"/healthz", "/api/v1/enroll"})


@dataclass
class TokenBuckets:
    rate: float
    burst: float
    max_keys: int = 100_000
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[bytes, tuple[float, float]] = field(default_factory=dict)  # key -> (tokens, at)

    def take(self, key: bytes) -> float:
        """0.0 when the request may go ahead, else the seconds until it may."""
        now = self.clock()
        tokens, at = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        if tokens >= 1.0:
            self._store(key, tokens - 1.0, now)
            return 0.0
        self._store(key, tokens, now)
        return (1.0 - tokens) / self.rate

    def _store(self, key: bytes, tokens: float, now: float) -> None:
        if key not in self._buckets and len(self._buckets) >= self.max_keys:
            # forget the tenth that is closest to full: idle clients, never the exhausted ones
            def refilled(item: tuple[bytes, tuple[float, float]]) -> float:
                tokens, at = item[1]
                return tokens + (now - at) * self.rate

            idle = sorted(self._buckets.items(), key=refilled, reverse=True)[: max(1, self.max_keys // 10)]
            for k, _ in idle:
                del self._buckets[k]
        self._buckets[key] = (tokens, now)


class RateLimit:
    """ASGI middleware applying `TokenBuckets` to every HTTP request but the exempt paths."""

    def __init__(self, app: ASGIApp, buckets: TokenBuckets) -> None:
        self.app = app
        self.buckets = buckets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in _EXEMPT:
            await self.app(scope, receive, send)
            return
        credential = next((v for k, v in scope["headers"] if k == b"authorization"), None)
        if credential is None:
            client = scope.get("client")
            credential = b"addr:" + (client[0] if client else "-").encode()
        wait = self.buckets.take(hashlib.blake2b(credential, digest_size=16).digest())
        if not wait:
            await self.app(scope, receive, send)
            return
        retry = max(1, math.ceil(wait))
        body = json.dumps(
            {
                "error": "too many requests for this token, retry later",
                "detail": [f"at most {self.buckets.rate:g} requests per second per token (server.rate_limit_rps)"],
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(retry).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
