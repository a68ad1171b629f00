"""The UPS profile: UPS-MIB (RFC 1628), else APC PowerNet, else Eaton XUPS-MIB.

Each source is a table of (field, OID, scale): the value read is multiplied by
the scale (UPS-MIB frequencies are in 0.1 Hz, APC runtimes in TimeTicks, ...).
"""

from __future__ import annotations

from agent import wire
from agent.snmp.values import Snapshot, as_int

__all__ = ["FIELDS", "SCALARS", "SOURCES", "parse"]

UPS = "1.3.6.1.2.1.33.1"
APC = "1.3.6.1.4.1.318.1.1.1"
XUPS = "1.3.6.1.4.1.534.1"

# (wire field, OID, scale)
Map = tuple[tuple[str, str, float], ...]

UPS_MIB: Map = (
    ("battery_status", f"{UPS}.2.1.0", 1),
    ("seconds_on_battery", f"{UPS}.2.2.0", 1),
    ("runtime_s", f"{UPS}.2.3.0", 60),  # upsEstimatedMinutesRemaining
    ("charge_pct", f"{UPS}.2.4.0", 1),
    ("battery_voltage_v", f"{UPS}.2.5.0", 0.1),
    ("battery_temperature_c", f"{UPS}.2.7.0", 1),
    ("input_frequency_hz", f"{UPS}.3.3.1.2.1", 0.1),
    ("input_voltage_v", f"{UPS}.3.3.1.3.1", 1),
    ("output_source", f"{UPS}.4.1.0", 1),
    ("output_frequency_hz", f"{UPS}.4.2.0", 0.1),
    ("output_voltage_v", f"{UPS}.4.4.1.2.1", 1),
    ("output_current_a", f"{UPS}.4.4.1.3.1", 0.1),
    ("output_power_w", f"{UPS}.4.4.1.4.1", 1),
    ("load_pct", f"{UPS}.4.4.1.5.1", 1),
)
APC_POWERNET: Map = (
    ("battery_status", f"{APC}.2.1.1.0", 1),
    ("seconds_on_battery", f"{APC}.2.1.2.0", 0.01),  # TimeTicks
    ("charge_pct", f"{APC}.2.2.1.0", 1),
    ("battery_temperature_c", f"{APC}.2.2.2.0", 1),
    ("runtime_s", f"{APC}.2.2.3.0", 0.01),  # TimeTicks
    ("battery_voltage_v", f"{APC}.2.2.8.0", 1),
    ("input_voltage_v", f"{APC}.3.2.1.0", 1),
    ("input_frequency_hz", f"{APC}.3.2.4.0", 1),
    ("output_source", f"{APC}.4.1.1.0", 1),
    ("output_voltage_v", f"{APC}.4.2.1.0", 1),
    ("output_frequency_hz", f"{APC}.4.2.2.0", 1),
    ("load_pct", f"{APC}.4.2.3.0", 1),
    ("output_current_a", f"{APC}.4.2.4.0", 1),
)
XUPS_MIB: Map = (
    ("runtime_s", f"{XUPS}.2.1.0", 1),
    ("battery_voltage_v", f"{XUPS}.2.2.0", 1),
    ("charge_pct", f"{XUPS}.2.4.0", 1),
    ("battery_status", f"{XUPS}.2.5.0", 1),  # xupsBatteryAbmStatus
    ("input_frequency_hz", f"{XUPS}.3.1.0", 0.1),
    ("input_voltage_v", f"{XUPS}.3.4.1.2.1", 1),
    ("load_pct", f"{XUPS}.4.1.0", 1),
    ("output_frequency_hz", f"{XUPS}.4.2.0", 0.1),
    ("output_voltage_v", f"{XUPS}.4.4.1.2.1", 1),
    ("output_current_a", f"{XUPS}.4.4.1.3.1", 1),
    ("output_power_w", f"{XUPS}.4.4.1.4.1", 1),
    ("output_source", f"{XUPS}.4.5.0", 1),
)
SOURCES: tuple[tuple[str, Map], ...] = (("ups-mib", UPS_MIB), ("apc", APC_POWERNET), ("xups", XUPS_MIB))
SCALARS: tuple[str, ...] = tuple(oid for _, table in SOURCES for _, oid, _ in table)
COLUMNS: tuple[str, ...] = ()

