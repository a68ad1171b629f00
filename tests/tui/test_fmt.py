"""tui.fmt: every value as a German or English reader expects it (Babel's CLDR data)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from tui import fmt, i18n

NB = " "
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    lang, zone = i18n.get_language(), fmt.get_zone()
    yield
    i18n.set_language(lang)
    fmt.set_zone(zone)


def _in(lang: str) -> None:
    i18n.set_language(lang)


def _reads(call: Callable[[], str], de: str, en: str) -> None:
    """`call` answers `de` in German and `en` in English."""
    _in("de")
    assert call() == de
    _in("en")
    assert call() == en


def _ts(*args: int, tz: dt.tzinfo = dt.UTC) -> float:
    return dt.datetime(*args, tzinfo=tz).timestamp()  # type: ignore[misc]


@pytest.mark.parametrize(
    ("value", "digits", "de", "en"),
    [
        ("325.650", None, "325,650", "325.650"),
        (Decimal("325.650"), None, "325,650", "325.650"),
        (0, None, "0", "0"),
        (0, 2, "0,00", "0.00"),
        (-1234.5, 1, "-1.234,5", "-1,234.5"),
        (1234567, 0, "1.234.567", "1,234,567"),
        (10**18, 0, "1.000.000.000.000.000.000", "1,000,000,000,000,000,000"),
        (2.346, 2, "2,35", "2.35"),
        (None, None, "–", "–"),
        ("not a number", None, "not a number", "not a number"),
        (float("nan"), 1, "–", "–"),
        (float("inf"), 1, "–", "–"),
    ],
)
def test_number(value: object, digits: int | None, de: str, en: str) -> None:
    _reads(lambda: fmt.number(value, digits), de, en)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("amount", "de", "en"),
    [
        ("0.00", f"0,00{NB}€", "€0.00"),
        (0, f"0,00{NB}€", "€0.00"),
        ("1234.5", f"1.234,50{NB}€", "€1,234.50"),
        ("0.0042", f"0,0042{NB}€", "€0.0042"),  # a unit price keeps its places
        ("-3", f"-3,00{NB}€", "-€3.00"),
        ("98765432109.99", f"98.765.432.109,99{NB}€", "€98,765,432,109.99"),
        (None, "–", "–"),
    ],
)
def test_money(amount: object, de: str, en: str) -> None:
    _reads(lambda: fmt.money(amount), de, en)  # type: ignore[arg-type]


def test_money_other_currency() -> None:
    _in("de")
    assert fmt.money("5", "CHF") == f"5,00{NB}CHF"
    _in("en")
    assert fmt.money("5", "USD") == "US$5.00"


@pytest.mark.parametrize(
    ("call", "de", "en"),
    [
        (lambda: fmt.ratio(Decimal(1)), f"100,0{NB}%", "100.0%"),
        (lambda: fmt.ratio("0.953"), f"95,3{NB}%", "95.3%"),
        (lambda: fmt.ratio(0), f"0,0{NB}%", "0.0%"),
        (lambda: fmt.ratio("0.99999"), f"100,0{NB}%", "100.0%"),
        (lambda: fmt.ratio(None), "–", "–"),
        (lambda: fmt.percent(97.4), f"97{NB}%", "97%"),
        (lambda: fmt.percent(100, 1), f"100,0{NB}%", "100.0%"),
        (lambda: fmt.percent(-5), f"-5{NB}%", "-5%"),
        (lambda: fmt.percent(12345), f"12.345{NB}%", "12,345%"),
        (lambda: fmt.percent(None), "–", "–"),
    ],
)
def test_percentages(call: object, de: str, en: str) -> None:
    _reads(call, de, en)  # type: ignore[arg-type]


def test_quantity_keeps_the_decimals_places_and_the_unit() -> None:
    _in("de")
    assert fmt.quantity("325.650", "s") == f"325,650{NB}s"
    assert fmt.quantity(None, "s") == "–"
    _in("en")
    assert fmt.quantity("325.650", "s") == f"325.650{NB}s"
    assert fmt.quantity("12", None) == "12"


@pytest.mark.parametrize(
    ("value", "de", "en"),
    [
        (0, f"0{NB}B", f"0{NB}B"),
        (1023, f"1.023{NB}B", f"1,023{NB}B"),
        (1024, f"1,0{NB}KiB", f"1.0{NB}KiB"),
        (1.5 * 2**30, f"1,5{NB}GiB", f"1.5{NB}GiB"),
        (2**60 * 3, f"3.072,0{NB}PiB", f"3,072.0{NB}PiB"),
        (None, "–", "–"),
    ],
)
def test_bytes(value: float | None, de: str, en: str) -> None:
    _reads(lambda: fmt.bytes_iec(value), de, en)


@pytest.mark.parametrize(
    ("seconds", "de", "en"),
    [
        (0, f"0{NB}s", f"0{NB}s"),
        (45, f"45{NB}s", f"45{NB}s"),
        (119, f"119{NB}s", f"119{NB}s"),
        (120, f"2{NB}min", f"2{NB}min"),
        (3599, f"1{NB}h", f"1{NB}h"),  # 59.98 min rounds to the hour, not "60 min"
        (3600, f"1{NB}h", f"1{NB}h"),  # an RPO target: not "1 h 0 min"
        (4 * 3600, f"4{NB}h", f"4{NB}h"),
        (26 * 3600 + 300, f"26{NB}h 5{NB}min", f"26{NB}h 5{NB}min"),
        (2 * 86400, f"2{NB}T", f"2{NB}d"),
        (3 * 86400 + 4 * 3600, f"3{NB}T 4{NB}h", f"3{NB}d 4{NB}h"),
        (2000 * 86400, f"2.000{NB}T", f"2,000{NB}d"),
        (-90, f"-90{NB}s", f"-90{NB}s"),
        (None, "–", "–"),
    ],
)
def test_duration(seconds: float | None, de: str, en: str) -> None:
    _reads(lambda: fmt.duration(seconds), de, en)


def test_age() -> None:
    _in("de")
    assert fmt.age(None, 100) == "nie"
    assert fmt.age(100, 50) == "0s"  # a clock ahead of ours is "now", never negative
    assert fmt.age(0, 300) == "5min"
    assert fmt.age(0, 3 * 86400) == "3T"
    _in("en")
    assert fmt.age(0, 300) == "5m"
    assert fmt.age(0, 3 * 86400) == "3d"


@pytest.mark.parametrize(
    ("ts", "de", "en"),
    [
        # winter: MEZ/CET, UTC+1
        (_ts(2026, 1, 5, 18, 17), "05.01.2026 19:17 MEZ", "2026-01-05 19:17 CET"),
        # summer: MESZ/CEST, UTC+2
        (_ts(2026, 7, 5, 18, 17), "05.07.2026 20:17 MESZ", "2026-07-05 20:17 CEST"),
        # spring forward 2026-03-29 at 02:00 local: the minute before and the one after
        (_ts(2026, 3, 29, 0, 59), "29.03.2026 01:59 MEZ", "2026-03-29 01:59 CET"),
        (_ts(2026, 3, 29, 1, 0), "29.03.2026 03:00 MESZ", "2026-03-29 03:00 CEST"),
        # fall back 2026-10-25: 02:30 local happens twice, told apart by the zone
        (_ts(2026, 10, 25, 0, 30), "25.10.2026 02:30 MESZ", "2026-10-25 02:30 CEST"),
        (_ts(2026, 10, 25, 1, 30), "25.10.2026 02:30 MEZ", "2026-10-25 02:30 CET"),
        # New Year in Berlin is still the old year in UTC
        (_ts(2026, 12, 31, 23, 30), "01.01.2027 00:30 MEZ", "2027-01-01 00:30 CET"),
        (None, "–", "–"),
    ],
)
def test_date_time_in_berlin(ts: float | None, de: str, en: str) -> None:
    fmt.set_zone("Europe/Berlin")
    _reads(lambda: fmt.date_time(ts), de, en)


def test_clock_names_the_zone() -> None:
    winter, summer = _ts(2026, 1, 5, 18, 17), _ts(2026, 7, 5, 18, 17)
    _in("de")
    assert (fmt.clock(winter), fmt.clock(summer)) == ("19:17 MEZ", "20:17 MESZ")
    _in("en")
    assert (fmt.clock(winter), fmt.clock(summer)) == ("19:17 CET", "20:17 CEST")
    assert fmt.clock(None) == "–"


@pytest.mark.parametrize(
    ("zone", "de", "en"),
    [
        ("UTC", "18:17 UTC", "18:17 UTC"),
        ("America/New_York", "13:17 EST", "13:17 EST"),
        ("Asia/Kolkata", "23:47 IST", "23:47 IST"),
    ],
)
def test_other_zones(zone: str, de: str, en: str) -> None:
    fmt.set_zone(zone)
    assert str(fmt.get_zone()) == zone
    _reads(lambda: fmt.clock(_ts(2026, 1, 5, 18, 17)), de, en)


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../etc/passwd", "Europe/"])
def test_unknown_zone_is_a_typed_error(name: str) -> None:
    with pytest.raises(fmt.ZoneError, match="unknown time zone"):
        fmt.zone_from_name(name)
    assert str(fmt.get_zone()) == "Europe/Berlin"


@pytest.mark.parametrize(
    ("start", "end", "de", "en"),
    [
        (
            _ts(2025, 11, 24, 14, 0),
            _ts(2025, 11, 24, 14, 1),
            "24.11.2025 15:00–15:01 MEZ",
            "2025-11-24 15:00–15:01 CET",
        ),
        # across midnight: the end's date too
        (
            _ts(2025, 11, 24, 15, 58),
            _ts(2025, 11, 25, 0, 10),
            "24.11.2025 16:58–25.11.2025 01:10 MEZ",
            "2025-11-24 16:58–2025-11-25 01:10 CET",
        ),
        # across the fall-back change: each end names its zone
        (
            _ts(2026, 10, 25, 0, 30),
            _ts(2026, 10, 25, 1, 30),
            "25.10.2026 02:30 MESZ–02:30 MEZ",
            "2026-10-25 02:30 CEST–02:30 CET",
        ),
        (None, _ts(2026, 1, 1, 0, 0), "–", "–"),
    ],
)
def test_span(start: float | None, end: float | None, de: str, en: str) -> None:
    _reads(lambda: fmt.span(start, end), de, en)
