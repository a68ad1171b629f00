"""Metering streams: the series of points one host or one device contributes.

A stream is stored as text (`meter_points.stream`, `coverage.stream`,
`quarantine.stream`, ...): ``h:<agent id>`` for a host, ``d:<tenant>/<device
id>`` for a device (device ids are named within their owner tenant; tenant
names never contain a ``/``). This module is the one place that writes and
reads that form, in Python and in SQL.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

__all__ = ["DEVICE_PREFIX", "HOST_PREFIX", "StreamKey", "StreamKind", "sql_host_stream", "sql_kind"]

StreamKind = Literal["host", "device"]

HOST_PREFIX = "h:"
DEVICE_PREFIX = "d:"


class StreamKey(NamedTuple):
    """Whose points a stream holds: a host by agent id, or a device by its
    owner tenant and device id."""

    kind: StreamKind
    id: str
    #: a device's owner tenant; None for a host (agent ids are unique across tenants)
    tenant: str | None = None

    @classmethod
    def host(cls, agent_id: str) -> StreamKey:
        return cls("host", agent_id)

    @classmethod
    def device(cls, tenant: str, device: str) -> StreamKey:
        return cls("device", device, tenant)

    def encode(self) -> str:
        """The stored form."""
        if self.kind == "host":
            return HOST_PREFIX + self.id
        return f"{DEVICE_PREFIX}{self.tenant}/{self.id}"

    @classmethod
    def decode(cls, stored: str) -> StreamKey:
        """The key of a stored stream; ValueError for text that is none."""
        if stored.startswith(HOST_PREFIX):
            return cls.host(stored[len(HOST_PREFIX) :])
        if stored.startswith(DEVICE_PREFIX):
            tenant, sep, device = stored[len(DEVICE_PREFIX) :].partition("/")
            if sep and tenant:
                return cls.device(tenant, device)
        raise ValueError(f"not a metering stream: {stored!r}")


def sql_kind(kind: StreamKind, column: str = "stream") -> str:
    """A SQL condition: `column` holds a stream of this kind."""
    return f"{column} LIKE '{HOST_PREFIX if kind == 'host' else DEVICE_PREFIX}%'"


def sql_host_stream(agent_column: str) -> str:
    """A SQL expression: the stored stream of the host in `agent_column`."""
    return f"'{HOST_PREFIX}' || {agent_column}"
