"""Start-up grace (collector/readiness/grace.py): right after a collector starts, failing
checks that wait for agent reports are pending and raise no alert, for stale_after_s;
checks about configuration and records never wait. The pure rule, every case; then the
alert source over a real database, as `leitstand demo` starts it: before any agent has
reported, `kritis_not_ready` must not fire."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from pathlib import Path

import pytest

from collector import demo
from collector.alerting.gather import readiness_source
from collector.config import load_config
from collector.db import connect, migrate
from collector.readiness.config import settings as readiness_settings
from collector.readiness.evaluate import evaluate, record_failover_test, record_transitions
from collector.readiness.grace import LIVE_EVIDENCE, with_startup_grace
from collector.readiness.model import (
    RUNBOOKS,
    Application,
    CheckResult,
    Evaluation,
    Finding,
    Instance,
    Thresholds,
    status_of,
)

START = 1_764_000_000.0
STALE = 900.0
APP = Application(
    name="emw",
    tenant="stadt-lohne",
    criticality="kritis",
    rpo_s=3600,
    rto_s=3600,
    instances=(Instance("db-1", "rz-a", "primary"), Instance("db-2", "rz-b", "standby")),
    thresholds=Thresholds(stale_after_s=STALE),
)
CHECKS = sorted(RUNBOOKS)
VERDICTS = ("pass", "warn", "fail")
#: seconds after the start, and whether the grace holds then
OFFSETS = ((-1.0, False), (0.0, True), (STALE / 2, True), (STALE - 0.001, True), (STALE, False), (STALE + 1, False))


def _evaluation(now: float, verdicts: dict[str, str]) -> Evaluation:
    checks = tuple(
        CheckResult.of(check, [Finding(verdict, "evidence.missing", {"source": check})])  # type: ignore[arg-type]
        for check, verdict in verdicts.items()
    )
    return Evaluation(app=APP, now=now, status=status_of(checks), score=0, checks=checks)


def test_the_live_evidence_checks_are_checks() -> None:
    assert set(LIVE_EVIDENCE) <= set(RUNBOOKS)
    assert {"failover_test", "site_distance", "site_loss"}.isdisjoint(LIVE_EVIDENCE)


@pytest.mark.parametrize(("offset", "in_grace"), OFFSETS)
@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("verdict", VERDICTS)
def test_only_a_failing_live_check_waits_and_only_in_the_grace(
    offset: float, in_grace: bool, check: str, verdict: str
) -> None:
    ev = _evaluation(START + offset, {check: verdict})
    graced = with_startup_grace(ev, START)
    waits = in_grace and verdict == "fail" and check in LIVE_EVIDENCE
    assert graced.pending == ((check,) if waits else ())
    assert graced.pending_until == (START + STALE if waits else None)
    # the status stays what the evidence says; only what alerts act on changes
    assert graced.status == ev.status
    assert graced.alert_status == ("ready" if waits else ev.status)


@pytest.mark.parametrize(("offset", "_in_grace"), OFFSETS)
def test_without_a_known_start_nothing_waits(offset: float, _in_grace: bool) -> None:
    ev = _evaluation(START + offset, dict.fromkeys(CHECKS, "fail"))
    assert with_startup_grace(ev, None) is ev


@pytest.mark.parametrize(("live", "other"), itertools.product(VERDICTS, VERDICTS))
def test_a_record_check_still_decides_during_the_grace(live: str, other: str) -> None:
    ev = _evaluation(START + 1, {"instances_healthy": live, "failover_test": other})
    graced = with_startup_grace(ev, START)
    assert graced.alert_status == status_of(
        c for c in ev.checks if not (c.check == "instances_healthy" and c.verdict == "fail")
    )


def test_a_longer_stale_after_gives_a_longer_grace() -> None:
    app = dataclasses.replace(APP, thresholds=Thresholds(stale_after_s=3 * STALE))
    ev = dataclasses.replace(_evaluation(START + 2 * STALE, {"uplinks": "fail"}), app=app)
    assert with_startup_grace(ev, START).pending == ("uplinks",)


def test_no_kritis_alert_before_the_agents_reported(tmp_path: Path) -> None:
    """The demo's config and database, no agent reported yet (as at `leitstand demo` start)."""
    config = load_config(demo.write_fleet_config(tmp_path))
    settings = readiness_settings(config.readiness)
    conn = connect(tmp_path / "collector.db")
    try:
        migrate(conn)
        for app in settings.applications:  # tested, as the demo records: the only non-live evidence
            record_failover_test(conn, settings, app.name, date=dt.date(2026, 11, 1), result="passed",
                                 note="", actor="test", now=START)  # fmt: skip
        source = readiness_source(config.readiness)
        stale = min(a.thresholds.stale_after_s for a in settings.applications)
        first = source(conn, START)  # the first evaluation: the collector's start
        assert {s.app: (s.status, s.failed) for s in first} == {a.name: ("ready", ()) for a in settings.applications}
        # the truth is still told, and the history waits for the evidence
        evaluations = evaluate(conn, settings, START + 1, started_at=START)
        assert {ev.status for ev in evaluations} == {"not_ready"}
        assert all("instances_healthy" in ev.pending for ev in evaluations)
        assert record_transitions(conn, evaluations) == 0
        # the grace ends: still no reports, now that is a finding that pages
        after = source(conn, START + stale)
        assert {s.status for s in after} == {"not_ready"}
        assert all(any(c[0] == "instances_healthy" for c in s.failed) for s in after)
    finally:
        conn.close()
