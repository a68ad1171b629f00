"""The metering ledger, in parts:

- ``booking``: contributions booked inside the writer's ingest job (`Booker`);
- ``reading``: a tenant's usage of a period, the list of periods;
- ``closing``: freezing a period, archiving its exports;
- ``pruning``: dropping points late data can no longer need;
- ``streams``: the typed key of a host's or device's stream and its stored form.

This module names them together for the callers that use several.
"""

from __future__ import annotations

from .booking import LEDGER_MAX, Booker, MeteringSettings, device_stream, period_of_hour
from .closing import close_period, store_export, stored_export
from .pruning import prune_points
from .reading import DEVICE_METERS, HOST_METERS, list_periods, live_usage, period_usage

__all__ = [
    "DEVICE_METERS",
    "HOST_METERS",
    "LEDGER_MAX",
    "Booker",
    "MeteringSettings",
    "close_period",
    "device_stream",
    "list_periods",
    "live_usage",
    "period_of_hour",
    "period_usage",
    "prune_points",
    "store_export",
    "stored_export",
]
