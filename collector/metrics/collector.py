"""The custom collector: every family computed at scrape time from the store.

The families come in groups (hosts, devices, metering, readiness, alerts,
health). A group that fails (a query error, a value it cannot convert) is
left out of that scrape, logged, and counted in
``leitstand_scrape_errors_total{family=...}``; the other groups are still
served, so one tenant's odd data never takes the whole scrape down.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator

from prometheus_client.registry import Collector

from .devices import device_families
from .health import health_families, scrape_duration
from .hosts import host_families
from .metering import metering_families
from .source import Family, Source, counter
from .status import alert_families, readiness_families

__all__ = ["GROUPS", "LeitstandCollector"]

log = logging.getLogger(__name__)

#: family group -> what computes it; the group is the `family` label of scrape errors
GROUPS: dict[str, Callable[[Source], Iterable[Family]]] = {
    "hosts": host_families,
    "devices": device_families,
    "metering": metering_families,
    "readiness": readiness_families,
    "alerts": alert_families,
    "health": health_families,
}


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
        for name, group in GROUPS.items():
            try:
                # whole groups: a failure halfway must not leave half a group in the scrape
                families = list(group(src))
            except Exception:
                log.exception("/metrics: family group %r left out of this scrape", name)
                with src.state.lock:
                    src.state.errors[name] = src.state.errors.get(name, 0) + 1
                continue
            yield from families
        errors = counter(
            "leitstand_scrape_errors_total",
            "Scrapes that left a family group out because computing it failed (see the collector's log).",
            ["family"],
        )
        with src.state.lock:
            for name in GROUPS:
                errors.add_metric([name], src.state.errors.get(name, 0))
        yield errors
        yield scrape_duration(time.perf_counter() - started)
