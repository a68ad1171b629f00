"""Default locations, following the XDG base directory spec."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DEFAULT_LISTEN", "default_config_path", "default_db_path"]

DEFAULT_LISTEN = "127.0.0.1:8470"


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var)
    return Path(value) if value else Path.home() / fallback


def default_db_path() -> Path:
    """`$LEITSTAND_DB`, else `$XDG_DATA_HOME/leitstand/collector.db`."""
    env = os.environ.get("LEITSTAND_DB")
    if env:
        return Path(env)
    return _xdg("XDG_DATA_HOME", ".local/share") / "leitstand" / "collector.db"


def default_config_path() -> Path:
    """`$LEITSTAND_CONFIG`, else `$XDG_CONFIG_HOME/leitstand/collector.toml` (optional)."""
    env = os.environ.get("LEITSTAND_CONFIG")
    if env:
        return Path(env)
    return _xdg("XDG_CONFIG_HOME", ".config") / "leitstand" / "collector.toml"
