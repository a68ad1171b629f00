"""Values as the operator reads them, in the UI language (Babel's CLDR data).

German: ``325,650 s``, ``0,00 €``, ``100,0 %``, ``05.01.2026 19:17 MEZ``;
English: ``325.650 s``, ``€0.00``, ``100.0%``, ``2026-01-05 19:17 CET``.
The language is the catalog's (``i18n.set_language``); the time zone is set
once per process (``set_zone``, done by ``make_app``; default Europe/Berlin).
Every function takes ``None`` (the API did not say) and answers ``–``; a text that
is not a number is shown as it came. Spaces are plain (tests and terminals agree).

Durations use the SI symbols s, min, h (and d / T for days): CLDR's short
German units (``Std.``, ``Sek.``) are longer than a table column affords.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime, get_timezone_name
from babel.numbers import format_currency, format_decimal, format_percent

from .i18n import get_language, t

__all__ = [
    "DEFAULT_ZONE",
    "ZoneError",
    "age",
    "bytes_iec",
    "clock",
    "date_time",
    "duration",
    "get_zone",
    "integer",
    "money",
    "number",
    "percent",
    "quantity",
    "ratio",
    "set_zone",
    "span",
    "zone_from_name",
]

DEFAULT_ZONE = "Europe/Berlin"
NONE = "–"

# en_GB: 24-hour clock, CET/CEST (plain `en` only knows +0100), € before the amount
_LOCALES = {"de": "de_DE", "en": "en_GB"}
_DATETIME = {"de": "dd.MM.yyyy HH:mm", "en": "yyyy-MM-dd HH:mm"}
_DAY = {"de": "T", "en": "d"}

_zone: ZoneInfo = ZoneInfo(DEFAULT_ZONE)


class ZoneError(ValueError):
    """A time zone name the system's zone database does not know."""


def zone_from_name(name: str) -> ZoneInfo:
    """An IANA zone (``Europe/Berlin``, ``UTC``); `ZoneError` names what is wrong."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ZoneError(f"unknown time zone {name!r} (an IANA name such as Europe/Berlin or UTC)") from exc


def set_zone(zone: ZoneInfo | str) -> None:
    global _zone
    _zone = zone_from_name(zone) if isinstance(zone, str) else zone


def get_zone() -> ZoneInfo:
    return _zone


def _locale() -> str:
    return _LOCALES[get_language()]


Number = int | float | Decimal | str


def _raw(value: object) -> str:
    """What to show for a value that is not a number: a text as it came (the API
    said something; hiding it would lose it), anything else as –."""
    return value if isinstance(value, str) and value.strip() else NONE


def _decimal(value: Number | None) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        d = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


def _pattern(digits: int) -> str:
    return "#,##0" + ("." + "0" * digits if digits > 0 else "")


def number(value: Number | None, digits: int | None = None) -> str:
    """Grouped, with `digits` decimals; None keeps a decimal's own places (``325.650`` → ``325,650``)."""
    d = _decimal(value)
    if d is None:
        return _raw(value)
    if digits is None:
        exponent = d.as_tuple().exponent
        digits = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return format_decimal(d, format=_pattern(digits), locale=_locale(), decimal_quantization=True)


def integer(value: Number | None) -> str:
    return number(value, 0)


def percent(value: Number | None, digits: int = 0) -> str:
    """A value already in percent (CPU 97.4 → ``97 %`` / ``97%``)."""
    d = _decimal(value)
    return NONE if d is None else ratio(d / 100, digits)


def ratio(value: Number | None, digits: int = 1) -> str:
    """A share 0..1 as a percentage (coverage 1 → ``100,0 %`` / ``100.0%``)."""
    d = _decimal(value)
    if d is None:
        return NONE
    return format_percent(d, format=_pattern(digits) + "%", locale=_locale(), decimal_quantization=True).replace(
        "%", " %" if get_language() == "de" else "%"
    )


def money(amount: Number | None, currency: str | None = "EUR") -> str:
    """``0,00 €`` / ``€0.00``; unit prices keep their extra places (``0,0042 €``)."""
    d = _decimal(amount)
    if d is None:
        return _raw(amount)
    exponent = d.as_tuple().exponent
    places = max(2, -exponent if isinstance(exponent, int) and exponent < 0 else 0)
    return format_currency(
        d,
        currency or "EUR",
        format="¤#,##0." + "0" * places if get_language() == "en" else "#,##0." + "0" * places + " ¤",
        locale=_locale(),
        currency_digits=False,
        decimal_quantization=True,
    )


