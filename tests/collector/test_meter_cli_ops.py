"""`meter export` never replaces an export file silently; `meter close` and
`meter export --all` tell a person at a terminal how far they are, and
nobody else."""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path

import pytest

from tests.collector.test_meter_cli import _db, cli
from tests.support import leitstand

pytestmark = pytest.mark.sqlite_only  # drives the CLI in a subprocess on a SQLite path


def test_export_refuses_to_overwrite_an_existing_file_unless_forced(tmp_path: Path) -> None:
    db = _db(tmp_path)
    out = tmp_path / "lohne.csv"
    out.write_text("the October invoice sent last week\n")
    args = ("meter", "export", "--tenant", "stadt-lohne", "--period", "2026-10", "--out", str(out))
    refused = cli(db, *args)
    assert refused.returncode == 1
    assert f"1 export file(s) exist already: {out}" in refused.stderr and "--force" in refused.stderr
    assert out.read_text() == "the October invoice sent last week\n"
    assert not out.with_name("lohne.csv.sha256").exists()
    forced = cli(db, *args, "--force")
    assert forced.returncode == 0, forced.stderr
    assert "stadt-lohne" in out.read_text()


def test_export_all_checks_every_file_before_writing_any(tmp_path: Path) -> None:
    db = _db(tmp_path)
    out = tmp_path / "exports"
    out.mkdir()
    (out / "stadt-lohne-2026-10-csv.csv").write_text("kept\n")
    refused = cli(db, "meter", "export", "--all", "--period", "2026-10", "--out", str(out))
    assert refused.returncode == 1 and "stadt-lohne-2026-10-csv.csv" in refused.stderr
    assert sorted(p.name for p in out.iterdir()) == ["stadt-lohne-2026-10-csv.csv"]  # dinklage's not written either


def _on_a_terminal(db: Path, *args: str) -> tuple[int, str, str]:
    """Run the CLI with stderr on a pseudo-terminal; (exit code, stdout, what the terminal showed)."""
    main, child = pty.openpty()
    proc = subprocess.Popen(
        [leitstand("leitstand-collector"), *args, "--db", str(db)], stdout=subprocess.PIPE, stderr=child, text=True
    )
    os.close(child)
    stdout, _ = proc.communicate(timeout=60)
    shown = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # EIO: the child side is closed and drained
            break
        if not chunk:
            break
        shown += chunk
    os.close(main)
    return proc.returncode, stdout, shown.decode().replace("\r\n", "\n")


def test_close_and_export_all_show_progress_on_a_terminal_only(tmp_path: Path) -> None:
    db = _db(tmp_path)
    code, stdout, shown = _on_a_terminal(db, "meter", "close", "--period", "2026-10")
    assert code == 0
    assert "[1/2] closing 2026-10: gemeinde-dinklage" in shown and "[2/2] closing 2026-10: stadt-lohne" in shown
    assert "[1/2]" not in stdout  # progress never mixes into the output
    out = tmp_path / "exports"
    code, _, shown = _on_a_terminal(db, "meter", "export", "--all", "--period", "2026-10", "--out", str(out))
    assert code == 0 and "[2/2] exporting 2026-10: stadt-lohne" in shown
    code, _, shown = _on_a_terminal(db, "meter", "export", "--all", "--period", "2026-10", "--out", str(out), "--force",
                                    "--quiet")  # fmt: skip
    assert code == 0 and "exporting" not in shown and "stadt-lohne-2026-10-csv.csv" in shown
    piped = cli(db, "meter", "export", "--all", "--period", "2026-10", "--out", str(out), "--force")
    assert piped.returncode == 0 and "exporting" not in piped.stderr  # not a terminal: no progress
