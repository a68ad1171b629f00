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
