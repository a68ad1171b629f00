"""A real Prometheus (Debian ``prometheus``) scrapes a real collector
(``leitstand-collector serve`` on a free port) fed with wire-format reports
and SNMP readings; every query of every dashboard panel and variable is run
through Prometheus' HTTP API and must return data; ``promtool check
metrics`` finds nothing to complain about in /metrics.

Prometheus scrapes with a ``metrics`` role token (``metrics.require_token``
is on by default), exactly as the README's scrape config does.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from collector import admin
from collector.dashboards import DASHBOARDS
from collector.db import connect, migrate
from tests.collector.test_metrics import feed, write_config
from tests.support import free_port, leitstand, require_tool, wait_until

#: what Grafana puts in for the variables when "All" is selected, and for its interval macros
SUBSTITUTIONS = {"$__rate_interval": "1m", "$__range": "5m", "$__interval": "15s", '"$': '".*'}


def substitute(expr: str) -> str:
    expr = re.sub(r'"\$\w+"', '".*"', expr)
    for macro, value in SUBSTITUTIONS.items():
        expr = expr.replace(macro, value)
    return expr


def dashboard_queries() -> list[tuple[str, str, str]]:
    """(dashboard, panel or variable, PromQL) of every target and variable."""
    out = []
    for name, dash in DASHBOARDS.items():
        doc = dash.render()
        for panel in doc["panels"]:
            for target in panel.get("targets", ()):
                out.append((name, panel["title"], target["expr"]))
        for var in doc["templating"]["list"]:
            if var["type"] == "query":
                m = re.fullmatch(r"label_values\((.+), (\w+)\)", var["definition"])
                assert m, var["definition"]
                out.append((name, f"${var['name']}", f"count by ({m.group(2)}) ({m.group(1)})"))
    return out


@dataclass
class Stack:
    collector_url: str
    prometheus_url: str
    admin_token: str

    def query(self, promql: str) -> list[dict[str, Any]]:
        r = httpx.get(f"{self.prometheus_url}/api/v1/query", params={"query": promql}, timeout=10)
        body = r.json()
        assert r.status_code == 200 and body["status"] == "success", f"{promql}: {body}"
        result: list[dict[str, Any]] = body["data"]["result"]
        return result


def _ok(url: str) -> httpx.Response | None:
    """The response, or None while the server is not listening yet."""
    try:
        return httpx.get(url, timeout=1)
    except httpx.TransportError:
        return None


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    prometheus = require_tool("prometheus", "prometheus")
    tmp = tmp_path_factory.mktemp("prom")
    db = tmp / "collector.db"
    conn = connect(db)
    migrate(conn)
    admin_token = admin.create_token(conn, "admin", actor="test")[1]
    metrics_token = admin.create_token(conn, "metrics", actor="test")[1]
    enroll = {}
    for tenant in ("stadt-lohne", "stadt-b"):
        admin.add_tenant(conn, tenant, actor="test")
        enroll[tenant] = admin.create_token(conn, "enroll", actor="test", tenant=tenant)[1]
    conn.close()
    config = write_config(tmp, require_token=True)
    cport, pport = free_port(), free_port()
    collector = subprocess.Popen(
        [
            leitstand("leitstand-collector"),
            "serve",
            "--db",
            str(db),
            "--config",
            str(config),
            "--listen",
            f"127.0.0.1:{cport}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    procs = [collector]
    try:
        url = f"http://127.0.0.1:{cport}"
        wait_until(lambda: _ok(f"{url}/healthz"), what="the collector")

        async def post() -> None:
            async with httpx.AsyncClient(base_url=url) as client:
                await feed(client, enroll, time.time())

        asyncio.run(post())
        (tmp / "token").write_text(metrics_token + "\n")
        (tmp / "prometheus.yml").write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n"
            "  - job_name: leitstand\n"
            "    metrics_path: /metrics\n"
            "    authorization:\n"
            f"      credentials_file: {tmp / 'token'}\n"
            "    static_configs:\n"
            f"      - targets: ['127.0.0.1:{cport}']\n"
        )
        prom = subprocess.Popen(
            [
                prometheus,
                f"--config.file={tmp / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{pport}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(prom)
        s = Stack(url, f"http://127.0.0.1:{pport}", admin_token)

        def target_up() -> bool:
            r = _ok(f"{s.prometheus_url}/api/v1/targets")
            active = r.json()["data"]["activeTargets"] if r is not None and r.status_code == 200 else []
            return any(t["health"] == "up" for t in active)

        wait_until(target_up, timeout=60, what="Prometheus to scrape the collector")
        # rate() needs two samples in its window; a few more for good measure
        wait_until(lambda: s.query("count_over_time(leitstand_collector_info[1m]) >= 4"), timeout=60, what="4 scrapes")
        yield s
    finally:
        for proc in reversed(procs):
            _stop(proc)


@pytest.mark.parametrize(("dashboard", "panel", "expr"), dashboard_queries())
def test_every_dashboard_query_returns_data(stack: Stack, dashboard: str, panel: str, expr: str) -> None:
    assert stack.query(substitute(expr)), f"{dashboard} / {panel}: no data for {substitute(expr)}"


def test_promtool_finds_nothing_to_complain_about(stack: Stack) -> None:
    promtool = require_tool("promtool", "prometheus")
    r = httpx.get(f"{stack.collector_url}/metrics", headers={"Authorization": f"Bearer {stack.admin_token}"})
    assert r.status_code == 200
    check = subprocess.run([promtool, "check", "metrics"], input=r.content, capture_output=True, timeout=60)
    assert check.returncode == 0 and not check.stdout and not check.stderr, check.stdout + check.stderr


def test_prometheus_sees_every_family_of_the_scrape(stack: Stack) -> None:
    r = httpx.get(f"{stack.collector_url}/metrics", headers={"Authorization": f"Bearer {stack.admin_token}"})
    exposed = {line.split("{")[0].split(" ")[0] for line in r.text.splitlines() if line and not line.startswith("#")}
    r = httpx.get(f"{stack.prometheus_url}/api/v1/label/__name__/values", timeout=10)
    stored = set(r.json()["data"])
    assert exposed <= stored, exposed - stored
