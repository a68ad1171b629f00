"""Pure view models: rows built from API JSON, filtering, sorting, aggregation.

No Textual, no I/O: everything here is plain Python on cached rows, so the
hosts view filters and sorts 10,000 hosts without a round trip (see
``bench/tui_hosts.py``), and it is tested without a terminal.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from . import fmt
from .i18n import t, tv

__all__ = [
    "SEVERITIES",
    "SORT_KEYS",
    "HostQuery",
    "HostRow",
    "OverviewRow",
    "alert_object",
    "alerts_for_host",
    "apply_query",
    "device_problems",
    "device_summary",
    "downsample",
    "host_rows",
    "month_start",
    "overview",
    "pages_this_month",
    "parse_duration",
    "parse_iso",
    "parse_query",
    "silence_matchers",
    "sort_rows",
]

BERLIN = ZoneInfo("Europe/Berlin")
SEVERITIES = ("critical", "warning", "info")
_SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}


# -- parsing -----------------------------------------------------------------------


def parse_iso(value: object) -> float | None:
    """A timestamp from the API: Unix seconds (what the collector sends) or ISO 8601."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def month_start(now: float) -> float:
    """Start of the running billing period (calendar month, Europe/Berlin)."""
    local = dt.datetime.fromtimestamp(now, BERLIN)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()


def decimal(value: object) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None


def downsample(values: Sequence[float], width: int) -> list[float]:
    """At most `width` points: the maximum of each bucket (a spike must stay visible)."""
    if width <= 0 or len(values) <= width:
        return list(values)
    out = []
    step = len(values) / width
    for i in range(width):
        bucket = values[int(i * step) : max(int((i + 1) * step), int(i * step) + 1)]
        out.append(max(bucket))
    return out


# -- hosts ---------------------------------------------------------------------------


@dataclass(slots=True)
class HostRow:
    id: str
    hostname: str
    tenant: str
    site: str
    role: str
    state: str
    cpu: float | None
    mem: float | None
    disk: float | None
    load: float | None
    sessions: int | None
    last_seen: float | None
    search: str = ""

    @property
    def online(self) -> bool:
        return self.state == "online"


def host_rows(hosts: Iterable[Mapping[str, Any]]) -> list[HostRow]:
    rows = []
    for h in hosts:
        m = h.get("metrics") or {}
        row = HostRow(
            id=str(h["id"]),
            hostname=str(h.get("hostname") or h["id"]),
            tenant=str(h.get("tenant") or ""),
            site=str(h.get("site") or ""),
            role=str(h.get("role") or ""),
            state=str(h.get("state") or "offline"),
            cpu=m.get("cpu_percent"),
            mem=m.get("memory_used_percent"),
            disk=m.get("disk_used_percent_max"),
            load=m.get("load1"),
            sessions=m.get("sessions"),
            last_seen=h.get("last_seen"),
        )
        row.search = f"{row.hostname} {row.id} {row.tenant} {row.site} {row.role} {row.state}".lower()
        rows.append(row)
    return rows


#: sortable columns of the hosts table, in the order `s` cycles through them
SORT_KEYS = ("hostname", "tenant", "site", "role", "state", "cpu", "mem", "disk", "last_seen")
_FIELDS = {"tenant", "site", "role", "state", "host", "hostname", "id"}
_NUMERIC = {"cpu", "mem", "disk", "load", "sessions"}
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "=": operator.eq,
}
_COMPARE = re.compile(r"^(cpu|mem|disk|load|sessions)(>=|<=|>|<|=)(\d+(?:\.\d+)?)$")


@dataclass(frozen=True)
class HostQuery:
    """A parsed filter: free words (all must occur), field:value pairs, numeric comparisons."""

    words: tuple[str, ...] = ()
    fields: tuple[tuple[str, str], ...] = ()
    compare: tuple[tuple[str, str, float], ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.words or self.fields or self.compare)


def parse_query(text: str) -> HostQuery:
    """``rathaus tc state:offline cpu>80`` → words, fields, comparisons.
    Unknown ``x:y`` is treated as a plain word."""
    words: list[str] = []
    fields: list[tuple[str, str]] = []
    compare: list[tuple[str, str, float]] = []
    for token in text.lower().split():
        m = _COMPARE.match(token)
        if m:
            compare.append((m.group(1), m.group(2), float(m.group(3))))
            continue
        name, sep, value = token.partition(":")
        if sep and name in _FIELDS and value:
            fields.append(("hostname" if name == "host" else name, value))
        else:
            words.append(token)
    return HostQuery(tuple(words), tuple(fields), tuple(compare))


def apply_query(rows: Sequence[HostRow], query: HostQuery) -> list[HostRow]:
    if query.empty:
        return list(rows)
    out = []
    attr = {"cpu": "cpu", "mem": "mem", "disk": "disk", "load": "load", "sessions": "sessions"}
    for row in rows:
        search = row.search
        if any(w not in search for w in query.words):
            continue
        if any(not getattr(row, name).lower().startswith(value) for name, value in query.fields):
            continue
        ok = True
        for name, op, number in query.compare:
            value = getattr(row, attr[name])
            if value is None or not _OPS[op](value, number):
                ok = False
                break
        if ok:
            out.append(row)
    return out


