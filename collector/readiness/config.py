"""The ``[readiness]`` section of the collector's TOML: sites, applications, thresholds.

Structure and types are checked by msgspec like every other section; the
rules across fields (durations with units, a standby for every primary,
unique names, declared sites) are checked by ``problems`` and reported with
file, line and what to change. ``settings`` turns a valid section into the
pure model (``model.py``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from ..errors import ConfigError
from .model import Application, Instance, Selector, Site, Thresholds

__all__ = [
    "ApplicationConfig",
    "InstanceConfig",
    "ReadinessConfig",
    "ReadinessSettings",
    "SampleSelector",
    "SiteConfig",
    "locate",
    "parse_duration",
    "problems",
    "raise_for_problems",
    "settings",
]

Name = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")]
DeviceId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9._:-]{1,128}$")]
HostName = Annotated[str, msgspec.Meta(max_length=128)]
AgentRef = Annotated[str, msgspec.Meta(max_length=128)]
Metric = Annotated[str, msgspec.Meta(pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$", max_length=200)]
#: "15m", "4h", "1d"; a bare number (no unit) is rejected by ``problems``
Duration = str | int
Pct = Annotated[float, msgspec.Meta(ge=0, le=100)]


class _Section(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class SiteConfig(_Section):
    #: WGS 84 latitude and longitude in decimal degrees.
    lat: Annotated[float, msgspec.Meta(ge=-90, le=90)]
    lon: Annotated[float, msgspec.Meta(ge=-180, le=180)]
    #: SNMP device ids of the site's UPS units (the collector's device inventory).
    ups: list[DeviceId] = []
    #: SNMP device ids of the site's switches; their interfaces flagged `uplink` count.
    switches: list[DeviceId] = []


class InstanceConfig(_Section):
    site: str
    role: Literal["primary", "standby", "active"]
    #: agent id of an agent enrolled in the application's tenant: binds exactly it
    agent: AgentRef = ""
    #: hostname (or agent id) that exactly one agent of the tenant must answer to;
    #: with `agent`, only the name findings show
    host: HostName = ""


class SampleSelector(_Section):
    #: textfile metric name, e.g. backup_last_success_timestamp_seconds
    metric: Metric
    #: labels the sample must carry (others may be present too)
    labels: dict[str, str] = {}
    #: only the samples of the one agent of the tenant with this hostname (or agent id)
    host: HostName = ""
    #: only this enrolled agent's samples; neither host nor agent: the application's instances
    agent: AgentRef = ""


class ApplicationConfig(_Section):
    name: Name
    tenant: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
    criticality: Literal["kritis", "24x7", "standard"]
    rpo: Duration
    rto: Duration
    mta: Duration = ""
    min_sites: Annotated[int, msgspec.Meta(ge=1)] = 2
    min_healthy: Annotated[int, msgspec.Meta(ge=1)] = 2
    instances: list[InstanceConfig] = []
    backup: SampleSelector | None = None
    replication: SampleSelector | None = None
    certificate: SampleSelector | None = None
    dns: SampleSelector | None = None
    headroom_margin_pct: Annotated[float, msgspec.Meta(ge=0, le=1000)] | None = None
    failover_test_max_age: Duration = ""


class ReadinessConfig(_Section):
    #: Seconds between scheduled evaluations (status history is recorded then and on every request).
    interval_s: Annotated[float, msgspec.Meta(ge=5)] = 60.0
    #: Evidence (a host's report, a device reading) older than this is stale: a failure.
    stale_after_s: Annotated[float, msgspec.Meta(gt=0)] = 900.0
    #: Backup age or replication lag above this share of the RPO is a warning.
    rpo_warn_pct: Pct = 80.0
    distance_warn_km: Annotated[float, msgspec.Meta(ge=0)] = 200.0
    distance_fail_km: Annotated[float, msgspec.Meta(ge=0)] = 100.0
    ups_min_runtime: Duration = "15m"
    min_uplinks: Annotated[int, msgspec.Meta(ge=1)] = 2
    overload_cpu_pct: Pct = 90.0
    overload_memory_pct: Pct = 95.0
    headroom_margin_pct: Annotated[float, msgspec.Meta(ge=0, le=1000)] = 20.0
    failover_test_max_age: Duration = "365d"
    failover_test_warn_days: Annotated[int, msgspec.Meta(ge=0)] = 30
    cert_warn_days: Annotated[float, msgspec.Meta(ge=0)] = 30.0
    cert_fail_days: Annotated[float, msgspec.Meta(ge=0)] = 7.0
    sites: dict[Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9._-]{1,64}$")], SiteConfig] = {}
    applications: list[ApplicationConfig] = []


# -- durations ---------------------------------------------------------------------

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d)\s*$")
_UNIT_S = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
_DURATION_HINT = 'write a number with a unit s, m, h or d, e.g. "15m", "4h", "1d"'


def parse_duration(value: Duration) -> float:
    """Seconds of "15m" / "4h" / "1d"; ValueError (with the fix) otherwise."""
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        raise ValueError(f"{value!r} has no unit: {_DURATION_HINT}")
    match = _DURATION_RE.match(value)
    if not match:
        raise ValueError(f"{value!r} is not a duration: {_DURATION_HINT}")
    seconds = float(match.group(1)) * _UNIT_S[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"{value!r} must be longer than zero")
    return seconds


# -- rules across fields ------------------------------------------------------------

Path_ = tuple[str | int, ...]


def problems(cfg: ReadinessConfig) -> list[tuple[Path_, str]]:
    """Every rule the types cannot express, as (key path, message with the fix)."""
    out: list[tuple[Path_, str]] = []
    root: Path_ = ("readiness",)
    for key in ("ups_min_runtime", "failover_test_max_age"):
        try:
            parse_duration(getattr(cfg, key))
        except ValueError as exc:
            out.append(((*root, key), str(exc)))
    if cfg.distance_fail_km > cfg.distance_warn_km:
        out.append(((*root, "distance_fail_km"), "must not exceed readiness.distance_warn_km"))
    if cfg.cert_fail_days > cfg.cert_warn_days:
        out.append(((*root, "cert_fail_days"), "must not exceed readiness.cert_warn_days"))
    seen: dict[str, int] = {}
    for n, app in enumerate(cfg.applications):
        at: Path_ = (*root, "applications", n)
        if app.name in seen:
            out.append(
                (
                    (*at, "name"),
                    f"duplicate application name {app.name!r} (also applications[{seen[app.name]}]): "
                    "give every application its own name",
                )
            )
        seen.setdefault(app.name, n)
        durations: dict[str, float] = {}
        for key in ("rpo", "rto", "mta", "failover_test_max_age"):
            raw = getattr(app, key)
            if raw == "" and key in ("mta", "failover_test_max_age"):
                continue
            try:
                durations[key] = parse_duration(raw)
            except ValueError as exc:
                out.append(((*at, key), f"{key.upper() if len(key) == 3 else key} {exc}"))
        if "rto" in durations and "mta" in durations and durations["rto"] > durations["mta"]:
            out.append(
                ((*at, "rto"), f"RTO {app.rto} exceeds MTA {app.mta}: the restart time must be shorter than the MTA")
            )
        out += _instance_problems(app, at, cfg)
        if app.min_healthy > len(app.instances):
            out.append(
                (
                    (*at, "min_healthy"),
                    f"min_healthy = {app.min_healthy} but the application has {len(app.instances)} instances",
                )
            )
        if app.criticality == "kritis" and app.backup is None:
            out.append(
                (
                    at,
                    f"KRITIS application {app.name!r} needs backup evidence: add a `backup` table "
                    '(metric = "backup_last_success_timestamp_seconds", labels = {...})',
                )
            )
    return out


def _instance_problems(app: ApplicationConfig, at: Path_, cfg: ReadinessConfig) -> list[tuple[Path_, str]]:
    out: list[tuple[Path_, str]] = []
    roles = [i.role for i in app.instances]
    if not app.instances:
        return [((*at, "instances"), f"application {app.name!r} has no instances")]
    if "primary" in roles and "standby" not in roles:
        out.append(
            (
                (*at, "instances"),
                f'application {app.name!r} has no standby: add an instance with role = "standby" '
                '(or declare the instances role = "active" for active/active)',
            )
        )
    if "primary" not in roles and "active" not in roles:
        out.append(((*at, "instances"), f"application {app.name!r} has no primary or active instance"))
    if "active" in roles and "primary" not in roles and roles.count("active") < 2 and "standby" not in roles:
        out.append(
            (
                (*at, "instances"),
                f"application {app.name!r} has a single active instance and no standby: "
                'add a standby or a second role = "active" instance',
            )
        )
    if "active" in roles and "primary" in roles:
        out.append(((*at, "instances"), "mix of primary and active instances: use primary/standby or active/active"))
    hosts: set[str] = set()
    agents: set[str] = set()
    for i, inst in enumerate(app.instances):
        if not inst.host and not inst.agent:
            out.append(
                (
                    (*at, "instances", i),
                    'an instance needs agent = "<agent id>" (binds one enrolled agent) or host = "<hostname>"',
                )
            )
        if inst.host and inst.host in hosts:
            out.append(((*at, "instances", i, "host"), f"host {inst.host!r} is listed twice in {app.name!r}"))
        if inst.agent and inst.agent in agents:
            out.append(((*at, "instances", i, "agent"), f"agent {inst.agent!r} is listed twice in {app.name!r}"))
        hosts.add(inst.host)
        agents.add(inst.agent)
        if inst.site not in cfg.sites:
            known = ", ".join(sorted(cfg.sites)) or "none"
            out.append(
                (
                    (*at, "instances", i, "site"),
                    f"unknown site {inst.site!r} (declared: {known}): "
                    f"add [readiness.sites.{inst.site}] with lat and lon, or fix the name",
                )
            )
    return out


def raise_for_problems(cfg: ReadinessConfig, path: Path | None = None, text: str | None = None) -> None:
    """ConfigError naming file, line, key and fix of every problem (none: returns)."""
    found = problems(cfg)
    if not found:
        return
    lines = []
    for keys, message in found:
        line = locate(text, keys) if text is not None else None
        where = f"{path}:{line}" if path and line else str(path) if path else "config"
        lines.append(f"{where}: {dotted(keys)}: {message}")
    raise ConfigError("\n".join(lines))


def dotted(keys: Sequence[str | int]) -> str:
    out = ""
    for k in keys:
        out += f"[{k}]" if isinstance(k, int) else (f".{k}" if out else k)
    return out


# -- where in the file --------------------------------------------------------------

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*["']?([A-Za-z0-9_-]+)["']?\s*[=.]""")


