"""Pricing: the usage of one tenant and period, priced into an invoice.

`price(usage, book)` is pure: the same usage and tariff book always give the
same invoice, line for line and cent for cent. The rules:

Tariff
    The invoice period's prices come from ``book.for_period(tenant, period)``
    (the tenant's version valid then, else the default one). Without a
    tariff every line is reported unpriced and there is no VAT line.

Lines, in this order
    1. *usage*: one line per meter, in the order of ``METERS`` (cpu, memory,
       storage, network, printed pages, workplace days, host hours), and for
       ``host_hours`` one line per role (server, vm, thin-client, then any
       other role alphabetically).
    2. *flat*: ``workplace_month`` × workplaces (thin clients with at least
       one workplace day), then ``host_month[role]`` × hosts of that role that
       reported in the period, by role. Only rates the tariff sets, and only
       for a count above zero.
    3. *adjustment*: late data for closed periods, one line per (period it
       belongs to, meter, role), oldest period first.
    4. *vat*: only when the tariff's ``vat_percent`` is above zero.

Quantities
    The ledger's exact quantity is rounded half-up to the meter's invoice
    decimals (``MeterSpec.decimals``: cpu seconds and host hours 3, GiB·h and
    GiB 6, pages and days 0). The tariff's included quantity for the meter
    (and role) is subtracted from that, never below zero: ``billable =
    max(0, quantity − included)``. Included quantities apply per tenant and
    month to the period's own usage only.

Amounts
    ``amount = billable × unit_price``, computed exactly and then rounded
    half-up to the cent, once per line ("half-up" is commercial rounding:
    halves go away from zero, 0.005 → 0.01, 2.675 → 2.68, −0.005 → −0.01).
    Amounts are never rounded again; the net is the exact sum of the line
    amounts. A meter without a price in the tariff still gets a usage line
    (quantity, no unit price, no amount); it counts nowhere.

Adjustments
    Data that arrives after its period was closed is booked into the open
    period as an adjustment. Its line names the period it belongs to and is
    priced with the tariff valid in *that* period (so a price change between
    the two periods does not reprice old usage). The late quantity (summed
    per period, meter and role, then rounded half-up to the meter's decimals)
    is priced in full: the closed period's included quantity was settled when
    it closed.

VAT
    ``vat = net × vat_percent / 100``, rounded half-up to the cent, where net
    is the sum of all usage, flat and adjustment amounts and vat_percent
    that of the invoice period's tariff. The VAT line shows the net as its
    quantity (unit: the currency) and the rate as its unit price (19 % →
    0.19). ``total = net + vat``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, DivisionByZero, InvalidOperation, Overflow, localcontext
from typing import Literal

from .model import METERS, PeriodUsage
from .tariffs import ROLES, Tariff, TariffBook

__all__ = ["CENT", "Invoice", "InvoiceLine", "LineKind", "allocate", "meter_quantity", "price", "round_half_up"]

LineKind = Literal["usage", "flat", "adjustment", "vat"]
CENT = Decimal("0.01")
DEFAULT_CURRENCY = "EUR"

#: Enough digits that no product or sum of ledger values is ever rounded
#: implicitly; the only rounding is the explicit quantize in round_half_up.
_EXACT = Context(prec=120, rounding=ROUND_HALF_UP, traps=[InvalidOperation, DivisionByZero, Overflow])


@dataclass(frozen=True)
class InvoiceLine:
    kind: LineKind
    #: a meter of METERS; "workplace_month" or "host_month" for flat lines; "vat"
    meter: str
    #: the role for host_hours and host_month, else ""
    dim: str
    description: str
    quantity: Decimal
    unit: str
    #: None: the tariff has no price for it (the line does not count)
    unit_price: Decimal | None
    amount: Decimal | None
    #: the billing period the line belongs to (an adjustment's own period)
    period: str
    #: quantity subtracted before pricing (usage lines)
    included: Decimal = Decimal(0)
    #: what unit_price multiplies: quantity − included, never below zero
    billable: Decimal = Decimal(0)
    #: id of the tariff version that priced the line, e.g. "default@2026-01"
    tariff: str | None = None


@dataclass(frozen=True)
class Invoice:
    tenant: str
    period: str
    currency: str
    #: id of the tariff version valid in the invoice period, if any
    tariff: str | None
    vat_percent: Decimal
    lines: tuple[InvoiceLine, ...]
    net: Decimal
    vat: Decimal
    total: Decimal


def round_half_up(value: Decimal, places: int) -> Decimal:
    """Round to ``places`` decimals, halves away from zero (commercial rounding)."""
    with localcontext(_EXACT):
        return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def meter_quantity(meter: str, scaled: int) -> Decimal:
    """A ledger value (integer × scale) as the quantity shown on an invoice line."""
    spec = METERS[meter]
    with localcontext(_EXACT):
        return round_half_up(Decimal(scaled) / Decimal(spec.scale), spec.decimals)


def allocate(total: Decimal, weights: Sequence[int], quantum: Decimal) -> list[Decimal]:
    """Split ``total`` over ``weights`` in steps of ``quantum``, summing exactly to it.

    Largest remainder (Hamilton) method: every share first gets the whole
    quanta of its exact proportional share (rounded towards zero); the quanta
    left over go, one each, to the shares with the largest remainders, ties
    to the earlier share. Each share is then within one quantum of its exact
    proportional share. ``total`` must be a multiple of ``quantum``; weights
    must be non-negative with a positive sum.
    """
    if not weights or any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError("weights must be non-negative with a positive sum")
    with localcontext(_EXACT):
        units = total / quantum
        if units != units.to_integral_value():
            raise ValueError(f"{total} is not a multiple of {quantum}")
        count = int(units)
        sign = -1 if count < 0 else 1
        count = abs(count)
        whole = sum(weights)
        floors = [count * w // whole for w in weights]
        remainders = [count * w % whole for w in weights]
        left = count - sum(floors)
        ranked = sorted(range(len(weights)), key=lambda i: (-remainders[i], i))
        for i in ranked[:left]:
            floors[i] += 1
        return [Decimal(sign * n) * quantum for n in floors]


def _meter_index(meter: str) -> int:
    try:
        return list(METERS).index(meter)
    except ValueError:
        raise ValueError(f"unknown meter {meter!r}") from None


def _dim_key(dim: str) -> tuple[int, str]:
    return (ROLES.index(dim), "") if dim in ROLES else (len(ROLES), dim)


def _meter_label(meter: str, dim: str) -> str:
    text = METERS[meter].description
    return f"{text}, role {dim}" if dim else text


def _priced(tariff: Tariff | None, meter: str, dim: str) -> Decimal | None:
    return tariff.unit_price(meter, dim) if tariff is not None else None


def _amount(billable: Decimal, unit_price: Decimal | None) -> Decimal | None:
    if unit_price is None:
        return None
    with localcontext(_EXACT):
        return round_half_up(billable * unit_price, 2)


def _usage_lines(usage: PeriodUsage, tariff: Tariff | None) -> Iterable[InvoiceLine]:
    totals: dict[tuple[str, str], int] = {}
    for total in usage.meters:
        totals[(total.meter, total.dim)] = totals.get((total.meter, total.dim), 0) + total.scaled
    for meter, dim in sorted(totals, key=lambda k: (_meter_index(k[0]), _dim_key(k[1]))):
        quantity = meter_quantity(meter, totals[(meter, dim)])
        included = tariff.included_quantity(meter, dim) if tariff is not None else Decimal(0)
        with localcontext(_EXACT):
            billable = round_half_up(max(Decimal(0), quantity - included), METERS[meter].decimals)
        unit_price = _priced(tariff, meter, dim)
        label = _meter_label(meter, dim)
        yield InvoiceLine(
            kind="usage",
            meter=meter,
            dim=dim,
            description=label if unit_price is not None else f"{label} (no price in the tariff)",
            quantity=quantity,
            unit=METERS[meter].unit,
            unit_price=unit_price,
            amount=_amount(billable, unit_price),
            period=usage.period,
            included=included,
            billable=billable,
            tariff=tariff.id if tariff is not None and unit_price is not None else None,
        )


def _flat_line(usage: PeriodUsage, tariff: Tariff, meter: str, dim: str, count: int, rate: Decimal) -> InvoiceLine:
    quantity = Decimal(count)
    what = "workplace" if meter == "workplace_month" else "host"
    return InvoiceLine(
        kind="flat",
        meter=meter,
        dim=dim,
        description=f"flat rate per {what} and month" + (f", role {dim}" if dim else ""),
        quantity=quantity,
        unit=f"{what}s",
        unit_price=rate,
        amount=_amount(quantity, rate),
        period=usage.period,
        billable=quantity,
        tariff=tariff.id,
    )


def _flat_lines(usage: PeriodUsage, tariff: Tariff | None) -> Iterable[InvoiceLine]:
    if tariff is None:
        return
    if tariff.workplace_month is not None and usage.workplaces > 0:
        yield _flat_line(usage, tariff, "workplace_month", "", usage.workplaces, tariff.workplace_month)
    for role in sorted(usage.hosts_by_role, key=_dim_key):
        rate = tariff.host_month.get(role)
        if rate is not None and usage.hosts_by_role[role] > 0:
            yield _flat_line(usage, tariff, "host_month", role, usage.hosts_by_role[role], rate)


def _adjustment_lines(usage: PeriodUsage, book: TariffBook) -> Iterable[InvoiceLine]:
    groups: dict[tuple[str, str, str], int] = {}
    for adj in usage.adjustments:
        key = (adj.for_period, adj.meter, adj.dim)
        groups[key] = groups.get(key, 0) + adj.scaled
    for for_period, meter, dim in sorted(groups, key=lambda k: (k[0], _meter_index(k[1]), _dim_key(k[2]))):
        tariff = book.for_period(usage.tenant, for_period)
        quantity = meter_quantity(meter, groups[(for_period, meter, dim)])
        unit_price = _priced(tariff, meter, dim)
        label = f"{_meter_label(meter, dim)}: late data for {for_period}"
        yield InvoiceLine(
            kind="adjustment",
            meter=meter,
            dim=dim,
            description=label if unit_price is not None else f"{label} (no price in the tariff)",
            quantity=quantity,
            unit=METERS[meter].unit,
            unit_price=unit_price,
            amount=_amount(quantity, unit_price),
            period=for_period,
            billable=quantity,
            tariff=tariff.id if tariff is not None and unit_price is not None else None,
        )


def _percent_text(percent: Decimal) -> str:
    return format(percent.normalize(), "f")


def price(usage: PeriodUsage, book: TariffBook) -> Invoice:
    """Price one tenant's usage of one period (see the module docstring for the rules)."""
    tariff = book.for_period(usage.tenant, usage.period)
    lines = [*_usage_lines(usage, tariff), *_flat_lines(usage, tariff), *_adjustment_lines(usage, book)]
    with localcontext(_EXACT):
        net = sum((line.amount for line in lines if line.amount is not None), start=Decimal("0.00"))
        vat = Decimal("0.00")
        vat_percent = tariff.vat_percent if tariff is not None else Decimal(0)
        if tariff is not None and vat_percent > 0:
            rate = vat_percent.scaleb(-2)
            vat = round_half_up(net * rate, 2)
            lines.append(
                InvoiceLine(
                    kind="vat",
                    meter="vat",
                    dim="",
                    description=f"VAT {_percent_text(vat_percent)} %",
                    quantity=net,
                    unit=tariff.currency,
                    unit_price=rate,
                    amount=vat,
                    period=usage.period,
                    billable=net,
                    tariff=tariff.id,
                )
            )
        total = net + vat
    return Invoice(
        tenant=usage.tenant,
        period=usage.period,
        currency=tariff.currency if tariff is not None else DEFAULT_CURRENCY,
        tariff=tariff.id if tariff is not None else None,
        vat_percent=vat_percent,
        lines=tuple(lines),
        net=net,
        vat=vat,
        total=total,
    )
