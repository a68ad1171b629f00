"""Tenants, tokens and the audit log. Functions of a connection, so the CLI
(its own process) and the API's writer thread share them."""

from __future__ import annotations

import enum
import json
import re
import time
from dataclasses import dataclass

from . import tokens
from .accesslog import note_token
from .db import Connection, transaction
from .errors import AuthError, ConflictError, ForbiddenError, NotFoundError, ValidationError

__all__ = [
    "DEFAULT",
    "DEFAULT_ENROLL_LIFETIME_S",
    "Principal",
    "TokenInfo",
    "add_tenant",
    "audit",
    "authenticate",
    "bearer_token",
    "create_token",
    "format_ts",
    "list_audit",
    "list_tenants",
    "list_tokens",
    "parse_lifetime",
    "revoke_token",
    "visible_tenant",
]

TENANT_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")

#: An enroll token lives a week unless its creator says otherwise: one lost in
#: a ticket or a mail is worthless soon.
DEFAULT_ENROLL_LIFETIME_S = 7 * 86400.0
_LIFETIME_RE = re.compile(r"^\s*(\d{1,6})\s*([mhd])\s*$")
_LIFETIME_UNIT_S = {"m": 60, "h": 3600, "d": 86400}


class _Default(enum.Enum):
    LIFETIME = "default"


#: `create_token(expires_s=DEFAULT)`: an enroll token's default lifetime.
DEFAULT = _Default.LIFETIME


@dataclass(frozen=True)
class Principal:
    token_id: str
    role: tokens.Role
    tenant: str | None = None
    agent_id: str | None = None

    @property
    def actor(self) -> str:
        return f"token:{self.token_id}"


@dataclass(frozen=True)
class TokenInfo:
    id: str
    role: str
    tenant: str | None
    agent_id: str | None
    label: str
    created_at: float
    revoked_at: float | None
    #: enroll tokens: None never expires; uses_max None: no use limit
    expires_at: float | None = None
    uses_max: int | None = None
    uses_left: int | None = None
    #: an enroll token that may re-enroll (replace) an existing agent id
    may_replace: bool = False


def parse_lifetime(text: str) -> float | None:
    """Seconds of "30m" / "12h" / "7d"; None for "never". ValidationError otherwise."""
    if text.strip().lower() == "never":
        return None
    match = _LIFETIME_RE.match(text)
    if not match or int(match.group(1)) == 0:
        raise ValidationError(
            f"invalid lifetime {text!r}", ['write a number with a unit m, h or d ("30m", "12h", "7d"), or "never"']
        )
    return float(int(match.group(1)) * _LIFETIME_UNIT_S[match.group(2)])


def format_ts(ts: float) -> str:
    """UTC, to the minute: what an error message or a listing names."""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


def audit(conn: Connection, actor: str, action: str, target: str = "", **detail: object) -> None:
    conn.execute(
        "INSERT INTO audit (ts, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
        (time.time(), actor, action, target, json.dumps(detail, sort_keys=True) if detail else ""),
    )


def list_audit(conn: Connection, limit: int = 100) -> list[dict[str, object]]:
    rows = conn.execute(
        "SELECT ts, actor, action, target, detail FROM audit ORDER BY id DESC LIMIT ?", (limit,)
    ).fetchall()
    return [dict(zip(("ts", "actor", "action", "target", "detail"), row, strict=True)) for row in rows]


def add_tenant(conn: Connection, name: str, *, actor: str) -> None:
    if not TENANT_RE.match(name):
        raise ValidationError(f"invalid tenant name {name!r}: use lowercase letters, digits and '-' (e.g. stadt-lohne)")
    with transaction(conn):
        if conn.execute("SELECT 1 FROM tenants WHERE name = ?", (name,)).fetchone():
            raise ConflictError(f"tenant {name!r} already exists")
        conn.execute("INSERT INTO tenants (name, created_at) VALUES (?, ?)", (name, time.time()))
        audit(conn, actor, "tenant.add", name)


def list_tenants(conn: Connection) -> list[dict[str, object]]:
    rows = conn.execute(
        "SELECT t.name, t.created_at, count(h.agent_id) FROM tenants t "
        "LEFT JOIN hosts h ON h.tenant = t.name GROUP BY t.name ORDER BY t.name"
    ).fetchall()
    return [{"name": n, "created_at": c, "hosts": h} for n, c, h in rows]


def _require_tenant(conn: Connection, tenant: str) -> None:
    if not conn.execute("SELECT 1 FROM tenants WHERE name = ?", (tenant,)).fetchone():
        raise NotFoundError(f"unknown tenant {tenant!r} (create it with: leitstand-collector tenant add)")


