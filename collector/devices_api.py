"""HTTP API of the SNMP device inventory (routes in collector/app.py; the
inventory itself is collector/devices.py)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from .admin import Principal
from .context import Collector
from .devices import KINDS, STATES, DeviceFilter, device_readings, get_device, list_devices
from .http import authenticated, json_response, limit_param, query_param, time_window

__all__ = ["get_device_handler", "get_device_readings_handler", "list_devices_handler"]


async def _context(request: Request) -> tuple[Collector, Principal, float, float]:
    collector, principal = await authenticated(request)
    return collector, principal, collector.clock(), collector.config.devices.stale_after_s


async def list_devices_handler(request: Request) -> Response:
    collector, principal, now, stale = await _context(request)
    flt = DeviceFilter(
        tenant=query_param(request, "tenant", str),
        kind=query_param(request, "kind", str, choices=KINDS),
        state=query_param(request, "state", str, choices=STATES),
        agent_id=query_param(request, "agent_id", str),
    )
    devices = await collector.read(lambda conn: list_devices(conn, principal, flt, now=now, stale_after_s=stale))
    return json_response({"devices": devices, "count": len(devices)})


async def get_device_handler(request: Request) -> Response:
    collector, principal, now, stale = await _context(request)
    device_id = request.path_params["device_id"]
    tenant = query_param(request, "tenant", str)
    device = await collector.read(
        lambda conn: get_device(conn, principal, device_id, now=now, stale_after_s=stale, tenant=tenant)
    )
    return json_response(device)


async def get_device_readings_handler(request: Request) -> Response:
    collector, principal, now, _ = await _context(request)
    since, until = time_window(request, now, 86400.0)
    limit = limit_param(request)
    device_id = request.path_params["device_id"]
    tenant = query_param(request, "tenant", str)
    readings = await collector.read(
        lambda conn: device_readings(conn, principal, device_id, since=since, until=until, limit=limit, tenant=tenant)
    )
    return json_response({"readings": readings, "count": len(readings)})
