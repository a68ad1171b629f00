"""Pricing is exact to the cent: half-up per line, included quantities, VAT,
adjustments at the prices of their own period, and a deterministic order."""

from __future__ import annotations

import random
from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.metering.model import (
    KIB_SECONDS_PER_GIB_HOUR,
    METERS,
    Adjustment,
    MeterTotal,
    Period,
    PeriodUsage,
)
from collector.metering.pricing import CENT, Invoice, allocate, meter_quantity, price, round_half_up
from collector.metering.tariffs import ROLES, Tariff, TariffBook, parse_tariffs

D = Decimal


def usage(
    meters: list[MeterTotal],
    *,
    period: str = "2026-11",
    adjustments: list[Adjustment] | None = None,
    hosts_by_role: dict[str, int] | None = None,
    workplaces: int = 0,
    tenant: str = "stadt-lohne",
) -> PeriodUsage:
    return PeriodUsage(
        tenant=tenant,
        period=period,
        status="open",
        closed_at=None,
        meters=meters,
        subjects=[],
        adjustments=adjustments or [],
        coverage={},
        gaps=[],
        hosts_by_role=hosts_by_role or {},
        workplaces=workplaces,
    )


def tariff(**kw: object) -> TariffBook:
    base = Tariff(tenant=None, valid_from=Period(2026, 1), valid_until=None, currency="EUR", vat_percent=D(0))
    return TariffBook((replace(base, **kw),))  # type: ignore[arg-type]


# --- rounding -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [
        ("0.005", 2, "0.01"),
        ("2.675", 2, "2.68"),  # a binary float 2.675 is 2.67499999…: Decimal("2.675") is exact
        ("0.125", 2, "0.13"),  # half-even would give 0.12
        ("0.004999999", 2, "0.00"),
        ("-0.005", 2, "-0.01"),  # halves go away from zero
        ("1234567.8915", 3, "1234567.892"),
        ("7", 2, "7.00"),
        ("0.5", 0, "1"),
    ],
)
def test_round_half_up(value: str, places: int, expected: str) -> None:
    result = round_half_up(D(value), places)
    assert str(result) == expected


def test_a_float_built_decimal_would_round_down_which_is_why_money_is_never_a_float() -> None:
    assert round_half_up(D(2.675), 2) == D("2.67")
    assert round_half_up(D("2.675"), 2) == D("2.68")


def test_amounts_are_rounded_half_up_per_line() -> None:
    # 0.5 pages can't happen; use host hours: 0.100 h × 0.05 = 0.005 → 0.01 (half-up, not banker's 0.00)
    book = tariff(prices={("host_hours", "vm"): D("0.05")})
    invoice = price(usage([MeterTotal("host_hours", "vm", 360_000)]), book)
    (line,) = invoice.lines
    assert (line.quantity, line.amount) == (D("0.100"), D("0.01"))
    book = tariff(prices={("printed_pages_mono", ""): D("0.0107")})
    invoice = price(usage([MeterTotal("printed_pages_mono", "", 250)]), book)
    assert invoice.lines[0].amount == D("2.68")  # 250 × 0.0107 = 2.675


