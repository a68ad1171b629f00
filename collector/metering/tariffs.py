"""Tariffs: versioned price lists in TOML, validated strictly.

A tariff file (its path is the collector setting ``[metering] tariffs``) holds
one ``[[tariff]]`` table per *version*. A version belongs to one tenant
(``tenant = "stadt-lohne"``) or is the default price list (no ``tenant``), and
is valid from a billing period ``valid_from = "YYYY-MM"`` on, up to and
including ``valid_until`` when that is given (open-ended otherwise). Two
versions of the same tenant (or two default versions) must not overlap, so for
any period there is at most one candidate of each kind.

Which version prices a period (:meth:`TariffBook.for_period`): the tenant's
own version valid in that period, else the default version valid in that
period, else none (everything is reported unpriced). A re-export of an old
period therefore uses the prices that were valid then, as long as the old
versions stay in the file: change prices by adding a version, never by
editing one that has been billed.

Complete example::

    # Default price list from January 2026 on, for tenants not subject to VAT.
    [[tariff]]
    valid_from = "2026-01"
    valid_until = "2026-12"        # optional, inclusive
    currency = "EUR"               # optional; EUR is the only currency for now
    vat_percent = 0                # 0: no VAT line

    [tariff.prices]                # EUR per unit of each meter
    cpu_core_seconds = "0.00001"
    memory_gib_hours = "0.004"
    storage_gib_hours = "0.0002"
    network_gib = "0.01"
    printed_pages_mono = "0.02"
    printed_pages_color = "0.09"
    workplace_days = "1.50"

    [tariff.prices.host_hours]     # host_hours is priced per role
    server = "0.05"
    vm = "0.02"
    thin-client = 0

    [tariff.included]              # free quantity per meter and month
    network_gib = 100
    printed_pages_mono = 500

    [tariff.included.host_hours]
    vm = 720

    [tariff.flat]                  # flat rates per month
    workplace_month = "12.00"      # per thin client with a workplace day

    [tariff.flat.host_month]       # per host that reported, by role
    server = "40.00"

    # From 2027 on the default prices change; a re-export of 2026 keeps the old ones.
    [[tariff]]
    valid_from = "2027-01"
    vat_percent = 0
    [tariff.prices]
    workplace_days = "1.60"

    # A tenant subject to VAT gets its own version.
    [[tariff]]
    tenant = "zweckverband-nord"
    valid_from = "2026-01"
    vat_percent = 19
    [tariff.prices]
    workplace_days = "1.50"

Rules:

- Meters are those of :data:`collector.metering.model.METERS`; ``host_hours``
  (in ``prices`` and ``included``) and ``flat.host_month`` are tables keyed by
  role (``server``, ``vm``, ``thin-client``). Every price, quantity and rate is
  optional; a meter without a price is reported but not charged.
- Money, prices and quantities are decimals: write them as quoted strings
  (``"0.004"``) or integers (``2``). Unquoted fractions (``0.004``) are
  binary floats in TOML and are rejected: binary floats are not money.
  Negative values and exponents are rejected too.
- ``included`` quantities may not have more decimals than the meter shows on
  an invoice line (``MeterSpec.decimals``); ``vat_percent`` is 0 to 100.
- Unknown keys, meters or roles, wrong types, bad periods, ``valid_until``
  before ``valid_from`` and overlapping versions are errors that name the
  file, the key and its line.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal, get_args

import msgspec

from agent.wire import Role, find_key_line

from ..errors import ConfigError
from .model import METERS, Period

__all__ = ["CURRENCIES", "ROLES", "Tariff", "TariffBook", "load_tariffs", "parse_tariffs"]

#: Host roles, in invoice order.
ROLES: tuple[str, ...] = get_args(Role)
CURRENCIES = ("EUR",)
#: Same rule as collector.admin.TENANT_RE (a test keeps them equal).
TENANT_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"

_ROLE_METER = "host_hours"
_DECIMAL_RE = re.compile(r"^[0-9]+(\.[0-9]+)?$")


@dataclass(frozen=True)
class Tariff:
    """One version of a price list. Keys of ``prices`` and ``included`` are
    ``(meter, dim)``: dim is the role for ``host_hours``, else ``""``."""

    tenant: str | None
    valid_from: Period
    valid_until: Period | None
    currency: str
    vat_percent: Decimal
    prices: Mapping[tuple[str, str], Decimal] = field(default_factory=dict)
    included: Mapping[tuple[str, str], Decimal] = field(default_factory=dict)
    workplace_month: Decimal | None = None
    host_month: Mapping[str, Decimal] = field(default_factory=dict)
    #: where it was defined ("file:line"), for messages; never exported
    source: str = field(default="", compare=False)

    @property
    def id(self) -> str:
        """Stable name of this version, e.g. ``default@2026-01``."""
        return f"{self.tenant or 'default'}@{self.valid_from}"

    def covers(self, period: Period) -> bool:
        return self.valid_from <= period and (self.valid_until is None or period <= self.valid_until)

    def unit_price(self, meter: str, dim: str = "") -> Decimal | None:
        return self.prices.get((meter, dim))

    def included_quantity(self, meter: str, dim: str = "") -> Decimal:
        return self.included.get((meter, dim), Decimal(0))


@dataclass(frozen=True)
class TariffBook:
    """All versions of a tariff file. An empty book prices nothing."""

    versions: tuple[Tariff, ...] = ()

    def for_period(self, tenant: str, period: str | Period) -> Tariff | None:
        """The tenant's version valid in ``period``, else the default one, else None."""
        when = period if isinstance(period, Period) else Period.parse(period)
        for owner in (tenant, None):
            for version in self.versions:
                if version.tenant == owner and version.covers(when):
                    return version
        return None


