"""Every German runbook has an English twin in runbooks/en/ that on-call can
follow the same way: same front matter, the same sections in translation, the
same commands, the TUI's views and columns as the English TUI names them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from collector.alerting.runbooks import SECTIONS_BY_LANG, list_names, load
from tui.i18n import CATALOG

RUNBOOK_DIR = Path(__file__).resolve().parents[2] / "runbooks"
NAMES = list_names(RUNBOOK_DIR)
VIEWS = {key: pair for key, pair in CATALOG.items() if key.startswith("view.") and "{" not in pair[0]}
ENGLISH_VIEWS = {en for _de, en in VIEWS.values()}
#: German view names the English TUI does not show (Hosts is the same in both)
GERMAN_ONLY_VIEWS = {de for de, _en in VIEWS.values()} - ENGLISH_VIEWS
ENGLISH_HEADERS = {en for key, (_de, en) in CATALOG.items() if key.startswith(("col.", "rd.col."))}
_SPAN = re.compile(r"`([^`]+?)`")
_PLACEHOLDER = re.compile(r"<[^<>`\n]+>")


def code_spans(markdown: str) -> set[str]:
    """The code spans, a span wrapped over lines as one line, placeholders
    (`<anwendung>`, `<application>`) as `<…>`: those are translated, the rest is not."""
    return {_PLACEHOLDER.sub("<…>", " ".join(span.split())) for span in _SPAN.findall(markdown)}


def test_the_english_folder_holds_a_twin_of_every_runbook_and_nothing_else() -> None:
    assert len(NAMES) >= 30
    assert sorted(p.stem for p in (RUNBOOK_DIR / "en").glob("*.md")) == NAMES
    # the English files are not German runbooks of their own (list_names does not descend)
    assert not set(list_names(RUNBOOK_DIR / "en")) - set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_english_twin_has_the_same_front_matter_and_the_sections_in_english(name: str) -> None:
    de, en = load(RUNBOOK_DIR, name), load(RUNBOOK_DIR, name, "en")
    assert en.lang == "en", f"runbooks/en/{name}.md missing"
    assert en.meta == de.meta and {"rule", "severity", "owner"} <= en.meta.keys()
    assert en.sections == SECTIONS_BY_LANG["en"], f"en/{name}.md: sections {en.sections}"
    assert en.title and en.title != de.title, f"en/{name}.md: title not translated"


@pytest.mark.parametrize("name", NAMES)
def test_english_twin_quotes_the_same_commands(name: str) -> None:
    de, en = load(RUNBOOK_DIR, name), load(RUNBOOK_DIR, name, "en")
    spans_de, spans_en = code_spans(de.markdown), code_spans(en.markdown)
    missing, extra = spans_de - spans_en, spans_en - spans_de
    assert not missing and not extra, f"en/{name}.md: missing {sorted(missing)}, not in German {sorted(extra)}"
    # as many placeholders as in German: translated, not dropped
    assert len(_PLACEHOLDER.findall(en.markdown)) == len(_PLACEHOLDER.findall(de.markdown)), name


@pytest.mark.parametrize("name", NAMES)
def test_english_twin_names_the_tui_views_as_the_english_tui_shows_them(name: str) -> None:
    de, en = load(RUNBOOK_DIR, name), load(RUNBOOK_DIR, name, "en")
    bold_de = set(re.findall(r"\*\*([^*]+)\*\*", de.markdown))
    bold_en = set(re.findall(r"\*\*([^*]+)\*\*", en.markdown))
    german = bold_en & GERMAN_ONLY_VIEWS
    assert not german, f"en/{name}.md names German views {german}; the English TUI says {ENGLISH_VIEWS}"
    expected = {VIEWS[key][1] for key in VIEWS if VIEWS[key][0] in bold_de}
    assert expected <= bold_en, f"en/{name}.md: views {expected - bold_en} missing"
    diagnosis = en.markdown.split("## Diagnosis", 1)[1].split("## Fix", 1)[0]
    assert "`" in diagnosis, f"en/{name}.md: Diagnosis needs concrete commands"


def test_every_column_an_english_runbook_names_is_an_english_tui_header() -> None:
    named = [
        (name, column)
        for name in NAMES
        for column in re.findall(r"column “([^”]+)”", load(RUNBOOK_DIR, name, "en").markdown)
    ]
    assert len(named) >= 3  # disk-full, cpu-saturated, memory-pressure
    unknown = [(name, column) for name, column in named if column not in ENGLISH_HEADERS]
    assert not unknown, f"columns the English TUI does not show ({sorted(ENGLISH_HEADERS)}): {unknown}"
    loose = [(n, m) for n in NAMES for m in re.findall(r"\bcolumn (?!“)\S+", load(RUNBOOK_DIR, n, "en").markdown)]
    assert not loose, loose


@pytest.mark.parametrize("name", NAMES)
def test_english_twin_refers_to_runbooks_that_exist(name: str) -> None:
    de, en = load(RUNBOOK_DIR, name), load(RUNBOOK_DIR, name, "en")
    refers = re.compile(r"[Rr]unbooks? ([a-z]+(?:-[a-z]+)+)")
    assert set(refers.findall(en.markdown)) <= set(NAMES)
    assert set(refers.findall(en.markdown)) == set(refers.findall(de.markdown))


def test_positive_control_a_changed_command_and_a_german_view_are_caught() -> None:
    de = load(RUNBOOK_DIR, "host-down").markdown
    changed = de.replace("--duration 4h", "--duration 4 h")
    assert code_spans(changed) != code_spans(de)
    assert code_spans(de.replace("<hostname>", "<host-name>")) == code_spans(de)
    assert "Bereitschaft" in GERMAN_ONLY_VIEWS and "Readiness" in ENGLISH_VIEWS and "Hosts" not in GERMAN_ONLY_VIEWS
