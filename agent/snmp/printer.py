"""The printer profile: Printer-MIB (RFC 3805), HOST-RESOURCES printer rows and
vendor page counters (mono / colour split), as data plus one pure ``parse``.

Page counters: ``pages_total`` is prtMarkerLifeCount of the first marker (the
lifetime count the device's own counter page shows), else the vendor's total.
``pages_mono`` / ``pages_color`` come only from vendor MIBs verified against
recordings of real devices or the sources cited in :mod:`agent.snmp.vendors`;
a device that does not tell them reports null, never 0, and ``pages_source``
says ``<family>:no-split`` when its family gives no split.
"""

from __future__ import annotations

from agent import wire
from agent.snmp import vendors
from agent.snmp.system import SYS_DESCR, SYS_OBJECT_ID
from agent.snmp.values import EXCEPTIONS, Snapshot, Val, as_int, as_text, hex_bytes

__all__ = ["COLUMNS", "FIELDS", "SCALARS", "decode_brother_counters", "parse"]

PRT = "1.3.6.1.2.1.43"
HR_DEVICE_DESCR_1 = "1.3.6.1.2.1.25.3.2.1.3.1"
HR_DEVICE_STATUS_1 = "1.3.6.1.2.1.25.3.2.1.5.1"
HR_PRINTER_STATUS_1 = "1.3.6.1.2.1.25.3.5.1.1.1"
HR_PRINTER_ERRORS_1 = "1.3.6.1.2.1.25.3.5.1.2.1"
PRT_SERIAL_1 = f"{PRT}.5.1.1.17.1"

MARKER = {"unit": f"{PRT}.10.2.1.3", "life_count": f"{PRT}.10.2.1.4"}
SUPPLIES = {
    "class": f"{PRT}.11.1.1.4",
    "type": f"{PRT}.11.1.1.5",
    "description": f"{PRT}.11.1.1.6",
    "unit": f"{PRT}.11.1.1.7",
    "max": f"{PRT}.11.1.1.8",
    "level": f"{PRT}.11.1.1.9",
}
INPUTS = {"max": f"{PRT}.8.2.1.9", "level": f"{PRT}.8.2.1.10", "name": f"{PRT}.8.2.1.13"}
ALERTS = {
    "severity": f"{PRT}.18.1.1.2",
    "group": f"{PRT}.18.1.1.4",
    "code": f"{PRT}.18.1.1.7",
    "description": f"{PRT}.18.1.1.8",
}

# Vendor counters are data: agent/snmp/vendors.py (one entry per family, with sources).
BROTHER_COUNTERS = vendors.BROTHER_COUNTERS
HP_MONO = vendors.HP_MONO
HP_COLOR = vendors.HP_COLOR
KYOCERA_BY_MODE = vendors.KYOCERA_BY_MODE

SCALARS: tuple[str, ...] = (
    HR_DEVICE_DESCR_1,
    HR_DEVICE_STATUS_1,
    HR_PRINTER_STATUS_1,
    HR_PRINTER_ERRORS_1,
    PRT_SERIAL_1,
    *vendors.scalars(),
)
COLUMNS: tuple[str, ...] = (
    *MARKER.values(),
    *SUPPLIES.values(),
    *INPUTS.values(),
    *ALERTS.values(),
    *vendors.columns(),
)

