"""The alerting of one collector app at run time: its settings, where KRITIS
status comes from, how notifications are sent, when Alertmanager was last
refreshed. Built from the config at start-up (`from_config`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..periodic import Budget
from .config import Settings
from .forward import Sender, post_json
from .gather import KritisSource, Sources

__all__ = ["Alerting", "from_config"]


@dataclass
class Alerting:
    """The alerting of one collector app: its settings, where KRITIS status
    comes from, how notifications are sent."""

    settings: Settings
    kritis: KritisSource | None = None
    device_stale_after_s: float = 900.0
    device_sites: dict[str, str] = field(default_factory=dict)
    send: Sender = post_json
    last_refresh: float = float("-inf")
    last_prune: float = float("-inf")
    #: share of a core the evaluation's worker thread may use (`periodic.Pacer`); 1: unpaced
    duty: float = 0.25
    #: the share of a core it shares with the collector's other paced work (housekeeping)
    budget: Budget | None = None

    def sources(self) -> Sources:
        return Sources(
            policy=self.settings.policy,
            disk_window_s=self.settings.disk_projection_window_s,
            device_stale_after_s=self.device_stale_after_s,
            kritis=self.kritis,
            device_sites=self.device_sites,
            runbook_link=self.settings.runbook_link,
        )


def from_config(config: Any) -> Alerting:
    """The alerting of a collector with this `Config` (KRITIS status from its readiness section)."""
    from ..readiness.config import settings as readiness_settings
    from .config import settings
    from .gather import readiness_source

    readiness = readiness_settings(config.readiness)
    device_sites = {d: site.name for site in readiness.sites.values() for d in (*site.switches, *site.ups)}
    return Alerting(
        settings=settings(config.alerts, config.server.listen),
        kritis=readiness_source(config.readiness) if readiness.applications else None,
        device_stale_after_s=config.devices.stale_after_s,
        device_sites=device_sites,
    )
