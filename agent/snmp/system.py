"""The generic profile: the system group every SNMP agent answers (SNMPv2-MIB)."""

from __future__ import annotations

from agent import wire
from agent.snmp.values import Snapshot, as_int, as_text

__all__ = ["FIELDS", "SCALARS", "parse"]

SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"
SYS_LOCATION = "1.3.6.1.2.1.1.6.0"

SCALARS: tuple[str, ...] = (SYS_DESCR, SYS_OBJECT_ID, SYS_UPTIME, SYS_NAME, SYS_LOCATION)
COLUMNS: tuple[str, ...] = ()

#: (field, unit, meaning, OID)
FIELDS: tuple[tuple[str, str, str, str], ...] = (
    ("sys.descr", "", "sysDescr: model and firmware as the device describes itself", SYS_DESCR),
    ("sys.object_id", "", "sysObjectID: vendor and model OID", SYS_OBJECT_ID),
    ("sys.name", "", "sysName", SYS_NAME),
    ("sys.location", "", "sysLocation", SYS_LOCATION),
    ("sys.uptime_s", "s", "sysUpTime / 100: time since the SNMP agent (re)started", SYS_UPTIME),
)


def parse(snap: Snapshot, notes: list[str]) -> wire.SnmpSys:
    ticks = as_int(snap.scalar(SYS_UPTIME), notes, "sys.uptime_s")
    oid = snap.scalar(SYS_OBJECT_ID)
    object_id = oid.value if oid is not None and oid.tag == "oid" and isinstance(oid.value, str) else None
    return wire.SnmpSys(
        descr=as_text(snap.scalar(SYS_DESCR), notes, "sys.descr", limit=1024),
        object_id=object_id,
        name=as_text(snap.scalar(SYS_NAME), notes, "sys.name"),
        location=as_text(snap.scalar(SYS_LOCATION), notes, "sys.location"),
        uptime_s=ticks / 100.0 if ticks is not None and ticks >= 0 else None,
    )
