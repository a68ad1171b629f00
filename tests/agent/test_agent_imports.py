"""What a running agent loads: only what its configured work needs (the RSS budget).

`leitstand-agent run` with a plain-http collector and no SNMP devices runs as a
real process under `python -X importtime`, sends to a real local HTTP server,
and every module it imported in its lifetime is read from that trace.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent import cli
from tests.agent.test_sender import CollectorStub, Reply

REPO = Path(__file__).resolve().parents[2]

# Each costs RSS that an http:// agent without devices has no use for:
# ssl ~4 MB, http.client ~5 MB with the email package, hashlib's OpenSSL ~3.5 MB (for one
# hash of the machine-id), pysnmp and the probe's SNMP package.
NOT_FOR_PLAIN_HTTP = (
    "ssl",
    "_ssl",
    "http.client",
    "email",
    "_hashlib",
    "pysnmp",
    "pyasn1",
    "agent.snmp",
    "agent.snmp.probe",
)


def imported_modules(importtime_trace: str) -> set[str]:
    """Module names from `python -X importtime` lines (`import time: self | cumulative | name`)."""
    names = set()
    for line in importtime_trace.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":  # the header line
                names.add(name)
    return names


def write_config(tmp_path: Path, collector_url: str) -> Path:
    config = tmp_path / "agent.toml"
    state = tmp_path / "state"
    config.write_text(
        f'collector_url = "{collector_url}"\nstate_dir = "{state}"\nsample_interval = 0.2\nsend_interval = 0.5\n'
    )
    return config


def agent_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEITSTAND_AGENT_")}
    return {
        **env,
        "PYTHONPATH": str(REPO),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
        "XDG_STATE_HOME": str(tmp_path / "xdg-state"),
    }


def test_imported_modules_reads_an_importtime_trace() -> None:
    trace = (
        "import time: self [us] | cumulative | imported package\n"
        "import time:       120 |        120 |   _io\n"
        "import time:      1959 |       4871 |           inspect\n"
        "some other line on stderr\n"
    )
    assert imported_modules(trace) == {"_io", "inspect"}


def test_run_with_an_http_collector_and_no_devices_loads_no_tls_email_libcrypto_or_snmp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with CollectorStub() as stub:
        config = write_config(tmp_path, stub.url)
        env = agent_env(tmp_path)
        for name in [k for k in os.environ if k.startswith("LEITSTAND_AGENT_")]:
            monkeypatch.delenv(name)
        stub.script.append(Reply(200, {"token": "agent-token"}))
        enroll = ["--config", str(config), "enroll", "--collector", stub.url, "--enroll-token", "enroll-secret"]
        assert cli.main(enroll) == cli.EXIT_OK

        proc = subprocess.Popen(
            [sys.executable, "-X", "importtime", "-m", "agent.cli", "--config", str(config), "run"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 30
            # The enroll request is the first; wait for a report batch after it.
            while len(stub.requests) < 2 and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(stub.requests) >= 2, "the agent sent no report within 30 s"
        finally:
            proc.send_signal(signal.SIGTERM)
            _, trace = proc.communicate(timeout=30)
    assert proc.returncode == 0, trace[-2000:]
    assert stub.requests[1].path == "/api/v1/reports"

    modules = imported_modules(trace)
    # The trace really covers the send path (so the absence below means something).
    assert {"agent.sender", "agent.transport", "agent.identity", "h11", "psutil", "agent.sampling.sampler"} <= modules
    loaded = sorted(m for m in modules if m in NOT_FOR_PLAIN_HTTP or m.split(".")[0] in ("email", "pysnmp"))
    assert loaded == []


def python_c(code: str) -> str:
    """stdout of ``python -c code`` in a fresh interpreter (this test process has imported everything)."""
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_agent_cli_imports_neither_the_collector_nor_psutil_up_front() -> None:
    code = (
        "import sys, agent.cli, agent.runner\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('collector', 'psutil', 'httpx', 'requests')))"
    )
    assert python_c(code) == "[]"


def test_an_https_collector_does_load_ssl() -> None:
    # The other side of the rule: TLS is there when the URL asks for it.
    code = (
        "import sys\n"
        "from agent.sender import Sender\n"
        "assert 'ssl' not in sys.modules\n"
        "Sender('https://collector.kreis.example', 't').close()\n"
        "print('ssl' in sys.modules)\n"
    )
    assert python_c(code) == "True"
