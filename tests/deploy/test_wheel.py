"""The product as a stranger installs it: the sdist and wheel, built with exactly
the lowest setuptools pyproject.toml allows, installed into a clean venv outside
this checkout (no --system-site-packages), and there the installed collector,
agent and demo do their jobs.

Needs PyPI (or pip's cache) for setuptools, build and the wheel's dependencies,
as `make .venv/.installed` does; a minute or so with a warm pip cache."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tarfile
import tomllib
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import free_port, stop_process, wait_until

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def setuptools_lower_bound() -> str:
    """The version in build-system.requires' `setuptools>=X` (the only form allowed)."""
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    bounds = [m.group(1) for r in requires if (m := re.fullmatch(r"setuptools>=([\w.]+)", r.replace(" ", "")))]
    assert len(bounds) == 1, f"build-system.requires needs exactly one 'setuptools>=X': {requires}"
    return bounds[0]


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without anything that points back into this checkout's venv."""
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"}}
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    env["PYTHONUNBUFFERED"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return {**env, **extra}


def run(argv: Sequence[str | Path], *, cwd: Path, timeout: float = 240, **env: str) -> str:
    result = subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=clean_env(**env), capture_output=True, text=True, timeout=timeout
    )
    output = result.stdout[-3000:] + result.stderr[-3000:]
    assert result.returncode == 0, f"{argv} failed ({result.returncode}):\n{output}"
    return result.stdout


def base_python() -> str:
    """The interpreter this venv was made from: a venv made by a venv's python would still be clean,
    but the base one is what a stranger has."""
    return str(Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}")


def make_venv(path: Path, *, cwd: Path) -> Path:
    run([base_python(), "-m", "venv", path], cwd=cwd)
    cfg = (path / "pyvenv.cfg").read_text()
    assert "include-system-site-packages = false" in cfg, cfg
    return path / "bin"


@dataclass(frozen=True)
class Built:
    sdist: Path
    wheel: Path
    setuptools: str  # the version the build ran with


@dataclass(frozen=True)
class Installed:
    bin: Path
    home: Path  # outside the checkout: every command runs here


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """sdist, then the wheel from that sdist (what `python -m build` does), with
    setuptools pinned to the lower bound: a bound too low fails here."""
    work = tmp_path_factory.mktemp("build")
    bound = setuptools_lower_bound()
    bin_ = make_venv(work / "venv", cwd=work)
    run([bin_ / "pip", "install", "--quiet", f"setuptools=={bound}", "build"], cwd=work)
    used = run([bin_ / "python", "-c", "import setuptools; print(setuptools.__version__)"], cwd=work).strip()
    # --no-isolation: the build runs on the venv's pinned setuptools, not the newest one pip would pick
    run([bin_ / "python", "-m", "build", "--no-isolation", "--outdir", work / "dist", ROOT], cwd=work)
    (sdist,) = (work / "dist").glob("leitstand-*.tar.gz")
    (wheel,) = (work / "dist").glob("leitstand-*-py3-none-any.whl")
    return Built(sdist=sdist, wheel=wheel, setuptools=used)


