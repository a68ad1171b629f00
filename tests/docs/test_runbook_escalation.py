"""A runbook's escalation section names no time limit of its own: the block the
collector puts at its top carries the limit from ``[escalation]`` (per
severity), and a second, fixed time in the text below could disagree with it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from collector.alerting.escalation import HEADINGS
from collector.alerting.runbooks import LANGS, list_names, load

RUNBOOK_DIR = Path(__file__).resolve().parents[2] / "runbooks"
#: every runbook in German and in English (runbooks/en/)
BOOKS = [(lang, name) for lang in LANGS for name in list_names(RUNBOOK_DIR)]

_WORD_COUNT = (
    r"(?:\d+(?:[.,]\d+)?|ein|eine|einen|einer|zwei|drei|vier|fünf|zehn|zwölf|fünfzehn|dreißig|a|one|two|three)"
)
_UNIT = (
    r"(?:Minuten?|Min\.?|min|Stunden?|Std\.?|h|Arbeitstage?n?|Tage?n?|Wochen?|"
    r"minutes?|hours?|working days?|days?|weeks?)"
)
#: a count with a time unit: `10 Minuten`, `30 min`, `einen Tag`, `eine Woche`, `2 hours`
FIXED_TIME = re.compile(rf"(?<![\w-]){_WORD_COUNT}\s+{_UNIT}(?!\w)", re.IGNORECASE)


def _escalation(markdown: str, lang: str = "de") -> str:
    return markdown.split(HEADINGS[lang], 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize(("lang", "name"), BOOKS)
def test_escalation_names_no_fixed_time(lang: str, name: str) -> None:
    book = load(RUNBOOK_DIR, name, lang)
    assert book.lang == lang, f"runbooks/{lang}/{name}.md missing"
    found = FIXED_TIME.findall(_escalation(book.markdown, lang))
    assert not found, f"runbook {lang}/{name}.md, section {HEADINGS[lang]}: {found}; refer to the block's time limit"


@pytest.mark.parametrize(
    "text",
    [
        "- Sofort: Haustechnik. Bei mehr als 10 Minuten Ausfall: Leitung IT-Betrieb.",
        "- Nach 30 Minuten ohne Erfolg: Leitung IT-Betrieb anrufen.",
        "- Im Batteriebetrieb unter 5 min: sofort anrufen.",
        "- Leitung IT-Betrieb, wenn die Belege länger als einen Tag fehlen.",
        "- Bleibt die Warnung länger als eine Woche: Notfallbeauftragte informieren.",
        "- Ohne Reserve länger als einen Arbeitstag: Netzwerkverantwortliche informieren.",
        "- Weniger als 7 Tage Restlaufzeit ohne Termin: Leitung IT-Betrieb.",
        "- Not solved after 2 hours: call the head of IT operations.",
    ],
)
def test_positive_control_fixed_times_are_found(text: str) -> None:
    """The texts the runbooks had before: each one is caught."""
    assert FIXED_TIME.search(text), text


def test_negative_control_references_to_the_block_pass() -> None:
    text = (
        "- Dauert der Ausfall länger als das Zeitlimit oben: Leitung IT-Betrieb.\n"
        "- Kein Nachteinsatz: am nächsten Arbeitstag Notfallbeauftragte informieren.\n"
        "- Rückstau wächst über Stunden weiter: Collector-Betrieb einschalten.\n"
        "- Sofort Netzwerk-Bereitschaft (`leitstand-collector alerts ack <id>`).\n"
    )
    assert not FIXED_TIME.search(text)


def test_every_escalation_section_is_found() -> None:
    """The section split above sees text in every runbook (an empty match would pass vacuously)."""
    for lang, name in BOOKS:
        assert _escalation(load(RUNBOOK_DIR, name, lang).markdown, lang).strip(), (lang, name)
