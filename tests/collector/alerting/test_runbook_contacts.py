"""Runbooks as served: front matter parsed and never shown, the escalation
block filled from `[[contacts]]` and `[escalation]` (contacts only for token
holders), an HTML page for browsers; the config refused with file and line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest

from collector.alerting.config import DEFAULT_RUNBOOKS, AlertsConfig, settings
from collector.alerting.runbooks import RunbookError, list_names, load, parse
from collector.config import Config, load_config
from collector.contacts import ContactConfig
from collector.errors import ConfigError
from tests.collector.conftest import Env, auth

ONCALL = ContactConfig(
    role="Rufbereitschaft IT-Betrieb", name="Erika Mustermann", phone="+49 4441 123-456", hours="24/7"
)
HAUSTECHNIK = ContactConfig(
    role="Haustechnik Rathaus", name="Hans Meier", phone="04441 123-789", hours="Mo–Fr 7–16 Uhr", teams=["haustechnik"]
)


def with_contacts(*contacts: ContactConfig) -> Config:
    config = Config()
    config.contacts = list(contacts)
    return config


async def test_token_holders_see_the_contacts_in_order_and_the_limit_of_the_severity(
    make_env: Callable[..., Env],
) -> None:
    env = make_env(with_contacts(ONCALL, HAUSTECHNIK))
    r = await env.client.get("/api/v1/runbooks/ups-on-battery", headers=auth(env.admin_token))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/markdown")
    assert r.headers["cache-control"] == "no-store"
    escalation = r.text.split("## Eskalation", 1)[1]
    assert "**Zeitlimit (kritisch):** nicht innerhalb von **15 min** behoben" in escalation
    assert "| 1 | Rufbereitschaft IT-Betrieb | Erika Mustermann | +49 4441 123-456 | 24/7 |" in escalation
    assert "| 2 | Haustechnik Rathaus | Hans Meier | 04441 123-789 | Mo–Fr 7–16 Uhr |" in escalation
    assert "Sofort: Haustechnik" in escalation  # the runbook's own text stays, below the block
    # a tenant token too; a warning's runbook of another team: its limit, without the Haustechnik
    tenant = env.token("tenant", env.tenant("stadt-a") and "stadt-a")
    r = await env.client.get("/api/v1/runbooks/printer-supply-low", headers=auth(tenant))
    assert "**Zeitlimit (Warnung):** nicht innerhalb von **4 h** behoben" in r.text
    assert "Erika Mustermann" in r.text and "Hans Meier" not in r.text


async def test_front_matter_is_never_shown(make_env: Callable[..., Env]) -> None:
    env = make_env()
    for query in ("", "?format=json", "?format=html"):
        r = await env.client.get(f"/api/v1/runbooks/disk-full{query}")
        assert r.status_code == 200
        text = r.json()["markdown"] if "json" in query else r.text
        assert "owner:" not in text and "rule: disk_full" not in text and "---" not in text.split("# ")[0]
    doc = (await env.client.get("/api/v1/runbooks/disk-full?format=json")).json()
    assert (doc["title"], doc["rule"], doc["severity"], doc["owner"]) == (
        "Dateisystem voll",
        "disk_full",
        "critical",
        "it-betrieb",
    )
    assert doc["markdown"].startswith("# Dateisystem voll")


async def test_without_a_token_the_phone_numbers_stay_private_unless_the_operator_opts_in(
    make_env: Callable[..., Env],
) -> None:
    config = with_contacts(ONCALL)
    env = make_env(config)
    r = await env.client.get("/api/v1/runbooks/host-down")
    assert "123-456" not in r.text and "Erika" not in r.text
    assert "**Kontakte nur mit Token:**" in r.text and "**Zeitlimit (kritisch):**" in r.text
    agent = await env.enroll(env.tenant("stadt-a"), "srv-1")
    assert "123-456" not in (await env.client.get("/api/v1/runbooks/host-down", headers=auth(agent))).text
    r = await env.client.get("/api/v1/runbooks/host-down", headers=auth("not-a-token"))
    assert r.status_code == 401
    config.escalation.public_contacts = True
    assert "Erika Mustermann" in (await env.client.get("/api/v1/runbooks/host-down")).text


async def test_without_contacts_the_block_says_who_configures_them_where(make_env: Callable[..., Env]) -> None:
    env = make_env()
    r = await env.client.get("/api/v1/runbooks/host-down", headers=auth(env.admin_token))
    assert "**Keine Kontakte hinterlegt.**" in r.text and "`[[contacts]]`" in r.text
    r = await env.client.get("/api/v1/runbooks/host-down?lang=en", headers=auth(env.admin_token))
    assert "**No contacts configured.**" in r.text and "**Time limit (critical):** not solved within" in r.text


async def test_a_browser_gets_an_html_page_that_escapes_what_the_config_holds(make_env: Callable[..., Env]) -> None:
    hostile = ContactConfig(role="<script>alert(1)</script>", name="A | B", phone="0441 1", hours="**immer**")
    config = with_contacts(hostile)
    config.escalation.public_contacts = True
    env = make_env(config)
    r = await env.client.get("/api/v1/runbooks/uplink-down?alert=3f9a1c0b7d2e4f10", headers={"Accept": "text/html"})
    assert r.status_code == 200 and r.headers["content-type"] == "text/html; charset=utf-8"
    assert "<h1>" in r.text and "<table>" in r.text and "3f9a1c0b7d2e4f10" in r.text
    assert "<script>" not in r.text and "&lt;script&gt;" in r.text
    assert "<td>A | B</td>" in r.text and "<td>**immer**</td>" in r.text
    bad = await env.client.get("/api/v1/runbooks/uplink-down?format=html&alert=<x>")
    assert bad.status_code == 400 and "alert" in bad.json()["error"]


@pytest.mark.parametrize("name", list_names(DEFAULT_RUNBOOKS))
async def test_every_runbook_opens_its_escalation_with_the_limit_and_the_contacts(
    make_env: Callable[..., Env], name: str
) -> None:
    env = make_env(with_contacts(ONCALL))
    book = load(DEFAULT_RUNBOOKS, name)
    limit = {
        "critical": "**Zeitlimit (kritisch):** nicht innerhalb von **15 min**",
        "warning": "**Zeitlimit (Warnung):** nicht innerhalb von **4 h**",
    }
    r = await env.client.get(f"/api/v1/runbooks/{name}", headers=auth(env.admin_token))
    after = r.text.split("## Eskalation\n\n", 1)[1]
    assert after.startswith(limit[book.meta["severity"]])
    assert "| 1 | Rufbereitschaft IT-Betrieb | Erika Mustermann |" in after
    assert not r.text.startswith("---")


def test_front_matter_is_yaml_and_a_broken_one_names_the_runbook() -> None:
    book = parse("x", '---\nrule: "disk_full"   # quoted, with a comment\nseverity: critical\n---\n# Titel\n')
    assert book.meta == {"rule": "disk_full", "severity": "critical"} and book.body == "# Titel\n"
    with pytest.raises(RunbookError, match=r"runbook x\.md: front matter is not valid YAML"):
        parse("x", "---\nrule: [unclosed\n---\n# T\n")
    with pytest.raises(RunbookError, match="must be a single value"):
        parse("x", "---\nrule:\n  a: b\n---\n# T\n")


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "collector.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_contacts_and_escalation_load_from_toml(tmp_path: Path) -> None:
    config = load_config(
        _config(
            tmp_path,
            '[[contacts]]\nrole = "Rufbereitschaft"\nname = "Erika"\nphone = "+49 4441 1"\n\n'
            '[[contacts]]\nrole = "Haustechnik"\nname = "Hans"\nphone = "04441 2"\nteams = ["haustechnik"]\n\n'
            '[escalation]\ncritical = "10m"\n',
        )
    )
    assert [c.name for c in config.contacts] == ["Erika", "Hans"] and config.contacts[1].teams == ["haustechnik"]
    assert (config.escalation.critical, config.escalation.warning) == ("10m", "4h")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[escalation]\ncritical = 15\n", r"collector\.toml:2: escalation\.critical: 15 has no unit"),
        ('[escalation]\nwarning = "4 hours"\n', r"collector\.toml:2: escalation\.warning: '4 hours' is not a duration"),
        (
            '[[contacts]]\nrole = "R"\nname = "N"\nphone = "0441 1"\n\n[[contacts]]\nrole = "R"\nname = "N"\n'
            'phone = "0441 1"\nteams = ["hausteknik"]\n',
            r"collector\.toml:10: contacts\[1\]\.teams: no runbook has owner 'hausteknik'; .*haustechnik",
        ),
        (
            '[[contacts]]\nrole = "R"\nname = "N"\nphone = "call me"\n',
            r"collector\.toml:4: contacts\[0\]\.phone: 'call me' is not a phone number: digits, spaces",
        ),
        (
            '[[contacts]]\nrole = "R"\nname = "N"\n',
            r"collector\.toml:1: contacts\[0\]\.phone: Object missing required field `phone`",
        ),
        ('[[contacts]]\nrole = "R"\nname = "N"\nphone = "0441 1"\nmobile = "0171 1"\n', r":5: contacts\[0\]\.mobile"),
        ('[escalation]\nurgent = "5m"\n', r"collector\.toml:2: escalation\.urgent: Object contains unknown field"),
    ],
)
def test_a_wrong_contacts_or_escalation_config_names_file_line_and_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(_config(tmp_path, text))


def test_a_broken_runbook_stops_the_start_naming_its_file(tmp_path: Path) -> None:
    (tmp_path / "host-down.md").write_text("---\nrule: host_down\n---\n# Host\n", encoding="utf-8")
    (tmp_path / "disk-full.md").write_text("---\nrule: [disk_full\n---\n# Voll\n", encoding="utf-8")
    with pytest.raises(RunbookError, match=r"runbook disk-full\.md: front matter is not valid YAML"):
        settings(AlertsConfig(runbooks_dir=str(tmp_path)))


async def test_a_contact_without_hours_says_not_stated(make_env: Callable[..., Env]) -> None:
    env = make_env(with_contacts(ContactConfig(role="Leitung IT", name="Inge Schulz", phone="04441 5")))
    r = await env.client.get("/api/v1/runbooks/host-down", headers=auth(env.admin_token))
    assert "| 1 | Leitung IT | Inge Schulz | 04441 5 | – |" in r.text


def test_contact_config_rejects_an_empty_name() -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"role": "R", "name": "", "phone": "0441 1"}, ContactConfig)


def test_the_demo_config_has_made_up_contacts_that_load(tmp_path: Path) -> None:
    from collector.demo import write_fleet_config

    config = load_config(write_fleet_config(tmp_path))
    assert [c.name for c in config.contacts] == ["Erika Mustermann", "Max Mustermann"]
    assert all("(Demo)" in c.role and c.phone.startswith("0000") for c in config.contacts)


def test_the_readme_example_loads_as_pasted(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    block = next(b for b in readme.split("```toml\n")[1:] if b.startswith("[[contacts]]")).split("```", 1)[0]
    config = load_config(_config(tmp_path, block))
    assert [c.teams for c in config.contacts] == [[], ["haustechnik"]]
    assert (config.escalation.critical, config.escalation.warning, config.escalation.info) == ("15m", "4h", "1d")