def locate(text: str, keys: Sequence[str | int]) -> int | None:
    """1-based line of a key path such as ``readiness.applications[1].rpo``, or of
    its closest enclosing key (arrays of tables are counted; inline tables
    resolve to the line of their key)."""
    target = tuple(keys)
    indices: dict[tuple[str, ...], int] = {}
    current: tuple[str | int, ...] = ()
    best, best_len = None, 0

    def resolve(names: tuple[str, ...]) -> tuple[str | int, ...]:
        out: list[str | int] = []
        for n in range(1, len(names) + 1):
            out.append(names[n - 1])
            if names[:n] in indices:
                out.append(indices[names[:n]])
        return tuple(out)

    def consider(path: tuple[str | int, ...], number: int) -> None:
        nonlocal best, best_len
        if len(path) > best_len and target[: len(path)] == path:
            best, best_len = number, len(path)

    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            names = tuple(p.strip().strip("\"'") for p in header.group(2).split("."))
            if header.group(1) == "[[":
                indices[names] = indices.get(names, -1) + 1
                for other in [k for k in indices if len(k) > len(names) and k[: len(names)] == names]:
                    del indices[other]
            current = resolve(names)
            consider(current, number)
            continue
        key = _KEY.match(line)
        if key:
            consider((*current, key.group(1)), number)
    return best


