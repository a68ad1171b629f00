"""The collector config is strict: every mistake names file, key and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.config import Config, load_config
from collector.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "collector.toml"
    path.write_text(text)
    return path


def test_missing_file_means_defaults() -> None:
    assert load_config(None) == Config()


def test_valid_file_is_loaded(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, '[server]\nlisten = "0.0.0.0:9000"\n\n[storage]\nretention_days = 7\n'))
    assert cfg.server.listen == "0.0.0.0:9000"
    assert cfg.storage.retention_days == 7
    assert cfg.ingest.queue_max == Config().ingest.queue_max


def test_unknown_key_names_file_key_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\nlisten = "0.0.0.0:9000"\n\n[storage]\nretention_dayz = 7\n')
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert str(exc.value).startswith(f"{path}:5: storage.retention_dayz:")
    assert "unknown field" in str(exc.value)


def test_unknown_section_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "# comment\n\n[alarme]\nx = 1\n")
    with pytest.raises(ConfigError, match=r"collector.toml:3: alarme:"):
        load_config(path)


def test_wrong_type_names_file_key_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[ingest]\nqueue_max = "lots"\n')
    with pytest.raises(ConfigError, match=r"collector.toml:2: ingest.queue_max: Expected `int`, got `str`"):
        load_config(path)


def test_out_of_range_value_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "[storage]\nretention_days = -1\n")
    with pytest.raises(ConfigError, match=r":2: storage.retention_days: Expected `int` >= 0"):
        load_config(path)


def test_invalid_toml_is_an_error_with_position(tmp_path: Path) -> None:
    path = write(tmp_path, "[server\nlisten = 1\n")
    with pytest.raises(ConfigError, match=r"not valid TOML.*line 1"):
        load_config(path)


def test_unreadable_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "missing.toml")
