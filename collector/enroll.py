"""Enrollment: trade an enroll token for an agent token (`POST /api/v1/enroll`).

An enroll token is bound to a tenant, expires (default a week) and may carry
a use limit; each enrolment spends one use inside the write transaction, so
concurrent enrolments, also from several collectors on one PostgreSQL, never
exceed the limit. Re-enrolling an agent id that is already enrolled replaces
the running agent (its token is revoked, its seq may restart in a new epoch):
that is an admin's decision, so it needs an admin token or an enroll token
created with `--replace`, and it is audited with the old and new hostname.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from . import admin
from .admin import Principal
from .db import Connection, transaction
from .errors import AuthError, ConflictError, ForbiddenError

__all__ = ["Enrolled", "enroll"]

_NEW_TOKEN_HINT = "ask an admin for a new one: leitstand-collector token create --role enroll --tenant {tenant}"


@dataclass(frozen=True)
class Enrolled:
    token: str
    tenant: str
    #: an enrolled agent id was re-enrolled: its old token is revoked
    replaced: bool
    #: ids of the tokens that re-enrollment revoked (the collector drops them from its token cache)
    revoked_tokens: tuple[str, ...] = ()


def enroll(
    conn: Connection, principal: Principal, agent_id: str, hostname: str, *, now: float | None = None
) -> Enrolled:
    """Issue an agent token for `agent_id`.

    An enroll token enrolls into its tenant; an admin token only re-enrolls an
    agent that exists (its tenant is the agent's). An agent id never moves
    between tenants: that would hand one tenant's history to another.
    """
    if principal.role not in ("enroll", "admin") or (principal.role == "enroll" and principal.tenant is None):
        raise ForbiddenError("enrollment needs an enroll token (or an admin token to re-enroll an agent)")
    now = time.time() if now is None else now
    with transaction(conn):
        may_replace = principal.role == "admin"
        if principal.role == "enroll":
            may_replace = _usable_enroll_token(conn, principal, now)
        row = conn.execute("SELECT tenant, hostname FROM hosts WHERE agent_id = ?", (agent_id,)).fetchone()
        tenant = principal.tenant
        if principal.role == "admin":
            if row is None:
                raise ForbiddenError(
                    f"agent id {agent_id!r} is not enrolled: an admin token re-enrolls existing agents only",
                    ["a new agent enrolls with an enroll token of its tenant"],
                )
            tenant = row[0]
        assert tenant is not None
        if row is not None and row[0] != tenant:
            raise ConflictError(
                f"agent id {agent_id!r} is enrolled in another tenant",
                ["an operator must remove it there first"],
            )
        if row is not None and not may_replace:
            raise ConflictError(
                f"agent id {agent_id!r} is already enrolled (hostname {row[1]!r}); "
                "re-enrolling would replace the running agent",
                [
                    "if this host was re-installed or replaced, an admin re-enrolls it with an admin token "
                    f"or an enroll token created with: leitstand-collector token create --role enroll "
                    f"--tenant {tenant} --replace",
                    "if it is another host, give it its own agent id",
                ],
            )
        if principal.role == "enroll":
            _spend_use(conn, principal)
        revoked: list[str] = []
        if row is None:
            conn.execute(
                "INSERT INTO hosts (agent_id, tenant, hostname, enrolled_at, rebase_allowed) VALUES (?, ?, ?, ?, 1)",
                (agent_id, tenant, hostname, now),
            )
        else:
            revoked = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM tokens WHERE role = 'agent' AND agent_id = ? AND revoked_at IS NULL ORDER BY id",
                    (agent_id,),
                ).fetchall()
            ]
            # rebase_allowed: the replacing agent may restart its seq (a new epoch)
            conn.execute(
                "UPDATE hosts SET hostname = ?, enrolled_at = ?, rebase_allowed = 1 WHERE agent_id = ?",
                (hostname, now, agent_id),
            )
            conn.execute(
                "UPDATE tokens SET revoked_at = ? WHERE role = 'agent' AND agent_id = ? AND revoked_at IS NULL",
                (now, agent_id),
            )
        token_id, token = admin.create_token(
            conn, "agent", actor=principal.actor, tenant=tenant, agent_id=agent_id, label=hostname, now=now
        )
        if row is None:
            admin.audit(conn, principal.actor, "agent.enroll", agent_id, tenant=tenant, hostname=hostname)
        else:
            admin.audit(
                conn,
                principal.actor,
                "agent.replace",
                agent_id,
                tenant=tenant,
                old_hostname=row[1],
                hostname=hostname,
                revoked_tokens=revoked,
                new_token=token_id,
                by_role=principal.role,
            )
    return Enrolled(token=token, tenant=tenant, replaced=row is not None, revoked_tokens=tuple(revoked))


def _usable_enroll_token(conn: Connection, principal: Principal, now: float) -> bool:
    """Refuse an expired or used-up enroll token; returns whether it may replace."""
    row = conn.execute(
        "SELECT expires_at, uses_max, uses_left, may_replace, revoked_at FROM tokens WHERE id = ?",
        (principal.token_id,),
    ).fetchone()
    if row is None or row[4] is not None:
        raise AuthError("token revoked")  # between authentication and this transaction
    expires_at, uses_max, uses_left, may_replace, _ = row
    hint = _NEW_TOKEN_HINT.format(tenant=principal.tenant)
    if expires_at is not None and now >= expires_at:
        raise AuthError(f"enroll token {principal.token_id} expired at {admin.format_ts(expires_at)}", [hint])
    if uses_left is not None and uses_left <= 0:
        raise ForbiddenError(f"enroll token {principal.token_id} is used up: all {uses_max} enrolments spent", [hint])
    return bool(may_replace)


def _spend_use(conn: Connection, principal: Principal) -> None:
    # The condition makes the decrement itself the check: two collectors
    # spending the last use cannot both succeed.
    cur = conn.execute(
        "UPDATE tokens SET uses_left = uses_left - 1 WHERE id = ? AND uses_left IS NOT NULL AND uses_left > 0",
        (principal.token_id,),
    )
    if cur.rowcount == 0:
        left = conn.execute("SELECT uses_left FROM tokens WHERE id = ?", (principal.token_id,)).fetchone()
        if left is not None and left[0] is not None:
            raise ForbiddenError(f"enroll token {principal.token_id} is used up")
