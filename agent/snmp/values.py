"""Decoded SNMP values and the snapshot one poll produces. Pure: no pysnmp here.

The engine turns each varbind into a :class:`Val` (a type tag and a plain
Python value); profiles read a :class:`Snapshot` of scalars and walked table
columns and never see pysnmp objects, so they are tested with recorded values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

__all__ = ["EXCEPTIONS", "Snapshot", "Val", "as_int", "as_text", "hex_bytes", "oid_key"]

Tag = Literal[
    "int",
    "str",
    "oid",
    "ip",
    "counter32",
    "counter64",
    "gauge32",
    "ticks",
    "opaque",
    "null",
    "noSuchObject",
    "noSuchInstance",
    "endOfMibView",
]
#: Tags that mean "the device has no value here" (RFC 3416 exceptions).
EXCEPTIONS = frozenset({"null", "noSuchObject", "noSuchInstance", "endOfMibView"})
_INT_TAGS = frozenset({"int", "counter32", "counter64", "gauge32", "ticks"})


class Val(NamedTuple):
    tag: Tag
    value: int | bytes | str | None = None


def oid_key(oid: str) -> tuple[int, ...]:
    """Sort key: OIDs compare numerically, arc by arc."""
    return tuple(int(p) for p in oid.split("."))


@dataclass
class Snapshot:
    """What a poll read: ``scalars`` by OID, ``columns`` by column OID -> {row index: value}.

    ``truncated`` names the columns a walk cut short (row limit, timeout,
    non-increasing OIDs); their rows are partial.
    """

    scalars: dict[str, Val] = field(default_factory=dict)
    columns: dict[str, dict[str, Val]] = field(default_factory=dict)
    truncated: set[str] = field(default_factory=set)

    def scalar(self, oid: str) -> Val | None:
        return self.scalars.get(oid)

    def column(self, oid: str) -> dict[str, Val]:
        return self.columns.get(oid, {})

    def rows(self, columns: Mapping[str, str]) -> dict[str, dict[str, Val]]:
        """Join columns by row index: {index: {name: value}}, rows in OID order."""
        table: dict[str, dict[str, Val]] = {}
        for name, oid in columns.items():
            for index, val in self.column(oid).items():
                table.setdefault(index, {})[name] = val
        return {k: table[k] for k in sorted(table, key=oid_key)}


def as_int(val: Val | None, notes: list[str] | None = None, what: str = "") -> int | None:
    """The integer in ``val``; None (and a note) for exceptions and garbage."""
    if val is None:
        return None
    if val.tag in _INT_TAGS and isinstance(val.value, int):
        return val.value
    if notes is not None and what:
        if val.tag in EXCEPTIONS:
            notes.append(f"{what}: {val.tag}")
        else:
            notes.append(f"{what}: expected an integer, got {val.tag}")
    return None


def as_text(val: Val | None, notes: list[str] | None = None, what: str = "", limit: int = 256) -> str | None:
    """A display string: OCTET STRING decoded as UTF-8 (else Latin-1), NULs and padding stripped."""
    if val is None or val.tag in EXCEPTIONS:
        return None
    raw = val.value
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
    elif isinstance(raw, str):
        text = raw
    elif isinstance(raw, int):
        if notes is not None and what:
            notes.append(f"{what}: expected a string, got {val.tag}")
        return None
    else:
        return None
    text = text.replace("\x00", "").strip()
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return text[:limit]


def hex_bytes(val: Val | None) -> bytes | None:
    if val is None or not isinstance(val.value, bytes):
        return None
    return val.value
