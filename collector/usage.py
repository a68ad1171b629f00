"""Usage and exports for the API and the CLI: access rules, the current
period, tariffs, and the ten-year record of every export of a closed period."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .admin import Principal
from .db import Connection, dialect
from .errors import ConflictError, ForbiddenError, NotFoundError, ValidationError
from .metering import export, pricing, quarantine
from .metering.closing import store_export, stored_export
from .metering.invoice_config import InvoiceConfig
from .metering.model import Period, PeriodUsage
from .metering.reading import period_usage
from .metering.tariffs import TariffBook, load_tariffs
from .metering.texts import Lang

if TYPE_CHECKING:
    from .metering.einvoice import EInvoice

__all__ = [
    "EXPORT_FORMATS",
    "Export",
    "archive_format",
    "default_lang",
    "durable_commits",
    "einvoice_drafts",
    "export_period",
    "readable_tenants",
    "tariff_book",
    "usage_document",
]

EXPORT_FORMATS = {"json": "json", "csv": "csv", "focus": "csv", "xrechnung": "xml", "zugferd": "pdf"}
#: e-invoices are German by default (the town hall books them); the others
#: English, as they were before line descriptions had a language
E_INVOICES = frozenset({"xrechnung", "zugferd"})


def default_lang(fmt: str) -> Lang:
    return "de" if fmt in E_INVOICES else "en"


def archive_format(fmt: str, lang: Lang) -> str:
    """The key an export is archived under: its format, with the language
    when it is not the format's default (``csv.de``, ``xrechnung.en``)."""
    return fmt if lang == default_lang(fmt) else f"{fmt}.{lang}"


def tariff_book(path: str) -> TariffBook | None:
    """The configured tariffs, or None when usage is metered but not priced."""
    return load_tariffs(Path(path)) if path else None


def readable_tenants(conn: Connection, principal: Principal, requested: str | None) -> list[str]:
    """Tenants whose usage the token may read, narrowed to `requested`."""
    if principal.role in ("admin", "billing"):
        known = [t for (t,) in conn.execute("SELECT name FROM tenants ORDER BY name")]
        if requested is None:
            return known
        if requested not in known:
            raise NotFoundError(f"unknown tenant {requested!r}")
        return [requested]
    if principal.role == "tenant" and principal.tenant:
        if requested not in (None, principal.tenant):
            raise ForbiddenError(f"token may only read tenant {principal.tenant!r}")
        return [principal.tenant]
    raise ForbiddenError(f"a {principal.role} token may not read usage")


def parse_period(text: str | None, now: float) -> Period:
    if not text:
        return Period.containing(now)
    try:
        return Period.parse(text)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc


def _priced(usage: PeriodUsage, book: TariffBook | None) -> pricing.Invoice:
    return pricing.price(usage, book or TariffBook(versions=()))


def usage_document(conn: Connection, tenant: str, period: Period, book: TariffBook | None) -> dict[str, Any]:
    """The usage of a tenant and period as the API answers it.

    For a closed period this is its (frozen) JSON export, except that the
    quarantine shows what is held for the period now: an entry that arrived
    late, or stayed pending through a forced close, still needs a review
    (released, it becomes an adjustment in the next open period)."""
    usage = period_usage(conn, tenant, period)
    doc = export.usage_document(usage, _priced(usage, book))
    if usage.status == "closed":
        held = [item for _tenant, item in quarantine.items(conn, tenant=tenant, period=str(period))]
        doc["quarantine"] = [export.quarantine_item(item) for item in held]
        doc["quarantine_pending"] = sum(1 for item in held if item.status == "pending")
    return doc


def durable_commits(conn: Connection) -> None:
    """Make every later commit of `conn` reach the disk before it returns.

    An export of a closed period is a billing record kept ten years: it is
    acknowledged only once stored for good, whatever `storage.synchronous`
    says (SQLite's FULL syncs the WAL at each commit; PostgreSQL's commit
    waits for its WAL flush with synchronous_commit on)."""
    if dialect(conn) == "sqlite":
        conn.execute("PRAGMA synchronous=FULL")
    else:
        conn.execute("SET synchronous_commit TO on")