def create_token(
    conn: Connection,
    role: str,
    *,
    actor: str,
    tenant: str | None = None,
    agent_id: str | None = None,
    label: str = "",
    expires_s: float | _Default | None = DEFAULT,
    uses: int | None = None,
    replace: bool = False,
    now: float | None = None,
) -> tuple[str, str]:
    """Create a token; returns (id, token). Only the hash is stored.

    Enroll tokens expire after `expires_s` (default a week, None: never), may
    be used `uses` times (None: no limit) and, with `replace`, may re-enroll an
    agent id that is already enrolled. Other roles take none of these."""
    if role not in tokens.ROLES:
        raise ValidationError(f"unknown role {role!r}; one of: {', '.join(tokens.ROLES)}")
    needs_tenant = role in ("enroll", "tenant", "agent")
    if needs_tenant and not tenant:
        raise ValidationError(f"tokens of role {role} are bound to a tenant: add --tenant NAME")
    if not needs_tenant and tenant:
        raise ValidationError(f"tokens of role {role} are not bound to a tenant: drop --tenant")
    if role == "agent" and not agent_id:
        raise ValidationError("an agent token is bound to one agent id")
    if role != "enroll" and (expires_s is not DEFAULT or uses is not None or replace):
        raise ValidationError("--expires, --uses and --replace apply to enroll tokens only")
    if uses is not None and uses < 1:
        raise ValidationError(f"--uses must be at least 1, not {uses}")
    if isinstance(expires_s, float | int) and expires_s <= 0:
        raise ValidationError("a token's lifetime must be longer than zero")
    created = time.time() if now is None else now
    expires_at: float | None = None
    if role == "enroll":
        lifetime = DEFAULT_ENROLL_LIFETIME_S if isinstance(expires_s, _Default) else expires_s
        expires_at = None if lifetime is None else created + lifetime
    token_id, token = tokens.new_token()
    with transaction(conn):
        if tenant:
            _require_tenant(conn, tenant)
        conn.execute(
            "INSERT INTO tokens (id, hash, role, tenant, agent_id, label, created_at,"
            " expires_at, uses_max, uses_left, may_replace) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                token_id,
                tokens.hash_token(token),
                role,
                tenant,
                agent_id,
                label,
                created,
                expires_at,
                uses,
                uses,
                int(replace),
            ),
        )
        extra: dict[str, object] = {}
        if role == "enroll":
            extra = {"expires_at": expires_at, "uses": uses, "replace": replace}
        audit(conn, actor, "token.create", token_id, role=role, tenant=tenant, agent_id=agent_id, **extra)
    return token_id, token


def list_tokens(conn: Connection, *, include_revoked: bool = False) -> list[TokenInfo]:
    sql = (
        "SELECT id, role, tenant, agent_id, label, created_at, revoked_at,"
        " expires_at, uses_max, uses_left, may_replace FROM tokens"
    )
    if not include_revoked:
        sql += " WHERE revoked_at IS NULL"
    return [
        TokenInfo(
            id=row[0],
            role=row[1],
            tenant=row[2],
            agent_id=row[3],
            label=row[4],
            created_at=row[5],
            revoked_at=row[6],
            expires_at=row[7],
            uses_max=row[8],
            uses_left=row[9],
            may_replace=bool(row[10]),
        )
        for row in conn.execute(sql + " ORDER BY created_at")
    ]


def revoke_token(conn: Connection, token_id: str, *, actor: str) -> None:
    with transaction(conn):
        row = conn.execute("SELECT revoked_at FROM tokens WHERE id = ?", (token_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no token with id {token_id!r} (see: leitstand-collector token list)")
        if row[0] is not None:
            raise ConflictError(f"token {token_id!r} is already revoked")
        conn.execute("UPDATE tokens SET revoked_at = ? WHERE id = ?", (time.time(), token_id))
        audit(conn, actor, "token.revoke", token_id)


def visible_tenant(principal: Principal, requested: str | None, what: str) -> str | None:
    """The tenant a read of `what` (hosts, devices, readiness) is limited to:
    an admin reads any (None: all), a tenant token only its own; other roles
    may not read it at all."""
    if principal.role == "admin":
        return requested
    if principal.role == "tenant":
        if requested and requested != principal.tenant:
            raise ForbiddenError(f"token may only read tenant {principal.tenant!r}")
        return principal.tenant
    raise ForbiddenError(f"a {principal.role} token may not read {what}")


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer ...` header; raises AuthError."""
    if not authorization:
        raise AuthError("missing bearer token", ["send: Authorization: Bearer <token>"])
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthError("malformed Authorization header", ["expected: Authorization: Bearer <token>"])
    return token


def authenticate(conn: Connection, authorization: str | None) -> Principal:
    """Resolve an `Authorization: Bearer ...` header; raises AuthError."""
    token = bearer_token(authorization)
    token_id = tokens.parse_token(token)
    row = None
    if token_id is not None:
        note_token(token_id)  # for the access log: the id, never the token
        row = conn.execute(
            "SELECT hash, role, tenant, agent_id, revoked_at FROM tokens WHERE id = ?", (token_id,)
        ).fetchone()
    if row is None or not tokens.verify(token, row[0]):
        raise AuthError("unknown token")
    if row[4] is not None:
        raise AuthError("token revoked")
    assert token_id is not None
    note_token(token_id, row[1])
    return Principal(token_id=token_id, role=row[1], tenant=row[2], agent_id=row[3])
