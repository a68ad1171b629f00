"""The collector's TOML config, validated strictly.

Unknown keys and wrong types are errors that name the file, the key and its
line, so a typo never silently falls back to a default. Later features
(tariffs, applications, alert thresholds) add sections here.
"""

from __future__ import annotations

import logging
import re
import tomllib
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from agent.wire import AgentId, find_key_line

from .alerting import runbooks
from .alerting.config import DEFAULT_RUNBOOKS, AlertsConfig
from .alerting.config import raise_for_problems as alert_problems
from .contacts import ContactConfig, EscalationConfig, contact_problems
from .errors import ConfigError
from .metering.invoice_config import InvoiceConfig, invoice_problems
from .metering.plausibility import Limits, NicFilter
from .readiness.config import ReadinessConfig, describe_indexed, raise_for_problems

__all__ = ["Config", "DeviceAssignment", "IngestConfig", "ServerConfig", "StorageConfig", "load_config"]


class _Section(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class ServerConfig(_Section):
    #: HOST:PORT the HTTP API listens on.
    listen: str = "127.0.0.1:8470"
    #: SQLite database file, or a postgresql:// URL for several collectors sharing one
    #: database; empty means the XDG default.
    db: str = ""
    #: Largest accepted request body in bytes, before and after gzip.
    max_body_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 8 * 1024 * 1024
    #: Seconds a client has from connecting (or from the first byte of a further request
    #: on a kept-alive connection) until its request headers are complete; then it is closed.
    header_timeout_s: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 10.0
    #: Seconds a client has to send a request body once its headers are in (408 after).
    body_timeout_s: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 60.0
    #: Seconds an idle kept-alive connection stays open after a response.
    keep_alive_timeout_s: Annotated[int, msgspec.Meta(ge=1, le=3600)] = 5
    #: Open connections (or running requests) beyond which the API answers 503 at once.
    max_connections: Annotated[int, msgspec.Meta(ge=16)] = 4096
    #: One log line per request (logger leitstand.collector.access); failed
    #: authentications are logged either way.
    access_log: bool = True
    #: Requests per second one token (or, without a token, one client address) may
    #: make on average; beyond it the API answers 429 with Retry-After. 0: no limit.
    rate_limit_rps: Annotated[float, msgspec.Meta(ge=0)] = 10.0
    #: Requests one token may make at once before the average applies.
    rate_limit_burst: Annotated[int, msgspec.Meta(ge=1)] = 50
    #: Seconds a valid token's lookup is kept in memory. A token revoked through this
    #: collector is refused at once; one revoked elsewhere (the CLI, another collector)
    #: within this time. 0: look every token up on every request.
    token_cache_s: Annotated[float, msgspec.Meta(ge=0, le=300)] = 5.0


class IngestConfig(_Section):
    #: Reports stamped further than this in the future are rejected (clock skew guard).
    max_future_s: Annotated[float, msgspec.Meta(ge=0)] = 3600.0
    #: Reports (and SNMP readings) stamped further than this in the past are rejected.
    #: 0: before the start of the previous billing month (Europe/Berlin), the oldest
    #: month late data can still be booked for.
    max_past_s: Annotated[float, msgspec.Meta(ge=0)] = 0.0
    #: Ingest jobs waiting for the writer before the API answers 429.
    queue_max: Annotated[int, msgspec.Meta(ge=1)] = 5000
    #: Ingest jobs the single writer commits in one transaction at most.
    writer_batch_max: Annotated[int, msgspec.Meta(ge=1)] = 500


class StorageConfig(_Section):
    #: Days raw samples are kept; 0 keeps them forever.
    retention_days: Annotated[int, msgspec.Meta(ge=0)] = 35
    #: Raw samples older than this many days are rolled up into 5-minute rollups; 0: no rollups.
    downsample_after_days: Annotated[int, msgspec.Meta(ge=0)] = 2
    #: Days rollups are kept; 0 keeps them forever.
    rollup_retention_days: Annotated[int, msgspec.Meta(ge=0)] = 400
    #: SQLite `synchronous`: "full" survives power loss of acknowledged data.
    synchronous: Literal["full", "normal"] = "full"


class HostsConfig(_Section):
    #: A host that has not reported for this long is shown as offline.
    offline_after_s: Annotated[float, msgspec.Meta(gt=0)] = 300.0


class DeviceAssignment(_Section):
    #: Tenant that owns the device (its readings from the pollers below).
    tenant: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
    #: Agent ids whose readings of the device are the tenant's; any other agent's are refused.
    pollers: Annotated[list[AgentId], msgspec.Meta(min_length=1)]


class DevicesConfig(_Section):
    #: SNMP device id -> the tenant that owns it and the pollers allowed to report it,
    #: overriding the polling agent's tenant: `[devices.assign."prn-1"]`.
    assign: dict[Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9._:-]{1,128}$")], DeviceAssignment] = {}
    #: A device with no reading for this long is shown as `stale` (its poller is silent).
    stale_after_s: Annotated[float, msgspec.Meta(gt=0)] = 900.0


_LIMITS = Limits()
Globs = Annotated[list[Annotated[str, msgspec.Meta(min_length=1, max_length=128)]], msgspec.Meta(max_length=256)]


class NicFilterConfig(_Section):
    """A tenant's or role's NIC filter; a key left out is the default filter's."""

    include: Globs | None = None
    exclude: Globs | None = None
    exclude_bond_members: bool | None = None


class NicsConfig(_Section):
    #: Interface name globs that count for network_gib ...
    include: Globs = msgspec.field(default_factory=lambda: list(_LIMITS.nics.include))
    #: ... unless they match one of these (loopback, bridges, veth/tap/tun, container networks).
    exclude: Globs = msgspec.field(default_factory=lambda: list(_LIMITS.nics.exclude))
    #: A bond carries its members' traffic: count the bond, not its members.
    exclude_bond_members: bool = _LIMITS.nics.exclude_bond_members
    #: Per tenant name, then per role: a filter that replaces the keys it sets.
    tenant: dict[str, NicFilterConfig] = {}
    role: dict[Literal["server", "vm", "thin-client"], NicFilterConfig] = {}

    def resolve(self, override: NicFilterConfig | None = None) -> NicFilter:
        o = override or NicFilterConfig()
        bonds = self.exclude_bond_members if o.exclude_bond_members is None else o.exclude_bond_members
        return NicFilter(
            include=tuple(self.include if o.include is None else o.include),
            exclude=tuple(self.exclude if o.exclude is None else o.exclude),
            exclude_bond_members=bonds,
        )


class LimitsConfig(_Section):
    """Physical ceilings every metered quantity is checked against (plausibility.Limits)."""

    cpu_tolerance: Annotated[float, msgspec.Meta(ge=1)] = _LIMITS.cpu_tolerance
    cpu_slack_s: Annotated[float, msgspec.Meta(ge=0)] = _LIMITS.cpu_slack_s
    network_ceiling_bps: Annotated[float, msgspec.Meta(gt=0)] = _LIMITS.network_ceiling_bps
    network_tolerance: Annotated[float, msgspec.Meta(ge=1)] = _LIMITS.network_tolerance
    network_slack_s: Annotated[float, msgspec.Meta(ge=0)] = _LIMITS.network_slack_s
    link_speed_on_vms: bool = _LIMITS.link_speed_on_vms
    pages_per_minute: Annotated[float, msgspec.Meta(gt=0)] = _LIMITS.pages_per_minute
    pages_slack: Annotated[float, msgspec.Meta(ge=0)] = _LIMITS.pages_slack
    nics: NicsConfig = msgspec.field(default_factory=NicsConfig)


class MeteringConfig(_Section):
    #: A report covers its declared interval_s before its ts, but never more than this.
    max_interval_s: Annotated[float, msgspec.Meta(gt=0, le=86400)] = _LIMITS.max_interval_s
    #: Deprecated alias of max_interval_s (see `_metering_problems`).
    max_gap_s: Annotated[float, msgspec.Meta(gt=0, le=86400)] | None = None
    #: Days every per-report metering point is kept; after that only those late data can still need.
    points_days: Annotated[int, msgspec.Meta(ge=1)] = 2
    #: Tariff file (TOML); empty: usage is metered but not priced.
    tariffs: str = ""
    limits: LimitsConfig = msgspec.field(default_factory=LimitsConfig)

    def plausibility_limits(self) -> Limits:
        """The pure metering code's view of this section."""
        lim, nics = self.limits, self.limits.nics
        return Limits(
            cpu_tolerance=lim.cpu_tolerance,
            cpu_slack_s=lim.cpu_slack_s,
            network_ceiling_bps=lim.network_ceiling_bps,
            network_tolerance=lim.network_tolerance,
            network_slack_s=lim.network_slack_s,
            link_speed_on_vms=lim.link_speed_on_vms,
            pages_per_minute=lim.pages_per_minute,
            pages_slack=lim.pages_slack,
            max_interval_s=self.max_interval_s,
            nics=nics.resolve(),
            nics_by_tenant={t: nics.resolve(f) for t, f in nics.tenant.items()},
            nics_by_role={r: nics.resolve(f) for r, f in nics.role.items()},
        )


class MetricsConfig(_Section):
    #: Require a bearer token on GET /metrics: a metrics or admin token reads every tenant,
    #: a tenant token its own. Turn off only on a closed network.
    require_token: bool = True


class Config(_Section):
    metering: MeteringConfig = msgspec.field(default_factory=MeteringConfig)
    server: ServerConfig = msgspec.field(default_factory=ServerConfig)
    ingest: IngestConfig = msgspec.field(default_factory=IngestConfig)
    storage: StorageConfig = msgspec.field(default_factory=StorageConfig)
    hosts: HostsConfig = msgspec.field(default_factory=HostsConfig)
    devices: DevicesConfig = msgspec.field(default_factory=DevicesConfig)
    readiness: ReadinessConfig = msgspec.field(default_factory=ReadinessConfig)
    alerts: AlertsConfig = msgspec.field(default_factory=AlertsConfig)
    metrics: MetricsConfig = msgspec.field(default_factory=MetricsConfig)
    #: e-invoices (XRechnung, ZUGFeRD): seller and buyers, see collector.metering.invoice_config
    invoice: InvoiceConfig = msgspec.field(default_factory=InvoiceConfig)
    #: whom on-call calls (`[[contacts]]`), shown in every runbook's escalation block
    contacts: list[ContactConfig] = []
    #: time limit per alert severity before escalating to the next contact
    escalation: EscalationConfig = msgspec.field(default_factory=EscalationConfig)


log = logging.getLogger("leitstand.collector.config")
_PATH_RE = re.compile(r"\$((?:\.[A-Za-z0-9_-]+)*)")
_FIELD_RE = re.compile(r"unknown field `([^`]+)`|missing required field `([^`]+)`")


def load_config(path: Path | None) -> Config:
    """Load and validate; a missing optional file (path None) gives the defaults."""
    if path is None:
        return Config()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    _assign_problems(data, path, text)
    try:
        config = msgspec.convert(data, Config)
    except msgspec.ValidationError as exc:
        raise ConfigError(_describe(path, text, str(exc))) from exc
    # rules across fields (readiness: durations, standbys, names, sites), with file and line
    raise_for_problems(config.readiness, path, text)
    alert_problems(config.alerts, path, text)
    _storage_problems(config.storage, path, text)
    _metering_problems(config.metering, path, text)
    invoice_problems(config.invoice, path, text)
    contact_problems(config.contacts, config.escalation, _runbook_owners(config.alerts, config.contacts), path, text)
    return config


def _runbook_owners(alerts: AlertsConfig, contacts: list[ContactConfig]) -> set[str]:
    """The `owner`s of the runbooks in use (read only when a contact names teams)."""
    if not any(c.teams for c in contacts):
        return set()
    directory = Path(alerts.runbooks_dir) if alerts.runbooks_dir else DEFAULT_RUNBOOKS
    return {runbooks.load(directory, name).meta.get("owner", "") for name in runbooks.list_names(directory)}


def _assign_problems(data: dict[str, object], path: Path, text: str) -> None:
    """Each `[devices.assign."<id>"]` on its own, as msgspec does not name a
    table's key in its errors. `assign = {"prn-1" = "stadt-b"}` gave a device
    to a tenant whoever polled it; an assignment now names its pollers, so the
    old form is refused with the new one spelled out rather than guessed."""
    devices = data.get("devices")
    assign = devices.get("assign") if isinstance(devices, dict) else None
    if not isinstance(assign, dict):
        return
    for device, value in assign.items():
        if isinstance(value, str):
            line = find_key_line(text, ("devices", "assign"), device) or find_key_line(text, ("devices",), "assign")
            where = f"{path}:{line}" if line else str(path)
            raise ConfigError(
                f"{where}: devices.assign.{device}: an assignment names the pollers allowed to report the device; "
                f'write: [devices.assign."{device}"] tenant = "{value}" pollers = ["<agent id>", ...]'
            )
        try:
            msgspec.convert(value, DeviceAssignment)
        except msgspec.ValidationError as exc:
            raise ConfigError(_describe(path, text, str(exc), ("devices", "assign", str(device)))) from exc


def _metering_problems(metering: MeteringConfig, path: Path, text: str) -> None:
    """`metering.max_gap_s` was the cap on what one report covers, 300 s by
    default, which billed 10-minute reports by half. It still works as an
    alias of `max_interval_s` (same meaning), with a warning; both at once is
    an error."""
    if metering.max_gap_s is None:
        return
    line = find_key_line(text, ("metering",), "max_gap_s")
    where = f"{path}:{line}" if line else str(path)
    if metering.max_interval_s != _LIMITS.max_interval_s:
        raise ConfigError(f"{where}: metering.max_gap_s: remove it, metering.max_interval_s replaces it")
    log.warning(
        "%s: metering.max_gap_s is deprecated, use metering.max_interval_s (a report covers its declared "
        "interval, at most this; default 86400). Taken as max_interval_s = %g: reports with a longer "
        "interval_s are billed only %g s of it",
        where,
        metering.max_gap_s,
        metering.max_gap_s,
    )
    metering.max_interval_s, metering.max_gap_s = metering.max_gap_s, None


def _storage_problems(storage: StorageConfig, path: Path, text: str) -> None:
    """Rules across the storage keys: rollups are built from raw samples, so
    they must be built before those are deleted and kept longer than it takes."""
    down, raw, kept = storage.downsample_after_days, storage.retention_days, storage.rollup_retention_days
    if down and raw and down >= raw:
        keys = ("downsample_after_days", "retention_days")
        message = (
            f"must be less than storage.retention_days ({raw}): raw samples are deleted "
            f"after {raw} days, before storage.downsample_after_days ({down}) could roll them up"
        )
    elif down and kept and kept <= down:
        keys = ("rollup_retention_days", "downsample_after_days")
        message = (
            f"must be greater than storage.downsample_after_days ({down}): rollups of "
            f"samples {down} days old would be deleted at once"
        )
    else:
        return
    # the line of the key at fault, else of the other one (the first may be a default)
    line = find_key_line(text, ("storage",), keys[0]) or find_key_line(text, ("storage",), keys[1])
    where = f"{path}:{line}" if line else str(path)
    raise ConfigError(f"{where}: storage.{keys[0]}: {message}")


def _describe(path: Path, text: str, message: str, prefix: tuple[str, ...] = ()) -> str:
    """Turn msgspec's `... - at `$.server.listen`` into `file:line: key: ...`
    (`prefix`: the keys above what the message's `$` stands for)."""
    indexed = describe_indexed(path, text, message)  # inside arrays of tables: readiness.applications[1].rpo
    if indexed:
        return indexed
    at = _PATH_RE.search(message.rsplit(" - at ", 1)[-1]) if " - at " in message else None
    keys = [*prefix, *(k for k in at.group(1).split(".") if k)] if at else list(prefix)
    field = _FIELD_RE.search(message)
    if field and field.group(1):
        keys.append(field.group(1))
    reason = message.split(" - at ", 1)[0]
    key = ".".join(keys) or "(top level)"
    line = find_key_line(text, tuple(keys[:-1]), keys[-1]) if keys else None
    where = f"{path}:{line}" if line else str(path)
    return f"{where}: {key}: {reason}"
