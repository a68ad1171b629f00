"""Agent configuration: one TOML file, overridden key by key from the environment.

The file is flat (no tables)::

    collector_url = "https://leitstand.kreis.example"
    ca_bundle = "/etc/leitstand/ca.pem"
    sample_interval = 15        # seconds
    send_interval = 60          # seconds
    site = "rathaus"
    role = "thin-client"        # server | vm | thin-client; absent or "detect": detect

Every key can be overridden by ``LEITSTAND_AGENT_<KEY>``, for example
``LEITSTAND_AGENT_COLLECTOR_URL`` or ``LEITSTAND_AGENT_SAMPLE_INTERVAL=30``.

Loading is strict: an unknown key or a value of the wrong type raises
:class:`ConfigError` naming the file, the key and its line, because a typo that
is silently ignored (``sample_intervall``) costs a day of wrong data before
anyone notices.

Default locations: the config file is ``$XDG_CONFIG_HOME/leitstand/agent.toml``
(as root: ``/etc/leitstand/agent.toml`` when it exists); a missing default file
means "all defaults". The state directory (agent id, token, spool) is
``$STATE_DIRECTORY`` when systemd sets it, else ``/var/lib/leitstand-agent`` for
root, else ``$XDG_STATE_HOME/leitstand-agent``.

On Windows both live under ``%ProgramData%\\Leitstand`` for every account
(``agent.toml`` and ``state\\``): the agent runs as a service there, and an admin's
``leitstand-agent status`` must see the service's spool, not a per-user one.
"""

from __future__ import annotations

import math
import os
import re
import sys
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from agent import wire

__all__ = [
    "ENV_PREFIX",
    "ETC_CONFIG_PATH",
    "AgentConfig",
    "ConfigError",
    "default_config_path",
    "default_state_dir",
    "load_config",
    "validate_collector_url",
    "windows_data_dir",
]

ENV_PREFIX = "LEITSTAND_AGENT_"
ETC_CONFIG_PATH = Path("/etc/leitstand/agent.toml")
ROOT_STATE_DIR = Path("/var/lib/leitstand-agent")
# Windows: %ProgramData%\Leitstand\{WINDOWS_CONFIG_NAME, WINDOWS_STATE_NAME}
WINDOWS_DIR_NAME = "Leitstand"
WINDOWS_CONFIG_NAME = "agent.toml"
WINDOWS_STATE_NAME = "state"

MiB = 1024 * 1024


class ConfigError(Exception):
    """A configuration problem, located as precisely as we can.

    ``source`` is the file path (or ``"environment"``), ``key`` the setting (or the
    environment variable), ``line`` the 1-based line in the file when known.
    """

    def __init__(
        self,
        reason: str,
        *,
        source: str | None = None,
        key: str | None = None,
        line: int | None = None,
    ) -> None:
        self.reason = reason
        self.source = source
        self.key = key
        self.line = line
        where = source or ""
        if source and line is not None:
            where = f"{source}:{line}"
        parts = [p for p in (where, key, reason) if p]
        super().__init__(": ".join(parts))


@dataclass(frozen=True)
class AgentConfig:
    """The agent's settings after defaults, file and environment were merged."""

    state_dir: Path
    collector_url: str | None = None
    token_file: Path | None = None
    ca_bundle: Path | None = None
    sample_interval: float = 15.0
    send_interval: float = 60.0
    batch_max: int = 100
    spool_max_bytes: int = 50 * MiB
    role: wire.Role | None = None
    site: str = ""
    textfile_dir: Path | None = None
    request_timeout: float = 10.0
    agent_id: str | None = None
    #: SNMP devices this agent polls ([[devices]] tables; agent.snmp.devices.DeviceConfig)
    devices: tuple[Any, ...] = ()
    snmp_concurrency: int = 32
    snmp_secrets_file: Path | None = None
    source: Path | None = None  # the file that was read, for messages

    @property
    def token_path(self) -> Path:
        return self.token_file if self.token_file is not None else self.state_dir / "token"

    @property
    def spool_path(self) -> Path:
        return self.state_dir / "spool.sqlite"


class _Invalid(ValueError):
    """A value failed its check; the loader adds where it came from."""


_Kind = Literal["str", "float", "int"]


@dataclass(frozen=True)
class _Key:
    kind: _Kind
    check: Callable[[Any], Any]


def validate_collector_url(value: str) -> str:
    """Return the URL without a trailing slash, or raise ValueError saying what is wrong."""
    url = value.strip().rstrip("/")
    if not re.fullmatch(r"https?://[^/\s?#]+(/[^\s?#]*)?", url):
        raise ValueError(f"expected http(s)://host[:port][/prefix], got {value!r}")
    return url


