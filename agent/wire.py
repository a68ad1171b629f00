"""Wire format v1, agent -> collector (see DESIGN.md).

Both sides import this module, so it must stay light: only msgspec and the
standard library. Structural validation (types, required fields, bounds) lives
here as type annotations; rules that need the collector's clock or state
(timestamps in the future, seq already stored) live in the collector.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, TypeVar

import msgspec

__all__ = [
    "WIRE_VERSION",
    "AgentInfo",
    "Batch",
    "BatchAck",
    "Cpu",
    "Disk",
    "ErrorBody",
    "Interface",
    "Memory",
    "Nic",
    "Printer",
    "PrinterAlert",
    "PrinterSupply",
    "PrinterTray",
    "Report",
    "SnmpReading",
    "SnmpSys",
    "TextfileSample",
    "Ups",
    "WireError",
    "decode_batch",
    "decode_json",
    "encode",
    "find_key_line",
]

WIRE_VERSION = 1

T = TypeVar("T")

# Bounds keep one hostile report from blowing up storage or arithmetic.
NonNeg = Annotated[float, msgspec.Meta(ge=0)]
#: seconds of CPU busy time: the ledger keeps them in µs as a signed 64-bit integer
BusySeconds = Annotated[float, msgspec.Meta(ge=0, le=(2**63 - 1) / 10**6)]
# 2**63 - 1: the largest integer SQLite and PostgreSQL (BIGINT) store; a counter
# beyond it is refused with its field named instead of failing the write.
NonNegInt = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
Percent = Annotated[float, msgspec.Meta(ge=0, le=100)]
ShortStr = Annotated[str, msgspec.Meta(max_length=256)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
AgentId = Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")]
LabelName = Annotated[str, msgspec.Meta(max_length=100)]
LabelValue = Annotated[str, msgspec.Meta(max_length=1024)]
Role = Literal["server", "vm", "thin-client"]

MAX_REPORTS_PER_BATCH = 1000
MAX_SEQ = 2**53 - 1
EARLIEST_TS = 1_000_000_000.0


class _Base(msgspec.Struct, forbid_unknown_fields=False, omit_defaults=True):
    """Unknown fields are ignored so a newer agent can talk to an older collector."""


class AgentInfo(_Base):
    id: AgentId
    hostname: Name
    version: ShortStr = ""
    role: Role = "server"
    site: ShortStr = ""
    os: ShortStr = ""
    boot_time: NonNeg = 0.0
    #: health: reports this agent moved to its dead-letter table because the
    #: collector could never take them (see `leitstand-agent status`)
    dead_letters: NonNegInt = 0


class Cpu(_Base):
    count: Annotated[int, msgspec.Meta(ge=1, le=65536)]
    percent: Percent
    busy_seconds_total: BusySeconds


class Memory(_Base):
    total_bytes: NonNegInt
    used_bytes: NonNegInt
    swap_total_bytes: NonNegInt = 0
    swap_used_bytes: NonNegInt = 0


class Disk(_Base):
    mount: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
    device: ShortStr = ""
    total_bytes: NonNegInt = 0
    used_bytes: NonNegInt = 0
    read_bytes_total: NonNegInt = 0
    write_bytes_total: NonNegInt = 0


class Nic(_Base):
    nic: Name
    rx_bytes_total: NonNegInt = 0
    tx_bytes_total: NonNegInt = 0
    rx_errors_total: NonNegInt = 0
    tx_errors_total: NonNegInt = 0
    #: link speed in bit/s; 0: unknown (virtual interfaces, no carrier)
    speed_bps: NonNegInt = 0
    #: the bond this interface is a member of (Linux); its traffic is counted on the bond
    bond: ShortStr = ""


class TextfileSample(_Base):
    name: Annotated[str, msgspec.Meta(pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$", max_length=200)]
    value: float
    labels: dict[LabelName, LabelValue] = {}


# -- SNMP (issue 3) -----------------------------------------------------------------
# A device reading as the agent's poller reports it. Fields the device does not
# tell (or told as garbage) are null, never 0: 0 pages is a fact, null is "unknown".

Oid = Annotated[str, msgspec.Meta(max_length=256, pattern=r"^[0-9]+(\.[0-9]+)*$")]
LongStr = Annotated[str, msgspec.Meta(max_length=1024)]
# Counter64 reaches 2**64 - 1 in theory, but neither store holds more than a signed
# 64-bit integer: a value above it is refused with its field named (in practice
# a 64-bit octet counter needs centuries at 100 Gbit/s to get there).
Counter = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
SnmpInt = Annotated[int, msgspec.Meta(ge=-(2**31), le=2**32 - 1)]


class SnmpSys(_Base):
    """The system group (SNMPv2-MIB)."""

    descr: LongStr | None = None
    object_id: Oid | None = None
    name: ShortStr | None = None
    location: ShortStr | None = None
    #: sysUpTime in seconds. Goes back (or is below the previous reading's) when
    #: the device restarted: a counter that went down with it is a reboot, one
    #: that went down without it a 32-bit wrap.
    uptime_s: NonNeg | None = None


class PrinterSupply(_Base):
    """A row of prtMarkerSuppliesTable."""

    index: ShortStr
    description: LongStr | None = None
    type: ShortStr | None = None  # toner, ink, wasteToner, opc, ... (PrtMarkerSuppliesTypeTC)
    supply_class: Literal["consumed", "filled", "other"] | None = None
    unit: ShortStr | None = None
    level_raw: SnmpInt | None = None
    max_capacity_raw: SnmpInt | None = None
    #: level / max capacity x 100, or null when either is one of the MIB's special values.
    #: For a receptacle (waste toner) it is the free space left.
    percent: Percent | None = None
    #: what a special level means: unrestricted (-1), unknown (-2), some_remaining (-3).
    level_state: Literal["ok", "unrestricted", "unknown", "some_remaining", "invalid"] = "ok"


class PrinterTray(_Base):
    """A row of prtInputTable."""

    index: ShortStr
    name: ShortStr | None = None
    level_raw: SnmpInt | None = None
    max_capacity_raw: SnmpInt | None = None
    percent: Percent | None = None


class PrinterAlert(_Base):
    """A row of prtAlertTable: an active condition such as a jam or an open door."""

    index: ShortStr
    severity: Literal["other", "critical", "warning", "warning_binary", "unknown"] = "unknown"
    group: ShortStr | None = None
    code: ShortStr | None = None
    description: LongStr | None = None


class Printer(_Base):
    """Printer-MIB, HOST-RESOURCES printer rows and vendor page counters."""

    #: Lifetime pages: prtMarkerLifeCount, else the vendor's total.
    pages_total: Counter | None = None
    pages_mono: Counter | None = None
    pages_color: Counter | None = None
    #: where the counters came from: printer-mib, brother, kyocera, hp (joined with +).
    pages_source: ShortStr | None = None
    model: ShortStr | None = None
    serial: ShortStr | None = None
    #: hrDeviceStatus: unknown, running, warning, testing, down
    device_status: ShortStr | None = None
    #: hrPrinterStatus: other, unknown, idle, printing, warmup
    printer_status: ShortStr | None = None
    #: hrPrinterDetectedErrorState bits set: lowPaper, noPaper, lowToner, noToner, doorOpen, jammed, ...
    detected_errors: Annotated[list[ShortStr], msgspec.Meta(max_length=32)] = []
    supplies: Annotated[list[PrinterSupply], msgspec.Meta(max_length=256)] = []
    trays: Annotated[list[PrinterTray], msgspec.Meta(max_length=256)] = []
    alerts: Annotated[list[PrinterAlert], msgspec.Meta(max_length=256)] = []


class Ups(_Base):
    """UPS-MIB (RFC 1628), or a vendor MIB where it is absent (APC PowerNet, Eaton XUPS)."""

    source: Literal["ups-mib", "apc", "xups"]
    on_battery: bool | None = None
    #: normal, battery, bypass, none, booster, reducer, other
    output_source: ShortStr | None = None
    #: normal, low, depleted, unknown
    battery_status: ShortStr | None = None
    charge_pct: Percent | None = None
    runtime_s: NonNeg | None = None
    seconds_on_battery: NonNeg | None = None
    load_pct: Annotated[float, msgspec.Meta(ge=0, le=1000)] | None = None
    battery_voltage_v: NonNeg | None = None
    battery_temperature_c: float | None = None
    input_voltage_v: NonNeg | None = None
    input_frequency_hz: NonNeg | None = None
    output_voltage_v: NonNeg | None = None
    output_frequency_hz: NonNeg | None = None
    output_current_a: NonNeg | None = None
    output_power_w: NonNeg | None = None


class Interface(_Base):
    """An IF-MIB interface (ifTable joined with ifXTable)."""

    index: Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)]
    name: ShortStr | None = None
    descr: ShortStr | None = None
    alias: ShortStr | None = None
    type: SnmpInt | None = None
    admin_status: ShortStr | None = None
    oper_status: ShortStr | None = None
    speed_bps: Counter | None = None
    in_octets_total: Counter | None = None
    out_octets_total: Counter | None = None
    #: 64 when the octet counters are ifHC*Octets (Counter64), 32 for ifIn/OutOctets (wrap at 2**32).
    counter_bits: Literal[32, 64] = 64
    in_errors_total: Counter | None = None
    out_errors_total: Counter | None = None
    uplink: bool = False


class SnmpReading(_Base):
    """One poll of one SNMP device (see DESIGN.md, wire format v1)."""

    device: Name
    kind: Literal["printer", "ups", "switch", "generic"] = "generic"
    ok: bool = True
    #: why the poll failed (ok false), never containing a secret.
    error: LongStr = ""
    #: Unix seconds when the poll finished.
    ts: Annotated[float, msgspec.Meta(ge=EARLIEST_TS)] | None = None
    address: ShortStr = ""
    sys: SnmpSys = msgspec.field(default_factory=SnmpSys)
    printer: Printer | None = None
    ups: Ups | None = None
    interfaces: Annotated[list[Interface], msgspec.Meta(max_length=8192)] | None = None
    #: fields the device answered with garbage or not at all, e.g. "printer.pages_total: noSuchObject".
    notes: Annotated[list[LongStr], msgspec.Meta(max_length=256)] = []


class Report(_Base):
    #: at most 2**53 - 1: metering keys a host's points by seq next to device
    #: timestamps in one REAL column, where larger integers collide (2**62 and
    #: 2**62 - 1 are the same double); one report a second lasts 285 million years
    seq: Annotated[int, msgspec.Meta(ge=1, le=MAX_SEQ)]
    #: Unix seconds; anything before 2001 is a broken clock, not data.
    ts: Annotated[float, msgspec.Meta(ge=EARLIEST_TS)]
    interval_s: Annotated[float, msgspec.Meta(gt=0, le=86400)]
    cpu: Cpu | None = None
    memory: Memory | None = None
    disks: Annotated[list[Disk], msgspec.Meta(max_length=512)] = []
    net: Annotated[list[Nic], msgspec.Meta(max_length=512)] = []
    load1: Annotated[float, msgspec.Meta(ge=0, le=1e9)] | None = None
    sessions: NonNegInt | None = None
    textfile: Annotated[list[TextfileSample], msgspec.Meta(max_length=10000)] = []
    textfile_errors: Annotated[list[ShortStr], msgspec.Meta(max_length=1000)] = []
    snmp: Annotated[list[SnmpReading], msgspec.Meta(max_length=1000)] = []


class Batch(_Base):
    agent: AgentInfo
    reports: Annotated[list[Report], msgspec.Meta(min_length=1, max_length=MAX_REPORTS_PER_BATCH)]


class BatchAck(_Base):
    accepted_through_seq: int
    stored: int = 0
    duplicates: int = 0
    #: one line per SNMP device whose readings the collector refused (ownership)
    refused: list[str] = []
    #: field paths of this batch the collector does not know (ignored, counted)
    unknown_fields: list[str] = []


class ErrorBody(msgspec.Struct):
    """The one error shape of every collector endpoint."""

    error: str
    detail: list[str] = []


class WireError(ValueError):
    """A body that does not follow the wire format; the message names the field."""

    def __init__(self, message: str, detail: list[str] | None = None) -> None:
        super().__init__(message)
        self.detail = detail or []


_batch_decoder = msgspec.json.Decoder(Batch)
_encoder = msgspec.json.Encoder()


def decode_json(decoder: msgspec.json.Decoder[T], body: bytes, what: str) -> T:
    """Decode and validate; raises WireError naming the offending field."""
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise WireError(f"invalid {what}", [str(exc)]) from exc
    except msgspec.DecodeError as exc:
        raise WireError("malformed JSON", [str(exc)]) from exc
    except RecursionError as exc:
        # msgspec stops at the interpreter's recursion limit; refusing the body
        # here keeps a 100,000-deep unknown value a 400 instead of a 500
        raise WireError("JSON nested too deeply", [str(exc)]) from exc


def decode_batch(body: bytes) -> Batch:
    # msgspec already rejects NaN, Infinity and out-of-range numbers such as 1e999.
    return decode_json(_batch_decoder, body, "report batch")


def encode(obj: object) -> bytes:
    return _encoder.encode(obj)


# Both sides' config files are TOML and name the line of a bad key in their errors
# (`file:line: key: message`); this is the one helper for it the collector may import.
def find_key_line(text: str, table: tuple[str, ...], key: str) -> int | None:
    """1-based line where ``key`` is set in ``table`` (``()`` is the top level), or None.

    tomllib does not report positions, so we scan the text: track the current
    ``[table]`` header and look for ``key =`` (or a ``[table.key]`` header).
    Good enough for messages; multi-line strings could fool it.
    """
    header = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    assign = re.compile(rf"""^\s*(["']?){re.escape(key)}\1\s*[=.]""")
    current: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), start=1):
        match = header.match(line)
        if match:
            current = tuple(part.strip().strip("\"'") for part in match.group(1).split("."))
            if current[: len(table) + 1] == (*table, key):
                return number
            continue
        if current == table and assign.match(line):
            return number
    return None
