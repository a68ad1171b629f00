"""The invoice as UN/CEFACT CII XML, built with drafthorse.

drafthorse models the CII data model 1:1; what it serializes is checked
against the Factur-X EN 16931 XSD it ships (parsed once per process), so a field in the wrong place fails here,
not at the town hall's inbox. The business terms (BT-/BG-) named below are
EN 16931's; the XRechnung rules (BR-DE-*) ask for the seller contact, the
Leitweg-ID as buyer reference, both electronic addresses and payment
instructions.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from pathlib import Path

import drafthorse
from drafthorse.models.accounting import ApplicableTradeTax
from drafthorse.models.document import Document
from drafthorse.models.note import IncludedNote
from drafthorse.models.party import TaxRegistration
from drafthorse.models.payment import PaymentMeans, PaymentTerms
from drafthorse.models.tradelines import LineItem
from lxml import etree

from .model import EInvoice, Party

__all__ = ["render_cii"]

#: BT-24 specification identifiers
GUIDELINES = {
    "xrechnung": "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0",
    "en16931": "urn:cen.eu:en16931:2017",
}
#: BT-23, as XRechnung's own examples set it
BUSINESS_PROCESS = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
_SEPA_CREDIT_TRANSFER = "58"
_COMMERCIAL_INVOICE = "380"


@functools.cache
def _schema() -> etree.XMLSchema:
    # drafthorse parses the XSD (dozens of files) on every serialize(schema=...):
    # most of an XRechnung's time. Parsed once per process, it checks every invoice the same.
    xsd = Path(drafthorse.__file__).parent / "schema" / "Factur-X_1.0.07_EN16931.xsd"
    return etree.XMLSchema(file=str(xsd))


def _dec(value: Decimal) -> Decimal:
    # drafthorse writes str(value): never let an exponent (1E+1) reach the XML
    return Decimal(format(value, "f"))


def _party(target: object, party: Party, *, with_vat_id: bool) -> None:
    if party.id:
        target.id = party.id  # type: ignore[attr-defined]
    target.name = party.name  # type: ignore[attr-defined]
    address = target.address  # type: ignore[attr-defined]
    address.postcode = party.postcode
    address.line_one = party.street
    address.city_name = party.city
    address.country_id = party.country
    target.electronic_address.uri_ID = (party.electronic_scheme, party.electronic_address)  # type: ignore[attr-defined]
    if with_vat_id and party.vat_id:
        target.tax_registrations.add(TaxRegistration(id=("VA", party.vat_id)))  # type: ignore[attr-defined]
    if party.tax_number:
        target.tax_registrations.add(TaxRegistration(id=("FC", party.tax_number)))  # type: ignore[attr-defined]


def render_cii(inv: EInvoice, profile: str) -> bytes:
    """The CII XML of ``inv``; ``profile`` is ``xrechnung`` or ``en16931`` (ZUGFeRD)."""
    doc = Document()
    doc.context.business_parameter.id = BUSINESS_PROCESS
    doc.context.guideline_parameter.id = GUIDELINES[profile]
    doc.header.id = inv.number
    doc.header.type_code = _COMMERCIAL_INVOICE
    doc.header.issue_date_time = inv.issue_date
    for text in inv.notes:
        doc.header.notes.add(IncludedNote(content=text))

    agreement = doc.trade.agreement
    agreement.buyer_reference = inv.buyer.leitweg_id
    # BR-O-2: an invoice outside the scope of VAT carries no VAT identifiers
    with_vat_id = inv.vat.category != "O"
    _party(agreement.seller, inv.seller, with_vat_id=with_vat_id)
    contact = agreement.seller.contact
    contact.person_name = inv.seller.contact_name
    contact.telephone.number = inv.seller.contact_phone
    contact.email.address = inv.seller.contact_email
    _party(agreement.buyer, inv.buyer, with_vat_id=with_vat_id)
    if inv.buyer.order_reference:
        agreement.buyer_order.issuer_assigned_id = inv.buyer.order_reference

    for line in inv.lines:
        item = LineItem()
        item.document.line_id = str(line.id)
        for text in line.notes:
            item.document.notes.add(IncludedNote(content=text))
        item.product.seller_assigned_id = line.sku
        item.product.name = line.name
        item.agreement.net.amount = _dec(line.unit_price)
        item.delivery.billed_quantity = (_dec(line.quantity), line.unit_code)
        item.settlement.trade_tax.type_code = "VAT"
        item.settlement.trade_tax.category_code = inv.vat.category
        if inv.vat.category != "O":  # BR-O-5: no rate where VAT does not apply
            item.settlement.trade_tax.rate_applicable_percent = _dec(inv.vat.percent)
        item.settlement.period.start = line.start
        item.settlement.period.end = line.end
        item.settlement.monetary_summation.total_amount = _dec(line.amount)
        doc.trade.items.add(item)

    settlement = doc.trade.settlement
    settlement.currency_code = inv.currency
    means = PaymentMeans()
    means.type_code = _SEPA_CREDIT_TRANSFER
    means.payee_account.iban = inv.seller.iban
    if inv.seller.bic:
        means.payee_institution.bic = inv.seller.bic
    settlement.payment_means.add(means)

    tax = ApplicableTradeTax()
    tax.calculated_amount = _dec(inv.vat_total)
    tax.type_code = "VAT"
    if inv.vat.reason:
        tax.exemption_reason = inv.vat.reason
    tax.basis_amount = _dec(inv.net)
    tax.category_code = inv.vat.category
    if inv.vat.code:
        tax.exemption_reason_code = inv.vat.code
    # BR-DE-14 wants BT-119 even where VAT does not apply (0 then)
    tax.rate_applicable_percent = _dec(inv.vat.percent)
    settlement.trade_tax.add(tax)

    settlement.period.start = inv.period_start
    settlement.period.end = inv.period_end
    settlement.terms.add(PaymentTerms(description=inv.payment_terms, due=inv.due_date))

    totals = settlement.monetary_summation
    totals.line_total = _dec(inv.net)
    totals.tax_basis_total = (_dec(inv.net), None)
    totals.tax_total = (_dec(inv.vat_total), inv.currency)
    totals.grand_total = (_dec(inv.total), None)
    totals.due_amount = _dec(inv.total)
    xml: bytes = doc.serialize(schema=None)
    _schema().assertValid(etree.fromstring(xml))
    return xml
