"""The ``[invoice]`` section: who sends and who receives an e-invoice.

Loaded as part of the collector's config (:mod:`collector.config`). Every key
may be left out, so a collector that only meters loads as before; what is
*set* is checked strictly at load time (Leitweg-ID check digits, VAT id,
IBAN and BIC check digits, e-mail shape, the invoice number pattern), with the
file and line. What an e-invoice still *needs* is reported per tenant by
:func:`missing` (``check-config`` prints it; ``meter export --format
xrechnung|zugferd`` refuses with it before any file is written).

Identifiers are checked with python-stdnum (Leitweg-ID ``de.leitweg``, VAT
ids ``eu.vat``, German tax numbers ``de.stnr``, ``iban``, ``bic``): one
maintained library for every number the e-invoice carries.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Annotated, Literal

import msgspec
from stdnum import bic as std_bic
from stdnum import iban as std_iban
from stdnum.de import leitweg, stnr
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError as NumberError

from agent.wire import find_key_line

from ..errors import ConfigError, ValidationError
from .tariffs import TENANT_PATTERN

__all__ = [
    "DEFAULT_NUMBER_PATTERN",
    "SECTION_2B_REASON",
    "BuyerConfig",
    "EInvoiceConfigError",
    "InvoiceConfig",
    "SellerConfig",
    "invoice_problems",
    "missing",
]

#: BT-1: stable (a function of tenant and period, or the sequence number
#: assigned once) and unique (see :func:`_pattern_problem`).
DEFAULT_NUMBER_PATTERN = "LS-{period}-{tenant}"
#: BT-120 for the public-sector case: a legal person under public law acting
#: as a public authority is no entrepreneur (§ 2b UStG), so the service is not
#: subject to VAT (EN 16931 category O).
SECTION_2B_REASON = (
    "Nicht steuerbar: Leistung einer juristischen Person des öffentlichen Rechts "
    "im Rahmen der öffentlichen Gewalt (§ 2b UStG)"
)

Text = Annotated[str, msgspec.Meta(max_length=200)]
Country = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$")]
Scheme = Annotated[str, msgspec.Meta(pattern=r"^([0-9]{4}|EM)?$")]
_PLACEHOLDERS = frozenset({"tenant", "period", "year", "month", "seq"})


class _Section(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class SellerConfig(_Section):
    """The IT provider that issues the invoices (EN 16931 BG-4, BG-6, BG-16)."""

    name: Text = ""
    street: Text = ""
    postcode: Text = ""
    city: Text = ""
    country: Country = "DE"
    #: BT-29, e.g. your creditor number at the buyers or a GLN; needed where the
    #: service is not subject to VAT (category O carries no VAT id: BR-O-2, BR-CO-26)
    seller_id: Text = ""
    #: BT-31, e.g. DE123456789; or tax_number (BT-32) where there is none
    vat_id: Text = ""
    tax_number: Text = ""
    contact_name: Text = ""
    contact_phone: Text = ""
    contact_email: Text = ""
    iban: Text = ""
    bic: Text = ""
    #: days from the issue date (the close date) to the due date
    payment_days: Annotated[int, msgspec.Meta(ge=0, le=365)] = 30
    #: BT-34: an e-mail address, or an id of electronic_address_scheme
    electronic_address: Text = ""
    #: EAS code of BT-34 (EM: e-mail; 0204: Leitweg-ID; 9930: German VAT id); empty: EM
    electronic_address_scheme: Scheme = ""


class BuyerConfig(_Section):
    """A member municipality that receives a tenant's invoices (BG-7)."""

    name: Text = ""
    street: Text = ""
    postcode: Text = ""
    city: Text = ""
    country: Country = "DE"
    #: BT-10 Buyer reference, checked with its check digits (e.g. 04011000-1234512345-06)
    leitweg_id: Text = ""
    #: BT-49; empty: the Leitweg-ID (scheme 0204), as XRechnung recommends for public buyers
    electronic_address: Text = ""
    electronic_address_scheme: Scheme = ""
    #: BT-13, the buyer's order reference, if they gave one
    order_reference: Text = ""
    #: BT-48, if the buyer has one
    vat_id: Text = ""
    #: VAT category when the tariff's vat_percent is 0: O = not subject to VAT (e.g. § 2b UStG),
    #: E = exempt (give the reason)
    vat_category: Literal["", "O", "E"] = ""
    #: BT-120; default for O: the § 2b UStG text
    vat_exemption_reason: Text = ""
    #: BT-121, e.g. VATEX-EU-O
    vat_exemption_code: Annotated[str, msgspec.Meta(pattern=r"^(VATEX-[A-Z0-9-]{2,30})?$")] = ""


class InvoiceConfig(_Section):
    #: BT-1 pattern: {tenant} {period} {year} {month} {seq} (a number assigned once per
    #: tenant and period, e.g. {seq:05d}); needs {seq}, or {tenant} and the period
    number_pattern: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] = DEFAULT_NUMBER_PATTERN
    seller: SellerConfig = msgspec.field(default_factory=SellerConfig)
    buyers: dict[Annotated[str, msgspec.Meta(pattern=TENANT_PATTERN)], BuyerConfig] = {}

    def is_configured(self) -> bool:
        return bool(self.buyers) or self.seller != SellerConfig()


# --- strict checks of what is set ---------------------------------------------


def _check(module: object, value: str) -> str | None:
    try:
        module.validate(value)  # type: ignore[attr-defined]
    except NumberError as exc:
        return str(exc) or type(exc).__name__
    return None


def _vat_problem(value: str) -> str | None:
    problem = _check(eu_vat, value)
    return f"not a valid VAT id ({problem}), e.g. DE123456789" if problem else None


