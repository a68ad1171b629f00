"""Tariff files are strict: every mistake names file, key and line; money is Decimal."""

from __future__ import annotations

import re
import textwrap
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from collector import admin
from collector.errors import ConfigError
from collector.metering import tariffs
from collector.metering.model import METERS, Period
from collector.metering.tariffs import ROLES, TariffBook, load_tariffs, parse_tariffs

SOURCE = "tariffs.toml"


def parse(text: str) -> TariffBook:
    return parse_tariffs(textwrap.dedent(text), source=SOURCE)


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as exc:
        parse(text)
    return str(exc.value)


MINIMAL = """\
[[tariff]]
valid_from = "2026-01"
vat_percent = 0
"""


def documented_example() -> str:
    doc = tariffs.__doc__ or ""
    block = doc.split("Complete example::", 1)[1].split("\nRules:", 1)[0]
    return textwrap.dedent(block).strip() + "\n"


def test_the_documented_example_is_valid_and_means_what_it_says() -> None:
    book = parse(documented_example())
    default_2026 = book.for_period("stadt-lohne", "2026-06")
    assert default_2026 is not None
    assert default_2026.id == "default@2026-01"
    assert default_2026.unit_price("workplace_days") == Decimal("1.50")
    assert default_2026.unit_price("host_hours", "server") == Decimal("0.05")
    assert default_2026.unit_price("host_hours", "thin-client") == Decimal(0)
    assert default_2026.included_quantity("network_gib") == Decimal(100)
    assert default_2026.included_quantity("host_hours", "vm") == Decimal(720)
    assert default_2026.workplace_month == Decimal("12.00")
    assert default_2026.host_month == {"server": Decimal("40.00")}
    assert default_2026.vat_percent == 0
    later = book.for_period("stadt-lohne", "2027-03")
    assert later is not None and later.unit_price("workplace_days") == Decimal("1.60")
    vat_tenant = book.for_period("zweckverband-nord", "2026-06")
    assert vat_tenant is not None and vat_tenant.vat_percent == Decimal(19)


def test_every_meter_and_role_has_a_key_and_nothing_else() -> None:
    per_meter = {f.encode_name for f in msgspec.structs.fields(tariffs._PerMeter)}
    by_role = {f.encode_name for f in msgspec.structs.fields(tariffs._ByRole)}
    assert per_meter == set(METERS)
    assert by_role == set(ROLES) == {"server", "vm", "thin-client"}


def test_tenant_names_follow_the_tenant_rule() -> None:
    assert admin.TENANT_RE.pattern == tariffs.TENANT_PATTERN
    assert "tenant" in error_of('[[tariff]]\ntenant = "Stadt Lohne"\nvalid_from = "2026-01"\nvat_percent = 0\n')


def test_money_is_decimal_from_strings_and_integers() -> None:
    book = parse(MINIMAL + '[tariff.prices]\ncpu_core_seconds = "0.00001"\nworkplace_days = 2\n')
    version = book.versions[0]
    assert version.unit_price("cpu_core_seconds") == Decimal("0.00001")
    assert isinstance(version.unit_price("workplace_days"), Decimal)
    assert version.unit_price("workplace_days") == Decimal(2)
    assert version.unit_price("memory_gib_hours") is None


def test_a_float_is_rejected_with_the_advice_to_quote_it() -> None:
    message = error_of(MINIMAL + "\n[tariff.prices]\nnetwork_gib = 0.004\n")
    assert message.startswith(f"{SOURCE}:6: tariff.prices.network_gib: ")
    assert 'quote it ("0.004")' in message
    assert "binary floats are not money" in message


def test_a_float_vat_percent_is_rejected_too() -> None:
    message = error_of('[[tariff]]\nvalid_from = "2026-01"\nvat_percent = 19.0\n')
    assert message.startswith(f"{SOURCE}:3: tariff.vat_percent: ")
    assert "float" in message


def test_a_float_in_an_inline_table_points_at_the_table() -> None:
    message = error_of(MINIMAL + "prices = { cpu_core_seconds = 1.5 }\n")
    assert message.startswith(f"{SOURCE}:4: tariff.prices.cpu_core_seconds: ")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ('"0,004"', "not a decimal number"),
        ('"1e-3"', "not a decimal number"),
        ('"NaN"', "not a decimal number"),
        ('"Infinity"', "not a decimal number"),
        ('""', "not a decimal number"),
        ('" 1.5"', "not a decimal number"),
        ('"-0.10"', "negative"),
        ("-1", "negative"),
        ("true", "Expected `int | str | null`, got `bool`"),
    ],
)
def test_bad_numbers_name_key_and_line(value: str, reason: str) -> None:
    message = error_of(MINIMAL + f"[tariff.prices]\nworkplace_days = {value}\n")
    assert message.startswith(f"{SOURCE}:5: tariff.prices.workplace_days: ")
    assert reason in message


