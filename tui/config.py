"""Where the TUI finds its collector and token: flags, then environment, then
``$XDG_CONFIG_HOME/leitstand/tui.toml``, then defaults."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .fmt import DEFAULT_ZONE, ZoneError, zone_from_name
from .i18n import LANGS

__all__ = ["DEFAULT_COLLECTOR", "ConfigError", "Settings", "config_path", "resolve"]

DEFAULT_COLLECTOR = "http://127.0.0.1:8470"
_KEYS = {"collector", "token", "token_file", "lang", "refresh_s", "zone"}


class ConfigError(ValueError):
    """The config file cannot be used; the message names file and key."""


@dataclass(frozen=True)
class Settings:
    collector: str
    token: str | None
    lang: str | None
    refresh_s: float
    #: IANA time zone the TUI shows times in
    zone: str = DEFAULT_ZONE


def config_path(env: Mapping[str, str]) -> Path:
    if env.get("LEITSTAND_TUI_CONFIG"):
        return Path(env["LEITSTAND_TUI_CONFIG"])
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "leitstand" / "tui.toml"


def _load(path: Path) -> dict[str, object]:
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})")
    return data


def _read_token(path: str, origin: str) -> str:
    try:
        return Path(path).expanduser().read_text().strip()
    except OSError as exc:
        raise ConfigError(f"{origin}: cannot read token file {path}: {exc.strerror}") from exc


def resolve(
    *,
    collector: str | None = None,
    token: str | None = None,
    token_file: str | None = None,
    lang: str | None = None,
    zone: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    environ = os.environ if env is None else env
    path = config_path(environ)
    file = _load(path)
    if token is None and token_file:
        token = _read_token(token_file, "--token-file")
    if token is None and environ.get("LEITSTAND_TOKEN"):
        token = environ["LEITSTAND_TOKEN"]
    if token is None and environ.get("LEITSTAND_TOKEN_FILE"):
        token = _read_token(environ["LEITSTAND_TOKEN_FILE"], "LEITSTAND_TOKEN_FILE")
    if token is None and isinstance(file.get("token"), str):
        token = str(file["token"])
    if token is None and isinstance(file.get("token_file"), str):
        token = _read_token(str(file["token_file"]), str(path))
    url = collector or environ.get("LEITSTAND_COLLECTOR") or str(file.get("collector") or DEFAULT_COLLECTOR)
    refresh = file.get("refresh_s", 15.0)
    if not isinstance(refresh, int | float) or refresh < 0:
        raise ConfigError(f"{path}: refresh_s must be a number of seconds >= 0")
    return Settings(
        collector=url,
        token=token or None,
        lang=lang or _file_lang(file, path),
        refresh_s=float(refresh),
        zone=_zone(zone, "--zone") if zone else _zone(file.get("zone", DEFAULT_ZONE), f"{path}: zone"),
    )


def _file_lang(file: Mapping[str, object], path: Path) -> str | None:
    """The file's language, checked as `--lang` is (a typo must not end in a traceback)."""
    if "lang" not in file:
        return None
    value = file["lang"]
    if value not in LANGS:
        raise ConfigError(f"{path}: lang must be one of {', '.join(repr(v) for v in LANGS)}, not {value!r}")
    return str(value)


def _zone(value: object, origin: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f'{origin} must be a time zone name such as "Europe/Berlin", not {value!r}')
    try:
        zone_from_name(value)
    except ZoneError as exc:
        raise ConfigError(f"{origin}: {exc}") from exc
    return value
