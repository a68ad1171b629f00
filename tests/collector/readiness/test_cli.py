"""`leitstand-collector readiness`: table/JSON with a cron-usable exit code,
record-test (validated, audited) and the annual review report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from collector import admin
from collector.cli import main
from collector.db import connect, migrate
from collector.readiness.cli import EXIT_NOT_READY
from tests.collector.readiness.test_api import CONFIG


@pytest.fixture
def paths(tmp_path: Path) -> tuple[Path, Path]:
    db, config = tmp_path / "c.db", tmp_path / "collector.toml"
    config.write_text(CONFIG)
    conn = connect(db)
    migrate(conn)
    for tenant in ("stadt-lohne", "stadt-b"):
        admin.add_tenant(conn, tenant, actor="test")
    conn.close()
    return db, config


def run(paths: tuple[Path, Path], *argv: str) -> int:
    db, config = paths
    return main(["readiness", *argv, "--db", str(db), "--config", str(config)])


def test_not_ready_kritis_application_exits_3_with_the_failed_checks(
    paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(paths) == EXIT_NOT_READY
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["APPLICATION", "TENANT", "CRITICALITY", "STATUS", "SCORE", "FAILED"]
    assert "emw: Letzter Umschalttest bestanden und aktuell [fail] runbook kritis-failover-test-overdue" in out
    assert "kein Umschalttest erfasst" in out


def test_json_output_carries_checks_and_evidence(paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert run(paths, "--app", "emw", "--json", "--lang", "en") == EXIT_NOT_READY
    (doc,) = json.loads(capsys.readouterr().out)["applications"]
    assert doc["name"] == "emw" and doc["status"] == "not_ready"
    failover = next(c for c in doc["checks"] if c["id"] == "failover_test")
    assert failover["evidence"][0]["text"].startswith("no failover test recorded")


def test_exit_code_ignores_non_kritis_applications_unless_asked(
    paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    # portal-b (standard) is not ready either (no evidence), but only --app makes it count
    assert run(paths, "--app", "portal-b") == EXIT_NOT_READY
    assert run(paths, "--app", "nope") == 1
    assert "unknown application 'nope' (configured: emw, portal-b)" in capsys.readouterr().err


def test_record_test_is_validated_and_audited(paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert run(paths, "record-test", "--app", "emw", "--date", "2999-01-01", "--result", "passed") == 1
    assert "lies in the future" in capsys.readouterr().err
    assert run(paths, "record-test", "--app", "emw", "--date", "14.03.2026", "--result", "passed") == 1
    assert "use YYYY-MM-DD" in capsys.readouterr().err
    assert run(paths, "record-test", "--app", "nix", "--result", "passed") == 1
    assert run(paths, "record-test", "--app", "emw", "--result", "failed", "--note", "DB startete nicht") == 0
    assert "recorded: failed" in capsys.readouterr().out
    conn = connect(paths[0])
    try:
        rows = conn.execute("SELECT app, tenant, result, note, actor FROM failover_tests").fetchall()
        audit = [a for a in admin.list_audit(conn) if a["action"] == "readiness.record_test"]
    finally:
        conn.close()
    assert len(rows) == 1 and rows[0][:4] == ("emw", "stadt-lohne", "failed", "DB startete nicht")
    assert rows[0][4].startswith("cli:") and len(audit) == 1 and audit[0]["actor"] == rows[0][4]


def test_report_markdown_and_json(paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert (
        run(paths, "record-test", "--app", "emw", "--date", "2025-06-01", "--result", "passed", "--note", "P-17") == 0
    )
    assert run(paths) == EXIT_NOT_READY  # records the first status
    capsys.readouterr()
    out = tmp_path / "bericht.md"
    assert run(paths, "report", "--tenant", "stadt-lohne", "--from", "2025-01-01", "--out", str(out)) == 0
    md = out.read_text()
    assert md.startswith("# Bericht Umschaltbereitschaft: stadt-lohne\n")
    assert "## emw (kritis)" in md and "RPO 24 h, RTO (Wiederanlaufzeit) 4 h" in md
    assert "- 2025-06-01: bestanden: P-17" in md and "| nicht bereit |" in md
    assert "portal-b" not in md  # only KRITIS applications unless --all
    assert run(paths, "report", "--tenant", "stadt-lohne", "--from", "2025-01-01", "--format", "json") == 0
    doc = json.loads(capsys.readouterr().out)
    (app,) = doc["applications"]
    assert app["name"] == "emw" and app["failover_tests"] == [
        {"date": "2025-06-01", "result": "passed", "note": "P-17"}
    ]
    assert [h["status"] for h in app["history"]] == ["not_ready"] and doc["tenant"] == "stadt-lohne"
    assert run(paths, "report", "--tenant", "stadt-b", "--all", "--format", "json") == 0
    assert [a["name"] for a in json.loads(capsys.readouterr().out)["applications"]] == ["portal-b"]
    assert run(paths, "report", "--tenant", "stadt-lohne", "--from", "2026-02-01", "--to", "2026-01-01") == 1
