"""Exports of one tenant's usage and invoice: JSON, CSV and FinOps FOCUS 1.2 CSV.

Every renderer is a pure function of ``(usage, invoice)`` and returns bytes:
UTF-8, ``\\n`` line endings, every list sorted, numbers as fixed-point decimal
text (never floats, never exponents), no clock read. The same data therefore
gives byte-identical files, whatever order the ledger listed it in, and a
closed period can be re-exported years later to the same SHA-256
(:func:`sha256_sidecar` writes the ``FILE.sha256`` line next to it).

Number formats: every quantity of a meter (meter totals, invoice lines,
per-host detail, adjustments) is rounded half-up to the meter's invoice
decimals (``86400.000``), so per-host figures may differ from their line in
the last digit; money carries two decimals (``618.00``); unit prices as
written in the tariff, with at least two decimals (``1.50``, ``0.004``);
coverage ratios four decimals. Datetimes are ISO 8601 in UTC with ``Z``.

JSON (:func:`usage_document`, :func:`render_json`)
    The document ``GET /api/v1/usage`` answers, rendered with sorted keys, a
    two-space indent and a trailing newline::

        tenant, period, status ("open"|"closed"), closed_at (datetime|null),
        currency, tariff (version id|null), vat_percent,
        meters:      [{meter, dim, unit, quantity, coverage (ratio|null)}]
        lines:       [{kind, meter, dim, description, quantity, included,
                       billable, unit, unit_price, amount, period, tariff}]
        net, vat, total
        adjustments: [{for_period, meter, dim, subject, quantity, unit, booked_on}]
        detail:      [{kind, subject, name, meter, dim, quantity, unit}]
        coverage:    {meter: {expected, arrived, ratio}}
        gaps:        [{subject, from_seq, to_seq}]
        hosts_by_role: {role: count}, workplaces: count
        quarantine:  [{id, rule, meter, dim, subject_kind, subject, subject_name,
                       agent_id, quantity, unit, start, end, evidence, status}]
        quarantine_pending: count

    ``quarantine`` lists what plausibility checks held back for review in an
    open period (pending, released or dismissed); a pending or dismissed
    quantity is in no total, a released one is booked like any other. A
    closed period's document has an empty list: what was not reviewed when
    it closed is not part of it.

    ``lines`` keep the invoice's order (see :mod:`.pricing`); unpriced lines
    have ``unit_price`` and ``amount`` null; ``included`` is set on usage
    lines only; the VAT line has the net as quantity and billable and the
    rate as unit price (``0.19``). ``meters`` list each meter (and role)
    once, in invoice order, with its meter's coverage ratio. Counts
    (``expected``, ``arrived``, seqs, hosts, workplaces) are JSON integers;
    every quantity, price and amount is a decimal string.

CSV (:func:`render_csv`)
    One table, comma-separated, ``"``-quoted where needed, with the columns of
    :data:`CSV_COLUMNS`; the ``record`` column says what a row is, in this
    order: ``invoice`` (one row: kind = status, closed_at, currency, tariff,
    amount = total), ``line`` (invoice lines; kind usage|flat|adjustment|vat,
    period = the period the line belongs to), ``total`` (kind net, vat,
    total; amount), ``meter`` (meter totals with coverage ratio),
    ``coverage`` (expected, arrived, ratio per meter), ``detail`` (per host
    or device: kind host|device, subject, name, meter, dim, quantity),
    ``adjustment`` (each late booking: period = the period it belongs to,
    subject, quantity, booked_on), ``gap`` (subject, from_seq, to_seq) and,
    for an open period, ``quarantine`` (held for review, never in a total:
    kind = status, subject, name, meter, dim, quantity, unit, description =
    "QUARANTAENE/QUARANTINE <id>: <rule>: <evidence> (<start> .. <end>)").
    Columns a record does not use are empty. ``tenant`` and
    ``billing_period`` are on every row, so exports of several tenants can be
    concatenated. Text that a spreadsheet would run as a formula (a leading
    ``=``, ``+``, ``-``, ``@``, tab or carriage return, e.g. a hostile host
    name) is prefixed with ``'``.

FOCUS (:func:`render_focus`)
    A FinOps FOCUS 1.2 cost-and-usage CSV with the columns of
    :data:`FOCUS_COLUMNS`: all 21 mandatory columns, the conditional and
    recommended ones that apply, and ``x_`` columns of our own.

    Rows. One row per invoice line and resource: a usage line is split over
    the hosts and devices that consumed it (``ResourceId`` = agent or device
    id, ``ResourceName`` = host or device name, ``ResourceType`` = ``Host`` or
    ``Device``), in proportion to their exact ledger quantities; quantity the
    ledger did not attribute to a subject gets a row without a resource. An
    adjustment line is split over the subjects of its late bookings. A flat
    line is split one unit per resource when the ledger names exactly as many
    resources as the line counts (thin clients with workplace days for
    ``workplace_month``; hosts of the role for ``host_month``), else it is
    one row. VAT is one row. Rows of a line follow the invoice order, then
    resources sorted by id, the unattributed rest last.

    Allocation. Costs, ``ConsumedQuantity`` and ``PricingQuantity`` of a line
    are split by the largest remainder method (:func:`.pricing.allocate`):
    in cents for money and in steps of the meter's invoice decimals for
    quantities, so the rows of a line sum *exactly* to the invoice line, and
    all ``BilledCost`` sum exactly to the invoice total. Per row,
    ``PricingQuantity × ListUnitPrice`` can therefore differ from
    ``ListCost`` by the rounding to the cent (FOCUS: exact for the line).

    Columns and how they are filled:

    =========================== ==================================================
    BilledCost, EffectiveCost,  the allocated line amount (there are no discounts
    ListCost, ContractedCost    or commitments, so the four are equal); 0.00 for
                                meters without a price
    BillingAccountId/Name       the tenant (the member municipality receives
                                the invoice)
    SubAccountId/Name           the tenant
    BillingCurrency             the invoice currency (EUR)
    BillingPeriodStart/End      the invoice month in Europe/Berlin, as UTC
                                (2026-11 → 2026-10-31T23:00:00Z ..
                                2026-11-30T23:00:00Z, end exclusive)
    ChargePeriodStart/End       the month the line belongs to: the invoice month,
                                or for an adjustment the closed month it corrects
    ChargeCategory              Usage (usage lines and adjustments), Purchase
                                (flat rates), Tax (VAT)
    ChargeClass                 Correction for adjustments (late data for an
                                already invoiced month), else empty
    ChargeDescription           the invoice line's description
    ChargeFrequency             Usage-Based (usage, adjustments), Recurring (flat
                                rates, VAT)
    ConsumedQuantity/Unit       the allocated consumed quantity and the meter's
                                unit for usage and adjustment rows; empty for
                                Purchase and Tax rows
    PricingQuantity/Unit        the allocated billable quantity (after included
                                quantities) and the pricing unit; empty for Tax
    ListUnitPrice,              the tariff's unit price (0 for a meter without a
    ContractedUnitPrice         price, so the row's cost is 0); empty for Tax
    PricingCategory             Standard, empty for Tax
    InvoiceId                   "<tenant>-<period>" (provisional while open)
    InvoiceIssuerName,          the ``provider`` argument (default "Leitstand")
    ProviderName, PublisherName
    ResourceId/Name/Type        see Rows
    ServiceName, ServiceCategory, ServiceSubcategory
                                per meter (and role): Compute (cpu, memory),
                                Server Hosting, Virtual Machines, Cloud Workplace
                                (thin clients, workplace days and rates),
                                Storage (Storage/Disk), Network
                                (Networking/Data Transfer), Printing (Other);
                                VAT: "All services" (Other)
    SkuId                       the meter (``host_hours.vm``, ``flat.host_month
                                .server``); empty for Tax
    x_Meter, x_Dimension        the invoice line's meter and role
    x_LineKind                  usage, flat, adjustment or vat
    x_TariffId                  the tariff version that priced the line
    x_Coverage                  the meter's coverage ratio (usage rows)
    =========================== ==================================================

    Not filled, as nothing in Leitstand corresponds to them: availability
    zones, regions, commitment discounts, capacity reservations, SKU price
    ids and details, tags, pricing currency columns (billing and pricing
    currency are the same).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from .model import METERS, Adjustment, Period, PeriodUsage, QuarantineItem, SubjectTotal
from .pricing import CENT, Invoice, InvoiceLine, allocate, meter_quantity, round_half_up
from .tariffs import ROLES
from .texts import Lang, ascii_text, describe

__all__ = [
    "CSV_COLUMNS",
    "FOCUS_CHARGE_CATEGORY",
    "FOCUS_COLUMNS",
    "FOCUS_MANDATORY_COLUMNS",
    "line_quantities",
    "quarantine_item",
    "render_csv",
    "render_focus",
    "render_json",
    "sha256_sidecar",
    "usage_document",
]


# --- formatting ---------------------------------------------------------------


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _money(value: Decimal | None) -> str | None:
    return None if value is None else format(round_half_up(value, 2), "f")


def _unit_price(value: Decimal | None) -> str | None:
    if value is None:
        return None
    exponent = value.as_tuple().exponent
    return format(value.quantize(CENT) if isinstance(exponent, int) and exponent > -2 else value, "f")


def _quantity(meter: str, scaled: int) -> str:
    """A ledger value in the meter's unit, rounded half-up to its invoice decimals."""
    return format(meter_quantity(meter, scaled), "f")