#: (field, unit, meaning, source)
FIELDS: tuple[tuple[str, str, str, str], ...] = (
    (
        "printer.pages_total",
        "pages",
        "lifetime page count; prtMarkerLifeCount, else the vendor total",
        MARKER["life_count"],
    ),
    ("printer.pages_mono", "pages", "black-and-white pages (vendor MIB)", "agent/snmp/vendors.py"),
    ("printer.pages_color", "pages", "colour pages: full, single and two colour (vendor MIB)", "agent/snmp/vendors.py"),
    ("printer.pages_source", "", "printer-mib and/or the vendor family; <family>:no-split: no split", ""),
    ("printer.model", "", "hrDeviceDescr.1", HR_DEVICE_DESCR_1),
    ("printer.serial", "", "prtGeneralSerialNumber.1", PRT_SERIAL_1),
    ("printer.device_status", "", "hrDeviceStatus.1: running, warning, testing, down, unknown", HR_DEVICE_STATUS_1),
    ("printer.printer_status", "", "hrPrinterStatus.1: idle, printing, warmup, other, unknown", HR_PRINTER_STATUS_1),
    (
        "printer.detected_errors",
        "",
        "hrPrinterDetectedErrorState bits: jammed, doorOpen, noToner, ...",
        HR_PRINTER_ERRORS_1,
    ),
    ("printer.supplies[].percent", "%", "level / max capacity (free space for waste receptacles)", SUPPLIES["level"]),
    ("printer.supplies[].level_state", "", "ok, or the MIB's special level: unrestricted, unknown, some_remaining", ""),
    ("printer.trays[].percent", "%", "paper left in an input tray", INPUTS["level"]),
    ("printer.alerts[]", "", "prtAlertTable rows: severity, group, code, description", ALERTS["code"]),
)

_DEVICE_STATUS = {1: "unknown", 2: "running", 3: "warning", 4: "testing", 5: "down"}
_PRINTER_STATUS = {1: "other", 2: "unknown", 3: "idle", 4: "printing", 5: "warmup"}
_ERROR_BITS = (
    "lowPaper",
    "noPaper",
    "lowToner",
    "noToner",
    "doorOpen",
    "jammed",
    "offline",
    "serviceRequested",
    "inputTrayMissing",
    "outputTrayMissing",
    "markerSupplyMissing",
    "outputNearFull",
    "outputFull",
    "inputTrayEmpty",
    "overduePreventMaint",
)
_SUPPLY_CLASS = {1: "other", 3: "consumed", 4: "filled"}
_SUPPLY_TYPES = [
    "other",
    "unknown",
    "toner",
    "wasteToner",
    "ink",
    "inkCartridge",
    "inkRibbon",
    "wasteInk",
    "opc",
    "developer",
    "fuserOil",
    "solidWax",
    "ribbonWax",
    "wasteWax",
    "fuser",
    "coronaWire",
    "fuserOilWick",
    "cleanerUnit",
    "fuserCleaningPad",
    "transferUnit",
    "tonerCartridge",
    "fuserOiler",
    "water",
    "wasteWater",
    "glueWaterAdditive",
    "wastePaper",
    "bindingSupply",
    "bandingSupply",
    "stitchingWire",
    "shrinkWrap",
    "paperWrap",
    "staples",
    "inserts",
    "covers",
    "matteToner",
    "matteInk",
]
_SUPPLY_UNITS = {
    1: "other",
    2: "unknown",
    3: "tenThousandthsOfInches",
    4: "micrometers",
    7: "impressions",
    8: "sheets",
    11: "hours",
    12: "thousandthsOfOunces",
    13: "tenthsOfGrams",
    14: "hundrethsOfFluidOunces",
    15: "tenthsOfMilliliters",
    16: "feet",
    17: "meters",
    18: "items",
    19: "percent",
}
_SPECIAL_LEVEL: dict[int, str] = {-1: "unrestricted", -2: "unknown", -3: "some_remaining"}
_SEVERITY = {1: "other", 3: "critical", 4: "warning", 5: "warning_binary"}
_ALERT_GROUPS = {
    1: "other",
    3: "hostResourcesStorage",
    4: "hostResourcesDevice",
    5: "generalPrinter",
    6: "cover",
    7: "localization",
    8: "input",
    9: "output",
    10: "marker",
    11: "markerSupplies",
    12: "markerColorant",
    13: "mediaPath",
    14: "channel",
    15: "interpreter",
    16: "consoleDisplayBuffer",
    17: "consoleLights",
    18: "alert",
    30: "finDevice",
    31: "finSupply",
    32: "finSupplyMediaInput",
    33: "finAttribute",
}
_ALERT_CODES = {
    1: "other",
    2: "unknown",
    3: "coverOpen",
    4: "coverClosed",
    5: "interlockOpen",
    6: "interlockClosed",
    7: "configurationChange",
    8: "jam",
    9: "subunitMissing",
    10: "subunitLifeAlmostOver",
    11: "subunitLifeOver",
    12: "subunitAlmostEmpty",
    13: "subunitEmpty",
    14: "subunitAlmostFull",
    15: "subunitFull",
    16: "subunitNearLimit",
    17: "subunitAtLimit",
    18: "subunitOpened",
    19: "subunitClosed",
    20: "subunitTurnedOn",
    21: "subunitTurnedOff",
    22: "subunitOffline",
    23: "subunitPowerSaver",
    24: "subunitWarmingUp",
    25: "subunitAdded",
    26: "subunitRemoved",
    29: "subunitRecoverableFailure",
    30: "subunitUnrecoverableFailure",
    501: "doorOpen",
    502: "doorClosed",
    503: "poweredUp",
    504: "poweredDown",
    505: "printerNMSReset",
    506: "printerManualReset",
    507: "printerReadyToPrint",
    801: "inputMediaTrayMissing",
    807: "inputMediaSupplyLow",
    808: "inputMediaSupplyEmpty",
    809: "inputManualInputRequest",
    901: "outputMediaTrayMissing",
    902: "outputMediaTrayAlmostFull",
    903: "outputMediaTrayFull",
    1001: "markerFuserUnderTemperature",
    1002: "markerFuserOverTemperature",
    1003: "markerFuserTimingFailure",
    1004: "markerFuserThermistorFailure",
    1005: "markerAdjustingPrintQuality",
    1101: "markerTonerEmpty",
    1102: "markerInkEmpty",
    1103: "markerPrintRibbonEmpty",
    1104: "markerTonerAlmostEmpty",
    1105: "markerInkAlmostEmpty",
    1106: "markerPrintRibbonAlmostEmpty",
    1107: "markerWasteTonerReceptacleAlmostFull",
    1108: "markerWasteInkReceptacleAlmostFull",
    1109: "markerWasteTonerReceptacleFull",
    1110: "markerWasteInkReceptacleFull",
    1111: "markerOpcLifeAlmostOver",
    1112: "markerOpcLifeOver",
    1113: "markerDeveloperAlmostEmpty",
    1114: "markerDeveloperEmpty",
    1115: "markerTonerCartridgeMissing",
    1301: "mediaPathMediaTrayMissing",
    1302: "mediaPathMediaTrayAlmostFull",
    1303: "mediaPathMediaTrayFull",
}


