"""Runbooks: one Markdown file per alert rule in ``runbooks/``, German, for
on-call staff, and its English twin in ``runbooks/en/`` (same name).

A runbook starts with YAML front matter (``rule``, ``severity``, ``owner``),
then a ``# title`` and the sections Symptome, Auswirkung, Diagnose, Behebung
and Eskalation (``## ...``; in English Symptoms, Impact, Diagnosis, Fix,
Escalation). The front matter is data for the collector, never text for a
reader: ``Runbook.body`` is the Markdown without it. A runbook asked for in
English that has no English file is the German one (``Runbook.lang`` says
which was read), so an alert link never ends in a 404 for a language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import ConfigError, NotFoundError

__all__ = [
    "LANGS",
    "NAME_RE",
    "SECTIONS",
    "SECTIONS_BY_LANG",
    "MissingRunbooksError",
    "Runbook",
    "RunbookError",
    "fallback_note",
    "list_names",
    "load",
    "parse",
    "require_dir",
]

SECTIONS = ("Symptome", "Auswirkung", "Diagnose", "Behebung", "Eskalation")
SECTIONS_BY_LANG = {"de": SECTIONS, "en": ("Symptoms", "Impact", "Diagnosis", "Fix", "Escalation")}
#: German is the runbooks' own language (the top folder); every other one is a subfolder named after it
LANGS = tuple(SECTIONS_BY_LANG)
_FALLBACK = {
    "en": "> **No English version of this runbook yet:** shown in German. "
    "Translations go to `runbooks/en/<name>.md` (README, section „Alerts and runbooks“).",
}
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,80}$")


@dataclass(frozen=True)
class Runbook:
    name: str
    title: str
    meta: dict[str, str]
    sections: tuple[str, ...]
    #: the whole file, front matter included
    markdown: str
    #: what a reader sees: the Markdown after the front matter
    body: str
    #: the language of the file read: "de", or the one asked for when it has a file
    lang: str = "de"


class RunbookError(ConfigError):
    """A runbook file the collector cannot read (its front matter is not a YAML mapping of strings)."""


_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)^---[ \t]*\r?\n", re.DOTALL | re.MULTILINE)


def parse(name: str, text: str, lang: str = "de") -> Runbook:
    """``text`` as a runbook; RunbookError naming the file when its front matter is broken."""
    shown = name if lang == "de" else f"{lang}/{name}"
    meta: dict[str, str] = {}
    body = text
    match = _FRONT_MATTER.match(text)
    if match:
        try:
            data = yaml.safe_load(match.group(1))
        except yaml.YAMLError as exc:
            raise RunbookError(f"runbook {shown}.md: front matter is not valid YAML: {exc}") from None
        if data is not None and not isinstance(data, dict):
            kind = type(data).__name__
            raise RunbookError(f"runbook {shown}.md: front matter must be `key: value` lines, not {kind}")
        for key, value in (data or {}).items():
            if isinstance(value, dict | list):
                raise RunbookError(f"runbook {shown}.md: front matter key {key!r} must be a single value")
            meta[str(key)] = "" if value is None else str(value)
        body = text[match.end() :]
    title = next((line[2:].strip() for line in body.splitlines() if line.startswith("# ")), name)
    sections = tuple(line[3:].strip() for line in body.splitlines() if line.startswith("## "))
    return Runbook(name=name, title=title, meta=meta, sections=sections, markdown=text, body=body, lang=lang)


def list_names(directory: Path) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.md") if NAME_RE.match(p.stem) and p.stem != "README")


class MissingRunbooksError(ConfigError):
    """The runbook directory is missing or holds no runbook: every alert link would be a 404."""


def require_dir(directory: Path) -> Path:
    """``directory`` if it holds runbooks that parse; else MissingRunbooksError
    naming it, or RunbookError naming the file (at start-up, not when on-call opens it)."""
    if not directory.is_dir():
        problem = "does not exist or is not a directory"
    elif not list_names(directory):
        problem = "holds no runbook (*.md)"
    else:
        for name in list_names(directory):
            try:
                for lang in LANGS:
                    load(directory, name, lang)
            except RunbookError as exc:
                raise RunbookError(f"{directory}: {exc.message}") from None
        return directory
    raise MissingRunbooksError(
        f"runbook directory {directory} {problem} "
        "(alerts.runbooks_dir; leave it empty for the runbooks installed with Leitstand)"
    )


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return None


def load(directory: Path, name: str, lang: str = "de") -> Runbook:
    """The runbook ``name`` in ``lang`` ("de" or "en"), the German one when it has no
    file in ``lang``; NotFoundError when there is no German one either."""
    if not NAME_RE.match(name):
        raise NotFoundError(f"no runbook {name!r}")
    # the German file makes the runbook (alerts link its name); a translation alone is none
    text = _read(directory / f"{name}.md")
    if text is None:
        raise NotFoundError(f"no runbook {name!r}")
    translated = _read(directory / lang / f"{name}.md") if lang != "de" else None
    return parse(name, text) if translated is None else parse(name, translated, lang)


def fallback_note(book: Runbook, lang: str) -> str:
    """The line that opens a runbook shown in German to someone who asked for ``lang``; "" when none is needed."""
    return _FALLBACK.get(lang, "") if book.lang != lang else ""
