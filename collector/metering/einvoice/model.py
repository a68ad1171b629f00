"""An e-invoice as plain data, built from a closed period's priced usage.

:func:`build_einvoice` is pure: the same usage, invoice, parties, number and
language give the same :class:`EInvoice`, which both the XML and the PDF are
rendered from (so they can never disagree). The issue date is the day the
period was closed (Europe/Berlin), never today: a re-export years later is
byte-identical.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from ..export import line_quantities
from ..invoice_config import SECTION_2B_REASON, BuyerConfig, InvoiceConfig, SellerConfig
from ..model import BERLIN, METERS, Period, PeriodUsage
from ..pricing import Invoice, InvoiceLine, round_half_up
from ..texts import Lang, describe

__all__ = ["UNIT_CODES", "EInvoice", "EInvoiceLine", "Party", "Vat", "build_einvoice", "invoice_number"]

#: UN/ECE Recommendation 20 codes of our units. GiB and GiB·h have none
#: (E34 is the decimal gigabyte): ZZ, "mutually defined", with the unit
#: spelled out in the line's note.
UNIT_CODES = {
    "s": "SEC",
    "GiB·h": "ZZ",
    "GiB": "ZZ",
    "pages": "ZP",
    "days": "DAY",
    "h": "HUR",
    "workplaces": "C62",
    "hosts": "C62",
}


@dataclass(frozen=True)
class Party:
    name: str
    street: str
    postcode: str
    city: str
    country: str
    electronic_address: str
    electronic_scheme: str
    vat_id: str = ""
    tax_number: str = ""
    contact_name: str = ""
    contact_phone: str = ""
    contact_email: str = ""
    iban: str = ""
    bic: str = ""
    leitweg_id: str = ""
    order_reference: str = ""
    id: str = ""


@dataclass(frozen=True)
class Vat:
    #: EN 16931 VAT category: S (standard), O (not subject to VAT), E (exempt)
    category: str
    percent: Decimal
    reason: str = ""
    code: str = ""


@dataclass(frozen=True)
class EInvoiceLine:
    id: int
    sku: str
    name: str
    notes: tuple[str, ...]
    quantity: Decimal
    unit: str
    unit_code: str
    unit_price: Decimal
    amount: Decimal
    start: dt.date
    end: dt.date


@dataclass(frozen=True)
class EInvoice:
    number: str
    lang: Lang
    tenant: str
    period: str
    issue_date: dt.date
    due_date: dt.date
    period_start: dt.date
    period_end: dt.date
    currency: str
    seller: Party
    buyer: Party
    lines: tuple[EInvoiceLine, ...]
    vat: Vat
    net: Decimal
    vat_total: Decimal
    total: Decimal
    payment_terms: str
    notes: tuple[str, ...]


def _scheme(address: str, scheme: str) -> str:
    return scheme or ("EM" if "@" in address else "")


def _seller(s: SellerConfig) -> Party:
    return Party(
        id=s.seller_id,
        name=s.name,
        street=s.street,
        postcode=s.postcode,
        city=s.city,
        country=s.country,
        electronic_address=s.electronic_address,
        electronic_scheme=_scheme(s.electronic_address, s.electronic_address_scheme),
        vat_id=s.vat_id.replace(" ", ""),
        tax_number=s.tax_number,
        contact_name=s.contact_name,
        contact_phone=s.contact_phone,
        contact_email=s.contact_email,
        iban=s.iban.replace(" ", "").upper(),
        bic=s.bic.replace(" ", "").upper(),
    )


def _buyer(b: BuyerConfig) -> Party:
    address = b.electronic_address or b.leitweg_id
    scheme = b.electronic_address_scheme if b.electronic_address else "0204"
    return Party(
        name=b.name,
        street=b.street,
        postcode=b.postcode,
        city=b.city,
        country=b.country,
        electronic_address=address,
        electronic_scheme=_scheme(address, scheme),
        vat_id=b.vat_id.replace(" ", ""),
        leitweg_id=b.leitweg_id.strip().upper(),
        order_reference=b.order_reference,
    )


def _vat(invoice: Invoice, buyer: BuyerConfig) -> Vat:
    if invoice.vat_percent > 0:
        return Vat("S", invoice.vat_percent)
    if buyer.vat_category == "E":
        return Vat("E", Decimal(0), buyer.vat_exemption_reason, buyer.vat_exemption_code)
    return Vat("O", Decimal(0), buyer.vat_exemption_reason or SECTION_2B_REASON, buyer.vat_exemption_code)


def _month(period: str) -> tuple[dt.date, dt.date]:
    p = Period.parse(period)
    return p.start.date(), p.end.date() - dt.timedelta(days=1)


def _number_text(value: Decimal, lang: Lang) -> str:
    text = format(value, "f")
    return text.replace(".", ",") if lang == "de" else text


def _notes(line: InvoiceLine, quantity: str, included: str | None, lang: Lang) -> tuple[str, ...]:
    if line.meter not in METERS:
        return ()
    if lang == "de":
        text = f"Verbrauch {quantity.replace('.', ',')} {line.unit}"
        if included is not None and Decimal(included) > 0:
            text += f", davon {included.replace('.', ',')} {line.unit} im Tarif enthalten"
    else:
        text = f"consumed {quantity} {line.unit}"
        if included is not None and Decimal(included) > 0:
            text += f", of which {included} {line.unit} included in the tariff"
    return (text,)


def _line(index: int, line: InvoiceLine, lang: Lang) -> EInvoiceLine:
    quantity, included, billable = line_quantities(line)
    start, end = _month(line.period)
    sku = f"{'flat.' if line.kind == 'flat' else ''}{line.meter}{'.' + line.dim if line.dim else ''}"
    return EInvoiceLine(
        id=index,
        sku=sku,
        name=describe(line, lang),
        notes=_notes(line, quantity, included, lang),
        # BT-129 is what the price applies to, so that BT-129 × BT-146 is BT-131
        quantity=Decimal(billable),
        unit=line.unit,
        unit_code=UNIT_CODES.get(line.unit, "C62"),
        unit_price=line.unit_price if line.unit_price is not None else Decimal("0.00"),
        amount=round_half_up(line.amount, 2) if line.amount is not None else Decimal("0.00"),
        start=start,
        end=end,
    )


def invoice_number(pattern: str, tenant: str, period: str, seq: int | None) -> str:
    """BT-1 from ``[invoice] number_pattern``."""
    p = Period.parse(period)
    return pattern.format(tenant=tenant, period=period, year=p.year, month=f"{p.month:02d}", seq=seq or 0)


def build_einvoice(usage: PeriodUsage, invoice: Invoice, config: InvoiceConfig, *, number: str, lang: Lang) -> EInvoice:
    """The e-invoice of a closed period. The caller has checked
    :func:`..invoice_config.missing` (nothing) and that the period is closed."""
    if usage.closed_at is None:
        raise ValueError("an e-invoice is issued for a closed period only")
    buyer_config = config.buyers[usage.tenant]
    seller = _seller(config.seller)
    issue = dt.datetime.fromtimestamp(usage.closed_at, BERLIN).date()
    due = issue + dt.timedelta(days=config.seller.payment_days)
    start, end = _month(usage.period)
    lines = tuple(_line(i, line, lang) for i, line in enumerate((x for x in invoice.lines if x.kind != "vat"), 1))
    if lang == "de":
        terms = f"Zahlbar ohne Abzug bis {due:%d.%m.%Y} ({config.seller.payment_days} Tage)"
        notes = (f"Abrechnung der Nutzung im Zeitraum {start:%d.%m.%Y} bis {end:%d.%m.%Y} (Mandant {usage.tenant})",)
    else:
        terms = f"Payable without deduction by {due:%Y-%m-%d} ({config.seller.payment_days} days)"
        notes = (f"Usage from {start:%Y-%m-%d} to {end:%Y-%m-%d} (tenant {usage.tenant})",)
    return EInvoice(
        number=number,
        lang=lang,
        tenant=usage.tenant,
        period=usage.period,
        issue_date=issue,
        due_date=due,
        period_start=start,
        period_end=end,
        currency=invoice.currency,
        seller=seller,
        buyer=_buyer(buyer_config),
        lines=lines,
        vat=_vat(invoice, buyer_config),
        net=round_half_up(invoice.net, 2),
        vat_total=round_half_up(invoice.vat, 2),
        total=round_half_up(invoice.total, 2),
        payment_terms=terms,
        notes=notes,
    )
