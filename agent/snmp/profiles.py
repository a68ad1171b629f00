"""Profiles by kind: which OIDs a poll reads and how the snapshot becomes a reading.

Pure: the engine fetches, these functions plan and parse. ``auto`` is resolved
by :func:`detect` from one GET of the system group and a few probe OIDs.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent import wire
from agent.snmp import printer, switch, system, ups
from agent.snmp.devices import DeviceConfig
from agent.snmp.values import EXCEPTIONS, Snapshot, Val, as_int

__all__ = ["DETECT_OIDS", "PROFILES", "Plan", "build", "detect", "plan"]

Kind = str  # printer | ups | switch | generic

BRIDGE_NUM_PORTS = "1.3.6.1.2.1.17.1.2.0"
DETECT_OIDS: tuple[str, ...] = (
    *system.SCALARS,
    *printer.PROBE,
    *ups.PROBE,
    switch.IF_NUMBER,
    BRIDGE_NUM_PORTS,
)
#: vendor enterprise numbers whose sysObjectID says the kind when the MIBs are ambiguous
_ENTERPRISE_KIND = {"318": "ups", "534": "ups", "705": "ups", "935": "ups"}


@dataclass(frozen=True)
class Plan:
    scalars: tuple[str, ...]
    columns: tuple[str, ...]


PROFILES: dict[Kind, Plan] = {
    "generic": Plan(system.SCALARS, ()),
    "printer": Plan(system.SCALARS + printer.SCALARS, printer.COLUMNS),
    "ups": Plan(system.SCALARS + ups.SCALARS, ()),
    "switch": Plan(system.SCALARS + switch.SCALARS, switch.COLUMNS),
}


def plan(kind: Kind) -> Plan:
    return PROFILES[kind]


def _answered(val: Val | None) -> bool:
    return val is not None and val.tag not in EXCEPTIONS


def detect(values: dict[str, Val]) -> Kind:
    """The kind of a device from the answers to :data:`DETECT_OIDS`."""
    if any(_answered(values.get(oid)) for oid in printer.PROBE):
        return "printer"
    if any(_answered(values.get(oid)) for oid in ups.PROBE):
        return "ups"
    object_id = values.get(system.SYS_OBJECT_ID)
    if object_id is not None and isinstance(object_id.value, str):
        parts = object_id.value.split(".")
        if object_id.value.startswith("1.3.6.1.4.1.") and len(parts) > 6:
            kind = _ENTERPRISE_KIND.get(parts[6])
            if kind:
                return kind
    ports = as_int(values.get(BRIDGE_NUM_PORTS))
    if_number = as_int(values.get(switch.IF_NUMBER))
    if (ports is not None and ports > 0) or (if_number is not None and if_number >= 8):
        return "switch"
    return "generic"


def build(kind: Kind, device: DeviceConfig, snap: Snapshot, notes: list[str]) -> dict[str, object]:
    """The reading's fields (sys and the kind's section) from a snapshot."""
    fields: dict[str, object] = {"sys": system.parse(snap, notes)}
    for col in sorted(snap.truncated):
        notes.append(f"table {col} cut short (row limit, timeout or non-increasing OIDs); rows may be missing")
    if kind == "printer":
        fields["printer"] = printer.parse(snap, notes)
    elif kind == "ups":
        fields["ups"] = ups.parse(snap, notes)
    elif kind == "switch":
        fields["interfaces"] = switch.parse(snap, notes, uplinks=device.uplinks, uplink_alias=device.uplink_alias)
    return fields


def reading(device: DeviceConfig, kind: Kind, snap: Snapshot, ts: float) -> wire.SnmpReading:
    notes: list[str] = []
    fields = build(kind, device, snap, notes)
    return wire.SnmpReading(
        device=device.id,
        kind=kind,  # type: ignore[arg-type]
        ok=True,
        ts=ts,
        address=device.target,
        notes=notes[:256],
        **fields,  # type: ignore[arg-type]
    )
