"""The engine a poller holds for its whole life: the lean v2c path, pysnmp for v3.

Which one polls a device is the device's ``engine`` setting: ``auto`` (the
default) sends v1 and v2c through :mod:`agent.snmp.lean` and v3 through pysnmp
(:mod:`agent.snmp.pysnmp_engine`); ``pysnmp`` forces pysnmp for a v2c device
too (the fallback should a device trip the lean codec). Both sit behind the
same client interface (``get``, ``walk``, ``requests``), both are created once
per poller, and pysnmp is imported only when a device needs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from agent.snmp.devices import DeviceConfig
from agent.snmp.errors import SnmpError
from agent.snmp.lean import LeanEngine

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from agent.snmp import pysnmp_engine
    from agent.snmp.values import Snapshot, Val

__all__ = ["Client", "Engine", "SnmpError", "engine_name"]


class Client(Protocol):
    requests: int

    async def get(self, oids: Sequence[str], chunk: int = 30) -> dict[str, Val]: ...

    async def walk(self, columns: Iterable[str], snap: Snapshot) -> None: ...


def engine_name(device: DeviceConfig) -> str:
    """``lean`` or ``pysnmp``: the engine that polls ``device``."""
    if device.version == "3" or device.engine == "pysnmp":
        return "pysnmp"
    return "lean"


class Engine:
    """One lean engine and (when a device needs it) one pysnmp engine, for every device of a poller."""

    def __init__(self) -> None:
        self.lean = LeanEngine()
        self._pysnmp: pysnmp_engine.Engine | None = None

    @property
    def pysnmp(self) -> pysnmp_engine.Engine:
        if self._pysnmp is None:
            from agent.snmp import pysnmp_engine  # pysnmp only where a device needs it

            self._pysnmp = pysnmp_engine.Engine()
        return self._pysnmp

    @property
    def snmp(self) -> Any:
        """pysnmp's SnmpEngine (for callers that speak pysnmp themselves, like the demo's writer)."""
        return self.pysnmp.snmp

    def close(self) -> None:
        self.lean.close()
        if self._pysnmp is not None:
            self._pysnmp.close()

    async def client(self, device: DeviceConfig) -> Client:
        if engine_name(device) == "pysnmp":
            return await self.pysnmp.client(device)
        return await self.lean.client(device)