def test_quantities_are_rounded_half_up_to_the_meter_decimals_before_pricing() -> None:
    assert meter_quantity("cpu_core_seconds", 1_500) == D("0.002")  # 0.0015 s
    assert meter_quantity("cpu_core_seconds", 1_499) == D("0.001")
    assert meter_quantity("host_hours", 1_800) == D("0.001")  # 0.0005 h
    assert meter_quantity("network_gib", 2**29) == D("0.500000")
    assert meter_quantity("memory_gib_hours", KIB_SECONDS_PER_GIB_HOUR // 3) == D("0.333333")
    # priced on the rounded quantity: 0.002 s × 2.5 = 0.005 → 0.01 (0.0015 × 2.5 = 0.00375 would give 0.00)
    book = tariff(prices={("cpu_core_seconds", ""): D("2.5")})
    assert price(usage([MeterTotal("cpu_core_seconds", "", 1_500)]), book).lines[0].amount == D("0.01")


# --- the hand-computed scenario ---------------------------------------------------

SCENARIO_TARIFFS = """\
[[tariff]]
valid_from = "2026-01"
valid_until = "2026-10"
vat_percent = 19
[tariff.prices]
cpu_core_seconds = "0.00001"
printed_pages_color = "0.10"

[[tariff]]
valid_from = "2026-11"
vat_percent = 19
[tariff.prices]
cpu_core_seconds = "0.00002"
memory_gib_hours = "0.0035"
network_gib = "0.05"
printed_pages_color = "0.085"
workplace_days = "1.35"
[tariff.prices.host_hours]
server = "0.0425"
vm = "0.02"
[tariff.included]
network_gib = 10
[tariff.included.host_hours]
vm = 720
[tariff.flat]
workplace_month = "9.90"
[tariff.flat.host_month]
server = "25.00"
"""


def scenario() -> tuple[PeriodUsage, TariffBook]:
    meters = [
        MeterTotal("cpu_core_seconds", "", 1_234_567_891_234),  # 1234567.891234 s
        MeterTotal("memory_gib_hours", "", KIB_SECONDS_PER_GIB_HOUR * 6001 // 4),  # 1500.25 GiB·h
        MeterTotal("storage_gib_hours", "", KIB_SECONDS_PER_GIB_HOUR * 100),  # no price
        MeterTotal("network_gib", "", 2**30 * 25 // 2),  # 12.5 GiB, 10 included
        MeterTotal("printed_pages_color", "", 1234),
        MeterTotal("workplace_days", "", 412),
        MeterTotal("host_hours", "server", 3_600_000 * 2881 // 2),  # 1440.5 h
        MeterTotal("host_hours", "vm", 3_600_000 * 700),  # below the 720 h included
    ]
    adjustments = [
        Adjustment("2026-10", "cpu_core_seconds", "", "a1", 600_000_000, "2026-11-02"),
        Adjustment("2026-10", "cpu_core_seconds", "", "a2", 400_000_000, "2026-11-03"),
        Adjustment("2025-12", "printed_pages_color", "", "p1", 10, "2026-11-02"),  # no tariff then
    ]
    return (
        usage(meters, adjustments=adjustments, hosts_by_role={"server": 2, "vm": 1}, workplaces=20),
        parse_tariffs(SCENARIO_TARIFFS),
    )


def test_hand_computed_scenario_matches_to_the_cent() -> None:
    invoice = price(*scenario())
    rows = [
        (
            line.kind,
            line.meter,
            line.dim,
            str(line.quantity),
            str(line.included),
            str(line.billable),
            None if line.unit_price is None else str(line.unit_price),
            None if line.amount is None else str(line.amount),
            line.period,
        )
        for line in invoice.lines
    ]
    assert rows == [
        # 1234567.891 s × 0.00002 = 24.69135782
        ("usage", "cpu_core_seconds", "", "1234567.891", "0", "1234567.891", "0.00002", "24.69", "2026-11"),
        # 1500.25 GiB·h × 0.0035 = 5.250875
        ("usage", "memory_gib_hours", "", "1500.250000", "0", "1500.250000", "0.0035", "5.25", "2026-11"),
        ("usage", "storage_gib_hours", "", "100.000000", "0", "100.000000", None, None, "2026-11"),
        # (12.5 − 10) GiB × 0.05 = 0.125 → 0.13
        ("usage", "network_gib", "", "12.500000", "10", "2.500000", "0.05", "0.13", "2026-11"),
        # 1234 × 0.085 = 104.89
        ("usage", "printed_pages_color", "", "1234", "0", "1234", "0.085", "104.89", "2026-11"),
        # 412 × 1.35 = 556.20
        ("usage", "workplace_days", "", "412", "0", "412", "1.35", "556.20", "2026-11"),
        # 1440.5 h × 0.0425 = 61.22125
        ("usage", "host_hours", "server", "1440.500", "0", "1440.500", "0.0425", "61.22", "2026-11"),
        # 700 h, 720 h included: nothing to pay, never negative
        ("usage", "host_hours", "vm", "700.000", "720", "0.000", "0.02", "0.00", "2026-11"),
        ("flat", "workplace_month", "", "20", "0", "20", "9.90", "198.00", "2026-11"),
        ("flat", "host_month", "server", "2", "0", "2", "25.00", "50.00", "2026-11"),
        # late pages for 2025-12: no tariff valid then, so reported unpriced
        ("adjustment", "printed_pages_color", "", "10", "0", "10", None, None, "2025-12"),
        # late cpu for 2026-10 at October's 0.00001 (not November's 0.00002): 1000 s → 0.01
        ("adjustment", "cpu_core_seconds", "", "1000.000", "0", "1000.000", "0.00001", "0.01", "2026-10"),
        # 19 % of 1000.39 = 190.0741
        ("vat", "vat", "", "1000.39", "0", "1000.39", "0.19", "190.07", "2026-11"),
    ]
    assert (invoice.net, invoice.vat, invoice.total) == (D("1000.39"), D("190.07"), D("1190.46"))
    assert (invoice.currency, invoice.tariff, invoice.vat_percent) == ("EUR", "default@2026-11", D(19))
    tariffs_used = {line.period: line.tariff for line in invoice.lines if line.amount is not None}
    assert tariffs_used == {"2026-11": "default@2026-11", "2026-10": "default@2026-01"}


def test_descriptions_say_what_a_line_is() -> None:
    invoice = price(*scenario())
    text = {(line.kind, line.meter, line.dim, line.period): line.description for line in invoice.lines}
    assert text[("usage", "host_hours", "server", "2026-11")] == "hours a host reported, role server"
    assert text[("usage", "storage_gib_hours", "", "2026-11")].endswith("(no price in the tariff)")
    assert text[("flat", "host_month", "server", "2026-11")] == "flat rate per host and month, role server"
    assert text[("adjustment", "cpu_core_seconds", "", "2026-10")].endswith("late data for 2026-10")
    assert text[("vat", "vat", "", "2026-11")] == "VAT 19 %"


def test_re_pricing_an_old_period_uses_the_prices_valid_then() -> None:
    _, book = scenario()
    october = usage([MeterTotal("cpu_core_seconds", "", 1_000_000_000_000)], period="2026-10")
    november = replace(october, period="2026-11")
    assert price(october, book).lines[0].amount == D("10.00")  # 1e6 s × 0.00001
    assert price(november, book).lines[0].amount == D("20.00")  # 1e6 s × 0.00002


def test_a_tenant_version_wins_over_the_default() -> None:
    book = parse_tariffs(
        '[[tariff]]\nvalid_from = "2026-01"\nvat_percent = 0\n[tariff.prices]\nworkplace_days = "1.50"\n'
        '[[tariff]]\ntenant = "zv-nord"\nvalid_from = "2026-01"\nvat_percent = 19\n'
        '[tariff.prices]\nworkplace_days = "1.40"\n'
    )
    days = [MeterTotal("workplace_days", "", 100)]
    default = price(usage(days), book)
    own = price(usage(days, tenant="zv-nord"), book)
    assert (default.total, default.vat, [line.kind for line in default.lines]) == (D("150.00"), D("0.00"), ["usage"])
    assert (own.net, own.vat, own.total) == (D("140.00"), D("26.60"), D("166.60"))
    assert own.lines[-1].kind == "vat"


# --- included quantities, missing prices, VAT -------------------------------------


def test_included_quantity_is_subtracted_before_pricing_and_never_below_zero() -> None:
    book = tariff(prices={("printed_pages_mono", ""): D("0.02")}, included={("printed_pages_mono", ""): D(500)})
    over = price(usage([MeterTotal("printed_pages_mono", "", 750)]), book).lines[0]
    under = price(usage([MeterTotal("printed_pages_mono", "", 100)]), book).lines[0]
    assert (over.quantity, over.included, over.billable, over.amount) == (D(750), D(500), D(250), D("5.00"))
    assert (under.quantity, under.billable, under.amount) == (D(100), D(0), D("0.00"))


def test_included_quantities_apply_per_role() -> None:
    book = tariff(
        prices={("host_hours", "vm"): D("0.10"), ("host_hours", "server"): D("0.10")},
        included={("host_hours", "vm"): D(100)},
    )
    lines = price(
        usage([MeterTotal("host_hours", "vm", 3_600_000 * 150), MeterTotal("host_hours", "server", 3_600_000 * 150)]),
        book,
    ).lines
    assert [(line.dim, line.amount) for line in lines] == [("server", D("15.00")), ("vm", D("5.00"))]


def test_an_unpriced_meter_is_reported_but_counts_nowhere() -> None:
    book = tariff(prices={("workplace_days", ""): D("1.00")}, vat_percent=D(19))
    invoice = price(usage([MeterTotal("network_gib", "", 2**30), MeterTotal("workplace_days", "", 10)]), book)
    network = invoice.lines[0]
    assert (network.meter, network.quantity, network.unit_price, network.amount) == (
        "network_gib",
        D("1.000000"),
        None,
        None,
    )
    assert network.tariff is None
    assert (invoice.net, invoice.vat, invoice.total) == (D("10.00"), D("1.90"), D("11.90"))


def test_without_a_tariff_everything_is_unpriced_and_there_is_no_vat() -> None:
    invoice = price(usage([MeterTotal("workplace_days", "", 10)], workplaces=3), TariffBook())
    assert [(line.kind, line.amount) for line in invoice.lines] == [("usage", None)]
    assert (invoice.tariff, invoice.currency, invoice.total, invoice.vat) == (None, "EUR", D("0.00"), D("0.00"))


def test_no_vat_line_at_zero_percent() -> None:
    book = tariff(prices={("workplace_days", ""): D("1.00")})
    invoice = price(usage([MeterTotal("workplace_days", "", 10)]), book)
    assert [line.kind for line in invoice.lines] == ["usage"]
    assert invoice.total == invoice.net == D("10.00")


def test_vat_is_rounded_half_up_once_on_the_net() -> None:
    # two lines of 0.05 each: VAT per line would be 2 × round(0.0095) = 0.02, on the net round(0.019) = 0.02;
    # three lines of 0.03: per line 3 × round(0.0057) = 0.03, on the net round(0.0171) = 0.02
    book = tariff(prices={(m, ""): D("0.03") for m in ("printed_pages", "printed_pages_mono", "printed_pages_color")})
    book = TariffBook((replace(book.versions[0], vat_percent=D(19)),))
    invoice = price(
        usage([MeterTotal(m, "", 1) for m in ("printed_pages", "printed_pages_mono", "printed_pages_color")]), book
    )
    assert (invoice.net, invoice.vat) == (D("0.09"), D("0.02"))
    vat = invoice.lines[-1]
    assert (vat.quantity, vat.unit, vat.unit_price, vat.amount) == (D("0.09"), "EUR", D("0.19"), D("0.02"))


def test_vat_line_appears_even_on_a_zero_net_when_the_tenant_pays_vat() -> None:
    invoice = price(usage([]), tariff(vat_percent=D("7")))
    assert [(line.kind, line.amount) for line in invoice.lines] == [("vat", D("0.00"))]


# --- flat rates -------------------------------------------------------------------


def test_flat_rates_per_workplace_and_per_host_role() -> None:
    book = tariff(workplace_month=D("9.90"), host_month={"server": D("25"), "thin-client": D("3.333")})
    invoice = price(usage([], hosts_by_role={"thin-client": 3, "vm": 4, "server": 2}, workplaces=3), book)
    assert [(line.meter, line.dim, line.quantity, line.amount) for line in invoice.lines] == [
        ("workplace_month", "", D(3), D("29.70")),
        ("host_month", "server", D(2), D("50.00")),
        ("host_month", "thin-client", D(3), D("10.00")),  # 9.999 → 10.00; vm has no rate
    ]


def test_no_flat_line_without_anything_to_count() -> None:
    book = tariff(workplace_month=D("9.90"), host_month={"server": D("25")})
    assert price(usage([], hosts_by_role={"server": 0}), book).lines == ()


# --- adjustments ------------------------------------------------------------------


def test_adjustments_are_grouped_per_period_meter_and_role_oldest_first() -> None:
    book = tariff(prices={("host_hours", "vm"): D("1"), ("host_hours", "server"): D("2")})
    adjustments = [
        Adjustment("2026-10", "host_hours", "vm", "a", 3_600_000, "2026-11-02"),
        Adjustment("2026-09", "host_hours", "server", "b", 3_600_000, "2026-11-02"),
        Adjustment("2026-10", "host_hours", "server", "c", 3_600_000, "2026-11-05"),
        Adjustment("2026-10", "host_hours", "vm", "d", 7_200_000, "2026-11-06"),
    ]
    lines = price(usage([], adjustments=adjustments), book).lines
    assert [(line.period, line.dim, line.quantity, line.amount) for line in lines] == [
        ("2026-09", "server", D("1.000"), D("2.00")),
        ("2026-10", "server", D("1.000"), D("2.00")),
        ("2026-10", "vm", D("3.000"), D("3.00")),
    ]
    assert {line.kind for line in lines} == {"adjustment"}


def test_an_adjustment_gets_no_included_quantity() -> None:
    book = tariff(prices={("printed_pages", ""): D("0.10")}, included={("printed_pages", ""): D(1000)})
    invoice = price(usage([], adjustments=[Adjustment("2026-10", "printed_pages", "", "p", 20, "2026-11-01")]), book)
    assert (invoice.lines[0].billable, invoice.lines[0].amount) == (D(20), D("2.00"))


# --- order and determinism --------------------------------------------------------


def test_lines_follow_meter_then_role_order_whatever_the_input_order() -> None:
    meters = [MeterTotal(m, "", 1) for m in METERS if m != "host_hours"]
    meters += [MeterTotal("host_hours", role, 3_600_000) for role in (*ROLES, "appliance")]
    expected = price(usage(meters), TariffBook())
    for seed in range(5):
        shuffled = meters[:]
        random.Random(seed).shuffle(shuffled)
        assert price(usage(shuffled), TariffBook()) == expected
    order = [(line.meter, line.dim) for line in expected.lines]
    assert order[-4:] == [
        ("host_hours", "server"),
        ("host_hours", "vm"),
        ("host_hours", "thin-client"),
        ("host_hours", "appliance"),
    ]
    assert [m for m, _ in order[:-4]] == [m for m in METERS if m != "host_hours"]


def test_duplicate_meter_totals_are_summed() -> None:
    book = tariff(prices={("printed_pages", ""): D("0.10")})
    invoice = price(usage([MeterTotal("printed_pages", "", 5), MeterTotal("printed_pages", "", 7)]), book)
    assert [(line.quantity, line.amount) for line in invoice.lines] == [(D(12), D("1.20"))]


def test_an_unknown_meter_is_an_error() -> None:
    with pytest.raises((ValueError, KeyError)):
        price(usage([MeterTotal("coffee_cups", "", 1)]), TariffBook())


# --- properties -------------------------------------------------------------------

prices = st.builds(lambda n, k: D(n).scaleb(-k), st.integers(0, 10**6), st.integers(0, 6))
scaled_values = st.integers(0, 10**15)
keys = st.sampled_from([(m, "") for m in METERS if m != "host_hours"] + [("host_hours", r) for r in ROLES])


@st.composite
def priced_usage(draw: st.DrawFn) -> tuple[PeriodUsage, TariffBook]:
    chosen = draw(st.lists(keys, unique=True, max_size=10))
    meters = [MeterTotal(m, d, draw(scaled_values)) for m, d in chosen]
    priced = draw(st.lists(keys, unique=True, max_size=10))
    included = draw(st.lists(keys, unique=True, max_size=4))
    book = tariff(
        prices={k: draw(prices) for k in priced},
        included={k: D(draw(st.integers(0, 10**4))) for k in included},
        vat_percent=draw(st.sampled_from([D(0), D(7), D(19), D("7.7"), D("100")])),
        workplace_month=draw(st.one_of(st.none(), prices)),
        host_month={r: draw(prices) for r in draw(st.lists(st.sampled_from(ROLES), unique=True))},
    )
    adjustments = [
        Adjustment(draw(st.sampled_from(["2025-12", "2026-10"])), m, d, "s", draw(scaled_values), "2026-11-01")
        for m, d in draw(st.lists(keys, max_size=4))
    ]
    hosts = {r: draw(st.integers(0, 500)) for r in ROLES}
    return usage(meters, adjustments=adjustments, hosts_by_role=hosts, workplaces=draw(st.integers(0, 3000))), book


def check_sums(invoice: Invoice) -> None:
    net_lines = [line for line in invoice.lines if line.kind != "vat"]
    assert sum((line.amount for line in net_lines if line.amount is not None), D(0)) == invoice.net
    vat_lines = [line for line in invoice.lines if line.kind == "vat"]
    assert sum((line.amount for line in vat_lines if line.amount is not None), D(0)) == invoice.vat
    assert invoice.net + invoice.vat == invoice.total
    assert invoice.vat == round_half_up(invoice.net * invoice.vat_percent / 100, 2)
    for line in invoice.lines:
        if line.amount is not None:
            assert line.amount.as_tuple().exponent == -2
            assert line.unit_price is not None
            assert line.amount == round_half_up(line.billable * line.unit_price, 2)
            assert abs(line.amount - line.billable * line.unit_price) <= D("0.005")
        assert line.billable >= 0
        if line.kind == "usage":
            assert line.billable == max(D(0), line.quantity - line.included)


@given(priced_usage())
def test_line_amounts_plus_vat_make_the_total(case: tuple[PeriodUsage, TariffBook]) -> None:
    invoice = price(*case)
    check_sums(invoice)
    assert (invoice.vat_percent > 0) == any(line.kind == "vat" for line in invoice.lines)


@given(priced_usage(), st.randoms(use_true_random=False))
def test_pricing_does_not_depend_on_input_order(case: tuple[PeriodUsage, TariffBook], rnd: random.Random) -> None:
    used, book = case
    meters, adjustments = list(used.meters), list(used.adjustments)
    rnd.shuffle(meters)
    rnd.shuffle(adjustments)
    assert price(replace(used, meters=meters, adjustments=adjustments), book) == price(used, book)


# --- allocation -------------------------------------------------------------------


def test_allocate_by_largest_remainder() -> None:
    # 0.10 over 3 equal weights: 3 cents each, the leftover cent to the first (ties → earlier)
    assert allocate(D("0.10"), [1, 1, 1], CENT) == [D("0.04"), D("0.03"), D("0.03")]
    # 1.00 over 1:2:3 → exact 0.1666…, 0.3333…, 0.5 → 0.16, 0.33, 0.50 + the cent to the largest remainder (0.1666)
    assert allocate(D("1.00"), [1, 2, 3], CENT) == [D("0.17"), D("0.33"), D("0.50")]
    assert allocate(D("-0.10"), [1, 1, 1], CENT) == [D("-0.04"), D("-0.03"), D("-0.03")]
    assert allocate(D("5"), [0, 3, 0], D(1)) == [D(0), D(5), D(0)]


@pytest.mark.parametrize(
    ("total", "weights"),
    [(D("1.00"), []), (D("1.00"), [0, 0]), (D("1.00"), [1, -1]), (D("1.005"), [1, 1])],
)
def test_allocate_refuses_what_it_cannot_split_exactly(total: Decimal, weights: list[int]) -> None:
    with pytest.raises(ValueError):
        allocate(total, weights, CENT)


@given(
    st.integers(-(10**9), 10**9),
    st.lists(st.integers(0, 10**12), min_size=1, max_size=30).filter(lambda w: sum(w) > 0),
    st.sampled_from([CENT, D("0.001"), D("0.000001"), D(1)]),
)
def test_allocation_sums_exactly_and_each_share_is_within_one_quantum(
    units: int, weights: list[int], quantum: Decimal
) -> None:
    total = D(units) * quantum
    shares = allocate(total, weights, quantum)
    assert sum(shares, D(0)) == total
    whole = sum(weights)
    for share, weight in zip(shares, weights, strict=True):
        exact = total * D(weight) / D(whole)
        assert abs(share - exact) < quantum
        assert (share / quantum) == (share / quantum).to_integral_value()
        if weight == 0:
            assert share == 0
    assert allocate(total, weights, quantum) == shares
