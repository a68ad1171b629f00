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
from typing import TypeVar

from prometheus_client.registry import Collector

from .devices import device_families
from .health import health_families, scrape_duration
from .hosts import host_families
from .metering import metering_families
from .source import Family, Source, counter
from .status import alert_families, readiness_families

__all__ = ["GROUPS", "LeitstandCollector", "scrape"]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: family group -> what computes it; the group is the `family` label of scrape errors
GROUPS: dict[str, Callable[[Source], Iterable[Family]]] = {
    "hosts": host_families,
    "devices": device_families,
    "metering": metering_families,
    "readiness": readiness_families,
    "alerts": alert_families,
    "health": health_families,
}


def scrape(src: Source, render: Callable[[list[Family]], T]) -> Iterator[T]:
    """Every group rendered by ``render``, then the scrape's own families.
    A group whose query or rendering fails is left out whole (a failure
    halfway must not leave half a group in the scrape), logged and counted."""
    started = time.perf_counter()
    for name, group in GROUPS.items():
        try:
            rendered = render(list(group(src)))
        except Exception:
            log.exception("/metrics: family group %r left out of this scrape", name)
            with src.state.lock:
                src.state.errors[name] = src.state.errors.get(name, 0) + 1
            continue
        yield rendered
    errors = counter(
        "leitstand_scrape_errors_total",
        "Scrapes that left a family group out because computing it failed (see the collector's log).",
        ["family"],
    )
    with src.state.lock:
        for name in GROUPS:
            errors.add_metric([name], src.state.errors.get(name, 0))
    yield render([errors, scrape_duration(time.perf_counter() - started)])


class LeitstandCollector(Collector):
    """The families as a prometheus_client collector: the reference the
    exposition writer is tested against. Register it on a registry of your
    own, never the global one::

    registry = CollectorRegistry()
    registry.register(LeitstandCollector(source))
    generate_latest(registry)
    """

    def __init__(self, source: Source) -> None:
        self.source = source

    def collect(self) -> Iterator[Family]:
        for families in scrape(self.source, list):
            yield from families