def _url(value: str) -> str:
    try:
        return validate_collector_url(value)
    except ValueError as exc:
        raise _Invalid(str(exc)) from None


def _path(value: str) -> Path:
    if not value:
        raise _Invalid("must not be empty")
    return Path(value).expanduser()


def _seconds(value: float) -> float:
    # The wire format caps interval_s at one day, so nothing longer makes sense here.
    if not (math.isfinite(value) and 0 < value <= 86400):
        raise _Invalid(f"expected seconds in (0, 86400], got {value!r}")
    return float(value)


def _batch_max(value: int) -> int:
    if not 1 <= value <= wire.MAX_REPORTS_PER_BATCH:
        raise _Invalid(f"expected 1..{wire.MAX_REPORTS_PER_BATCH} reports per POST, got {value}")
    return value


def _spool_bytes(value: int) -> int:
    # Below 64 KiB a single report with many disks and textfile samples may not fit.
    if value < 64 * 1024:
        raise _Invalid(f"expected at least 65536 bytes, got {value}")
    return value


def _role(value: str) -> str | None:
    if value in ("", "detect"):
        return None
    if value not in ("server", "vm", "thin-client"):
        raise _Invalid(f"expected server, vm, thin-client or detect, got {value!r}")
    return value


def _site(value: str) -> str:
    if len(value) > 256:
        raise _Invalid("longer than 256 characters")
    return value


def _agent_id(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._:-]{1,128}", value):
        raise _Invalid("expected 1-128 characters of A-Z a-z 0-9 . _ : -")
    return value


def _snmp_concurrency(value: int) -> int:
    if not 1 <= value <= 1024:
        raise _Invalid(f"expected 1..1024 devices polled at once, got {value}")
    return value


_KEYS: dict[str, _Key] = {
    "collector_url": _Key("str", _url),
    "token_file": _Key("str", _path),
    "state_dir": _Key("str", _path),
    "ca_bundle": _Key("str", _path),
    "sample_interval": _Key("float", _seconds),
    "send_interval": _Key("float", _seconds),
    "batch_max": _Key("int", _batch_max),
    "spool_max_bytes": _Key("int", _spool_bytes),
    "role": _Key("str", _role),
    "site": _Key("str", _site),
    "textfile_dir": _Key("str", _path),
    "request_timeout": _Key("float", _seconds),
    "agent_id": _Key("str", _agent_id),
    "snmp_concurrency": _Key("int", _snmp_concurrency),
    "snmp_secrets_file": _Key("str", _path),
}
_PATH_KEYS = frozenset({"token_file", "state_dir", "ca_bundle", "textfile_dir", "snmp_secrets_file"})
# Settings whose absence means "use the default"; an empty environment variable unsets them.
_OPTIONAL_KEYS = _PATH_KEYS | {"collector_url", "agent_id"}
# Tables rather than flat keys: SNMP devices ([[devices]], see agent.snmp.devices).
_DEVICES_KEY = "devices"

_TYPE_NAMES = {"str": "a string", "float": "a number", "int": "an integer"}


def _toml_type_ok(kind: _Kind, value: object) -> bool:
    if isinstance(value, bool):  # bool is an int subclass; `batch_max = true` is a mistake
        return False
    if kind == "str":
        return isinstance(value, str)
    if kind == "float":
        return isinstance(value, int | float)
    return isinstance(value, int)


def _from_env_string(kind: _Kind, raw: str) -> object:
    try:
        if kind == "float":
            return float(raw)
        if kind == "int":
            return int(raw, 10)
    except ValueError:
        raise _Invalid(f"expected {_TYPE_NAMES[kind]}, got {raw!r}") from None
    return raw


def _xdg_dir(env: Mapping[str, str], var: str, fallback: str) -> Path:
    value = env.get(var, "")
    # The XDG spec says relative values are invalid and must be ignored.
    if value and os.path.isabs(value):
        return Path(value)
    return Path(env.get("HOME") or Path.home()) / fallback


def _is_root() -> bool:
    return sys.platform != "win32" and os.geteuid() == 0


def windows_data_dir(env: Mapping[str, str]) -> Path:
    """``%ProgramData%\\Leitstand``; ``C:\\ProgramData`` when the variable is unset or not absolute."""
    import ntpath  # not os.path: the answer must not depend on the platform asking

    program_data = env.get("ProgramData") or env.get("PROGRAMDATA") or ""
    if not ntpath.isabs(program_data):
        program_data = "C:\\ProgramData"
    return Path(ntpath.join(program_data, WINDOWS_DIR_NAME))


