"""The error both SNMP engines raise for a poll that failed as a whole (no pysnmp here)."""

from __future__ import annotations

__all__ = ["SnmpError"]


class SnmpError(Exception):
    """A poll that failed as a whole; the message is safe to log and report (never a secret)."""
