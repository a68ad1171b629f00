"""A BER codec for the SNMP v1/v2c message subset (X.690, RFC 1157, RFC 3416). Pure: no I/O.

Only what a community-based manager sends and reads: the message (version,
community, PDU), the GetRequest / GetNextRequest / GetBulkRequest / SetRequest /
Response / Report PDUs, and the values of RFC 2578 (INTEGER, OCTET STRING,
NULL, OBJECT IDENTIFIER, IpAddress, Counter32, Gauge32, TimeTicks, Opaque,
Counter64) plus the v2 exceptions noSuchObject, noSuchInstance and
endOfMibView. Values decode straight into :class:`~agent.snmp.values.Val`, the
same plain values the pysnmp path produces, so nothing of pyasn1 is on the
hot path.

Every datagram is untrusted: the decoder walks a fixed shape (no recursion),
checks every length against the bytes that are really there, accepts only
definite lengths of at most four octets, bounds integers (nine octets: a
Counter64 with its sign octet) and OIDs (128 sub-identifiers, each below
2**64), and raises :class:`BerError` naming what is wrong and where. A value
outside its type's range (a negative Counter32, an Integer32 above 2**31-1) is
an error too: turning it into a number would report something the device
never meant.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

from agent.snmp.values import Val

__all__ = [
    "GET",
    "GETBULK",
    "GETNEXT",
    "MAX_DATAGRAM",
    "REPORT",
    "RESPONSE",
    "SET",
    "V1",
    "V2C",
    "BerError",
    "Message",
    "Pdu",
    "decode_message",
    "encode_message",
    "encode_oid",
    "encode_value",
]

V1, V2C = 0, 1
GET, GETNEXT, RESPONSE, SET, GETBULK, REPORT = 0xA0, 0xA1, 0xA2, 0xA3, 0xA5, 0xA8
PDU_NAMES = {
    GET: "GetRequest",
    GETNEXT: "GetNextRequest",
    RESPONSE: "Response",
    SET: "SetRequest",
    GETBULK: "GetBulkRequest",
    REPORT: "Report",
}
#: the largest UDP payload; anything longer did not come from a socket
MAX_DATAGRAM = 65535
MAX_OID_ARCS = 128
_MAX_ARC = 2**64 - 1
_MAX_INT_OCTETS = 9

_SEQUENCE, _INTEGER, _OCTETS, _NULL, _OID = 0x30, 0x02, 0x04, 0x05, 0x06
_IP, _COUNTER32, _GAUGE32, _TICKS, _OPAQUE, _COUNTER64 = 0x40, 0x41, 0x42, 0x43, 0x44, 0x46
_NO_SUCH_OBJECT, _NO_SUCH_INSTANCE, _END_OF_MIB = 0x80, 0x81, 0x82

# tag -> (Val tag, lowest, highest) of the integer types
_INT_RANGES: dict[int, tuple[str, int, int]] = {
    _INTEGER: ("int", -(2**31), 2**31 - 1),
    _COUNTER32: ("counter32", 0, 2**32 - 1),
    _GAUGE32: ("gauge32", 0, 2**32 - 1),
    _TICKS: ("ticks", 0, 2**32 - 1),
    _COUNTER64: ("counter64", 0, 2**64 - 1),
}
_EXCEPTION_VALS = {
    _NULL: Val("null"),
    _NO_SUCH_OBJECT: Val("noSuchObject"),
    _NO_SUCH_INSTANCE: Val("noSuchInstance"),
    _END_OF_MIB: Val("endOfMibView"),
}
_TAG_OF = {v[0]: k for k, v in _INT_RANGES.items()} | {v.tag: k for k, v in _EXCEPTION_VALS.items()}
_TAG_OF |= {"str": _OCTETS, "oid": _OID, "ip": _IP, "opaque": _OPAQUE}


class BerError(ValueError):
    """A datagram (or a value to encode) that is not valid SNMP; says what and at which byte.

    ``request_id`` is set when the message got as far as its request-id: the
    answer to a request of ours that cannot be read, not stray garbage.
    """

    def __init__(self, what: str, offset: int | None = None, request_id: int | None = None) -> None:
        super().__init__(what if offset is None else f"{what} (at byte {offset})")
        self.what = what
        self.offset = offset
        self.request_id = request_id


class Pdu(NamedTuple):
    type: int
    request_id: int
    #: non-repeaters in a GetBulkRequest
    error_status: int
    #: max-repetitions in a GetBulkRequest
    error_index: int
    varbinds: list[tuple[str, Val]]


class Message(NamedTuple):
    version: int
    community: bytes
    pdu: Pdu


# --- encoding -----------------------------------------------------------------


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(octets),)) + octets


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes((tag,)) + _length(len(content)) + content


def _int_content(n: int) -> bytes:
    return n.to_bytes((n + (n < 0)).bit_length() // 8 + 1, "big", signed=True)


@functools.lru_cache(maxsize=4096)
def encode_oid(oid: str) -> bytes:
    """An OBJECT IDENTIFIER TLV for a dotted OID ("1.3.6.1.2.1.1.1.0"); cached (the same tables every poll)."""
    parts = oid.split(".")
    if not all(p.isascii() and p.isdigit() for p in parts):
        raise BerError(f"OID {oid!r} is not dotted decimal")
    arcs = [int(p) for p in parts]
    if not 2 <= len(arcs) <= MAX_OID_ARCS:
        raise BerError(f"OID {oid!r} has {len(arcs)} sub-identifiers, expected 2..{MAX_OID_ARCS}")
    first, second = arcs[0], arcs[1]
    if first > 2 or (first < 2 and second >= 40) or max(arcs) > _MAX_ARC:
        raise BerError(f"OID {oid!r} is out of range")
    out = bytearray()
    for arc in (first * 40 + second, *arcs[2:]):
        group = [arc & 0x7F]
        arc >>= 7
        while arc:
            group.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(group))
    return _tlv(_OID, bytes(out))


def encode_value(val: Val) -> bytes:
    """The TLV of one value; raises BerError for a value its type cannot hold."""
    tag = _TAG_OF.get(val.tag)
    if tag is None:
        raise BerError(f"unknown value type {val.tag!r}")
    value = val.value
    if tag in _EXCEPTION_VALS:
        return bytes((tag, 0))
    if tag in _INT_RANGES:
        _name, low, high = _INT_RANGES[tag]
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise BerError(f"{val.tag} {value!r} is outside {low}..{high}")
        return _tlv(tag, _int_content(value))
    if tag == _OID:
        return encode_oid(str(value))
    if tag == _IP:
        try:
            octets = bytes(int(p) for p in str(value).split("."))
        except ValueError:
            octets = b""
        if len(octets) != 4:
            raise BerError(f"IpAddress {value!r} is not a dotted IPv4 address")
        return _tlv(tag, octets)
    if isinstance(value, str):
        value = value.encode()
    if not isinstance(value, bytes):
        raise BerError(f"{val.tag} needs bytes, got {type(value).__name__}")
    return _tlv(tag, value)


def encode_message(msg: Message) -> bytes:
    """A whole SNMP v1/v2c message, ready for a datagram."""
    if msg.version not in (V1, V2C):
        raise BerError(f"version {msg.version}: only v1 (0) and v2c (1) are encoded here")
    pdu = msg.pdu
    if pdu.type not in PDU_NAMES:
        raise BerError(f"unknown PDU type 0x{pdu.type:02X}")
    binds = b"".join(_tlv(_SEQUENCE, encode_oid(oid) + encode_value(val)) for oid, val in pdu.varbinds)
    if not -(2**31) <= pdu.request_id < 2**31:
        raise BerError(f"request-id {pdu.request_id} is outside Integer32")
    for name, n in (("error-status", pdu.error_status), ("error-index", pdu.error_index)):
        if not 0 <= n < 2**31:
            raise BerError(f"{name} {n} is outside 0..{2**31 - 1}")
    body = (
        _tlv(_INTEGER, _int_content(pdu.request_id))
        + _tlv(_INTEGER, _int_content(pdu.error_status))
        + _tlv(_INTEGER, _int_content(pdu.error_index))
        + _tlv(_SEQUENCE, binds)
    )
    content = _tlv(_INTEGER, _int_content(msg.version)) + _tlv(_OCTETS, msg.community) + _tlv(pdu.type, body)
    return _tlv(_SEQUENCE, content)


# --- decoding -----------------------------------------------------------------


def _header(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the TLV at ``pos``, which must fit before ``end``."""
    if end - pos < 2:
        raise BerError("truncated: a tag and length expected", pos)
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise BerError(f"multi-octet tag 0x{tag:02X} is not used by SNMP", pos)
    n = data[pos + 1]
    start = pos + 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0:
            raise BerError("indefinite length is not allowed in SNMP", pos + 1)
        if k > 4:
            raise BerError(f"length of {k} octets is too long", pos + 1)
        if end - start < k:
            raise BerError("truncated inside a length", pos + 1)
        n = int.from_bytes(data[start : start + k], "big")
        start += k
    if n > end - start:
        raise BerError(f"length {n} exceeds the {end - start} bytes left", pos)
    return tag, start, start + n


