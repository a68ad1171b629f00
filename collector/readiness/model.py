"""The application model, evidence snapshots and verdicts: plain frozen data.

Everything here is built either from the collector's config (``config.py``)
or from the store (``evaluate.py``); the checks (``checks.py``) only read it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "RUNBOOKS",
    "Application",
    "CheckResult",
    "Evaluation",
    "Evidence",
    "FailoverTest",
    "Finding",
    "HostState",
    "Instance",
    "Sample",
    "Selector",
    "Site",
    "Status",
    "SwitchState",
    "Thresholds",
    "Uplink",
    "UpsState",
    "Verdict",
    "score_of",
    "status_of",
    "worst",
]

Verdict = Literal["pass", "warn", "fail"]
Status = Literal["ready", "degraded", "not_ready"]
Role = Literal["primary", "standby", "active"]
Criticality = Literal["kritis", "24x7", "standard"]

_RANK: dict[str, int] = {"pass": 0, "warn": 1, "fail": 2}

#: Runbook names (issue 6 adds runbooks/<name>.md), per check.
RUNBOOKS: dict[str, str] = {
    "instances_healthy": "kritis-instance-down",
    "distinct_sites": "kritis-single-site",
    "site_loss": "kritis-single-site",
    "site_distance": "kritis-site-distance",
    "backup_age": "kritis-backup-too-old",
    "replication_lag": "kritis-replication-lag",
    "standby_headroom": "kritis-standby-headroom",
    "ups_runtime": "kritis-ups-runtime",
    "uplinks": "kritis-uplink-redundancy",
    "failover_test": "kritis-failover-test-overdue",
    "certificate": "kritis-certificate-expiry",
    "dns": "kritis-dns",
    "evidence_fresh": "kritis-evidence-stale",
}
#: What fixes stale or missing evidence, whichever check found it.
STALE_RUNBOOK = "kritis-evidence-stale"


def worst(verdicts: Iterable[Verdict]) -> Verdict:
    out: Verdict = "pass"
    for v in verdicts:
        if _RANK[v] > _RANK[out]:
            out = v
    return out


def best(verdicts: Iterable[Verdict]) -> Verdict:
    out: Verdict | None = None
    for v in verdicts:
        if out is None or _RANK[v] < _RANK[out]:
            out = v
    return out or "fail"


@dataclass(frozen=True)
class Finding:
    """One piece of evidence: a catalog key (messages.py) and its parameters."""

    verdict: Verdict
    key: str
    params: Mapping[str, object] = field(default_factory=dict)
    #: runbook for this finding when it differs from its check's (stale evidence)
    runbook: str | None = None


@dataclass(frozen=True)
class CheckResult:
    check: str
    verdict: Verdict
    findings: tuple[Finding, ...]
    #: the runbook that fixes the worst finding; None when the check passed
    runbook: str | None

    @classmethod
    def of(cls, check: str, findings: Iterable[Finding], verdict: Verdict | None = None) -> CheckResult:
        found = tuple(findings)
        final = verdict if verdict is not None else worst(f.verdict for f in found)
        runbook = None
        if final != "pass":
            runbook = next((f.runbook for f in found if f.verdict == final and f.runbook), RUNBOOKS[check])
        return cls(check, final, found, runbook)


# -- the model (from config) ------------------------------------------------------


@dataclass(frozen=True)
class Site:
    name: str
    lat: float
    lon: float
    ups: tuple[str, ...] = ()
    switches: tuple[str, ...] = ()


@dataclass(frozen=True)
class Instance:
    #: the name findings use: the configured hostname, else the agent id
    host: str
    site: str
    role: Role
    #: the enrolled agent id that is this instance ("": resolve ``host``)
    agent: str = ""


@dataclass(frozen=True)
class Selector:
    """Textfile samples: metric name, labels that must match, optionally one host."""

    metric: str
    labels: tuple[tuple[str, str], ...] = ()
    #: only this host's samples (resolved like an instance's host)
    host: str = ""
    #: only this enrolled agent's samples; with neither: the application's instances
    agent: str = ""

    def describe(self) -> str:
        labels = ",".join(f'{k}="{v}"' for k, v in self.labels)
        return f"{self.metric}{{{labels}}}" if labels else self.metric


@dataclass(frozen=True)
class Thresholds:
    stale_after_s: float = 900.0
    warn_pct: float = 80.0
    distance_warn_km: float = 200.0
    distance_fail_km: float = 100.0
    ups_min_runtime_s: float = 900.0
    min_uplinks: int = 2
    overload_cpu_pct: float = 90.0
    overload_memory_pct: float = 95.0
    headroom_margin_pct: float = 20.0
    failover_test_max_age_days: int = 365
    failover_test_warn_days: int = 30
    cert_warn_days: float = 30.0
    cert_fail_days: float = 7.0


@dataclass(frozen=True)
class Application:
    name: str
    tenant: str
    criticality: Criticality
    rpo_s: float
    rto_s: float
    instances: tuple[Instance, ...]
    mta_s: float | None = None
    min_sites: int = 2
    min_healthy: int = 2
    backup: Selector | None = None
    replication: Selector | None = None
    certificate: Selector | None = None
    dns: Selector | None = None
    #: per-application overrides of the [readiness] thresholds
    thresholds: Thresholds = field(default_factory=Thresholds)

    @property
    def site_names(self) -> tuple[str, ...]:
        return tuple(sorted({i.site for i in self.instances}))


# -- evidence (from the store) ----------------------------------------------------


@dataclass(frozen=True)
class HostState:
    """A configured instance host as the store knows it; agent_id None: not
    enrolled, or (``claimed_by``) its hostname is claimed by several agents."""

    host: str
    agent_id: str | None = None
    claimed_by: tuple[str, ...] = ()
    site_reported: str = ""
    report_ts: float | None = None
    cpu_count: int | None = None
    cpu_percent: float | None = None
    memory_total: int | None = None
    memory_used: int | None = None


@dataclass(frozen=True)
class Sample:
    """A textfile sample from a host's latest report."""

    host: str
    site: str
    series: str
    value: float
    ts: float


