"""The demo's KRITIS applications (collector/demo.py, collector.sim, --small): the collector
config the fleet writes validates, and a collector started with it and fed by the live
fleet reports fachverfahren-emw ready and finanzwesen-kasse degraded (replication lag above
80 % of its RPO), from the servers' textfile evidence and the data centres' UPS and switches."""

from __future__ import annotations

import json
import os
import subprocess
import time
import tomllib
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from collector import demo
from collector.readiness.geo import haversine_km
from collector.sim.model import KRITIS_APPS, SITES, build_fleet
from collector.sim.snmp import snmpsim_missing
from tests.support import free_port, leitstand, run_cli, stop_process, wait_until

pytestmark = pytest.mark.slow

EXPECTED = {"fachverfahren-emw": "ready", "finanzwesen-kasse": "degraded"}


def test_demo_config_validates_and_matches_the_fleet(tmp_path: Path) -> None:
    config = demo.write_fleet_config(tmp_path)

    done = run_cli(leitstand("leitstand-collector"), "check-config", str(config))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{config}: OK" in done.stdout

    readiness = tomllib.loads(config.read_text())["readiness"]
    assert [a["name"] for a in readiness["applications"]] == [a.name for a in KRITIS_APPS] == list(EXPECTED)
    assert all(a["criticality"] == "kritis" for a in readiness["applications"])
    hosts = build_fleet(1, agents=6, tenants=2, small=True)
    by_name = {h.hostname: h for h in hosts}
    devices = {d.device: d for h in hosts for d in h.devices}
    for app in readiness["applications"]:
        for inst in app["instances"]:  # every instance is a simulated host of the tenant, at its site
            h = by_name[inst["host"]]
            assert h.site == inst["site"] and h.kritis is not None and h.kritis[1] == inst["role"]
            assert demo.FLEET_TENANTS[h.tenant_index] == app["tenant"]
        assert app["replication"]["host"] in by_name
    for name, site in readiness["sites"].items():
        assert (site["lat"], site["lon"]) == SITES[name]
        assert [devices[d].kind for d in site["ups"]] == ["ups"]
        assert [devices[d].kind for d in site["switches"]] == ["switch"]
    (a, b) = readiness["sites"].values()
    assert haversine_km(a["lat"], a["lon"], b["lat"], b["lon"]) > 200  # BSI: geo-redundant


def _get(url: str, token: str) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _stop(proc: subprocess.Popen[bytes]) -> int:
    return stop_process(proc)


def test_readiness_of_the_fleets_kritis_applications(tmp_path: Path) -> None:
    logs = {"collector": tmp_path / "collector.log", "fleet": tmp_path / "fleet.log"}
    db = tmp_path / "collector.db"
    _, admin_token = demo._prepare(db)
    config = demo.write_fleet_config(tmp_path)
    # a passed failover test per application, once
    assert demo.record_failover_tests(db, config) == list(EXPECTED)
    assert demo.record_failover_tests(db, config) == []

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with logs["collector"].open("wb") as out:
        collector = subprocess.Popen(
            [leitstand("leitstand-collector"), "serve", "--db", str(db), "--config", str(config),
             "--listen", f"127.0.0.1:{port}"],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    fleet: subprocess.Popen[bytes] | None = None
    try:

        def healthy() -> bool:
            assert collector.poll() is None, logs["collector"].read_text()[-2000:]
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as resp:
                return bool(resp.status == 200)

        wait_until(healthy, timeout=30, what="the collector")
        argv = demo.fleet_argv(url, 1.0, demo._prepare_fleet(db), time.time())
        with logs["fleet"].open("wb") as out:
            fleet = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)

        def statuses() -> dict[str, str] | None:
            assert fleet is not None and fleet.poll() is None, logs["fleet"].read_text()[-2000:]
            apps = _get(f"{url}/api/v1/readiness", admin_token)["applications"]
            got = {a["name"]: a["status"] for a in apps}
            return got if got == EXPECTED else None

        try:
            wait_until(statuses, timeout=120, what=f"readiness {EXPECTED}")
        except AssertionError:
            final = _get(f"{url}/api/v1/readiness", admin_token)
            raise AssertionError(f"{final}\n{logs['fleet'].read_text()[-3000:]}") from None

        kasse = _get(f"{url}/api/v1/readiness/finanzwesen-kasse?lang=en", admin_token)
        verdicts = {c["id"]: c["verdict"] for c in kasse["checks"]}
        assert verdicts.pop("replication_lag") == "warn"
        assert set(verdicts.values()) == {"pass"}, verdicts
        (lag,) = next(c for c in kasse["checks"] if c["id"] == "replication_lag")["evidence"]
        assert lag["key"] == "replication.near_rpo" and lag["params"]["host"] == "dinklage-kasse-db-2"
        assert 2880 < lag["params"]["value"] <= 3600  # above 80 % of the 1 h RPO, within it

        emw = _get(f"{url}/api/v1/readiness/fachverfahren-emw?lang=en", admin_token)
        checks = {c["id"]: c for c in emw["checks"]}
        assert {c["verdict"] for c in checks.values()} == {"pass"}
        ups = {e["params"]["device"] for e in checks["ups_runtime"]["evidence"]}
        assert ups == {"ups-rz-vechta-1", "ups-rz-magdeburg-1"}
        assert checks["site_distance"]["evidence"][0]["params"]["km"] > 200

        if snmpsim_missing() is None:  # the data centres' devices came from snmpsim's recordings
            devices = {d["id"]: d for d in _get(f"{url}/api/v1/devices", admin_token)["devices"]}
            assert devices["ups-rz-vechta-1"]["descr"] == "EATON 93E 80"
            assert devices["prn-lohne-1"]["descr"] == "KYOCERA Document Solutions Printing System"
            assert "snmpsim on udp" in logs["fleet"].read_text()
    finally:
        fleet_rc = _stop(fleet) if fleet is not None else None
        _stop(collector)
    assert fleet_rc == 0, logs["fleet"].read_text()[-2000:]
