"""The switch profile: IF-MIB interfaces (ifTable joined with ifXTable).

Octet counters are the 64-bit ifHCInOctets / ifHCOutOctets where the device
has them (``counter_bits = 64``), else the 32-bit ifInOctets / ifOutOctets,
marked ``counter_bits = 32`` so the collector unwraps them. An interface is an
uplink when the device's config lists its name, alias or index, or its alias
matches ``uplink_alias`` (default: the word "uplink").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from agent import wire
from agent.snmp.values import Snapshot, Val, as_int, as_text

__all__ = ["COLUMNS", "FIELDS", "IF_NUMBER", "parse"]

IF_NUMBER = "1.3.6.1.2.1.2.1.0"
IF_TABLE = "1.3.6.1.2.1.2.2.1"
IF_X_TABLE = "1.3.6.1.2.1.31.1.1.1"
INTERFACE_COLUMNS = {
    "descr": f"{IF_TABLE}.2",
    "type": f"{IF_TABLE}.3",
    "speed": f"{IF_TABLE}.5",
    "admin": f"{IF_TABLE}.7",
    "oper": f"{IF_TABLE}.8",
    "in32": f"{IF_TABLE}.10",
    "in_errors": f"{IF_TABLE}.14",
    "out32": f"{IF_TABLE}.16",
    "out_errors": f"{IF_TABLE}.20",
    "name": f"{IF_X_TABLE}.1",
    "in64": f"{IF_X_TABLE}.6",
    "out64": f"{IF_X_TABLE}.10",
    "high_speed": f"{IF_X_TABLE}.15",
    "alias": f"{IF_X_TABLE}.18",
}
SCALARS: tuple[str, ...] = (IF_NUMBER,)
COLUMNS: tuple[str, ...] = tuple(INTERFACE_COLUMNS.values())

#: (field, unit, meaning, OID)
FIELDS: tuple[tuple[str, str, str, str], ...] = (
    ("interfaces[].index", "", "ifIndex", f"{IF_TABLE}.1"),
    ("interfaces[].name", "", "ifName", INTERFACE_COLUMNS["name"]),
    ("interfaces[].descr", "", "ifDescr", INTERFACE_COLUMNS["descr"]),
    ("interfaces[].alias", "", "ifAlias: the description an admin gave the port", INTERFACE_COLUMNS["alias"]),
    (
        "interfaces[].type",
        "",
        "ifType (6 ethernetCsmacd, 161 ieee8023adLag, 53 propVirtual, ...)",
        INTERFACE_COLUMNS["type"],
    ),
    ("interfaces[].admin_status", "", "ifAdminStatus: up, down, testing", INTERFACE_COLUMNS["admin"]),
    (
        "interfaces[].oper_status",
        "",
        "ifOperStatus: up, down, testing, unknown, dormant, notPresent, lowerLayerDown",
        INTERFACE_COLUMNS["oper"],
    ),
    ("interfaces[].speed_bps", "bit/s", "ifHighSpeed x 10^6, else ifSpeed", INTERFACE_COLUMNS["high_speed"]),
    (
        "interfaces[].in_octets_total",
        "bytes",
        "ifHCInOctets, else ifInOctets (counter_bits 32)",
        INTERFACE_COLUMNS["in64"],
    ),
    (
        "interfaces[].out_octets_total",
        "bytes",
        "ifHCOutOctets, else ifOutOctets (counter_bits 32)",
        INTERFACE_COLUMNS["out64"],
    ),
    ("interfaces[].counter_bits", "", "64 or 32: where a 32-bit counter wraps", ""),
    ("interfaces[].in_errors_total", "packets", "ifInErrors", INTERFACE_COLUMNS["in_errors"]),
    ("interfaces[].out_errors_total", "packets", "ifOutErrors", INTERFACE_COLUMNS["out_errors"]),
    ("interfaces[].uplink", "", "configured as uplink, or alias matches uplink_alias", ""),
)

_STATUS = {1: "up", 2: "down", 3: "testing", 4: "unknown", 5: "dormant", 6: "notPresent", 7: "lowerLayerDown"}

#: for profile detection
PROBE: tuple[str, ...] = (IF_NUMBER,)


def _counter(row: dict[str, Val], key: str) -> int | None:
    val = row.get(key)
    if val is None or val.tag not in ("counter32", "counter64"):
        return None
    value = as_int(val)
    return value if value is not None and value >= 0 else None


def parse(
    snap: Snapshot, notes: list[str], *, uplinks: Sequence[str] = (), uplink_alias: str = r"(?i)\buplink\b"
) -> list[wire.Interface]:
    alias_re = re.compile(uplink_alias)
    wanted = set(uplinks)
    out: list[wire.Interface] = []
    for index, row in snap.rows(INTERFACE_COLUMNS).items():
        if not index.isdigit():
            notes.append(f"interfaces: row index {index!r} is not an ifIndex; skipped")
            continue
        what = f"interfaces[{index}]"
        in64, out64 = _counter(row, "in64"), _counter(row, "out64")
        bits = 64
        if in64 is None and out64 is None:
            bits = 32
            in_octets, out_octets = _counter(row, "in32"), _counter(row, "out32")
        else:
            in_octets, out_octets = in64, out64
        for key in ("in32", "out32", "in64", "out64"):
            val = row.get(key)
            if val is not None and val.tag not in ("counter32", "counter64"):
                notes.append(f"{what}.{key}: expected a counter, got {val.tag}")
        high = as_int(row.get("high_speed"))
        speed = as_int(row.get("speed"))
        # ifSpeed saturates at 4,294,967,295 for links of 4 Gbit/s and more; ifHighSpeed is in Mbit/s.
        speed_bps = high * 1_000_000 if high else speed if speed is not None and speed >= 0 else None
        name = as_text(row.get("name"), notes, f"{what}.name")
        alias = as_text(row.get("alias"), notes, f"{what}.alias")
        descr = as_text(row.get("descr"), notes, f"{what}.descr")
        uplink = bool({index, name, alias, descr} & wanted) or bool(alias and alias_re.search(alias))
        admin, oper = as_int(row.get("admin")), as_int(row.get("oper"))
        in_err, out_err = _counter(row, "in_errors"), _counter(row, "out_errors")
        if_type = as_int(row.get("type"))
        out.append(
            wire.Interface(
                index=int(index),
                name=name,
                descr=descr,
                alias=alias,
                type=if_type if if_type is not None and -(2**31) <= if_type < 2**32 else None,
                admin_status=_STATUS.get(admin, f"code-{admin}") if admin is not None else None,
                oper_status=_STATUS.get(oper, f"code-{oper}") if oper is not None else None,
                speed_bps=speed_bps,
                in_octets_total=in_octets,
                out_octets_total=out_octets,
                counter_bits=bits,  # type: ignore[arg-type]
                in_errors_total=in_err,
                out_errors_total=out_err,
                uplink=uplink,
            )
        )
    return out