def _expect(data: bytes, pos: int, end: int, tag: int, what: str) -> tuple[int, int]:
    got, start, stop = _header(data, pos, end)
    if got != tag:
        raise BerError(f"{what}: expected tag 0x{tag:02X}, got 0x{got:02X}", pos)
    return start, stop


def _integer(data: bytes, start: int, stop: int, what: str) -> int:
    if start == stop:
        raise BerError(f"{what}: empty INTEGER", start)
    if stop - start > _MAX_INT_OCTETS:
        raise BerError(f"{what}: INTEGER of {stop - start} octets is too long", start)
    return int.from_bytes(data[start:stop], "big", signed=True)


def _int32(data: bytes, pos: int, end: int, what: str, low: int = -(2**31)) -> tuple[int, int]:
    start, stop = _expect(data, pos, end, _INTEGER, what)
    n = _integer(data, start, stop, what)
    if not low <= n < 2**31:
        raise BerError(f"{what} {n} is outside {low}..{2**31 - 1}", start)
    return n, stop


def _oid(data: bytes, start: int, stop: int) -> str:
    if start == stop:
        raise BerError("empty OBJECT IDENTIFIER", start)
    chunk = data[start:stop]
    if chunk.isascii():  # every sub-identifier is one octet: the common case, done in C
        arcs = list(chunk)
    else:
        if chunk[-1] & 0x80:
            raise BerError("OBJECT IDENTIFIER ends inside a sub-identifier", stop - 1)
        arcs = []
        arc = 0
        fresh = True
        for i, b in enumerate(chunk):
            if fresh and b == 0x80:
                raise BerError("OBJECT IDENTIFIER sub-identifier with a leading 0x80 octet", start + i)
            arc = (arc << 7) | (b & 0x7F)
            if arc > _MAX_ARC:
                raise BerError("OBJECT IDENTIFIER sub-identifier above 2**64-1", start + i)
            fresh = not b & 0x80
            if fresh:
                arcs.append(arc)
                arc = 0
    first = arcs[0]
    if first < 80:
        arcs[0:1] = divmod(first, 40)
    else:
        arcs[0:1] = (2, first - 80)
    if len(arcs) > MAX_OID_ARCS:
        raise BerError(f"OBJECT IDENTIFIER of {len(arcs)} sub-identifiers, at most {MAX_OID_ARCS}", start)
    return ".".join(map(str, arcs))


