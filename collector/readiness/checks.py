"""The readiness checks: pure functions of the model and an evidence snapshot.

Each returns a ``CheckResult``: pass, warn or fail, the findings it is based on
(catalog key plus parameters naming host, site, value and target) and the
runbook that fixes it. Missing or stale evidence is a failure, never a pass.
``evaluate_application`` runs the checks that apply to one application.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from .geo import haversine_km
from .messages import fmt_duration
from .model import (
    STALE_RUNBOOK,
    Application,
    CheckResult,
    Evaluation,
    Evidence,
    FailoverTest,
    Finding,
    HostState,
    Instance,
    Sample,
    Selector,
    Site,
    SwitchState,
    UpsState,
    Verdict,
    best,
    score_of,
    status_of,
    worst,
)

__all__ = [
    "backup_age",
    "certificate",
    "distinct_sites",
    "dns",
    "evaluate_application",
    "evidence_fresh",
    "failover_test",
    "freshness",
    "instances_healthy",
    "replication_lag",
    "site_distance",
    "site_loss",
    "standby_headroom",
    "uplinks",
    "ups_runtime",
]

GIB = 1 << 30
#: UPS runtime below this factor of the minimum is a warning
UPS_WARN_FACTOR = 1.25


def freshness(source: str, ts: float | None, *, now: float, stale_after_s: float) -> Finding | None:
    """A failing finding when the evidence is missing or older than the limit, else None."""
    if ts is None:
        return Finding("fail", "evidence.missing", {"source": source}, STALE_RUNBOOK)
    age = now - ts
    if age > stale_after_s:
        params = {"source": source, "age": fmt_duration(age), "age_s": round(age), "limit": fmt_duration(stale_after_s)}
        return Finding("fail", "evidence.stale", params, STALE_RUNBOOK)
    return None


def _host_source(host: str) -> str:
    return f"Host {host}"


# -- instances and sites -----------------------------------------------------------


def instances_healthy(
    instances: Sequence[Instance],
    hosts: Mapping[str, HostState],
    *,
    tenant: str,
    now: float,
    stale_after_s: float,
    overload_cpu_pct: float,
    overload_memory_pct: float,
    min_healthy: int,
) -> CheckResult:
    """Healthy = enrolled, reporting (fresh) and not overloaded.

    pass: every instance healthy; warn: redundancy reduced, at least
    ``min_healthy`` healthy and a standby among them (where the application
    has standbys); fail otherwise.
    """
    problems: list[tuple[Instance, str, dict[str, object]]] = []
    healthy: list[tuple[Instance, HostState]] = []
    for inst in instances:
        base: dict[str, object] = {"host": inst.host, "site": inst.site, "role": inst.role}
        state = hosts.get(inst.host)
        if state is not None and state.claimed_by:
            problems.append((inst, "instance.ambiguous", {**base, "agents": ", ".join(state.claimed_by)}))
            continue
        if state is None or state.agent_id is None:
            problems.append((inst, "instance.unknown", {**base, "tenant": tenant}))
            continue
        stale = freshness(_host_source(inst.host), state.report_ts, now=now, stale_after_s=stale_after_s)
        if stale is not None:
            problems.append((inst, stale.key, {**stale.params, **base}))
            continue
        mem = _mem_pct(state)
        if state.cpu_percent is None or mem is None:
            problems.append((inst, "instance.no_data", base))
        elif state.cpu_percent >= overload_cpu_pct:
            problems.append(
                (
                    inst,
                    "instance.overloaded",
                    {**base, "what": "CPU", "value": state.cpu_percent, "target": overload_cpu_pct},
                )
            )
        elif mem >= overload_memory_pct:
            problems.append(
                (inst, "instance.overloaded", {**base, "what": "RAM", "value": mem, "target": overload_memory_pct})
            )
        else:
            healthy.append((inst, state))
    has_standbys = any(i.role == "standby" for i in instances)
    standby_ok = any(i.role == "standby" for i, _ in healthy) or not has_standbys
    verdict: Verdict
    if len(healthy) == len(instances):
        verdict = "pass"
    elif len(healthy) >= min_healthy and standby_ok:
        verdict = "warn"
    else:
        verdict = "fail"
    findings = [
        Finding(verdict, key, params, STALE_RUNBOOK if key.startswith("evidence.") else None)
        for _, key, params in problems
    ]
    findings.append(
        Finding(verdict, "instances.count", {"healthy": len(healthy), "total": len(instances), "target": min_healthy})
    )
    if not standby_ok:
        findings.append(Finding("fail", "instances.no_standby", {}))
    for inst, state in healthy:
        findings.append(
            Finding(
                "pass",
                "instance.healthy",
                {
                    "host": inst.host,
                    "site": inst.site,
                    "role": inst.role,
                    "cpu": state.cpu_percent,
                    "memory": _mem_pct(state),
                },
            )
        )
    return CheckResult.of("instances_healthy", findings, verdict)


def _mem_pct(state: HostState) -> float | None:
    if state.memory_total and state.memory_used is not None:
        return round(100.0 * state.memory_used / state.memory_total, 1)
    return None


def distinct_sites(instances: Sequence[Instance], hosts: Mapping[str, HostState], *, min_sites: int) -> CheckResult:
    """Instances spread over at least ``min_sites`` sites; a host whose agent
    reports another site than the config says is a warning (which is true?)."""
    sites = sorted({i.site for i in instances})
    verdict: Verdict = "pass" if len(sites) >= min_sites else "fail"
    findings = [Finding(verdict, "sites.count", {"count": len(sites), "sites": ", ".join(sites), "target": min_sites})]
    for inst in instances:
        state = hosts.get(inst.host)
        if state is not None and state.site_reported and state.site_reported != inst.site:
            findings.append(
                Finding(
                    "warn", "sites.mismatch", {"host": inst.host, "site": inst.site, "reported": state.site_reported}
                )
            )
    return CheckResult.of("distinct_sites", findings)


def site_loss(instances: Sequence[Instance]) -> CheckResult:
    """No single site may hold every instance."""
    per_site = Counter(i.site for i in instances)
    if len(per_site) == 1:
        ((site, count),) = per_site.items()
        return CheckResult.of("site_loss", [Finding("fail", "sites.single", {"site": site, "count": count})])
    spread = ", ".join(f"{site}: {n}" for site, n in sorted(per_site.items()))
    return CheckResult.of("site_loss", [Finding("pass", "sites.spread", {"spread": spread})])


def site_distance(
    instances: Sequence[Instance], sites: Mapping[str, Site], *, warn_km: float, fail_km: float
) -> CheckResult:
    """For each site with a primary or active instance, the farthest other
    instance site is its alternate: fail below ``fail_km``, warn below ``warn_km``
    (BSI: about 200 km recommended, never under 100 km)."""
    used = sorted({i.site for i in instances})
    if len(used) < 2:
        return CheckResult.of(
            "site_distance", [Finding("fail", "distance.single_site", {"site": used[0] if used else "-"})]
        )
    serving = sorted({i.site for i in instances if i.role in ("primary", "active")})
    findings = []
    for site in serving:
        here = sites[site]
        others = [(haversine_km(here.lat, here.lon, sites[o].lat, sites[o].lon), o) for o in used if o != site]
        km, other = max(others)
        verdict: Verdict = "fail" if km < fail_km else "warn" if km < warn_km else "pass"
        findings.append(
            Finding(
                verdict,
                "distance.pair",
                {"site": site, "other": other, "km": round(km, 1), "warn": warn_km, "fail": fail_km},
            )
        )
    return CheckResult.of("site_distance", findings)


# -- recovery point: backups and replication ---------------------------------------


def _rpo_samples(
    check: str,
    samples: Sequence[Sample],
    source: str,
    *,
    now: float,
    rpo_s: float,
    warn_pct: float,
    stale_after_s: float,
    backup: bool,
) -> CheckResult:
    if not samples:
        return CheckResult.of(check, [Finding("fail", "evidence.missing", {"source": source}, STALE_RUNBOOK)])
    findings: list[Finding] = []
    prefix = "backup" if backup else "replication"
    for s in samples:
        stale = freshness(f"{source} ({s.host})", s.ts, now=now, stale_after_s=stale_after_s)
        if stale is not None:
            findings.append(stale)
            continue
        value = now - s.value if backup else s.value
        params: dict[str, object] = {
            "host": s.host,
            "site": s.site,
            "series": s.series,
            "value": round(value, 1),
            "target": fmt_duration(rpo_s),
            "target_s": rpo_s,
        }
        params["age" if backup else "lag"] = fmt_duration(value)
        if backup and value < -300:
            findings.append(Finding("warn", "backup.future", params))
        elif value > rpo_s:
            findings.append(Finding("fail", f"{prefix}.{'too_old' if backup else 'too_high'}", params))
        elif value > rpo_s * warn_pct / 100:
            findings.append(Finding("warn", f"{prefix}.near_rpo", params))
        else:
            findings.append(Finding("pass", f"{prefix}.ok", params))
    return CheckResult.of(check, findings)


def backup_age(
    samples: Sequence[Sample], source: str, *, now: float, rpo_s: float, warn_pct: float, stale_after_s: float
) -> CheckResult:
    """Samples are last-success Unix timestamps; their age must be within the
    RPO (warn above ``warn_pct`` of it). Every matching series counts."""
    return _rpo_samples(
        "backup_age", samples, source, now=now, rpo_s=rpo_s, warn_pct=warn_pct, stale_after_s=stale_after_s, backup=True
    )


def replication_lag(
    samples: Sequence[Sample], source: str, *, now: float, rpo_s: float, warn_pct: float, stale_after_s: float
) -> CheckResult:
    """Samples are lag in seconds; must be within the RPO (warn above ``warn_pct``)."""
    return _rpo_samples(
        "replication_lag",
        samples,
        source,
        now=now,
        rpo_s=rpo_s,
        warn_pct=warn_pct,
        stale_after_s=stale_after_s,
        backup=False,
    )


# -- standby headroom --------------------------------------------------------------


def _load(state: HostState) -> tuple[float, float, float, float] | None:
    """(cores used, cores free, GiB used, GiB free), or None without figures."""
    if state.cpu_count is None or state.cpu_percent is None or not state.memory_total or state.memory_used is None:
        return None
    used = state.cpu_count * state.cpu_percent / 100
    mem_used = state.memory_used / GIB
    return used, state.cpu_count - used, mem_used, max(0.0, state.memory_total / GIB - mem_used)


def _fit(free: float, need: float, margin_pct: float) -> Verdict:
    if free >= need * (1 + margin_pct / 100):
        return "pass"
    return "warn" if free >= need else "fail"


def standby_headroom(
    instances: Sequence[Instance],
    hosts: Mapping[str, HostState],
    *,
    now: float,
    stale_after_s: float,
    margin_pct: float,
) -> CheckResult:
    """Can the standby carry the primary's *current* load with ``margin_pct`` to spare?

    Primary/standby: the busiest primary's CPU cores and memory in use must
    fit into a standby's free cores and memory (pass with the margin, warn
    without it, fail when it does not fit); the best standby decides.
    Active/active: each active's load must fit into the others' combined free
    capacity; the worst active decides. Stale figures are a failure.
    """
    loads: dict[str, tuple[float, float, float, float]] = {}
    stale: list[Finding] = []
    for inst in instances:
        state = hosts.get(inst.host)
        problem = freshness(
            _host_source(inst.host), state.report_ts if state else None, now=now, stale_after_s=stale_after_s
        )
        figures = _load(state) if state and problem is None else None
        if problem is None and figures is None:
            problem = Finding("fail", "headroom.no_data", {"host": inst.host, "site": inst.site})
        if problem is not None:
            stale.append(problem)
        elif figures is not None:
            loads[inst.host] = figures
    primaries = [i for i in instances if i.role == "primary"]
    findings: list[Finding] = []
    if primaries:
        known = [p for p in primaries if p.host in loads]
        if len(known) < len(primaries):
            return CheckResult.of("standby_headroom", stale)
        busiest_cpu = max(known, key=lambda p: loads[p.host][0])
        busiest_mem = max(known, key=lambda p: loads[p.host][2])
        per_standby: list[Verdict] = []
        for sb in (i for i in instances if i.role == "standby"):
            if sb.host not in loads:
                per_standby.append("fail")
                continue
            _, free_cpu, _, free_mem = loads[sb.host]
            need_cpu, need_mem = loads[busiest_cpu.host][0], loads[busiest_mem.host][2]
            cpu = _fit(free_cpu, need_cpu, margin_pct)
            mem = _fit(free_mem, need_mem, margin_pct)
            base = {"host": sb.host, "site": sb.site, "margin": margin_pct}
            findings.append(
                Finding(
                    cpu,
                    "headroom.cpu",
                    {**base, "free": round(free_cpu, 2), "need": round(need_cpu, 2), "primary": busiest_cpu.host},
                )
            )
            findings.append(
                Finding(
                    mem,
                    "headroom.memory",
                    {**base, "free": round(free_mem, 1), "need": round(need_mem, 1), "primary": busiest_mem.host},
                )
            )
            per_standby.append(worst((cpu, mem)))
        return CheckResult.of("standby_headroom", [*findings, *stale], best(per_standby))
    # active/active: the others must absorb each one's load
    actives = [i for i in instances if i.role == "active"]
    if stale:
        return CheckResult.of("standby_headroom", stale)
    per_active: list[Verdict] = []
    for act in actives:
        others = [o for o in actives if o is not act]
        free_cpu = sum(loads[o.host][1] for o in others)
        free_mem = sum(loads[o.host][3] for o in others)
        need_cpu, need_mem = loads[act.host][0], loads[act.host][2]
        cpu = _fit(free_cpu, need_cpu, margin_pct)
        mem = _fit(free_mem, need_mem, margin_pct)
        shared: dict[str, object] = {
            "host": "+".join(o.host for o in others),
            "site": "+".join(sorted({o.site for o in others})),
            "margin": margin_pct,
        }
        findings.append(
            Finding(
                cpu,
                "headroom.cpu",
                {**shared, "free": round(free_cpu, 2), "need": round(need_cpu, 2), "primary": act.host},
            )
        )
        findings.append(
            Finding(
                mem,
                "headroom.memory",
                {**shared, "free": round(free_mem, 1), "need": round(need_mem, 1), "primary": act.host},
            )
        )
        per_active.append(worst((cpu, mem)))
    return CheckResult.of("standby_headroom", findings, worst(per_active))


# -- power and network at each site ------------------------------------------------


def ups_runtime(
    sites: Sequence[Site],
    ups: Mapping[str, UpsState],
    *,
    now: float,
    stale_after_s: float,
    min_runtime_s: float,
) -> CheckResult:
    """Every UPS of every instance site: reachable and fresh, on mains,
    battery not low, self-test not failed, runtime at least the minimum (warn
    below 125 % of it). A site without a configured UPS fails."""
    findings: list[Finding] = []
    target = fmt_duration(min_runtime_s)
    for site in sites:
        if not site.ups:
            findings.append(Finding("fail", "ups.none", {"site": site.name}))
            continue
        for device in site.ups:
            state = ups.get(device, UpsState(device))
            base: dict[str, object] = {"device": device, "site": site.name, "target": target, "target_s": min_runtime_s}
            stale = freshness(f"USV {device}", state.ts, now=now, stale_after_s=stale_after_s)
            if stale is not None:
                findings.append(Finding("fail", stale.key, {**stale.params, **base}, STALE_RUNBOOK))
                continue
            if not state.ok:
                findings.append(Finding("fail", "device.unreachable", {**base, "error": state.error or "?"}))
                continue
            runtime = state.runtime_s
            if runtime is not None:
                base["runtime"] = fmt_duration(runtime)
                base["value"] = runtime
            problems: list[Finding] = []
            if state.on_battery:
                problems.append(Finding("fail", "ups.on_battery", base))
            if state.battery_status in ("low", "depleted"):
                problems.append(Finding("fail", "ups.battery", {**base, "status": state.battery_status}))
            if state.self_test is not None and state.self_test not in ("passed", "ok", "done"):
                problems.append(Finding("fail", "ups.self_test_failed", {**base, "result": state.self_test}))
            if runtime is None:
                problems.append(Finding("fail", "ups.runtime_unknown", base))
            elif runtime < min_runtime_s:
                problems.append(Finding("fail", "ups.runtime_low", base))
            elif runtime < min_runtime_s * UPS_WARN_FACTOR:
                problems.append(Finding("warn", "ups.runtime_near", base))
            findings.extend(problems or [Finding("pass", "ups.ok", base)])
    return CheckResult.of("ups_runtime", findings)


def uplinks(
    sites: Sequence[Site],
    switches: Mapping[str, SwitchState],
    *,
    now: float,
    stale_after_s: float,
    min_uplinks: int,
) -> CheckResult:
    """At each instance site, at least ``min_uplinks`` uplink interfaces (flagged
    ``uplink`` in the switches' readings) up: one is a warning (works, not
    redundant), none a failure. A silent or unreachable switch fails."""
    findings: list[Finding] = []
    for site in sites:
        if not site.switches:
            findings.append(Finding("fail", "uplinks.none_declared", {"site": site.name}))
            continue
        up = flagged = 0
        for device in site.switches:
            state = switches.get(device, SwitchState(device))
            stale = freshness(f"Switch {device}", state.ts, now=now, stale_after_s=stale_after_s)
            if stale is not None:
                findings.append(
                    Finding("fail", stale.key, {**stale.params, "device": device, "site": site.name}, STALE_RUNBOOK)
                )
                continue
            if not state.ok:
                findings.append(
                    Finding(
                        "fail", "device.unreachable", {"device": device, "site": site.name, "error": state.error or "?"}
                    )
                )
                continue
            for link in state.uplinks:
                flagged += 1
                if link.oper_status == "up":
                    up += 1
                else:
                    findings.append(
                        Finding(
                            "warn",
                            "uplinks.down",
                            {
                                "site": site.name,
                                "device": device,
                                "interface": link.name,
                                "status": link.oper_status or "?",
                            },
                        )
                    )
        base = {"site": site.name, "up": up, "target": min_uplinks}
        if not flagged and not any(f.verdict == "fail" and f.params.get("site") == site.name for f in findings):
            findings.append(Finding("fail", "uplinks.none_flagged", {"site": site.name}))
        elif up >= min_uplinks:
            findings.append(Finding("pass", "uplinks.ok", base))
        elif up >= 1:
            findings.append(Finding("warn", "uplinks.not_redundant", base))
        elif flagged:
            findings.append(Finding("fail", "uplinks.all_down", base))
    return CheckResult.of("uplinks", findings)


# -- failover test, certificates, DNS -----------------------------------------------


def failover_test(tests: Sequence[FailoverTest], *, today: dt.date, max_age_days: int, warn_days: int) -> CheckResult:
    """The latest recorded test must have passed and be at most ``max_age_days``
    old; within ``warn_days`` of that limit it is a warning (due soon)."""
    if not tests:
        return CheckResult.of("failover_test", [Finding("fail", "failover.never", {})])
    last = max(tests, key=lambda t: (t.date, t.recorded_at))
    age = (today - last.date).days
    params: dict[str, object] = {"date": last.date.isoformat(), "age": age, "target": max_age_days}
    if last.result != "passed":
        note = f" ({last.note})" if last.note else ""
        return CheckResult.of("failover_test", [Finding("fail", "failover.failed", {**params, "note": note})])
    if age > max_age_days:
        return CheckResult.of("failover_test", [Finding("fail", "failover.overdue", params)])
    if age > max_age_days - warn_days:
        return CheckResult.of(
            "failover_test", [Finding("warn", "failover.due_soon", {**params, "left": max_age_days - age})]
        )
    return CheckResult.of("failover_test", [Finding("pass", "failover.ok", params)])


def certificate(
    samples: Sequence[Sample], source: str, *, now: float, stale_after_s: float, warn_days: float, fail_days: float
) -> CheckResult:
    """Samples are expiry Unix timestamps (e.g. ``ssl_certificate_expiry_timestamp_seconds``)."""
    if not samples:
        return CheckResult.of("certificate", [Finding("fail", "evidence.missing", {"source": source}, STALE_RUNBOOK)])
    findings: list[Finding] = []
    for s in samples:
        stale = freshness(f"{source} ({s.host})", s.ts, now=now, stale_after_s=stale_after_s)
        if stale is not None:
            findings.append(stale)
            continue
        days = (s.value - now) / 86400
        params = {"host": s.host, "site": s.site, "series": s.series, "warn": warn_days, "fail": fail_days}
        if days < 0:
            findings.append(Finding("fail", "cert.expired", {**params, "days": round(-days, 1)}))
        elif days < fail_days:
            findings.append(Finding("fail", "cert.expiring", {**params, "days": round(days, 1)}))
        elif days < warn_days:
            findings.append(Finding("warn", "cert.expiring", {**params, "days": round(days, 1)}))
        else:
            findings.append(Finding("pass", "cert.ok", {**params, "days": round(days, 1)}))
    return CheckResult.of("certificate", findings)


def dns(samples: Sequence[Sample], source: str, *, now: float, stale_after_s: float) -> CheckResult:
    """Samples are probe results: 1 resolves as expected, anything else does not."""
    if not samples:
        return CheckResult.of("dns", [Finding("fail", "evidence.missing", {"source": source}, STALE_RUNBOOK)])
    findings: list[Finding] = []
    for s in samples:
        stale = freshness(f"{source} ({s.host})", s.ts, now=now, stale_after_s=stale_after_s)
        if stale is not None:
            findings.append(stale)
            continue
        params = {"host": s.host, "site": s.site, "series": s.series, "value": s.value}
        findings.append(Finding("pass", "dns.ok", params) if s.value == 1 else Finding("fail", "dns.failed", params))
    return CheckResult.of("dns", findings)


def evidence_fresh(sources: Iterable[tuple[str, float | None]], *, now: float, stale_after_s: float) -> CheckResult:
    """Every evidence source the application depends on has reported recently."""
    findings: list[Finding] = []
    ages: list[float] = []
    for name, ts in sources:
        problem = freshness(name, ts, now=now, stale_after_s=stale_after_s)
        if problem is not None:
            findings.append(problem)
        elif ts is not None:
            ages.append(now - ts)
    if not findings:
        oldest = max(ages, default=0.0)
        findings.append(Finding("pass", "evidence.fresh", {"count": len(ages), "age": fmt_duration(oldest)}))
    return CheckResult.of("evidence_fresh", findings)


# -- one application ---------------------------------------------------------------


def evaluate_application(app: Application, sites: Mapping[str, Site], ev: Evidence) -> Evaluation:
    """Run every check that applies to ``app``; status and score from their verdicts."""
    th = app.thresholds
    now = ev.now
    stale = th.stale_after_s
    app_sites = [sites[name] for name in app.site_names]
    results = [
        instances_healthy(
            app.instances,
            ev.hosts,
            tenant=app.tenant,
            now=now,
            stale_after_s=stale,
            overload_cpu_pct=th.overload_cpu_pct,
            overload_memory_pct=th.overload_memory_pct,
            min_healthy=app.min_healthy,
        ),
        distinct_sites(app.instances, ev.hosts, min_sites=app.min_sites),
    ]
    if app.min_sites >= 2:
        results.append(site_loss(app.instances))
        results.append(site_distance(app.instances, sites, warn_km=th.distance_warn_km, fail_km=th.distance_fail_km))
    rpo = {"now": now, "rpo_s": app.rpo_s, "warn_pct": th.warn_pct, "stale_after_s": stale}
    if app.backup is not None:
        results.append(
            _identity(backup_age(ev.samples.get("backup", ()), app.backup.describe(), **rpo), app.backup, ev)
        )
    if app.replication is not None:
        replication = replication_lag(ev.samples.get("replication", ()), app.replication.describe(), **rpo)
        results.append(_identity(replication, app.replication, ev))
    results.append(
        standby_headroom(app.instances, ev.hosts, now=now, stale_after_s=stale, margin_pct=th.headroom_margin_pct)
    )
    results.append(ups_runtime(app_sites, ev.ups, now=now, stale_after_s=stale, min_runtime_s=th.ups_min_runtime_s))
    results.append(uplinks(app_sites, ev.switches, now=now, stale_after_s=stale, min_uplinks=th.min_uplinks))
    results.append(
        failover_test(
            ev.tests, today=ev.today, max_age_days=th.failover_test_max_age_days, warn_days=th.failover_test_warn_days
        )
    )
    if app.certificate is not None:
        cert = certificate(
            ev.samples.get("certificate", ()),
            app.certificate.describe(),
            now=now,
            stale_after_s=stale,
            warn_days=th.cert_warn_days,
            fail_days=th.cert_fail_days,
        )
        results.append(_identity(cert, app.certificate, ev))
    if app.dns is not None:
        results.append(
            _identity(dns(ev.samples.get("dns", ()), app.dns.describe(), now=now, stale_after_s=stale), app.dns, ev)
        )
    results.append(evidence_fresh(_sources(app, app_sites, ev), now=now, stale_after_s=stale))
    checks = tuple(results)
    return Evaluation(app=app, now=now, status=status_of(checks), score=score_of(checks), checks=checks)


def _identity(result: CheckResult, sel: Selector, ev: Evidence) -> CheckResult:
    """A source named by a hostname that several agents claim fails with that
    as its evidence (instead of "no evidence"): whose samples count is unknown."""
    agents = ev.ambiguous.get(sel.host) if sel.host and not sel.agent else None
    if not agents:
        return result
    claimed = Finding(
        "fail", "source.ambiguous", {"host": sel.host, "agents": ", ".join(agents), "source": sel.describe()}
    )
    return CheckResult.of(result.check, [claimed, *(f for f in result.findings if f.key != "evidence.missing")])


def _sources(app: Application, sites: Sequence[Site], ev: Evidence) -> list[tuple[str, float | None]]:
    out: list[tuple[str, float | None]] = []
    for inst in app.instances:
        state = ev.hosts.get(inst.host)
        out.append((_host_source(inst.host), state.report_ts if state else None))
    for source, samples in sorted(ev.samples.items()):
        for s in samples:
            out.append((f"{source} {s.series} ({s.host})", s.ts))
    for site in sites:
        out += [(f"USV {d}", ev.ups[d].ts if d in ev.ups else None) for d in site.ups]
        out += [(f"Switch {d}", ev.switches[d].ts if d in ev.switches else None) for d in site.switches]
    return out
