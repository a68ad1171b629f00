"""The refusal reaches the operator of the reporting agent: a real collector
process with an assignment, the agent's own spool, runner and sender, and
`leitstand-agent status` showing the line from the ack."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent import cli, wire
from agent.runner import Runner
from agent.sender import Sender, enroll
from agent.spool import Spool
from collector.devices import refusal_line
from tests.e2e.conftest import CollectorProcess

# a collector process of its own, on a SQLite file (the PostgreSQL runs cover the same path in process)
pytestmark = [pytest.mark.slow, pytest.mark.sqlite_only]

CONFIG = """\
[devices.assign."prn-b"]
tenant = "stadt-b"
pollers = ["agent-b"]
"""


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[CollectorProcess]:
    config = tmp_path / "collector.toml"
    config.write_text(CONFIG)
    proc = CollectorProcess(tmp_path / "collector.db", tmp_path / "collector.log", config=config)
    proc.token("enroll", "stadt-b")  # the tenant exists before the start: no warning about it
    proc.start()
    yield proc
    proc.stop()


class NoSampler:
    def sample(self, interval_s: float) -> dict[str, object]:
        raise AssertionError("not sampling here")


def test_agent_status_shows_the_device_the_collector_refused(
    collector: CollectorProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    token = enroll(collector.url, collector.token("enroll", "stadt-a"), "agent-a", "rathaus-a")
    state = tmp_path / "state"
    state.mkdir()
    now = time.time()
    snmp = [
        {"device": "prn-a", "kind": "printer", "ts": now, "printer": {"pages_total": 10}},
        {"device": "prn-b", "kind": "printer", "ts": now, "printer": {"pages_total": 99_999}},
    ]
    with Spool(state / "spool.sqlite") as spool, Sender(collector.url, token, timeout=10) as sender:
        spool.enqueue({"ts": now, "interval_s": 60.0, "snmp": snmp})
        runner = Runner(NoSampler(), spool, sender, wire.AgentInfo(id="agent-a", hostname="rathaus-a"))
        result = runner.flush()
        assert result.ok, result.error
        assert spool.pending_count() == 0  # the report was acknowledged and stored

    monkeypatch.setenv("LEITSTAND_AGENT_STATE_DIR", str(state))
    monkeypatch.setenv("LEITSTAND_AGENT_AGENT_ID", "agent-a")
    assert cli.main(["status", "--json"]) == cli.EXIT_OK
    assert json.loads(capsys.readouterr().out)["refused_devices"] == [refusal_line("prn-b")]
    assert cli.main(["status"]) == cli.EXIT_OK
    assert f"refused:   {refusal_line('prn-b')}" in capsys.readouterr().out

    admin_token = collector.token("admin")
    request = urllib.request.Request(
        f"{collector.url}/api/v1/devices", headers={"Authorization": f"Bearer {admin_token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        listed = json.loads(resp.read())
    assert [(d["tenant"], d["id"]) for d in listed["devices"]] == [("stadt-a", "prn-a")]
    assert "prn-b" in collector.log.read_text()  # and the collector logged the refusal
