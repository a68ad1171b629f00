"""The runbook screen against the real collector: the runbook's own title in
the header, no front matter, the escalation block with the configured
contacts (the TUI has a token) in the TUI's language."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from textual.widgets import MarkdownViewer

from collector.config import Config
from collector.contacts import ContactConfig
from tests.tui.conftest import settle
from tests.tui.fleet import NOW, Fleet, build_fleet
from tui.app import make_app
from tui.screens.runbook import RunbookScreen, split_runbook
from tui.source import CollectorSource


@pytest_asyncio.fixture
async def fleet_with_contacts(tmp_path: Path) -> AsyncIterator[Fleet]:
    config = Config()
    config.contacts = [
        ContactConfig(role="Rufbereitschaft IT-Betrieb", name="Erika Mustermann", phone="+49 4441 123-456"),
        ContactConfig(role="Haustechnik", name="Hans Meier", phone="04441 789", hours="Mo–Fr", teams=["haustechnik"]),
    ]
    f = await build_fleet(tmp_path, config)
    yield f
    f.close()


@pytest.mark.parametrize(
    ("lang", "title", "limit", "order", "section"),
    [
        ("de", "USV läuft auf Batterie", "Zeitlimit (kritisch)", "Reihenfolge", "Symptome"),
        # the English TUI shows the English runbook (runbooks/en/), headings, title and all
        ("en", "UPS is on battery", "Time limit (critical)", "Order", "Symptoms"),
    ],
)
async def test_runbook_screen_shows_its_title_and_contacts_but_no_front_matter(
    fleet_with_contacts: Fleet, lang: str, title: str, limit: str, order: str, section: str
) -> None:
    source = CollectorSource(
        "http://collector", fleet_with_contacts.admin_token, transport=fleet_with_contacts.transport()
    )
    app = make_app(source, lang=lang, clock=lambda: NOW, refresh_s=0, retry_s=(0.05,), blink=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.push_screen(RunbookScreen("ups-on-battery"))
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RunbookScreen)
        assert screen.sub_title == title and "{name}" not in screen.sub_title
        source_text = str(screen.query_one(MarkdownViewer).document.source)
        assert not source_text.startswith("---") and "owner: haustechnik" not in source_text
        assert source_text.startswith(f"# {title}\n") and f"\n## {section}\n" in source_text
        assert ("Symptome" in source_text) == (lang == "de") and "No English version" not in source_text
        assert limit in source_text and f"| {order} |" in source_text
        assert "| 1 | Rufbereitschaft IT-Betrieb | Erika Mustermann | +49 4441 123-456 |" in source_text
        assert "| 2 | Haustechnik | Hans Meier | 04441 789 | Mo–Fr |" in source_text
        tables = screen.query_one(MarkdownViewer).document.query("MarkdownTable")
        assert len(tables) == 1  # rendered as a table, not as text


def test_split_runbook_drops_front_matter_a_collector_might_still_send() -> None:
    title, body = split_runbook(
        "---\nrule: host_down\nseverity: critical\n---\n# Host meldet sich nicht\n\n## Symptome\n"
    )
    assert title == "Host meldet sich nicht" and body.startswith("# Host meldet sich nicht")
    assert split_runbook("kein Titel\n") == ("", "kein Titel\n")
