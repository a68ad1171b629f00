"""The real agent against the real collector process: outages, kill -9 of the
agent mid-send, and restarts lose nothing and count nothing twice."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from agent.runner import Runner
from agent.sampling import Sampler
from agent.sender import AuthError, Backoff, RejectedError, Sender, enroll
from agent.spool import Spool
from tests.e2e.conftest import CollectorProcess
from tests.support import leitstand, wait_until

pytestmark = pytest.mark.slow


def _stored_seqs(db: Path, agent_id: str) -> list[int]:
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return [s for (s,) in conn.execute("SELECT seq FROM samples WHERE agent_id = ? ORDER BY seq", (agent_id,))]
    finally:
        conn.close()


class Clock:
    """Monotonic and wall clock the test moves by hand: an hour passes in no time."""

    def __init__(self, wall: float) -> None:
        self.mono = 0.0
        self.start = wall

    def __call__(self) -> float:
        return self.mono

    def wall(self) -> float:
        return self.start + self.mono


def test_collector_down_for_an_hour_then_every_report_arrives_once_in_order(
    collector_proc: CollectorProcess, tmp_path: Path
) -> None:
    c = collector_proc
    c.start()
    token = enroll(c.url, c.token("enroll", "t1"), "outage-agent", "outage-host")
    c.stop()  # the collector goes away before the first report

    clock = Clock(time.time() - 3700)
    sampler = Sampler(psutil, clock=clock.wall)
    with Spool(tmp_path / "spool.sqlite", 50 * 1024 * 1024) as spool, Sender(c.url, token, timeout=2) as sender:
        runner = Runner(
            sampler,
            spool,
            sender,
            sampler.agent_info("outage-agent", "0.1.0"),
            sample_interval=15,
            send_interval=60,
            clock=clock,
            wall_clock=clock.wall,
            backoff=Backoff(base=1.0, cap=300.0, rng=random.Random(1)),
        )
        attempts = 0
        for i in range(240):  # one hour at 15 s, a flush attempt every minute
            clock.mono += 15
            runner.sample_once()
            if i % 4 == 3 and runner.maybe_flush() is not None:
                attempts += 1
        assert attempts > 0  # it did try, and failed, while the collector was down
        assert spool.pending_count() == 240

        c.start()
        clock.mono += 301  # past the longest backoff
        result = runner.maybe_flush()
        assert result is not None and result.ok, result
        assert spool.pending_count() == 0
    assert _stored_seqs(c.db, "outage-agent") == list(range(1, 241))
    conn = sqlite3.connect(c.db)
    ts = [t for (t,) in conn.execute("SELECT ts FROM samples WHERE agent_id='outage-agent' ORDER BY seq")]
    conn.close()
    assert ts == sorted(ts)  # in order
    assert ts[-1] - ts[0] == pytest.approx(239 * 15)


def _agent_env(config: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEITSTAND_")}
    env.update(extra)
    return env


def _status(config: Path) -> dict[str, object]:
    out = subprocess.run(
        [leitstand("leitstand-agent"), "--config", str(config), "status", "--json"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


def _drained_since(config: Path, started: float) -> bool:
    status = _status(config)
    last = status["last_send"]
    return status["pending_reports"] == 0 and isinstance(last, dict) and last["ok"] and last["at"] >= started


def test_agent_killed_mid_send_again_and_again_loses_and_doubles_nothing(
    collector_proc: CollectorProcess, tmp_path: Path
) -> None:
    c = collector_proc
    c.start()
    config = tmp_path / "agent.toml"
    config.write_text(
        f'collector_url = "{c.url}"\nstate_dir = "{tmp_path / "state"}"\nagent_id = "crash-agent"\n'
        "sample_interval = 0.02\nsend_interval = 0.02\nbatch_max = 5\n"
    )
    subprocess.run(
        [leitstand("leitstand-agent"), "--config", str(config), "enroll", "--collector", c.url,
         "--enroll-token", c.token("enroll", "t1")],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    rng = random.Random(42)
    exits: list[int] = []
    log = (tmp_path / "agent.log").open("ab")
    for _ in range(6):
        before = len(_stored_seqs(c.db, "crash-agent"))
        agent = subprocess.Popen(
            [leitstand("leitstand-agent"), "-q", "--config", str(config), "run"],
            env=_agent_env(config),
            stderr=log,
        )
        wait_until(
            lambda before=before: len(_stored_seqs(c.db, "crash-agent")) > before + 5,  # type: ignore[misc]
            timeout=30,
            what="agent sending",
        )
        # land the kill at an arbitrary point of the sample/send loop
        time.sleep(rng.uniform(0, 0.05))  # fault timing, not a wait for readiness
        agent.send_signal(signal.SIGKILL)
        exits.append(agent.wait(10))

    log.close()
    # Each run died of the kill, none had exited on its own before it (which would test nothing).
    assert exits == [-signal.SIGKILL] * 6
    status = _status(config)
    last_seq = int(status["last_seq"])  # type: ignore[call-overload]
    pending = int(status["pending_reports"])  # type: ignore[call-overload]
    stored = _stored_seqs(c.db, "crash-agent")
    # Everything the spool let go of (acknowledged) is at the collector, contiguous.
    assert stored[: last_seq - pending] == list(range(1, last_seq - pending + 1))
    assert len(stored) == len(set(stored))

    # One more run with sampling parked: the spool drains, every seq exactly once.
    started = time.time()
    agent = subprocess.Popen(
        [leitstand("leitstand-agent"), "-q", "--config", str(config), "run"],
        env=_agent_env(config, LEITSTAND_AGENT_SAMPLE_INTERVAL="3600"),
    )
    try:
        wait_until(lambda: _drained_since(config, started), timeout=30, what="spool drained")
    finally:
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(15) == 0
    status = _status(config)
    assert status["dropped_total"] == 0
    assert _stored_seqs(c.db, "crash-agent") == list(range(1, int(status["last_seq"]) + 1))  # type: ignore[call-overload]


def test_enroll_failures_say_what_to_do(collector_proc: CollectorProcess) -> None:
    """Against the real collector: a re-enrollment without a --replace token and a
    used-up enroll token are refused with the collector's reason and the fix."""
    c = collector_proc
    enroll_token = c.token("enroll", "stadt-a")  # no use limit, no --replace
    c.start()
    assert enroll(c.url, enroll_token, "e2e-1", "rathaus-1")
    with pytest.raises(RejectedError) as again:
        enroll(c.url, enroll_token, "e2e-1", "rathaus-1")
    assert again.value.status == 409
    assert "--replace" in str(again.value)
    assert "seq restarted" not in str(again.value)  # the hint of a report POST would mislead
    with pytest.raises(AuthError) as unknown:
        enroll(c.url, "not-a-token", "e2e-2", "rathaus-2")
    assert unknown.value.status == 401
    assert "token create --role enroll" in str(unknown.value)