def sort_rows(rows: Sequence[HostRow], key: str, reverse: bool = False) -> list[HostRow]:
    """Sort by a column; missing values always last, whatever the direction."""
    if key not in SORT_KEYS:
        raise ValueError(f"unknown sort key {key!r}")
    present = [r for r in rows if getattr(r, key) is not None]
    missing = [r for r in rows if getattr(r, key) is None]
    if key in ("hostname", "tenant", "site", "role", "state"):
        present.sort(key=lambda r: (getattr(r, key), r.hostname), reverse=reverse)
    else:
        present.sort(key=operator.attrgetter(key), reverse=reverse)
    return present + missing


# -- devices ------------------------------------------------------------------------

LOW_SUPPLY_PCT = 10.0
LOW_RUNTIME_S = 900.0


def device_problems(device: Mapping[str, Any], reading: Mapping[str, Any] | None) -> list[str]:
    """Catalog keys of what is wrong with a device (empty: fine)."""
    problems = []
    state = device.get("state")
    if state == "unreachable":
        problems.append("problem.unreachable")
    elif state == "stale":
        problems.append("problem.stale")
    reading = reading or {}
    printer = reading.get("printer") or {}
    if any((s.get("percent") is not None and s["percent"] < LOW_SUPPLY_PCT) for s in printer.get("supplies") or []):
        problems.append("problem.supply_low")
    if printer.get("detected_errors"):
        problems.append("problem.printer_error")
    ups = reading.get("ups") or {}
    if ups.get("on_battery"):
        problems.append("problem.on_battery")
    if ups.get("runtime_s") is not None and ups["runtime_s"] < LOW_RUNTIME_S:
        problems.append("problem.runtime_low")
    uplinks = [i for i in reading.get("interfaces") or [] if i.get("uplink")]
    if any(i.get("oper_status") not in ("up", None) for i in uplinks):
        problems.append("problem.uplink_down")
    return problems


def pages_this_month(latest: object, month_first: object) -> int | None:
    """Pages printed since the month's first reading: the lifetime counter's growth.
    None when either is missing, or the counter went back (a new or reset printer:
    the month's count is not known, and 0 or a negative number would be wrong)."""
    if not isinstance(latest, int) or not isinstance(month_first, int) or latest < month_first:
        return None
    return latest - month_first


def device_summary(device: Mapping[str, Any], reading: Mapping[str, Any] | None) -> str:
    """One line about a device's latest reading."""
    reading = reading or {}
    kind = device.get("kind")
    if kind == "printer" and reading.get("printer"):
        p = reading["printer"]
        # whole names: the table gives way by column, and its cut line shows a cut value in full
        supplies = " ".join(
            f"{s.get('description') or s.get('index') or '?'} {fmt.percent(s.get('percent'))}"
            for s in p.get("supplies") or []
        )
        status = tv("snmp", p.get("printer_status"))
        return t("dev.printer", pages=fmt.integer(p.get("pages_total")), status=status) + (
            f" · {supplies}" if supplies else ""
        )
    if kind == "ups" and reading.get("ups"):
        u = reading["ups"]
        state = t("ups.battery") if u.get("on_battery") else t("ups.mains")
        runtime, charge = fmt.duration(u.get("runtime_s")), fmt.percent(u.get("charge_pct"))
        return t("dev.ups", state=state, runtime=runtime, charge=charge)
    if kind == "switch" and reading.get("interfaces") is not None:
        ifaces = reading["interfaces"]
        up = sum(1 for i in ifaces if i.get("oper_status") == "up")
        uplinks = [i for i in ifaces if i.get("uplink")]
        uplinks_up = sum(1 for i in uplinks if i.get("oper_status") == "up")
        return t("dev.switch", up=up, total=len(ifaces), uplinks_up=uplinks_up, uplinks=len(uplinks))
    return device.get("error") or device.get("descr") or ""


# -- alerts --------------------------------------------------------------------------


def severity_rank(alert: Mapping[str, Any]) -> int:
    return _SEVERITY_RANK.get(str(alert.get("severity")), len(SEVERITIES))


