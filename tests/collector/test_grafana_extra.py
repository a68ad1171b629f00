"""grafana-client is an extra of its own (`leitstand[grafana]`): its HTTP stack
(niquests -> urllib3-future) would shadow the real urllib3 and break
requests-based tools such as schemathesis. The push says how to install it
when it is missing, and this checkout's venv has the real urllib3."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from collector.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _requirements(extras: dict[str, list[str]], name: str) -> set[str]:
    """The requirement names of an extra, with leitstand[...] self-references resolved."""
    names: set[str] = set()
    for req in extras[name]:
        own = re.fullmatch(r"leitstand\[([a-z,]+)\]", req)
        if own:
            for sub in own.group(1).split(","):
                names |= _requirements(extras, sub)
        else:
            names.add(re.split(r"[<>=\[ ;]", req, maxsplit=1)[0].lower())
    return names


def test_only_the_grafana_extra_brings_grafana_client() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert "grafana-client" not in {d.split(">")[0] for d in project["dependencies"]}
    with_grafana = {name for name in extras if "grafana-client" in _requirements(extras, name)}
    assert with_grafana == {"grafana"}
    assert {"collector", "all", "dev"} <= set(extras)


def test_push_without_grafana_client_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # as if it were not installed: importing it raises ImportError
    monkeypatch.setitem(sys.modules, "grafana_client", None)
    monkeypatch.delitem(sys.modules, "collector.dashboards.push", raising=False)
    code = main(["dashboards", "push", "--grafana-url", "http://127.0.0.1:9", "--token", "t"])
    err = capsys.readouterr().err
    assert code == 1
    assert "dashboards push needs grafana-client, which is not installed" in err
    assert "pip install 'leitstand[grafana]'" in err
    assert "Traceback" not in err


def test_this_venv_imports_the_real_urllib3() -> None:
    """What `make` checks after installing: urllib3-future (versions x.y.9NN) kept
    to its own namespace, so requests and schemathesis get the real urllib3."""
    probe = "import urllib3, requests; print(urllib3.__version__, urllib3.__file__)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    version, path = out.stdout.split()
    assert int(version.split(".")[2]) < 900, f"urllib3 {version} at {path} is urllib3-future"
    assert Path(path).parent.name == "urllib3"