def quantity(value: Number | None, unit: str | None = None) -> str:
    """A metered quantity with its unit, the decimal's places kept (``325,650 s``)."""
    text = number(value)
    return text if not unit or text == NONE else f"{text} {unit}"


def bytes_iec(value: Number | None) -> str:
    """``512 B``, ``1,5 GiB`` / ``1.5 GiB``."""
    d = _decimal(value)
    if d is None:
        return NONE
    n = float(d)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{number(n, 0 if unit == 'B' else 1)} {unit}"
        n /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def duration(seconds: Number | None) -> str:
    """Compact: ``45 s``, ``59 min``, ``1 h`` (not ``1 h 0 min``), ``26 h 5 min``, ``3 d 4 h`` (de ``3 T 4 h``).
    Below two minutes seconds, below an hour minutes; zero parts are left out."""
    d = _decimal(seconds)
    if d is None:
        return NONE
    sign = "-" if d < 0 else ""
    s = abs(float(d))
    nb = " "
    if s < 120:
        return f"{sign}{integer(round(s))}{nb}s"
    if round(s / 60) < 60:
        return f"{sign}{integer(round(s / 60))}{nb}min"
    if s < 172800:
        h, m = divmod(round(s / 60), 60)
        return f"{sign}{h}{nb}h" + (f" {m}{nb}min" if m else "")
    days, h = divmod(round(s / 3600), 24)
    return f"{sign}{integer(days)}{nb}{_DAY[get_language()]}" + (f" {h}{nb}h" if h else "")


def age(ts: float | None, now: float) -> str:
    """How long ago, compact for a column: ``12s``, ``5min``/``5m``, ``3h``, ``2T``/``2d``; None: never."""
    if ts is None:
        return t("never")
    s = max(0.0, now - ts)
    if s < 120:
        return t("age.s", n=int(s))
    if s < 7200:
        return t("age.m", n=int(s // 60))
    if s < 172800:
        return t("age.h", n=int(s // 3600))
    return t("age.d", n=integer(int(s // 86400)))


def _local(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC).astimezone(_zone)


def _zone_name(moment: dt.datetime) -> str:
    """MEZ/MESZ in German, CET/CEST in English, UTC as UTC; a zone CLDR has no
    abbreviation for keeps the zone database's own (or its offset)."""
    if moment.utcoffset() == dt.timedelta(0) and str(_zone) in ("UTC", "Etc/UTC", "Etc/GMT", "GMT", "UCT"):
        return "UTC"
    name = get_timezone_name(moment, width="short", locale=_locale(), zone_variant=None, return_zone=False)
    if " " in name or name.startswith(("GMT+", "GMT-", "+", "-")):
        return moment.tzname() or name
    return name


def date_time(ts: float | None) -> str:
    """``05.01.2026 19:17 MEZ`` / ``2026-01-05 19:17 CET`` in the TUI's zone."""
    if ts is None:
        return NONE
    moment = _local(ts)
    return f"{format_datetime(moment, _DATETIME[get_language()], locale=_locale())} {_zone_name(moment)}"


def clock(ts: float | None) -> str:
    """``19:17 MEZ`` / ``19:17 CET``."""
    if ts is None:
        return NONE
    moment = _local(ts)
    return f"{format_datetime(moment, 'HH:mm', locale=_locale())} {_zone_name(moment)}"


def span(start: float | None, end: float | None) -> str:
    """``24.11.2025 15:58–16:00 MEZ`` / ``2025-11-24 15:58–16:00 CET``: the end's date
    only when it differs, the zone once (twice when the span crosses a DST change)."""
    if start is None or end is None:
        return NONE
    a, b = _local(start), _local(end)
    pattern = _DATETIME[get_language()]
    head = format_datetime(a, pattern, locale=_locale())
    tail = format_datetime(b, "HH:mm" if a.date() == b.date() else pattern, locale=_locale())
    za, zb = _zone_name(a), _zone_name(b)
    return f"{head}–{tail} {zb}" if za == zb else f"{head} {za}–{tail} {zb}"