def _named(table: dict[int, str] | list[str], value: int | None, base: int = 1) -> str | None:
    if value is None:
        return None
    if isinstance(table, list):
        return table[value - base] if base <= value < base + len(table) else f"code-{value}"
    return table.get(value, f"code-{value}")


def decode_brother_counters(blob: bytes) -> dict[int, int]:
    """Brother's counter blob: 7-byte records (code, 0x01, 0x04, uint32 BE) up to 0xFF."""
    out: dict[int, int] = {}
    i = 0
    while i + 7 <= len(blob) and blob[i] != 0xFF:
        code, kind, length = blob[i], blob[i + 1], blob[i + 2]
        if kind != 0x01 or length != 0x04:
            raise ValueError(f"unexpected record header {blob[i : i + 3].hex()} at byte {i}")
        out[code] = int.from_bytes(blob[i + 3 : i + 7], "big")
        i += 7
    return out


def _percent(level: int | None, capacity: int | None) -> float | None:
    if level is None or capacity is None or level < 0 or capacity <= 0:
        return None
    return round(min(100.0, 100.0 * level / capacity), 2)


Pages = tuple[int | None, int | None, int | None]  # total, mono, colour


def _sums(split: vendors.Sums, snap: Snapshot, notes: list[str]) -> Pages:
    out: dict[str, int | None] = {}
    for role, alternatives in split.roles.items():
        out[role] = None
        for alt in alternatives:
            counts = [
                as_int(snap.scalar(oid), notes, f"printer.pages_{role} ({oid})") for oid in alt if _answered(snap, oid)
            ]
            if counts:
                out[role] = None if None in counts else sum(c for c in counts if c is not None)
                break
    return out.get("total"), out.get("mono"), out.get("colour")


def _answered(snap: Snapshot, oid: str) -> bool:
    val = snap.scalar(oid)
    return val is not None and val.tag not in EXCEPTIONS


