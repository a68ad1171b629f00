"""Device configuration of the SNMP poller: parsed from the agent's TOML, pure.

In ``agent.toml``::

    snmp_secrets_file = "/etc/leitstand/snmp-secrets.toml"   # optional, mode 0600

    [[devices]]
    id = "drucker-rathaus-eg"
    address = "10.1.2.30"          # host or IP; port 161 unless `port` says otherwise
    kind = "printer"                # printer | ups | switch | generic | auto
    community_env = "DRUCKER_COMMUNITY"   # or `community` here, or in the secrets file
    engine = "auto"                 # auto: lean v1/v2c path, pysnmp for v3 | pysnmp: pysnmp for v2c too

    [[devices]]
    id = "usv-serverraum"
    address = "10.1.2.40"
    kind = "ups"
    version = "3"
    user = "leitstand"
    auth = "sha256"                 # sha | sha256 | sha512
    priv = "aes256"                 # aes128 | aes256 (authPriv); omit both keys for noAuthNoPriv
    # auth_key / priv_key come from the secrets file or `auth_key_env` / `priv_key_env`

The secrets file maps device ids to their secrets::

    [drucker-rathaus-eg]
    community = "..."
    [usv-serverraum]
    auth_key = "..."
    priv_key = "..."

Secrets are held in :class:`Secret`, whose ``repr`` and ``str`` never show the
value, so a secret cannot reach a log line, an error message or a report.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "AUTH_PROTOCOLS",
    "ENGINES",
    "KINDS",
    "PRIV_PROTOCOLS",
    "DeviceConfig",
    "DeviceConfigError",
    "Secret",
    "V3Auth",
    "load_secrets_file",
    "parse_devices",
    "parse_target",
]

Kind = Literal["printer", "ups", "switch", "generic", "auto"]
KINDS: tuple[str, ...] = ("printer", "ups", "switch", "generic", "auto")
ENGINES: tuple[str, ...] = ("auto", "lean", "pysnmp")
AUTH_PROTOCOLS: tuple[str, ...] = ("sha", "sha256", "sha512")
PRIV_PROTOCOLS: tuple[str, ...] = ("aes128", "aes256")
_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_DEFAULT_UPLINK_ALIAS = r"(?i)\buplink\b"


class DeviceConfigError(ValueError):
    """A device entry that cannot be used; ``key`` names the setting (``devices[2].port``)."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


class Secret:
    """A secret string that never shows itself in repr, str or f-strings."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True)
class V3Auth:
    user: str
    auth: str | None = None  # sha | sha256 | sha512; None: noAuthNoPriv
    auth_key: Secret | None = None
    priv: str | None = None  # aes128 | aes256; None: authNoPriv
    priv_key: Secret | None = None

    @property
    def level(self) -> str:
        if self.auth is None:
            return "noAuthNoPriv"
        return "authNoPriv" if self.priv is None else "authPriv"


@dataclass(frozen=True)
class DeviceConfig:
    id: str
    address: str
    port: int = 161
    kind: Kind = "auto"
    version: Literal["1", "2c", "3"] = "2c"
    community: Secret | None = None
    v3: V3Auth | None = None
    timeout: float = 2.0
    retries: int = 1
    #: seconds between polls; None: the agent's sample_interval
    interval: float | None = None
    #: interface names, aliases or indexes that are uplinks (switches)
    uplinks: tuple[str, ...] = ()
    uplink_alias: str = _DEFAULT_UPLINK_ALIAS
    max_repetitions: int = 25
    #: values walked per table at most; longer tables are cut and noted
    max_rows: int = 10000
    #: auto: lean for v2c, pysnmp for v3; lean (v2c only) or pysnmp to force one
    engine: str = "auto"
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def target(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port}"

    @property
    def poll_deadline(self) -> float:
        """Seconds one poll may take at most: a few requests' worth of timeouts."""
        return max(5.0, self.timeout * (self.retries + 1) * 4)


_DEVICE_KEYS = {
    "id",
    "address",
    "port",
    "kind",
    "version",
    "community",
    "community_env",
    "user",
    "auth",
    "auth_key",
    "auth_key_env",
    "priv",
    "priv_key",
    "priv_key_env",
    "timeout",
    "retries",
    "interval",
    "uplinks",
    "uplink_alias",
    "max_repetitions",
    "max_rows",
    "engine",
}
_SECRET_KEYS = ("community", "auth_key", "priv_key")


def parse_target(value: str) -> tuple[str, int]:
    """``HOST``, ``HOST:PORT``, ``[V6]:PORT`` -> (host, port)."""
    value = value.strip()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest.removeprefix(":") or "161"
    elif value.count(":") == 1:
        host, port = value.split(":")
    else:
        host, port = value, "161"
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"expected HOST[:PORT], got {value!r}")
    return host, int(port)


