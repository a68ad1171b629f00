"""Wire format v1, agent -> collector (see DESIGN.md).

Both sides import this module, so it must stay light: only msgspec and the
standard library. Structural validation (types, required fields, bounds) lives
here as type annotations; rules that need the collector's clock or state
(timestamps in the future, seq already stored) live in the collector.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

import msgspec

__all__ = [
    "WIRE_VERSION",
    "AgentInfo",
    "Batch",
    "BatchAck",
    "Cpu",
    "Disk",
    "ErrorBody",
    "Memory",
    "Nic",
    "Report",
    "SnmpReading",
    "TextfileSample",
    "WireError",
    "decode_batch",
    "decode_json",
    "encode",
]

WIRE_VERSION = 1

T = TypeVar("T")

# Bounds keep one hostile report from blowing up storage or arithmetic.
NonNeg = Annotated[float, msgspec.Meta(ge=0)]
NonNegInt = Annotated[int, msgspec.Meta(ge=0)]
Percent = Annotated[float, msgspec.Meta(ge=0, le=100)]
ShortStr = Annotated[str, msgspec.Meta(max_length=256)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
AgentId = Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")]
LabelName = Annotated[str, msgspec.Meta(max_length=100)]
LabelValue = Annotated[str, msgspec.Meta(max_length=1024)]
Role = Literal["server", "vm", "thin-client"]

MAX_REPORTS_PER_BATCH = 1000
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


class Cpu(_Base):
    count: Annotated[int, msgspec.Meta(ge=1, le=65536)]
    percent: Percent
    busy_seconds_total: NonNeg


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


class TextfileSample(_Base):
    name: Annotated[str, msgspec.Meta(pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$", max_length=200)]
    value: float
    labels: dict[LabelName, LabelValue] = {}


class SnmpReading(_Base):
    """One device poll. The kind-specific sections are defined by the SNMP issue;
    until then they travel as opaque JSON objects."""

    device: Name
    kind: Literal["printer", "ups", "switch", "generic"] = "generic"
    ok: bool = True
    error: ShortStr = ""
    sys: dict[str, Any] = {}
    printer: dict[str, Any] | None = None
    ups: dict[str, Any] | None = None
    interfaces: list[dict[str, Any]] | None = None


class Report(_Base):
    seq: Annotated[int, msgspec.Meta(ge=1, le=2**62)]
    #: Unix seconds; anything before 2001 is a broken clock, not data.
    ts: Annotated[float, msgspec.Meta(ge=EARLIEST_TS)]
    interval_s: Annotated[float, msgspec.Meta(gt=0, le=86400)]
    cpu: Cpu | None = None
    memory: Memory | None = None
    disks: Annotated[list[Disk], msgspec.Meta(max_length=512)] = []
    net: Annotated[list[Nic], msgspec.Meta(max_length=512)] = []
    load1: NonNeg | None = None
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


def decode_batch(body: bytes) -> Batch:
    # msgspec already rejects NaN, Infinity and out-of-range numbers such as 1e999.
    return decode_json(_batch_decoder, body, "report batch")


def encode(obj: object) -> bytes:
    return _encoder.encode(obj)
