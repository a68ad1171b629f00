"""tui/safe_text.py: data becomes text that is safe on a terminal and never markup."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st
from rich.text import Text
from textual.content import Content
from textual.widgets import Static

from tui import i18n
from tui.safe_text import clean, escape_markdown, text, tr

UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u2028-\u202e\u2060-\u2069\ufeff\ud800-\udfff]")


def test_control_characters_become_visible_symbols() -> None:
    assert clean("a\x1b[2Jb") == "a␛[2Jb"  # no ESC: the rest is harmless text
    assert clean("\x1b]8;;https://x\x1b\\link\x1b]8;;\x1b\\") == "␛]8;;https://x␛\\link␛]8;;␛\\"
    assert clean("bell\x07 nul\x00 del\x7f") == "bell␇ nul␀ del␡"
    assert clean("c1\x9b31m osc\x9d") == "c1\ufffd31m osc\ufffd"
    assert clean("abc\u202etxt.exe\u2066") == "abc\ufffdtxt.exe\ufffd"  # bidi override and isolate
    assert clean("lone \ud800 surrogate") == "lone \ufffd surrogate"
    assert clean("tab\there") == "tab here"
    assert clean("two\nlines\r\n") == "two␊lines␍␊"
    assert clean("two\nlines", multiline=True) == "two\nlines"
    assert clean("Grüße · 10 % – Schwarz ░█") == "Grüße · 10 % – Schwarz ░█"  # printable text is untouched
    assert clean(None) == "" and clean(42) == "42"


@given(st.text(alphabet=st.characters(codec=None, exclude_categories=())))
def test_clean_output_is_safe_one_for_one_and_encodable(value: str) -> None:
    out = clean(value)
    assert not UNSAFE.search(out)
    assert len(out) == len(value)  # the spans of a styled Text stay in place
    out.encode("utf-8")  # a lone surrogate would make the terminal write fail
    assert clean(out) == out


def test_text_is_never_markup() -> None:
    shown = text("[@click=app.quit]harmless[/]", style="bold")
    assert isinstance(shown, Text) and shown.plain == "[@click=app.quit]harmless[/]"
    assert str(Content.from_rich_text(shown)) == "[@click=app.quit]harmless[/]"
    assert text("[/]").plain == "[/]"
    assert text(None).plain == ""
    assert text("x\x1b[31m", justify="right").justify == "right"


def test_text_of_a_styled_text_cleans_and_keeps_the_styles() -> None:
    ours = Text("name: ")
    ours.append("a\x1bb", style="red")  # Rich itself keeps ESC in a Text
    out = text(ours)
    assert out.plain == "name: a␛b"
    assert [(s.start, s.end, s.style) for s in out.spans] == [(6, 9, "red")]


def test_tr_cleans_the_parameters_not_the_template() -> None:
    i18n.set_language("en")
    out = tr("cmd.host.help", tenant="[b]t[/b]", site="s\x1b[2J", state="online", style="dim")
    assert out.plain == "[b]t[/b] · s␛[2J · online" and out.style == "dim"
    assert tr("hosts.count", shown=3, total=10, column="Host", dir="").plain.startswith("3 of 10 hosts")
    multi = tr("al.acked_by", multiline=True, by="x", at="t", comment="a\nb")
    assert "a\nb" in multi.plain
    i18n.set_language("de")
    assert tr("cmd.host", name="[/]").plain == "Host: [/]"
    i18n.set_language("en")


def test_escape_markdown_makes_data_literal_inside_a_document() -> None:
    assert escape_markdown("[Datei](/etc/passwd)") == r"\[Datei\]\(/etc/passwd\)"
    assert escape_markdown("# *x* <b>") == r"\# \*x\* \<b\>"
    assert escape_markdown("a\x1bb") == "a␛b"


async def test_a_static_shows_text_literally() -> None:
    """The widget the views use: a Text in a Static is not parsed, whatever it holds."""
    from textual.app import App, ComposeResult

    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield Static(text("[@click=app.quit]harmless[/] [/]"), id="s")

    app = One()
    async with app.run_test(size=(60, 5)) as pilot:
        await pilot.click("#s", offset=(20, 0))
        await pilot.pause()
        assert str(app.query_one("#s", Static).render()) == "[@click=app.quit]harmless[/] [/]"
        assert app.return_code is None