@pytest.fixture(scope="module")
def installed(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    home = tmp_path_factory.mktemp("stranger")
    assert not home.resolve().is_relative_to(ROOT)
    bin_ = make_venv(home / "venv", cwd=home)
    # pip's cache makes a second run quick; --find-links lets the extras name the wheel's own dists
    run([bin_ / "pip", "install", "--quiet", "--find-links", built.wheel.parent, f"{built.wheel}[demo]"], cwd=home)
    where = run([bin_ / "python", "-c", "import collector, agent, tui; print(collector.__file__)"], cwd=home)
    assert Path(where.strip()).is_relative_to(home / "venv"), where
    return Installed(bin=bin_, home=home)


def test_the_build_ran_on_the_lowest_allowed_setuptools(built: Built) -> None:
    assert built.setuptools == setuptools_lower_bound()
    assert built.wheel.name == "leitstand-0.1.0-py3-none-any.whl"


def test_the_sdist_carries_licence_runbooks_dashboards_and_units(built: Built) -> None:
    with tarfile.open(built.sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
        # the bundled folders are symlinks in the checkout: the sdist must hold the files themselves
        assert all(not m.issym() for m in tar.getmembers()), [m.name for m in tar.getmembers() if m.issym()]
    for name in (
        "LICENSE",
        "NOTICE",
        "README.md",
        "collector/bundled/runbooks/host-down.md",
        "collector/bundled/dashboards/fleet-overview.json",
        "collector/bundled/dashboards/provisioning/leitstand-dashboards.yaml",
        "collector/bundled/deploy/leitstand-collector.service",
        "collector/bundled/deploy/leitstand-agent.service",
        "collector/bundled/deploy/collector.toml",
        "tui/leitstand.tcss",
    ):
        assert name in names, f"{name} missing from {built.sdist.name}"
    runbooks = {n for n in names if n.startswith("collector/bundled/runbooks/") and n.endswith(".md")}
    assert len(runbooks) == len(list((ROOT / "runbooks").rglob("*.md")))  # German and runbooks/en/


def _get(url: str, token: str) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return int(resp.status), resp.read()


def _hosts(url: str, token: str) -> list[dict[str, object]]:
    status, body = _get(f"{url}/api/v1/hosts", token)
    assert status == 200
    data = json.loads(body)
    return list(data["hosts"] if isinstance(data, dict) else data)


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in reversed(procs):
        stop_process(proc, signal.SIGINT)


def _alive(proc: subprocess.Popen[bytes], log: Path) -> None:
    if proc.poll() is not None:
        raise AssertionError(f"exited with {proc.returncode}:\n{log.read_text()[-3000:]}")


def test_installed_collector_takes_the_installed_agent_and_serves_a_runbook(
    installed: Installed, processes: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    leitstand_collector = installed.bin / "leitstand-collector"
    data = tmp_path / "data"
    data.mkdir()
    db = data / "collector.db"
    run([leitstand_collector, "tenant", "add", "stadt-lohne", "--db", db], cwd=installed.home)
    enroll = run(
        [leitstand_collector, "token", "create", "--role", "enroll", "--tenant", "stadt-lohne", "--db", db],
        cwd=installed.home,
    ).strip()
    admin = run([leitstand_collector, "token", "create", "--role", "admin", "--db", db], cwd=installed.home).strip()

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "collector.log"
    with log.open("wb") as out:
        collector = subprocess.Popen(
            [leitstand_collector, "serve", "--db", str(db), "--listen", f"127.0.0.1:{port}"],
            cwd=installed.home,
            env=clean_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    processes.append(collector)

    def healthy() -> bool:
        _alive(collector, log)
        with urllib.request.urlopen(f"{url}/healthz", timeout=1) as resp:
            return bool(resp.status == 200)

    wait_until(healthy, timeout=60, what=f"installed collector on {url}")

    # the runbook comes from the wheel's package data, not from this checkout
    status, body = _get(f"{url}/api/v1/runbooks/host-down", admin)
    assert status == 200
    text = body.decode()
    # the runbook's title and sections as the repository has them (the API renders it: no front matter)
    source = (ROOT / "runbooks" / "host-down.md").read_text().splitlines()
    headings = [line for line in source if line.startswith("#")]
    assert text.startswith(headings[0] + "\n"), text[:300]
    assert all(h in text.splitlines() for h in headings), text[:300]

    agent_env = {
        "LEITSTAND_AGENT_STATE_DIR": str(tmp_path / "agent-state"),
        "LEITSTAND_AGENT_SAMPLE_INTERVAL": "1",
        "LEITSTAND_AGENT_SEND_INTERVAL": "1",
    }
    leitstand_agent = installed.bin / "leitstand-agent"
    run(
        [leitstand_agent, "enroll", "--collector", url, "--enroll-token", enroll],
        cwd=installed.home,
        **agent_env,
    )
    agent_log = tmp_path / "agent.log"
    with agent_log.open("wb") as out:
        agent = subprocess.Popen(
            [leitstand_agent, "run"],
            cwd=installed.home,
            env=clean_env(**agent_env),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    processes.append(agent)

    def reported() -> list[dict[str, object]]:
        _alive(agent, agent_log)
        # enrolling lists the host already; its headline metrics come only with a report
        return [h for h in _hosts(url, admin) if h.get("metrics")]

    (host,) = wait_until(reported, timeout=60, what="the installed agent's first report in /api/v1/hosts")
    assert host.get("tenant") == "stadt-lohne", host
    assert host.get("state") == "online", host
    agent.send_signal(signal.SIGTERM)
    assert agent.wait(30) == 0, agent_log.read_text()[-3000:]


def test_installed_demo_shows_its_fleet(
    installed: Installed, processes: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    log = tmp_path / "demo.out"
    with log.open("wb") as out:
        demo = subprocess.Popen(
            [
                installed.bin / "leitstand",
                "demo",
                "--no-tui",
                "--data-dir",
                str(tmp_path / "demo-data"),
                "--port",
                str(free_port()),
                "--interval",
                "2",
            ],
            cwd=installed.home,
            env=clean_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    processes.append(demo)

    def started() -> tuple[str, str] | None:
        _alive(demo, log)
        text = log.read_text()
        url = re.search(r"collector (http://127\.0\.0\.1:\d+)", text)
        token = re.search(r"Admin token for this session.*\n\s+(\S+)", text)
        return (url.group(1), token.group(1)) if url and token else None

    url, token = wait_until(started, timeout=60, what="the demo's start line and admin token")

    def fleet() -> set[str]:
        _alive(demo, log)
        tenants = {str(h.get("tenant")) for h in _hosts(url, token) if h.get("metrics")}
        # the simulated fleet's two tenants next to the demo's own host
        return tenants if {"stadt-lohne", "gemeinde-dinklage"} <= tenants else set()

    wait_until(fleet, timeout=90, what="the demo fleet's hosts in /api/v1/hosts")
    # the demo extra brings snmpsim: the devices are served from the packaged recordings
    assert "synthesized" not in log.read_text()
    demo.send_signal(signal.SIGINT)
    demo.wait(30)
    assert "stopping" in log.read_text()
