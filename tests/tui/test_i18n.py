"""Every visible string comes from the catalog, in both languages."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from tui import i18n

TUI = Path(__file__).resolve().parents[2] / "tui"


def test_every_key_used_exists_in_both_languages() -> None:
    used: set[str] = set()
    prefixes: set[str] = set()
    for path in TUI.rglob("*.py"):
        source = path.read_text()
        used |= set(re.findall(r"""\b(?:t|tr)\(\s*"([a-z_.]+)"\s*[,)]""", source))
        prefixes |= set(re.findall(r"""\bt\(\s*f"([a-z_]+)\.\{""", source))
        prefixes |= set(re.findall(r"""\btv\(\s*"([a-z_]+)""", source))
        used |= set(re.findall(r"""Binding\([^)]*?"(bind\.[a-z_]+|dlg\.[a-z_]+)"\)""", source))
    missing = sorted(k for k in used if k not in i18n.CATALOG)
    assert missing == []
    for prefix in prefixes:
        assert any(k.startswith(prefix + ".") for k in i18n.CATALOG), prefix
    assert len(used) > 80  # the scan finds the literal keys (plus the prefixes of dynamic ones)


def test_both_languages_take_the_same_placeholders() -> None:
    fmt = string.Formatter()
    for key, (de, en) in i18n.CATALOG.items():
        names = lambda s: {f for _, f, _, _ in fmt.parse(s) if f}  # noqa: E731
        assert names(de) == names(en), key
        assert de and en, key


@pytest.mark.parametrize(
    ("env", "lang"),
    [
        ({"LANG": "de_DE.UTF-8"}, "de"),
        ({"LC_ALL": "en_US.UTF-8", "LANG": "de_DE.UTF-8"}, "en"),
        ({"LC_MESSAGES": "de_AT"}, "de"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({}, "en"),
    ],
)
def test_default_language_from_the_locale(env: dict[str, str], lang: str) -> None:
    assert i18n.default_language(env) == lang


def test_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError):
        i18n.set_language("fr")