def test_an_unknown_meter_names_file_key_and_line() -> None:
    message = error_of(MINIMAL + '\n[tariff.prices]\ncpu_core_seconds = "1"\ncpu_secs = "2"\n')
    assert message.startswith(f"{SOURCE}:7: tariff.prices.cpu_secs: ")
    assert "unknown field" in message


def test_an_unknown_role_names_file_key_and_line() -> None:
    message = error_of(MINIMAL + '[tariff.prices.host_hours]\nserver = "1"\nthin_client = "2"\n')
    assert message.startswith(f"{SOURCE}:6: tariff.prices.host_hours.thin_client: ")


def test_host_hours_must_be_priced_per_role() -> None:
    message = error_of(MINIMAL + '[tariff.prices]\nhost_hours = "0.05"\n')
    assert message.startswith(f"{SOURCE}:5: tariff.prices.host_hours: ")
    assert "one value per role (server, vm, thin-client)" in message


def test_an_unknown_key_in_a_version_names_its_line() -> None:
    message = error_of(MINIMAL + "vat_percnt = 19\n")
    assert message.startswith(f"{SOURCE}:4: tariff.vat_percnt: ")


def test_an_unknown_top_level_key_names_its_line() -> None:
    message = error_of('currency = "EUR"\n' + MINIMAL)
    assert message.startswith(f"{SOURCE}:1: currency: ")


def test_a_missing_required_key_names_the_version() -> None:
    message = error_of('# prices\n\n[[tariff]]\nvalid_from = "2026-01"\n')
    assert message.startswith(f"{SOURCE}:3: tariff.vat_percent: ")
    assert "missing required field" in message


def test_an_error_in_the_second_version_points_into_the_second_version() -> None:
    text = MINIMAL + '[tariff.prices]\nworkplace_days = "1"\n\n' + MINIMAL.replace("2026-01", "2027-01")
    text += '[tariff.prices]\nworkplace_days = "x"\n'
    message = error_of(text)
    assert message.startswith(f"{SOURCE}:11: tariff.prices.workplace_days: ")


@pytest.mark.parametrize(
    ("fields", "line", "key", "reason"),
    [
        ('valid_from = "2026-13"\nvat_percent = 0', 2, "valid_from", "invalid period '2026-13'"),
        ('valid_from = "2026-1"\nvat_percent = 0', 2, "valid_from", "expected YYYY-MM"),
        ('valid_from = "2026-01"\nvalid_until = "2025-12"\nvat_percent = 0', 3, "valid_until", "before valid_from"),
        ('valid_from = "2026-01"\nvat_percent = 0\ncurrency = "USD"', 4, "currency", "Invalid enum value 'USD'"),
        ('valid_from = "2026-01"\nvat_percent = 101', 3, "vat_percent", "101 is more than 100"),
        ('valid_from = "2026-01"\nvat_percent = "19,0"', 3, "vat_percent", "not a decimal number"),
    ],
)
def test_bad_version_fields_name_key_and_line(fields: str, line: int, key: str, reason: str) -> None:
    message = error_of(f"[[tariff]]\n{fields}\n")
    assert message.startswith(f"{SOURCE}:{line}: tariff.{key}: ")
    assert reason in message


def test_valid_from_as_a_toml_date_is_a_type_error() -> None:
    message = error_of("[[tariff]]\nvalid_from = 2026-01-01\nvat_percent = 0\n")
    assert message.startswith(f"{SOURCE}:2: tariff.valid_from: Expected `str`")


def test_included_quantities_have_at_most_the_meter_decimals() -> None:
    ok = parse(MINIMAL + '[tariff.included]\ncpu_core_seconds = "0.001"\nprinted_pages_mono = 500\n')
    assert ok.versions[0].included_quantity("cpu_core_seconds") == Decimal("0.001")
    message = error_of(MINIMAL + '[tariff.included]\nprinted_pages_mono = "0.5"\n')
    assert message.startswith(f"{SOURCE}:5: tariff.included.printed_pages_mono: ")
    assert "more than 0 decimals" in message
    message = error_of(MINIMAL + '[tariff.included.host_hours]\nvm = "1.0001"\n')
    assert message.startswith(f"{SOURCE}:5: tariff.included.host_hours.vm: ")


def test_flat_rates_per_workplace_and_per_host_role() -> None:
    book = parse(MINIMAL + '[tariff.flat]\nworkplace_month = "9.90"\n[tariff.flat.host_month]\nvm = 15\n')
    assert book.versions[0].workplace_month == Decimal("9.90")
    assert book.versions[0].host_month == {"vm": Decimal(15)}
    message = error_of(MINIMAL + '[tariff.flat]\nhost_month = { switch = "1" }\n')
    assert message.startswith(f"{SOURCE}:5: tariff.flat.host_month.switch: ")


def test_overlapping_versions_of_one_tenant_are_an_error_naming_both() -> None:
    text = MINIMAL + '\n[[tariff]]\nvalid_from = "2025-06"\nvalid_until = "2026-01"\nvat_percent = 0\n'
    message = error_of(text)
    assert message.startswith(f"{SOURCE}:6: tariff.valid_from: ")
    assert "versions of the default price list overlap: 2025-06..2026-01 and 2026-01..open (line 1)" in message