def _by_arc(split: vendors.ByArc, snap: Snapshot, notes: list[str]) -> Pages:
    rows = snap.column(split.column)
    if not rows:
        return None, None, None
    sums: dict[str, int] = {}
    for index, val in rows.items():
        role = split.roles.get(index.split(".")[split.arc])
        count = as_int(val, notes, f"printer.pages ({split.column}.{index})")
        if count is None:
            # One unreadable cell makes the sum wrong: report nothing rather than too little.
            return None, None, None
        if role:
            sums[role] = sums.get(role, 0) + count
    return sums.get("total"), sums.get("mono", 0), sums.get("colour", 0)


def _coded(split: vendors.Coded, snap: Snapshot, notes: list[str]) -> Pages:
    codes = snap.column(split.code_column)
    values = snap.column(split.value_column)
    sums: dict[str, int] = {}
    for index, code_val in codes.items():
        role = split.codes.get(as_int(code_val) or 0)
        if role is None:
            continue
        count = as_int(values.get(index), notes, f"printer.pages ({split.value_column}.{index})")
        if count is None:
            return None, None, None
        sums[role] = sums.get(role, 0) + count
    return sums.get("total"), sums.get("mono"), sums.get("colour")


def _blob(split: vendors.Blob, snap: Snapshot, notes: list[str]) -> Pages:
    blob = hex_bytes(snap.scalar(split.oid))
    if not blob:
        return None, None, None
    try:
        codes = decode_brother_counters(blob)
    except ValueError as exc:
        notes.append(f"printer.pages_mono: counter blob unreadable ({exc})")
        return None, None, None
    by_role = {role: codes.get(code) for code, role in split.codes.items()}
    return by_role.get("total"), by_role.get("mono"), by_role.get("colour")


def _apply(split: vendors.Split, snap: Snapshot, notes: list[str]) -> Pages:
    if isinstance(split, vendors.Sums):
        return _sums(split, snap, notes)
    if isinstance(split, vendors.ByArc):
        return _by_arc(split, snap, notes)
    if isinstance(split, vendors.Coded):
        return _coded(split, snap, notes)
    return _blob(split, snap, notes)


def _pages_from_vendor(snap: Snapshot, notes: list[str]) -> tuple[int | None, int | None, int | None, str | None]:
    """(total, mono, colour, family) from the family sysObjectID names, else the first whose counters answer.

    The family is ``<name>:no-split`` when it is known but gives no mono/colour
    (a vendor without a split, or a model without the counters).
    """
    oid = snap.scalar(SYS_OBJECT_ID)
    object_id = oid.value if oid is not None and isinstance(oid.value, str) else None
    descriptions = (as_text(snap.scalar(SYS_DESCR)), as_text(snap.scalar(HR_DEVICE_DESCR_1)))
    family = vendors.match(object_id, descriptions)
    if family is not None:
        total, mono, colour = _apply(family.split, snap, notes) if family.split else (None, None, None)
        name = family.name if mono is not None or colour is not None else f"{family.name}:no-split"
        return total, mono, colour, name
    # sysObjectID of an unknown maker (an OEM print server, a rebadged engine): the first family that answers.
    for candidate in vendors.FAMILIES:
        if candidate.split is None:
            continue
        total, mono, colour = _apply(candidate.split, snap, notes)
        if total is not None or mono is not None or colour is not None:
            split = mono is not None or colour is not None
            return total, mono, colour, candidate.name if split else f"{candidate.name}:no-split"
    return None, None, None, None


def _supply(index: str, row: dict[str, Val], notes: list[str]) -> wire.PrinterSupply:
    what = f"printer.supplies[{index}]"
    level = as_int(row.get("level"), notes, f"{what}.level")
    capacity = as_int(row.get("max"), notes, f"{what}.max_capacity")
    state = "ok"
    if level is not None and level < 0:
        state = _SPECIAL_LEVEL.get(level, "invalid")
    klass = as_int(row.get("class"))
    return wire.PrinterSupply(
        index=index,
        description=as_text(row.get("description"), notes, f"{what}.description", limit=1024),
        type=_named(_SUPPLY_TYPES, as_int(row.get("type"))),
        supply_class=_SUPPLY_CLASS.get(klass) if klass is not None else None,  # type: ignore[arg-type]
        unit=_named(_SUPPLY_UNITS, as_int(row.get("unit"))),
        level_raw=level,
        max_capacity_raw=capacity,
        percent=_percent(level, capacity),
        level_state=state,  # type: ignore[arg-type]
    )