# -- the pure model -----------------------------------------------------------------


@dataclass(frozen=True)
class ReadinessSettings:
    interval_s: float = 60.0
    sites: dict[str, Site] = field(default_factory=dict)
    applications: tuple[Application, ...] = ()

    def application(self, name: str) -> Application | None:
        return next((a for a in self.applications if a.name == name), None)


def _selector(sel: SampleSelector | None) -> Selector | None:
    if sel is None:
        return None
    return Selector(metric=sel.metric, labels=tuple(sorted(sel.labels.items())), host=sel.host, agent=sel.agent)


def settings(cfg: ReadinessConfig) -> ReadinessSettings:
    """The model of a section; raises ConfigError when ``problems`` finds any."""
    raise_for_problems(cfg)
    base = Thresholds(
        stale_after_s=cfg.stale_after_s,
        warn_pct=cfg.rpo_warn_pct,
        distance_warn_km=cfg.distance_warn_km,
        distance_fail_km=cfg.distance_fail_km,
        ups_min_runtime_s=parse_duration(cfg.ups_min_runtime),
        min_uplinks=cfg.min_uplinks,
        overload_cpu_pct=cfg.overload_cpu_pct,
        overload_memory_pct=cfg.overload_memory_pct,
        headroom_margin_pct=cfg.headroom_margin_pct,
        failover_test_max_age_days=round(parse_duration(cfg.failover_test_max_age) / 86400),
        failover_test_warn_days=cfg.failover_test_warn_days,
        cert_warn_days=cfg.cert_warn_days,
        cert_fail_days=cfg.cert_fail_days,
    )
    sites = {
        name: Site(name=name, lat=s.lat, lon=s.lon, ups=tuple(s.ups), switches=tuple(s.switches))
        for name, s in sorted(cfg.sites.items())
    }
    apps = []
    for a in cfg.applications:
        th = base
        if a.headroom_margin_pct is not None:
            th = dataclasses.replace(th, headroom_margin_pct=a.headroom_margin_pct)
        if a.failover_test_max_age != "":
            th = dataclasses.replace(
                th, failover_test_max_age_days=round(parse_duration(a.failover_test_max_age) / 86400)
            )
        apps.append(
            Application(
                name=a.name,
                tenant=a.tenant,
                criticality=a.criticality,
                rpo_s=parse_duration(a.rpo),
                rto_s=parse_duration(a.rto),
                mta_s=parse_duration(a.mta) if a.mta != "" else None,
                min_sites=a.min_sites,
                min_healthy=a.min_healthy,
                instances=tuple(
                    Instance(host=i.host or i.agent, site=i.site, role=i.role, agent=i.agent) for i in a.instances
                ),
                backup=_selector(a.backup),
                replication=_selector(a.replication),
                certificate=_selector(a.certificate),
                dns=_selector(a.dns),
                thresholds=th,
            )
        )
    return ReadinessSettings(interval_s=cfg.interval_s, sites=sites, applications=tuple(apps))


_AT_RE = re.compile(r"`\$((?:\.[A-Za-z0-9_-]+|\[\d+\])*)`")
_PART_RE = re.compile(r"\.([A-Za-z0-9_-]+)|\[(\d+)\]")
_FIELD_RE = re.compile(r"unknown field `([^`]+)`|missing required field `([^`]+)`")


def describe_indexed(path: Path, text: str, message: str) -> str | None:
    """``file:line: key: reason`` for a msgspec error inside an array of tables
    (``$.readiness.applications[1].rpo``); None for other paths."""
    if " - at " not in message:
        return None
    reason, at_part = message.rsplit(" - at ", 1)
    at = _AT_RE.search(at_part)
    if not at or "[" not in at.group(1):
        return None
    keys: list[str | int] = [m.group(1) or int(m.group(2)) for m in _PART_RE.finditer(at.group(1))]
    field_ = _FIELD_RE.search(reason)
    if field_:
        keys.append(field_.group(1) or field_.group(2))
    line = locate(text, keys)
    return f"{path}:{line}: {dotted(keys)}: {reason}" if line else f"{path}: {dotted(keys)}: {reason}"
