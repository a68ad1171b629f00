"""`leitstand-agent`: commands, messages and exit codes."""

from __future__ import annotations

import io
import json
import os
import signal
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from agent import cli, identity, wire
from agent.spool import AckNotes, SendRecord, Spool
from tests.agent.test_sender import CollectorStub, Reply, Seen

REPO = Path(__file__).resolve().parents[2]
AGENT_ID = "test-agent-1"


class FakeSampler:
    """Stands in for agent.sampling.Sampler: fixed values, no psutil."""

    def __init__(self) -> None:
        self.calls = 0

    def agent_info(self, agent_id: str, version: str) -> wire.AgentInfo:
        return wire.AgentInfo(id=agent_id, hostname="rathaus-tc-017", version=version, role="thin-client")

    def sample(self, interval_s: float) -> dict[str, object]:
        self.calls += 1
        return {
            "ts": 1_763_812_345.0 + self.calls,
            "interval_s": interval_s,
            "cpu": wire.Cpu(count=4, percent=12.5, busy_seconds_total=86123.4),
            "sessions": 1,
        }


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    state = tmp_path / "state"
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    monkeypatch.setenv("LEITSTAND_AGENT_STATE_DIR", str(state))
    monkeypatch.setenv("LEITSTAND_AGENT_AGENT_ID", AGENT_ID)
    monkeypatch.setattr(cli, "_make_sampler", lambda config: FakeSampler())
    return state


@pytest.fixture
def stub() -> Iterator[CollectorStub]:
    with CollectorStub() as collector:
        yield collector


def enroll_args(stub: CollectorStub, *extra: str) -> list[str]:
    return ["enroll", "--collector", stub.url, "--enroll-token", "enroll-secret", *extra]


def test_help_has_examples_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    for command in ("once", "run", "enroll", "status"):
        assert (
            f"leitstand-agent {command}" in text
            or f"leitstand-agent --config /etc/leitstand/agent.toml {command}" in text
        )
    assert "exit codes:" in text
    assert "LEITSTAND_AGENT_" in text


def test_subcommand_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["enroll", "--help"])
    text = capsys.readouterr().out
    assert "--enroll-token-file" in text
    assert "examples:" in text


def test_missing_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main([])
    assert exited.value.code == cli.EXIT_CONFIG


def test_once_prints_a_valid_report_and_writes_nothing(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["once"]) == cli.EXIT_OK
    document = json.loads(capsys.readouterr().out)
    assert document["agent"]["id"] == AGENT_ID
    assert "seq" not in document["report"]  # only the spool assigns seqs
    report = msgspec.convert({**document["report"], "seq": 1}, wire.Report)
    assert report.cpu == wire.Cpu(count=4, percent=12.5, busy_seconds_total=86123.4)
    assert report.interval_s == 15.0
    assert not state_dir.exists()


