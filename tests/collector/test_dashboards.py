"""Every metric a dashboard names, and every metric the alert rules are
written against (``rules export``), is exposed by /metrics of a collector
fed with the shared scenario."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from collector.alerting import metric_names
from collector.alerting.config import settings as alert_settings
from collector.alerting.export import prometheus_rules
from collector.config import load_config
from collector.dashboards import render_all
from tests.collector.conftest import Env, auth
from tests.collector.test_metrics import feed, write_config

METRIC = re.compile(r"\bleitstand_[a-z0-9_]+\b")


async def _exposed(make_env: Callable[..., Env], tmp_path: Path) -> set[str]:
    env = make_env(load_config(write_config(tmp_path)))
    try:
        await feed(env.client, {t: env.tenant(t) for t in ("stadt-lohne", "stadt-b")}, env.clock.now)
        r = await env.client.get("/metrics", headers=auth(env.admin_token))
        assert r.status_code == 200
        return {line.split("{")[0].split(" ")[0] for line in r.text.splitlines() if line and not line.startswith("#")}
    finally:
        await env.client.aclose()


@pytest.fixture
async def exposed(make_env: Callable[..., Env], tmp_path: Path) -> set[str]:
    return await _exposed(make_env, tmp_path)


async def test_every_metric_a_dashboard_names_is_exposed(exposed: set[str]) -> None:
    for name, text in render_all().items():
        named = set(METRIC.findall(text))
        assert named, name
        assert named <= exposed, f"{name} names metrics /metrics does not expose: {sorted(named - exposed)}"


async def test_every_metric_the_alert_rules_use_is_exposed(exposed: set[str]) -> None:
    assert set(metric_names.METRICS) <= exposed, sorted(set(metric_names.METRICS) - exposed)
    rules = prometheus_rules(alert_settings(load_config(None).alerts, "127.0.0.1:8470"))
    named = set(METRIC.findall(rules))
    assert named and named <= exposed, sorted(named - exposed)
