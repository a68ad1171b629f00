"""Every pure readiness check: passes on good evidence, warns and fails at its
boundaries with a finding that names host, site, value and target, and fails
on missing or stale evidence."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from collector.readiness import checks
from collector.readiness.geo import haversine_km
from collector.readiness.messages import CATALOG, TITLES, fmt_duration, render
from collector.readiness.model import (
    RUNBOOKS,
    STALE_RUNBOOK,
    Application,
    CheckResult,
    Evidence,
    FailoverTest,
    Finding,
    HostState,
    Instance,
    Sample,
    Selector,
    Site,
    SwitchState,
    Thresholds,
    Uplink,
    UpsState,
    score_of,
    status_of,
)

NOW = 1_764_000_000.0
GIB = 1 << 30
STALE = 900.0

PRIMARY = Instance("db-1", "rz-nord", "primary")
STANDBY = Instance("db-2", "rz-sued", "standby")
PAIR = (PRIMARY, STANDBY)


def host(
    name: str,
    cpu: float = 20.0,
    mem_used_gib: float = 8.0,
    *,
    cores: int = 8,
    total_gib: float = 32.0,
    age: float = 30.0,
    site: str = "",
) -> HostState:
    return HostState(
        host=name,
        agent_id=f"id-{name}",
        site_reported=site,
        report_ts=NOW - age,
        cpu_count=cores,
        cpu_percent=cpu,
        memory_total=int(total_gib * GIB),
        memory_used=int(mem_used_gib * GIB),
    )


def keys(result: CheckResult) -> list[str]:
    return [f.key for f in result.findings]


def finding(result: CheckResult, key: str) -> Finding:
    return next(f for f in result.findings if f.key == key)


# -- freshness ------------------------------------------------------------------------


def test_freshness_boundary_is_inclusive_and_missing_fails() -> None:
    assert checks.freshness("Host a", NOW - STALE, now=NOW, stale_after_s=STALE) is None
    stale = checks.freshness("Host a", NOW - STALE - 1, now=NOW, stale_after_s=STALE)
    assert stale is not None and stale.verdict == "fail" and stale.key == "evidence.stale"
    assert stale.runbook == STALE_RUNBOOK and stale.params["age_s"] == 901
    missing = checks.freshness("Host a", None, now=NOW, stale_after_s=STALE)
    assert missing is not None and missing.verdict == "fail" and missing.key == "evidence.missing"


# -- instances --------------------------------------------------------------------------


def healthy(instances: tuple[Instance, ...], hosts: dict[str, HostState], min_healthy: int = 2) -> CheckResult:
    return checks.instances_healthy(
        instances,
        hosts,
        tenant="stadt-lohne",
        now=NOW,
        stale_after_s=STALE,
        overload_cpu_pct=90,
        overload_memory_pct=95,
        min_healthy=min_healthy,
    )


def test_all_instances_healthy_pass() -> None:
    result = healthy(PAIR, {"db-1": host("db-1"), "db-2": host("db-2")})
    assert result.verdict == "pass" and result.runbook is None
    assert finding(result, "instances.count").params == {"healthy": 2, "total": 2, "target": 2}


def test_overloaded_primary_at_the_limit_fails_and_names_value_and_target() -> None:
    result = healthy(PAIR, {"db-1": host("db-1", cpu=90.0), "db-2": host("db-2")})
    assert result.verdict == "fail" and result.runbook == "kritis-instance-down"
    over = finding(result, "instance.overloaded")
    assert over.params["host"] == "db-1" and over.params["site"] == "rz-nord"
    assert over.params["value"] == 90.0 and over.params["target"] == 90
    # just below the limit is healthy
    assert healthy(PAIR, {"db-1": host("db-1", cpu=89.9), "db-2": host("db-2")}).verdict == "pass"


def test_memory_overload_counts_too() -> None:
    result = healthy(PAIR, {"db-1": host("db-1", mem_used_gib=31.0), "db-2": host("db-2")})
    assert result.verdict == "fail" and finding(result, "instance.overloaded").params["what"] == "RAM"


def test_reduced_redundancy_with_a_healthy_standby_is_a_warning() -> None:
    three = (*PAIR, Instance("db-3", "rz-sued", "standby"))
    result = healthy(three, {"db-1": host("db-1"), "db-2": host("db-2"), "db-3": host("db-3", age=STALE + 1)})
    assert result.verdict == "warn"
    assert finding(result, "evidence.stale").params["host"] == "db-3"


def test_no_healthy_standby_fails_even_with_enough_instances() -> None:
    three = (PRIMARY, Instance("db-3", "rz-nord", "primary"), STANDBY)
    hosts = {"db-1": host("db-1"), "db-3": host("db-3"), "db-2": host("db-2", age=STALE + 1)}
    result = healthy(three, hosts, min_healthy=2)
    assert result.verdict == "fail" and "instances.no_standby" in keys(result)


def test_stale_or_unknown_instance_is_never_healthy() -> None:
    result = healthy(PAIR, {"db-1": host("db-1"), "db-2": host("db-2", age=STALE + 1)})
    assert result.verdict == "fail" and finding(result, "evidence.stale").runbook == STALE_RUNBOOK
    unknown = healthy(PAIR, {"db-1": host("db-1")})
    assert unknown.verdict == "fail"
    assert finding(unknown, "instance.unknown").params["tenant"] == "stadt-lohne"
    no_figures = healthy(PAIR, {"db-1": host("db-1"), "db-2": HostState("db-2", "id", report_ts=NOW)})
    assert no_figures.verdict == "fail" and "instance.no_data" in keys(no_figures)


# -- sites ------------------------------------------------------------------------------


def test_distinct_sites_boundary_and_reported_site_mismatch() -> None:
    assert checks.distinct_sites(PAIR, {}, min_sites=2).verdict == "pass"
    same = (PRIMARY, Instance("db-2", "rz-nord", "standby"))
    result = checks.distinct_sites(same, {}, min_sites=2)
    assert result.verdict == "fail" and finding(result, "sites.count").params == {
        "count": 1,
        "sites": "rz-nord",
        "target": 2,
    }
    mismatch = checks.distinct_sites(PAIR, {"db-2": host("db-2", site="rathaus")}, min_sites=2)
    assert mismatch.verdict == "warn"
    assert finding(mismatch, "sites.mismatch").params == {"host": "db-2", "site": "rz-sued", "reported": "rathaus"}


def test_a_site_holding_every_instance_fails() -> None:
    same = (PRIMARY, Instance("db-2", "rz-nord", "standby"))
    result = checks.site_loss(same)
    assert result.verdict == "fail" and finding(result, "sites.single").params == {"site": "rz-nord", "count": 2}
    assert result.runbook == "kritis-single-site"
    assert checks.site_loss(PAIR).verdict == "pass"


def test_haversine_matches_known_distances() -> None:
    assert haversine_km(52.52, 13.405, 52.52, 13.405) == 0
    # Berlin - Munich about 504 km, Hamburg - Frankfurt about 393 km (great circle)
    assert haversine_km(52.5200, 13.4050, 48.1351, 11.5820) == pytest.approx(504, abs=2)
    assert haversine_km(53.5511, 9.9937, 50.1109, 8.6821) == pytest.approx(393, abs=2)
    # one degree of latitude: about 111.2 km
    assert haversine_km(50.0, 8.0, 51.0, 8.0) == pytest.approx(111.19, abs=0.05)


def sites_at(km: float) -> dict[str, Site]:
    # points on one meridian, `km` apart
    return {"rz-nord": Site("rz-nord", 50.0 + km / 111.195, 8.0), "rz-sued": Site("rz-sued", 50.0, 8.0)}


@pytest.mark.parametrize(
    ("km", "verdict"), [(250, "pass"), (200.5, "pass"), (199.5, "warn"), (100.5, "warn"), (99.5, "fail"), (3, "fail")]
)
def test_site_distance_warns_below_200_and_fails_below_100_km(km: float, verdict: str) -> None:
    result = checks.site_distance(PAIR, sites_at(km), warn_km=200, fail_km=100)
    assert result.verdict == verdict
    pair = finding(result, "distance.pair")
    assert pair.params["site"] == "rz-nord" and pair.params["other"] == "rz-sued"
    assert pair.params["km"] == pytest.approx(km, abs=0.2) and pair.params["warn"] == 200


def test_site_distance_with_one_site_fails() -> None:
    same = (PRIMARY, Instance("db-2", "rz-nord", "standby"))
    result = checks.site_distance(same, sites_at(300), warn_km=200, fail_km=100)
    assert result.verdict == "fail" and keys(result) == ["distance.single_site"]


def test_site_distance_takes_the_farthest_alternate() -> None:
    sites = {**sites_at(5), "rz-fern": Site("rz-fern", 50.0 - 300 / 111.195, 8.0)}
    three = (*PAIR, Instance("db-3", "rz-fern", "standby"))
    result = checks.site_distance(three, sites, warn_km=200, fail_km=100)
    assert result.verdict == "pass" and finding(result, "distance.pair").params["other"] == "rz-fern"


# -- backups and replication -----------------------------------------------------------


def sample(value: float, age: float = 30.0, host_: str = "backup-1") -> Sample:
    return Sample(host=host_, site="rz-nord", series='backup_ok{job="emw"}', value=value, ts=NOW - age)


def backup(samples: list[Sample], rpo_s: float = 86400) -> CheckResult:
    return checks.backup_age(samples, "backup_ok", now=NOW, rpo_s=rpo_s, warn_pct=80, stale_after_s=STALE)


@pytest.mark.parametrize(
    ("age", "verdict", "key"),
    [
        (3600, "pass", "backup.ok"),
        (0.8 * 86400, "pass", "backup.ok"),
        (0.8 * 86400 + 1, "warn", "backup.near_rpo"),
        (86400, "warn", "backup.near_rpo"),
        (86401, "fail", "backup.too_old"),
        (3 * 86400, "fail", "backup.too_old"),
    ],
)
def test_backup_age_against_rpo(age: float, verdict: str, key: str) -> None:
    result = backup([sample(NOW - age)])
    assert result.verdict == verdict and keys(result) == [key]
    params = result.findings[0].params
    assert params["host"] == "backup-1" and params["site"] == "rz-nord"
    assert params["value"] == pytest.approx(age, abs=0.1) and params["target"] == "24 h" and params["target_s"] == 86400
    if verdict == "fail":
        assert result.runbook == "kritis-backup-too-old"


def test_backup_evidence_missing_or_stale_fails_even_when_the_backup_is_recent() -> None:
    missing = backup([])
    assert missing.verdict == "fail" and keys(missing) == ["evidence.missing"] and missing.runbook == STALE_RUNBOOK
    stale = backup([sample(NOW - 60, age=STALE + 1)])
    assert stale.verdict == "fail" and keys(stale) == ["evidence.stale"]


def test_the_worst_backup_series_decides() -> None:
    result = backup([sample(NOW - 60), sample(NOW - 2 * 86400, host_="backup-2")])
    assert result.verdict == "fail" and finding(result, "backup.too_old").params["host"] == "backup-2"


def test_backup_stamped_in_the_future_is_a_warning() -> None:
    assert backup([sample(NOW + 3600)]).verdict == "warn"


@pytest.mark.parametrize(("lag", "verdict"), [(0, "pass"), (240, "pass"), (241, "warn"), (300, "warn"), (301, "fail")])
def test_replication_lag_against_rpo(lag: float, verdict: str) -> None:
    result = checks.replication_lag([sample(lag)], "lag", now=NOW, rpo_s=300, warn_pct=80, stale_after_s=STALE)
    assert result.verdict == verdict
    assert result.findings[0].params["value"] == lag and result.findings[0].params["target"] == "5 min"
    assert checks.replication_lag([], "lag", now=NOW, rpo_s=300, warn_pct=80, stale_after_s=STALE).verdict == "fail"
    stale = checks.replication_lag(
        [sample(0, age=STALE + 1)], "lag", now=NOW, rpo_s=300, warn_pct=80, stale_after_s=STALE
    )
    assert stale.verdict == "fail"


# -- standby headroom -----------------------------------------------------------------------


def headroom(
    primary: HostState, standby: HostState, margin: float = 20, instances: tuple[Instance, ...] = PAIR
) -> CheckResult:
    return checks.standby_headroom(
        instances, {"db-1": primary, "db-2": standby}, now=NOW, stale_after_s=STALE, margin_pct=margin
    )


def test_headroom_passes_with_margin_warns_without_and_fails_when_it_does_not_fit() -> None:
    standby = host("db-2", cpu=50.0, mem_used_gib=16.0)  # 4 cores and 16 GiB free
    # primary uses 8 x 40 % = 3.2 cores: 3.2 x 1.2 = 3.84 <= 4 -> pass
    assert headroom(host("db-1", cpu=40.0), standby).verdict == "pass"
    # 8 x 45 % = 3.6 cores: fits, but not with the 20 % margin -> warn
    warn = headroom(host("db-1", cpu=45.0), standby)
    assert warn.verdict == "warn"
    cpu = finding(warn, "headroom.cpu")
    assert cpu.params == {"host": "db-2", "site": "rz-sued", "margin": 20, "free": 4.0, "need": 3.6, "primary": "db-1"}
    # 8 x 60 % = 4.8 cores: does not fit -> fail
    fail = headroom(host("db-1", cpu=60.0), standby)
    assert fail.verdict == "fail" and fail.runbook == "kritis-standby-headroom"


def test_headroom_checks_memory_too() -> None:
    standby = host("db-2", cpu=10.0, mem_used_gib=24.0)  # 8 GiB free
    assert headroom(host("db-1", mem_used_gib=6.0), standby).verdict == "pass"
    result = headroom(host("db-1", mem_used_gib=10.0), standby)
    assert result.verdict == "fail"
    mem = finding(result, "headroom.memory")
    assert mem.verdict == "fail" and mem.params["free"] == 8.0 and mem.params["need"] == 10.0


def test_headroom_zero_margin_boundary() -> None:
    standby = host("db-2", cpu=50.0)
    assert headroom(host("db-1", cpu=50.0), standby, margin=0).verdict == "pass"


def test_headroom_with_stale_figures_fails() -> None:
    result = headroom(host("db-1"), host("db-2", age=STALE + 1))
    assert result.verdict == "fail" and "evidence.stale" in keys(result)
    result = headroom(host("db-1", age=STALE + 1), host("db-2"))
    assert result.verdict == "fail" and keys(result) == ["evidence.stale"]


def test_best_standby_decides() -> None:
    three = (*PAIR, Instance("db-3", "rz-sued", "standby"))
    hosts = {"db-1": host("db-1", cpu=40.0), "db-2": host("db-2", cpu=95.0), "db-3": host("db-3", cpu=10.0)}
    result = checks.standby_headroom(three, hosts, now=NOW, stale_after_s=STALE, margin_pct=20)
    assert result.verdict == "pass"


def test_active_active_needs_the_others_to_absorb_each_load() -> None:
    actives = (Instance("web-1", "rz-nord", "active"), Instance("web-2", "rz-sued", "active"))
    ok = {"web-1": host("web-1", cpu=30.0), "web-2": host("web-2", cpu=30.0)}
    assert checks.standby_headroom(actives, ok, now=NOW, stale_after_s=STALE, margin_pct=20).verdict == "pass"
    busy = {"web-1": host("web-1", cpu=60.0), "web-2": host("web-2", cpu=60.0)}
    result = checks.standby_headroom(actives, busy, now=NOW, stale_after_s=STALE, margin_pct=20)
    assert result.verdict == "fail"


# -- UPS ------------------------------------------------------------------------------------

SITE_N = Site("rz-nord", 53.0, 8.0, ups=("usv-n",), switches=("sw-n",))


def ups(state: UpsState, min_runtime: float = 900) -> CheckResult:
    return checks.ups_runtime([SITE_N], {"usv-n": state}, now=NOW, stale_after_s=STALE, min_runtime_s=min_runtime)


def good_ups(**over: object) -> UpsState:
    base = UpsState("usv-n", ts=NOW - 30, on_battery=False, battery_status="normal", runtime_s=1800, charge_pct=100)
    return dataclasses.replace(base, **over)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("runtime", "verdict", "key"),
    [
        (1800, "pass", "ups.ok"),
        (1125, "pass", "ups.ok"),
        (1124, "warn", "ups.runtime_near"),
        (900, "warn", "ups.runtime_near"),
        (899, "fail", "ups.runtime_low"),
    ],
)
def test_ups_runtime_boundaries(runtime: float, verdict: str, key: str) -> None:
    result = ups(good_ups(runtime_s=runtime))
    assert result.verdict == verdict and keys(result) == [key]
    params = result.findings[0].params
    assert params["device"] == "usv-n" and params["site"] == "rz-nord"
    assert params["value"] == runtime and params["target"] == "15 min"


def test_ups_on_battery_low_battery_failed_self_test_and_unknown_runtime_fail() -> None:
    assert keys(ups(good_ups(on_battery=True))) == ["ups.on_battery"]
    assert ups(good_ups(on_battery=True)).verdict == "fail"
    assert ups(good_ups(battery_status="low")).verdict == "fail"
    assert ups(good_ups(self_test="failed")).verdict == "fail"
    assert ups(good_ups(self_test="passed")).verdict == "pass"
    assert keys(ups(good_ups(runtime_s=None))) == ["ups.runtime_unknown"]


def test_ups_stale_unreachable_missing_or_undeclared_fails() -> None:
    stale = ups(good_ups(ts=NOW - STALE - 1))
    assert stale.verdict == "fail" and keys(stale) == ["evidence.stale"] and stale.runbook == STALE_RUNBOOK
    assert finding(stale, "evidence.stale").params["site"] == "rz-nord"
    down = ups(good_ups(ok=False, error="no response (timeout)"))
    assert down.verdict == "fail" and finding(down, "device.unreachable").params["error"] == "no response (timeout)"
    never = checks.ups_runtime([SITE_N], {}, now=NOW, stale_after_s=STALE, min_runtime_s=900)
    assert never.verdict == "fail" and keys(never) == ["evidence.missing"]
    bare = checks.ups_runtime([Site("rz-x", 0, 0)], {}, now=NOW, stale_after_s=STALE, min_runtime_s=900)
    assert bare.verdict == "fail" and keys(bare) == ["ups.none"] and bare.runbook == "kritis-ups-runtime"


# -- uplinks ----------------------------------------------------------------------------------


def links(*statuses: str | None, ts: float = NOW - 30, ok: bool = True) -> CheckResult:
    state = SwitchState(
        "sw-n", ts=ts, ok=ok, uplinks=tuple(Uplink(f"Gi1/0/{49 + n}", s) for n, s in enumerate(statuses))
    )
    return checks.uplinks([SITE_N], {"sw-n": state}, now=NOW, stale_after_s=STALE, min_uplinks=2)


def test_uplinks_redundant_and_up_pass() -> None:
    result = links("up", "up")
    assert result.verdict == "pass" and finding(result, "uplinks.ok").params == {
        "site": "rz-nord",
        "up": 2,
        "target": 2,
    }


def test_one_uplink_down_is_a_warning_naming_it() -> None:
    result = links("up", "down")
    assert result.verdict == "warn" and result.runbook == "kritis-uplink-redundancy"
    down = finding(result, "uplinks.down")
    assert down.params == {"site": "rz-nord", "device": "sw-n", "interface": "Gi1/0/50", "status": "down"}
    assert links("up").verdict == "warn"  # a single uplink is not redundant


def test_all_uplinks_down_none_flagged_stale_or_unreachable_fail() -> None:
    assert links("down", "lowerLayerDown").verdict == "fail"
    assert keys(links()) == ["uplinks.none_flagged"]
    stale = links("up", "up", ts=NOW - STALE - 1)
    assert stale.verdict == "fail" and "evidence.stale" in keys(stale) and "uplinks.none_flagged" not in keys(stale)
    assert links("up", "up", ok=False).verdict == "fail"
    bare = checks.uplinks([Site("rz-x", 0, 0)], {}, now=NOW, stale_after_s=STALE, min_uplinks=2)
    assert keys(bare) == ["uplinks.none_declared"]


# -- failover test ------------------------------------------------------------------------------

TODAY = dt.date(2026, 6, 30)


def failover(*tests: FailoverTest) -> CheckResult:
    return checks.failover_test(tests, today=TODAY, max_age_days=365, warn_days=30)


@pytest.mark.parametrize(
    ("days", "verdict", "key"),
    [
        (10, "pass", "failover.ok"),
        (335, "pass", "failover.ok"),
        (336, "warn", "failover.due_soon"),
        (365, "warn", "failover.due_soon"),
        (366, "fail", "failover.overdue"),
    ],
)
def test_failover_test_age(days: int, verdict: str, key: str) -> None:
    result = failover(FailoverTest(TODAY - dt.timedelta(days=days), "passed"))
    assert result.verdict == verdict and keys(result) == [key]
    assert result.findings[0].params["age"] == days and result.findings[0].params["target"] == 365


def test_failover_never_tested_or_last_test_failed_fails() -> None:
    assert failover().verdict == "fail" and keys(failover()) == ["failover.never"]
    result = failover(
        FailoverTest(TODAY - dt.timedelta(days=100), "passed"),
        FailoverTest(TODAY - dt.timedelta(days=5), "failed", note="Replikat startete nicht"),
    )
    assert result.verdict == "fail" and result.runbook == "kritis-failover-test-overdue"
    assert "Replikat startete nicht" in str(finding(result, "failover.failed").params["note"])
    # a later passed test clears it
    again = failover(FailoverTest(TODAY - dt.timedelta(days=5), "failed"), FailoverTest(TODAY, "passed"))
    assert again.verdict == "pass"


# -- certificate and DNS ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "verdict", "key"),
    [
        (90, "pass", "cert.ok"),
        (30, "pass", "cert.ok"),
        (29, "warn", "cert.expiring"),
        (7, "warn", "cert.expiring"),
        (6.9, "fail", "cert.expiring"),
        (-1, "fail", "cert.expired"),
    ],
)
def test_certificate_expiry(days: float, verdict: str, key: str) -> None:
    result = checks.certificate(
        [sample(NOW + days * 86400)], "cert", now=NOW, stale_after_s=STALE, warn_days=30, fail_days=7
    )
    assert result.verdict == verdict and keys(result) == [key]
    assert checks.certificate([], "cert", now=NOW, stale_after_s=STALE, warn_days=30, fail_days=7).verdict == "fail"


def test_dns_probe() -> None:
    assert checks.dns([sample(1)], "dns", now=NOW, stale_after_s=STALE).verdict == "pass"
    failed = checks.dns([sample(0)], "dns", now=NOW, stale_after_s=STALE)
    assert failed.verdict == "fail" and failed.runbook == "kritis-dns"
    assert checks.dns([sample(1, age=STALE + 1)], "dns", now=NOW, stale_after_s=STALE).verdict == "fail"
    assert checks.dns([], "dns", now=NOW, stale_after_s=STALE).verdict == "fail"


def test_evidence_fresh_lists_every_stale_source() -> None:
    ok = checks.evidence_fresh([("a", NOW - 10), ("b", NOW - 600)], now=NOW, stale_after_s=STALE)
    assert ok.verdict == "pass" and ok.findings[0].params == {"count": 2, "age": "10 min"}
    bad = checks.evidence_fresh([("a", NOW - 10), ("b", None), ("c", NOW - 1000)], now=NOW, stale_after_s=STALE)
    assert bad.verdict == "fail" and [f.params["source"] for f in bad.findings] == ["b", "c"]


# -- one application, status and score -------------------------------------------------------------


def application(**over: object) -> Application:
    app = Application(
        name="emw",
        tenant="stadt-lohne",
        criticality="kritis",
        rpo_s=86400,
        rto_s=4 * 3600,
        instances=PAIR,
        backup=Selector("backup_ok", (("job", "emw"),)),
        thresholds=Thresholds(),
    )
    return dataclasses.replace(app, **over)  # type: ignore[arg-type]


def good_evidence() -> Evidence:
    sites = {
        "usv-n": good_ups(),
        "usv-s": dataclasses.replace(good_ups(), device="usv-s"),
    }
    up = (Uplink("a", "up"), Uplink("b", "up"))
    return Evidence(
        now=NOW,
        hosts={"db-1": host("db-1", cpu=20.0), "db-2": host("db-2", cpu=10.0)},
        samples={"backup": (sample(NOW - 3600),)},
        ups=sites,
        switches={"sw-n": SwitchState("sw-n", NOW - 30, uplinks=up), "sw-s": SwitchState("sw-s", NOW - 30, uplinks=up)},
        tests=(FailoverTest(TODAY - dt.timedelta(days=30), "passed"),),
        today=TODAY,
    )


SITES = {
    "rz-nord": Site("rz-nord", 53.14, 8.21, ups=("usv-n",), switches=("sw-n",)),  # Oldenburg
    "rz-sued": Site("rz-sued", 51.34, 12.37, ups=("usv-s",), switches=("sw-s",)),  # Leipzig
}


def test_an_application_with_good_evidence_is_ready() -> None:
    ev = checks.evaluate_application(application(), SITES, good_evidence())
    assert ev.status == "ready" and ev.score == 100 and ev.failed == [] and ev.warned == []
    assert [c.check for c in ev.checks] == [
        "instances_healthy",
        "distinct_sites",
        "site_loss",
        "site_distance",
        "backup_age",
        "standby_headroom",
        "ups_runtime",
        "uplinks",
        "failover_test",
        "evidence_fresh",
    ]


def test_one_warning_degrades_one_failure_makes_not_ready() -> None:
    ev = good_evidence()
    degraded = checks.evaluate_application(
        application(), SITES, dataclasses.replace(ev, samples={"backup": (sample(NOW - 80000),)})
    )
    assert degraded.status == "degraded" and degraded.warned == ["backup_age"] and degraded.score == 95
    broken = checks.evaluate_application(application(), SITES, dataclasses.replace(ev, samples={}))
    assert broken.status == "not_ready" and broken.failed == ["backup_age"]


def test_single_site_application_skips_the_geo_checks() -> None:
    app = application(min_sites=1, instances=(PRIMARY, Instance("db-2", "rz-nord", "standby")))
    ev = checks.evaluate_application(app, SITES, good_evidence())
    assert "site_distance" not in [c.check for c in ev.checks] and "site_loss" not in [c.check for c in ev.checks]


def test_status_and_score() -> None:
    ok = CheckResult.of("dns", [Finding("pass", "dns.ok")])
    warn = CheckResult.of("dns", [Finding("warn", "dns.ok")])
    fail = CheckResult.of("dns", [Finding("fail", "dns.ok")])
    assert status_of([ok, ok]) == "ready" and score_of([ok, ok]) == 100
    assert status_of([ok, warn]) == "degraded" and score_of([ok, warn]) == 75
    assert status_of([ok, warn, fail]) == "not_ready" and score_of([ok, warn, fail]) == 50
    assert score_of([]) == 0


# -- catalog -----------------------------------------------------------------------------------------


def test_every_check_has_titles_and_a_runbook_and_every_key_renders_in_both_languages() -> None:
    assert set(TITLES) == set(RUNBOOKS)
    for key in CATALOG:
        for lang in ("de", "en"):
            text = render(Finding("fail", key, {"host": "db-1", "site": "rz-nord"}), lang)
            assert text and "{" not in text.replace("{job", "")
    text = render(finding(backup([sample(NOW - 2 * 86400)]), "backup.too_old"), "de")
    assert text == 'Sicherung backup_ok{job="emw"} auf backup-1 (Standort rz-nord) ist 2 d alt, RPO 24 h'
    assert render(finding(backup([sample(NOW - 2 * 86400)]), "backup.too_old"), "en").startswith("backup ")


@pytest.mark.parametrize(
    ("s", "text"),
    [(45, "45 s"), (600, "10 min"), (93900, "26 h 5 min"), (7200, "2 h"), (3 * 86400 + 4 * 3600, "3 d 4 h")],
)
def test_fmt_duration(s: float, text: str) -> None:
    assert fmt_duration(s) == text
