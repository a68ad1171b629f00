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
from typing import Literal

__all__ = ["ROLES", "Role", "hash_token", "new_token", "parse_token", "verify"]

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