def _display(meter: str, quantity: Decimal) -> str:
    return format(round_half_up(quantity, METERS[meter].decimals), "f")


@lru_cache(maxsize=1024)
def _utc(ts: float | dt.datetime) -> str:
    # cached: a FOCUS export formats the same few period bounds on every row
    when = ts if isinstance(ts, dt.datetime) else dt.datetime.fromtimestamp(ts, dt.UTC)
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _meter_order(meter: str) -> int:
    names = list(METERS)
    return names.index(meter) if meter in names else len(names)


def _dim_order(dim: str) -> tuple[int, str]:
    return (ROLES.index(dim), "") if dim in ROLES else (len(ROLES), dim)


def _ratio(usage: PeriodUsage, meter: str) -> str | None:
    cov = usage.coverage.get(meter)
    return None if cov is None else format(cov.ratio, "f")


def _subjects(usage: PeriodUsage) -> list[SubjectTotal]:
    """Subjects merged per (kind, subject, meter, dim) and sorted."""
    merged: dict[tuple[str, str, str, str], tuple[str, int]] = {}
    for s in usage.subjects:
        key = (s.kind, s.subject, s.meter, s.dim)
        name, scaled = merged.get(key, (s.name, 0))
        merged[key] = (min(name, s.name), scaled + s.scaled)
    rows = [SubjectTotal(k, subj, name, m, d, scaled) for (k, subj, m, d), (name, scaled) in merged.items()]
    return sorted(rows, key=lambda s: (s.kind, s.subject, _meter_order(s.meter), _dim_order(s.dim), s.name))