def _email_problem(value: str) -> str | None:
    local, at, domain = value.partition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in value):
        return "not an e-mail address"
    return None


def _pattern_problem(pattern: str) -> str | None:
    try:
        fields = [name for _text, name, _spec, _conv in string.Formatter().parse(pattern) if name is not None]
    except ValueError as exc:
        return f"not a valid pattern: {exc}"
    unknown = sorted(set(fields) - _PLACEHOLDERS)
    if unknown:
        return f"unknown placeholder {{{unknown[0]}}}; use {', '.join('{' + p + '}' for p in sorted(_PLACEHOLDERS))}"
    names = set(fields)
    unique = "seq" in names or ("tenant" in names and ("period" in names or {"year", "month"} <= names))
    if not unique:
        return "must contain {seq}, or {tenant} and {period} (or {year} and {month}), so every number is unique"
    try:
        pattern.format(tenant="t", period="2026-11", year=2026, month=11, seq=1)
    except (ValueError, KeyError, IndexError) as exc:
        return f"not a valid pattern: {exc}"
    return None


def _party_problems(prefix: tuple[str, ...], party: SellerConfig | BuyerConfig) -> list[tuple[tuple[str, ...], str]]:
    out: list[tuple[tuple[str, ...], str]] = []
    if party.vat_id and (problem := _vat_problem(party.vat_id)):
        out.append(((*prefix, "vat_id"), problem))
    scheme = party.electronic_address_scheme or ("EM" if "@" in party.electronic_address else "")
    if party.electronic_address and scheme == "EM" and (problem := _email_problem(party.electronic_address)):
        out.append(((*prefix, "electronic_address"), problem))
    if party.electronic_address and not scheme:
        out.append(((*prefix, "electronic_address_scheme"), "set the EAS code of electronic_address (not an e-mail)"))
    if isinstance(party, SellerConfig):
        if party.tax_number and party.country == "DE" and (problem := _check(stnr, party.tax_number)):
            out.append(((*prefix, "tax_number"), f"not a valid German tax number ({problem})"))
        if party.iban and (problem := _check(std_iban, party.iban)):
            out.append(((*prefix, "iban"), f"not a valid IBAN ({problem})"))
        if party.bic and (problem := _check(std_bic, party.bic)):
            out.append(((*prefix, "bic"), f"not a valid BIC ({problem})"))
        if party.contact_email and (problem := _email_problem(party.contact_email)):
            out.append(((*prefix, "contact_email"), problem))
    else:
        if party.leitweg_id and (problem := _check(leitweg, party.leitweg_id)):
            out.append(((*prefix, "leitweg_id"), f"not a valid Leitweg-ID ({problem}; its last two digits check it)"))
        if party.vat_category == "E" and not party.vat_exemption_reason:
            out.append(((*prefix, "vat_exemption_reason"), 'vat_category "E" needs the exemption reason'))
    return out


def invoice_problems(invoice: InvoiceConfig, path: Path, text: str) -> None:
    """Raise ConfigError (file:line: key: reason) for the first malformed value set."""
    problems: list[tuple[tuple[str, ...], str]] = []
    if problem := _pattern_problem(invoice.number_pattern):
        problems.append((("invoice", "number_pattern"), problem))
    problems += _party_problems(("invoice", "seller"), invoice.seller)
    for tenant in sorted(invoice.buyers):
        problems += _party_problems(("invoice", "buyers", tenant), invoice.buyers[tenant])
    if problems:
        keys, message = problems[0]
        line = find_key_line(text, keys[:-1], keys[-1]) or find_key_line(text, keys[:-2], keys[-2])
        where = f"{path}:{line}" if line else str(path)
        raise ConfigError(f"{where}: {'.'.join(keys)}: {message}")


# --- what an e-invoice still needs ---------------------------------------------


class EInvoiceConfigError(ValidationError):
    """The config lacks what an e-invoice must carry; ``keys`` names each key to set."""

    def __init__(self, tenant: str, keys: list[str], *, where: str = "") -> None:
        place = f" {where}" if where else ""
        super().__init__(f"cannot issue an e-invoice to {tenant}: set in the collector config{place}:", keys)
        self.tenant = tenant
        self.keys = keys


_SELLER_REQUIRED = (
    "name",
    "street",
    "postcode",
    "city",
    "contact_name",
    "contact_phone",
    "contact_email",
    "iban",
    "electronic_address",
)
_BUYER_REQUIRED = ("name", "street", "postcode", "city", "leitweg_id")


def missing(invoice: InvoiceConfig, tenant: str, *, vat_percent_zero: bool = False) -> list[str]:
    """Keys (``invoice.seller.iban``) an e-invoice to ``tenant`` still needs, in file order."""
    seller = invoice.seller
    out = [f"invoice.seller.{key}" for key in _SELLER_REQUIRED if not getattr(seller, key)]
    if not seller.vat_id and not seller.tax_number:
        out.append("invoice.seller.vat_id (or invoice.seller.tax_number)")
    buyer = invoice.buyers.get(tenant)
    if buyer is None:
        return [*out, f"invoice.buyers.{tenant} (the table: {', '.join(_BUYER_REQUIRED)})"]
    out += [f"invoice.buyers.{tenant}.{key}" for key in _BUYER_REQUIRED if not getattr(buyer, key)]
    if vat_percent_zero and not buyer.vat_category:
        out.append(f'invoice.buyers.{tenant}.vat_category (the tariff has no VAT: "O" e.g. § 2b UStG, or "E")')
    if vat_percent_zero and buyer.vat_category == "O" and not seller.seller_id:
        out.append("invoice.seller.seller_id (not subject to VAT: the seller is identified without a VAT id)")
    return out
