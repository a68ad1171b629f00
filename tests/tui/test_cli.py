"""Where the TUI finds collector and token: flag, environment, config file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support import leitstand, run_cli
from tui.config import DEFAULT_COLLECTOR, ConfigError, resolve


def test_flags_beat_environment_beat_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "leitstand" / "tui.toml"
    config.parent.mkdir(parents=True)
    config.write_text('collector = "http://file:1"\ntoken = "from-file"\nlang = "de"\nrefresh_s = 30\n')
    s = resolve()
    assert (s.collector, s.token, s.lang, s.refresh_s) == ("http://file:1", "from-file", "de", 30.0)
    monkeypatch.setenv("LEITSTAND_TOKEN", "from-env")
    monkeypatch.setenv("LEITSTAND_COLLECTOR", "http://env:2")
    s = resolve()
    assert (s.collector, s.token) == ("http://env:2", "from-env")
    s = resolve(collector="http://flag:3", token="from-flag", lang="en")
    assert (s.collector, s.token, s.lang) == ("http://flag:3", "from-flag", "en")
    token_file = tmp_path / "token"
    token_file.write_text("from-token-file\n")
    assert resolve(token_file=str(token_file)).token == "from-token-file"


def test_defaults_and_config_errors(tmp_path: Path) -> None:
    s = resolve(env={"XDG_CONFIG_HOME": str(tmp_path)})
    assert (s.collector, s.token, s.lang) == (DEFAULT_COLLECTOR, None, None)
    bad = tmp_path / "leitstand" / "tui.toml"
    bad.parent.mkdir()
    bad.write_text('colector = "x"\n')
    with pytest.raises(ConfigError, match="unknown key 'colector'"):
        resolve(env={"XDG_CONFIG_HOME": str(tmp_path)})
    with pytest.raises(ConfigError, match="cannot read token file"):
        resolve(token_file=str(tmp_path / "missing"), env={})


def test_console_script_help_and_errors(tmp_path: Path) -> None:
    r = run_cli(leitstand("leitstand-tui"), "--help")
    assert r.returncode == 0 and "--collector URL" in r.stdout and "--lang {de,en}" in r.stdout
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path)}
    r = run_cli(leitstand("leitstand-tui"), "--token-file", str(tmp_path / "nope"), env=env)
    assert r.returncode == 2 and "cannot read token file" in r.stderr


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('lang = "fr"', "lang must be one of 'de', 'en', not 'fr'"),
        ("lang = 1", "lang must be one of 'de', 'en', not 1"),
        ('zone = "Mars/Olympus"', "zone: unknown time zone 'Mars/Olympus'"),
        ("zone = 1", "zone must be a time zone name"),
    ],
)
def test_config_lang_and_zone_are_checked(tmp_path: Path, line: str, message: str) -> None:
    config = tmp_path / "leitstand" / "tui.toml"
    config.parent.mkdir()
    config.write_text(line + "\n")
    with pytest.raises(ConfigError) as caught:
        resolve(env={"XDG_CONFIG_HOME": str(tmp_path)})
    assert str(caught.value).startswith(f"{config}: {message}")


def test_zone_from_file_and_flag(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    assert resolve(env=env).zone == "Europe/Berlin"
    config = tmp_path / "leitstand" / "tui.toml"
    config.parent.mkdir()
    config.write_text('zone = "UTC"\nlang = "en"\n')
    assert (resolve(env=env).zone, resolve(env=env).lang) == ("UTC", "en")
    assert resolve(zone="America/New_York", env=env).zone == "America/New_York"
    with pytest.raises(ConfigError, match=r"^--zone: unknown time zone 'Nowhere'"):
        resolve(zone="Nowhere", env=env)


def test_console_script_names_a_bad_lang_in_the_file_without_a_traceback(tmp_path: Path) -> None:
    config = tmp_path / "leitstand" / "tui.toml"
    config.parent.mkdir()
    config.write_text('lang = "fr"\n')
    r = run_cli(leitstand("leitstand-tui"), env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path)})
    assert r.returncode == 2
    assert r.stderr.strip() == f"leitstand-tui: {config}: lang must be one of 'de', 'en', not 'fr'"
    assert "Traceback" not in r.stderr


def test_readme_config_example_loads_as_pasted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme[readme.index("The optional config file is `$XDG_CONFIG_HOME/leitstand/tui.toml`") :]
    example = section[section.index("```toml\n") + len("```toml\n") : section.index("```\n", section.index("```toml"))]
    monkeypatch.setenv("HOME", str(tmp_path))  # the example's token_file is under ~
    (tmp_path / ".config" / "leitstand").mkdir(parents=True)
    (tmp_path / ".config" / "leitstand" / "token").write_text("t0ken\n")
    config = tmp_path / "tui.toml"
    config.write_text(example)
    s = resolve(env={"LEITSTAND_TUI_CONFIG": str(config)})
    assert (s.collector, s.token, s.lang, s.zone, s.refresh_s) == (
        "https://leitstand.kreis.example",
        "t0ken",
        "de",
        "Europe/Berlin",
        15.0,
    )
