"""Runbooks: one Markdown file per alert rule in ``runbooks/``, German, for on-call staff.

A runbook starts with YAML front matter (``rule``, ``severity``, ``owner``),
then a ``# title`` and the sections Symptome, Auswirkung, Diagnose, Behebung
and Eskalation (``## ...``). The front matter is data for the collector, never
text for a reader: ``Runbook.body`` is the Markdown without it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import ConfigError, NotFoundError

__all__ = [
    "NAME_RE",
    "SECTIONS",
    "MissingRunbooksError",
    "Runbook",
    "RunbookError",
    "list_names",
    "load",
    "parse",
    "require_dir",
]

SECTIONS = ("Symptome", "Auswirkung", "Diagnose", "Behebung", "Eskalation")
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


class RunbookError(ConfigError):
    """A runbook file the collector cannot read (its front matter is not a YAML mapping of strings)."""


_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)^---[ \t]*\r?\n", re.DOTALL | re.MULTILINE)


def parse(name: str, text: str) -> Runbook:
    """``text`` as a runbook; RunbookError naming the file when its front matter is broken."""
    meta: dict[str, str] = {}
    body = text
    match = _FRONT_MATTER.match(text)
    if match:
        try:
            data = yaml.safe_load(match.group(1))
        except yaml.YAMLError as exc:
            raise RunbookError(f"runbook {name}.md: front matter is not valid YAML: {exc}") from None
        if data is not None and not isinstance(data, dict):
            raise RunbookError(f"runbook {name}.md: front matter must be `key: value` lines, not {type(data).__name__}")
        for key, value in (data or {}).items():
            if isinstance(value, dict | list):
                raise RunbookError(f"runbook {name}.md: front matter key {key!r} must be a single value")
            meta[str(key)] = "" if value is None else str(value)
        body = text[match.end() :]
    title = next((line[2:].strip() for line in body.splitlines() if line.startswith("# ")), name)
    sections = tuple(line[3:].strip() for line in body.splitlines() if line.startswith("## "))
    return Runbook(name=name, title=title, meta=meta, sections=sections, markdown=text, body=body)


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
                load(directory, name)
            except RunbookError as exc:
                raise RunbookError(f"{directory}: {exc.message}") from None
        return directory
    raise MissingRunbooksError(
        f"runbook directory {directory} {problem} "
        "(alerts.runbooks_dir; leave it empty for the runbooks installed with Leitstand)"
    )


def load(directory: Path, name: str) -> Runbook:
    if not NAME_RE.match(name):
        raise NotFoundError(f"no runbook {name!r}")
    try:
        text = (directory / f"{name}.md").read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        raise NotFoundError(f"no runbook {name!r}") from None
    return parse(name, text)