def test_versions_of_one_tenant_with_the_same_start_overlap() -> None:
    one = '[[tariff]]\ntenant = "stadt-lohne"\nvalid_from = "2026-01"\nvat_percent = 0\n'
    assert "versions of tenant 'stadt-lohne' overlap" in error_of(one + one)


def test_versions_of_different_tenants_may_overlap() -> None:
    text = MINIMAL + MINIMAL.replace("[[tariff]]", '[[tariff]]\ntenant = "stadt-lohne"')
    text += MINIMAL.replace("[[tariff]]", '[[tariff]]\ntenant = "gemeinde-ahlhorn"')
    assert len(parse(text).versions) == 3


def test_adjacent_versions_do_not_overlap() -> None:
    text = '[[tariff]]\nvalid_from = "2026-01"\nvalid_until = "2026-06"\nvat_percent = 0\n'
    text += '[[tariff]]\nvalid_from = "2026-07"\nvat_percent = 0\n'
    book = parse(text)
    assert [v.id for v in book.versions] == ["default@2026-01", "default@2026-07"]


def test_invalid_toml_names_the_line() -> None:
    message = error_of("[[tariff]\nvalid_from = 1\n")
    assert message.startswith(f"{SOURCE}: not valid TOML")
    assert "line 1" in message


def test_a_file_without_versions_is_an_error() -> None:
    assert "missing required field `tariff`" in error_of("# nothing yet\n")
    assert "no [[tariff]] version" in error_of("tariff = []\n")


def test_versions_as_an_inline_array_are_located_by_key() -> None:
    message = error_of('tariff = [{ valid_from = "2026-01", vat_percent = 0, prices = { workplace_days = 1.5 } }]\n')
    assert message.startswith(f"{SOURCE}:1: tariff.prices.workplace_days: ")


def test_load_tariffs_reads_a_file_and_names_it(tmp_path: Path) -> None:
    path = tmp_path / "tariffs.toml"
    path.write_text(MINIMAL + '[tariff.prices]\nworkplace_days = "1.5"\n', encoding="utf-8")
    book = load_tariffs(path)
    assert book.versions[0].unit_price("workplace_days") == Decimal("1.5")
    assert book.versions[0].source == f"{path}:1"
    assert load_tariffs(str(path)) == book
    path.write_text(MINIMAL + "[tariff.prices]\nworkplace_days = 1.5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}:5: tariff.prices.workplace_days: "):
        load_tariffs(path)


def test_load_tariffs_reports_unreadable_and_non_utf8_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read tariffs"):
        load_tariffs(tmp_path / "missing.toml")
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes(b'# Geb\xfchren\n[[tariff]]\nvalid_from = "2026-01"\nvat_percent = 0\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_tariffs(latin1)


# --- choosing the version for a period ----------------------------------------

BOOK_TEXT = """\
[[tariff]]
valid_from = "2026-01"
valid_until = "2026-06"
vat_percent = 0
[tariff.prices]
workplace_days = "1.00"

[[tariff]]
valid_from = "2026-07"
vat_percent = 0
[tariff.prices]
workplace_days = "1.20"

[[tariff]]
tenant = "stadt-lohne"
valid_from = "2026-03"
valid_until = "2026-08"
vat_percent = 19
[tariff.prices]
workplace_days = "0.90"
"""


@pytest.mark.parametrize(
    ("tenant", "period", "expected"),
    [
        ("gemeinde-ahlhorn", "2026-01", "default@2026-01"),
        ("gemeinde-ahlhorn", "2026-06", "default@2026-01"),  # valid_until is inclusive
        ("gemeinde-ahlhorn", "2026-07", "default@2026-07"),
        ("gemeinde-ahlhorn", "2031-12", "default@2026-07"),  # open-ended
        ("gemeinde-ahlhorn", "2025-12", None),  # before any version
        ("stadt-lohne", "2026-02", "default@2026-01"),  # own version not yet valid
        ("stadt-lohne", "2026-03", "stadt-lohne@2026-03"),
        ("stadt-lohne", "2026-08", "stadt-lohne@2026-03"),
        ("stadt-lohne", "2026-09", "default@2026-07"),  # own version expired: default again
    ],
)
def test_for_period_picks_the_tenant_version_else_the_default(tenant: str, period: str, expected: str | None) -> None:
    found = parse(BOOK_TEXT).for_period(tenant, period)
    assert (found.id if found else None) == expected


def test_for_period_accepts_a_period_object() -> None:
    book = parse(BOOK_TEXT)
    assert book.for_period("stadt-lohne", Period(2026, 4)) == book.for_period("stadt-lohne", "2026-04")


def test_an_empty_book_prices_nothing() -> None:
    assert TariffBook().for_period("stadt-lohne", "2026-11") is None