def _adjustments(usage: PeriodUsage) -> list[Adjustment]:
    return sorted(
        usage.adjustments,
        key=lambda a: (a.for_period, _meter_order(a.meter), _dim_order(a.dim), a.subject, a.booked_on, a.scaled),
    )


def _meter_totals(usage: PeriodUsage) -> list[tuple[str, str, int]]:
    totals: dict[tuple[str, str], int] = {}
    for t in usage.meters:
        totals[(t.meter, t.dim)] = totals.get((t.meter, t.dim), 0) + t.scaled
    return sorted(((m, d, s) for (m, d), s in totals.items()), key=lambda r: (_meter_order(r[0]), _dim_order(r[1])))


def _gaps(usage: PeriodUsage) -> list[tuple[str, int, int]]:
    return sorted((g.subject, g.from_seq, g.to_seq) for g in usage.gaps)


def _quantity_text(line: InvoiceLine) -> str:
    if line.meter in METERS:
        return _display(line.meter, line.quantity)
    places = 2 if line.kind == "vat" else 0
    return format(round_half_up(line.quantity, places), "f")


def _included(line: InvoiceLine) -> str | None:
    """Included quantity of a usage line (null for other kinds)."""
    return _display(line.meter, line.included) if line.kind == "usage" else None


def _billable(line: InvoiceLine) -> str:
    if line.meter in METERS:
        return _display(line.meter, line.billable)
    return format(round_half_up(line.billable, 2 if line.kind == "vat" else 0), "f")


def line_quantities(line: InvoiceLine) -> tuple[str, str | None, str]:
    """A line's quantity, included quantity (usage lines, else None) and
    billable quantity as every export writes them."""
    return _quantity_text(line), _included(line), _billable(line)


def _quarantine(usage: PeriodUsage) -> list[QuarantineItem]:
    return sorted(usage.quarantine, key=lambda q: (q.start, q.end, q.subject_kind, q.subject, q.meter, q.dim, q.id))


