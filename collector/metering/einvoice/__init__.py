"""E-invoices of a closed period: XRechnung 3.0 (CII XML) and ZUGFeRD / Factur-X.

Both are rendered from one :class:`EInvoice` (see :mod:`.model`): the lines
are the invoice lines of the JSON export (VAT is the tax breakdown, not a
line), the totals are its net, VAT and total. :func:`check_ready` refuses an
open period or a config an e-invoice cannot be issued from, before anything
is rendered.

========================  =====================================================
BT-1 invoice number       ``[invoice] number_pattern`` (assigned once, stored)
BT-2 issue date           the day the period was closed (Europe/Berlin)
BT-9 due date             issue date + ``invoice.seller.payment_days``
BT-10 buyer reference     the buyer's Leitweg-ID
BG-14 invoice period      the billing month
BG-26 line period         the month the line belongs to (an adjustment's own)
BT-129/130 quantity       billable quantity, UN/ECE Rec 20 unit
BT-146 net price          the tariff's unit price (0 for a meter without price)
BT-151/152 VAT            S with the tariff's rate; O (not subject, § 2b UStG)
                          or E (exempt) with its reason where the rate is 0
========================  =====================================================
"""

from __future__ import annotations

from ...errors import ConflictError
from ..invoice_config import EInvoiceConfigError, InvoiceConfig, missing
from ..model import PeriodUsage
from ..pricing import Invoice
from ._cii import render_cii
from ._pdf import render_pdf
from .model import EInvoice, build_einvoice, invoice_number
from .numbers import assign_number, issued_number, next_seq

__all__ = [
    "FORMATS",
    "RENDERERS",
    "EInvoice",
    "EInvoiceConfigError",
    "assign_number",
    "build_einvoice",
    "check_ready",
    "invoice_number",
    "issued_number",
    "next_seq",
    "render_xrechnung",
    "render_zugferd",
]

#: export format -> file extension
FORMATS = {"xrechnung": "xml", "zugferd": "pdf"}


def check_ready(usage: PeriodUsage, invoice: Invoice, config: InvoiceConfig) -> None:
    """Raise unless an e-invoice can be issued for this closed period."""
    if usage.status != "closed" or usage.closed_at is None:
        raise ConflictError(
            f"{usage.period} is open for {usage.tenant}: an e-invoice is issued for a closed month only",
            [f"close it first: leitstand-collector meter close --period {usage.period} --tenant {usage.tenant}"],
        )
    keys = missing(config, usage.tenant, vat_percent_zero=invoice.vat_percent == 0)
    if keys:
        raise EInvoiceConfigError(usage.tenant, keys)
    if not any(line.kind != "vat" for line in invoice.lines):
        # EN 16931 needs at least one line (BG-25): an empty month has nothing to invoice
        raise ConflictError(f"nothing to invoice for {usage.tenant} in {usage.period}: the month has no invoice line")


def render_xrechnung(inv: EInvoice) -> bytes:
    """XRechnung 3.0 in UN/CEFACT CII syntax."""
    return render_cii(inv, "xrechnung")


def render_zugferd(inv: EInvoice) -> bytes:
    """A PDF/A-3 invoice with its CII XML (EN 16931 profile) embedded as factur-x.xml."""
    return render_pdf(inv, render_cii(inv, "en16931"))


#: export format -> its renderer
RENDERERS = {"xrechnung": render_xrechnung, "zugferd": render_zugferd}
