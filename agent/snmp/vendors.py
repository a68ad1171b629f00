"""Vendor page counters as data: which private OIDs each office-printer family
has, how mono and colour pages are formed from them, and where that is written.

One :class:`Family` per vendor family, matched by the enterprise number of
sysObjectID; an OEM brand whose devices carry another maker's number (UTAX and
Triumph-Adler on Kyocera's, Toshiba's Lexmark-built e-STUDIO models on Lexmark's) by that number
plus a pattern on sysDescr / hrDeviceDescr. :mod:`agent.snmp.printer` reads every OID named here in one
poll and applies the matched family's :class:`Split`.

Billable are **printed impressions**: printed and copied pages and received
faxes the device printed (all of them cost toner and paper). Scans, sent
faxes and scan-to-e-mail/HDD counters are never part of mono or colour.
"Colour" is every impression that is not black-and-white (full colour, single
colour, two colour), as leasing contracts bill them.

``verified`` names the recordings in ``tests/snmp/recordings`` the mapping was
checked against; a family without one follows the cited sources only.
A family with ``split=None`` gives no split over SNMP that we know of: its
readings carry ``pages_source = "...+<name>:no-split"`` and null mono/colour.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["FAMILIES", "Blob", "ByArc", "Coded", "Family", "Role", "Split", "Sums", "columns", "match", "scalars"]

Role = Literal["total", "mono", "colour"]


@dataclass(frozen=True)
class Sums:
    """Scalars added up per role. Each role lists alternatives (tuples of OIDs);
    the first alternative of which any OID answers is used, its answering OIDs
    summed (a model without e.g. two-colour mode simply lacks that OID)."""

    roles: Mapping[Role, tuple[tuple[str, ...], ...]]


@dataclass(frozen=True)
class ByArc:
    """One walked column whose row index says the role: ``roles`` by the index
    arc at ``arc`` (e.g. Kyocera's ``<function>.<colour mode>``: arc -1)."""

    column: str
    arc: int
    roles: Mapping[str, Role]


@dataclass(frozen=True)
class Coded:
    """A counter table with a type-code column and a value column (Ricoh):
    rows whose code is in ``codes`` count for that role."""

    code_column: str
    value_column: str
    codes: Mapping[int, Role]


@dataclass(frozen=True)
class Blob:
    """One OCTET STRING of records decoded by the printer module (Brother)."""

    oid: str
    codes: Mapping[int, Role]


Split = Sums | ByArc | Coded | Blob


@dataclass(frozen=True)
class Family:
    #: the token in ``pages_source``
    name: str
    title: str
    #: sysObjectID enterprise numbers (1.3.6.1.4.1.<n>)
    enterprises: frozenset[str]
    split: Split | None
    #: vendor MIB names and the documents / implementations the OIDs come from
    mib: str
    sources: tuple[str, ...]
    verified: tuple[str, ...] = ()
    #: other makers' enterprise numbers this brand's OEM models carry, told apart by ``model``
    oem_of: frozenset[str] = frozenset()
    #: the brand's name in sysDescr or hrDeviceDescr (only with ``oem_of``)
    model: re.Pattern[str] | None = field(default=None, compare=False)
    billable: str = "printed + copied impressions (incl. received faxes printed); not scans or sent faxes"


_E = "1.3.6.1.4.1"
HP_MONO = f"{_E}.11.2.3.9.4.2.1.4.1.2.6.0"
HP_COLOR = f"{_E}.11.2.3.9.4.2.1.4.1.2.7.0"
BROTHER_COUNTERS = f"{_E}.2435.2.3.9.4.2.1.5.5.10.0"
KYOCERA_BY_MODE = f"{_E}.1347.42.3.1.2.1.1"
_KM = f"{_E}.18334.1.1.1.5.7.2"
_SHARP = f"{_E}.2385.1.1.19.2.1.3.5.4"
_CANON = f"{_E}.1602.1.11.1.3.1.4"
_RICOH = f"{_E}.367.3.2.1.2.19.5.1"
_XEROX = f"{_E}.253.8.53.13.2.1.6.1.20"

_KYOCERA_SPLIT = ByArc(KYOCERA_BY_MODE, -1, {"1": "mono", "2": "colour", "3": "colour"})
_KYOCERA_MIB = (
    "KYOCERA-Private-MIB kmcntr 1.3.6.1.4.1.1347.42.3.1.2.1.1.<function>.<colour mode>: "
    "functions 1 printer, 2 copy, 3 other (reports), 4 fax (received, printed) are all printed output; "
    "colour modes 1 black & white, 2 single colour, 3 full colour. Scans are a separate table (.42.3.1.3)."
)
_KYOCERA_SOURCES = (
    "mstrhakr/printmaster docs/dev/vendor/KYOCERA_OID_MAPPING.md (checked there against a TASKalfa 6052ci web UI)",
)

FAMILIES: tuple[Family, ...] = (
    Family(
        "brother",
        "Brother HL / DCP / MFC",
        frozenset({"2435"}),
        Blob(BROTHER_COUNTERS, {0x00: "total", 0x01: "mono", 0x02: "colour"}),
        "Brother private counter blob brInfoCounter 1.3.6.1.4.1.2435.2.3.9.4.2.1.5.5.10.0: 7-byte records "
        "(code, 0x01, 0x04, uint32 BE), 0xFF at the end; code 00 total, 01 black & white, 02 colour",
        ("bieniu/brother const.VALUES_COUNTERS (Apache-2.0)",),
        ("brother_dcp-9020cdw", "brother_dcp-l3550cdw", "brother_hl-l2340dw"),
    ),
    Family(
        "hp",
        "HP LaserJet / OfficeJet (JetDirect)",
        frozenset({"11"}),
        Sums({"mono": ((HP_MONO,),), "colour": ((HP_COLOR,),)}),
        "HP-LASERJET-COMMON-MIB total-mono-page-count (.4.1.2.6.0) / total-color-page-count (.4.1.2.7.0): "
        "engine impressions, copies included",
        ("HP LaserJet MIB (hp.com, lj*.mib), LibreNMS jetdirect",),
        ("hp_laserjet-mfp-m130nw",),
    ),
    Family(
        "utax",
        "UTAX (Kyocera OEM)",
        frozenset(),
        _KYOCERA_SPLIT,
        _KYOCERA_MIB,
        (*_KYOCERA_SOURCES, "UTAX and Triumph-Adler MFPs are Kyocera TASKalfa/ECOSYS engines with the Kyocera MIB"),
        oem_of=frozenset({"1347"}),
        model=re.compile(r"\bUTAX\b", re.IGNORECASE),
    ),
    Family(
        "triumph-adler",
        "TA Triumph-Adler (Kyocera OEM)",
        frozenset(),
        _KYOCERA_SPLIT,
        _KYOCERA_MIB,
        (*_KYOCERA_SOURCES, "UTAX and Triumph-Adler MFPs are Kyocera TASKalfa/ECOSYS engines with the Kyocera MIB"),
        oem_of=frozenset({"1347"}),
        model=re.compile(r"Triumph[- ]?Adler|^TA\s", re.IGNORECASE),
    ),
    Family(
        "kyocera",
        "Kyocera TASKalfa / ECOSYS",
        frozenset({"1347"}),
        _KYOCERA_SPLIT,
        _KYOCERA_MIB,
        _KYOCERA_SOURCES,
        ("kyocera_cs-4053ci", "kyocera_ecosys-p2040dw"),
    ),
    Family(
        "konica-minolta",
        "Konica Minolta bizhub",
        frozenset({"18334"}),
        Sums(
            {
                "total": ((f"{_KM}.1.1.0",),),
                # kmCounter .2.1.5.<colour>.<function>: colour 1 black, 2 full colour; function 1 copy, 2 print
                "mono": ((f"{_KM}.2.1.5.1.1", f"{_KM}.2.1.5.1.2"),),
                "colour": ((f"{_KM}.2.1.5.2.1", f"{_KM}.2.1.5.2.2"),),
            }
        ),
        "KONICAMINOLTA-MIB 1.3.6.1.4.1.18334.1.1.1.5.7.2: .1.1.0 total, .2.1.5.<colour>.<function> "
        "(colour 1 black, 2 full colour; function 1 copy, 2 print); scans (.1.5.0, .3.1.5) and the duplex "
        "count (.1.3.0) not billed. A bizhub C250i without .1.1.0 gets its total from prtMarkerLifeCount.",
        (
            "GLPI Agent lib/GLPI/Agent/SNMP/MibSupport/Konica.pm (GPL-2.0)",
            "LibreNMS konica sensors (tests/data/konica_c250i.json: 'Total copy black' .2.1.5.1.1, "
            "'Total print black' .1.2, 'Total copy color' .2.1, 'Total print color' .2.2)",
        ),
        ("konica-minolta_bizhub-c250i",),
    ),
    Family(
        "sharp",
        "Sharp MX / BP",
        frozenset({"2385"}),
        Sums(
            {
                "mono": ((f"{_SHARP}.61",),),
                # full colour, two colour, single colour
                "colour": ((f"{_SHARP}.63", f"{_SHARP}.64", f"{_SHARP}.80"),),
            }
        ),
        "SHARP private counter table 1.3.6.1.4.1.2385.1.1.19.2.1.3.<group>.<n>.<mode>, names in .4: "
        "group 5 'Total Count' (prints + copies + other output), mode 61 black & white, 63 full colour, "
        "64 two colour, 80 single colour; groups 7/8 are scans (not billed)",
        ("the counter names the device itself reports (…19.2.1.4), LibreNMS tests/snmpsim/sharp.snmprec",),
        ("sharp_mx-3570n",),
    ),
    Family(
        "canon",
        "Canon imageRUNNER / i-SENSYS",
        frozenset({"1602"}),
        Sums(
            {
                "total": ((f"{_CANON}.301",),),
                # Large + small sheets when the model has them, else the one black / colour total.
                "mono": ((f"{_CANON}.112", f"{_CANON}.113"), (f"{_CANON}.109",)),
                "colour": ((f"{_CANON}.122", f"{_CANON}.123"), (f"{_CANON}.106",)),
            }
        ),
        "CANON-MIB service counters 1.3.6.1.4.1.1602.1.11.1.3.1.4.<code>: 301 total, 112/113 black large/small, "
        "122/123 colour large/small, 109 black, 106 colour",
        ("Checkmk printer_pages_canon PAGE_CODES (GPL-2.0)",),
    ),
    Family(
        "ricoh",
        "Ricoh MP / IM / SP",
        frozenset({"367"}),
        Coded(
            f"{_RICOH}.2",
            f"{_RICOH}.9",
            # 201/401 copy/print black; 202/402 full colour; 203/403 single/two colour
            {10: "total", 201: "mono", 401: "mono", 202: "colour", 203: "colour", 402: "colour", 403: "colour"},
        ),
        "RICOH-Private-MIB ricohEngCounterTable 1.3.6.1.4.1.367.3.2.1.2.19.5.1: type .2, value .9; "
        "types 10 total, 2xx copies, 3xx fax (not split by colour), 4xx prints, 87x scans (not billed)",
        ("GLPI Agent lib/GLPI/Agent/SNMP/MibSupport/Ricoh.pm (GPL-2.0)",),
    ),
    Family(
        "xerox",
        "Xerox AltaLink / VersaLink / WorkCentre",
        frozenset({"253"}),
        Sums({"total": ((f"{_XEROX}.1",),), "mono": ((f"{_XEROX}.34",),), "colour": ((f"{_XEROX}.33",),)}),
        "XEROX-HOST-RESOURCES-EXT-MIB xcmHrDevDetailValue, printer device, 1.3.6.1.4.1.253.8.53.13.2.1.6.1.20.<n>: "
        "1 total, 33 colour, 34 black impressions (engine counters: copies included; copier .6.11 and scan .6.10 "
        "counters are not added again)",
        ("GLPI Agent lib/GLPI/Agent/SNMP/MibSupport/Xerox.pm (GPL-2.0)",),
    ),
    Family(
        "toshiba",
        "Toshiba e-STUDIO",
        frozenset({"1129"}),
        None,
        "TOSHIBA TEC private MIB 1.3.6.1.4.1.1129: no documented mono/colour page counter; Lexmark-built e-STUDIO "
        "models (the 338CS) carry Lexmark's sysObjectID (1.3.6.1.4.1.641.52.*) and are told apart by 'TOSHIBA' "
        "in sysDescr",
        (
            "GLPI Agent lib/GLPI/Agent/SNMP/MibSupport/Toshiba.pm (model, serial, firmware only)",
            "LibreNMS toshiba-tec (tests/snmpsim/toshiba-tec.snmprec: e-STUDIO338CS, sysObjectID …641.52.71107349)",
        ),
        ("toshiba_e-studio338cs",),
        oem_of=frozenset({"641"}),
        model=re.compile(r"\bTOSHIBA\b", re.IGNORECASE),
    ),
    Family(
        "lexmark",
        "Lexmark",
        frozenset({"641"}),
        None,
        "LEXMARK-PVT-MIB / LEXMARK-MPS-MIB: no documented mono/colour page counter",
        ("GLPI Agent lib/GLPI/Agent/SNMP/MibSupport/Lexmark.pm (model, serial, firmware only)",),
    ),
    Family(
        "epson",
        "Epson WorkForce / SureColor",
        frozenset({"1248"}),
        None,
        "EPSON private MIB 1.3.6.1.4.1.1248: no documented mono/colour page counter (the recordings carry "
        "prtMarkerLifeCount only)",
        ("GLPI Agent lib/GLPI/Agent/SNMP/MibSupport/Epson.pm (model, serial, firmware only)",),
        ("epson_cw-c6500au", "epson_sc-t3405", "epson_wf-c5790"),
    ),
    Family(
        "oki",
        "OKI",
        frozenset({"2001"}),
        None,
        "OKIDATA-MIB 1.3.6.1.4.1.2001: no documented mono/colour page counter",
        ("GLPI Agent lib/GLPI/Agent/SNMP/MibSupport/Oki.pm (model, serial only)",),
    ),
)


def scalars() -> tuple[str, ...]:
    """Every vendor OID a printer poll GETs."""
    out: list[str] = []
    for family in FAMILIES:
        split = family.split
        if isinstance(split, Blob):
            out.append(split.oid)
        elif isinstance(split, Sums):
            out.extend(oid for alternatives in split.roles.values() for alt in alternatives for oid in alt)
    return tuple(dict.fromkeys(out))


def columns() -> tuple[str, ...]:
    """Every vendor table column a printer poll walks."""
    out: list[str] = []
    for family in FAMILIES:
        split = family.split
        if isinstance(split, ByArc):
            out.append(split.column)
        elif isinstance(split, Coded):
            out.extend((split.code_column, split.value_column))
    return tuple(dict.fromkeys(out))


def match(sys_object_id: str | None, descriptions: tuple[str | None, ...]) -> Family | None:
    """The family of a device by its sysObjectID's enterprise number; an OEM brand on another
    maker's number first, by its name in the model text."""
    if not sys_object_id or not sys_object_id.startswith(f"{_E}."):
        return None
    enterprise = sys_object_id.split(".")[6] if sys_object_id.count(".") >= 6 else ""
    text = " ".join(d for d in descriptions if d)
    for family in FAMILIES:
        if enterprise in family.oem_of and family.model is not None and family.model.search(text):
            return family
    return next((family for family in FAMILIES if enterprise in family.enterprises), None)
