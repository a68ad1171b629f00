"""SNMP device families: state of every device, and the readings of its
latest successful poll (``devices.latest``): printer page counters, supplies
and errors, UPS power state, switch interfaces. One query for all devices.

A device's ``site`` is the site a readiness config puts it in, else the site
of the agent that polls it (as the alert rules see it). Readings are
exposed only while the device is ``up``: a stale or failing device keeps
its state series and loses its values.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ..alerting import metric_names as m
from ..alerting.gather import PRINTER_ERRORS
from .source import Family, Source, counter, gauge

__all__ = ["DEVICE_STATES", "PRINTER_STATUSES", "UPS_BATTERY_STATUSES", "device_families"]

DEV = m.DEVICE_LABELS
DEVICE_STATES = ("up", "unreachable", "stale")
#: hrDeviceStatus
PRINTER_STATUSES = ("unknown", "running", "warning", "testing", "down")
#: upsBatteryStatus
UPS_BATTERY_STATUSES = ("normal", "low", "depleted", "unknown")
#: every error condition a printer series can carry (bounded label set)
PRINTER_ERROR_CONDITIONS = (*PRINTER_ERRORS, "deviceDown", "criticalAlert")


def _device_sites(src: Source) -> dict[str, str]:
    sites = getattr(src.readiness, "sites", None) or {}
    return {d: name for name, site in sites.items() for d in (*site.ups, *site.switches)}


def device_families(src: Source) -> Iterator[Family]:
    where, args = src.tenant_sql("d.tenant")
    rows = src.conn.execute(
        "SELECT d.device_id, d.tenant, d.kind, d.agent_id, coalesce(h.site, ''), d.last_seen, d.last_ts, d.ok, "
        "d.readings_total, d.failures_total, d.latest FROM devices d "
        f"LEFT JOIN hosts h ON h.agent_id = d.agent_id WHERE 1 = 1{where} ORDER BY d.tenant, d.device_id",
        args,
    ).fetchall()
    sites = _device_sites(src)

    info = gauge("leitstand_device_info", "SNMP device identity; always 1.", [*DEV, "kind", "agent_id", "name"])
    up = gauge(
        "leitstand_device_up", "1 while the device's latest poll succeeded and is fresh, else 0.", [*DEV, "kind"]
    )
    state = gauge(
        "leitstand_device_state", "1 for the device's current state (up, unreachable, stale).", [*DEV, "state"]
    )
    last = gauge("leitstand_device_last_poll_timestamp_seconds", "Unix time of the device's latest poll.", DEV)
    polls = counter("leitstand_device_polls_total", "Polls of the device reported to the collector.", DEV)
    fails = counter("leitstand_device_poll_failures_total", "Polls of the device that failed.", DEV)
    uptime = gauge("leitstand_device_uptime_seconds", "Device uptime (sysUpTime).", DEV)

    pages = counter("leitstand_printer_pages_total", "Lifetime pages printed (prtMarkerLifeCount).", DEV)
    mono = counter("leitstand_printer_pages_mono_total", "Lifetime black-and-white pages.", DEV)
    color = counter("leitstand_printer_pages_color_total", "Lifetime colour pages.", DEV)
    supply = gauge(
        m.PRINTER_SUPPLY_LEVEL_PERCENT, "Remaining level of a printer supply (0-100).", [*DEV, "supply", "type"]
    )
    error = gauge(m.PRINTER_ERROR, "1 while the error condition is active, else 0.", [*DEV, "error"])
    pstatus = gauge("leitstand_printer_device_status", "1 for the printer's hrDeviceStatus.", [*DEV, "status"])

    on_battery = gauge(m.UPS_ON_BATTERY, "1 while the UPS runs on battery.", DEV)
    runtime = gauge(m.UPS_RUNTIME_SECONDS, "Estimated battery runtime of the UPS.", DEV)
    charge = gauge("leitstand_ups_battery_charge_percent", "Battery charge (0-100).", DEV)
    load = gauge("leitstand_ups_load_percent", "Output load in percent of capacity.", DEV)
    on_batt_s = gauge("leitstand_ups_time_on_battery_seconds", "Seconds since the UPS switched to battery.", DEV)
    bstatus = gauge("leitstand_ups_battery_status", "1 for the UPS battery status.", [*DEV, "status"])
    in_volts = gauge("leitstand_ups_input_volts", "Input voltage.", DEV)
    temp = gauge("leitstand_ups_battery_temperature_celsius", "Battery temperature.", DEV)

    iface = [*DEV, "interface"]
    if_up = gauge("leitstand_switch_interface_up", "1 while the interface is operationally up.", [*iface, "uplink"])
    uplink = gauge(m.SWITCH_UPLINK_UP, "1 while an uplink (not administratively down) is up.", iface)
    speed = gauge("leitstand_switch_interface_speed_bytes", "Interface speed in bytes per second.", iface)
    if_rx = counter("leitstand_switch_interface_receive_bytes_total", "Octets received (ifHCInOctets).", iface)
    if_tx = counter("leitstand_switch_interface_transmit_bytes_total", "Octets sent (ifHCOutOctets).", iface)
    if_rx_err = counter("leitstand_switch_interface_receive_errors_total", "Inbound errors.", iface)
    if_tx_err = counter("leitstand_switch_interface_transmit_errors_total", "Outbound errors.", iface)

    for device, tenant, kind, agent_id, poller_site, last_seen, last_ts, ok, n_polls, n_fails, latest in rows:
        d = [tenant, sites.get(device, poller_site), device]
        reading: dict[str, Any] = json.loads(latest)
        sys = reading.get("sys") or {}
        current = "stale" if src.now - last_seen > src.stale_after_s else ("up" if ok else "unreachable")
        info.add_metric([*d, kind, agent_id, sys.get("name") or ""], 1.0)
        up.add_metric([*d, kind], 1.0 if current == "up" else 0.0)
        for s in DEVICE_STATES:
            state.add_metric([*d, s], 1.0 if s == current else 0.0)
        last.add_metric(d, last_ts)
        polls.add_metric(d, n_polls)
        fails.add_metric(d, n_fails)
        if current != "up":
            continue
        if sys.get("uptime_s") is not None:
            uptime.add_metric(d, sys["uptime_s"])
        printer = reading.get("printer")
        if kind == "printer" and printer:
            for family, key in ((pages, "pages_total"), (mono, "pages_mono"), (color, "pages_color")):
                if printer.get(key) is not None:
                    family.add_metric(d, printer[key])
            for s in printer.get("supplies") or ():
                if s.get("percent") is not None:
                    name = s.get("description") or s.get("type") or f"#{s['index']}"
                    supply.add_metric([*d, name, s.get("type") or ""], s["percent"])
            active = set(printer.get("detected_errors") or ())
            if printer.get("device_status") == "down":
                active.add("deviceDown")
            if any(a.get("severity") == "critical" for a in printer.get("alerts") or ()):
                active.add("criticalAlert")
            for cond in PRINTER_ERROR_CONDITIONS:
                error.add_metric([*d, cond], 1.0 if cond in active else 0.0)
            if printer.get("device_status"):
                for st in PRINTER_STATUSES:
                    pstatus.add_metric([*d, st], 1.0 if printer["device_status"] == st else 0.0)
        ups = reading.get("ups")
        if kind == "ups" and ups:
            on_battery.add_metric(d, 1.0 if ups.get("on_battery") or ups.get("output_source") == "battery" else 0.0)
            for ups_family, key in (
                (runtime, "runtime_s"),
                (charge, "charge_pct"),
                (load, "load_pct"),
                (on_batt_s, "seconds_on_battery"),
                (in_volts, "input_voltage_v"),
                (temp, "battery_temperature_c"),
            ):
                if ups.get(key) is not None:
                    ups_family.add_metric(d, ups[key])
            if ups.get("battery_status"):
                for st in UPS_BATTERY_STATUSES:
                    bstatus.add_metric([*d, st], 1.0 if ups["battery_status"] == st else 0.0)
        for i in reading.get("interfaces") or () if kind == "switch" else ():
            di = [*d, i.get("name") or i.get("descr") or str(i["index"])]
            is_up = 1.0 if i.get("oper_status") == "up" else 0.0
            if_up.add_metric([*di, "true" if i.get("uplink") else "false"], is_up)
            if i.get("uplink") and i.get("admin_status") != "down":
                uplink.add_metric(di, is_up)
            if i.get("speed_bps") is not None:
                speed.add_metric(di, i["speed_bps"] / 8)
            for family, key in (
                (if_rx, "in_octets_total"),
                (if_tx, "out_octets_total"),
                (if_rx_err, "in_errors_total"),
                (if_tx_err, "out_errors_total"),
            ):
                if i.get(key) is not None:
                    family.add_metric(di, i[key])
    yield from (info, up, state, last, polls, fails, uptime, pages, mono, color, supply, error, pstatus)
    yield from (on_battery, runtime, charge, load, on_batt_s, bstatus, in_volts, temp)
    yield from (if_up, uplink, speed, if_rx, if_tx, if_rx_err, if_tx_err)
    yield _refusals(src)


def _refusals(src: Source) -> Family:
    """Readings refused for ownership, per reporting agent (its tenant) and
    device id: only assigned ids are refused, so the label set stays bounded."""
    refused = counter(
        "leitstand_device_readings_refused_total",
        "SNMP readings refused because [devices.assign] gives the device id to other pollers.",
        ["tenant", "agent_id", "device"],
    )
    where, args = src.tenant_sql("tenant")
    for tenant, agent_id, device, total in src.conn.execute(
        f"SELECT tenant, agent_id, device_id, refused_total FROM device_refusals WHERE 1 = 1{where} "
        "ORDER BY tenant, agent_id, device_id",
        args,
    ).fetchall():
        refused.add_metric([tenant, agent_id, device], total)
    return refused