def _value(data: bytes, tag: int, start: int, stop: int) -> Val:
    exception = _EXCEPTION_VALS.get(tag)
    if exception is not None:
        if start != stop:
            raise BerError(f"{exception.tag} with content", start)
        return exception
    if tag == _OCTETS:
        return Val("str", data[start:stop])
    ranged = _INT_RANGES.get(tag)
    if ranged is not None:
        name, low, high = ranged
        n = _integer(data, start, stop, name)
        if not low <= n <= high:
            raise BerError(f"{name} {n} is outside {low}..{high}", start)
        return Val(name, n)  # type: ignore[arg-type]
    if tag == _OID:
        return Val("oid", _oid(data, start, stop))
    if tag == _IP:
        if stop - start != 4:
            raise BerError(f"IpAddress of {stop - start} octets, expected 4", start)
        return Val("ip", ".".join(map(str, data[start:stop])))
    if tag == _OPAQUE:
        return Val("opaque", data[start:stop])
    if tag & 0x20:
        raise BerError(f"constructed value 0x{tag:02X} where a value belongs", start)
    # NsapAddress, UInteger32 and private types: primitive and skippable; the pysnmp path does the same.
    return Val("opaque", None)


def decode_message(data: bytes) -> Message:
    """An SNMP v1/v2c message from a datagram; raises BerError naming the defect."""
    end = len(data)
    if end > MAX_DATAGRAM:
        raise BerError(f"datagram of {end} bytes is longer than any UDP datagram")
    start, stop = _expect(data, 0, end, _SEQUENCE, "message")
    if stop != end:
        raise BerError(f"{end - stop} trailing bytes after the message", stop)
    version, pos = _int32(data, start, stop, "version")
    if version not in (V1, V2C):
        names = {3: "SNMPv3 (not for the community path)", 2: "SNMPv2u"}
        raise BerError(f"version {version}: {names.get(version, 'unknown')}", start)
    c_start, pos = _expect(data, pos, stop, _OCTETS, "community")
    community = data[c_start:pos]
    pdu_type, pos, pdu_end = _header(data, pos, stop)
    if pdu_type not in PDU_NAMES:
        raise BerError(f"unsupported PDU type 0x{pdu_type:02X}", c_start)
    if pdu_end != stop:
        raise BerError("bytes after the PDU", pdu_end)
    request_id, pos = _int32(data, pos, pdu_end, "request-id")
    try:
        # Never negative (RFC 3416); an error-status above 18 is kept: a newer error is still an error.
        error_status, pos = _int32(data, pos, pdu_end, "error-status", 0)
        error_index, pos = _int32(data, pos, pdu_end, "error-index", 0)
        pos, list_end = _expect(data, pos, pdu_end, _SEQUENCE, "variable-bindings")
        if list_end != pdu_end:
            raise BerError("bytes after the variable-bindings", list_end)
        varbinds: list[tuple[str, Val]] = []
        while pos < list_end:
            pos, vb_end = _expect(data, pos, list_end, _SEQUENCE, "variable-binding")
            o_start, o_stop = _expect(data, pos, vb_end, _OID, "variable-binding name")
            tag, v_start, v_stop = _header(data, o_stop, vb_end)
            if v_stop != vb_end:
                raise BerError("bytes after a variable-binding's value", v_stop)
            varbinds.append((_oid(data, o_start, o_stop), _value(data, tag, v_start, v_stop)))
            pos = vb_end
    except BerError as exc:
        raise BerError(exc.what, exc.offset, request_id) from None
    return Message(version, bytes(community), Pdu(pdu_type, request_id, error_status, error_index, varbinds))
