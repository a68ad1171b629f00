"""`rules export` passes promtool, thresholds per tenant/site/host from the
TOML (errors name file, key and line), and the `alerts` CLI."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from collector.alerting import metric_names
from collector.alerting.rules import RULES
from collector.config import load_config
from collector.errors import ConfigError
from tests.collector.alerting.conftest import tick
from tests.collector.conftest import Env, batch, report
from tests.support import leitstand, require_tool, run_cli

CONFIG = """\
[alerts]
external_url = "https://leitstand.kreis.example"

[alerts.thresholds]
disk_full = 92

[alerts.for_s]
cpu_saturated = 1800

[[alerts.overrides]]
tenant = "stadt-a"
thresholds = { disk_full = 95 }

[[alerts.overrides]]
tenant = "stadt-a"
site = "rathaus"
host = "fs01"
thresholds = { disk_full = 98 }
disabled = ["agent_clock_skew"]

[alerts.webhook]
url = "https://hooks.example/leitstand"
"""


def test_config_sets_thresholds_per_scope(tmp_path: Path) -> None:
    path = tmp_path / "collector.toml"
    path.write_text(CONFIG)
    config = load_config(path)
    from collector.alerting.config import settings
    from collector.alerting.policy import Scope
    from collector.alerting.rules import by_name

    s = settings(config.alerts)
    disk = by_name("disk_full")
    assert disk is not None
    assert s.policy.resolve(disk, Scope("stadt-b")).threshold == 92
    assert s.policy.resolve(disk, Scope("stadt-a", "bauhof", "x")).threshold == 95
    assert s.policy.resolve(disk, Scope("stadt-a", "rathaus", "fs01")).threshold == 98
    assert s.runbook_link("disk-full") == "https://leitstand.kreis.example/api/v1/runbooks/disk-full"
    assert [t.name for t in s.targets] == ["webhook"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[alerts.thresholds]\ndisk_ful = 90\n", ":2: alerts.thresholds.disk_ful: unknown rule 'disk_ful'"),
        (
            '[[alerts.overrides]]\ntenant = "a"\n\n[[alerts.overrides]]\nsite = "x"\ndisabled = ["nope"]\n',
            ":6: alerts.overrides[1].disabled.nope: unknown rule 'nope'",
        ),
        (
            "[[alerts.overrides]]\nthresholds = { disk_full = 1 }\n",
            ":1: alerts.overrides[0]: an override needs a scope",
        ),
        ('[alerts.webhook]\nurl = "ftp://x"\n', ":2: alerts.webhook.url: not an http(s) URL"),
        ("[alerts]\nflap_threshold = 1\n", "alerts.flap_threshold"),
    ],
)
def test_config_errors_name_file_key_and_line(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "collector.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert str(path) in exc.value.message and expected in exc.value.message


def test_exported_rules_pass_promtool(tmp_path: Path) -> None:
    promtool = require_tool("promtool", "prometheus")
    config = tmp_path / "collector.toml"
    config.write_text(CONFIG)
    out = tmp_path / "leitstand.rules.yml"
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path)}
    r = run_cli(
        leitstand("leitstand-collector"), "rules", "export", "--config", str(config), "--out", str(out), env=env
    )
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    checked = subprocess.run([promtool, "check", "rules", str(out)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(RULES) + 2} rules found" in checked.stdout  # disk_full for two overridden scopes
    assert 'host!=\\"fs01\\"' in text.split("alert: agent_clock_skew")[1].split("alert:")[0]  # disabled there
    for rule in RULES:
        assert f"alert: {rule.name}" in text
    assert "https://leitstand.kreis.example/api/v1/runbooks/host-down" in text
    assert 'tenant=\\"stadt-a\\", site=\\"rathaus\\", host=\\"fs01\\"' in text  # the host override
    assert ">= 98" in text and ">= 95" in text and ">= 92" in text


def test_exported_rules_use_only_the_shared_metric_names() -> None:
    import re

    from collector.alerting.config import AlertsConfig, settings
    from collector.alerting.export import prometheus_rules

    text = prometheus_rules(settings(AlertsConfig()))
    used = set(re.findall(r"leitstand_[a-z_]+", text))
    assert used and used <= set(metric_names.METRICS)


@pytest.mark.sqlite_only  # drives the CLI in a subprocess on a SQLite path
async def test_alerts_cli_list_ack_silence_unsilence(make_env: Callable[..., Env], tmp_path: Path) -> None:
    env = make_env()
    token = await env.enroll(env.tenant("stadt-a"), "srv-1")
    await env.post(token, batch("srv-1", [report(1, env.clock.now)]))
    env.clock.now += 3600
    await tick(env)
    env.clock.now += 120
    await tick(env)
    await env.client.aclose()
    env.app.state.collector.close()
    cli_env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    exe = leitstand("leitstand-collector")
    db = ["--db", str(env.db_path)]

    r = run_cli(exe, "alerts", "list", "--json", *db, env=cli_env)
    assert r.returncode == 0, r.stderr
    (alert,) = json.loads(r.stdout)
    assert alert["rule"] == "host_down" and alert["state"] == "firing"
    r = run_cli(exe, "alerts", "ack", alert["id"], "--comment", "vor Ort", *db, env=cli_env)
    assert r.returncode == 0, r.stderr
    r = run_cli(exe, "alerts", "silence", "--match", "host=srv-1", "--duration", "2h", "--comment", "Wartung", *db,
                env=cli_env)  # fmt: skip
    assert r.returncode == 0, r.stderr
    silence_id = r.stdout.split()[1]
    r = run_cli(exe, "alerts", "list", *db, env=cli_env)
    assert "firing (silenced)" in r.stdout and "ack cli:" in r.stdout and "meldet sich nicht" in r.stdout
    r = run_cli(exe, "alerts", "silences", *db, env=cli_env)
    assert silence_id in r.stdout and "host=srv-1" in r.stdout
    r = run_cli(exe, "alerts", "unsilence", silence_id, *db, env=cli_env)
    assert r.returncode == 0, r.stderr
    r = run_cli(exe, "alerts", "list", "--json", *db, env=cli_env)
    (alert,) = json.loads(r.stdout)
    assert alert["silenced"] is False and alert["acknowledged"]["comment"] == "vor Ort"
    r = run_cli(exe, "alerts", "ack", "nope", *db, env=cli_env)
    assert r.returncode == 1 and "no alert 'nope'" in r.stderr
    r = run_cli(exe, "alerts", "silence", "--match", "host", "--duration", "1h", *db, env=cli_env)
    assert r.returncode == 1 and "invalid matcher" in r.stderr
    r = run_cli(exe, "audit", *db, env=cli_env)
    assert "alert.ack" in r.stdout and "silence.create" in r.stdout and "silence.delete" in r.stdout
    r = run_cli(exe, "rules", "list", *db, env=cli_env)
    assert r.returncode == 0 and "host_down" in r.stdout
