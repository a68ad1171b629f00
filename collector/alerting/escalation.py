"""The escalation block of a served runbook: the time limit of the runbook's
severity and the contacts from the collector's config, in German (default) or
English. Pure: the runbook and the config in, Markdown out."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..contacts import ContactConfig, EscalationConfig, limit_s
from .documents import duration
from .runbooks import SECTIONS_BY_LANG, Runbook, fallback_note

__all__ = ["HEADING", "HEADINGS", "block", "fill", "for_runbook"]

#: the section's heading in a runbook file of each language
HEADINGS = {lang: f"## {sections[-1]}" for lang, sections in SECTIONS_BY_LANG.items()}
HEADING = HEADINGS["de"]
_SEVERITY = {
    "de": {"critical": "kritisch", "warning": "Warnung", "info": "Info"},
    "en": {"critical": "critical", "warning": "warning", "info": "info"},
}
_TEXT = {
    "de": {
        "limit": "**Zeitlimit ({severity}):** nicht innerhalb von **{limit}** behoben → die nächste Stelle der "
        "Liste anrufen.",
        "head": "| Reihenfolge | Rolle | Name | Telefon | Erreichbar |\n| --- | --- | --- | --- | --- |",
        "none": "> **Keine Kontakte hinterlegt.** Die Administration des Collectors trägt sie in dessen "
        "Konfiguration ein: `[[contacts]]` mit `role`, `name`, `phone`, `hours` (README, Abschnitt "
        "„Contacts and escalation“).",
        "hidden": "> **Kontakte nur mit Token:** Namen und Telefonnummern zeigt die TUI (Ansicht **Alarme**, "
        "Taste `b`) oder die API mit Token.",
    },
    "en": {
        "limit": "**Time limit ({severity}):** not solved within **{limit}** → call the next entry of the list.",
        "head": "| Order | Role | Name | Phone | Hours |\n| --- | --- | --- | --- | --- |",
        "none": "> **No contacts configured.** The collector's administrator adds them to its config: "
        "`[[contacts]]` with `role`, `name`, `phone`, `hours` (README, section „Contacts and escalation“).",
        "hidden": "> **Contacts need a token:** names and phone numbers are shown in the TUI (view **Alerts**, "
        "key `b`) or by the API with a token.",
    },
}
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def _limit(seconds: float) -> str:
    """`15 min`, `4 h`, `1 d`: a configured limit is a round number, say it as one."""
    for unit, size in (("d", 86400), ("h", 3600)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)} {unit}"
    return duration(seconds)


def _cell(value: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", " ".join(value.split())) or "–"


def for_runbook(contacts: Sequence[ContactConfig], owner: str) -> list[ContactConfig]:
    """The contacts of a runbook's owner team, and those for every runbook, in config order."""
    return [c for c in contacts if not c.teams or owner in c.teams]


def block(
    severity: str,
    contacts: Sequence[ContactConfig],
    escalation: EscalationConfig,
    *,
    lang: str,
    show_contacts: bool,
) -> str:
    """The Markdown that opens a runbook's escalation section."""
    text = _TEXT[lang]
    parts = []
    limit = limit_s(escalation, severity)
    if limit is not None:
        parts.append(text["limit"].format(severity=_SEVERITY[lang][severity], limit=_limit(limit)))
    if not contacts:
        parts.append(text["none"])
    elif not show_contacts:
        parts.append(text["hidden"])
    else:
        rows = [
            f"| {n} | {_cell(c.role)} | {_cell(c.name)} | {_cell(c.phone)} | {_cell(c.hours)} |"
            for n, c in enumerate(contacts, start=1)
        ]
        parts.append("\n".join([text["head"], *rows]))
    return "\n\n".join(parts)


def fill(
    book: Runbook,
    contacts: Sequence[ContactConfig],
    escalation: EscalationConfig,
    *,
    lang: str = "de",
    show_contacts: bool = True,
) -> str:
    """The runbook's body (no front matter) with the escalation block in ``lang``
    under its heading; a runbook without the section gets one at its end. A
    German runbook shown for another ``lang`` says so under its title."""
    mine = for_runbook(contacts, book.meta.get("owner", ""))
    filled = block(book.meta.get("severity", ""), mine, escalation, lang=lang, show_contacts=show_contacts)
    heading = HEADINGS.get(book.lang, HEADING)
    lines = book.body.splitlines()
    note = fallback_note(book, lang)
    if note:
        title = next((i for i, line in enumerate(lines) if line.startswith("# ")), -1)
        lines[title + 1 : title + 1] = ["", note] if title >= 0 else [note, ""]
    at = next((i for i, line in enumerate(lines) if line.strip() == heading), None)
    if at is None:
        return "\n".join(lines).rstrip("\n") + f"\n\n{heading}\n\n{filled}\n"
    return "\n".join([*lines[: at + 1], "", filled, *lines[at + 1 :]]) + "\n"
