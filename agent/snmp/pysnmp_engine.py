"""The pysnmp 7 asyncio client: one SnmpEngine, numeric OIDs, no MIB lookups.

Used for SNMPv3 (USM, SHA-2, AES) and for v2c devices configured with
``engine = "pysnmp"``; v2c goes through :mod:`agent.snmp.lean` otherwise.
Each device's target is configured into the engine once per poller and
requests go straight to pysnmp's command generators, not through hlapi's
``get_cmd`` / ``bulk_cmd``, which set the target up again on every request.
The only module that uses pysnmp's API (through :mod:`agent.snmp._pysnmp`). :class:`SnmpClient` reads scalars with
GET and tables with GETBULK (all wanted columns of a table in one request,
each column followed until it leaves its subtree), and turns every value into
a plain :class:`~agent.snmp.values.Val`. Errors become :class:`SnmpError` with
a message for an admin that never contains a community or key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

from agent.snmp._pysnmp import (
    CommandGeneratorLcdConfigurator,
    CommunityData,
    ContextData,
    Null,
    ObjectName,
    SnmpEngine,
    Udp6TransportTarget,
    UdpTransportTarget,
    UsmUserData,
    builder,
    cmdgen,
    usmAesCfb128Protocol,
    usmAesCfb256Protocol,
    usmHMAC192SHA256AuthProtocol,
    usmHMAC384SHA512AuthProtocol,
    usmHMACSHAAuthProtocol,
    usmNoAuthProtocol,
    usmNoPrivProtocol,
    view,
)
from agent.snmp.devices import DeviceConfig
from agent.snmp.errors import SnmpError
from agent.snmp.values import Snapshot, Val
from agent.snmp.walk import get_chunked, walk_columns

__all__ = ["Engine", "SnmpClient", "SnmpError", "convert"]

_AUTH = {
    None: usmNoAuthProtocol,
    "sha": usmHMACSHAAuthProtocol,
    "sha256": usmHMAC192SHA256AuthProtocol,
    "sha512": usmHMAC384SHA512AuthProtocol,
}
_PRIV = {None: usmNoPrivProtocol, "aes128": usmAesCfb128Protocol, "aes256": usmAesCfb256Protocol}

_TAGS = {
    "Integer": "int",
    "Integer32": "int",
    "OctetString": "str",
    "Bits": "str",
    "ObjectIdentifier": "oid",
    "ObjectName": "oid",
    "IpAddress": "ip",
    "Counter32": "counter32",
    "Counter64": "counter64",
    "Gauge32": "gauge32",
    "Unsigned32": "gauge32",
    "TimeTicks": "ticks",
    "Opaque": "opaque",
    "Null": "null",
    "NoSuchObject": "noSuchObject",
    "NoSuchInstance": "noSuchInstance",
    "EndOfMibView": "endOfMibView",
}
_EXCEPTION_TAGS = {"null", "noSuchObject", "noSuchInstance", "endOfMibView"}

# errorIndication class -> what to tell the admin (plus pysnmp's own text).
_HINTS = {
    "RequestTimedOut": "no response (timeout): device down or unreachable, wrong port, or wrong community / v3 user",
    "WrongDigest": "SNMPv3 authentication failed: wrong auth key or auth protocol",
    "UnknownUserName": "SNMPv3 user unknown to the device",
    "UnsupportedSecLevel": "SNMPv3 security level not supported by the device for this user",
    "DecryptionError": "SNMPv3 decryption failed: wrong priv key or priv protocol",
    "NotInTimeWindow": "SNMPv3 message outside the time window (engine boots/time)",
    "UnknownEngineID": "SNMPv3 engine id discovery failed",
}


def convert(value: Any) -> Val:
    """A pysnmp value as a plain Val (type tag + int / bytes / str / None)."""
    tag = _TAGS.get(type(value).__name__)
    if tag is None:
        for klass in type(value).__mro__:
            tag = _TAGS.get(klass.__name__)
            if tag is not None:
                break
        else:
            return Val("opaque", None)
    if tag in _EXCEPTION_TAGS:
        return Val(tag)  # type: ignore[arg-type]
    if tag in ("str", "opaque"):
        return Val(tag, bytes(value.asOctets()))  # type: ignore[arg-type]
    if tag == "oid":
        return Val("oid", str(value))
    if tag == "ip":
        return Val("ip", ".".join(str(b) for b in value.asNumbers()))
    return Val(tag, int(value))  # type: ignore[arg-type]


_VARBIND_CACHE_MAX = 100_000
_NULL = Null("")
_LCD = CommandGeneratorLcdConfigurator()


class _NoMibCompiler:
    """Stands in for pysmi: we use numeric OIDs only, so nothing is ever compiled
    (and pysnmp never tries to fetch MIB sources from the network)."""

    def compile(self, *names: str, **options: Any) -> dict[str, str]:
        return {}


def _new_engine() -> SnmpEngine:
    engine = SnmpEngine()
    mib_builder = builder.MibBuilder()
    mib_builder.set_mib_compiler(_NoMibCompiler(), "/nonexistent/leitstand-no-mibs")
    # hlapi takes its MIB view from the engine's cache; with a compiler already set
    # it does not add pysmi's (which would read MIB sources from the internet).
    engine.cache["mibViewController"] = view.MibViewController(mib_builder)
    return engine


class Engine:
    """One pysnmp SnmpEngine shared by every device of a poller (one event loop).

    pysnmp's USM table holds one entry per v3 user name, so two devices that
    share a user name with different keys or protocols cannot share an engine:
    such a device gets an extra engine, one per distinct credential set.
    """

    def __init__(self) -> None:
        self.snmp = _new_engine()
        self._users: dict[str, tuple[object, ...]] = {}
        self._extra: dict[tuple[object, ...], SnmpEngine] = {}
        self._varbinds: dict[str, tuple[Any, Any]] = {}
        self._targets: dict[tuple[object, ...], str] = {}

    def close(self) -> None:
        self.snmp.close_dispatcher()
        for engine in self._extra.values():
            engine.close_dispatcher()

    def engine_for(self, device: DeviceConfig) -> SnmpEngine:
        v3 = device.v3
        if device.version != "3" or v3 is None:
            return self.snmp
        creds = (v3.auth, v3.auth_key, v3.priv, v3.priv_key)
        first = self._users.setdefault(v3.user, creds)
        if first == creds:
            return self.snmp
        key = (v3.user, *creds)
        if key not in self._extra:
            self._extra[key] = _new_engine()
        return self._extra[key]

    async def client(self, device: DeviceConfig) -> SnmpClient:
        return await SnmpClient.create(self, device)

    def varbind(self, oid: str) -> tuple[Any, Any]:
        """A request varbind (ObjectName, Null), kept per OID: the same tables are walked every poll."""
        vb = self._varbinds.get(oid)
        if vb is None:
            if len(self._varbinds) >= _VARBIND_CACHE_MAX:
                self._varbinds.clear()
            vb = self._varbinds[oid] = (ObjectName(oid), _NULL)
        return vb

    def target_name(self, snmp: SnmpEngine, device: DeviceConfig, auth: Any, target: Any) -> str:
        """pysnmp's target name for this device, configured into the engine once, not per request.

        hlapi's get_cmd / bulk_cmd run the LCD configurator on every request
        (8.8 % of the poller's CPU); the key holds what the configuration is
        made of, so a changed address or credential configures anew.
        """
        key = (id(snmp), device.id, target.transport_address, device.version, _credentials(device))
        name = self._targets.get(key)
        if name is None:
            name, _params = _LCD.configure(snmp, auth, target, b"")
            self._targets[key] = name
        return name


def _credentials(device: DeviceConfig) -> tuple[object, ...]:
    v3 = device.v3
    if device.version == "3" and v3 is not None:
        return (v3.user, v3.auth, v3.auth_key, v3.priv, v3.priv_key)
    return (device.community,)


class SnmpClient:
    """GET and GETBULK for one device."""

    def __init__(self, engine: Engine, device: DeviceConfig, target: Any, auth: Any) -> None:
        self._snmp = engine.engine_for(device)
        self._engine_wrap = engine
        self.device = device
        self._target = target
        self._auth = auth
        self._context = ContextData()
        self._target_name = engine.target_name(self._snmp, device, auth, target)
        self.requests = 0

    @classmethod
    async def create(cls, engine: Engine, device: DeviceConfig) -> SnmpClient:
        target_cls = Udp6TransportTarget if ":" in device.address else UdpTransportTarget
        try:
            target = await target_cls.create(
                (device.address, device.port), timeout=device.timeout, retries=device.retries
            )
        except Exception as exc:  # pysnmp raises PySnmpError for unresolvable names
            raise SnmpError(f"cannot resolve {device.address}: {type(exc).__name__}") from None
        if device.version == "3" and device.v3 is not None:
            v3 = device.v3
            auth: Any = UsmUserData(
                v3.user,
                authKey=v3.auth_key.reveal() if v3.auth_key else None,
                privKey=v3.priv_key.reveal() if v3.priv_key else None,
                authProtocol=_AUTH[v3.auth],
                privProtocol=_PRIV[v3.priv],
            )
        else:
            community = device.community.reveal() if device.community else ""
            auth = CommunityData(community, mpModel=1)
        return cls(engine, device, target, auth)

    def _fail(self, indication: Any) -> SnmpError:
        hint = _HINTS.get(type(indication).__name__, "SNMP engine error")
        return SnmpError(f"{hint} ({indication}) from {self.device.target}")

    async def _send(self, generator: Any, oids: Sequence[str], *head: int) -> tuple[int, list[tuple[str, Val]]]:
        """One request straight through pysnmp's command generator (what hlapi does, minus its per-call setup)."""
        self.requests += 1
        future: asyncio.Future[tuple[Any, Any, Any]] = asyncio.get_running_loop().create_future()

        def done(_engine: Any, _handle: Any, indication: Any, status: Any, _index: Any, binds: Any, _ctx: Any) -> None:
            if not future.done():
                future.set_result((indication, status, binds))

        generator.send_varbinds(
            self._snmp,
            self._target_name,
            self._context.contextEngineId,
            self._context.contextName,
            *head,
            [self._engine_wrap.varbind(o) for o in oids],
            done,
        )
        indication, status, binds = await future
        if indication:
            raise self._fail(indication)
        return int(status), [(str(name), convert(value)) for name, value in binds]

    async def _get(self, oids: Sequence[str]) -> tuple[int, list[tuple[str, Val]]]:
        return await self._send(cmdgen.GetCommandGenerator(), oids)

    async def _bulk(self, oids: Sequence[str], max_rep: int) -> tuple[int, list[tuple[str, Val]]]:
        return await self._send(cmdgen.BulkCommandGenerator(), oids, 0, max_rep)

    async def get(self, oids: Sequence[str], chunk: int = 30) -> dict[str, Val]:
        """GET in chunks; OIDs the device lacks come back as noSuchObject/noSuchInstance."""
        return await get_chunked(self._get, oids, chunk)

    async def walk(self, columns: Iterable[str], snap: Snapshot) -> None:
        """GETBULK-walk ``columns`` together into ``snap.columns`` (see :func:`walk_columns`)."""
        await walk_columns(self._bulk, columns, snap, self.device.max_repetitions, self.device.max_rows)
