"""Runbooks in the reader's language, through the real collector HTTP app:
German by default, the English file (runbooks/en/) under `?lang=en`, and a
runbook without an English file in German with a note saying so."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from collector.alerting.config import DEFAULT_RUNBOOKS
from collector.alerting.runbooks import RunbookError, list_names, load, require_dir
from collector.config import Config
from collector.contacts import ContactConfig
from tests.collector.conftest import Env, auth

ONCALL = ContactConfig(role="Rufbereitschaft IT-Betrieb", name="Erika Mustermann", phone="+49 4441 123-456")


def _config(runbooks_dir: Path | None = None) -> Config:
    config = Config()
    config.contacts = [ONCALL]
    if runbooks_dir is not None:
        config.alerts.runbooks_dir = str(runbooks_dir)
    return config


async def test_lang_en_serves_the_english_runbook_as_markdown_json_and_html(make_env: Callable[..., Env]) -> None:
    env = make_env(_config())
    de = await env.client.get("/api/v1/runbooks/host-down")
    assert de.text.startswith("# Host meldet sich nicht") and de.headers["content-language"] == "de"
    en = await env.client.get("/api/v1/runbooks/host-down?lang=en", headers=auth(env.admin_token))
    assert en.status_code == 200 and en.headers["content-language"] == "en"
    assert en.text.startswith("# Host is not reporting\n")
    assert "## Symptoms" in en.text and "## Symptome" not in en.text and "Eskalation" not in en.text
    escalation = en.text.split("## Escalation\n\n", 1)[1]
    assert escalation.startswith("**Time limit (critical):** not solved within **15 min**")
    assert "| 1 | Rufbereitschaft IT-Betrieb | Erika Mustermann |" in escalation
    assert "view **Readiness**" in escalation  # the runbook's own text, below the block, in English
    assert "No English version" not in en.text
    doc = (await env.client.get("/api/v1/runbooks/host-down?lang=en&format=json")).json()
    assert doc["lang"] == "en" and doc["title"] == "Host is not reporting" and doc["rule"] == "host_down"
    assert doc["markdown"].startswith("# Host is not reporting")
    page = await env.client.get("/api/v1/runbooks/host-down?lang=en", headers={"Accept": "text/html"})
    assert '<html lang="en">' in page.text and "<h1>Host is not reporting</h1>" in page.text
    assert "<title>Host is not reporting – Leitstand</title>" in page.text


@pytest.mark.parametrize("name", list_names(DEFAULT_RUNBOOKS))
async def test_every_runbook_in_english_opens_its_escalation_with_the_block(
    make_env: Callable[..., Env], name: str
) -> None:
    env = make_env(_config())
    r = await env.client.get(f"/api/v1/runbooks/{name}", params={"lang": "en"}, headers=auth(env.admin_token))
    assert r.headers["content-language"] == "en"
    assert r.text.startswith(f"# {load(DEFAULT_RUNBOOKS, name, 'en').title}\n")
    after = r.text.split("## Escalation\n\n", 1)[1]
    assert after.startswith("**Time limit (")
    assert "| 1 | Rufbereitschaft IT-Betrieb | Erika Mustermann |" in after


async def test_a_runbook_without_an_english_file_is_served_in_german_and_says_so(
    make_env: Callable[..., Env], tmp_path: Path
) -> None:
    own = tmp_path / "runbooks"
    own.mkdir()
    shutil.copy(DEFAULT_RUNBOOKS / "host-down.md", own / "host-down.md")  # an operator's folder: German only
    env = make_env(_config(own))
    r = await env.client.get("/api/v1/runbooks/host-down?lang=en", headers=auth(env.admin_token))
    assert r.status_code == 200 and r.headers["content-language"] == "de"
    lines = r.text.splitlines()
    assert lines[0] == "# Host meldet sich nicht" and lines[1] == ""
    assert lines[2].startswith("> **No English version of this runbook yet:** shown in German.")
    # the German section still gets its block, and the block is in the language asked for
    assert r.text.split("## Eskalation\n\n", 1)[1].startswith("**Time limit (critical):**")
    assert (await env.client.get("/api/v1/runbooks/host-down?lang=en&format=json")).json()["lang"] == "de"
    page = await env.client.get("/api/v1/runbooks/host-down?lang=en&format=html&alert=a1")
    # the document is German; the alert's note, asked for in English, says it is English
    assert '<html lang="de">' in page.text and '<p class="alert" lang="en">Alert <code>a1</code>' in page.text
    asked_de = await env.client.get("/api/v1/runbooks/host-down?format=html&lang=de&alert=a1")
    assert '<html lang="de">' in asked_de.text and '<p class="alert">Alarm' in asked_de.text
    de = await env.client.get("/api/v1/runbooks/host-down")
    assert "No English version" not in de.text and "> **" not in de.text.split("## Symptome")[0]


async def test_an_unknown_language_is_refused_and_an_english_file_alone_is_no_runbook(
    make_env: Callable[..., Env], tmp_path: Path
) -> None:
    own = tmp_path / "runbooks"
    (own / "en").mkdir(parents=True)
    shutil.copy(DEFAULT_RUNBOOKS / "host-down.md", own / "host-down.md")
    shutil.copy(DEFAULT_RUNBOOKS / "en" / "disk-full.md", own / "en" / "disk-full.md")
    env = make_env(_config(own))
    bad = await env.client.get("/api/v1/runbooks/host-down?lang=fr")
    assert bad.status_code == 400 and "lang" in bad.json()["error"]
    # an alert links the German name; a translation without its German runbook is not served
    assert (await env.client.get("/api/v1/runbooks/disk-full?lang=en")).status_code == 404


def test_a_broken_english_file_stops_the_start_naming_it(tmp_path: Path) -> None:
    own = tmp_path / "runbooks"
    (own / "en").mkdir(parents=True)
    shutil.copy(DEFAULT_RUNBOOKS / "host-down.md", own / "host-down.md")
    (own / "en" / "host-down.md").write_text("---\n- a list\n---\n# Host is not reporting\n", encoding="utf-8")
    with pytest.raises(RunbookError, match=r"runbook en/host-down\.md: front matter must be"):
        require_dir(own)
