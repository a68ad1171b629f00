"""The systemd units and default configs in deploy/: valid for systemd, as
hardened as each other, and accepted by the config loaders."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from agent.config import load_config as load_agent_config
from collector.bundled import path
from collector.config import load_config
from tests.support import BIN, require_tool

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNITS = ("leitstand-agent.service", "leitstand-collector.service")

# What keeps a compromised process in its box; both units must set every one.
HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "ProtectClock": "yes",
    "ProtectHostname": "yes",
    "RestrictNamespaces": "yes",
    "RestrictRealtime": "yes",
    "RestrictSUIDSGID": "yes",
    "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes",
    "RemoveIPC": "yes",
    "CapabilityBoundingSet": "",
    "AmbientCapabilities": "",
    "SystemCallArchitectures": "native",
    "UMask": "0077",
}


def service_section(text: str) -> dict[str, list[str]]:
    """[Service] settings; a key set twice (SystemCallFilter) keeps both values."""
    out: dict[str, list[str]] = {}
    section = ""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if re.fullmatch(r"\[\w+\]", line):
            section = line[1:-1]
        elif section == "Service":
            key, _, value = line.partition("=")
            out.setdefault(key, []).append(value)
    return out


@pytest.mark.parametrize("unit", UNITS)
def test_unit_sets_every_hardening_option(unit: str) -> None:
    service = service_section((DEPLOY / unit).read_text())
    wrong = {k: service.get(k) for k, v in HARDENING.items() if service.get(k) != [v]}
    assert not wrong, wrong
    assert service["SystemCallFilter"] == ["@system-service", "~@privileged @resources"]
    assert service["User"] != ["root"] and service["StateDirectory"]
    # writes nothing but its state directory
    assert service["ReadWritePaths"] == ["/var/lib/" + service["StateDirectory"][0]]


def _installed_copy(unit: str, tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at this venv's console script (systemd checks that it exists)."""
    text = (DEPLOY / unit).read_text()
    script = unit.removesuffix(".service")
    copy = tmp_path / unit
    copy.write_text(text.replace(f"/usr/local/bin/{script}", str(BIN / script)))
    assert copy.read_text() != text
    return copy


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    tool = require_tool("systemd-analyze", "systemd")
    copies = [_installed_copy(u, tmp_path) for u in UNITS]
    done = subprocess.run([tool, "verify", *map(str, copies)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr


def test_collector_unit_is_exposed_no_more_than_the_agent_unit(tmp_path: Path) -> None:
    tool = require_tool("systemd-analyze", "systemd")
    exposure = {}
    for unit in UNITS:
        done = subprocess.run(
            [tool, "security", "--offline=true", "--json=short", str(_installed_copy(unit, tmp_path))],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        # the overall level grows with the exposures of the checks a unit leaves open
        exposure[unit] = sum(float(c["exposure"] or 0) for c in json.loads(done.stdout) if c["set"] is False)
    assert exposure["leitstand-collector.service"] <= exposure["leitstand-agent.service"], exposure


def test_default_configs_load() -> None:
    config = load_config(DEPLOY / "collector.toml")
    assert config.server.db == "/var/lib/leitstand/collector.db"
    agent = load_agent_config(DEPLOY / "agent.toml", env={})
    assert agent.collector_url == "https://leitstand.kreis.example"


def test_bundled_files_are_the_top_level_folders_in_a_checkout() -> None:
    root = DEPLOY.parent
    for name in ("runbooks", "dashboards", "deploy"):
        assert path(name).resolve() == root / name
    assert (path("deploy") / "leitstand-collector.service").is_file()
