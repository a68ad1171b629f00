"""The README is a tested artefact: every setting, subcommand and endpoint is
documented there (datasette's test_docs)."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import pytest

from collector.cli import build_parser
from collector.config import Config
from collector.openapi import openapi_document

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def _settings(struct: type[msgspec.Struct], prefix: str = "") -> list[str]:
    out = []
    for field in msgspec.structs.fields(struct):
        kind = field.type
        if isinstance(kind, type) and issubclass(kind, msgspec.Struct):
            out += _settings(kind, f"{prefix}{field.encode_name}.")
        else:
            out.append(prefix + field.encode_name)
    return out


@pytest.mark.parametrize("setting", _settings(Config))
def test_every_collector_setting_is_documented(setting: str) -> None:
    assert f"`{setting}`" in README, f"collector setting {setting} is missing from README.md"


def _subcommands() -> list[str]:
    parser = build_parser()
    names = []
    for action in parser._subparsers._group_actions:  # type: ignore[union-attr]
        for name, sub in action.choices.items():
            nested = [a for a in sub._actions if a.__class__.__name__ == "_SubParsersAction"]
            if nested:
                names += [f"{name} {child}" for child in nested[0].choices]
            else:
                names.append(name)
    return names


@pytest.mark.parametrize("command", _subcommands())
def test_every_collector_subcommand_is_documented(command: str) -> None:
    assert re.search(rf"leitstand-collector {command}\b", README), f"`leitstand-collector {command}` not in README"


@pytest.mark.parametrize("path", sorted(openapi_document()["paths"]))
def test_every_endpoint_is_documented(path: str) -> None:
    assert path in README, f"endpoint {path} is missing from README.md"


def test_readme_starts_with_the_two_commands() -> None:
    head = README[:1500]
    assert "make run" in head
    assert "make test" in head


def _agent_keys() -> list[str]:
    from agent import config

    return sorted(config._KEYS)


@pytest.mark.parametrize("key", _agent_keys())
def test_every_agent_setting_is_documented(key: str) -> None:
    assert f"| `{key}` |" in README, f"agent setting {key} is missing from the README's agent table"
