"""Write ``<name>.expected.json`` for a printer recording, read from the snmprec
file itself with the Printer-MIB's definitions (not through the poller), plus
the vendor counters named on the command line.

    python tests/snmp/make_expected.py sharp_mx-3570n --source-json '{...}' \\
        --mono 1.3.6.1.4.1.2385.1.1.19.2.1.3.5.4.61 \\
        --colour 1.3.6.1.4.1.2385.1.1.19.2.1.3.5.4.63,...64,...80 --mib '...'

Used once per added recording; the result is reviewed and committed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent / "recordings"
PRT = "1.3.6.1.2.1.43"
# Deliberately not imported from agent/snmp/printer.py: the expected values must not come from the code under test.
TYPES = [
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
]
UNITS = {
    3: "tenThousandthsOfInches",
    4: "micrometers",
    7: "impressions",
    8: "sheets",
    13: "tenthsOfGrams",
    19: "percent",
}
CLASSES = {1: "other", 3: "supplyThatIsConsumed", 4: "receptacleThatIsFilled"}
ERRORS = ["lowPaper", "noPaper", "lowToner", "noToner", "doorOpen", "jammed", "offline", "serviceRequested"]


def read(path: Path) -> dict[str, tuple[str, str]]:
    out = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            oid, tag, value = line.split("|", 2)
            out[oid] = (tag, value)
    return out


def num(rec: dict[str, tuple[str, str]], oid: str) -> int | None:
    return int(rec[oid][1]) if oid in rec else None


def text(rec: dict[str, tuple[str, str]], oid: str) -> str | None:
    if oid not in rec:
        return None
    tag, value = rec[oid]
    return bytes.fromhex(value).decode() if tag == "4x" else value


def rows(rec: dict[str, tuple[str, str]], column: str) -> list[str]:
    return sorted(
        (oid[len(column) + 1 :] for oid in rec if oid.startswith(column + ".")),
        key=lambda i: tuple(int(p) for p in i.split(".")),
    )


def percent(level: int | None, cap: int | None) -> float | None:
    if level is None or cap is None or level < 0 or cap <= 0:
        return None
    return round(min(100.0, 100.0 * level / cap), 2)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    ap.add_argument("--source-json", required=True)
    ap.add_argument("--mono", default="")
    ap.add_argument("--colour", default="")
    ap.add_argument("--mib", default="")
    args = ap.parse_args()
    rec = read(HERE / f"{args.name}.snmprec")
    err = rec.get("1.3.6.1.2.1.25.3.5.1.2.1")
    err_raw = bytes.fromhex(err[1]) if err and err[0] == "4x" else (err[1].encode() if err else None)
    bits = [n for i, n in enumerate(ERRORS) if err_raw and err_raw[i // 8] & (0x80 >> (i % 8))]
    life = rows(rec, f"{PRT}.10.2.1.4")
    total = num(rec, f"{PRT}.10.2.1.4.{life[0]}") if life else None

    def summed(oids: str) -> int | None:
        found = [num(rec, o) for o in oids.split(",") if o and o in rec]
        return sum(v for v in found if v is not None) if found else None

    vendor: dict[str, Any] = {}
    if args.mono or args.colour:
        vendor = {
            "mib": args.mib,
            "counters": [{"oid": o, "value": num(rec, o)} for o in (args.mono + "," + args.colour).split(",") if o],
            "mono_total": summed(args.mono),
            "colour_total": summed(args.colour),
            "formula": f"mono = {args.mono or '-'}; colour = sum of {args.colour or '-'}",
        }
    supplies = []
    for i in rows(rec, f"{PRT}.11.1.1.6"):
        level, cap = num(rec, f"{PRT}.11.1.1.9.{i}"), num(rec, f"{PRT}.11.1.1.8.{i}")
        kind = num(rec, f"{PRT}.11.1.1.5.{i}")
        supplies.append(
            {
                "index": i,
                "description": text(rec, f"{PRT}.11.1.1.6.{i}"),
                "class": CLASSES.get(num(rec, f"{PRT}.11.1.1.4.{i}") or 0),
                "type": TYPES[kind - 1] if kind else None,
                "unit": UNITS.get(num(rec, f"{PRT}.11.1.1.7.{i}") or 0),
                "max_capacity_raw": cap,
                "level_raw": level,
                "percent": percent(level, cap),
            }
        )
    trays = []
    for i in rows(rec, f"{PRT}.8.2.1.10"):
        level, cap = num(rec, f"{PRT}.8.2.1.10.{i}"), num(rec, f"{PRT}.8.2.1.9.{i}")
        trays.append(
            {
                "index": i,
                "name": text(rec, f"{PRT}.8.2.1.13.{i}"),
                "current_raw": level,
                "max_raw": cap,
                "percent": percent(level, cap),
            }
        )
    out = {
        "recording": f"{args.name}.snmprec",
        "community": args.name,
        "kind": "printer",
        "source": json.loads(args.source_json),
        "identity": {
            "sysDescr": text(rec, "1.3.6.1.2.1.1.1.0"),
            "sysObjectID": text(rec, "1.3.6.1.2.1.1.2.0"),
            "sysName": text(rec, "1.3.6.1.2.1.1.5.0"),
            "sysUpTime_ticks": num(rec, "1.3.6.1.2.1.1.3.0"),
            "hrDeviceDescr.1": text(rec, "1.3.6.1.2.1.25.3.2.1.3.1"),
            "hrDeviceStatus.1": num(rec, "1.3.6.1.2.1.25.3.2.1.5.1"),
            "hrPrinterStatus.1": num(rec, "1.3.6.1.2.1.25.3.5.1.1.1"),
            "prtGeneralSerialNumber.1": text(rec, f"{PRT}.5.1.1.17.1"),
            "hrPrinterDetectedErrorState.1": {"raw_hex": err_raw.hex(), "bits_set": bits}
            if err_raw is not None
            else None,
        },
        "page_counts": {"total": total, "total_oid": f"{PRT}.10.2.1.4.{life[0]}" if life else None, "vendor": vendor},
        "supplies": supplies,
        "input_trays": trays,
    }
    (HERE / f"{args.name}.expected.json").write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
