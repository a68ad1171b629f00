"""What a scrape reads: the store, the clock, the settings, and the caches
that keep a 10,000-host scrape cheap."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prometheus_client.metrics_core import Metric
from prometheus_client.samples import Sample

from ..db import Connection

if TYPE_CHECKING:
    from .metering import History

__all__ = ["Family", "ScrapeState", "Source", "WriterStats", "counter", "gauge"]


class Family(Metric):
    """A gauge or counter family that keeps its rows as given (label values,
    value) instead of building a Sample per row: the exposition writer
    (``exposition.py``) renders them straight to text. ``samples`` builds the
    prometheus_client objects on demand, for the registry path
    (``LeitstandCollector`` with ``generate_latest``), the writer's reference."""

    def __init__(self, name: str, doc: str, kind: str, labels: Sequence[str]) -> None:
        # as CounterMetricFamily does: the family is named without _total, its samples with it
        super().__init__(name[:-6] if kind == "counter" and name.endswith("_total") else name, doc, kind)
        self.labelnames: tuple[str, ...] = tuple(labels)
        self.sample_name = self.name + "_total" if kind == "counter" else self.name
        self.rows: list[tuple[Sequence[str], float]] = []

    def add_metric(self, labels: Sequence[str], value: float) -> None:
        self.rows.append((labels, value))

    @property
    def samples(self) -> list[Sample]:
        return [Sample(self.sample_name, dict(zip(self.labelnames, lv, strict=False)), v, None) for lv, v in self.rows]

    @samples.setter
    def samples(self, _: list[Sample]) -> None:
        """Metric.__init__ sets an empty list: the rows are the samples."""


def gauge(name: str, doc: str, labels: Sequence[str] = (), *, value: float | None = None) -> Family:
    """A gauge family; with ``value`` (and no labels) it holds that one sample."""
    family = Family(name, doc, "gauge", () if value is not None else labels)
    if value is not None:
        family.add_metric((), value)
    return family


def counter(name: str, doc: str, labels: Sequence[str] = (), *, value: float | None = None) -> Family:
    """``name`` ends in ``_total`` (kept on the samples, as prometheus_client does)."""
    family = Family(name, doc, "counter", () if value is not None else labels)
    if value is not None:
        family.add_metric((), value)
    return family


@dataclass(frozen=True)
class WriterStats:
    depth: int
    commits: int
    jobs: int
    last_error: str | None


@dataclass
class ScrapeState:
    """Caches that live as long as the app: what is expensive to recompute on
    every scrape and cheap to keep (see metering.py and hosts.py)."""

    #: guards ``errors``
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: one lock per cache, so a scrape never waits for a cache it does not need yet (warmup.py)
    sends_lock: threading.Lock = field(default_factory=threading.Lock)
    history_lock: threading.Lock = field(default_factory=threading.Lock)
    #: agent id -> mean seconds between its sends in the window (send_intervals.py), and when estimated
    send_intervals: dict[str, float] = field(default_factory=dict)
    send_intervals_at: float = float("-inf")
    #: agent id -> (its last_seen, estimate from its last reports) of hosts the window leaves out
    send_fallbacks: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: the ledger's sums before a daily cutoff
    history: History | None = None
    #: tenant -> its history, for tenant scrapes that come before the history of all tenants
    tenant_history_lock: threading.Lock = field(default_factory=threading.Lock)
    tenant_history: dict[str, History] = field(default_factory=dict)
    #: family group -> scrapes that left it out (leitstand_scrape_errors_total)
    errors: dict[str, int] = field(default_factory=dict)


@dataclass
class Source:
    """One scrape's view; ``tenant`` narrows every tenant-labelled family."""

    conn: Connection
    now: float
    tenant: str | None = None
    offline_after_s: float = 300.0
    stale_after_s: float = 900.0
    writer: WriterStats | None = None
    db_path: str | None = None
    #: collector.metering.tariffs.TariffBook or None (usage metered, not priced)
    tariffs: Any = None
    #: collector.readiness.config.ReadinessSettings or None
    readiness: Any = None
    state: ScrapeState = field(default_factory=ScrapeState)
    clock: Callable[[], float] | None = None

    def tenant_sql(self, column: str = "tenant") -> tuple[str, tuple[str, ...]]:
        """(`AND column = ?`, args) when the scrape is narrowed to a tenant, else nothing."""
        if self.tenant is None:
            return "", ()
        return f" AND {column} = ?", (self.tenant,)

    def tenants(self) -> list[str]:
        if self.tenant is not None:
            return [self.tenant]
        return [t for (t,) in self.conn.execute("SELECT name FROM tenants ORDER BY name")]