@dataclass(frozen=True)
class UpsState:
    device: str
    ts: float | None = None  # None: never reported
    ok: bool = True
    error: str = ""
    on_battery: bool | None = None
    battery_status: str | None = None
    runtime_s: float | None = None
    charge_pct: float | None = None
    #: last self-test result ("passed", "failed", ...); None when the reading does not tell
    self_test: str | None = None


@dataclass(frozen=True)
class Uplink:
    name: str
    oper_status: str | None


@dataclass(frozen=True)
class SwitchState:
    device: str
    ts: float | None = None
    ok: bool = True
    error: str = ""
    uplinks: tuple[Uplink, ...] = ()


@dataclass(frozen=True)
class FailoverTest:
    date: dt.date
    result: Literal["passed", "failed"]
    note: str = ""
    recorded_at: float = 0.0


@dataclass(frozen=True)
class Evidence:
    now: float
    hosts: Mapping[str, HostState] = field(default_factory=dict)
    #: per source ("backup", "replication", "certificate", "dns"): the matching samples
    samples: Mapping[str, tuple[Sample, ...]] = field(default_factory=dict)
    ups: Mapping[str, UpsState] = field(default_factory=dict)
    switches: Mapping[str, SwitchState] = field(default_factory=dict)
    tests: tuple[FailoverTest, ...] = ()
    #: configured hostnames several enrolled agents of the tenant claim: their agent ids
    ambiguous: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: today's date where failover tests are dated (Europe/Berlin)
    today: dt.date = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class Evaluation:
    app: Application
    now: float
    status: Status
    score: int
    checks: tuple[CheckResult, ...]
    #: failed checks whose evidence comes with agent reports, deferred during the start-up
    #: grace (grace.py): their evidence is pending, they raise no alert
    pending: tuple[str, ...] = ()
    #: when the grace ends (None: not in grace)
    pending_until: float | None = None

    @property
    def alert_status(self) -> Status:
        """The status alerts act on: the status without the pending checks."""
        if not self.pending:
            return self.status
        return status_of(c for c in self.checks if c.check not in self.pending)

    @property
    def failed(self) -> list[str]:
        return [c.check for c in self.checks if c.verdict == "fail"]

    @property
    def warned(self) -> list[str]:
        return [c.check for c in self.checks if c.verdict == "warn"]


def status_of(checks: Iterable[CheckResult]) -> Status:
    verdict = worst(c.verdict for c in checks)
    return {"pass": "ready", "warn": "degraded", "fail": "not_ready"}[verdict]  # type: ignore[return-value]


def score_of(checks: Iterable[CheckResult]) -> int:
    """0-100: a passed check counts 1, a warning half, a failure nothing."""
    results = list(checks)
    if not results:
        return 0
    points = sum({"pass": 2, "warn": 1, "fail": 0}[c.verdict] for c in results)
    return round(100 * points / (2 * len(results)))
