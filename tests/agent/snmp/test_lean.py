"""The lean v2c engine reads what pysnmp reads, and survives devices that answer badly.

Every recording snmpsim serves (real devices, snmpsim-data's, and the fault
recordings) is polled through both engines; the readings must be equal. The
misbehaving devices are a UDP responder in this test (a real socket) that
answers with wrong request-ids, from the wrong port, with broken BER, or
with tooBig, which no real agent here does on demand.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from agent.snmp import ber
from agent.snmp.devices import DeviceConfig, DeviceConfigError, parse_devices
from agent.snmp.engine import Engine, engine_name
from agent.snmp.errors import SnmpError
from agent.snmp.poller import poll_once
from agent.snmp.values import Snapshot, Val
from tests.agent.snmp.conftest import FAULT_RECORDINGS
from tests.snmp.servers import SHARED_SNMP, SNMPSIM_DATA, SnmpSim

NAMES = sorted(
    [p.name.removesuffix(".snmprec") for p in SHARED_SNMP.glob("*.snmprec")]
    + list(SNMPSIM_DATA)
    + list(FAULT_RECORDINGS)
)


def readings(devices: list[DeviceConfig]) -> list[Any]:
    return list(asyncio.run(poll_once(devices)))


def without_ts(reading: Any) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(reading)
    data.pop("ts", None)
    return data


@pytest.mark.parametrize("kind", ["auto", "printer", "ups", "switch"])
def test_every_recording_reads_the_same_through_both_engines(snmpsim: SnmpSim, kind: str) -> None:
    assert len(NAMES) > 20
    entries = [{"id": name, "kind": kind, **snmpsim.target(name), "timeout": 5} for name in NAMES]
    lean = list(parse_devices(entries, env={}))
    pysnmp = list(parse_devices([{**e, "engine": "pysnmp"} for e in entries], env={}))
    assert {engine_name(d) for d in lean} == {"lean"}
    assert {engine_name(d) for d in pysnmp} == {"pysnmp"}
    got_lean, got_pysnmp = readings(lean), readings(pysnmp)
    assert all(r.ok for r in got_lean), [r.error for r in got_lean if not r.ok]
    for name, a, b in zip(NAMES, got_lean, got_pysnmp, strict=True):
        assert without_ts(a) == without_ts(b), name


# --- a misbehaving device -------------------------------------------------------

Answer = Callable[[ber.Message, int], list[tuple[bytes, bool]]]


class Responder(asyncio.DatagramProtocol):
    """Answers each request with ``answer(request, n)``: (datagram, from a second socket?) pairs."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[ber.Message] = []
        self.transport: Any = None
        self.other: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        msg = ber.decode_message(data)
        self.requests.append(msg)
        for datagram, from_other in self.answer(msg, len(self.requests)):
            (self.other if from_other else self.transport).sendto(datagram, addr)


async def serve(answer: Answer) -> tuple[Responder, int, Callable[[], None]]:
    loop = asyncio.get_running_loop()
    responder = Responder(answer)
    transport, _ = await loop.create_datagram_endpoint(lambda: responder, local_addr=("127.0.0.1", 0))
    other, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
    responder.other = other

    def close() -> None:
        transport.close()
        other.close()

    return responder, transport.get_extra_info("sockname")[1], close


def reply(request: ber.Message, binds: list[tuple[str, Val]], status: int = 0, request_id: int | None = None) -> bytes:
    rid = request.pdu.request_id if request_id is None else request_id
    return ber.encode_message(request._replace(pdu=ber.Pdu(ber.RESPONSE, rid, status, 0, binds)))


def device(port: int, **over: Any) -> DeviceConfig:
    entry = {"id": "d", "address": "127.0.0.1", "port": port, "community": "c", "timeout": 0.3, "retries": 1}
    return parse_devices([{**entry, **over}], env={})[0]


def run(answer: Answer, work: Callable[[Any], Any]) -> tuple[Any, Responder, Engine]:
    async def main() -> tuple[Any, Responder, Engine]:
        responder, port, close = await serve(answer)
        engine = Engine()
        try:
            client = await engine.client(device(port))
            return await work(client), responder, engine
        finally:
            engine.close()
            close()

    return asyncio.run(main())


SYS_DESCR = "1.3.6.1.2.1.1.1.0"


def test_stray_and_garbage_datagrams_are_dropped_and_the_real_answer_counts() -> None:
    def answer(req: ber.Message, n: int) -> list[tuple[bytes, bool]]:
        good = reply(req, [(SYS_DESCR, Val("str", b"echt"))])
        return [
            (reply(req, [(SYS_DESCR, Val("str", b"falsch"))], request_id=req.pdu.request_id + 1), False),
            (b"\x30\x03\x02\x01", False),
            (good, True),  # the right request-id from another port: not the device
            (reply(req._replace(community=b"other"), [(SYS_DESCR, Val("str", b"falsch"))]), False),
            (good, False),
        ]

    got, _responder, engine = run(answer, lambda c: c.get([SYS_DESCR]))
    assert got == {SYS_DESCR: Val("str", b"echt")}
    assert engine.lean.dropped == 4


