"""A runbook that points on-call to a TUI column names it as the German TUI
heads it (tui/i18n.py), so `Spalte „Disk“` is found on the screen."""

from __future__ import annotations

import re
from pathlib import Path

from tui.i18n import CATALOG

RUNBOOKS = Path(__file__).resolve().parents[2] / "runbooks"
GERMAN_HEADERS = {de for key, (de, _en) in CATALOG.items() if key.startswith("col.")}


def test_every_column_a_runbook_names_is_a_german_tui_header() -> None:
    named = [
        (path.name, column)
        for path in sorted(RUNBOOKS.glob("*.md"))
        for column in re.findall(r"Spalte „([^“]+)“", path.read_text(encoding="utf-8"))
    ]
    assert len(named) >= 3  # disk-full, cpu-saturated, memory-pressure
    unknown = [(name, column) for name, column in named if column not in GERMAN_HEADERS]
    assert not unknown, f"columns the TUI does not show (German headers: {sorted(GERMAN_HEADERS)}): {unknown}"


def test_no_runbook_names_a_column_without_quoting_it() -> None:
    loose = [
        (path.name, m.group(0))
        for path in sorted(RUNBOOKS.glob("*.md"))
        for m in re.finditer(r"Spalte (?!„)\S+", path.read_text(encoding="utf-8"))
        if not m.group(0).startswith("Spalte bzw.")
    ]
    assert not loose, loose
