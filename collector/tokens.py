"""Bearer tokens: generated with `secrets`, stored only as SHA-256.

A token looks like `lst_<id>_<secret>`. The id is public (shown by `token list`,
written to the audit log) and is the lookup key; the secret never leaves the
token. 256 random bits make a slow password hash unnecessary: SHA-256 of a
high-entropy secret cannot be brute-forced.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, Literal, TypeVar

__all__ = ["ROLES", "Role", "TokenCache", "hash_token", "new_token", "parse_token", "verify"]

T = TypeVar("T")

#: metrics: scrapes GET /metrics of every tenant, and nothing else (Prometheus' token)
Role = Literal["enroll", "agent", "tenant", "billing", "metrics", "admin"]
ROLES: tuple[Role, ...] = ("enroll", "agent", "tenant", "billing", "metrics", "admin")
PREFIX = "lst"


def new_token() -> tuple[str, str]:
    """Return (token id, full token)."""
    token_id = secrets.token_hex(6)
    return token_id, f"{PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"


def parse_token(token: str) -> str | None:
    """The token's id, or None if it is not shaped like one of ours."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or len(parts[1]) != 12 or not parts[2]:
        return None
    return parts[1]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def verify(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_token(token), stored_hash)


class TokenCache(Generic[T]):
    """Positive token lookups kept for `ttl_s` seconds, so a request does not
    read the tokens table each time.

    Keyed by the SHA-256 of the whole token, never by its public id: a token
    with a known id and a wrong secret finds nothing here and is checked
    against the database (and refused there). Only successful lookups are
    stored, in an LRU of at most `size` entries, so random tokens cannot grow
    it. `invalidate` drops a token id at once (this collector revoked it);
    a revocation elsewhere (the CLI, another collector) acts once the entry
    expires, within `ttl_s`.
    """

    def __init__(self, ttl_s: float = 5.0, size: int = 4096, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.size = size
        self.clock = clock
        self._lock = threading.Lock()
        #: token hash -> (token id, expiry, value)
        self._entries: OrderedDict[str, tuple[str, float, T]] = OrderedDict()
        #: counts invalidations: a lookup that started before one is not stored
        self.generation = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str) -> T | None:
        if self.ttl_s <= 0:
            return None
        key = hash_token(token)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[1] <= self.clock():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[2]

    def put(self, token: str, token_id: str, value: T, *, since: int | None = None) -> None:
        """Keep a valid lookup; with `since` (the `generation` read before the
        lookup started) only if nothing was invalidated meanwhile: a revocation
        racing the lookup must not be undone by it."""
        if self.ttl_s <= 0:
            return
        with self._lock:
            if since is not None and since != self.generation:
                return
            key = hash_token(token)
            self._entries[key] = (token_id, self.clock() + self.ttl_s, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def invalidate(self, token_id: str) -> None:
        with self._lock:
            self.generation += 1
            # a scan: revocations are rare and the cache is bounded
            for key in [k for k, entry in self._entries.items() if entry[0] == token_id]:
                del self._entries[key]
