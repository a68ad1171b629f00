"""Dead letters against the real collector process: one report it refuses (stamped
years back: 400, ``ingest.max_past_s``) among fifty, and an agent killed with
SIGKILL again and again in the middle of splitting the batch. Every other report
is stored exactly once, the refused one is dead-lettered once, later ones flow."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent import wire
from agent.runner import Runner
from agent.sender import Sender, enroll
from agent.spool import Spool
from tests.e2e.conftest import CollectorProcess

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
AGENT_ID = "poison-agent"
POISON = 23
# The batch is split in halves, oldest first; a child process kills itself right
# after the collector acknowledged its n-th batch, before the spool learns of it.
_CHILD = """
import os, signal, sys
from agent import wire
from agent.runner import Runner
from agent.sender import Sender
from agent.spool import Spool

url, token, path, kill_after = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])


class KillingSender(Sender):
    sends = 0

    def send(self, agent, reports):
        ack = super().send(agent, reports)
        KillingSender.sends += 1
        if KillingSender.sends == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)
        return ack


class NoSampler:
    def sample(self, interval_s):
        raise AssertionError("not sampling here")


with Spool(path) as spool, KillingSender(url, token, timeout=10) as sender:
    runner = Runner(NoSampler(), spool, sender, wire.AgentInfo(id=sys.argv[5], hostname="poison-host"), batch_max=50)
    while spool.pending_count():
        result = runner.flush()
        if not result.ok:
            sys.exit(f"flush failed: {result.error}")
"""


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[CollectorProcess]:
    proc = CollectorProcess(tmp_path / "collector.db", tmp_path / "collector.log")
    proc.start()
    yield proc
    proc.stop()


def _stored(db: Path | str) -> list[int]:
    conn = sqlite3.connect(db)
    try:
        return [s for (s,) in conn.execute("SELECT seq FROM samples WHERE agent_id = ? ORDER BY seq", (AGENT_ID,))]
    finally:
        conn.close()


def _fill(spool: Spool, count: int, start_ts: float) -> None:
    for i in range(count):
        ts = 1_500_000_000.0 if spool.last_seq() + 1 == POISON else start_ts + 15 * i
        spool.enqueue({"ts": ts, "interval_s": 15.0, "sessions": 1})


def test_refused_report_is_dead_lettered_and_the_rest_stored_once(collector: CollectorProcess, tmp_path: Path) -> None:
    token = enroll(collector.url, collector.token("enroll", "t1"), AGENT_ID, "poison-host")
    now = time.time()
    with Spool(tmp_path / "spool.sqlite") as spool, Sender(collector.url, token, timeout=10) as sender:
        _fill(spool, 50, now - 3600)
        runner = Runner(_NoSampler(), spool, sender, wire.AgentInfo(id=AGENT_ID, hostname="poison-host"), batch_max=100)
        assert runner.flush().ok
        (dead,) = spool.dead_letters()
        assert (dead.seq, dead.status) == (POISON, 400)
        assert "ingest.max_past_s" in dead.error  # the collector's own words are kept
        assert _stored(collector.db) == [s for s in range(1, 51) if s != POISON]

        _fill(spool, 5, now - 60)  # later reports flow
        assert runner.flush().ok
        assert spool.pending_count() == 0
    assert _stored(collector.db) == [s for s in range(1, 56) if s != POISON]


def test_kill_9_while_splitting_loses_nothing_and_doubles_nothing(collector: CollectorProcess, tmp_path: Path) -> None:
    token = enroll(collector.url, collector.token("enroll", "t1"), AGENT_ID, "poison-host")
    path = tmp_path / "spool.sqlite"
    with Spool(path) as spool:
        _fill(spool, 50, time.time() - 3600)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    killed = 0
    for kill_after in (2, 1, 3, 2, 0):  # 0: run to the end
        child = subprocess.run(
            [sys.executable, "-c", _CHILD, collector.url, token, str(path), str(kill_after), AGENT_ID],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        if child.returncode == -signal.SIGKILL:
            killed += 1
        else:
            assert child.returncode == 0, child.stderr
        with Spool(path) as spool:
            pending = [seq for seq, _ in spool.peek(100)]
            dead = [d.seq for d in spool.dead_letters()]
        stored = _stored(collector.db)
        # Every report is in exactly one place, or (acknowledged, killed before the
        # spool heard of it) stored and still pending: resent later, counted once.
        assert len(stored) == len(set(stored))
        assert set(stored) | set(pending) | set(dead) == set(range(1, 51))
        assert not set(dead) & (set(stored) | set(pending))
    assert killed >= 3
    assert dead == [POISON]
    assert pending == []
    assert stored == [s for s in range(1, 51) if s != POISON]


class _NoSampler:
    def sample(self, interval_s: float) -> dict[str, object]:
        raise AssertionError("not sampling here")
