"""``leitstand-agent snmp probe``: poll one device once and show what the poller would read.

For admins setting up a device: text for a person, or (``--json``) the reading
exactly as it would travel in the wire format's ``snmp`` section.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping

import msgspec

from agent import wire
from agent.snmp.devices import AUTH_PROTOCOLS, KINDS, PRIV_PROTOCOLS, DeviceConfig, parse_devices, parse_target

__all__ = ["add_arguments", "device_from_args", "probe", "render_text"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="HOST[:PORT]", help="device address, port 161 unless given")
    parser.add_argument("--id", default="probe", help="device id to put in the reading (default: probe)")
    parser.add_argument("--kind", choices=KINDS, default="auto", help="profile (default: auto-detect)")
    v2 = parser.add_argument_group("SNMP v2c")
    v2.add_argument("--community", help="community (visible in ps; prefer --community-env)")
    v2.add_argument("--community-env", metavar="VAR", help="read the community from environment variable VAR")
    v3 = parser.add_argument_group("SNMP v3 (USM)")
    v3.add_argument("--v3-user", metavar="USER", help="USM user name: selects SNMP v3")
    v3.add_argument("--auth", choices=AUTH_PROTOCOLS, help="authentication protocol")
    v3.add_argument("--auth-key-env", metavar="VAR", help="read the auth key from environment variable VAR")
    v3.add_argument("--priv", choices=PRIV_PROTOCOLS, help="privacy protocol")
    v3.add_argument("--priv-key-env", metavar="VAR", help="read the priv key from environment variable VAR")
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds per request (default 2)")
    parser.add_argument("--retries", type=int, default=1, help="retries per request (default 1)")
    parser.add_argument("--uplink", action="append", default=[], help="interface name/alias/index that is an uplink")
    parser.add_argument("--json", action="store_true", help="print the wire-format reading as JSON")


def device_from_args(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> DeviceConfig:
    """The probe's device, validated like a [[devices]] entry; raises ValueError."""
    host, port = parse_target(args.target)
    entry: dict[str, object] = {
        "id": args.id,
        "address": host,
        "port": port,
        "kind": args.kind,
        "timeout": args.timeout,
        "retries": args.retries,
        "uplinks": list(args.uplink),
    }
    if args.v3_user:
        entry.update(version="3", user=args.v3_user)
        for key in ("auth", "priv", "auth_key_env", "priv_key_env"):
            if getattr(args, key):
                entry[key] = getattr(args, key)
    else:
        if args.community is not None:
            entry["community"] = args.community
        elif args.community_env:
            entry["community_env"] = args.community_env
        else:
            raise ValueError("give --community, --community-env or --v3-user")
    return parse_devices([entry], env=os.environ if env is None else env)[0]


def probe(device: DeviceConfig) -> wire.SnmpReading:
    # Imported here: `leitstand-agent run` builds this parser too, and asyncio
    # (with subprocess) would cost every agent about 2 MB RSS.
    import asyncio

    from agent.snmp.poller import poll_once  # imports pysnmp

    return asyncio.run(poll_once([device]))[0]


def _line(label: str, value: object) -> str:
    return f"  {label + ':':<22}{'—' if value is None else value}"


def render_text(reading: wire.SnmpReading) -> str:
    out = [f"device {reading.device} at {reading.address}: {reading.kind}, {'ok' if reading.ok else 'FAILED'}"]
    if not reading.ok:
        out.append(f"  error: {reading.error}")
        return "\n".join(out)
    s = reading.sys
    out += [
        _line("sysDescr", s.descr),
        _line("sysName", s.name),
        _line("sysObjectID", s.object_id),
        _line("uptime", f"{s.uptime_s:.0f} s" if s.uptime_s is not None else None),
    ]
    p = reading.printer
    if p is not None:
        out += [
            _line("model", p.model),
            _line("serial", p.serial),
            _line("pages total", p.pages_total),
            _line("pages mono", p.pages_mono),
            _line("pages colour", p.pages_color),
            _line("counters from", p.pages_source),
            _line("status", f"device {p.device_status}, printer {p.printer_status}"),
            _line("errors", ", ".join(p.detected_errors) or "none"),
        ]
        for sup in p.supplies:
            level = f"{sup.percent:.0f} %" if sup.percent is not None else sup.level_state
            out.append(_line(f"supply {sup.index}", f"{sup.description} ({sup.type}): {level}"))
        for tray in p.trays:
            level = f"{tray.percent:.0f} %" if tray.percent is not None else f"level {tray.level_raw}"
            out.append(_line(f"tray {tray.index}", f"{tray.name}: {level}"))
        for alert in p.alerts:
            out.append(_line(f"alert {alert.index}", f"{alert.severity} {alert.code}: {alert.description}"))
    u = reading.ups
    if u is not None:
        for field in msgspec.structs.fields(u):
            out.append(_line(field.name, getattr(u, field.name)))
    if reading.interfaces is not None:
        out.append(f"  interfaces: {len(reading.interfaces)}")
        for i in reading.interfaces:
            speed = f"{i.speed_bps / 1e6:.0f} Mbit/s" if i.speed_bps else "—"
            out.append(
                f"    {i.index:>6} {i.name or i.descr or '':<20} {i.oper_status or '—':<8} {speed:>12}"
                f" in {i.in_octets_total} out {i.out_octets_total} ({i.counter_bits}-bit)"
                + (" uplink" if i.uplink else "")
                + (f" [{i.alias}]" if i.alias else "")
            )
    for note in reading.notes:
        out.append(f"  note: {note}")
    return "\n".join(out)
