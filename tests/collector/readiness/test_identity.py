"""Readiness identity, pure: a config name binds exactly one enrolled agent of
the tenant, or the check fails with the claimants as evidence."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.config import load_config
from collector.errors import ConfigError
from collector.readiness.checks import instances_healthy
from collector.readiness.config import settings
from collector.readiness.identity import Resolution, resolve
from collector.readiness.messages import render
from collector.readiness.model import HostState, Instance
from tests.collector.readiness.test_config import VALID

ENROLLED = [("a-db2", "emw-db-2"), ("a-db1", "emw-db-1"), ("tc-017", "rathaus-tc-017")]


def test_a_hostname_of_exactly_one_agent_resolves_to_it() -> None:
    assert resolve("emw-db-2", "", ENROLLED) == Resolution("a-db2")
    assert resolve("a-db1", "", ENROLLED) == Resolution("a-db1")  # an agent id is a name too
    assert resolve("emw-db-9", "", ENROLLED) == Resolution(None)


def test_a_hostname_two_agents_claim_resolves_to_none_with_both() -> None:
    spoofed = [*ENROLLED, ("tc-018", "emw-db-2")]
    res = resolve("emw-db-2", "", spoofed)
    assert res.agent_id is None and res.ambiguous and res.claimed_by == ("a-db2", "tc-018")
    # an agent whose id is another's hostname is a claimant as well
    res = resolve("emw-db-2", "", [*ENROLLED, ("emw-db-2", "thin-client")])
    assert res.claimed_by == ("a-db2", "emw-db-2")


def test_an_agent_id_binds_regardless_of_hostnames() -> None:
    spoofed = [*ENROLLED, ("tc-018", "emw-db-2"), ("tc-019", "a-db2")]
    assert resolve("emw-db-2", "a-db2", spoofed) == Resolution("a-db2")
    assert resolve("emw-db-2", "a-gone", spoofed) == Resolution(None)


def test_an_ambiguous_instance_fails_with_its_claimants_never_passes() -> None:
    inst = Instance(host="emw-db-2", site="rz-sued", role="standby")
    primary = Instance(host="emw-db-1", site="rz-nord", role="primary")
    healthy = HostState("emw-db-1", "a-db1", report_ts=100.0, cpu_percent=5.0, memory_total=8, memory_used=1)
    hosts = {"emw-db-1": healthy, "emw-db-2": HostState("emw-db-2", claimed_by=("a-db2", "tc-018"))}
    result = instances_healthy(
        [primary, inst],
        hosts,
        tenant="stadt-lohne",
        now=110.0,
        stale_after_s=600,
        overload_cpu_pct=90,
        overload_memory_pct=95,
        min_healthy=1,
    )
    assert result.verdict == "fail"  # a standby whose identity is unproven is no standby
    (finding,) = [f for f in result.findings if f.key == "instance.ambiguous"]
    assert finding.params["agents"] == "a-db2, tc-018"
    text = render(finding, "en")
    assert "hostname emw-db-2 is claimed by agents a-db2, tc-018" in text
    assert "agent = " in render(finding, "de")


def test_config_accepts_agent_and_requires_host_or_agent(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        VALID.replace(
            '{host = "emw-db-2", site = "rz-leipzig", role = "standby"}',
            '{agent = "a-db2", site = "rz-leipzig", role = "standby"}',
        ).replace(
            'replication = {metric = "pg_replication_lag_seconds", host = "emw-db-2"}',
            'replication = {metric = "pg_replication_lag_seconds", agent = "a-db2"}',
        )
    )
    cfg = load_config(path)
    app = cfg.readiness.applications[0]
    assert app.instances[1].agent == "a-db2" and app.replication is not None and app.replication.agent == "a-db2"
    model = settings(cfg.readiness).applications[0]
    assert model.instances[1].host == "a-db2" and model.instances[1].agent == "a-db2"
    path.write_text(
        VALID.replace(
            '{host = "emw-db-2", site = "rz-leipzig", role = "standby"}', '{site = "rz-leipzig", role = "standby"}'
        )
    )
    with pytest.raises(ConfigError, match=r'instances\[1\]: an instance needs agent = "<agent id>"'):
        load_config(path)
    path.write_text(
        VALID.replace(
            '{host = "emw-db-1", site = "rz-oldenburg", role = "primary"}',
            '{agent = "a-db2", site = "rz-oldenburg", role = "primary"}',
        ).replace(
            '{host = "emw-db-2", site = "rz-leipzig", role = "standby"}',
            '{agent = "a-db2", site = "rz-leipzig", role = "standby"}',
        )
    )
    with pytest.raises(ConfigError, match="agent 'a-db2' is listed twice"):
        load_config(path)