# Enumerations per source, mapped to the wire's words.
_BATTERY = {
    "ups-mib": {1: "unknown", 2: "normal", 3: "low", 4: "depleted"},
    "apc": {1: "unknown", 2: "normal", 3: "low", 4: "fault"},
    "xups": {1: "charging", 2: "discharging", 3: "floating", 4: "resting", 5: "unknown"},
}
_OUTPUT = {
    "ups-mib": {1: "other", 2: "none", 3: "normal", 4: "bypass", 5: "battery", 6: "booster", 7: "reducer"},
    "apc": {
        1: "unknown",
        2: "normal",
        3: "battery",
        4: "booster",
        5: "sleeping",
        6: "bypass",
        7: "none",
        8: "rebooting",
        9: "bypass",
        10: "bypass",
        11: "sleeping",
        12: "reducer",
    },
    "xups": {1: "other", 2: "none", 3: "normal", 4: "bypass", 5: "battery", 6: "booster", 7: "reducer"},
}

#: (field, unit, meaning)
FIELDS: tuple[tuple[str, str, str], ...] = (
    ("ups.source", "", "the MIB that answered: ups-mib (RFC 1628), apc (PowerNet), xups (Eaton)"),
    ("ups.on_battery", "", "true when the output is fed from the battery"),
    ("ups.output_source", "", "normal, battery, bypass, booster, reducer, none, other"),
    ("ups.battery_status", "", "normal, low, depleted (ups-mib), fault (apc), charging/floating/... (xups)"),
    ("ups.charge_pct", "%", "estimated battery charge"),
    ("ups.runtime_s", "s", "estimated runtime on battery at the current load"),
    ("ups.seconds_on_battery", "s", "time since the switch to battery (0 on mains)"),
    ("ups.load_pct", "%", "output load of the rated capacity (phase 1)"),
    ("ups.battery_voltage_v", "V", "battery voltage"),
    ("ups.battery_temperature_c", "°C", "battery temperature"),
    ("ups.input_voltage_v", "V", "input voltage (phase 1)"),
    ("ups.input_frequency_hz", "Hz", "input frequency"),
    ("ups.output_voltage_v", "V", "output voltage (phase 1)"),
    ("ups.output_frequency_hz", "Hz", "output frequency"),
    ("ups.output_current_a", "A", "output current (phase 1)"),
    ("ups.output_power_w", "W", "output power (phase 1)"),
)

#: for profile detection: an answer here says "this is a UPS"
PROBE: tuple[str, ...] = (UPS_MIB[0][1], APC_POWERNET[0][1], XUPS_MIB[2][1])


def parse(snap: Snapshot, notes: list[str]) -> wire.Ups | None:
    """The first source with any answer; None (and a note) when no UPS MIB answers."""
    for source, table in SOURCES:
        raw = {name: as_int(snap.scalar(oid)) for name, oid, _ in table}
        if all(v is None for v in raw.values()):
            continue
        values: dict[str, object] = {}
        for name, oid, scale in table:
            value = as_int(snap.scalar(oid), notes if snap.scalar(oid) is not None else None, f"ups.{name}")
            if value is None:
                continue
            if name == "battery_status":
                values[name] = _BATTERY[source].get(value, f"code-{value}")
            elif name == "output_source":
                values[name] = _OUTPUT[source].get(value, f"code-{value}")
            elif value < 0 and name != "battery_temperature_c":
                notes.append(f"ups.{name}: negative value {value}")
            else:
                scaled = value * scale
                values[name] = round(scaled, 3) if isinstance(scaled, float) else scaled
        charge = values.get("charge_pct")
        if isinstance(charge, int | float) and charge > 100:
            notes.append(f"ups.charge_pct: {charge} is above 100")
            del values["charge_pct"]
        output = values.get("output_source")
        on_battery = None if output is None or str(output).startswith("code-") else output == "battery"
        return wire.Ups(source=source, on_battery=on_battery, **values)  # type: ignore[arg-type]
    notes.append("ups: no UPS-MIB, APC PowerNet or Eaton XUPS values answered")
    return None