def test_config_error_exits_2_naming_file_and_line(
    state_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "agent.toml"
    config.write_text('site = "rathaus"\nsample_intervall = 30\n')
    assert cli.main(["--config", str(config), "once"]) == cli.EXIT_CONFIG
    assert f"{config}:2: sample_intervall: unknown setting" in capsys.readouterr().err


def test_config_option_works_after_the_subcommand_too(
    state_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "agent.toml"
    config.write_text("batch_max = 0\n")
    assert cli.main(["status", "--config", str(config)]) == cli.EXIT_CONFIG
    assert "batch_max" in capsys.readouterr().err


# -- enroll --------------------------------------------------------------------


def test_enroll_stores_a_private_token_and_the_collector_url(
    state_dir: Path, stub: CollectorStub, capsys: pytest.CaptureFixture[str]
) -> None:
    stub.script.append(Reply(200, {"token": "agent-secret", "agent_id": AGENT_ID, "tenant": "stadt-lohne"}))
    assert cli.main([*enroll_args(stub), "--hostname", "rathaus-tc-017"]) == cli.EXIT_OK

    (request,) = stub.requests
    assert request.headers["Authorization"] == "Bearer enroll-secret"
    assert json.loads(request.body) == {"agent_id": AGENT_ID, "hostname": "rathaus-tc-017"}
    token_file = state_dir / "token"
    assert token_file.read_text().strip() == "agent-secret"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert identity.read_enrollment(state_dir) == identity.Enrollment(
        collector_url=stub.url,
        agent_id=AGENT_ID,
        ca_bundle=None,
        enrolled_at=identity.read_enrollment(state_dir).enrolled_at,  # type: ignore[union-attr]
    )
    out = capsys.readouterr().out
    assert str(token_file) in out
    assert [p.name for p in state_dir.iterdir() if p.name.startswith(".")] == []  # no temp files left


def test_enroll_token_can_come_from_stdin(
    state_dir: Path, stub: CollectorStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub.script.append(Reply(200, {"token": "agent-secret"}))
    monkeypatch.setattr(sys, "stdin", io.StringIO("enroll-from-stdin\n"))
    assert cli.main(["enroll", "--collector", stub.url, "--enroll-token-file", "-"]) == cli.EXIT_OK
    assert stub.requests[0].headers["Authorization"] == "Bearer enroll-from-stdin"


def test_enroll_does_not_replace_a_token_without_force(
    state_dir: Path, stub: CollectorStub, capsys: pytest.CaptureFixture[str]
) -> None:
    stub.script += [Reply(200, {"token": "first"}), Reply(200, {"token": "second"})]
    assert cli.main(enroll_args(stub)) == cli.EXIT_OK
    assert cli.main(enroll_args(stub)) == cli.EXIT_CONFIG
    assert "--force" in capsys.readouterr().err
    assert len(stub.requests) == 1
    assert cli.main(enroll_args(stub, "--force")) == cli.EXIT_OK
    assert (state_dir / "token").read_text().strip() == "second"


def test_enroll_with_a_rejected_token_exits_3(
    state_dir: Path, stub: CollectorStub, capsys: pytest.CaptureFixture[str]
) -> None:
    stub.script.append(Reply(401, {"error": "unknown or revoked token"}))
    assert cli.main(enroll_args(stub)) == cli.EXIT_REJECTED
    assert "unknown or revoked token" in capsys.readouterr().err
    assert not (state_dir / "token").exists()


def test_enroll_with_the_collector_down_exits_4(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with CollectorStub(listening=False) as down:
        code = cli.main(["enroll", "--collector", down.url, "--enroll-token", "x"])
    assert code == cli.EXIT_TRANSPORT
    assert "cannot reach the collector" in capsys.readouterr().err


def test_enroll_rejects_a_malformed_url(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["enroll", "--collector", "leitstand.kreis.example", "--enroll-token", "x"])
    assert exited.value.code == cli.EXIT_CONFIG
    assert "http(s)://" in capsys.readouterr().err


# -- run -----------------------------------------------------------------------


def test_run_without_enrollment_exits_2_and_changes_nothing(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["run"]) == cli.EXIT_CONFIG
    assert "leitstand-agent enroll" in capsys.readouterr().err
    assert not state_dir.exists()


def test_run_sends_and_exits_0_on_sigterm(state_dir: Path, stub: CollectorStub) -> None:
    identity.write_token(state_dir / "token", "agent-secret")
    identity.write_enrollment(state_dir, identity.Enrollment(collector_url=stub.url, agent_id=AGENT_ID))

    def ack_then_terminate(seen: Seen) -> Reply:
        os.kill(os.getpid(), signal.SIGTERM)  # systemctl stop while a POST is in flight
        return stub.ack_all(seen)

    stub.responder = ack_then_terminate
    assert cli.main(["run"]) == cli.EXIT_OK
    assert stub.received == [1]
    assert stub.requests[0].headers["Authorization"] == "Bearer agent-secret"
    with Spool(state_dir / "spool.sqlite") as spool:
        assert spool.pending_count() == 0  # the acknowledgement was processed before exiting
        last = spool.last_send()
    assert last is not None
    assert last.acked_through == 1


def test_run_with_an_unreadable_ca_bundle_is_a_config_error(
    state_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    identity.write_token(state_dir / "token", "agent-secret")
    monkeypatch.setenv("LEITSTAND_AGENT_COLLECTOR_URL", "https://leitstand.kreis.example")
    monkeypatch.setenv("LEITSTAND_AGENT_CA_BUNDLE", str(tmp_path / "missing.pem"))
    assert cli.main(["run"]) == cli.EXIT_CONFIG
    assert "ca_bundle" in capsys.readouterr().err


# -- status --------------------------------------------------------------------


def test_status_shows_spool_figures(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state_dir.mkdir()
    with Spool(state_dir / "spool.sqlite") as spool:
        for i in range(3):
            spool.enqueue({"ts": 1_763_812_345.0 + i, "interval_s": 15.0})
        spool.ack_through(1)
        spool.record_send(SendRecord(at=1_763_812_400.0, ok=False, detail="HTTP 503 disk full", acked_through=1))

    assert cli.main(["status", "--json"]) == cli.EXIT_OK
    status = json.loads(capsys.readouterr().out)
    assert status["pending_reports"] == 2
    assert status["last_seq"] == 3
    assert status["dropped_total"] == 0
    assert status["enrolled"] is False
    assert status["last_send"] == {
        "at": 1_763_812_400.0,
        "ok": False,
        "detail": "HTTP 503 disk full",
        "acked_through": 1,
    }

    assert cli.main(["status"]) == cli.EXIT_OK
    text = capsys.readouterr().out
    assert "pending:   2 report(s)" in text
    assert "last seq:  3" in text
    assert "FAILED: HTTP 503 disk full" in text
    assert "missing: run enroll" in text


def test_status_without_a_spool_creates_nothing(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["status", "--json"]) == cli.EXIT_OK
    status = json.loads(capsys.readouterr().out)
    assert (status["pending_reports"], status["last_seq"], status["last_send"]) == (0, 0, None)
    assert not state_dir.exists()


def test_unusable_spool_exits_5(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state_dir.mkdir()
    (state_dir / "spool.sqlite").write_bytes(b"garbage" * 200)
    assert cli.main(["status"]) == cli.EXIT_STATE
    assert "spool" in capsys.readouterr().err


# -- dead letters ----------------------------------------------------------------


def _spool_with_dead_letters(state_dir: Path) -> None:
    state_dir.mkdir()
    with Spool(state_dir / "spool.sqlite") as spool:
        for i in range(8):
            spool.enqueue({"ts": 1_763_812_345.0 + i, "interval_s": 15.0})
        for seq in range(1, 8):
            spool.dead_letter(
                seq, 500 if seq == 7 else 400, f"POST /api/v1/reports: HTTP 400 bad {seq}\nmore", at=1_763_812_400.0
            )
        spool.record_ack_notes(
            AckNotes(at=1_763_812_400.0, refused=["device drucker-1: assigned to tenant b"], unknown_fields=["$.x.y"])
        )


def test_status_shows_dead_letters_and_what_the_collector_refused(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _spool_with_dead_letters(state_dir)
    assert cli.main(["status", "--json"]) == cli.EXIT_OK
    status = json.loads(capsys.readouterr().out)
    assert status["dead_letters"] == 7
    assert status["dead_lettered_total"] == 7
    assert [d["seq"] for d in status["dead_letters_newest"]] == [7, 6, 5, 4, 3]
    assert status["dead_letters_newest"][0] == {
        "seq": 7,
        "at": 1_763_812_400.0,
        "status": 500,
        "error": "POST /api/v1/reports: HTTP 400 bad 7",  # the first line only
    }
    assert status["refused_devices"] == ["device drucker-1: assigned to tenant b"]
    assert status["unknown_fields"] == ["$.x.y"]

    assert cli.main(["status"]) == cli.EXIT_OK
    text = capsys.readouterr().out
    assert "dead:      7 report(s) the collector could not take" in text
    assert "seq 7  2025-11-22 11:53:20 UTC  HTTP 500  POST /api/v1/reports: HTTP 400 bad 7" in text
    assert "seq 2 " not in text  # only the newest five
    assert "refused:   device drucker-1: assigned to tenant b" in text
    assert "ignored:   $.x.y" in text


def test_deadletter_list_retry_and_purge(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _spool_with_dead_letters(state_dir)
    assert cli.main(["deadletter", "list"]) == cli.EXIT_OK
    text = capsys.readouterr().out
    assert "7 dead letter(s)" in text
    assert "seq 1 " in text

    assert cli.main(["deadletter", "list", "--json", "--limit", "2"]) == cli.EXIT_OK
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(e["seq"], e["status"]) for e in lines] == [(7, 500), (6, 400)]
    assert lines[0]["report"]["seq"] == 7  # the report as it would be sent
    assert lines[0]["error"].endswith("more")  # the whole error

    assert cli.main(["deadletter", "purge"]) == cli.EXIT_CONFIG  # purge must be explicit
    assert "--all" in capsys.readouterr().err
    assert cli.main(["deadletter", "retry", "2", "3", "99"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "2 dead letter(s) back in the outbox" in out
    assert "not dead letters (nothing done): 99" in out
    assert cli.main(["deadletter", "purge", "1"]) == cli.EXIT_OK
    assert "1 dead letter(s) deleted for good" in capsys.readouterr().out
    with Spool(state_dir / "spool.sqlite") as spool:
        assert [seq for seq, _ in spool.peek(10)] == [2, 3, 8]
        assert [d.seq for d in spool.dead_letters()] == [7, 6, 5, 4]
    assert cli.main(["deadletter", "purge", "--all"]) == cli.EXIT_OK
    with Spool(state_dir / "spool.sqlite") as spool:
        assert spool.dead_letter_count() == 0
        assert spool.pending_count() == 3


def test_deadletter_without_a_spool_creates_nothing(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["deadletter", "list"]) == cli.EXIT_CONFIG
    assert "no spool" in capsys.readouterr().err
    assert not state_dir.exists()
