"""Invoice parties and a small priced month for the e-invoice tests and the benchmark."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import msgspec

from collector.metering.invoice_config import InvoiceConfig
from collector.metering.model import Adjustment, MeterTotal, Period, PeriodUsage, SubjectTotal
from collector.metering.pricing import Invoice, price
from collector.metering.tariffs import TariffBook, load_tariffs

LEITWEG = "04011000-1234512345-06"

SELLER = """
[invoice.seller]
name = "Kommunale Datenverarbeitung Oldenburg"
street = "Elsässer Straße 66"
postcode = "26121"
city = "Oldenburg"
country = "DE"
vat_id = "DE136695976"
contact_name = "Rechnungsstelle KDO"
contact_phone = "+49 441 97353-0"
contact_email = "rechnung@kdo.example"
iban = "DE02120300000000202051"
bic = "BYLADEM1001"
payment_days = 30
electronic_address = "rechnung@kdo.example"
"""

BUYER = f"""
[invoice.buyers.stadt-lohne]
name = "Stadt Lohne (Oldenburg)"
street = "Vogtstraße 26"
postcode = "49393"
city = "Lohne (Oldenburg)"
leitweg_id = "{LEITWEG}"
order_reference = "BANF-2026-0815"
"""

CONFIG = '[invoice]\nnumber_pattern = "KDO-{year}-{seq:05d}"\n' + SELLER + BUYER


def invoice_config(text: str = CONFIG) -> InvoiceConfig:
    return msgspec.convert(tomllib.loads(text)["invoice"], InvoiceConfig)


TARIFFS = """
[[tariff]]
valid_from = "2026-01"
vat_percent = 19
[tariff.prices]
cpu_core_seconds = "0.0001"
memory_gib_hours = "0.005"
printed_pages_mono = "0.02"
workplace_days = "1.50"
[tariff.prices.host_hours]
server = "0.05"
[tariff.included]
memory_gib_hours = "100"
[tariff.flat]
workplace_month = "10.00"
[tariff.flat.host_month]
server = "25.00"
"""


def tariff_book(tmp: Path, text: str = TARIFFS) -> TariffBook:
    path = tmp / "tariffs.toml"
    path.write_text(text)
    return load_tariffs(path)


NOV = Period(2026, 11)


def month(tenant: str = "stadt-lohne", *, adjustments: bool = False, closed: bool = True) -> PeriodUsage:
    """A small closed month: a server, a thin client, a printer."""
    gib_h = 2**20 * 3600
    meters = [
        MeterTotal("cpu_core_seconds", "", 1_352_550 * 10**6),
        MeterTotal("memory_gib_hours", "", 3207 * gib_h),
        MeterTotal("printed_pages_mono", "", 7180),
        MeterTotal("workplace_days", "", 21),
        MeterTotal("host_hours", "server", 717_750 * 3600),
    ]
    subjects = [
        SubjectTotal("host", "srv-1", "rathaus-srv-1", "cpu_core_seconds", "", 1_000_000 * 10**6),
        SubjectTotal("host", "tc-1", "rathaus-tc-1", "workplace_days", "", 21),
        SubjectTotal("host", "srv-1", "rathaus-srv-1", "host_hours", "server", 717_750 * 3600),
    ]
    adj = (
        [
            Adjustment("2026-10", "cpu_core_seconds", "", "srv-1", 5400 * 10**6, "2026-11-03"),
            Adjustment("2026-10", "printed_pages_mono", "", "prn-1", 120, "2026-11-03"),
        ]
        if adjustments
        else []
    )
    return PeriodUsage(
        tenant=tenant,
        period=str(NOV),
        status="closed" if closed else "open",
        closed_at=NOV.end_ts + 3 * 86400 if closed else None,
        meters=meters,
        subjects=subjects,
        adjustments=adj,
        coverage={},
        gaps=[],
        hosts_by_role={"server": 1, "thin-client": 1},
        workplaces=1,
    )


def flat_only(usage: PeriodUsage) -> PeriodUsage:
    return replace(usage, meters=[], subjects=[])


def priced(usage: PeriodUsage, book: TariffBook) -> Invoice:
    return price(usage, book)


VALIDATOR = Path(__file__).resolve().parents[3] / ".." / "shared" / "einvoice" / "validate"


def validator() -> Path | None:
    """../shared/einvoice/validate, if this checkout has it next to it."""
    path = VALIDATOR.resolve()
    return path if path.exists() else None


def validate(path: Path, *, xrechnung: bool = True) -> subprocess.CompletedProcess[str]:
    tool = validator()
    assert tool is not None
    args = [sys.executable, str(tool), "--json", *(() if xrechnung else ("--no-xrechnung",)), str(path)]
    return subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)


__all__ = ["CONFIG", "LEITWEG", "NOV", "Decimal", "shutil"]