def default_config_path(
    env: Mapping[str, str] | None = None,
    *,
    is_root: bool | None = None,
    etc_path: Path = ETC_CONFIG_PATH,
    platform: str = sys.platform,
) -> Path:
    """Where the agent looks for its config when ``--config`` is not given."""
    env = os.environ if env is None else env
    if platform == "win32":
        return windows_data_dir(env) / WINDOWS_CONFIG_NAME
    root = _is_root() if is_root is None else is_root
    if root and etc_path.exists():
        return etc_path
    return _xdg_dir(env, "XDG_CONFIG_HOME", ".config") / "leitstand" / "agent.toml"


def default_state_dir(
    env: Mapping[str, str] | None = None, *, is_root: bool | None = None, platform: str = sys.platform
) -> Path:
    """Where the agent keeps its id, token and spool unless ``state_dir`` says otherwise."""
    env = os.environ if env is None else env
    if platform == "win32":
        return windows_data_dir(env) / WINDOWS_STATE_NAME
    # systemd's StateDirectory= exports the directory it created (colon-separated if several).
    systemd_dir = env.get("STATE_DIRECTORY", "").split(":")[0]
    if systemd_dir:
        return Path(systemd_dir)
    if _is_root() if is_root is None else is_root:
        return ROOT_STATE_DIR
    return _xdg_dir(env, "XDG_STATE_HOME", ".local/state") / "leitstand-agent"


def _read_file(path: Path) -> tuple[str, dict[str, Any]]:
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", source=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", source=str(path)) from None
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"at line (\d+)", str(exc))
        line = int(found.group(1)) if found else None
        raise ConfigError(f"not valid TOML: {exc}", source=str(path), line=line) from None


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    is_root: bool | None = None,
) -> AgentConfig:
    """Merge defaults, the TOML file and ``LEITSTAND_AGENT_*`` variables (in that order).

    An explicit ``path`` must exist; the default path may be missing. Relative
    paths in the file are relative to the file's directory.
    """
    env = os.environ if env is None else env
    explicit = path is not None
    file_path = Path(path) if path is not None else default_config_path(env, is_root=is_root)
    values: dict[str, Any] = {}
    source: Path | None = None
    devices_raw: object = None
    devices_line: int | None = None

    if explicit or file_path.exists():
        text, data = _read_file(file_path)
        source = file_path
        for key, raw in data.items():
            line = wire.find_key_line(text, (), key)
            if key == _DEVICES_KEY:
                devices_raw, devices_line = raw, line
                continue
            spec = _KEYS.get(key)
            if spec is None:
                known = ", ".join(sorted(_KEYS))
                raise ConfigError(f"unknown setting (known: {known})", source=str(file_path), key=key, line=line)
            if not _toml_type_ok(spec.kind, raw):
                raise ConfigError(
                    f"expected {_TYPE_NAMES[spec.kind]}, got {type(raw).__name__} {raw!r}",
                    source=str(file_path),
                    key=key,
                    line=line,
                )
            try:
                value = spec.check(raw)
            except _Invalid as exc:
                raise ConfigError(str(exc), source=str(file_path), key=key, line=line) from None
            if key in _PATH_KEYS and not value.is_absolute():
                value = file_path.parent / value
            values[key] = value

    for var in sorted(env):
        if not var.startswith(ENV_PREFIX):
            continue
        key = var[len(ENV_PREFIX) :].lower()
        spec = _KEYS.get(key)
        if spec is None:
            known = ", ".join(ENV_PREFIX + k.upper() for k in sorted(_KEYS))
            raise ConfigError(f"unknown setting (known: {known})", source="environment", key=var)
        raw_env = env[var]
        if key in _OPTIONAL_KEYS and raw_env == "":
            values.pop(key, None)
            continue
        try:
            values[key] = spec.check(_from_env_string(spec.kind, raw_env))
        except _Invalid as exc:
            raise ConfigError(str(exc), source="environment", key=var) from None

    if "state_dir" not in values:
        values["state_dir"] = default_state_dir(env, is_root=is_root)
    if devices_raw is not None:
        values["devices"] = _load_devices(devices_raw, values.get("snmp_secrets_file"), env, file_path, devices_line)
    return AgentConfig(source=source, **values)


def _load_devices(raw: object, secrets_file: Path | None, env: Mapping[str, str], path: Path, line: int | None) -> Any:
    # Imported only when devices are configured; the package itself never loads pysnmp.
    from agent.snmp.devices import DeviceConfigError, load_secrets_file, parse_devices

    try:
        secrets = load_secrets_file(secrets_file) if secrets_file is not None else {}
        return parse_devices(raw, secrets=secrets, env=env)
    except DeviceConfigError as exc:
        raise ConfigError(exc.reason, source=str(path), key=exc.key, line=line) from None
