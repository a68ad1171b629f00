"""Every command line the runbooks and the README tell someone to run parses
with the real CLI's argument parser, so on-call is never sent to a command
or an option that does not exist.

A command is a code span or a line of a code block that starts with one of
the console scripts (after `sudo`, `$ ` or `VAR=value`); placeholders like
`<usv-id>` are filled with a value of the right shape. Parsing only: each
script's `main` runs until its parser accepted the arguments, then stops.
"""

from __future__ import annotations

import argparse
import re
import shlex
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pytest

import agent.cli
import collector.cli
import collector.demo
import tui.cli

ROOT = Path(__file__).resolve().parents[2]
MAINS: dict[str, Callable[[Sequence[str] | None], int]] = {
    "leitstand-agent": agent.cli.main,
    "leitstand-collector": collector.cli.main,
    "leitstand-tui": tui.cli.main,
    "leitstand": collector.demo.main,
}
_FENCE = re.compile(r"^```")
_SPAN = re.compile(r"`([^`]+?)`")
_SEPARATORS = re.compile(r"\s(?:&&|\|\||\||;)\s")


class Command(NamedTuple):
    where: str
    text: str


def _docs() -> list[Path]:
    runbooks = ROOT / "runbooks"
    return [*sorted(runbooks.glob("*.md")), *sorted((runbooks / "en").glob("*.md")), ROOT / "README.md"]


def _candidates(path: Path) -> Iterator[Command]:
    lines = path.read_text(encoding="utf-8").splitlines()
    in_block = False
    pending = ""
    prose: list[str] = []  # outside code blocks; a code span may wrap onto the next line
    for number, line in enumerate(lines, start=1):
        if _FENCE.match(line.strip()):
            in_block, pending = not in_block, ""
            prose.append("")
            continue
        if not in_block:
            prose.append(line)
            continue
        prose.append("")
        text = pending + line.strip()
        if text.endswith("\\"):
            pending = text[:-1] + " "
            continue
        pending = ""
        for part in _SEPARATORS.split(text.removeprefix("$ ")):
            yield Command(f"{path.relative_to(ROOT)}:{number}", part)
    text = "\n".join(prose)
    for span in _SPAN.finditer(text):
        where = f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, span.start()) + 1}"
        for part in _SEPARATORS.split(re.sub(r"\s*\n\s*", " ", span.group(1))):
            yield Command(where, part)


def _placeholder(match: re.Match[str]) -> str:
    hint = match.group(1).lower()
    if "jjjj" in hint or "yyyy" in hint:
        return "2026-11"
    if any(k in hint for k in ("host", "adresse", "address", "ip")) and "name" not in hint:
        return "10.1.2.30"
    if hint in ("n", "anzahl", "count"):
        return "3"
    if "url" in hint:
        return "https://collector.example:8470"
    if "datei" in hint or "file" in hint or "pfad" in hint or "path" in hint:
        return "/etc/leitstand/collector.toml"
    return "x1"


def _argv(text: str) -> list[str] | None:
    """The script and its arguments, or None for a line that is no command of ours.

    A synopsis is read as its shortest form: `[--optional ...]` left out, the
    first of `a|b`; a redirection (`> file`) is the shell's, not the script's.
    """
    text = re.sub(r"<([^<>\n]+)>", _placeholder, text)
    text = re.sub(r"\s\[[^\]]*\]", "", text)
    text = re.sub(r"(?<=[\w-])\|[\w|-]+", "", text)
    try:
        words = shlex.split(text, comments=True)
    except ValueError:
        return None
    for i, word in enumerate(words):
        if re.match(r"^\d?>>?", word):
            del words[i:]
            break
    while words and (words[0] in ("sudo", "exec", "$") or re.match(r"^[A-Z_][A-Z0-9_]*=", words[0])):
        words.pop(0)
    if not words or words[0] not in MAINS:
        return None
    return words


def commands() -> list[tuple[str, list[str]]]:
    found = []
    for path in _docs():
        for where, text in _candidates(path):
            argv = _argv(text)
            if argv is not None:
                found.append((f"{where}: {text.strip()}", argv))
    return found


class _Parsed(Exception):
    pass


def _parse_only(monkeypatch: pytest.MonkeyPatch) -> None:
    original = argparse.ArgumentParser.parse_args

    def parse_args(self: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> Any:
        original(self, *args, **kwargs)
        raise _Parsed

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_args)


ALL = commands()


def test_the_docs_quote_commands_of_every_script() -> None:
    scripts = {argv[0] for _, argv in ALL}
    assert scripts == set(MAINS), scripts
    assert sum(where.startswith("runbooks/") and not where.startswith("runbooks/en/") for where, _ in ALL) >= 30
    assert sum(where.startswith("runbooks/en/") for where, _ in ALL) >= 30


@pytest.mark.parametrize(("where", "argv"), ALL, ids=[w for w, _ in ALL])
def test_quoted_command_parses(
    where: str, argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _parse_only(monkeypatch)
    if "--help" in argv or "-h" in argv or "--version" in argv:
        argv = [a for a in argv if a not in ("--help", "-h", "--version")]
    try:
        MAINS[argv[0]](argv[1:])
    except _Parsed:
        return
    except SystemExit as exc:
        pytest.fail(f"{where}\n  does not parse (exit {exc.code}): {capsys.readouterr().err.strip()}")
    pytest.fail(f"{where}\n  ran without parsing its arguments")