def sort_alerts(alerts: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    state_rank = {"firing": 0, "pending": 1, "resolved": 2}
    return sorted(
        alerts,
        key=lambda a: (
            state_rank.get(str(a.get("state")), 3),
            severity_rank(a),
            -(parse_iso(a.get("started_at")) or 0.0),
        ),
    )


def alerts_for_host(alerts: Iterable[Mapping[str, Any]], host: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Alerts about a host: its id or hostname as the alert's object or in its labels."""
    names = {str(host.get("id")), str(host.get("hostname"))}
    out = []
    for a in alerts:
        labels = a.get("labels") or {}
        values = {str(a.get("object"))} | {str(labels.get(k)) for k in ("host", "hostname", "agent_id", "instance")}
        if names & values:
            out.append(a)
    return out


def alert_object(alert: Mapping[str, Any], device_names: Mapping[tuple[str, str], str] | None = None) -> str:
    """What an alert is about, as the operator names it. The collector's object is
    a key (agent id, ``tenant/device``); its labels name the host and the device:
    ``lohne-srv-01`` for the agent id, ``lohne-srv-01:/var`` for a mount, the
    device's name (its id in brackets) for a device, the supply or port kept."""
    labels = alert.get("labels") or {}
    obj = str(alert.get("object") or "")
    agent, host = str(labels.get("agent_id") or ""), str(labels.get("host") or "")
    if agent and host and obj.startswith(agent):
        return host + obj[len(agent) :]
    device, tenant = str(labels.get("device") or ""), str(alert.get("tenant") or "")
    key = f"{tenant}/{device}"
    if device and obj.startswith(key):
        name = (device_names or {}).get((tenant, device))
        return (f"{name} ({device})" if name and name != device else device) + obj[len(key) :]
    return obj


def silence_matchers(alert: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Matchers that silence exactly this alert: its labels, else rule and object."""
    labels = alert.get("labels") or {}
    if labels:
        return [{"name": k, "value": str(v), "is_regex": False} for k, v in sorted(labels.items())]
    return [
        {"name": "rule", "value": str(alert.get("rule", "")), "is_regex": False},
        {"name": "object", "value": str(alert.get("object", "")), "is_regex": False},
    ]


_DURATION = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*([mhdw]|min|std|h|t|d)?\s*$", re.IGNORECASE)


def parse_duration(text: str) -> float | None:
    """``30m``, ``2h``, ``1d``, ``1w`` (also ``2 std``, ``1t``); a bare number is hours."""
    m = _DURATION.match(text)
    if not m:
        return None
    number = float(m.group(1).replace(",", "."))
    unit = (m.group(2) or "h").lower()
    factor = {"m": 60, "min": 60, "h": 3600, "std": 3600, "d": 86400, "t": 86400, "w": 604800}[unit]
    seconds = number * factor
    return seconds if 0 < seconds <= 90 * 86400 else None


# -- overview ------------------------------------------------------------------------


@dataclass
class OverviewRow:
    tenant: str
    site: str | None  # None: the tenant's total row
    up: int = 0
    down: int = 0
    devices_bad: int | None = None
    alerts: dict[str, int] = field(default_factory=dict)
    not_ready: int | None = None
    coverage: Decimal | None = None


def overview(
    hosts: Sequence[HostRow],
    devices: Sequence[tuple[Mapping[str, Any], Sequence[str]]] | None,
    alerts: Sequence[Mapping[str, Any]] | None,
    readiness: Sequence[Mapping[str, Any]] | None,
    coverage: Mapping[str, Decimal | None],
) -> list[OverviewRow]:
    """Per tenant a total row, then one row per site (hosts up/down).
    `None` for a whole input means the collector does not offer it: shown as –."""
    tenants: set[str] = {h.tenant for h in hosts} | set(coverage)
    by_site: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for h in hosts:
        by_site[(h.tenant, h.site)][0 if h.online else 1] += 1
    bad: Counter[str] = Counter()
    for device, problems in devices or ():
        tenants.add(str(device.get("tenant")))
        if problems:
            bad[str(device.get("tenant"))] += 1
    firing: dict[str, Counter[str]] = defaultdict(Counter)
    for a in alerts or ():
        tenants.add(str(a.get("tenant") or ""))
        if a.get("state") == "firing" and not a.get("silenced"):
            firing[str(a.get("tenant") or "")][str(a.get("severity"))] += 1
    not_ready: Counter[str] = Counter()
    for app in readiness or ():
        tenants.add(str(app.get("tenant")))
        if app.get("status") == "not_ready" and app.get("criticality", "kritis") == "kritis":
            not_ready[str(app.get("tenant"))] += 1
    rows = []
    for tenant in sorted(tenants):
        sites = sorted(site for (ten, site) in by_site if ten == tenant)
        total = OverviewRow(
            tenant=tenant,
            site=None,
            up=sum(by_site[(tenant, s)][0] for s in sites),
            down=sum(by_site[(tenant, s)][1] for s in sites),
            devices_bad=None if devices is None else bad[tenant],
            alerts={} if alerts is None else dict(firing[tenant]),
            not_ready=None if readiness is None else not_ready[tenant],
            coverage=coverage.get(tenant),
        )
        rows.append(total)
        if len(sites) > 1 or (sites and sites[0]):
            rows.extend(
                OverviewRow(tenant=tenant, site=s or "–", up=by_site[(tenant, s)][0], down=by_site[(tenant, s)][1])
                for s in sites
            )
    return rows


def usage_coverage(usage: Mapping[str, Any]) -> Decimal | None:
    """A tenant's coverage: the lowest of its meters (what the bill rests on)."""
    values = [d for m in usage.get("meters") or [] if (d := decimal(m.get("coverage"))) is not None]
    return min(values) if values else None
