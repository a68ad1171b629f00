"""Runbooks: one Markdown file per alert rule in ``runbooks/``, German, for on-call staff.

A runbook starts with front matter (``rule``, ``severity``, ``owner``), then a
``# title`` and the sections Symptome, Auswirkung, Diagnose, Behebung and
Eskalation (``## ...``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, NotFoundError

__all__ = ["NAME_RE", "SECTIONS", "MissingRunbooksError", "Runbook", "list_names", "load", "parse", "require_dir"]

SECTIONS = ("Symptome", "Auswirkung", "Diagnose", "Behebung", "Eskalation")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,80}$")


@dataclass(frozen=True)
class Runbook:
    name: str
    title: str
    meta: dict[str, str]
    sections: tuple[str, ...]
    markdown: str


def parse(name: str, text: str) -> Runbook:
    meta: dict[str, str] = {}
    body = text
    if text.startswith("---\n"):
        end = text.find("\n---\n", 4)
        if end > 0:
            for line in text[4:end].splitlines():
                key, sep, value = line.partition(":")
                if sep:
                    meta[key.strip()] = value.strip()
            body = text[end + 5 :]
    title = next((line[2:].strip() for line in body.splitlines() if line.startswith("# ")), name)
    sections = tuple(line[3:].strip() for line in body.splitlines() if line.startswith("## "))
    return Runbook(name=name, title=title, meta=meta, sections=sections, markdown=text)


def list_names(directory: Path) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.md") if NAME_RE.match(p.stem) and p.stem != "README")


class MissingRunbooksError(ConfigError):
    """The runbook directory is missing or holds no runbook: every alert link would be a 404."""


def require_dir(directory: Path) -> Path:
    """``directory`` if it holds runbooks; else MissingRunbooksError naming it."""
    if not directory.is_dir():
        problem = "does not exist or is not a directory"
    elif not list_names(directory):
        problem = "holds no runbook (*.md)"
    else:
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
