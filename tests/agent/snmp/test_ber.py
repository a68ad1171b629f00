"""The lean BER codec against pysnmp/pyasn1, the reference: both directions, every value type.

Our encoder's bytes are decoded by pyasn1 with pysnmp's SNMP message spec, and
pysnmp-built messages encoded by pyasn1 are decoded by ours; each side must
see the same version, community, PDU fields and values. Hostile datagrams
(truncated, huge lengths, deep nesting, random bytes) raise BerError, never
anything else, and never take long.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pyasn1.codec.ber import decoder, encoder

from agent.snmp import ber
from agent.snmp._pysnmp import api, rfc1902, rfc1905
from agent.snmp.pysnmp_engine import convert
from agent.snmp.values import Val

V2C = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
V1 = api.PROTOCOL_MODULES[api.SNMP_VERSION_1]
PDU_CLASSES = {
    ber.GET: "GetRequestPDU",
    ber.GETNEXT: "GetNextRequestPDU",
    ber.RESPONSE: "ResponsePDU",
    ber.SET: "SetRequestPDU",
    ber.GETBULK: "GetBulkRequestPDU",
    ber.REPORT: "ReportPDU",
}
V1_PDU_CLASSES = {ber.GET: "GetRequestPDU", ber.GETNEXT: "GetNextRequestPDU", ber.RESPONSE: "GetResponsePDU"}
INT32 = st.integers(-(2**31), 2**31 - 1)
U32 = st.integers(0, 2**32 - 1)
EDGES = [0, 1, 127, 128, 255, 256, 2**31 - 1, 2**32 - 1, 2**32, 2**63, 2**64 - 1]


@st.composite
def oids(draw: st.DrawFn) -> str:
    first = draw(st.integers(0, 2))
    second = (
        draw(st.integers(0, 39)) if first < 2 else draw(st.one_of(st.sampled_from(EDGES[:-1]), st.integers(0, 10**6)))
    )
    arc = st.one_of(st.integers(0, 300), st.sampled_from(EDGES), st.integers(0, 2**64 - 1))
    rest = draw(st.lists(arc, min_size=0, max_size=126))
    return ".".join(map(str, (first, second, *rest)))


def values(v1: bool = False) -> st.SearchStrategy[Val]:
    common = [
        st.builds(Val, st.just("int"), INT32),
        st.builds(Val, st.just("str"), st.binary(max_size=300)),
        st.builds(Val, st.just("oid"), oids()),
        st.builds(Val, st.just("ip"), st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))),
        st.builds(Val, st.just("counter32"), U32),
        st.builds(Val, st.just("gauge32"), U32),
        st.builds(Val, st.just("ticks"), U32),
        st.builds(Val, st.just("opaque"), st.binary(max_size=200)),
        st.just(Val("null")),
    ]
    if v1:
        return st.one_of(common)
    exceptions = st.sampled_from([Val("noSuchObject"), Val("noSuchInstance"), Val("endOfMibView")])
    return st.one_of(*common, st.builds(Val, st.just("counter64"), st.integers(0, 2**64 - 1)), exceptions)


@st.composite
def messages(draw: st.DrawFn, v1: bool = False) -> ber.Message:
    pdu_type = draw(st.sampled_from(sorted(V1_PDU_CLASSES if v1 else PDU_CLASSES)))
    binds = draw(st.lists(st.tuples(oids(), values(v1)), max_size=8))
    # error-status 0..18 (RFC 3416; pysnmp holds to it), error-index and GetBulk's fields 0..2**31-1
    status = draw(st.integers(0, 2**31 - 1) if pdu_type == ber.GETBULK else st.integers(0, 18))
    index = draw(st.integers(0, 2**31 - 1))
    pdu = ber.Pdu(pdu_type, draw(INT32), status, index, binds)
    return ber.Message(ber.V1 if v1 else ber.V2C, draw(st.binary(max_size=200)), pdu)


def pysnmp_value(val: Val, v1: bool) -> Any:
    """The pysnmp object for a Val (the reference's own types)."""
    exceptions = {"noSuchObject": rfc1905.noSuchObject, "noSuchInstance": rfc1905.noSuchInstance}
    exceptions["endOfMibView"] = rfc1905.endOfMibView
    if val.tag in exceptions:
        return exceptions[val.tag]
    types = {
        "int": rfc1902.Integer32,
        "str": rfc1902.OctetString,
        "oid": rfc1902.ObjectName,
        "ip": rfc1902.IpAddress,
        "counter32": rfc1902.Counter32,
        "gauge32": rfc1902.Gauge32,
        "ticks": rfc1902.TimeTicks,
        "opaque": rfc1902.Opaque,
        "counter64": rfc1902.Counter64,
        "null": rfc1902.Null,
    }
    if val.tag == "null":
        return rfc1902.Null("")
    return types[val.tag](val.value)


def pysnmp_encode(msg: ber.Message) -> bytes:
    mod = V1 if msg.version == ber.V1 else V2C
    out = mod.Message()
    mod.apiMessage.set_defaults(out)
    mod.apiMessage.set_community(out, msg.community)
    pdu = getattr(mod, (V1_PDU_CLASSES if msg.version == ber.V1 else PDU_CLASSES)[msg.pdu.type])()
    api_pdu = mod.apiBulkPDU if msg.pdu.type == ber.GETBULK else mod.apiPDU
    api_pdu.set_defaults(pdu)
    api_pdu.set_request_id(pdu, msg.pdu.request_id)
    if msg.pdu.type == ber.GETBULK:
        api_pdu.set_non_repeaters(pdu, msg.pdu.error_status)
        api_pdu.set_max_repetitions(pdu, msg.pdu.error_index)
    else:
        api_pdu.set_error_status(pdu, msg.pdu.error_status)
        api_pdu.set_error_index(pdu, msg.pdu.error_index)
    api_pdu.set_varbinds(pdu, [(oid, pysnmp_value(v, msg.version == ber.V1)) for oid, v in msg.pdu.varbinds])
    mod.apiMessage.set_pdu(out, pdu)
    return bytes(encoder.encode(out))


def v1_convert(value: Any) -> Val:
    """RFC 1155 names its counters Counter and Gauge (the pysnmp path speaks v2c only)."""
    tag = {"Counter": "counter32", "Gauge": "gauge32"}.get(type(value).__name__)
    return Val(tag, int(value)) if tag else convert(value)  # type: ignore[arg-type]


def pysnmp_decode(data: bytes, version: int) -> ber.Message:
    """What pysnmp/pyasn1 read from ``data``, in our terms (values via the pysnmp path's convert)."""
    mod = V1 if version == ber.V1 else V2C
    msg, rest = decoder.decode(data, asn1Spec=mod.Message())
    assert rest == b""
    pdu = mod.apiMessage.get_pdu(msg)
    names = V1_PDU_CLASSES if version == ber.V1 else PDU_CLASSES
    pdu_type = {v: k for k, v in names.items()}[type(pdu).__name__]
    binds = [
        (str(name), v1_convert(value) if version == ber.V1 else convert(value))
        for name, value in mod.apiPDU.get_varbinds(pdu)
    ]
    fields = (int(pdu[0]), int(pdu[1]), int(pdu[2]))
    return ber.Message(int(msg["version"]), bytes(msg["community"]), ber.Pdu(pdu_type, *fields, binds))


ROUND_TRIP = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LONG_OID = "1.3." + ".".join(str(2**32 - 1 + i) for i in range(126))


@ROUND_TRIP
@given(messages())
@example(
    ber.Message(
        ber.V2C,
        b"public",
        ber.Pdu(
            ber.RESPONSE,
            -(2**31),
            0,
            0,
            [
                (LONG_OID, Val("counter64", 2**64 - 1)),
                ("1.3.6.1.2.1.1.3.0", Val("int", -(2**31))),
                ("2.999.4294967295", Val("oid", "2.18446744073709551535.0")),
                ("1.3.6.1.2.1.1.1.0", Val("str", b"x" * 1000)),
                ("1.3.6.1.2.1.1.2.0", Val("null")),
            ],
        ),
    )
)
def test_our_encoding_reads_the_same_in_pysnmp(msg: ber.Message) -> None:
    data = ber.encode_message(msg)
    assert pysnmp_decode(data, msg.version) == msg
    assert ber.decode_message(data) == msg


@ROUND_TRIP
@given(messages())
def test_pysnmp_encoding_reads_the_same_in_ours(msg: ber.Message) -> None:
    data = pysnmp_encode(msg)
    assert ber.decode_message(data) == msg
    # (Bytes may differ: pyasn1 writes -128 as ff 80, X.690's minimal form is 80.)


@ROUND_TRIP
@given(messages(v1=True))
def test_snmpv1_messages_round_trip_both_ways(msg: ber.Message) -> None:
    assert pysnmp_decode(ber.encode_message(msg), ber.V1) == msg
    assert ber.decode_message(pysnmp_encode(msg)) == msg


def long_form(data: bytes, octets: int) -> bytes:
    """``data`` with every length rewritten in long form of ``octets`` octets (legal BER, odd)."""
    out = bytearray()

    def length(n: int) -> bytes:
        k = max(octets, (n.bit_length() + 7) // 8)
        return bytes((0x80 | k,)) + n.to_bytes(k, "big")

    def walk(pos: int, end: int) -> None:
        while pos < end:
            tag, start, stop = ber._header(data, pos, end)
            out.append(tag)
            if tag & 0x20:
                outer = len(out)
                walk(start, stop)
                content = out[outer:]
                del out[outer:]
                out.extend(length(len(content)) + content)
            else:
                out.extend(length(stop - start) + data[start:stop])
            pos = stop

    walk(0, len(data))
    return bytes(out)


@settings(max_examples=60, deadline=None)
@given(messages(), st.integers(1, 4))
def test_long_form_lengths_read_the_same_in_both(msg: ber.Message, octets: int) -> None:
    odd = long_form(ber.encode_message(msg), octets)
    assert ber.decode_message(odd) == msg
    assert pysnmp_decode(odd, msg.version) == msg


SAMPLE = ber.encode_message(
    ber.Message(
        ber.V2C,
        b"public",
        ber.Pdu(
            ber.RESPONSE,
            4711,
            0,
            0,
            [("1.3.6.1.2.1.1.1.0", Val("str", b"Switch")), ("1.3.6.1.2.1.1.3.0", Val("ticks", 9))],
        ),
    )
)


def test_every_truncation_is_a_typed_error() -> None:
    for cut in range(len(SAMPLE)):
        with pytest.raises(ber.BerError):
            ber.decode_message(SAMPLE[:cut])


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_mutated_and_random_datagrams_give_a_message_or_a_typed_error(data: st.DataObject) -> None:
    base = bytearray(data.draw(st.sampled_from([SAMPLE, b""])))
    for _ in range(data.draw(st.integers(0, 4))):
        if base and data.draw(st.booleans()):
            base[data.draw(st.integers(0, len(base) - 1))] = data.draw(st.integers(0, 255))
        else:
            base[data.draw(st.integers(0, len(base))) : 0] = data.draw(st.binary(min_size=1, max_size=8))
    try:
        msg = ber.decode_message(bytes(base))
    except ber.BerError:
        return
    # Whatever decodes re-encodes to a message that decodes the same (no half-read state);
    # unknown types read as opaque without a value, which has no encoding.
    if Val("opaque", None) not in [v for _, v in msg.pdu.varbinds]:
        assert ber.decode_message(ber.encode_message(msg)) == msg


def response_with_value(value_tlv: bytes, request_id: int = 77) -> bytes:
    """A v2c Response whose one varbind (1.3.6.1) holds ``value_tlv`` as is."""
    vbl = ber._tlv(0x30, ber._tlv(0x30, b"\x06\x03\x2b\x06\x01" + value_tlv))
    body = b"\x02\x01" + bytes((request_id,)) + b"\x02\x01\x00\x02\x01\x00" + vbl
    return ber._tlv(0x30, b"\x02\x01\x01\x04\x01p" + ber._tlv(ber.RESPONSE, body))


def nested(inner: bytes, depth: int) -> bytes:
    """``inner`` wrapped in ``depth`` SEQUENCEs (definite lengths, all consistent)."""
    for _ in range(depth):
        inner = ber._tlv(0x30, inner)
    return inner


@pytest.mark.parametrize(
    ("datagram", "what"),
    [
        (b"\x30\x84\xff\xff\xff\xff\x02\x01\x01", "length 4294967295 exceeds"),
        (b"\x30\x85\x01\x00\x00\x00\x00", "length of 5 octets is too long"),
        (b"\x30\x80\x02\x01\x01\x00\x00", "indefinite length"),
        (b"\x30\x05\x02\x01\x03\x04\x00", "SNMPv3"),
        (SAMPLE + b"\x00", "trailing bytes"),
        (nested(b"\x02\x01\x01", 5_000), "version: expected tag 0x02"),
        (response_with_value(nested(b"\x05\x00", 5_000)), "constructed value"),
        (b"\x1f\x01\x00", "multi-octet tag"),
        (b"\x30\x0e\x02\x0a" + b"\x01" * 10 + b"\x04\x00", "INTEGER of 10 octets"),
    ],
)
def test_hostile_datagrams_name_what_is_wrong(datagram: bytes, what: str) -> None:
    start = time.process_time()
    with pytest.raises(ber.BerError, match=what):
        ber.decode_message(datagram)
    assert time.process_time() - start < 0.5


@pytest.mark.parametrize(
    ("value_tlv", "what"),
    [
        (b"\x41\x01\xff", "counter32 -1 is outside"),
        (b"\x02\x05\x01\x00\x00\x00\x00", "int 4294967296 is outside"),
        (b"\x46\x09\x01" + b"\x00" * 8, "counter64 18446744073709551616 is outside"),
        (b"\x40\x03\x0a\x00\x01", "IpAddress of 3 octets"),
        (b"\x80\x01\x00", "noSuchObject with content"),
        (b"\x30\x02\x05\x00", "constructed value"),
        (b"\x06\x02\x2b\x86", "ends inside a sub-identifier"),
        (b"\x06\x03\x2b\x80\x01", "leading 0x80"),
        (b"\x06\x00", "empty OBJECT IDENTIFIER"),
        (b"\x06\x81\x81" + b"\x01" * 129, "at most 128"),
    ],
)
def test_bad_values_are_errors_that_carry_the_request_id(value_tlv: bytes, what: str) -> None:
    datagram = response_with_value(value_tlv)
    with pytest.raises(ber.BerError, match=what) as err:
        ber.decode_message(datagram)
    # The header was readable: the client can tell the device's answer is broken.
    assert err.value.request_id == 77


def test_unknown_primitive_application_types_read_like_the_pysnmp_path() -> None:
    # UInteger32 (0x47, RFC 1442, obsolete) as pysnmp's convert reports unknown types: opaque, no value.
    msg = ber.decode_message(response_with_value(b"\x47\x01\x05"))
    assert msg.pdu.varbinds == [("1.3.6.1", Val("opaque", None))]


@pytest.mark.parametrize(
    ("val", "what"),
    [
        (Val("int", 2**31), "outside"),
        (Val("counter32", -1), "outside"),
        (Val("ip", "10.0.0"), "IpAddress"),
        (Val("str", 5), "needs bytes"),
    ],
)
def test_encoding_refuses_values_the_type_cannot_hold(val: Val, what: str) -> None:
    with pytest.raises(ber.BerError, match=what):
        ber.encode_value(val)


@pytest.mark.parametrize("oid", ["1", "3.1", "1.40", "1.3.x", "1.3.-1", "1.3." + ".".join(["1"] * 127), "1.3.1_0"])
def test_encoding_refuses_bad_oids(oid: str) -> None:
    with pytest.raises(ber.BerError, match="OID"):
        ber.encode_oid(oid)
