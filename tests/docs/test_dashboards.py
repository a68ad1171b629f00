"""The dashboards are tested artefacts: the committed JSON is what the code
builds, every dashboard is importable anywhere (the datasource is the input
``${DS_PROMETHEUS}`` everywhere, never a hard-coded uid), panel ids are
unique, uids stable, and the provisioning files point at them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from collector.dashboards import DASHBOARDS, render_all

ROOT = Path(__file__).resolve().parents[2]
DIR = ROOT / "dashboards"
UIDS = {"leitstand-fleet", "leitstand-host", "leitstand-snmp", "leitstand-metering", "leitstand-kritis"}
DS = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}


def _load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((DIR / name).read_text(encoding="utf-8"))
    return doc


def _walk(node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield k, v
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


def test_regenerating_gives_the_committed_json() -> None:
    built = render_all()
    assert sorted(p.name for p in DIR.glob("*.json")) == sorted(built), "run: python -m collector.dashboards"
    for name, text in built.items():
        assert (DIR / name).read_text(encoding="utf-8") == text, f"{name} is stale: run python -m collector.dashboards"


def test_uids_are_stable_and_unique() -> None:
    assert {_load(n)["uid"] for n in DASHBOARDS} == UIDS


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_dashboard_is_consistent(name: str) -> None:
    doc = _load(name)
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    assert [i["name"] for i in doc["__inputs"]] == ["DS_PROMETHEUS"]
    assert doc["templating"]["list"][0]["name"] == "DS_PROMETHEUS"
    for panel in doc["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == DS, panel["title"]
        assert panel["targets"] and all(t["datasource"] == DS for t in panel["targets"]), panel["title"]
        assert panel["fieldConfig"]["defaults"]["unit"], panel["title"]
        assert panel["fieldConfig"]["defaults"]["thresholds"]["steps"], panel["title"]
    # no hard-coded datasource anywhere: every datasource reference is the input
    for key, value in _walk(doc):
        if key == "datasource":
            assert value == DS
    for var in doc["templating"]["list"][1:]:
        assert var["datasource"] == DS


def test_provisioning_files() -> None:
    provider = yaml.safe_load((DIR / "provisioning" / "leitstand-dashboards.yaml").read_text())
    (p,) = provider["providers"]
    assert p["type"] == "file" and p["folder"] == "Leitstand" and p["options"]["path"]
    source = yaml.safe_load((DIR / "provisioning" / "leitstand-datasource.yaml").read_text())
    assert source["datasources"][0]["type"] == "prometheus"


def test_the_readme_scrape_config_is_valid(tmp_path: Path) -> None:
    """The README's scrape config, pasted into a prometheus.yml, passes promtool."""
    from tests.support import require_tool

    promtool = require_tool("promtool", "prometheus")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Scraping", 1)[1]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert "job_name: leitstand" in block and "metrics_path: /metrics" in block
    token = tmp_path / "leitstand.token"
    token.write_text("token")
    config = tmp_path / "prometheus.yml"
    config.write_text(block.replace("/etc/prometheus/leitstand.token", str(token)))
    import subprocess

    check = subprocess.run([promtool, "check", "config", str(config)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