def load_secrets_file(path: Path) -> dict[str, dict[str, Secret]]:
    """Read the secrets file: ``[device-id]`` tables of community / auth_key / priv_key."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DeviceConfigError("snmp_secrets_file", f"cannot read {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        # The message of a TOML error may quote the offending line, which may hold a secret.
        line = re.search(r"at line (\d+)", str(exc))
        where = f" (line {line.group(1)})" if line else ""
        raise DeviceConfigError("snmp_secrets_file", f"{path} is not valid TOML{where}") from None
    out: dict[str, dict[str, Secret]] = {}
    for device, table in data.items():
        if not isinstance(table, dict):
            raise DeviceConfigError("snmp_secrets_file", f"{path}: {device!r} must be a table [{device}]")
        for key, value in table.items():
            if key not in _SECRET_KEYS:
                raise DeviceConfigError(
                    "snmp_secrets_file", f"{path}: [{device}] {key}: unknown (known: {', '.join(_SECRET_KEYS)})"
                )
            if not isinstance(value, str) or not value:
                raise DeviceConfigError("snmp_secrets_file", f"{path}: [{device}] {key}: expected a non-empty string")
        out[device] = {k: Secret(v) for k, v in table.items()}
    return out


def _get(entry: Mapping[str, Any], where: str, key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
    value = entry.get(key, default)
    if value is default:
        return value
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise DeviceConfigError(f"{where}.{key}", f"expected {names}, got {type(value).__name__}")
    return value


def _secret(
    entry: Mapping[str, Any],
    where: str,
    key: str,
    secrets: Mapping[str, Secret],
    env: Mapping[str, str],
) -> Secret | None:
    inline = _get(entry, where, key, str)
    env_name = _get(entry, where, f"{key}_env", str)
    sources = [s for s in (inline, env_name, secrets.get(key)) if s is not None]
    if len(sources) > 1:
        raise DeviceConfigError(f"{where}.{key}", "given more than once (inline, *_env or the secrets file): pick one")
    if inline is not None:
        return Secret(inline) if inline else None
    if env_name is not None:
        value = env.get(env_name)
        if not value:
            raise DeviceConfigError(f"{where}.{key}_env", f"environment variable {env_name} is not set or empty")
        return Secret(value)
    return secrets.get(key)


def _positive(where: str, value: float, low: float, high: float) -> float:
    if not (math.isfinite(value) and low <= value <= high):
        raise DeviceConfigError(where, f"expected a number in [{low:g}, {high:g}], got {value!r}")
    return float(value)


def parse_devices(
    entries: object,
    *,
    secrets: Mapping[str, Mapping[str, Secret]] | None = None,
    env: Mapping[str, str] | None = None,
) -> tuple[DeviceConfig, ...]:
    """Validate the ``[[devices]]`` array of tables; raises DeviceConfigError naming the key."""
    env = os.environ if env is None else env
    secrets = secrets or {}
    if not isinstance(entries, list):
        raise DeviceConfigError("devices", "expected an array of tables ([[devices]])")
    seen: set[str] = set()
    out: list[DeviceConfig] = []
    for i, entry in enumerate(entries):
        where = f"devices[{i}]"
        if not isinstance(entry, dict):
            raise DeviceConfigError(where, "expected a table")
        unknown = sorted(set(entry) - _DEVICE_KEYS)
        if unknown:
            raise DeviceConfigError(
                f"{where}.{unknown[0]}", f"unknown setting (known: {', '.join(sorted(_DEVICE_KEYS))})"
            )
        dev_id = _get(entry, where, "id", str)
        if dev_id is None or not _ID_RE.match(dev_id):
            raise DeviceConfigError(f"{where}.id", "required: 1-128 characters of A-Z a-z 0-9 . _ : -")
        where = f"devices[{i}] ({dev_id})"
        if dev_id in seen:
            raise DeviceConfigError(f"{where}.id", "used twice")
        seen.add(dev_id)
        address = _get(entry, where, "address", str)
        if not address:
            raise DeviceConfigError(f"{where}.address", "required: host name or IP address")
        port = _get(entry, where, "port", int, 161)
        if not 1 <= port <= 65535:
            raise DeviceConfigError(f"{where}.port", f"expected 1..65535, got {port}")
        kind = _get(entry, where, "kind", str, "auto")
        if kind not in KINDS:
            raise DeviceConfigError(f"{where}.kind", f"expected one of {', '.join(KINDS)}, got {kind!r}")
        version = str(_get(entry, where, "version", (str, int), "2c"))
        if version not in ("1", "2c", "3"):
            raise DeviceConfigError(f"{where}.version", f'expected "1", "2c" or "3", got {version!r}')
        own_secrets = secrets.get(dev_id, {})
        community = v3 = None
        if version in ("1", "2c"):
            for key in ("user", "auth", "priv", "auth_key", "priv_key", "auth_key_env", "priv_key_env"):
                if key in entry:
                    raise DeviceConfigError(f"{where}.{key}", 'only for version = "3"')
            community = _secret(entry, where, "community", own_secrets, env)
            if community is None:
                raise DeviceConfigError(
                    f"{where}.community", f"required for SNMP v{version} (inline, community_env or the secrets file)"
                )
        else:
            for key in ("community", "community_env"):
                if key in entry:
                    raise DeviceConfigError(f"{where}.{key}", 'only for version = "1" or "2c"')
            user = _get(entry, where, "user", str)
            if not user:
                raise DeviceConfigError(f"{where}.user", "required for SNMP v3")
            auth = _get(entry, where, "auth", str)
            priv = _get(entry, where, "priv", str)
            if auth is not None and auth not in AUTH_PROTOCOLS:
                raise DeviceConfigError(f"{where}.auth", f"expected one of {', '.join(AUTH_PROTOCOLS)}, got {auth!r}")
            if priv is not None and priv not in PRIV_PROTOCOLS:
                raise DeviceConfigError(f"{where}.priv", f"expected one of {', '.join(PRIV_PROTOCOLS)}, got {priv!r}")
            if priv is not None and auth is None:
                raise DeviceConfigError(f"{where}.priv", "privacy needs authentication: set `auth` too")
            auth_key = _secret(entry, where, "auth_key", own_secrets, env)
            priv_key = _secret(entry, where, "priv_key", own_secrets, env)
            if auth is not None and (auth_key is None or len(auth_key.reveal()) < 8):
                raise DeviceConfigError(f"{where}.auth_key", "required with `auth`, at least 8 characters")
            if priv is not None and (priv_key is None or len(priv_key.reveal()) < 8):
                raise DeviceConfigError(f"{where}.priv_key", "required with `priv`, at least 8 characters")
            v3 = V3Auth(user=user, auth=auth, auth_key=auth_key, priv=priv, priv_key=priv_key)
        timeout = _positive(f"{where}.timeout", _get(entry, where, "timeout", (int, float), 2.0), 0.05, 60)
        retries = _get(entry, where, "retries", int, 1)
        if not 0 <= retries <= 10:
            raise DeviceConfigError(f"{where}.retries", f"expected 0..10, got {retries}")
        interval = _get(entry, where, "interval", (int, float))
        if interval is not None:
            interval = _positive(f"{where}.interval", interval, 1, 86400)
        uplinks_raw = _get(entry, where, "uplinks", list, [])
        if not all(isinstance(u, str | int) and not isinstance(u, bool) for u in uplinks_raw):
            raise DeviceConfigError(f"{where}.uplinks", "expected a list of interface names, aliases or indexes")
        uplink_alias = _get(entry, where, "uplink_alias", str, _DEFAULT_UPLINK_ALIAS)
        try:
            re.compile(uplink_alias)
        except re.error as exc:
            raise DeviceConfigError(f"{where}.uplink_alias", f"not a regular expression: {exc}") from None
        max_rep = _get(entry, where, "max_repetitions", int, 25)
        if not 1 <= max_rep <= 200:
            raise DeviceConfigError(f"{where}.max_repetitions", f"expected 1..200, got {max_rep}")
        max_rows = _get(entry, where, "max_rows", int, 10000)
        if not 10 <= max_rows <= 1_000_000:
            raise DeviceConfigError(f"{where}.max_rows", f"expected 10..1000000, got {max_rows}")
        engine = _get(entry, where, "engine", str, "auto")
        if engine not in ENGINES:
            raise DeviceConfigError(f"{where}.engine", f"expected one of {', '.join(ENGINES)}, got {engine!r}")
        if engine == "lean" and version == "3":
            raise DeviceConfigError(
                f"{where}.engine", 'the lean engine speaks v1 and v2c only; SNMPv3 needs "pysnmp" or "auto"'
            )
        if engine == "pysnmp" and version == "1":
            raise DeviceConfigError(f"{where}.engine", 'SNMPv1 is polled by the lean engine only: "auto" or "lean"')
        out.append(
            DeviceConfig(
                id=dev_id,
                address=address,
                port=port,
                kind=kind,
                version="3" if version == "3" else "1" if version == "1" else "2c",
                community=community,
                v3=v3,
                timeout=timeout,
                retries=retries,
                interval=interval,
                uplinks=tuple(str(u) for u in uplinks_raw),
                uplink_alias=uplink_alias,
                max_repetitions=max_rep,
                max_rows=max_rows,
                engine=engine,
            )
        )
    return tuple(out)
