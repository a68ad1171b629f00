"""The demo's live fleet looks like a healthy fleet: run against a real collector, started
twice as `leitstand demo` restarts it, its hosts show no data gaps and no
`agent_data_gaps` alert (the fleet once numbered its reports by the clock, so every host
showed a gap 1–359264317 and the alert fired after 30 minutes)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import httpx
import pytest

from collector import demo
from collector.sim.model import build_fleet
from collector.sim.sampling import sample
from collector.sim.wire import Stats, enroll, post_batch
from tests.support import free_port, leitstand, stop_process, wait_until

pytestmark = pytest.mark.slow

#: the demo's small fleet
FLEET_HOSTS = 10


def _get(url: str, token: str) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _stop(proc: subprocess.Popen[bytes]) -> int:
    return stop_process(proc)


async def _report_with_a_gap(url: str, enroll_token: str) -> str:
    """A control agent whose first report is seq 3: a real gap (1–2), so `agent_data_gaps`
    goes pending at the next evaluation. Its hostname."""
    control = build_fleet(99, agents=1, tenants=1)[0]
    control.agent_id, control.hostname = "control-gap", "control-gap"
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        token, _ = await enroll(client, enroll_token, control)
        await post_batch(client, token, control, [sample(control, time.time(), 1.0, 3, None)], Stats())
    return control.hostname


def test_live_fleet_reports_without_gaps_across_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "collector.db"
    enroll_token, admin_token = demo._prepare(db)
    config = tmp_path / "collector.toml"
    config.write_text("[alerts]\ninterval_s = 1\n")  # evaluate every second
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    log = tmp_path / "collector.log"
    with log.open("wb") as out:
        collector = subprocess.Popen(
            [leitstand("leitstand-collector"), "serve", "--db", str(db), "--config", str(config),
             "--listen", f"127.0.0.1:{port}"],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    fleet: subprocess.Popen[bytes] | None = None
    try:

        def healthy() -> bool:
            assert collector.poll() is None, log.read_text()[-2000:]
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as resp:
                return bool(resp.status == 200)

        wait_until(healthy, timeout=30, what="the collector")

        def reported(at_least: int) -> dict[str, Any] | None:
            hosts = {h["hostname"]: h for h in _get(f"{url}/api/v1/hosts", admin_token)["hosts"]}
            fleet_hosts = {n: h for n, h in hosts.items() if h["tenant"] in demo.FLEET_TENANTS}
            done = len(fleet_hosts) == FLEET_HOSTS and all(h["reports_total"] >= at_least for h in fleet_hosts.values())
            return fleet_hosts if done else None

        logs = []
        for run, at_least in enumerate((3, 6), start=1):  # the second run re-enrolls, as a restarted demo does
            if fleet is not None:
                assert _stop(fleet) == 0, logs[-1].read_text()[-2000:]
            argv = demo.fleet_argv(url, 1.0, demo._prepare_fleet(db), time.time())
            logs.append(tmp_path / f"fleet-{run}.log")
            with logs[-1].open("wb") as out:
                fleet = subprocess.Popen([*argv, "--no-snmpsim"], stdout=out, stderr=subprocess.STDOUT, env=env)
            wait_until(lambda n=at_least: reported(n), timeout=60, what=f"{at_least} reports of every fleet host")

        # positive control, while the fleet keeps reporting: a real gap makes the alert pending
        control = asyncio.run(_report_with_a_gap(url, enroll_token))

        def gap_alerts() -> list[dict[str, Any]] | None:
            alerts = _get(f"{url}/api/v1/alerts", admin_token)["alerts"]
            found = [a for a in alerts if a["rule"] == "agent_data_gaps"]
            return found if any(control in a["object"] + json.dumps(a["labels"]) for a in found) else None

        found = wait_until(gap_alerts, timeout=30, what="the control agent's agent_data_gaps alert")
        fleet_hosts = reported(6)
        assert fleet_hosts is not None
        assert [a["labels"] for a in found if control not in a["object"] + json.dumps(a["labels"])] == []
        for name, host in fleet_hosts.items():
            detail = _get(f"{url}/api/v1/hosts/{host['id']}", admin_token)
            assert detail["gaps"] == [], f"{name}: {detail['gaps']}"
        assert fleet is not None and fleet.poll() is None, logs[-1].read_text()[-2000:]
        assert all("keep their reports" not in f.read_text() for f in logs)
    finally:
        if fleet is not None:
            _stop(fleet)
        _stop(collector)
