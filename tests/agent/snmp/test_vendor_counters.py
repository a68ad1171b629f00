"""Vendor page counters (agent/snmp/vendors.py): mono/colour from every office
printer family, read through the real poller from snmpsim-served recordings of
real devices, and each family's formula on the OIDs its sources name."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from agent.snmp import printer, system, vendors
from agent.snmp.devices import parse_devices
from agent.snmp.poller import poll_once
from agent.snmp.values import Snapshot, Val
from tests.snmp.servers import SHARED_SNMP, SnmpSim

#: recording -> pages_source the poller must report
SOURCES = {
    "brother_dcp-9020cdw": "printer-mib+brother",
    "brother_dcp-l3550cdw": "brother",
    "brother_hl-l2340dw": "printer-mib+brother:no-split",
    "brother_hl-l8260cdw": "printer-mib+brother:no-split",
    "brother_mfc-l2710dw": "brother:no-split",
    "canon_imageprograf-tm-5300": "printer-mib+canon:no-split",
    "dell_s5830dn": None,
    "epson_cw-c6500au": "printer-mib+epson:no-split",
    "epson_sc-t3405": "printer-mib+epson:no-split",
    "epson_wf-c5790": "epson:no-split",
    "hp_laserjet-mfp-m130nw": "printer-mib+hp",
    "kyocera_cs-4053ci": "printer-mib+kyocera",
    "kyocera_ecosys-p2040dw": "printer-mib+kyocera:no-split",
    "konica-minolta_bizhub-c250i": "printer-mib+konica-minolta",
    "konica-minolta_bizhub-c3110": "konica-minolta:no-split",
    "sharp_mx-3570n": "printer-mib+sharp",
    "toshiba_e-studio338cs": "printer-mib+toshiba:no-split",
    "xerox_altalink-c8045": "xerox:no-split",
}


def _expected(name: str) -> dict[str, Any]:
    return json.loads((SHARED_SNMP / f"{name}.expected.json").read_text())


def test_every_printer_recording_is_listed() -> None:
    printers = {p.name.removesuffix(".expected.json") for p in SHARED_SNMP.glob("*.expected.json")}
    assert {n for n in printers if _expected(n)["kind"] == "printer"} == set(SOURCES)


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_recording_polled_gives_mono_colour_total_and_source(snmpsim: SnmpSim, name: str) -> None:
    exp = _expected(name)
    device = parse_devices([{"id": name, "kind": "printer", **snmpsim.target(name)}], env={})[0]
    reading = asyncio.run(poll_once([device]))[0]
    assert reading.ok, reading.error
    p = reading.printer
    assert p is not None
    vendor = exp["page_counts"].get("vendor") or {}
    assert p.pages_mono == vendor.get("mono_total")
    assert p.pages_color == vendor.get("colour_total")
    assert p.pages_source == SOURCES[name]
    if p.pages_source and p.pages_source.endswith(":no-split"):
        # No split: null, never 0, and the total (if any) is what the device counts.
        assert p.pages_mono is None and p.pages_color is None
    assert [s.level_raw for s in p.supplies] == [s["level_raw"] for s in exp["supplies"]]


def test_sharp_mono_plus_colour_is_the_lifetime_count(snmpsim: SnmpSim) -> None:
    device = parse_devices([{"id": "s", "kind": "auto", **snmpsim.target("sharp_mx-3570n")}], env={})[0]
    reading = asyncio.run(poll_once([device]))[0]
    p = reading.printer
    assert reading.kind == "printer" and p is not None
    assert (p.pages_mono, p.pages_color, p.pages_total) == (91164, 29940, 121104)
    assert p.pages_mono + p.pages_color == p.pages_total  # scans (…3.7/3.8) are not in it
    assert "lowToner" in p.detected_errors


def test_konica_recording_without_counters_says_so(snmpsim: SnmpSim) -> None:
    # LibreNMS tests/snmpsim/konica.snmprec (bizhub C3110, sysObjectID 1.3.6.1.4.1.18334.1.1.1.2.1.117.2.2)
    # has no kmCounter lines (no 1.3.6.1.4.1.18334.1.1.1.5.7.2.*; its only private lines are
    # …18334.1.1.1.1.6.1.0 and …6.2.1.0, firmware and OEM name) and no prtMarkerLifeCount
    # (no 1.3.6.1.2.1.43.10.2.1.4.*): nothing to bill from, and the reading must say so, not show 0.
    device = parse_devices([{"id": "km", "kind": "auto", **snmpsim.target("konica-minolta_bizhub-c3110")}], env={})[0]
    reading = asyncio.run(poll_once([device]))[0]
    p = reading.printer
    assert reading.ok and reading.kind == "printer" and p is not None
    assert (p.pages_total, p.pages_mono, p.pages_color) == (None, None, None)
    assert p.pages_source == "konica-minolta:no-split"
    # Supplies from …43.11.1.1.9.1.1-4 (toner C/M/Y/K) and …9.1.13 = -3 (waste box: "some remaining").
    assert [s.level_raw for s in p.supplies][:4] == [29, 31, 58, 83]
    assert p.supplies[12].level_raw == -3


def _printer(snmpsim: SnmpSim, name: str) -> Any:
    """The printer part of one poll of the recording ``name``, detected as a printer (kind auto)."""
    device = parse_devices([{"id": name, "kind": "auto", **snmpsim.target(name)}], env={})[0]
    reading = asyncio.run(poll_once([device]))[0]
    assert reading.ok and reading.kind == "printer" and reading.printer is not None, reading.error
    return reading.printer


def test_konica_c250i_black_and_colour_copy_plus_print(snmpsim: SnmpSim) -> None:
    # LibreNMS tests/snmpsim/konica_c250i.snmprec (bizhub C250i), kmCounter …18334.1.1.1.5.7.2.2.1.5.<colour>.<fn>:
    # .1.1|2|3672 (copy black), .1.2|2|22876 (print black), .2.1|2|544 (copy colour), .2.2|2|6711 (print colour);
    # LibreNMS's own expected sensors (tests/data/konica_c250i.json) name them the same. No total …5.7.2.1.1.0 here,
    # so the total is prtMarkerLifeCount …43.10.2.1.4.1.1|65|33810.
    p = _printer(snmpsim, "konica-minolta_bizhub-c250i")
    assert (p.pages_mono, p.pages_color, p.pages_total) == (3672 + 22876, 544 + 6711, 33810)
    assert p.pages_source == "printer-mib+konica-minolta"
    # Scans (.1.5.0 = 5653) and the duplex count (.1.3.0 = 7357) stay out: mono + colour is 7 short of the
    # engine's lifetime count (pages no copy/print counter holds, e.g. reports), never above it.
    assert 0 <= p.pages_total - (p.pages_mono + p.pages_color) == 7
    # Toner C/M/Y/K …43.11.1.1.9.1.1-4 and the waste box …9.1.13 = -3 ("some remaining").
    assert [s.level_raw for s in p.supplies] == [76, 78, 77, 86, -3]


def test_toshiba_on_lexmarks_number_is_toshiba(snmpsim: SnmpSim) -> None:
    # LibreNMS tests/snmpsim/toshiba-tec.snmprec: sysObjectID 1.3.6.1.4.1.641.52.71107349 is Lexmark's number
    # (the e-STUDIO338CS is a Lexmark engine), sysDescr "TOSHIBA e-STUDIO338CS …". No vendor counters in it;
    # the total is prtMarkerLifeCount …43.10.2.1.4.1.1|65|29648 (unit …10.2.1.3.1.1|2|7, impressions).
    p = _printer(snmpsim, "toshiba_e-studio338cs")
    assert (p.pages_total, p.pages_mono, p.pages_color) == (29648, None, None)
    assert p.pages_source == "printer-mib+toshiba:no-split"
    # The same number without the brand in its texts is Lexmark's own device.
    lexmark = vendors.match("1.3.6.1.4.1.641.52.71107349", ("Lexmark CX421adn version CXLBN.230.037", None))
    assert lexmark is not None and lexmark.name == "lexmark"


def test_canon_recording_without_counters_reads_the_printer_mib_total(snmpsim: SnmpSim) -> None:
    # LibreNMS tests/snmpsim/canonprinter_tm.snmprec (imagePROGRAF TM-5300, sysObjectID 1.3.6.1.4.1.1602.4.3): its
    # only Canon lines are …1602.1.1.1.1.0 / .4.0 (model, firmware), no …1602.1.11.1.3.1.4 counters; prtMarkerLifeCount
    # …43.10.2.1.4.1.1|65|21588. The reading bills that total and says the split is missing.
    p = _printer(snmpsim, "canon_imageprograf-tm-5300")
    assert (p.pages_total, p.pages_mono, p.pages_color) == (21588, None, None)
    assert p.pages_source == "printer-mib+canon:no-split"
    assert [s.level_raw for s in p.supplies] == [2400, 3000, 1800, 2400, 2100, 6030]


# -- the formulas of the families without a recording, on the OIDs their sources name --


def _parse(object_id: str, values: dict[str, int], descr: str = "") -> Any:
    snap = Snapshot()
    snap.scalars[system.SYS_OBJECT_ID] = Val("oid", object_id)
    snap.scalars[system.SYS_DESCR] = Val("str", descr.encode())
    for oid, value in values.items():
        column = next((c for c in printer.COLUMNS if oid.startswith(c + ".")), None)
        if column is None:
            snap.scalars[oid] = Val("counter32", value)
        else:
            snap.columns.setdefault(column, {})[oid[len(column) + 1 :]] = Val("counter32", value)
    return printer.parse(snap, [])


def test_konica_minolta_print_plus_copy_per_colour() -> None:
    km = "1.3.6.1.4.1.18334.1.1.1.5.7.2"
    p = _parse(
        "1.3.6.1.4.1.18334.1.1.1.2.1.54",
        {
            f"{km}.1.1.0": 9999,
            f"{km}.2.1.5.1.1": 100,
            f"{km}.2.1.5.1.2": 200,
            f"{km}.2.1.5.2.1": 30,
            f"{km}.2.1.5.2.2": 40,
        },
    )
    assert (p.pages_total, p.pages_mono, p.pages_color, p.pages_source) == (9999, 300, 70, "konica-minolta")


def test_ricoh_counter_types_skip_fax_and_scans() -> None:
    r = "1.3.6.1.4.1.367.3.2.1.2.19.5.1"
    types = {1: 10, 2: 201, 3: 202, 4: 300, 5: 401, 6: 402, 7: 403, 8: 870}
    values = {1: 1000, 2: 300, 3: 50, 4: 77, 5: 400, 6: 100, 7: 10, 8: 5000}
    counts = {f"{r}.2.{i}": t for i, t in types.items()} | {f"{r}.9.{i}": v for i, v in values.items()}
    p = _parse("1.3.6.1.4.1.367.1.1", counts)
    assert (p.pages_total, p.pages_mono, p.pages_color, p.pages_source) == (1000, 700, 160, "ricoh")


def test_canon_large_plus_small_else_the_single_counter() -> None:
    c = "1.3.6.1.4.1.1602.1.11.1.3.1.4"
    both = _parse(
        "1.3.6.1.4.1.1602.4.7", {f"{c}.301": 500, f"{c}.112": 10, f"{c}.113": 290, f"{c}.122": 5, f"{c}.123": 195}
    )
    assert (both.pages_total, both.pages_mono, both.pages_color) == (500, 300, 200)
    single = _parse("1.3.6.1.4.1.1602.4.7", {f"{c}.109": 42, f"{c}.106": 8})
    assert (single.pages_mono, single.pages_color, single.pages_source) == (42, 8, "canon")


def test_xerox_engine_impressions() -> None:
    x = "1.3.6.1.4.1.253.8.53.13.2.1.6.1.20"
    p = _parse("1.3.6.1.4.1.253.8.62.1.35", {f"{x}.1": 130, f"{x}.34": 100, f"{x}.33": 30})
    assert (p.pages_total, p.pages_mono, p.pages_color, p.pages_source) == (130, 100, 30, "xerox")


@pytest.mark.parametrize(
    ("descr", "family"),
    [("UTAX 2506ci", "utax"), ("TA Triumph-Adler 3508ci", "triumph-adler"), ("TASKalfa 2552ci", "kyocera")],
)
def test_kyocera_oem_brands_named_by_model(descr: str, family: str) -> None:
    k = "1.3.6.1.4.1.1347.42.3.1.2.1.1"
    p = _parse("1.3.6.1.4.1.1347.41", {f"{k}.1.1": 10, f"{k}.1.3": 4, f"{k}.2.1": 6}, descr)
    assert (p.pages_mono, p.pages_color, p.pages_source) == (16, 4, family)


@pytest.mark.parametrize(("enterprise", "name"), [("641", "lexmark"), ("2001", "oki"), ("1129", "toshiba")])
def test_a_family_without_a_split_says_so(enterprise: str, name: str) -> None:
    p = _parse(f"1.3.6.1.4.1.{enterprise}.1", {"1.3.6.1.2.1.43.10.2.1.4.1.1": 1234})
    assert (p.pages_total, p.pages_mono, p.pages_color) == (1234, None, None)
    assert p.pages_source == f"printer-mib+{name}:no-split"


def test_the_table_names_its_sources_and_recordings() -> None:
    names = [f.name for f in vendors.FAMILIES]
    assert len(names) == len(set(names))
    for family in vendors.FAMILIES:
        assert family.mib and family.sources, family.name
        for recording in family.verified:
            assert (SHARED_SNMP / f"{recording}.snmprec").is_file(), recording
    wanted = {"konica-minolta", "sharp", "canon", "ricoh", "xerox", "lexmark", "epson", "oki", "toshiba"}
    assert wanted | {"utax", "triumph-adler", "brother", "hp", "kyocera"} <= set(names)
