"""Agent and tenant data on screen: always text, never markup or terminal control.

Everything the TUI shows comes from the collector, and most of it from agents
of any tenant: hostnames, sites, device names, alert labels, evidence, error
texts. Shown as Textual/Rich markup, ``[@click=app.quit]x[/]`` becomes a link
that quits the operator's TUI and ``[/]`` a parse error that blanks a view;
written raw, an ESC starts a terminal sequence (clear the screen, set the
window title, OSC 8 links), a bidi override reorders what the operator reads,
and a lone surrogate from JSON cannot even be encoded for the terminal.

So every value from data goes through ``clean`` (control characters become
visible symbols, nothing is dropped silently: two names that differ only in a
control character still look different) and reaches a widget as a Rich
``Text`` (``text``/``tr``), which no widget parses as markup. Pure: no I/O.
"""

from __future__ import annotations

import re

from rich.console import JustifyMethod
from rich.text import Text

from .i18n import t

__all__ = ["clean", "escape_markdown", "text", "tr"]

# C0 controls, DEL and C1 controls (ESC, CSI 0x9b and OSC 0x9d start terminal
# sequences), bidi embeddings/overrides/isolates and marks, invisible
# separators, line/paragraph separators, the BOM, and lone surrogates.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u2028-\u202e\u2060-\u2069\ufeff\ud800-\udfff]")

_REPLACEMENT = "\ufffd"


def _visible(char: str, multiline: bool) -> str:
    code = ord(char)
    if multiline and char == "\n":
        return char
    if char == "\t":
        return " "
    if code < 0x20:
        return chr(0x2400 + code)  # the Unicode control picture: ESC → ␛, LF → ␊
    if code == 0x7F:
        return "\u2421"  # ␡
    return _REPLACEMENT


def clean(value: object, *, multiline: bool = False) -> str:
    """`value` as a string that is safe to put on a terminal.

    Control characters become their visible control pictures (an ESC shows as
    ␛, so ``ESC[2J`` shows as ``␛[2J`` and does nothing); C1 controls, bidi
    controls and lone surrogates become U+FFFD; a tab becomes a space. With
    `multiline`, newlines stay. One character in, one out: the spans of a
    styled Text stay where they were.
    """
    s = "" if value is None else value if isinstance(value, str) else str(value)
    if not _UNSAFE.search(s):
        return s
    return _UNSAFE.sub(lambda m: _visible(m.group(), multiline), s)


def text(value: object, style: str = "", *, multiline: bool = False, justify: JustifyMethod | None = None) -> Text:
    """`value` as a Rich Text that every widget shows literally (no markup, no
    control characters); a Text we styled ourselves keeps its styles."""
    if isinstance(value, Text):
        out = value.copy()
        out.plain = clean(value.plain, multiline=multiline)
        if style:
            out.stylize_before(style)
        if justify is not None:
            out.justify = justify
        return out
    return Text(clean(value, multiline=multiline), style=style, justify=justify, end="")


def _param(value: object, multiline: bool) -> object:
    # numbers keep their type (a template may format them); everything else is data
    if isinstance(value, bool) or not isinstance(value, int | float):
        return clean(value, multiline=multiline)
    return value


def tr(key: str, /, style: str = "", *, multiline: bool = False, **params: object) -> Text:
    """A catalog text (`i18n.t`) with data filled in, as a Text: the template is
    ours, every parameter is cleaned, the result is never parsed as markup."""
    return Text(t(key, **{k: _param(v, multiline) for k, v in params.items()}), style=style, end="")


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~])")


def escape_markdown(value: object) -> str:
    """Data inside a Markdown document we compose: literal, no links, no headings."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", clean(value))
