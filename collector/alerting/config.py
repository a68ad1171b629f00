"""The `[alerts]` section of the collector's TOML, and the settings built from it.

Unknown rule names (in thresholds, `for_s`, `disabled` or an override) are
config errors that name file, key and line, like every other config error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from agent.wire import find_key_line

from .. import bundled
from ..errors import ConfigError
from . import runbooks
from .evaluate import EvalSettings
from .limits import DEFAULT_MAX_SILENCE_S, DEFAULT_MAX_SILENCES_PER_TENANT
from .policy import Override, Policy
from .rules import RULES

__all__ = [
    "AlertmanagerConfig",
    "AlertsConfig",
    "OverrideConfig",
    "Settings",
    "Target",
    "WebhookConfig",
    "raise_for_problems",
    "settings",
]

_RULE_NAMES = {r.name for r in RULES}
Seconds = Annotated[float, msgspec.Meta(ge=0, le=10 * 365 * 86400)]


class _Section(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class OverrideConfig(_Section):
    #: scope: any of tenant, site, host (hostname or agent id); all that are set must match
    tenant: str = ""
    site: str = ""
    host: str = ""
    thresholds: dict[str, float] = {}
    for_s: dict[str, Seconds] = {}
    disabled: list[str] = []


class AlertmanagerConfig(_Section):
    #: base URL of an Alertmanager (v2 API), e.g. http://127.0.0.1:9093; empty: not used
    url: str = ""
    timeout_s: Annotated[float, msgspec.Meta(gt=0, le=300)] = 5.0
    retries: Annotated[int, msgspec.Meta(ge=0, le=100)] = 5
    backoff_s: Annotated[float, msgspec.Meta(ge=0, le=86400)] = 30.0
    #: firing alerts are re-sent this often, as Prometheus does, so Alertmanager keeps them open
    resend_s: Annotated[float, msgspec.Meta(gt=0, le=86400)] = 60.0


class WebhookConfig(_Section):
    #: URL that gets one JSON POST per firing/resolved event; empty: not used
    url: str = ""
    timeout_s: Annotated[float, msgspec.Meta(gt=0, le=300)] = 5.0
    retries: Annotated[int, msgspec.Meta(ge=0, le=100)] = 5
    backoff_s: Annotated[float, msgspec.Meta(ge=0, le=86400)] = 30.0
    #: environment variable holding a bearer token for the webhook; empty: none
    token_env: str = ""


class AlertsConfig(_Section):
    #: evaluate rules in the background while `serve` runs
    enabled: bool = True
    interval_s: Annotated[float, msgspec.Meta(ge=1, le=86400)] = 60.0
    #: language of forwarded alert texts
    lang: Literal["de", "en"] = "de"
    #: this collector's base URL as receivers of forwarded alerts reach it; empty: http://<server.listen>
    external_url: str = ""
    #: base URL of the runbooks in forwarded alerts; empty: <external_url>/api/v1/runbooks/
    runbook_url: str = ""
    #: directory of the runbooks; empty: runbooks/ of this installation
    runbooks_dir: str = ""
    thresholds: dict[str, float] = {}
    for_s: dict[str, Seconds] = {}
    disabled: list[str] = []
    overrides: list[OverrideConfig] = []
    flap_window_s: Seconds = 3600.0
    flap_threshold: Annotated[int, msgspec.Meta(ge=2, le=1000)] = 3
    flap_hold_s: Seconds = 1800.0
    ack_expiry_s: Seconds = 0.0
    #: longest silence the API and the CLI accept (a longer one is refused with 400)
    max_silence_s: Annotated[float, msgspec.Meta(ge=60, le=10 * 365 * 86400)] = DEFAULT_MAX_SILENCE_S
    #: silences a tenant token may hold that have not ended (every evaluation checks every alert against them)
    max_silences_per_tenant: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = DEFAULT_MAX_SILENCES_PER_TENANT
    history_days: Annotated[int, msgspec.Meta(ge=1)] = 90
    disk_projection_window_s: Annotated[float, msgspec.Meta(ge=600, le=30 * 86400)] = 21600.0
    alertmanager: AlertmanagerConfig = msgspec.field(default_factory=AlertmanagerConfig)
    webhook: WebhookConfig = msgspec.field(default_factory=WebhookConfig)


@dataclass(frozen=True)
class Target:
    name: str  # alertmanager | webhook
    url: str
    timeout_s: float
    retries: int
    backoff_s: float
    token_env: str = ""


@dataclass(frozen=True)
class Settings:
    enabled: bool
    interval_s: float
    lang: str
    external_url: str
    runbook_url: str
    runbooks_dir: Path
    policy: Policy
    eval: EvalSettings
    history_days: int
    disk_projection_window_s: float
    targets: tuple[Target, ...]
    alertmanager_resend_s: float
    max_silence_s: float = DEFAULT_MAX_SILENCE_S
    max_silences_per_tenant: int = DEFAULT_MAX_SILENCES_PER_TENANT

    def target(self, name: str) -> Target | None:
        return next((t for t in self.targets if t.name == name), None)

    def runbook_link(self, runbook: str) -> str:
        return self.runbook_url.rstrip("/") + "/" + runbook


DEFAULT_RUNBOOKS = bundled.path("runbooks")


def settings(cfg: AlertsConfig, listen: str = "127.0.0.1:8470") -> Settings:
    raise_for_problems(cfg)
    external = (cfg.external_url or f"http://{listen}").rstrip("/")
    targets = []
    am = cfg.alertmanager
    if am.url:
        targets.append(Target("alertmanager", am.url.rstrip("/"), am.timeout_s, am.retries, am.backoff_s))
    wh = cfg.webhook
    if wh.url:
        targets.append(Target("webhook", wh.url, wh.timeout_s, wh.retries, wh.backoff_s, wh.token_env))
    return Settings(
        enabled=cfg.enabled,
        interval_s=cfg.interval_s,
        lang=cfg.lang,
        external_url=external,
        runbook_url=cfg.runbook_url or f"{external}/api/v1/runbooks/",
        runbooks_dir=runbooks.require_dir(Path(cfg.runbooks_dir) if cfg.runbooks_dir else DEFAULT_RUNBOOKS),
        policy=Policy(
            thresholds=dict(cfg.thresholds),
            for_s=dict(cfg.for_s),
            disabled=frozenset(cfg.disabled),
            overrides=tuple(
                Override(
                    tenant=o.tenant,
                    site=o.site,
                    host=o.host,
                    thresholds=dict(o.thresholds),
                    for_s=dict(o.for_s),
                    disabled=frozenset(o.disabled),
                )
                for o in cfg.overrides
            ),
        ),
        eval=EvalSettings(
            flap_window_s=cfg.flap_window_s,
            flap_threshold=cfg.flap_threshold,
            flap_hold_s=cfg.flap_hold_s,
            ack_expiry_s=cfg.ack_expiry_s,
        ),
        history_days=cfg.history_days,
        disk_projection_window_s=cfg.disk_projection_window_s,
        targets=tuple(targets),
        alertmanager_resend_s=am.resend_s,
        max_silence_s=cfg.max_silence_s,
        max_silences_per_tenant=cfg.max_silences_per_tenant,
    )


def _problems(cfg: AlertsConfig) -> list[tuple[tuple[str, ...], int | None, str]]:
    """(table keys, override index or None, message)."""
    out: list[tuple[tuple[str, ...], int | None, str]] = []

    def names(where: tuple[str, ...], index: int | None, found: list[str]) -> None:
        for name in found:
            if name not in _RULE_NAMES:
                out.append(((*where, name), index, f"unknown rule {name!r}; rules: {', '.join(sorted(_RULE_NAMES))}"))

    names(("alerts", "thresholds"), None, list(cfg.thresholds))
    names(("alerts", "for_s"), None, list(cfg.for_s))
    names(("alerts", "disabled"), None, cfg.disabled)
    for i, ov in enumerate(cfg.overrides):
        if not (ov.tenant or ov.site or ov.host):
            out.append((("alerts", "overrides"), i, "an override needs a scope: tenant, site or host"))
        names(("alerts", "overrides", "thresholds"), i, list(ov.thresholds))
        names(("alerts", "overrides", "for_s"), i, list(ov.for_s))
        names(("alerts", "overrides", "disabled"), i, ov.disabled)
    urls = ((cfg.alertmanager.url, "alertmanager"), (cfg.webhook.url, "webhook"), (cfg.external_url, "external_url"))
    for url, key in urls:
        if url and not re.match(r"^https?://[^\s/]+", url):
            keys = ("alerts", key) if key == "external_url" else ("alerts", key, "url")
            out.append((keys, None, f"not an http(s) URL: {url!r}"))
    return out


def _line(text: str, keys: tuple[str, ...], index: int | None) -> int | None:
    if index is None:
        return find_key_line(text, keys[:-1], keys[-1]) or find_key_line(text, keys[:-2], keys[-2])
    # the index-th [[alerts.overrides]] table, then the key's first mention after it
    seen = -1
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        if re.match(r"^\s*\[\[\s*alerts\.overrides\s*\]\]", line):
            seen += 1
            if seen == index:
                for offset, rest in enumerate(lines[number:], start=number + 1):
                    if re.match(r"^\s*\[", rest):
                        break
                    if keys[-1] in rest and len(keys) > 2:
                        return offset
                return number
    return None


def raise_for_problems(cfg: AlertsConfig, path: Path | None = None, text: str | None = None) -> None:
    found = _problems(cfg)
    if not found:
        return
    lines = []
    for keys, index, message in found:
        line = _line(text, keys, index) if text is not None else None
        where = f"{path}:{line}" if path and line else str(path) if path else "config"
        dotted = (
            keys[0] + "." + keys[1] + (f"[{index}]" if index is not None else "") + "".join(f".{k}" for k in keys[2:])
        )
        lines.append(f"{where}: {dotted}: {message}")
    raise ConfigError("\n".join(lines))