def quarantine_item(item: QuarantineItem) -> dict[str, Any]:
    """One quarantine entry as the API and the JSON export show it."""
    return {
        "id": item.id,
        "rule": item.rule,
        "meter": item.meter,
        "dim": item.dim,
        "subject_kind": item.subject_kind,
        "subject": item.subject,
        "subject_name": item.subject_name,
        "agent_id": item.agent_id,
        "quantity": _quantity(item.meter, item.scaled),
        "unit": METERS[item.meter].unit,
        "start": _utc(item.start),
        "end": _utc(item.end),
        "evidence": item.evidence,
        "status": item.status,
    }


# --- JSON ---------------------------------------------------------------------


def usage_document(usage: PeriodUsage, invoice: Invoice, *, lang: Lang = "en") -> dict[str, Any]:
    """The usage of one tenant and period with its invoice, as JSON-ready data
    (line descriptions in ``lang``)."""
    return {
        "tenant": usage.tenant,
        "period": usage.period,
        "status": usage.status,
        "closed_at": _utc(usage.closed_at) if usage.closed_at is not None else None,
        "currency": invoice.currency,
        "tariff": invoice.tariff,
        "vat_percent": _dec(invoice.vat_percent),
        "meters": [
            {
                "meter": meter,
                "dim": dim,
                "unit": METERS[meter].unit,
                "quantity": _quantity(meter, scaled),
                "coverage": _ratio(usage, meter),
            }
            for meter, dim, scaled in _meter_totals(usage)
        ],
        "lines": [
            {
                "kind": line.kind,
                "meter": line.meter,
                "dim": line.dim,
                "description": describe(line, lang),
                "quantity": _quantity_text(line),
                "included": _included(line),
                "billable": _billable(line),
                "unit": line.unit,
                "unit_price": _unit_price(line.unit_price),
                "amount": _money(line.amount),
                "period": line.period,
                "tariff": line.tariff,
            }
            for line in invoice.lines
        ],
        "net": _money(invoice.net),
        "vat": _money(invoice.vat),
        "total": _money(invoice.total),
        "adjustments": [
            {
                "for_period": a.for_period,
                "meter": a.meter,
                "dim": a.dim,
                "subject": a.subject,
                "quantity": _quantity(a.meter, a.scaled),
                "unit": METERS[a.meter].unit,
                "booked_on": a.booked_on,
            }
            for a in _adjustments(usage)
        ],
        "detail": [
            {
                "kind": s.kind,
                "subject": s.subject,
                "name": s.name,
                "meter": s.meter,
                "dim": s.dim,
                "quantity": _quantity(s.meter, s.scaled),
                "unit": METERS[s.meter].unit,
            }
            for s in _subjects(usage)
        ],
        "coverage": {
            meter: {"expected": cov.expected, "arrived": cov.arrived, "ratio": format(cov.ratio, "f")}
            for meter, cov in usage.coverage.items()
        },
        "gaps": [{"subject": s, "from_seq": a, "to_seq": b} for s, a, b in _gaps(usage)],
        "hosts_by_role": dict(usage.hosts_by_role),
        "workplaces": usage.workplaces,
        "quarantine": [quarantine_item(q) for q in _quarantine(usage)],
        "quarantine_pending": sum(1 for q in usage.quarantine if q.status == "pending"),
    }


def render_json(usage: PeriodUsage, invoice: Invoice, *, lang: Lang = "en") -> bytes:
    """:func:`usage_document` as canonical JSON: sorted keys, 2-space indent, trailing newline."""
    text = json.dumps(usage_document(usage, invoice, lang=lang), sort_keys=True, indent=2, ensure_ascii=False)
    return (text + "\n").encode("utf-8")


# --- CSV ----------------------------------------------------------------------

CSV_COLUMNS: tuple[str, ...] = (
    "record",
    "tenant",
    "billing_period",
    "kind",
    "period",
    "meter",
    "dim",
    "subject",
    "name",
    "description",
    "quantity",
    "included",
    "billable",
    "unit",
    "unit_price",
    "amount",
    "currency",
    "tariff",
    "expected",
    "arrived",
    "ratio",
    "from_seq",
    "to_seq",
    "booked_on",
    "closed_at",
)
_TEXT_COLUMNS = frozenset({"dim", "subject", "name", "description", "ResourceId", "ResourceName", "ChargeDescription"})
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class _Dialect(csv.Dialect):
    delimiter = ","
    quotechar = '"'
    escapechar = None
    doublequote = True
    skipinitialspace = False
    lineterminator = "\n"
    quoting = csv.QUOTE_MINIMAL
    strict = True


