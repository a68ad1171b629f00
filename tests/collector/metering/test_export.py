"""Exports are deterministic bytes: JSON (the API's usage document), CSV and
FOCUS 1.2, each summing exactly to the invoice."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
import re
import shutil
import subprocess
from collections import defaultdict
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.metering.export import (
    CSV_COLUMNS,
    FOCUS_COLUMNS,
    FOCUS_MANDATORY_COLUMNS,
    render_csv,
    render_focus,
    render_json,
    sha256_sidecar,
    usage_document,
)
from collector.metering.model import (
    KIB_SECONDS_PER_GIB_HOUR,
    Adjustment,
    Coverage,
    GapInfo,
    MeterTotal,
    PeriodUsage,
    SubjectTotal,
)
from collector.metering.pricing import Invoice, price
from collector.metering.tariffs import parse_tariffs

D = Decimal

TARIFFS = """\
[[tariff]]
valid_from = "2026-01"
valid_until = "2026-10"
vat_percent = 19
[tariff.prices]
cpu_core_seconds = "0.00001"

[[tariff]]
valid_from = "2026-11"
vat_percent = 19
[tariff.prices]
cpu_core_seconds = "0.00002"
network_gib = "0.05"
printed_pages_mono = "0.02"
workplace_days = "1.5"
[tariff.prices.host_hours]
server = "0.0425"
thin-client = "0.01"
[tariff.included]
network_gib = 1
[tariff.flat]
workplace_month = "9.90"
[tariff.flat.host_month]
server = "25.00"
"""

RENDERERS = [render_json, render_csv, render_focus]
ALLOWED_CHARGE_CATEGORIES = {"Usage", "Purchase", "Tax", "Credit", "Adjustment"}
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def sample_usage(status: str = "open") -> PeriodUsage:
    h = 3_600_000
    return PeriodUsage(
        tenant="stadt-lohne",
        period="2026-11",
        status=status,
        closed_at=1_796_083_200.0 if status == "closed" else None,
        meters=[
            MeterTotal("cpu_core_seconds", "", 86_400_123_456),
            MeterTotal("memory_gib_hours", "", KIB_SECONDS_PER_GIB_HOUR * 3),  # not priced
            MeterTotal("network_gib", "", 2**30 * 5 // 2),
            MeterTotal("printed_pages_mono", "", 350),
            MeterTotal("workplace_days", "", 41),
            MeterTotal("host_hours", "server", 1440 * h),
            MeterTotal("host_hours", "thin-client", 333 * h),
        ],
        subjects=[
            SubjectTotal("host", "a1", "rathaus-srv-01", "cpu_core_seconds", "", 50_000_000_000),
            SubjectTotal("host", "a2", "=HYPERLINK(1)", "cpu_core_seconds", "", 36_400_000_000),
            # 123456 µs of cpu are not attributed to a host
            SubjectTotal("host", "a1", "rathaus-srv-01", "host_hours", "server", 720 * h),
            SubjectTotal("host", "a2", "=HYPERLINK(1)", "host_hours", "server", 720 * h),
            SubjectTotal("host", "a1", "rathaus-srv-01", "network_gib", "", 2**30),
            SubjectTotal("host", "a2", "=HYPERLINK(1)", "network_gib", "", 2**30 * 3 // 2),
            SubjectTotal("host", "tc1", "rathaus-tc-017", "host_hours", "thin-client", 111 * h),
            SubjectTotal("host", "tc2", "rathaus-tc-018", "host_hours", "thin-client", 111 * h),
            SubjectTotal("host", "tc3", "rathaus-tc-019", "host_hours", "thin-client", 111 * h),
            SubjectTotal("host", "tc1", "rathaus-tc-017", "workplace_days", "", 20),
            SubjectTotal("host", "tc2", "rathaus-tc-018", "workplace_days", "", 21),
            SubjectTotal("device", "prn-1", "prn-1", "printed_pages_mono", "", 300),
            SubjectTotal("device", "prn-2", "prn-2", "printed_pages_mono", "", 50),
        ],
        adjustments=[
            Adjustment("2026-10", "cpu_core_seconds", "", "a1", 600_000_000, "2026-11-02"),
            Adjustment("2026-10", "cpu_core_seconds", "", "a2", 400_000_000, "2026-11-03"),
        ],
        coverage={
            "cpu_core_seconds": Coverage(expected=86_400, arrived=86_288),
            "workplace_days": Coverage(expected=100, arrived=100),
            "printed_pages_mono": Coverage(expected=0, arrived=0),
        },
        gaps=[GapInfo("a2", 17, 19), GapInfo("a1", 4, 4)],
        hosts_by_role={"server": 2, "thin-client": 3},
        workplaces=2,
    )


def priced(usage: PeriodUsage | None = None) -> tuple[PeriodUsage, Invoice]:
    usage = usage or sample_usage()
    return usage, price(usage, parse_tariffs(TARIFFS))


def shuffled(usage: PeriodUsage, seed: int) -> PeriodUsage:
    rnd = random.Random(seed)
    lists: dict[str, list[Any]] = {}
    for name in ("meters", "subjects", "adjustments", "gaps"):
        items = list(getattr(usage, name))
        rnd.shuffle(items)
        lists[name] = items
    coverage = list(usage.coverage.items())
    rnd.shuffle(coverage)
    roles = list(usage.hosts_by_role.items())
    rnd.shuffle(roles)
    return replace(usage, coverage=dict(coverage), hosts_by_role=dict(roles), **lists)


def rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8"), newline="")))


def floats_in(value: object) -> list[object]:
    if isinstance(value, float):
        return [value]
    if isinstance(value, dict):
        return [f for v in value.values() for f in floats_in(v)]
    if isinstance(value, list):
        return [f for v in value for f in floats_in(v)]
    return []


# --- determinism ------------------------------------------------------------------


@pytest.mark.parametrize("render", RENDERERS)
def test_rendering_twice_gives_identical_bytes(render: Any) -> None:
    usage, invoice = priced()
    assert render(usage, invoice) == render(usage, invoice)


@pytest.mark.parametrize("render", RENDERERS)
@pytest.mark.parametrize("seed", range(5))
def test_input_order_does_not_change_a_byte(render: Any, seed: int) -> None:
    usage, invoice = priced()
    other = shuffled(usage, seed)
    assert other != usage or seed == 0  # the shuffle really reorders something
    assert render(*priced(other)) == render(usage, invoice)


@pytest.mark.parametrize("render", RENDERERS)
def test_output_is_utf8_with_newline_line_endings(render: Any) -> None:
    content = render(*priced())
    assert b"\r" not in content
    assert content.endswith(b"\n")
    content.decode("utf-8")


# --- JSON -------------------------------------------------------------------------


def test_json_has_the_design_shape_with_decimal_strings() -> None:
    usage, invoice = priced()
    doc = json.loads(render_json(usage, invoice))
    assert doc == usage_document(usage, invoice)
    assert floats_in(doc) == []
    assert {"tenant", "period", "status", "currency", "meters", "lines", "total"} <= set(doc)
    assert (doc["tenant"], doc["period"], doc["status"], doc["currency"]) == ("stadt-lohne", "2026-11", "open", "EUR")
    cpu = doc["meters"][0]
    assert cpu == {"meter": "cpu_core_seconds", "dim": "", "unit": "s", "quantity": "86400.123", "coverage": "0.9987"}
    workplace = next(line for line in doc["lines"] if line["meter"] == "workplace_days")
    assert {k: workplace[k] for k in ("quantity", "unit", "unit_price", "amount", "period", "kind")} == {
        "quantity": "41",
        "unit": "days",
        "unit_price": "1.50",
        "amount": "61.50",
        "period": "2026-11",
        "kind": "usage",
    }
    assert [line["kind"] for line in doc["lines"]] == [line.kind for line in invoice.lines]
    assert (doc["net"], doc["vat"], doc["total"]) == (str(invoice.net), str(invoice.vat), str(invoice.total))


def test_json_carries_detail_coverage_gaps_and_adjustments() -> None:
    doc = usage_document(*priced())
    assert doc["coverage"]["cpu_core_seconds"] == {"expected": 86_400, "arrived": 86_288, "ratio": "0.9987"}
    assert doc["coverage"]["printed_pages_mono"]["ratio"] == "1.0000"
    assert doc["gaps"] == [
        {"subject": "a1", "from_seq": 4, "to_seq": 4},
        {"subject": "a2", "from_seq": 17, "to_seq": 19},
    ]
    assert doc["adjustments"][0] == {
        "for_period": "2026-10",
        "meter": "cpu_core_seconds",
        "dim": "",
        "subject": "a1",
        "quantity": "600.000",
        "unit": "s",
        "booked_on": "2026-11-02",
    }
    first = doc["detail"][0]
    assert first == {
        "kind": "device",
        "subject": "prn-1",
        "name": "prn-1",
        "meter": "printed_pages_mono",
        "dim": "",
        "quantity": "300",
        "unit": "pages",
    }
    assert len(doc["detail"]) == len(sample_usage().subjects)
    assert doc["hosts_by_role"] == {"server": 2, "thin-client": 3}
    assert doc["workplaces"] == 2


def test_json_lines_show_unpriced_meters_with_null_price_and_amount() -> None:
    doc = usage_document(*priced())
    memory = next(line for line in doc["lines"] if line["meter"] == "memory_gib_hours")
    assert (memory["quantity"], memory["unit_price"], memory["amount"], memory["tariff"]) == (
        "3.000000",
        None,
        None,
        None,
    )
    network = next(line for line in doc["lines"] if line["meter"] == "network_gib")
    assert (network["quantity"], network["included"], network["billable"]) == ("2.500000", "1.000000", "1.500000")
    vat = doc["lines"][-1]
    assert (vat["kind"], vat["unit_price"], vat["included"], vat["billable"]) == ("vat", "0.19", None, doc["net"])


def test_json_of_a_closed_period_names_when_it_closed() -> None:
    doc = usage_document(*priced(sample_usage("closed")))
    assert (doc["status"], doc["closed_at"]) == ("closed", "2026-12-01T00:00:00Z")
    assert usage_document(*priced())["closed_at"] is None


def test_render_json_is_canonical() -> None:
    usage, invoice = priced()
    expected = json.dumps(usage_document(usage, invoice), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert render_json(usage, invoice) == expected.encode("utf-8")
    assert "GiB·h".encode() in render_json(usage, invoice)


# --- CSV --------------------------------------------------------------------------


def test_csv_has_the_documented_columns_and_records_in_order() -> None:
    usage, invoice = priced()
    content = render_csv(usage, invoice)
    assert content.split(b"\n", 1)[0].decode() == ",".join(CSV_COLUMNS)
    records = [row["record"] for row in rows(content)]
    order = ["invoice", "line", "total", "meter", "coverage", "detail", "adjustment", "gap"]
    assert [r for i, r in enumerate(records) if i == 0 or records[i - 1] != r] == order
    assert records.count("line") == len(invoice.lines)
    assert records.count("detail") == len(usage.subjects)
    assert records.count("gap") == 2
    assert {row["tenant"] for row in rows(content)} == {"stadt-lohne"}


def test_csv_lines_sum_to_the_total_rows() -> None:
    usage, invoice = priced()
    table = rows(render_csv(usage, invoice))
    amounts = [D(row["amount"]) for row in table if row["record"] == "line" and row["amount"]]
    totals = {row["kind"]: D(row["amount"]) for row in table if row["record"] == "total"}
    assert sum(amounts, D(0)) == totals["total"] == invoice.total
    assert totals["net"] + totals["vat"] == totals["total"]
    assert table[0]["record"] == "invoice" and D(table[0]["amount"]) == invoice.total


def test_csv_adjustment_lines_name_the_period_they_belong_to() -> None:
    table = rows(render_csv(*priced()))
    line = next(row for row in table if row["record"] == "line" and row["kind"] == "adjustment")
    assert (line["period"], line["billing_period"], line["amount"], line["tariff"]) == (
        "2026-10",
        "2026-11",
        "0.01",
        "default@2026-01",
    )
    bookings = [row for row in table if row["record"] == "adjustment"]
    assert [(r["subject"], r["quantity"], r["booked_on"]) for r in bookings] == [
        ("a1", "600.000", "2026-11-02"),
        ("a2", "400.000", "2026-11-03"),
    ]


def test_csv_defuses_spreadsheet_formulas_in_names() -> None:
    table = rows(render_csv(*priced()))
    names = {row["name"] for row in table if row["record"] == "detail"}
    assert "'=HYPERLINK(1)" in names
    assert not any(name.startswith("=") for name in names)
    # numbers keep their sign
    late = Adjustment("2026-10", "cpu_core_seconds", "", "a1", -(10**9), "2026-11-02")
    negative = replace(sample_usage(), adjustments=[late])
    line = next(r for r in rows(render_csv(*priced(negative))) if r["record"] == "line" and r["kind"] == "adjustment")
    assert line["amount"] == "-0.01"


# --- FOCUS ------------------------------------------------------------------------


def focus(usage: PeriodUsage | None = None) -> tuple[list[dict[str, str]], Invoice, bytes]:
    usage, invoice = priced(usage)
    content = render_focus(usage, invoice)
    return rows(content), invoice, content


def test_focus_has_every_mandatory_column() -> None:
    table, _, content = focus()
    header = content.split(b"\n", 1)[0].decode().split(",")
    assert header == list(FOCUS_COLUMNS)
    assert len(FOCUS_MANDATORY_COLUMNS) == 21
    assert set(FOCUS_MANDATORY_COLUMNS) <= set(header)
    for column in (
        "ConsumedQuantity",
        "ConsumedUnit",
        "ListUnitPrice",
        "ContractedUnitPrice",
        "ResourceId",
        "ResourceName",
        "SubAccountId",
        "SubAccountName",
        "ChargeFrequency",
        "ServiceSubcategory",
    ):
        assert column in header
    custom = [c for c in header if c not in FOCUS_MANDATORY_COLUMNS and not c[0].isupper()]
    assert all(c.startswith("x_") for c in custom)
    assert table


def test_focus_costs_sum_to_the_invoice_total() -> None:
    table, invoice, _ = focus()
    for column in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost"):
        assert sum((D(row[column]) for row in table), D(0)) == invoice.total


def test_focus_rows_of_each_line_sum_exactly_to_the_line() -> None:
    table, invoice, _ = focus()
    sums: dict[tuple[str, str, str, str], Decimal] = defaultdict(Decimal)
    for row in table:
        sums[(row["x_LineKind"], row["x_Meter"], row["x_Dimension"], row["ChargePeriodStart"])] += D(row["BilledCost"])
    assert len(sums) == len(invoice.lines)
    for line in invoice.lines:
        key = next(
            k
            for k in sums
            if k[:3] == (line.kind, line.meter, line.dim)
            and (line.kind != "adjustment" or k[3].startswith("2026-09-30"))
        )
        assert sums[key] == (line.amount or D("0.00"))


def test_focus_charge_columns_take_allowed_values() -> None:
    table, _, _ = focus()
    assert {row["ChargeCategory"] for row in table} <= ALLOWED_CHARGE_CATEGORIES
    assert {row["ChargeCategory"] for row in table} == {"Usage", "Purchase", "Tax"}
    assert {row["ChargeClass"] for row in table} == {"", "Correction"}
    assert {row["ChargeFrequency"] for row in table} <= {"One-Time", "Recurring", "Usage-Based"}
    for row in table:
        if row["ChargeCategory"] == "Purchase":
            assert row["ChargeFrequency"] != "Usage-Based"
        for column in ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd"):
            assert ISO_UTC.match(row[column]), (column, row[column])
        for column in (
            "BilledCost",
            "BillingAccountId",
            "BillingCurrency",
            "ChargeCategory",
            "ChargeDescription",
            "ContractedCost",
            "EffectiveCost",
            "InvoiceIssuerName",
            "ListCost",
            "ProviderName",
            "PublisherName",
            "ServiceCategory",
            "ServiceName",
        ):
            assert row[column] != "", column


def test_focus_nullability_follows_the_charge_category() -> None:
    table, _, _ = focus()
    for row in table:
        category, correction = row["ChargeCategory"], row["ChargeClass"] == "Correction"
        if category == "Tax":
            assert row["PricingQuantity"] == row["ListUnitPrice"] == row["PricingUnit"] == row["SkuId"] == ""
        if category in ("Usage", "Purchase") and not correction:
            assert row["PricingQuantity"] != "" and row["PricingUnit"] != ""
            assert row["ListUnitPrice"] != "" and row["ContractedUnitPrice"] != ""
        if category == "Usage":
            assert row["ConsumedQuantity"] != "" and row["ConsumedUnit"] != ""
        else:
            assert row["ConsumedQuantity"] == row["ConsumedUnit"] == ""


def test_focus_billing_period_is_the_berlin_month_in_utc() -> None:
    table, _, _ = focus()
    assert {(row["BillingPeriodStart"], row["BillingPeriodEnd"]) for row in table} == {
        ("2026-10-31T23:00:00Z", "2026-11-30T23:00:00Z")
    }
    march = replace(sample_usage(), period="2026-03", adjustments=[])
    table, _, _ = focus(march)
    assert {(row["BillingPeriodStart"], row["BillingPeriodEnd"]) for row in table} == {
        ("2026-02-28T23:00:00Z", "2026-03-31T22:00:00Z")  # DST starts on 29 March
    }


def test_focus_adjustments_are_corrections_of_their_own_period() -> None:
    table, _, _ = focus()
    corrections = [row for row in table if row["ChargeClass"] == "Correction"]
    assert [(r["ResourceId"], r["BilledCost"], r["ConsumedQuantity"]) for r in corrections] == [
        ("a1", "0.01", "600.000"),
        ("a2", "0.00", "400.000"),
    ]
    for row in corrections:
        assert (row["ChargePeriodStart"], row["ChargePeriodEnd"]) == ("2026-09-30T22:00:00Z", "2026-10-31T23:00:00Z")
        assert row["BillingPeriodStart"] == "2026-10-31T23:00:00Z"
        assert (row["ChargeCategory"], row["x_TariffId"], row["ListUnitPrice"]) == (
            "Usage",
            "default@2026-01",
            "0.00001",
        )


def test_focus_splits_usage_over_resources_with_the_unattributed_rest() -> None:
    table, _, _ = focus()
    cpu = [row for row in table if row["x_Meter"] == "cpu_core_seconds" and row["ChargeClass"] == ""]
    # 86400.123 s × 0.00002 = 1.73 over 50000 : 36400 : 0.123456 (unattributed)
    assert [(r["ResourceId"], r["ResourceName"], r["ConsumedQuantity"], r["BilledCost"]) for r in cpu] == [
        ("a1", "rathaus-srv-01", "50000.000", "1.00"),
        ("a2", "'=HYPERLINK(1)", "36400.000", "0.73"),
        ("", "", "0.123", "0.00"),
    ]
    assert {r["ResourceType"] for r in cpu[:2]} == {"Host"}
    pages = [row for row in table if row["x_Meter"] == "printed_pages_mono"]
    assert [(r["ResourceId"], r["ResourceType"], r["BilledCost"]) for r in pages] == [
        ("prn-1", "Device", "6.00"),
        ("prn-2", "Device", "1.00"),
    ]


def test_focus_pricing_quantity_is_after_included_quantities() -> None:
    table, _, _ = focus()
    network = [row for row in table if row["x_Meter"] == "network_gib"]
    assert [(r["ResourceId"], r["ConsumedQuantity"], r["PricingQuantity"]) for r in network] == [
        ("a1", "1.000000", "0.600000"),
        ("a2", "1.500000", "0.900000"),
    ]
    assert sum((D(r["PricingQuantity"]) * D(r["ListUnitPrice"]) for r in network), D(0)) == D("0.075")


def test_focus_flat_rates_go_one_per_resource_when_the_count_matches() -> None:
    table, _, _ = focus()
    servers = [row for row in table if row["x_Meter"] == "host_month"]
    assert [(r["ResourceId"], r["PricingQuantity"], r["BilledCost"], r["ChargeCategory"]) for r in servers] == [
        ("a1", "1", "25.00", "Purchase"),
        ("a2", "1", "25.00", "Purchase"),
    ]
    workplaces = [row for row in table if row["x_Meter"] == "workplace_month"]
    assert [(r["ResourceId"], r["BilledCost"]) for r in workplaces] == [("tc1", "9.90"), ("tc2", "9.90")]
    # a count the ledger cannot name resource by resource stays one row
    table, _, _ = focus(replace(sample_usage(), workplaces=5))
    workplaces = [row for row in table if row["x_Meter"] == "workplace_month"]
    assert [(r["ResourceId"], r["PricingQuantity"], r["BilledCost"]) for r in workplaces] == [("", "5", "49.50")]


def test_focus_unpriced_meters_cost_nothing_but_show_consumption() -> None:
    table, _, _ = focus()
    (memory,) = [row for row in table if row["x_Meter"] == "memory_gib_hours"]
    assert (memory["BilledCost"], memory["ListUnitPrice"], memory["ConsumedQuantity"], memory["x_TariffId"]) == (
        "0.00",
        "0.00",
        "3.000000",
        "",
    )


def test_focus_fills_accounts_services_and_provider() -> None:
    usage, invoice = priced()
    table = rows(render_focus(usage, invoice, provider="KDO Oldenburg"))
    for row in table:
        assert row["BillingAccountId"] == row["SubAccountId"] == row["SubAccountName"] == "stadt-lohne"
        assert row["ProviderName"] == row["PublisherName"] == row["InvoiceIssuerName"] == "KDO Oldenburg"
        assert (row["BillingCurrency"], row["InvoiceId"]) == ("EUR", "stadt-lohne-2026-11")
    services = {(r["x_Meter"], r["x_Dimension"]): (r["ServiceName"], r["ServiceCategory"]) for r in table}
    assert services[("host_hours", "thin-client")] == ("Cloud Workplace", "Compute")
    assert services[("network_gib", "")] == ("Network", "Networking")
    assert services[("vat", "")] == ("All services", "Other")
    (tax,) = [row for row in table if row["ChargeCategory"] == "Tax"]
    assert tax["BilledCost"] == str(invoice.vat)


# --- properties -------------------------------------------------------------------

subject_ids = st.sampled_from([f"h{i}" for i in range(8)])


@st.composite
def random_usage(draw: st.DrawFn) -> PeriodUsage:
    meter = draw(st.sampled_from(["cpu_core_seconds", "network_gib", "printed_pages_mono", "workplace_days"]))
    owners = draw(st.lists(subject_ids, unique=True, max_size=8))
    subjects = [SubjectTotal("host", s, s, meter, "", draw(st.integers(0, 10**13))) for s in owners]
    attributed = sum(s.scaled for s in subjects)
    total = attributed + draw(st.integers(0, 10**9))
    adjustments = [
        Adjustment("2026-10", "cpu_core_seconds", "", s, draw(st.integers(1, 10**12)), "2026-11-02")
        for s in draw(st.lists(subject_ids, unique=True, max_size=4))
    ]
    base = sample_usage()
    return replace(base, meters=[MeterTotal(meter, "", total)], subjects=subjects, adjustments=adjustments)


@given(random_usage(), st.sampled_from(["0.00001", "0.5", "1.37", "0.02", "7"]))
def test_per_resource_allocation_sums_exactly_to_each_line(usage: PeriodUsage, unit_price: str) -> None:
    book = parse_tariffs(
        '[[tariff]]\nvalid_from = "2026-01"\nvat_percent = 19\n[tariff.prices]\n'
        f'cpu_core_seconds = "{unit_price}"\nnetwork_gib = "{unit_price}"\n'
        f'printed_pages_mono = "{unit_price}"\nworkplace_days = "{unit_price}"\n'
    )
    invoice = price(usage, book)
    table = rows(render_focus(usage, invoice))
    assert sum((D(r["BilledCost"]) for r in table), D(0)) == invoice.total
    for line in invoice.lines:
        mine = [r for r in table if (r["x_LineKind"], r["x_Meter"]) == (line.kind, line.meter)]
        assert sum((D(r["BilledCost"]) for r in mine), D(0)) == (line.amount or 0)
        if line.kind in ("usage", "adjustment"):
            assert sum((D(r["ConsumedQuantity"]) for r in mine), D(0)) == line.quantity
            assert sum((D(r["PricingQuantity"]) for r in mine), D(0)) == line.billable
    assert render_focus(usage, invoice) == render_focus(shuffled(usage, 1), invoice)


# --- checksum sidecar -------------------------------------------------------------


def test_sidecar_is_a_sha256sum_line() -> None:
    content = render_csv(*priced())
    line = sha256_sidecar(content, "stadt-lohne-2026-11.csv")
    assert line == f"{hashlib.sha256(content).hexdigest()}  stadt-lohne-2026-11.csv\n".encode()
    assert sha256_sidecar(b"", "x") == b"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  x\n"


def test_sidecar_escapes_names_like_sha256sum() -> None:
    assert sha256_sidecar(b"", "a\\b").startswith(b"\\e3b0")
    assert sha256_sidecar(b"", "a\\b").endswith(b"  a\\\\b\n")
    assert sha256_sidecar(b"", "a\nb").endswith(b"  a\\nb\n")


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="coreutils sha256sum not installed")
def test_sidecar_verifies_with_sha256sum(tmp_path: Path) -> None:
    content = render_focus(*priced())
    (tmp_path / "usage.focus.csv").write_bytes(content)
    (tmp_path / "usage.focus.csv.sha256").write_bytes(sha256_sidecar(content, "usage.focus.csv"))
    ok = subprocess.run(["sha256sum", "-c", "usage.focus.csv.sha256"], cwd=tmp_path, capture_output=True, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    (tmp_path / "usage.focus.csv").write_bytes(content + b"tampered\n")
    bad = subprocess.run(["sha256sum", "-c", "usage.focus.csv.sha256"], cwd=tmp_path, capture_output=True, check=False)
    assert bad.returncode != 0