def einvoice_drafts(
    conn: Connection,
    tenants: list[str],
    period: Period,
    fmt: str,
    book: TariffBook | None,
    *,
    lang: Lang | None,
    invoicing: InvoiceConfig,
) -> Iterator[EInvoice]:
    """The e-invoices :func:`export_period` is going to render for ``tenants``,
    one after the other, if nothing changes meanwhile: read only, with the
    numbers not issued yet predicted in that order, each as soon as it is
    built. For rendering ahead; a wrong guess costs only time (export_period
    renders what it builds)."""
    from .metering import einvoice

    lang = lang or default_lang(fmt)
    seq = einvoice.next_seq(conn)
    for tenant in tenants:
        usage = period_usage(conn, tenant, period)
        invoice = _priced(usage, book)
        try:
            einvoice.check_ready(usage, invoice, invoicing)
        except (ConflictError, einvoice.EInvoiceConfigError):
            continue  # export_period says why, when it gets there
        number = einvoice.issued_number(conn, tenant, str(period))
        if number is None:
            number = einvoice.invoice_number(invoicing.number_pattern, tenant, str(period), seq)
            seq += 1
        yield einvoice.build_einvoice(usage, invoice, invoicing, number=number, lang=lang)


@dataclass(frozen=True)
class Export:
    tenant: str
    period: str
    format: str
    content: bytes
    sha256: str
    #: a closed period's export was stored before and this one is identical
    verified: bool
    lang: Lang = "en"
    #: BT-1 of an e-invoice
    invoice_number: str | None = None


def export_period(
    conn: Connection,
    tenant: str,
    period: Period,
    fmt: str,
    book: TariffBook | None,
    *,
    now: float,
    lang: Lang | None = None,
    invoicing: InvoiceConfig | None = None,
    render: Callable[[EInvoice], bytes] | None = None,
) -> Export:
    """Render an export. For a closed period the first export is kept (ten
    years, append-only) and every later one must be byte-identical to it:
    a difference means the tariff file or the code changed what a sent
    invoice says, which is refused rather than silently re-issued.

    ``lang`` is that of the line descriptions (default: German for the
    e-invoices, English for the others); ``invoicing`` the ``[invoice]``
    config the e-invoices need (refused, with every key to set, if it lacks
    something; nothing is rendered or stored then). ``render`` renders an
    e-invoice instead of the format's renderer (the same bytes, made ahead:
    see :mod:`.metering.einvoice.ahead`)."""
    if fmt not in EXPORT_FORMATS:
        raise ValidationError(f"unknown format {fmt!r}; one of: {', '.join(EXPORT_FORMATS)}")
    lang = lang or default_lang(fmt)
    usage = period_usage(conn, tenant, period)
    invoice = _priced(usage, book)
    number = None
    if fmt in E_INVOICES:
        from .metering import einvoice

        config = invoicing or InvoiceConfig()
        einvoice.check_ready(usage, invoice, config)
        number = einvoice.assign_number(conn, tenant, str(period), config.number_pattern, now)
        document = einvoice.build_einvoice(usage, invoice, config, number=number, lang=lang)
        content = (render or einvoice.RENDERERS[fmt])(document)
    elif fmt == "json":
        content = export.render_json(usage, invoice, lang=lang)
    elif fmt == "csv":
        content = export.render_csv(usage, invoice, lang=lang)
    else:
        content = export.render_focus(usage, invoice, lang=lang)
    digest = hashlib.sha256(content).hexdigest()
    verified = False
    key = archive_format(fmt, lang)
    if usage.status == "closed":
        stored = stored_export(conn, tenant, str(period), key)
        if stored is None:
            store_export(conn, tenant, str(period), key, digest, content, now)
        elif stored[0] != digest:
            raise ConflictError(
                f"export of closed period {period} for {tenant} ({key}) differs from the one issued before",
                [
                    f"issued: sha256 {stored[0]}",
                    f"now:    sha256 {digest}",
                    "did the tariff file (or, for an e-invoice, the [invoice] config) change for that period?",
                ],
            )
        else:
            verified = True
    return Export(tenant, str(period), fmt, content, digest, verified, lang, number)
