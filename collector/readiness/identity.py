"""Which enrolled agent a configured instance or evidence source is: pure logic.

Readiness evidence is only as good as the identity behind it. A hostname is
whatever an agent says it is: any agent enrolled in the tenant (a thin client
with a fresh enroll token) may report ``emw-db-2``. So an ``agent = "<id>"``
binds exactly that enrolled agent, and a ``host = "<name>"`` counts only when
exactly one agent of the application's tenant answers to it (by hostname or
agent id). Two or more are a conflict that fails the check with its own
evidence, never a pass, and never "the most recently seen one".
Hosts of other tenants are never offered here (the caller reads one tenant).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Resolution", "resolve"]


@dataclass(frozen=True)
class Resolution:
    #: the one enrolled agent the name stands for; None: none or several
    agent_id: str | None
    #: several agents claim the name: their ids, sorted (empty otherwise)
    claimed_by: tuple[str, ...] = ()

    @property
    def ambiguous(self) -> bool:
        return len(self.claimed_by) > 1


def resolve(host: str, agent: str, enrolled: Sequence[tuple[str, str]]) -> Resolution:
    """Resolve a config entry against the tenant's enrolled ``(agent_id, hostname)`` pairs.

    ``agent`` (when given) binds by agent id and ignores hostnames entirely;
    otherwise ``host`` must name exactly one agent, by hostname or agent id.
    """
    if agent:
        return Resolution(agent if any(a == agent for a, _ in enrolled) else None)
    claims = sorted({a for a, hostname in enrolled if hostname == host or a == host})
    if len(claims) == 1:
        return Resolution(claims[0])
    return Resolution(None, tuple(claims))
