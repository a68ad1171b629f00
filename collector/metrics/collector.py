"""The custom collector: every family computed at scrape time from the store."""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client.registry import Collector

from .devices import device_families
from .health import health_families, scrape_duration
from .hosts import host_families
from .metering import metering_families
from .source import Family, Source
from .status import alert_families, readiness_families

__all__ = ["LeitstandCollector"]


class LeitstandCollector(Collector):
    """Register it on a registry of your own, never the global one::

    registry = CollectorRegistry()
    registry.register(LeitstandCollector(source))
    generate_latest(registry)
    """

    def __init__(self, source: Source) -> None:
        self.source = source

    def collect(self) -> Iterator[Family]:
        started = time.perf_counter()
        src = self.source
        yield from host_families(src)
        yield from device_families(src)
        yield from metering_families(src)
        yield from readiness_families(src)
        yield from alert_families(src)
        yield from health_families(src)
        yield scrape_duration(time.perf_counter() - started)
