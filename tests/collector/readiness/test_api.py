"""Readiness end to end through the real app: agents post reports with textfile
samples (backup timestamps, replication lag) and SNMP readings (UPS, switch
uplinks); /api/v1/readiness answers from them, live; tenants see only their
own applications; transitions become history."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from collector import admin
from collector.cli import main
from collector.config import load_config
from collector.readiness import api as readiness_api
from tests.collector.conftest import Env, auth, batch, report

GIB = 1 << 30

CONFIG = """\
[readiness]
stale_after_s = 600

[readiness.sites.rz-nord]
lat = 53.14
lon = 8.21
ups = ["usv-n"]
switches = ["sw-n"]

[readiness.sites.rz-sued]
lat = 51.34
lon = 12.37
ups = ["usv-s"]
switches = ["sw-s"]

[[readiness.applications]]
name = "emw"
tenant = "stadt-lohne"
criticality = "kritis"
rpo = "24h"
rto = "4h"
instances = [
  {host = "emw-db-1", site = "rz-nord", role = "primary"},
  {host = "emw-db-2", site = "rz-sued", role = "standby"},
]
backup = {metric = "backup_last_success_timestamp_seconds", labels = {job = "emw"}}
replication = {metric = "pg_replication_lag_seconds", host = "emw-db-2"}