# --- file structure (msgspec does types and unknown keys) -------------------

_Number = str | int


class _Section(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class _ByRole(_Section):
    server: _Number | None = None
    vm: _Number | None = None
    thin_client: _Number | None = msgspec.field(default=None, name="thin-client")


class _PerMeter(_Section):
    """One optional number per meter of METERS (a test keeps the two in step)."""

    cpu_core_seconds: _Number | None = None
    memory_gib_hours: _Number | None = None
    storage_gib_hours: _Number | None = None
    network_gib: _Number | None = None
    printed_pages: _Number | None = None
    printed_pages_mono: _Number | None = None
    printed_pages_color: _Number | None = None
    workplace_days: _Number | None = None
    host_hours: _ByRole | None = None


class _Flat(_Section):
    workplace_month: _Number | None = None
    host_month: _ByRole | None = None


class _Version(_Section):
    valid_from: str
    vat_percent: _Number
    tenant: Annotated[str, msgspec.Meta(pattern=TENANT_PATTERN)] | None = None
    valid_until: str | None = None
    currency: Literal["EUR"] = "EUR"
    prices: _PerMeter = msgspec.field(default_factory=_PerMeter)
    included: _PerMeter = msgspec.field(default_factory=_PerMeter)
    flat: _Flat = msgspec.field(default_factory=_Flat)


class _File(_Section):
    tariff: list[_Version]


# --- loading ----------------------------------------------------------------

_Where = list[str | int]


class _Invalid(Exception):
    def __init__(self, where: _Where, reason: str) -> None:
        super().__init__(reason)
        self.where = where
        self.reason = reason


def load_tariffs(path: str | Path) -> TariffBook:
    """Read and validate a tariff file; :class:`ConfigError` names file, key and line."""
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read tariffs: {exc.strerror or exc}") from None
    return parse_tariffs(text, source=str(path))


def parse_tariffs(text: str, *, source: str = "<tariffs>") -> TariffBook:
    """Validate the text of a tariff file (``source`` names it in messages)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    try:
        _reject_floats(data, [])
        try:
            parsed = msgspec.convert(data, _File)
        except msgspec.ValidationError as exc:
            raise _from_msgspec(str(exc)) from None
        versions = tuple(_version(v, ["tariff", i], source, text) for i, v in enumerate(parsed.tariff))
        if not versions:
            raise _Invalid(["tariff"], "no [[tariff]] version in the file")
        _check_overlaps(versions, text, source)
    except _Invalid as exc:
        raise ConfigError(_describe(source, text, exc.where, exc.reason)) from None
    return TariffBook(versions)


def _reject_floats(value: object, where: _Where) -> None:
    if isinstance(value, float):
        raise _Invalid(
            where,
            f'{value!r} is a binary float; quote it ("{value!r}") or use an integer: binary floats are not money',
        )
    if isinstance(value, dict):
        for key, item in value.items():
            _reject_floats(item, [*where, key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _reject_floats(item, [*where, index])


_AT_RE = re.compile(r" - at `\$([^`]*)`$")
_SEGMENT_RE = re.compile(r"\.([^.\[]+)|\[(\d+)\]")
_UNKNOWN_RE = re.compile(r"unknown field `([^`]+)`|missing required field `([^`]+)`")


def _from_msgspec(message: str) -> _Invalid:
    at = _AT_RE.search(message)
    where: _Where = []
    if at:
        for name, index in _SEGMENT_RE.findall(at.group(1)):
            where.append(int(index) if index else name)
    named = _UNKNOWN_RE.search(message)
    if named:
        where.append(named.group(1) or named.group(2))
    reason = _AT_RE.sub("", message)
    if where and where[-1] in ("host_hours", "host_month") and "Expected `object" in reason:
        roles = ", ".join(ROLES)
        reason += f'; {where[-1]} takes one value per role ({roles}), e.g. {where[-1]} = {{ server = "0.05" }}'
    return _Invalid(where, reason)


def _number(value: str | int | None, where: _Where, *, max_decimals: int | None = None) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, int):
        if value < 0:
            raise _Invalid(where, f"{value} is negative")
        return Decimal(value)
    if value.startswith("-") and _DECIMAL_RE.match(value[1:]):
        raise _Invalid(where, f"{value!r} is negative")
    if not _DECIMAL_RE.match(value):
        raise _Invalid(where, f'{value!r} is not a decimal number; write e.g. "0.004" (a dot, no exponent)')
    number = Decimal(value)
    exponent = number.as_tuple().exponent
    if max_decimals is not None and isinstance(exponent, int) and -exponent > max_decimals:
        raise _Invalid(where, f"{value!r} has more than {max_decimals} decimals")
    return number


def _period(value: str, where: _Where) -> Period:
    try:
        return Period.parse(value)
    except ValueError as exc:
        raise _Invalid(where, str(exc)) from None


def _per_meter(table: _PerMeter, where: _Where, *, quantities: bool) -> dict[tuple[str, str], Decimal]:
    out: dict[tuple[str, str], Decimal] = {}
    for meter, spec in METERS.items():
        value = getattr(table, meter)
        places = spec.decimals if quantities else None
        if meter == _ROLE_METER:
            if value is not None:
                for role, per_role in _by_role(value, [*where, meter], max_decimals=places).items():
                    out[(meter, role)] = per_role
            continue
        number = _number(value, [*where, meter], max_decimals=places)
        if number is not None:
            out[(meter, "")] = number
    return out


def _by_role(table: _ByRole, where: _Where, *, max_decimals: int | None = None) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for role in ROLES:
        number = _number(getattr(table, role.replace("-", "_")), [*where, role], max_decimals=max_decimals)
        if number is not None:
            out[role] = number
    return out


def _version(raw: _Version, where: _Where, source: str, text: str) -> Tariff:
    valid_from = _period(raw.valid_from, [*where, "valid_from"])
    valid_until = _period(raw.valid_until, [*where, "valid_until"]) if raw.valid_until is not None else None
    if valid_until is not None and valid_until < valid_from:
        raise _Invalid([*where, "valid_until"], f"{valid_until} is before valid_from {valid_from}")
    vat = _number(raw.vat_percent, [*where, "vat_percent"])
    assert vat is not None
    if vat > 100:
        raise _Invalid([*where, "vat_percent"], f"{vat} is more than 100")
    line = _locate(text, where)
    return Tariff(
        tenant=raw.tenant,
        valid_from=valid_from,
        valid_until=valid_until,
        currency=raw.currency,
        vat_percent=vat,
        prices=_per_meter(raw.prices, [*where, "prices"], quantities=False),
        included=_per_meter(raw.included, [*where, "included"], quantities=True),
        workplace_month=_number(raw.flat.workplace_month, [*where, "flat", "workplace_month"]),
        host_month=(
            _by_role(raw.flat.host_month, [*where, "flat", "host_month"]) if raw.flat.host_month is not None else {}
        ),
        source=f"{source}:{line}" if line else source,
    )


def _span(version: Tariff) -> str:
    return f"{version.valid_from}..{version.valid_until or 'open'}"


def _check_overlaps(versions: Iterable[Tariff], text: str, source: str) -> None:
    seen: list[tuple[int, Tariff]] = []
    for index, version in enumerate(versions):
        for other_index, other in seen:
            if other.tenant != version.tenant:
                continue
            if version.valid_until is not None and version.valid_until < other.valid_from:
                continue
            if other.valid_until is not None and other.valid_until < version.valid_from:
                continue
            owner = f"tenant {version.tenant!r}" if version.tenant else "the default price list"
            other_line = _locate(text, ["tariff", other_index])
            raise _Invalid(
                ["tariff", index, "valid_from"],
                f"versions of {owner} overlap: {_span(version)} and {_span(other)}"
                + (f" (line {other_line})" if other_line else ""),
            )
        seen.append((index, version))


# --- locating keys for messages ---------------------------------------------

_VERSION_HEADER = re.compile(r"^\s*\[\[\s*tariff\s*\]\]\s*(#.*)?$")


def _locate(text: str, where: _Where) -> int | None:
    """1-based line of the key at ``where`` (falling back to its parents)."""
    if len(where) >= 2 and where[0] == "tariff" and isinstance(where[1], int):
        lines = text.splitlines(keepends=True)
        headers = [n for n, line in enumerate(lines) if _VERSION_HEADER.match(line)]
        if where[1] < len(headers):
            start = headers[where[1]]
            end = headers[where[1] + 1] if where[1] + 1 < len(headers) else len(lines)
            block = "".join(lines[start:end])
            keys = [k for k in where[2:] if isinstance(k, str)]
            while keys:
                found = find_key_line(block, ("tariff", *keys[:-1]), keys[-1])
                if found:
                    return start + found
                keys.pop()
            return start + 1
    keys = [k for k in where if isinstance(k, str)]
    while keys:
        found = find_key_line(text, tuple(keys[:-1]), keys[-1])
        if found:
            return found
        keys.pop()
    return None


def _describe(source: str, text: str, where: _Where, reason: str) -> str:
    key = ".".join(k for k in where if isinstance(k, str)) or "(top level)"
    line = _locate(text, where)
    place = f"{source}:{line}" if line else source
    return f"{place}: {key}: {reason}"
