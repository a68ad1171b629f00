"""Runbooks are tested artefacts: every rule has one with the required
sections, no runbook is orphaned, every runbook link resolves."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.alerting.config import DEFAULT_RUNBOOKS
from collector.alerting.rules import RULES
from collector.alerting.runbooks import SECTIONS, list_names, load
from collector.readiness.model import RUNBOOKS as READINESS_RUNBOOKS
from collector.readiness.model import STALE_RUNBOOK

RUNBOOK_DIR = Path(__file__).resolve().parents[2] / "runbooks"
TUI_VIEWS = ("Übersicht", "Hosts", "Geräte", "Mandanten & Abrechnung", "Bereitschaft", "Alarme")


def test_runbooks_dir_is_the_default() -> None:
    # in a checkout the installed runbooks are the top-level runbooks/ (collector/bundled/)
    assert DEFAULT_RUNBOOKS.resolve() == RUNBOOK_DIR


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_every_rule_has_a_runbook_with_all_sections(rule: object) -> None:
    from collector.alerting.rules import Rule

    assert isinstance(rule, Rule)
    book = load(RUNBOOK_DIR, rule.runbook)
    assert book.meta.get("rule") == rule.name
    assert book.meta.get("severity") == rule.severity
    assert book.meta.get("owner")
    assert book.sections == SECTIONS, f"{rule.runbook}.md: sections {book.sections}, expected {SECTIONS}"


@pytest.mark.parametrize("name", list_names(RUNBOOK_DIR))
def test_no_runbook_without_a_rule(name: str) -> None:
    owners = [r for r in RULES if name in r.runbooks]
    assert owners, f"runbooks/{name}.md belongs to no rule"
    book = load(RUNBOOK_DIR, name)
    assert book.meta.get("rule") in {r.name for r in owners}
    assert book.sections == SECTIONS
    assert book.meta.get("owner") and book.meta.get("severity") in ("critical", "warning", "info")
    diagnose = book.markdown.split("## Diagnose", 1)[1].split("## Behebung", 1)[0]
    assert "`" in diagnose, f"{name}: Diagnose needs concrete commands"
    assert any(f"**{view}**" in book.markdown for view in TUI_VIEWS), f"{name}: say where to look in the TUI"


def test_every_runbook_link_resolves() -> None:
    names = set(list_names(RUNBOOK_DIR))
    linked = {r.runbook for r in RULES} | {n for r in RULES for n in r.related_runbooks}
    linked |= set(READINESS_RUNBOOKS.values()) | {STALE_RUNBOOK}
    assert linked <= names, f"missing runbooks: {sorted(linked - names)}"
    # runbooks that name another runbook name one that exists
    import re

    for name in names:
        text = load(RUNBOOK_DIR, name).markdown
        for other in re.findall(r"Runbooks? ([a-z]+(?:-[a-z]+)+)", text):
            assert other in names, f"{name}.md refers to missing runbook {other}"
