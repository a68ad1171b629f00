"""``/metrics`` for Prometheus: a custom collector computed at scrape time
from the store, on a registry of its own (never the global one).

Families and labels are listed in the README ("Prometheus metrics"); names
the alert rules use come from ``collector.alerting.metric_names``.
"""

from __future__ import annotations

from .collector import LeitstandCollector
from .http import metrics_handler, render, render_reference
from .source import ScrapeState, Source, WriterStats
from .warmup import warmed

__all__ = [
    "LeitstandCollector",
    "ScrapeState",
    "Source",
    "WriterStats",
    "metrics_handler",
    "render",
    "render_reference",
    "warmed",
]
