"""What the collector builds from its config before it opens the database.

`serve` (through ``create_app``) and `check-config` both call ``prepare``, so
a config that `check-config` calls OK is one `serve` starts with: the tariff
file read and validated, readiness and alerting settings built (rules across
keys checked). Each step raises ConfigError naming file, key and line.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import usage
from .alerting.service import Alerting, from_config
from .config import Config
from .metering.tariffs import TariffBook
from .readiness.config import ReadinessSettings
from .readiness.config import settings as readiness_settings

__all__ = ["Prepared", "prepare"]


@dataclass(frozen=True)
class Prepared:
    readiness: ReadinessSettings
    alerting: Alerting
    tariffs: TariffBook | None


def prepare(config: Config) -> Prepared:
    """ConfigError when the config cannot run: refuse to start rather than guess."""
    return Prepared(
        readiness=readiness_settings(config.readiness),
        alerting=from_config(config),
        tariffs=usage.tariff_book(config.metering.tariffs),
    )
