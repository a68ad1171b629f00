"""System family: load, interactive sessions, and the host facts that go into AgentInfo."""

from __future__ import annotations

import platform
import socket
from typing import Any, Final

__all__ = ["FIELDS", "boot_time", "hostname", "load1", "os_string", "session_count"]

FIELDS: Final = (
    # (name, unit, help) -- wire.Report and wire.AgentInfo fields this module fills
    ("load1", "", "One-minute load average: runnable plus uninterruptible tasks."),
    ("sessions", "sessions", "Interactive login sessions (terminals); never who is logged in."),
    ("boot_time", "seconds", "Unix time the host booted."),
    ("os", "", "Operating system name and kernel release."),
    ("hostname", "", "Host name as the host reports it."),
)

_MAX_HOSTNAME: Final = 128
_MAX_OS: Final = 256


def load1(ps: Any) -> float:
    """One-minute load average (psutil emulates it on Windows; 0.0 at first there)."""
    return max(float(ps.getloadavg()[0]), 0.0)


def session_count(ps: Any) -> int:
    """Number of interactive sessions, counted by terminal.

    Only the count leaves this function: user names are read by psutil but dropped
    here, so they cannot end up in a report by accident.
    """
    terminals: set[object] = set()
    for index, user in enumerate(ps.users()):
        terminal = getattr(user, "terminal", None)
        # A session without a terminal (some display managers) still is one session.
        terminals.add(terminal if terminal else ("no-terminal", getattr(user, "pid", None) or index))
    return len(terminals)


def boot_time(ps: Any) -> float:
    return max(float(ps.boot_time()), 0.0)


def os_string() -> str:
    """E.g. ``Linux 6.1.0-18-amd64``, as DESIGN.md's wire example shows."""
    text = f"{platform.system()} {platform.release()}".strip()
    return text[:_MAX_OS]


def hostname() -> str:
    # wire.AgentInfo requires 1..128 characters; an unnamed host still has to report.
    name = socket.gethostname() or platform.node() or "localhost"
    return name[:_MAX_HOSTNAME]