def _cell(column: str, value: object) -> str:
    if value is None:
        return ""
    text = str(value)
    if column in _TEXT_COLUMNS and text.startswith(_FORMULA_START):
        return "'" + text
    return text


def _write_table(columns: Sequence[str], rows: Iterable[dict[str, object]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, dialect=_Dialect)
    writer.writerow(columns)
    for row in rows:
        unknown = set(row) - set(columns)
        if unknown:
            raise ValueError(f"unknown columns {sorted(unknown)}")
        writer.writerow([_cell(column, row.get(column)) for column in columns])
    return buffer.getvalue().encode("utf-8")


def _csv_rows(usage: PeriodUsage, invoice: Invoice, lang: Lang) -> Iterator[dict[str, object]]:
    base = {"tenant": usage.tenant, "billing_period": usage.period}
    yield {
        **base,
        "record": "invoice",
        "kind": usage.status,
        "period": usage.period,
        "currency": invoice.currency,
        "tariff": invoice.tariff,
        "amount": _money(invoice.total),
        "closed_at": _utc(usage.closed_at) if usage.closed_at is not None else None,
    }
    for line in invoice.lines:
        yield {
            **base,
            "record": "line",
            "kind": line.kind,
            "period": line.period,
            "meter": line.meter,
            "dim": line.dim,
            "description": describe(line, lang),
            "quantity": _quantity_text(line),
            "included": _included(line),
            "billable": _billable(line),
            "unit": line.unit,
            "unit_price": _unit_price(line.unit_price),
            "amount": _money(line.amount),
            "currency": invoice.currency,
            "tariff": line.tariff,
        }
    for kind, amount in (("net", invoice.net), ("vat", invoice.vat), ("total", invoice.total)):
        yield {**base, "record": "total", "kind": kind, "amount": _money(amount), "currency": invoice.currency}
    for meter, dim, scaled in _meter_totals(usage):
        yield {
            **base,
            "record": "meter",
            "period": usage.period,
            "meter": meter,
            "dim": dim,
            "quantity": _quantity(meter, scaled),
            "unit": METERS[meter].unit,
            "ratio": _ratio(usage, meter),
        }
    for meter in sorted(usage.coverage, key=lambda m: (_meter_order(m), m)):
        cov = usage.coverage[meter]
        yield {
            **base,
            "record": "coverage",
            "period": usage.period,
            "meter": meter,
            "expected": cov.expected,
            "arrived": cov.arrived,
            "ratio": format(cov.ratio, "f"),
        }
    for s in _subjects(usage):
        yield {
            **base,
            "record": "detail",
            "kind": s.kind,
            "period": usage.period,
            "meter": s.meter,
            "dim": s.dim,
            "subject": s.subject,
            "name": s.name,
            "quantity": _quantity(s.meter, s.scaled),
            "unit": METERS[s.meter].unit,
        }
    for a in _adjustments(usage):
        yield {
            **base,
            "record": "adjustment",
            "kind": "adjustment",
            "period": a.for_period,
            "meter": a.meter,
            "dim": a.dim,
            "subject": a.subject,
            "quantity": _quantity(a.meter, a.scaled),
            "unit": METERS[a.meter].unit,
            "booked_on": a.booked_on,
        }
    for subject, from_seq, to_seq in _gaps(usage):
        yield {**base, "record": "gap", "subject": subject, "from_seq": from_seq, "to_seq": to_seq}
    for q in _quarantine(usage):
        yield {
            **base,
            "record": "quarantine",
            "kind": q.status,
            "period": q.period or usage.period,
            "meter": q.meter,
            "dim": q.dim,
            "subject": q.subject,
            "name": q.subject_name,
            "description": f"QUARANTAENE/QUARANTINE {q.id}: {q.rule}: {q.evidence} ({_utc(q.start)} .. {_utc(q.end)})",
            "quantity": _quantity(q.meter, q.scaled),
            "unit": METERS[q.meter].unit,
        }


def render_csv(usage: PeriodUsage, invoice: Invoice, *, lang: Lang = "en") -> bytes:
    """One CSV table of invoice, lines, totals, meters, coverage, detail, adjustments and gaps."""
    return _write_table(CSV_COLUMNS, _csv_rows(usage, invoice, lang))


# --- FOCUS 1.2 ----------------------------------------------------------------

#: The columns FOCUS 1.2 makes mandatory.
FOCUS_MANDATORY_COLUMNS: tuple[str, ...] = (
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "ContractedCost",
    "EffectiveCost",
    "InvoiceIssuerName",
    "ListCost",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "ServiceCategory",
    "ServiceName",
)
_FOCUS_OPTIONAL: tuple[str, ...] = (
    "ChargeFrequency",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedUnitPrice",
    "InvoiceId",
    "ListUnitPrice",
    "PricingCategory",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "ServiceSubcategory",
    "SkuId",
    "SubAccountId",
    "SubAccountName",
)
_FOCUS_CUSTOM: tuple[str, ...] = ("x_Coverage", "x_Dimension", "x_LineKind", "x_Meter", "x_TariffId")
#: FOCUS columns in file order: the spec's columns alphabetically, then ours (``x_``).
FOCUS_COLUMNS: tuple[str, ...] = (*sorted(FOCUS_MANDATORY_COLUMNS + _FOCUS_OPTIONAL), *_FOCUS_CUSTOM)

#: FOCUS ChargeCategory of an invoice line kind. Late data for a closed month
#: is usage that corrects an invoiced period: Usage with ChargeClass Correction.
FOCUS_CHARGE_CATEGORY = {"usage": "Usage", "adjustment": "Usage", "flat": "Purchase", "vat": "Tax"}
_FREQUENCY = {"usage": "Usage-Based", "adjustment": "Usage-Based", "flat": "Recurring", "vat": "Recurring"}

_COMPUTE = ("Compute", "Compute", "Other (Compute)")
_HOSTING = {
    "server": ("Server Hosting", "Compute", "Other (Compute)"),
    "vm": ("Virtual Machines", "Compute", "Virtual Machines"),
    "thin-client": ("Cloud Workplace", "Compute", "End User Computing"),
}
_WORKPLACE = ("Cloud Workplace", "Compute", "End User Computing")
_SERVICES: dict[str, tuple[str, str, str]] = {
    "cpu_core_seconds": _COMPUTE,
    "memory_gib_hours": _COMPUTE,
    "storage_gib_hours": ("Storage", "Storage", "Disk"),
    "network_gib": ("Network", "Networking", "Data Transfer"),
    "printed_pages": ("Printing", "Other", "Other (Other)"),
    "printed_pages_mono": ("Printing", "Other", "Other (Other)"),
    "printed_pages_color": ("Printing", "Other", "Other (Other)"),
    "workplace_days": _WORKPLACE,
    "workplace_month": _WORKPLACE,
}
_ALL_SERVICES = ("All services", "Other", "Other (Other)")
_FOCUS_UNITS = {
    "cpu_core_seconds": "Core-Seconds",
    "memory_gib_hours": "GiB-Hours",
    "storage_gib_hours": "GiB-Hours",
    "network_gib": "GiB",
    "printed_pages": "Pages",
    "printed_pages_mono": "Pages",
    "printed_pages_color": "Pages",
    "workplace_days": "Workplace-Days",
    "host_hours": "Hours",
    "workplace_month": "Workplace-Months",
    "host_month": "Host-Months",
}
_DEVICE_METERS = frozenset({"printed_pages", "printed_pages_mono", "printed_pages_color"})


def _service(line: InvoiceLine) -> tuple[str, str, str]:
    if line.kind == "vat":
        return _ALL_SERVICES
    if line.meter in ("host_hours", "host_month"):
        return _HOSTING.get(line.dim, ("Hosting", "Compute", "Other (Compute)"))
    return _SERVICES.get(line.meter, ("Other", "Other", "Other (Other)"))


@dataclass(frozen=True)
class _Resource:
    id: str
    name: str
    type: str
    weight: int


def _resource_type(kind: str) -> str:
    return "Device" if kind == "device" else "Host"


def _line_resources(usage: PeriodUsage, subjects: list[SubjectTotal], line: InvoiceLine) -> list[_Resource | None]:
    """Who a line's cost is split over; None stands for the unattributed rest."""
    names = {s.subject: (s.name, s.kind) for s in subjects}
    if line.kind == "usage":
        own = [s for s in subjects if s.meter == line.meter and s.dim == line.dim]
        if any(s.scaled < 0 for s in own):
            return [None]
        resources: list[_Resource | None] = [
            _Resource(s.subject, s.name, _resource_type(s.kind), s.scaled) for s in own if s.scaled > 0
        ]
        total = sum(t.scaled for t in usage.meters if t.meter == line.meter and t.dim == line.dim)
        rest = total - sum(s.scaled for s in own)
        if rest > 0 or not resources:
            resources.append(None)
        return resources
    if line.kind == "adjustment":
        per_subject: dict[str, int] = {}
        for a in usage.adjustments:
            if (a.for_period, a.meter, a.dim) == (line.period, line.meter, line.dim):
                per_subject[a.subject] = per_subject.get(a.subject, 0) + a.scaled
        if not per_subject or any(v < 0 for v in per_subject.values()) or not any(per_subject.values()):
            return [None]
        default_kind = "device" if line.meter in _DEVICE_METERS else "host"
        found: list[_Resource | None] = []
        for subject in sorted(per_subject):
            if per_subject[subject] > 0:
                name, kind = names.get(subject, (subject, default_kind))
                found.append(_Resource(subject, name, _resource_type(kind), per_subject[subject]))
        return found
    if line.kind == "flat":
        if line.meter == "workplace_month":
            who = [s for s in subjects if s.meter == "workplace_days" and s.scaled > 0]
        else:
            who = [s for s in subjects if s.meter == "host_hours" and s.dim == line.dim and s.scaled > 0]
        ids = sorted({s.subject: s for s in who}.items())
        if ids and Decimal(len(ids)) == line.quantity:
            return [_Resource(subject, s.name, _resource_type(s.kind), 1) for subject, s in ids]
    return [None]


def _split(total: Decimal | None, weights: list[int], quantum: Decimal) -> list[Decimal | None]:
    if total is None:
        return [None] * len(weights)
    if len(weights) == 1:
        return [total]
    return list(allocate(total, weights, quantum))


def _focus_rows(usage: PeriodUsage, invoice: Invoice, provider: str, lang: Lang) -> Iterator[dict[str, object]]:
    billing = Period.parse(usage.period)
    subjects = _subjects(usage)
    totals: dict[tuple[str, str], int] = {}
    for t in usage.meters:
        totals[(t.meter, t.dim)] = totals.get((t.meter, t.dim), 0) + t.scaled
    for line in invoice.lines:
        resources = _line_resources(usage, subjects, line)
        weights = [r.weight if r is not None else 0 for r in resources]
        if None in resources:
            i = resources.index(None)
            if line.kind == "usage":
                attributed = sum(weights)
                weights[i] = max(totals.get((line.meter, line.dim), 0) - attributed, 0)
            if sum(weights) == 0:
                weights = [1 if r is None else 0 for r in resources]
        quantum = Decimal(1).scaleb(-METERS[line.meter].decimals) if line.meter in METERS else Decimal(1)
        amount = line.amount if line.amount is not None else Decimal("0.00")
        costs = _split(amount, weights, CENT)
        consumed = _split(line.quantity, weights, quantum) if line.kind in ("usage", "adjustment") else None
        pricing = _split(line.billable, weights, quantum) if line.kind != "vat" else None
        charge_period = Period.parse(line.period)
        service, category, subcategory = _service(line)
        sku = None
        if line.kind != "vat":
            sku = f"{'flat.' if line.kind == 'flat' else ''}{line.meter}{'.' + line.dim if line.dim else ''}"
        for index, resource in enumerate(resources):
            cost = _money(costs[index])
            is_tax = line.kind == "vat"
            unit_price = None if is_tax else _unit_price(line.unit_price if line.unit_price is not None else Decimal(0))
            yield {
                "BilledCost": cost,
                "BillingAccountId": usage.tenant,
                "BillingAccountName": usage.tenant,
                "BillingCurrency": invoice.currency,
                "BillingPeriodEnd": _utc(billing.end),
                "BillingPeriodStart": _utc(billing.start),
                "ChargeCategory": FOCUS_CHARGE_CATEGORY[line.kind],
                "ChargeClass": "Correction" if line.kind == "adjustment" else None,
                "ChargeDescription": ascii_text(describe(line, lang)),
                "ChargeFrequency": _FREQUENCY[line.kind],
                "ChargePeriodEnd": _utc(charge_period.end),
                "ChargePeriodStart": _utc(charge_period.start),
                "ConsumedQuantity": _dec(consumed[index]) if consumed is not None else None,
                "ConsumedUnit": _FOCUS_UNITS[line.meter] if consumed is not None else None,
                "ContractedCost": cost,
                "ContractedUnitPrice": unit_price,
                "EffectiveCost": cost,
                "InvoiceId": f"{usage.tenant}-{usage.period}",
                "InvoiceIssuerName": provider,
                "ListCost": cost,
                "ListUnitPrice": unit_price,
                "PricingCategory": None if is_tax else "Standard",
                "PricingQuantity": _dec(pricing[index]) if pricing is not None else None,
                "PricingUnit": None if is_tax else _FOCUS_UNITS[line.meter],
                "ProviderName": provider,
                "PublisherName": provider,
                "ResourceId": resource.id if resource else None,
                "ResourceName": ascii_text(resource.name) if resource else None,
                "ResourceType": resource.type if resource else None,
                "ServiceCategory": category,
                "ServiceName": service,
                "ServiceSubcategory": subcategory,
                "SkuId": sku,
                "SubAccountId": usage.tenant,
                "SubAccountName": usage.tenant,
                "x_Coverage": _ratio(usage, line.meter) if line.kind == "usage" else None,
                "x_Dimension": line.dim or None,
                "x_LineKind": line.kind,
                "x_Meter": line.meter,
                "x_TariffId": line.tariff,
            }


_NO_USAGE = {"en": "No usage in this billing period", "de": "Keine Nutzung in diesem Abrechnungszeitraum"}


def _no_usage_row(usage: PeriodUsage, invoice: Invoice, provider: str, lang: Lang) -> dict[str, object]:
    """The one row of a month without any charge: FOCUS validates values
    (ChargeCategory, ChargeFrequency, ServiceCategory, ...) row by row, and a
    header-only file has none to validate."""
    billing = Period.parse(usage.period)
    service, category, subcategory = _ALL_SERVICES
    return {
        **dict.fromkeys(("BilledCost", "ContractedCost", "EffectiveCost", "ListCost"), "0.00"),
        **dict.fromkeys(("BillingAccountId", "BillingAccountName", "SubAccountId", "SubAccountName"), usage.tenant),
        **dict.fromkeys(("InvoiceIssuerName", "ProviderName", "PublisherName"), provider),
        # "0.000", not "0": a reader infers a column's type from its values, and
        # FOCUS wants quantities DECIMAL (focus-validator: PricingQuantity-C-001-M)
        **dict.fromkeys(("ConsumedQuantity", "PricingQuantity"), "0.000"),
        **dict.fromkeys(("ContractedUnitPrice", "ListUnitPrice"), "0"),
        **dict.fromkeys(("ConsumedUnit", "PricingUnit"), _FOCUS_UNITS["host_hours"]),
        "BillingCurrency": invoice.currency,
        "BillingPeriodEnd": _utc(billing.end),
        "BillingPeriodStart": _utc(billing.start),
        "ChargeCategory": "Usage",
        "ChargeDescription": _NO_USAGE[lang],
        "ChargeFrequency": "Usage-Based",
        "ChargePeriodEnd": _utc(billing.end),
        "ChargePeriodStart": _utc(billing.start),
        "InvoiceId": f"{usage.tenant}-{usage.period}",
        "PricingCategory": "Standard",
        "ServiceCategory": category,
        "ServiceName": service,
        "ServiceSubcategory": subcategory,
        "x_LineKind": "none",
    }


def render_focus(usage: PeriodUsage, invoice: Invoice, *, provider: str = "Leitstand", lang: Lang = "en") -> bytes:
    """A FinOps FOCUS 1.2 CSV of the invoice, split per resource (see the module docstring)."""
    rows = (
        _focus_rows(usage, invoice, provider, lang)
        if invoice.lines
        else iter([_no_usage_row(usage, invoice, provider, lang)])
    )
    return _write_table(FOCUS_COLUMNS, rows)


# --- checksum -----------------------------------------------------------------


def sha256_sidecar(content: bytes, filename: str) -> bytes:
    """The ``sha256sum``-compatible line for ``FILE.sha256``: ``<hex>  <filename>\\n``.

    Pass the export's base name, so ``sha256sum -c FILE.sha256`` works in its
    directory. Like GNU sha256sum, a name with a backslash or a line break is
    escaped and the line starts with a backslash.
    """
    digest = hashlib.sha256(content).hexdigest()
    if any(c in filename for c in "\\\n\r"):
        escaped = filename.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
        return f"\\{digest}  {escaped}\n".encode()
    return f"{digest}  {filename}\n".encode()
