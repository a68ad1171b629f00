"""`leitstand-collector meter ...`: periods, close, export, and the review of
the quarantine (`meter anomalies`)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import admin
from ..config import Config
from ..db import Connection, transaction
from ..errors import ConflictError
from ..progress import Progress
from ..timefmt import when as _when
from . import export, ledger, quarantine, review
from .ledger import MeteringSettings

if TYPE_CHECKING:
    from .einvoice import EInvoice
    from .model import Period
    from .tariffs import TariffBook

__all__ = ["add_parser", "run", "write_durable"]

AddDb = Callable[[argparse.ArgumentParser], None]
#: from this many tenants on, --all renders ZUGFeRD invoices ahead in worker processes:
#: starting them (about a second of CPU) pays off from about there on 2 cores, never for
#: XRechnung (some 5 ms each, no more than it costs to ship one to a worker)
AHEAD_MIN = 100


def _jobs(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"--jobs must be a whole number of processes, 1 or more, not {text!r}")
    return int(text)


def add_parser(sub: Any, add_db: AddDb) -> None:
    meter = sub.add_parser(
        "meter",
        help="metering: close billing periods, export usage, review quarantined quantities",
        description="Billing periods are calendar months in Europe/Berlin (YYYY-MM).",
    )
    msub = meter.add_subparsers(dest="action", required=True, metavar="ACTION")
    m_close = msub.add_parser(
        "close", help="freeze a past period; later data becomes an adjustment in the next open period"
    )
    m_close.add_argument("--period", required=True, help="YYYY-MM, e.g. 2026-11")
    m_close.add_argument("--tenant", help="one tenant (default: all)")
    m_close.add_argument(
        "--force", action="store_true", help="close even with unreviewed quarantine entries (they stay pending)"
    )
    m_close.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    add_db(m_close)
    m_export = msub.add_parser(
        "export",
        help="export invoice lines, per-host detail and coverage, with a SHA-256 next to the file",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  leitstand-collector meter export --tenant stadt-lohne --period 2026-11 --format csv --out lohne.csv\n"
        "  leitstand-collector meter export --all --period 2026-11 --format focus --out exports/\n"
        "  leitstand-collector meter export --tenant stadt-lohne --period 2026-11 --format xrechnung --out re.xml\n"
        "  leitstand-collector meter export --tenant stadt-lohne --period 2026-11 --format zugferd --out re.pdf\n"
        "\nxrechnung and zugferd are e-invoices of a closed month; they need the [invoice] config\n"
        "(seller, and a buyer with its Leitweg-ID per tenant; see `check-config`).",
    )
    who = m_export.add_mutually_exclusive_group(required=True)
    who.add_argument("--tenant", help="one tenant")
    who.add_argument("--all", action="store_true", help="every tenant, one file each")
    m_export.add_argument("--period", required=True, help="YYYY-MM")
    m_export.add_argument("--format", choices=["csv", "json", "focus", "xrechnung", "zugferd"], default="csv")
    m_export.add_argument(
        "--lang",
        choices=["de", "en"],
        help="language of the line descriptions (default: de for xrechnung/zugferd, en for the others)",
    )
    m_export.add_argument(
        "--out", type=Path, help="file (one tenant) or directory (--all); default: stdout / current directory"
    )
    m_export.add_argument(
        "--force", action="store_true", help="overwrite export files that exist with a different content"
    )
    m_export.add_argument(
        "--jobs",
        type=_jobs,
        metavar="N",
        help=f"processes rendering e-invoices of --all ahead (default for zugferd: one per CPU from {AHEAD_MIN} "
        "tenants on, else 1: none); archive and invoice numbers stay in this process",
    )
    m_export.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    add_db(m_export)
    m_periods = msub.add_parser("periods", help="list periods with data, open or closed")
    m_periods.add_argument("--tenant", help="one tenant (default: all)")
    add_db(m_periods)

    m_anom = msub.add_parser(
        "anomalies",
        help="quantities held back by plausibility checks: list, release or dismiss",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Implausible quantities are not billed: they wait here for a billing operator's review.",
        epilog="examples:\n"
        "  leitstand-collector meter anomalies --tenant stadt-lohne --period 2026-11\n"
        '  leitstand-collector meter anomalies release 3f9a1c0b7d2e --reason "Drucker getauscht, Zähler geprüft"\n'
        '  leitstand-collector meter anomalies dismiss 3f9a1c0b7d2e --reason "Agent meldete Unsinn"',
    )
    m_anom.add_argument("--tenant", help="one tenant (default: all)")
    m_anom.add_argument("--period", help="YYYY-MM (default: all)")
    m_anom.add_argument(
        "--status",
        choices=[*quarantine.STATUSES, "all"],
        default="pending",
        help="which entries (default: pending)",
    )
    m_anom.add_argument("--json", action="store_true", help="print JSON")
    add_db(m_anom)
    asub = m_anom.add_subparsers(dest="review", metavar="ACTION")
    for name, text in (
        ("release", "book a pending entry as measured (an adjustment if its period is closed)"),
        ("dismiss", "close a pending entry without booking anything"),
    ):
        r = asub.add_parser(name, help=text)
        r.add_argument("id", help="entry id as listed")
        r.add_argument("--reason", required=True, help="why (written to the audit log with who decided)")
        add_db(r)


def run(args: argparse.Namespace, conn: Connection, config: Config, actor: str) -> int:
    from ..paths import default_config_path
    from ..usage import EXPORT_FORMATS, default_lang, durable_commits, export_period, parse_period, tariff_book
    from .invoice_config import EInvoiceConfigError, missing

    now = time.time()
    if args.action == "periods":
        rows = [
            [str(p["tenant"]), str(p["period"]), str(p["status"]), _when(p["closed_at"]), str(p["closed_by"] or "-")]
            for p in ledger.list_periods(conn, args.tenant)
        ]
        print(_table(rows, ["TENANT", "PERIOD", "STATUS", "CLOSED", "BY"]) if rows else "no metered periods yet")
        return 0
    if args.action == "anomalies":
        return _anomalies(args, conn, config, actor, now)
    period = parse_period(args.period, now)
    if args.action == "close":
        count = 1 if args.tenant else len(admin.list_tenants(conn))
        progress = Progress(f"closing {period}", count, quiet=args.quiet or count < 2)
        closed = ledger.close_period(
            conn, period, actor=actor, now=now, tenant=args.tenant, force=args.force, on_tenant=progress.step
        )
        for tenant in closed:
            print(f"closed {period} for {tenant}")
        if not closed:
            print(f"{period} was already closed for every tenant")
        return 0
    book = tariff_book(config.metering.tariffs)
    tenants = [args.tenant] if args.tenant else [str(t["name"]) for t in admin.list_tenants(conn)]
    out: Path | None = args.out
    if args.all:
        out = out or Path.cwd()
        out.mkdir(parents=True, exist_ok=True)
    where = str(getattr(args, "config", None) or default_config_path())
    if args.format in ("xrechnung", "zugferd"):
        # every tenant's parties before the first file is written
        for tenant in tenants:
            if keys := missing(config.invoice, tenant):
                raise EInvoiceConfigError(tenant, keys, where=where)
    suffix = f".{args.lang}" if args.lang and args.lang != default_lang(args.format) else ""
    targets = {t: _target(out, t, period, args.format, EXPORT_FORMATS, every=args.all, suffix=suffix) for t in tenants}
    if not args.force:
        _refuse_overwrite(targets.values())
    durable_commits(conn)  # a closed period's first export is the record kept ten years
    with contextlib.ExitStack() as stack:
        render = None
        if args.format in ("xrechnung", "zugferd"):
            render = _rendered_ahead(args, conn, config, tenants, period, book, stack)
        progress = Progress(f"exporting {period}", len(tenants), quiet=args.quiet or len(tenants) < 2)
        for tenant in tenants:
            progress.step(tenant)
            with transaction(conn):
                try:
                    result = export_period(
                        conn,
                        tenant,
                        period,
                        args.format,
                        book,
                        now=now,
                        lang=args.lang,
                        invoicing=config.invoice,
                        render=render,
                    )
                except EInvoiceConfigError as exc:
                    raise EInvoiceConfigError(tenant, exc.keys, where=where) from None
            target = targets[tenant]
            if target is None:
                sys.stdout.buffer.write(result.content)
                sys.stdout.buffer.flush()
                print(f"sha256 {result.sha256}", file=sys.stderr)
                continue
            write_durable(target, result.content)
            write_durable(target.with_name(target.name + ".sha256"), f"{result.sha256}  {target.name}\n".encode())
            note = ", identical to the export issued before" if result.verified else ""
            note += f", invoice {result.invoice_number}" if result.invoice_number else ""
            print(
                f"{tenant}: {target} ({len(result.content)} bytes, sha256 {result.sha256[:16]}…{note})",
                file=sys.stderr,
            )
    return 0


def _rendered_ahead(
    args: argparse.Namespace,
    conn: Connection,
    config: Config,
    tenants: list[str],
    period: Period,
    book: TariffBook | None,
    stack: contextlib.ExitStack,
) -> Callable[[EInvoice], bytes] | None:
    """The e-invoices of --all rendered ahead in worker processes (``--jobs``),
    or None to render each in the loop: one tenant, one CPU, XRechnung, or
    too few tenants to pay for starting the workers."""
    from ..usage import einvoice_drafts
    from .einvoice import RENDERERS
    from .einvoice.ahead import RenderedAhead, usable_cpus

    jobs = args.jobs or (usable_cpus() if args.format == "zugferd" and len(tenants) >= AHEAD_MIN else 1)
    if jobs < 2 or len(tenants) < 2:
        return None
    drafts = einvoice_drafts(conn, tenants, period, args.format, book, lang=args.lang, invoicing=config.invoice)
    return stack.enter_context(RenderedAhead(RENDERERS[args.format], drafts, jobs))


def _target(
    out: Path | None, tenant: str, period: object, fmt: str, exts: dict[str, str], *, every: bool, suffix: str = ""
) -> Path | None:
    if not every:
        return out
    assert out is not None  # --all defaults to the current directory
    return out / f"{tenant}-{period}-{fmt}{suffix}.{exts[fmt]}"


def _refuse_overwrite(targets: Iterable[Path | None]) -> None:
    """An export file is a billing record: never replace one silently. Checked
    for every tenant before anything is written, so a refusal leaves no half-done --all."""
    existing = [str(t) for t in targets if t is not None and t.exists()]
    if existing:
        more = " ..." if len(existing) > 5 else ""
        raise ConflictError(
            f"{len(existing)} export file(s) exist already: {', '.join(existing[:5])}{more}",
            ["choose another --out, or replace them with --force (the .sha256 files next to them are rewritten too)"],
        )


def _anomalies(args: argparse.Namespace, conn: Connection, config: Config, actor: str, now: float) -> int:
    from ..usage import parse_period

    if args.review in ("release", "dismiss"):
        if args.review == "release":
            settings = MeteringSettings(limits=config.metering.plausibility_limits())
            item = review.release(conn, args.id, actor=actor, reason=args.reason, now=now, settings=settings)
            print(f"released {item.id}: {item.quantity} {_unit(item.meter)} {item.meter} booked for {item.subject}")
        else:
            item = review.dismiss(conn, args.id, actor=actor, reason=args.reason, now=now)
            print(f"dismissed {item.id}: nothing booked")
        return 0
    period = str(parse_period(args.period, now)) if args.period else None
    statuses = quarantine.STATUSES if args.status == "all" else (args.status,)
    found = quarantine.items(conn, tenant=args.tenant, period=period, statuses=statuses)
    if args.json:
        docs = [{"tenant": tenant, "period": item.period, **export.quarantine_item(item)} for tenant, item in found]
        print(json.dumps(docs, indent=2, ensure_ascii=False))
        return 0
    if not found:
        print(f"no {args.status if args.status != 'all' else ''} quarantine entries".replace("  ", " "))
        return 0
    rows = []
    for tenant, item in found:
        doc = export.quarantine_item(item)
        rows.append(
            [
                item.id,
                tenant,
                item.period,
                item.status,
                item.rule,
                f"{item.subject_kind}:{_safe(item.subject_name)}",
                item.meter + (f"/{item.dim}" if item.dim else ""),
                f"{doc['quantity']} {doc['unit']}",
                f"{doc['start']}..{doc['end']}",
                _safe(item.evidence),
            ]
        )
    header = ["ID", "TENANT", "PERIOD", "STATUS", "RULE", "SUBJECT", "METER", "QUANTITY", "SPAN", "EVIDENCE"]
    print(_table(rows, header))
    return 0


def write_durable(path: Path, data: bytes) -> None:
    """Write a file atomically and durably: the data and the rename are on
    disk (file and directory fsynced) before this returns, so an export
    that was acknowledged survives a power loss."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unit(meter: str) -> str:
    from .model import METERS

    return METERS[meter].unit if meter in METERS else ""


def _safe(text: str) -> str:
    """Agent data as one line of plain text in a terminal (no control sequences)."""
    return "".join(c if c.isprintable() else "?" for c in text)


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows]]
    return "\n".join(lines)
