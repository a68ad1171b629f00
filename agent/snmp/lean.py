"""The lean SNMP v2c client: the BER codec of :mod:`agent.snmp.ber` on one asyncio datagram socket.

One :class:`LeanEngine` per poller holds one UDP socket per address family for
every device it polls; requests are matched to answers by request-id and by
the address the request went to, so a stray, late or spoofed datagram is
dropped (and counted in :attr:`LeanEngine.dropped`), never taken as an answer.
A retry resends the same request-id, so a slow first answer still counts.
An answer to one of our requests that cannot be decoded fails that poll with
the codec's message: the device speaks broken SNMP, and waiting for the
timeout would only hide that. pysnmp is not imported here.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import socket
from collections.abc import Iterable, Sequence
from typing import Any

from agent.snmp import ber
from agent.snmp.devices import DeviceConfig
from agent.snmp.errors import SnmpError
from agent.snmp.values import Snapshot, Val
from agent.snmp.walk import get_chunked, walk_columns

__all__ = ["LeanClient", "LeanEngine"]

_NULL = Val("null")
_NO_SUCH_NAME, _GEN_ERR = 2, 5
_Addr = tuple[str, int]


class _Pending:
    __slots__ = ("addr", "community", "future", "version")

    def __init__(self, addr: _Addr, message: ber.Message, future: asyncio.Future[ber.Pdu]) -> None:
        self.addr = addr
        self.community = message.community
        self.version = message.version
        self.future = future


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, engine: LeanEngine) -> None:
        self._engine = engine

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self._engine._received(data, (addr[0], addr[1]))

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable and friends: the request's own timeout reports the device.
        pass


class LeanEngine:
    """The sockets and the table of requests in flight, shared by every v2c device of a poller."""

    def __init__(self) -> None:
        self._transports: dict[int, asyncio.DatagramTransport] = {}
        self._pending: dict[int, _Pending] = {}
        self._opening: dict[int, asyncio.Future[asyncio.DatagramTransport]] = {}
        self._next_id = random.randrange(1, 2**30)
        self.dropped = 0

    def close(self) -> None:
        for transport in self._transports.values():
            transport.close()
        self._transports.clear()

    async def client(self, device: DeviceConfig) -> LeanClient:
        addr = await _resolve(device)
        return LeanClient(self, device, addr)

    async def _transport(self, family: int) -> asyncio.DatagramTransport:
        transport = self._transports.get(family)
        if transport is None or transport.is_closing():
            # One socket per family even when many first polls start together: no await between check and set.
            opening = self._opening.get(family)
            if opening is None:
                opening = self._opening[family] = asyncio.ensure_future(self._open(family))
            try:
                transport = await asyncio.shield(opening)
            finally:
                if opening.done():
                    self._opening.pop(family, None)
        return transport

    async def _open(self, family: int) -> asyncio.DatagramTransport:
        loop = asyncio.get_running_loop()
        local = ("::", 0) if family == socket.AF_INET6 else ("0.0.0.0", 0)
        transport, _ = await loop.create_datagram_endpoint(lambda: _Protocol(self), local_addr=local, family=family)
        self._transports[family] = transport
        return transport

    def _request_id(self) -> int:
        while True:
            self._next_id = self._next_id % (2**31 - 1) + 1
            if self._next_id not in self._pending:
                return self._next_id

    def _received(self, data: bytes, addr: _Addr) -> None:
        try:
            msg = ber.decode_message(data)
        except ber.BerError as exc:
            pending = self._pending.get(exc.request_id) if exc.request_id is not None else None
            if pending is not None and pending.addr == addr and not pending.future.done():
                pending.future.set_exception(exc)
            else:
                self.dropped += 1
            return
        pending = self._pending.get(msg.pdu.request_id)
        if (
            pending is None
            or pending.future.done()
            or pending.addr != addr
            or msg.community != pending.community
            or msg.version != pending.version
            or msg.pdu.type != ber.RESPONSE
        ):
            self.dropped += 1
            return
        pending.future.set_result(msg.pdu)

    async def request(self, device: DeviceConfig, addr: _Addr, message: ber.Message) -> ber.Pdu:
        """Send ``message`` (its request-id is replaced), wait for the answer with retries."""
        family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        transport = await self._transport(family)
        request_id = self._request_id()
        pdu = message.pdu._replace(request_id=request_id)
        data = ber.encode_message(message._replace(pdu=pdu))
        future: asyncio.Future[ber.Pdu] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = _Pending(addr, message, future)
        try:
            for _attempt in range(device.retries + 1):
                transport.sendto(data, addr)
                try:
                    async with asyncio.timeout(device.timeout):
                        return await asyncio.shield(future)
                except TimeoutError:
                    continue
                except ber.BerError as exc:
                    raise SnmpError(f"malformed answer from {device.target}: {exc}") from None
            raise SnmpError(
                "no response (timeout): device down or unreachable, wrong port, or wrong community"
                f" from {device.target}"
            )
        finally:
            del self._pending[request_id]
            if not future.done():
                future.cancel()


async def _resolve(device: DeviceConfig) -> _Addr:
    try:
        ip = ipaddress.ip_address(device.address)
    except ValueError:
        pass
    else:
        return str(ip), device.port
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(device.address, device.port, type=socket.SOCK_DGRAM)
    except OSError as exc:
        raise SnmpError(f"cannot resolve {device.address}: {type(exc).__name__}") from None
    host, port = infos[0][4][:2]
    return str(host), int(port)


class LeanClient:
    """GET, GETNEXT and GETBULK for one v2c device, the same interface as the pysnmp client."""

    def __init__(self, engine: LeanEngine, device: DeviceConfig, addr: _Addr) -> None:
        self._engine = engine
        self.device = device
        self._addr = addr
        self._community = device.community.reveal().encode() if device.community else b""
        self._version = ber.V1 if device.version == "1" else ber.V2C
        self.requests = 0
        self._last_index: int | None = None

    async def _send(
        self, pdu_type: int, oids: Sequence[str], a: int = 0, b: int = 0
    ) -> tuple[int, list[tuple[str, Val]]]:
        self.requests += 1
        pdu = ber.Pdu(pdu_type, 0, a, b, [(oid, _NULL) for oid in oids])
        answer = await self._engine.request(self.device, self._addr, ber.Message(self._version, self._community, pdu))
        self._last_index = answer.error_index
        return answer.error_status, answer.varbinds

    async def _get(self, oids: Sequence[str]) -> tuple[int, list[tuple[str, Val]]]:
        return await self._send(ber.GET, oids)

    async def _bulk(self, oids: Sequence[str], max_rep: int) -> tuple[int, list[tuple[str, Val]]]:
        return await self._send(ber.GETBULK, oids, 0, max_rep)

    async def get(self, oids: Sequence[str], chunk: int = 30) -> dict[str, Val]:
        """GET in chunks; OIDs the device lacks come back as noSuchObject/noSuchInstance."""
        return await get_chunked(self._get, oids, chunk)

    async def get_next(self, oids: Sequence[str]) -> tuple[int, list[tuple[str, Val]]]:
        """One GETNEXT: (error-status, the varbinds that follow ``oids``)."""
        return await self._send(ber.GETNEXT, oids)

    async def _next_as_bulk(self, oids: Sequence[str], _max_rep: int) -> tuple[int, list[tuple[str, Val]]]:
        """SNMPv1 has no GETBULK: one GETNEXT, its noSuchName (the end of the MIB) turned into endOfMibView.

        v1 fails the whole PDU for one column that ran off the end, naming it
        in error-index; that column is answered endOfMibView and the rest asked again.
        """
        ended: set[int] = set()
        while True:
            ask = [i for i in range(len(oids)) if i not in ended]
            if not ask:
                return 0, [(oids[i], Val("endOfMibView")) for i in range(len(oids))]
            status, binds = await self._send(ber.GETNEXT, [oids[i] for i in ask])
            if status == _NO_SUCH_NAME and self._last_index is not None and 1 <= self._last_index <= len(ask):
                ended.add(ask[self._last_index - 1])
                continue
            if status or len(binds) != len(ask):
                return status or _GEN_ERR, []
            got = dict(zip(ask, binds, strict=True))
            return 0, [got.get(i, (oids[i], Val("endOfMibView"))) for i in range(len(oids))]

    async def walk(self, columns: Iterable[str], snap: Snapshot) -> None:
        """GETBULK-walk (v1: GETNEXT-walk) ``columns`` together into ``snap.columns`` (see :func:`walk_columns`)."""
        if self._version == ber.V1:
            await walk_columns(self._next_as_bulk, columns, snap, 1, self.device.max_rows)
            return
        await walk_columns(self._bulk, columns, snap, self.device.max_repetitions, self.device.max_rows)
