"""Grafana dashboards: built as code (``catalog``), committed as JSON under
``dashboards/``, and pushed to a Grafana with ``push``."""

from __future__ import annotations

from .catalog import DASHBOARDS, render_all, write_all

__all__ = ["DASHBOARDS", "render_all", "write_all"]
