"""The poller reads what real devices recorded: every value equals the recording's.

Printers, a UPS and switches from tests/snmp/recordings/ (each with its
expected.json), UPS and switch recordings of PyPI snmpsim-data (expected
values read from the recording file itself, by this test, with the MIB's
definitions), all served by snmpsim and polled through pysnmp.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from agent import wire
from agent.snmp.devices import parse_devices
from agent.snmp.poller import poll_once
from tests.snmp.servers import SHARED_SNMP, SnmpSim, read_snmprec

RECORDINGS = sorted(p.name.removesuffix(".expected.json") for p in SHARED_SNMP.glob("*.expected.json"))

DEVICE_STATUS = {1: "unknown", 2: "running", 3: "warning", 4: "testing", 5: "down"}
PRINTER_STATUS = {1: "other", 2: "unknown", 3: "idle", 4: "printing", 5: "warmup"}
SUPPLY_CLASS = {"supplyThatIsConsumed": "consumed", "receptacleThatIsFilled": "filled", "other": "other", None: None}
SPECIAL = {-1: "unrestricted", -2: "unknown", -3: "some_remaining"}


def poll(sim: SnmpSim, community: str, kind: str = "auto", **over: Any) -> wire.SnmpReading:
    entry = {"id": community, "kind": kind, **sim.target(community), **over}
    device = parse_devices([entry], env={})[0]
    return asyncio.run(poll_once([device]))[0]


def expected(name: str) -> dict[str, Any]:
    return json.loads((SHARED_SNMP / f"{name}.expected.json").read_text())


def check_identity(reading: wire.SnmpReading, exp: dict[str, Any]) -> None:
    ident = exp["identity"]
    assert reading.sys.descr == ident["sysDescr"]
    assert reading.sys.object_id == ident["sysObjectID"]
    assert reading.sys.name == ident["sysName"]
    ticks = ident["sysUpTime_ticks"]
    assert reading.sys.uptime_s == (ticks / 100 if ticks is not None else None)


@pytest.mark.skipif(not RECORDINGS, reason="tests/snmp/recordings/ not present")
@pytest.mark.parametrize("name", RECORDINGS)
def test_reading_equals_the_recordings_expected_values(snmpsim: SnmpSim, name: str) -> None:
    exp = expected(name)
    reading = poll(snmpsim, name, exp["kind"])
    assert reading.ok, reading.error
    assert reading.kind == exp["kind"]
    check_identity(reading, exp)
    if exp["kind"] == "printer":
        check_printer(reading, exp)
    elif exp["kind"] == "ups":
        check_ups(reading, exp)
    else:
        # Both switch recordings hold vendor tables only, no IF-MIB rows.
        assert reading.interfaces == []


def check_printer(reading: wire.SnmpReading, exp: dict[str, Any]) -> None:
    printer = reading.printer
    assert printer is not None
    ident = exp["identity"]
    counts = exp["page_counts"]
    vendor = counts.get("vendor") or {}
    # prtMarkerLifeCount first; without it the vendor's own total (Brother's blob).
    total = counts["total"] if counts["total"] is not None else vendor.get("brother_total")
    assert printer.pages_total == total
    assert printer.pages_mono == vendor.get("mono_total")
    assert printer.pages_color == vendor.get("colour_total")
    assert printer.model == ident["hrDeviceDescr.1"]
    assert printer.serial == ident["prtGeneralSerialNumber.1"]
    assert printer.device_status == DEVICE_STATUS.get(ident["hrDeviceStatus.1"])
    assert printer.printer_status == PRINTER_STATUS.get(ident["hrPrinterStatus.1"])
    errors = ident["hrPrinterDetectedErrorState.1"]
    assert printer.detected_errors == (errors["bits_set"] if errors else [])
    assert [s.index for s in printer.supplies] == [s["index"] for s in exp["supplies"]]
    for got, want in zip(printer.supplies, exp["supplies"], strict=True):
        assert got.description == want["description"]
        assert got.type == want["type"]
        assert got.unit == want["unit"]
        assert got.supply_class == SUPPLY_CLASS[want["class"]]
        assert got.level_raw == want["level_raw"]
        assert got.max_capacity_raw == want["max_capacity_raw"]
        assert got.percent == want["percent"]
        assert got.level_state == SPECIAL.get(want["level_raw"], "ok")
    assert [t.index for t in printer.trays] == [t["index"] for t in exp["input_trays"]]
    for tray, want in zip(printer.trays, exp["input_trays"], strict=True):
        assert tray.name == want["name"]
        assert tray.level_raw == want["current_raw"]
        assert tray.max_capacity_raw == want["max_raw"]
        assert tray.percent == want["percent"]
    if counts["total"] is None and total is None:
        # A printer without a page counter says so; it never reports 0 pages.
        assert any("pages_total" in n for n in reading.notes)


def check_ups(reading: wire.SnmpReading, exp: dict[str, Any]) -> None:
    ups = reading.ups
    assert ups is not None
    scaled = exp["ups"]["scaled"]
    assert ups.source == "xups"
    assert ups.charge_pct == scaled["battery_charge_pct"]
    assert ups.battery_voltage_v == scaled["battery_voltage_v"]
    assert ups.input_frequency_hz == scaled["input_frequency_hz"]
    assert ups.output_frequency_hz == scaled["output_frequency_hz"]
    assert ups.input_voltage_v == scaled["input_voltage_v"]
    assert ups.output_voltage_v == scaled["output_voltage_v"]
    assert ups.output_current_a == scaled["output_current_a"]
    assert ups.output_power_w == scaled["output_power_w"]
    assert ups.runtime_s == scaled["battery_runtime_s"]


@pytest.mark.parametrize("name", [n for n in RECORDINGS if n.split("_")[0] != "dell-force10" and "edgeswitch" not in n])
def test_auto_detects_the_kind(snmpsim: SnmpSim, name: str) -> None:
    # The two switch recordings carry no IF-MIB or BRIDGE-MIB: nothing says "switch".
    assert poll(snmpsim, name, "auto").kind == expected(name)["kind"]


# -- snmpsim-data: UPS-MIB units and a 57-port switch --------------------------------


def _int(rec: dict[str, tuple[str, str]], oid: str) -> int | None:
    return int(rec[oid][1]) if oid in rec else None


def _text(rec: dict[str, tuple[str, str]], oid: str) -> str | None:
    if oid not in rec:
        return None
    tag, value = rec[oid]
    return bytes.fromhex(value).decode() if tag == "4x" else value


@pytest.mark.parametrize("name", ["eaton-93e-80", "phoenixtec-power"])
def test_ups_mib_values_equal_the_recording(snmpsim: SnmpSim, name: str) -> None:
    rec = read_snmprec(Path(snmpsim.data_dir) / f"{name}.snmprec")
    reading = poll(snmpsim, name, "auto")
    assert reading.ok and reading.kind == "ups"
    ups = reading.ups
    assert ups is not None and ups.source == "ups-mib"
    u = "1.3.6.1.2.1.33.1"
    battery = {1: "unknown", 2: "normal", 3: "low", 4: "depleted"}
    output = {1: "other", 2: "none", 3: "normal", 4: "bypass", 5: "battery", 6: "booster", 7: "reducer"}

    def scaled(oid: str, factor: float) -> float | None:
        raw = _int(rec, oid)
        return None if raw is None else round(raw * factor, 3)

    assert ups.battery_status == battery[_int(rec, f"{u}.2.1.0")]  # type: ignore[index]
    assert ups.seconds_on_battery == _int(rec, f"{u}.2.2.0")
    assert ups.runtime_s == scaled(f"{u}.2.3.0", 60)
    assert ups.charge_pct == _int(rec, f"{u}.2.4.0")
    assert ups.battery_voltage_v == scaled(f"{u}.2.5.0", 0.1)
    assert ups.battery_temperature_c == _int(rec, f"{u}.2.7.0")
    assert ups.output_source == output[_int(rec, f"{u}.4.1.0")]  # type: ignore[index]
    assert ups.on_battery is (ups.output_source == "battery")
    assert ups.input_voltage_v == _int(rec, f"{u}.3.3.1.3.1")
    assert ups.input_frequency_hz == scaled(f"{u}.3.3.1.2.1", 0.1)
    assert ups.output_voltage_v == _int(rec, f"{u}.4.4.1.2.1")
    assert ups.load_pct == _int(rec, f"{u}.4.4.1.5.1")
    assert reading.sys.uptime_s == int(rec["1.3.6.1.2.1.1.3.0"][1]) / 100


def test_switch_interfaces_equal_the_recording(snmpsim: SnmpSim) -> None:
    rec = read_snmprec(Path(snmpsim.data_dir) / "cisco-c3560.snmprec")
    reading = poll(snmpsim, "cisco-c3560", "auto", uplinks=["Gi0/1"])
    assert reading.ok and reading.kind == "switch"
    assert reading.sys.name == "DUMSYS-04"
    assert (reading.sys.descr or "").startswith("Cisco IOS Software, C3560 Software")
    interfaces = {i.index: i for i in reading.interfaces or []}
    indexes = sorted(int(oid.rsplit(".", 1)[1]) for oid in rec if oid.startswith("1.3.6.1.2.1.2.2.1.1."))
    assert sorted(interfaces) == indexes and len(indexes) == 57
    statuses = {1: "up", 2: "down", 3: "testing", 4: "unknown", 5: "dormant", 6: "notPresent", 7: "lowerLayerDown"}
    bits32 = 0
    for index in indexes:
        got = interfaces[index]
        hc_in = _int(rec, f"1.3.6.1.2.1.31.1.1.1.6.{index}")
        if hc_in is not None:
            assert got.counter_bits == 64
            assert got.in_octets_total == hc_in
            assert got.out_octets_total == _int(rec, f"1.3.6.1.2.1.31.1.1.1.10.{index}")
        else:
            bits32 += 1
            assert got.counter_bits == 32
            assert got.in_octets_total == _int(rec, f"1.3.6.1.2.1.2.2.1.10.{index}")
            assert got.out_octets_total == _int(rec, f"1.3.6.1.2.1.2.2.1.16.{index}")
        assert got.oper_status == statuses[_int(rec, f"1.3.6.1.2.1.2.2.1.8.{index}")]  # type: ignore[index]
        high = _int(rec, f"1.3.6.1.2.1.31.1.1.1.15.{index}")
        assert got.speed_bps == (high * 1_000_000 if high else _int(rec, f"1.3.6.1.2.1.2.2.1.5.{index}"))
        assert got.name == _text(rec, f"1.3.6.1.2.1.31.1.1.1.1.{index}")
        assert got.in_errors_total == _int(rec, f"1.3.6.1.2.1.2.2.1.14.{index}")
        assert got.uplink is (got.name == "Gi0/1")
    assert bits32 == 1  # one interface has no ifHCInOctets: reported as 32-bit