[[readiness.applications]]
name = "portal-b"
tenant = "stadt-b"
criticality = "standard"
rpo = "1d"
rto = "1d"
min_sites = 1
min_healthy = 1
instances = [
  {host = "b-web-1", site = "rz-nord", role = "active"},
  {host = "b-web-2", site = "rz-nord", role = "active"},
]
"""


class Fleet:
    """Agents of the scenario, each with its own token and seq."""

    def __init__(self, env: Env, config_path: Path) -> None:
        self.env = env
        self.config_path = config_path
        self.tokens: dict[str, str] = {}
        self.seq: dict[str, int] = {}
        self.cpu: dict[str, float] = {"emw-db-1": 25.0, "emw-db-2": 5.0}
        self.backup_age = 3600.0
        self.lag = 30.0
        self.on_battery = False
        self.uplink_n2 = "up"
        #: agent ids where they differ from the hostname (real agents use generated ids)
        self.ids: dict[str, str] = {}

    async def enroll(self, tenant: str, *agents: str) -> None:
        enroll = self.env.tenant(tenant)
        for agent in agents:
            self.tokens[agent] = await self.env.enroll(enroll, self.ids.get(agent, agent), agent)

    async def post(self, agent: str, site: str, **over: Any) -> None:
        self.seq[agent] = self.seq.get(agent, 0) + 1
        now = self.env.clock.now
        body = report(
            self.seq[agent],
            now,
            cpu={"count": 8, "percent": self.cpu.get(agent, 10.0), "busy_seconds_total": 1000.0 + self.seq[agent]},
            memory={"total_bytes": 32 * GIB, "used_bytes": 8 * GIB},
            **over,
        )
        r = await self.env.post(
            self.tokens[agent], batch(self.ids.get(agent, agent), [body], hostname=agent, site=site)
        )
        assert r.status_code == 200, r.text

    async def report_all(self) -> None:
        now = self.env.clock.now
        backup = {
            "name": "backup_last_success_timestamp_seconds",
            "labels": {"job": "emw"},
            "value": now - self.backup_age,
        }
        await self.post("emw-db-1", "rz-nord", textfile=[backup])
        lag = {"name": "pg_replication_lag_seconds", "labels": {}, "value": self.lag}
        await self.post("emw-db-2", "rz-sued", textfile=[lag])
        await self.post("poller", "rz-nord", snmp=[*self._ups(now), *self._switches(now)])

    def _ups(self, now: float) -> list[dict[str, Any]]:
        out = []
        for device in ("usv-n", "usv-s"):
            on_battery = self.on_battery and device == "usv-n"
            ups = {
                "source": "ups-mib",
                "on_battery": on_battery,
                "battery_status": "normal",
                "runtime_s": 600.0 if on_battery else 2400.0,
                "charge_pct": 100,
            }
            out.append({"device": device, "kind": "ups", "ts": now, "ups": ups})
        return out

    def _switches(self, now: float) -> list[dict[str, Any]]:
        out = []
        for device in ("sw-n", "sw-s"):
            second = self.uplink_n2 if device == "sw-n" else "up"
            interfaces = [
                {"index": 49, "name": "Gi1/0/49", "oper_status": "up", "uplink": True},
                {"index": 50, "name": "Gi1/0/50", "oper_status": second, "uplink": True},
                {"index": 1, "name": "Gi1/0/1", "oper_status": "down"},  # an access port: not an uplink
            ]
            out.append({"device": device, "kind": "switch", "ts": now, "interfaces": interfaces})
        return out

    def record_test(self, result: str = "passed", date: str = "2025-11-01") -> int:
        argv = ["readiness", "record-test", "--app", "emw", "--date", date, "--result", result]
        return main([*argv, "--db", str(self.env.db_path), "--config", str(self.config_path)])

    async def readiness(self, path: str = "", token: str | None = None, **params: str) -> Any:
        r = await self.env.client.get(
            f"/api/v1/readiness{path}", params=params, headers=auth(token or self.env.admin_token)
        )
        assert r.status_code == 200, r.text
        return r.json()


@pytest_asyncio.fixture
async def fleet(make_env: Callable[..., Env], tmp_path: Path) -> AsyncIterator[Fleet]:
    config_path = tmp_path / "collector.toml"
    config_path.write_text(CONFIG)
    env = make_env(load_config(config_path))
    f = Fleet(env, config_path)
    await f.enroll("stadt-lohne", "emw-db-1", "emw-db-2", "poller")
    await f.enroll("stadt-b", "b-web-1", "b-web-2")
    yield f
    await env.client.aclose()


def check(detail: dict[str, Any], check_id: str) -> dict[str, Any]:
    return next(c for c in detail["checks"] if c["id"] == check_id)


async def test_good_evidence_and_a_recorded_test_make_the_application_ready(fleet: Fleet) -> None:
    await fleet.report_all()
    detail = await fleet.readiness("/emw")
    # everything but the failover test is proven
    assert detail["status"] == "not_ready" and detail["failed"] == ["failover_test"]
    assert check(detail, "failover_test")["runbook"] == "kritis-failover-test-overdue"
    assert check(detail, "backup_age")["verdict"] == "pass"
    assert check(detail, "replication_lag")["evidence"][0]["params"]["host"] == "emw-db-2"
    assert check(detail, "site_distance")["evidence"][0]["params"]["km"] == pytest.approx(347, abs=5)
    assert check(detail, "uplinks")["verdict"] == "pass"

    assert fleet.record_test() == 0
    fleet.env.clock.now += 60
    await fleet.report_all()
    detail = await fleet.readiness("/emw")
    assert detail["status"] == "ready" and detail["score"] == 100 and detail["failed"] == []
    assert [t["date"] for t in detail["failover_tests"]] == ["2025-11-01"]
    assert [h["status"] for h in detail["history"]] == ["not_ready", "ready"]
    assert detail["since"] == fleet.env.clock.now and detail["targets"]["rpo_s"] == 86400
    # the recording is audited
    conn = fleet.env.db()
    try:
        (entry,) = [a for a in admin.list_audit(conn) if a["action"] == "readiness.record_test"]
    finally:
        conn.close()
    assert entry["target"] == "emw" and '"result": "passed"' in str(entry["detail"])


async def test_standby_headroom_follows_the_primarys_live_load(fleet: Fleet) -> None:
    assert fleet.record_test() == 0
    await fleet.report_all()
    assert check(await fleet.readiness("/emw"), "standby_headroom")["verdict"] == "pass"
    # primary at 8 x 85 % = 6.8 cores; the standby has 8 x 95 % = 7.6 free: fits, not with 20 % margin
    fleet.cpu["emw-db-1"] = 85.0
    fleet.env.clock.now += 60
    await fleet.report_all()
    detail = await fleet.readiness("/emw")
    headroom = check(detail, "standby_headroom")
    assert headroom["verdict"] == "warn" and detail["status"] == "degraded"
    cpu = next(e for e in headroom["evidence"] if e["key"] == "headroom.cpu")
    assert cpu["params"]["need"] == 6.8 and cpu["params"]["free"] == 7.6 and cpu["params"]["host"] == "emw-db-2"
    assert "emw-db-2" in cpu["text"] and "Kerne" in cpu["text"]
    # the standby gets busy too: the failover would no longer carry the load
    fleet.cpu["emw-db-2"] = 40.0
    fleet.env.clock.now += 60
    await fleet.report_all()
    detail = await fleet.readiness("/emw")
    assert check(detail, "standby_headroom")["verdict"] == "fail" and detail["status"] == "not_ready"
    assert [h["status"] for h in detail["history"]][-3:] == ["ready", "degraded", "not_ready"]


async def test_ups_on_battery_and_a_lost_uplink_are_named(fleet: Fleet) -> None:
    assert fleet.record_test() == 0
    fleet.on_battery = True
    fleet.uplink_n2 = "down"
    await fleet.report_all()
    detail = await fleet.readiness("/emw", lang="en")
    ups = check(detail, "ups_runtime")
    assert ups["verdict"] == "fail" and ups["runbook"] == "kritis-ups-runtime"
    bad = [e for e in ups["evidence"] if e["verdict"] == "fail"]
    assert {e["key"] for e in bad} == {"ups.on_battery", "ups.runtime_low"}
    assert all(e["params"]["device"] == "usv-n" and e["params"]["site"] == "rz-nord" for e in bad)
    assert "UPS usv-n (site rz-nord): runtime 10 min below minimum 15 min" in [e["text"] for e in bad]
    uplinks = check(detail, "uplinks")
    assert uplinks["verdict"] == "warn"
    down = next(e for e in uplinks["evidence"] if e["key"] == "uplinks.down")
    assert down["params"] == {"site": "rz-nord", "device": "sw-n", "interface": "Gi1/0/50", "status": "down"}


async def test_old_backup_and_high_replication_lag_fail_against_the_rpo(fleet: Fleet) -> None:
    fleet.backup_age = 26 * 3600
    fleet.lag = 90000
    await fleet.report_all()
    detail = await fleet.readiness("/emw")
    backup = check(detail, "backup_age")
    assert backup["verdict"] == "fail" and backup["runbook"] == "kritis-backup-too-old"
    assert backup["evidence"][0]["text"] == (
        'Sicherung backup_last_success_timestamp_seconds{job="emw"} auf emw-db-1 (Standort rz-nord) '
        "ist 26 h alt, RPO 24 h"
    )
    assert check(detail, "replication_lag")["verdict"] == "fail"


async def test_silent_agents_make_the_evidence_stale_never_a_pass(fleet: Fleet) -> None:
    assert fleet.record_test() == 0
    await fleet.report_all()
    assert (await fleet.readiness("/emw"))["status"] == "ready"
    fleet.env.clock.now += 601  # stale_after_s = 600, and nobody reported
    detail = await fleet.readiness("/emw")
    assert detail["status"] == "not_ready"
    for check_id in (
        "instances_healthy",
        "backup_age",
        "replication_lag",
        "standby_headroom",
        "ups_runtime",
        "uplinks",
    ):
        assert check(detail, check_id)["verdict"] == "fail", check_id
    fresh = check(detail, "evidence_fresh")
    assert fresh["verdict"] == "fail" and fresh["runbook"] == "kritis-evidence-stale"
    assert {e["params"]["source"] for e in fresh["evidence"]} >= {"Host emw-db-1", "USV usv-n", "Switch sw-s"}


async def test_missing_evidence_fails(fleet: Fleet) -> None:
    detail = await fleet.readiness("/emw")  # nothing reported yet
    assert detail["status"] == "not_ready" and detail["score"] <= 30
    assert check(detail, "backup_age")["evidence"][0]["key"] == "evidence.missing"
    assert check(detail, "ups_runtime")["evidence"][0]["key"] == "evidence.missing"


async def test_tenants_see_only_their_own_applications(fleet: Fleet) -> None:
    env = fleet.env
    env.tenant("stadt-c")
    lohne, b, c = env.token("tenant", "stadt-lohne"), env.token("tenant", "stadt-b"), env.token("tenant", "stadt-c")
    assert [a["name"] for a in (await fleet.readiness())["applications"]] == ["emw", "portal-b"]
    assert [a["name"] for a in (await fleet.readiness(token=lohne))["applications"]] == ["emw"]
    assert [a["name"] for a in (await fleet.readiness(token=b))["applications"]] == ["portal-b"]
    assert (await fleet.readiness(token=c))["count"] == 0
    assert [a["name"] for a in (await fleet.readiness(tenant="stadt-b"))["applications"]] == ["portal-b"]
    assert (await fleet.readiness("/emw", token=lohne))["tenant"] == "stadt-lohne"
    for token, path in (
        (b, "/api/v1/readiness/emw"),
        (lohne, "/api/v1/readiness/portal-b"),
        (lohne, "/api/v1/readiness/nope"),
    ):
        r = await env.client.get(path, headers=auth(token))
        assert r.status_code == 404 and set(r.json()) == {"error", "detail"}
    r = await env.client.get("/api/v1/readiness?tenant=stadt-lohne", headers=auth(b))
    assert r.status_code == 403
    billing = env.token("billing")
    assert (await env.client.get("/api/v1/readiness", headers=auth(billing))).status_code == 403
    assert (await env.client.get("/api/v1/readiness", headers=auth(fleet.tokens["poller"]))).status_code == 403
    assert (await env.client.get("/api/v1/readiness")).status_code == 401
    r = await env.client.get("/api/v1/readiness/emw?lang=fr", headers=auth(env.admin_token))
    assert r.status_code == 400 and set(r.json()) == {"error", "detail"}


async def test_active_active_on_one_site_with_min_sites_1(fleet: Fleet) -> None:
    fleet.cpu.update({"b-web-1": 20.0, "b-web-2": 20.0})
    await fleet.post("b-web-1", "rz-nord")
    await fleet.post("b-web-2", "rz-nord")
    detail = await fleet.readiness("/portal-b")
    ids = [c["id"] for c in detail["checks"]]
    assert "site_distance" not in ids and "backup_age" not in ids
    assert check(detail, "instances_healthy")["verdict"] == "pass"
    assert check(detail, "standby_headroom")["verdict"] == "pass"


async def test_the_schedule_records_transitions_without_readers(fleet: Fleet) -> None:
    collector, settings = fleet.env.app.state.collector, fleet.env.app.state.readiness
    assert await readiness_api.tick(collector, settings) == 2  # first status of both applications
    assert await readiness_api.tick(collector, settings) == 0  # nothing changed
    assert fleet.record_test() == 0
    await fleet.report_all()
    assert await readiness_api.tick(collector, settings) == 1  # emw: not_ready -> ready
    assert fleet.env.count("SELECT count(*) FROM readiness_history WHERE app = 'emw'") == 2


# -- identity: evidence binds to enrolled agents, never to a claimed hostname ------------


async def _impostor(fleet: Fleet, tenant: str, agent_id: str, hostname: str, **over: Any) -> None:
    """A freshly enrolled thin client that calls itself `hostname`, 1 % CPU, idle memory."""
    env = fleet.env
    token = await env.enroll(env.tenant(tenant), agent_id, hostname)
    body = report(
        1,
        env.clock.now,
        cpu={"count": 8, "percent": 1.0, "busy_seconds_total": 10.0},
        memory={"total_bytes": 32 * GIB, "used_bytes": 1 * GIB},
        **over,
    )
    r = await env.post(token, batch(agent_id, [body], hostname=hostname, role="thin-client", site="rz-sued"))
    assert r.status_code == 200, r.text


@pytest_asyncio.fixture
async def id_fleet(make_env: Callable[..., Env], tmp_path: Path) -> AsyncIterator[Fleet]:
    """The scenario with agent ids that are not hostnames, as `leitstand-agent enroll` makes them."""
    config_path = tmp_path / "collector.toml"
    config_path.write_text(CONFIG)
    env = make_env(load_config(config_path))
    f = Fleet(env, config_path)
    f.ids = {"emw-db-1": "7f3a91c2-db1", "emw-db-2": "7f3a91c2-db2"}
    await f.enroll("stadt-lohne", "emw-db-1", "emw-db-2", "poller")
    yield f
    await env.client.aclose()


async def test_a_thin_client_claiming_the_standbys_hostname_never_turns_a_failure_into_a_pass(id_fleet: Fleet) -> None:
    fleet = id_fleet
    assert fleet.record_test() == 0
    fleet.cpu["emw-db-2"] = 99.0  # the real standby is overloaded: no failover possible
    await fleet.report_all()
    assert check(await fleet.readiness("/emw"), "instances_healthy")["verdict"] == "fail"
    lag = {"name": "pg_replication_lag_seconds", "labels": {}, "value": 0.0}
    await _impostor(fleet, "stadt-lohne", "tc-017", "emw-db-2", textfile=[lag])
    detail = await fleet.readiness("/emw", lang="en")
    assert detail["status"] == "not_ready"
    healthy = check(detail, "instances_healthy")
    assert healthy["verdict"] == "fail"
    (claimed,) = [e for e in healthy["evidence"] if e["key"] == "instance.ambiguous"]
    assert claimed["params"]["agents"] == "7f3a91c2-db2, tc-017"
    assert "hostname emw-db-2 is claimed by agents 7f3a91c2-db2, tc-017" in claimed["text"]
    replication = check(detail, "replication_lag")
    assert replication["verdict"] == "fail" and replication["evidence"][0]["key"] == "source.ambiguous"
    assert check(detail, "standby_headroom")["verdict"] == "fail"
    # the real standby recovers: the claim still fails the application until the config binds an agent id
    fleet.cpu["emw-db-2"] = 5.0
    fleet.env.clock.now += 60
    await fleet.report_all()
    detail = await fleet.readiness("/emw")
    assert detail["status"] == "not_ready" and "instances_healthy" in detail["failed"]


@pytest_asyncio.fixture
async def bound_fleet(make_env: Callable[..., Env], tmp_path: Path) -> AsyncIterator[Fleet]:
    """The scenario with the standby and the replication evidence bound to agent ids."""
    config_path = tmp_path / "collector.toml"
    config_path.write_text(
        CONFIG.replace(
            '{host = "emw-db-2", site = "rz-sued", role = "standby"}',
            '{agent = "emw-db-2", host = "emw-db-2", site = "rz-sued", role = "standby"}',
        ).replace(
            'replication = {metric = "pg_replication_lag_seconds", host = "emw-db-2"}',
            'replication = {metric = "pg_replication_lag_seconds", agent = "emw-db-2"}',
        )
    )
    env = make_env(load_config(config_path))
    f = Fleet(env, config_path)
    await f.enroll("stadt-lohne", "emw-db-1", "emw-db-2", "poller")
    yield f
    await env.client.aclose()


async def test_an_instance_bound_by_agent_id_ignores_impostors(bound_fleet: Fleet) -> None:
    fleet = bound_fleet
    assert fleet.record_test() == 0
    fleet.cpu["emw-db-2"] = 99.0
    lag = {"name": "pg_replication_lag_seconds", "labels": {}, "value": 0.0}
    await _impostor(fleet, "stadt-lohne", "tc-017", "emw-db-2", textfile=[lag])
    await fleet.report_all()
    detail = await fleet.readiness("/emw")
    keys = {e["key"] for e in check(detail, "instances_healthy")["evidence"]}
    assert "instance.overloaded" in keys and "instance.ambiguous" not in keys
    assert detail["status"] == "not_ready"
    fleet.cpu["emw-db-2"] = 5.0
    fleet.env.clock.now += 60
    await fleet.report_all()
    detail = await fleet.readiness("/emw")
    assert detail["status"] == "ready", detail["failed"]
    (lag_finding,) = check(detail, "replication_lag")["evidence"]
    assert lag_finding["params"]["value"] == 30.0  # the real standby's lag, not the impostor's 0


async def test_a_host_of_another_tenant_never_counts(fleet: Fleet) -> None:
    assert fleet.record_test() == 0
    fleet.cpu["emw-db-2"] = 99.0
    await fleet.report_all()
    await _impostor(fleet, "stadt-b", "b-spoof", "emw-db-2")
    detail = await fleet.readiness("/emw")
    healthy = check(detail, "instances_healthy")
    assert healthy["verdict"] == "fail"
    overloaded = [e for e in healthy["evidence"] if e["key"] == "instance.overloaded"]
    assert [e["params"]["host"] for e in overloaded] == ["emw-db-2"]
    assert all(e["key"] != "instance.ambiguous" for e in healthy["evidence"])


async def test_backup_evidence_comes_from_the_applications_instances_only(fleet: Fleet) -> None:
    # no host named in `backup`: the primary does not report one, a thin client of the tenant does
    await fleet.post("emw-db-1", "rz-nord")
    await fleet.post("emw-db-2", "rz-sued")
    fresh = {"name": "backup_last_success_timestamp_seconds", "labels": {"job": "emw"}, "value": fleet.env.clock.now}
    await _impostor(fleet, "stadt-lohne", "tc-017", "rathaus-tc-017", textfile=[fresh])
    backup = check(await fleet.readiness("/emw"), "backup_age")
    assert backup["verdict"] == "fail" and backup["evidence"][0]["key"] == "evidence.missing"