def test_no_answer_is_a_timeout_after_the_retries() -> None:
    got, responder, _engine = run(lambda req, n: [], lambda c: _error(c.get([SYS_DESCR])))
    assert "no response (timeout)" in got
    # one try and one retry, with the same request-id (a late first answer still counts)
    assert len(responder.requests) == 2
    assert responder.requests[0] == responder.requests[1]


async def _error(coro: Any) -> str:
    try:
        await coro
    except SnmpError as exc:
        return str(exc)
    raise AssertionError("no SnmpError")


def test_a_malformed_answer_fails_the_poll_at_once_naming_the_defect() -> None:
    def answer(req: ber.Message, n: int) -> list[tuple[bytes, bool]]:
        good = reply(req, [(SYS_DESCR, Val("counter32", 5))])
        return [(good.replace(b"\x41\x01\x05", b"\x41\x01\xff"), False)]  # Counter32 -1

    got, responder, _engine = run(answer, lambda c: _error(c.get([SYS_DESCR])))
    assert "malformed answer from 127.0.0.1:" in got
    assert "counter32 -1 is outside" in got
    assert len(responder.requests) == 1


def test_too_big_halves_max_repetitions_and_splits_gets() -> None:
    col = "1.3.6.1.2.1.2.2.1.2"
    rows = {f"{col}.{i}": Val("str", f"port{i}".encode()) for i in range(1, 8)}

    def answer(req: ber.Message, n: int) -> list[tuple[bytes, bool]]:
        pdu = req.pdu
        if pdu.type == ber.GETBULK:
            if pdu.error_index > 6:
                return [(reply(req, [], status=1), False)]
            start = pdu.varbinds[0][0]
            after = [(o, v) for o, v in rows.items() if o > start or start == col][: pdu.error_index]
            after = after or [("1.3.6.1.2.1.2.2.1.3.1", Val("int", 6))]
            return [(reply(req, after), False)]
        if len(pdu.varbinds) > 1:
            return [(reply(req, [], status=1), False)]
        return [(reply(req, [(pdu.varbinds[0][0], Val("int", 1))]), False)]

    async def work(client: Any) -> tuple[Snapshot, dict[str, Val]]:
        snap = Snapshot()
        await client.walk([col], snap)
        return snap, await client.get(["1.3.6.1.2.1.1.7.0", "1.3.6.1.2.1.1.3.0"])

    (snap, got), responder, _engine = run(answer, work)
    assert snap.column(col) == {str(i): rows[f"{col}.{i}"] for i in range(1, 8)}
    reps = [m.pdu.error_index for m in responder.requests if m.pdu.type == ber.GETBULK]
    assert reps[:3] == [25, 12, 6]
    assert got == {"1.3.6.1.2.1.1.7.0": Val("int", 1), "1.3.6.1.2.1.1.3.0": Val("int", 1)}


def test_engine_setting_is_checked() -> None:
    base = {"id": "d", "address": "127.0.0.1", "community": "c"}
    assert parse_devices([base], env={})[0].engine == "auto"
    with pytest.raises(DeviceConfigError, match=r"engine: expected one of auto, lean, pysnmp, got 'net-snmp'"):
        parse_devices([{**base, "engine": "net-snmp"}], env={})
    v3 = {"id": "u", "address": "::1", "version": "3", "user": "u", "engine": "lean"}
    with pytest.raises(DeviceConfigError, match="lean engine speaks v1 and v2c only"):
        parse_devices([v3], env={})
    assert engine_name(parse_devices([{**v3, "engine": "auto"}], env={})[0]) == "pysnmp"
    with pytest.raises(DeviceConfigError, match="SNMPv1 is polled by the lean engine only"):
        parse_devices([{**base, "version": "1", "engine": "pysnmp"}], env={})
    assert engine_name(parse_devices([{**base, "version": 1}], env={})[0]) == "lean"


def test_unresolvable_name_is_a_clear_error() -> None:
    async def main() -> str:
        engine = Engine()
        try:
            return await _error(engine.client(device(161, address="no-such-host.invalid")))
        finally:
            engine.close()

    assert "cannot resolve no-such-host.invalid" in asyncio.run(main())


def test_lean_engine_never_imports_pysnmp() -> None:
    code = "import sys, agent.snmp.poller; print(any(m.startswith('pysnmp') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_snmpv1_devices_read_like_v2c_through_getnext(snmpsim: SnmpSim) -> None:
    # SNMPv1 cannot carry Counter64 (snmpsim skips such objects for v1): the recordings without them.
    names = [n for n in NAMES if "|70|" not in (snmpsim.data_dir / f"{n}.snmprec").read_text(errors="replace")]
    assert len(names) > 10
    entries = [{"id": name, "kind": "auto", **snmpsim.target(name), "timeout": 5} for name in names]
    v2c = readings(list(parse_devices(entries, env={})))
    v1 = readings(list(parse_devices([{**e, "version": "1"} for e in entries], env={})))
    assert all(r.ok for r in v1), [r.error for r in v1 if not r.ok]
    assert sum(len(r.printer.supplies) for r in v1 if r.printer) > 10  # tables walked by GETNEXT
    for name, a, b in zip(names, v1, v2c, strict=True):
        # v1's noSuchName cannot tell a missing object from a missing instance
        v2c_seen = msgspec.json.encode(without_ts(b)).replace(b"noSuchInstance", b"noSuchObject")
        assert msgspec.json.encode(without_ts(a)) == v2c_seen, name
