"""The ``[[contacts]]`` and ``[escalation]`` sections of the collector's TOML:
whom on-call calls, and after how long, per alert severity.

Runbooks show these in their escalation block when they are served (see
``collector.alerting.escalation``). Types are checked by msgspec like every
other section; durations and team names are checked here, with file and line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

import msgspec

from .errors import ConfigError
from .readiness.config import Duration, dotted, locate, parse_duration

__all__ = ["SEVERITIES", "ContactConfig", "EscalationConfig", "contact_problems", "limit_s"]

SEVERITIES = ("critical", "warning", "info")
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
Team = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
# digits, spaces and the usual separators; a leading + for international numbers
_PHONE = re.compile(r"^\+?[0-9][0-9 ()/.-]{2,40}$")


class _Section(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class ContactConfig(_Section):
    #: what the person is called upon as, e.g. "Rufbereitschaft IT-Betrieb"
    role: Text
    name: Text
    #: digits, spaces and + ( ) / - . (checked in contact_problems, with an example)
    phone: Text
    #: when the number is answered, e.g. "Mo–Fr 7–17 Uhr" or "24/7"; empty: not stated
    hours: Annotated[str, msgspec.Meta(max_length=120)] = ""
    #: runbook owners (front matter `owner`) this contact serves; empty: every runbook
    teams: list[Team] = []


class EscalationConfig(_Section):
    #: escalate to the next contact when an alert of this severity is not solved within this time
    critical: Duration = "15m"
    warning: Duration = "4h"
    info: Duration = "1d"
    #: show names and phone numbers in runbooks read without a token (the HTML page
    #: behind alert links); off: only token holders (TUI, API) see them
    public_contacts: bool = False


def limit_s(escalation: EscalationConfig, severity: str) -> float | None:
    """Seconds until escalation for a severity; None for a severity without a limit."""
    if severity not in SEVERITIES:
        return None
    return parse_duration(getattr(escalation, severity))


def contact_problems(
    contacts: list[ContactConfig], escalation: EscalationConfig, teams: Iterable[str], path: Path, text: str
) -> None:
    """ConfigError naming file, line and key for a duration without unit or a
    team no runbook has (``teams``: the owners of the runbooks in use)."""
    known = sorted(set(teams))
    found: list[tuple[tuple[str | int, ...], str]] = []
    for severity in SEVERITIES:
        try:
            parse_duration(getattr(escalation, severity))
        except ValueError as exc:
            found.append((("escalation", severity), str(exc)))
    for n, contact in enumerate(contacts):
        if not _PHONE.match(contact.phone):
            found.append(
                (
                    ("contacts", n, "phone"),
                    f"{contact.phone!r} is not a phone number: digits, spaces and + ( ) / - . only, "
                    'e.g. "+49 4441 123-456" or "04441 123-456"',
                )
            )
        for team in contact.teams:
            if team not in known:
                found.append(
                    (("contacts", n, "teams"), f"no runbook has owner {team!r}; runbook owners: {', '.join(known)}")
                )
    if found:
        lines = []
        for keys, message in found:
            line = locate(text, keys)
            lines.append(f"{path}:{line}: {dotted(keys)}: {message}" if line else f"{path}: {dotted(keys)}: {message}")
        raise ConfigError("\n".join(lines))