def _alert(index: str, row: dict[str, Val], notes: list[str]) -> wire.PrinterAlert:
    severity = as_int(row.get("severity"))
    return wire.PrinterAlert(
        index=index,
        severity=_SEVERITY.get(severity, "unknown") if severity is not None else "unknown",  # type: ignore[arg-type]
        group=_named(_ALERT_GROUPS, as_int(row.get("group"))),
        code=_named(_ALERT_CODES, as_int(row.get("code"))),
        description=as_text(row.get("description"), notes, f"printer.alerts[{index}].description", limit=1024),
    )


def _error_bits(val: Val | None) -> list[str]:
    raw = hex_bytes(val)
    if not raw:
        return []
    bits = []
    for n, name in enumerate(_ERROR_BITS):
        byte, bit = divmod(n, 8)
        if byte < len(raw) and raw[byte] & (0x80 >> bit):
            bits.append(name)
    return bits


def _first(column: dict[str, Val]) -> tuple[str, Val] | None:
    if not column:
        return None
    if "1.1" in column:
        return "1.1", column["1.1"]
    return next(iter(column.items()))


def parse(snap: Snapshot, notes: list[str]) -> wire.Printer:
    life = _first(snap.column(MARKER["life_count"]))
    total = as_int(life[1], notes, "printer.pages_total") if life else None
    v_total, mono, colour, vendor = _pages_from_vendor(snap, notes)
    sources = []
    if total is not None:
        sources.append("printer-mib")
    elif v_total is not None:
        total = v_total
    elif mono is not None and colour is not None:
        total = mono + colour
    if vendor and (
        mono is not None or colour is not None or "printer-mib" not in sources or vendor.endswith(":no-split")
    ):
        sources.append(vendor)
    if life is None and total is None:
        notes.append("printer.pages_total: the device has no prtMarkerLifeCount and no known vendor counter")
    status = as_int(snap.scalar(HR_DEVICE_STATUS_1))
    pstatus = as_int(snap.scalar(HR_PRINTER_STATUS_1))
    supplies = [_supply(i, row, notes) for i, row in snap.rows(SUPPLIES).items()]
    trays = []
    for index, row in snap.rows(INPUTS).items():
        level = as_int(row.get("level"), notes, f"printer.trays[{index}].level")
        capacity = as_int(row.get("max"), notes, f"printer.trays[{index}].max_capacity")
        trays.append(
            wire.PrinterTray(
                index=index,
                name=as_text(row.get("name"), notes, f"printer.trays[{index}].name"),
                level_raw=level,
                max_capacity_raw=capacity,
                percent=_percent(level, capacity),
            )
        )
    alerts = [_alert(i, row, notes) for i, row in snap.rows(ALERTS).items()]
    return wire.Printer(
        pages_total=total if total is None or total >= 0 else None,
        pages_mono=mono,
        pages_color=colour,
        pages_source="+".join(sources) or None,
        model=as_text(snap.scalar(HR_DEVICE_DESCR_1), notes, "printer.model"),
        serial=as_text(snap.scalar(PRT_SERIAL_1), notes, "printer.serial"),
        device_status=_named(_DEVICE_STATUS, status),
        printer_status=_named(_PRINTER_STATUS, pstatus),
        detected_errors=_error_bits(snap.scalar(HR_PRINTER_ERRORS_1)),
        supplies=supplies[:256],
        trays=trays[:256],
        alerts=alerts[:256],
    )


#: for profile detection: OIDs whose answer says "this is a printer"
PROBE: tuple[str, ...] = (
    f"{MARKER['life_count']}.1.1",
    HR_PRINTER_STATUS_1,
    f"{SUPPLIES['level']}.1.1",
    vendors.BROTHER_COUNTERS,
)
