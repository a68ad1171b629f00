"""Invoice line descriptions in German and English, for every export format.

:func:`describe` rebuilds a line's description from what the line is (kind,
meter, role, the period an adjustment belongs to, whether it has a price), so
a description never depends on the language pricing happened to use. English
is what :mod:`.pricing` writes (and what exports have always carried); German
is the default of the e-invoices a German town hall books.
"""

from __future__ import annotations

import unicodedata
from typing import Literal

from .model import METERS
from .pricing import InvoiceLine

__all__ = ["LANGS", "Lang", "ascii_text", "describe"]

Lang = Literal["de", "en"]
LANGS: tuple[Lang, ...] = ("de", "en")

_METERS_DE = {
    "cpu_core_seconds": "CPU-Kernsekunden (Rechenzeit)",
    "memory_gib_hours": "belegter Arbeitsspeicher × Zeit",
    "storage_gib_hours": "belegter Plattenplatz × Zeit",
    "network_gib": "Netzwerkverkehr, empfangen und gesendet",
    "printed_pages": "gedruckte Seiten",
    "printed_pages_mono": "gedruckte Seiten, schwarz-weiß",
    "printed_pages_color": "gedruckte Seiten, farbig",
    "workplace_days": "Thin-Client-Arbeitsplatztage mit Sitzung",
    "host_hours": "Stunden, die ein Host gemeldet hat",
}
_WORDS = {
    "de": {
        "role": "Rolle",
        "no_price": "ohne Preis im Tarif",
        "late": "Nachtrag für",
        "flat_workplace": "Pauschale je Arbeitsplatz und Monat",
        "flat_host": "Pauschale je Host und Monat",
        "vat": "USt.",
    },
    "en": {
        "role": "role",
        "no_price": "no price in the tariff",
        "late": "late data for",
        "flat_workplace": "flat rate per workplace and month",
        "flat_host": "flat rate per host and month",
        "vat": "VAT",
    },
}


def _meter(meter: str, dim: str, lang: Lang) -> str:
    text = _METERS_DE.get(meter, meter) if lang == "de" else METERS[meter].description if meter in METERS else meter
    return f"{text}, {_WORDS[lang]['role']} {dim}" if dim else text


def describe(line: InvoiceLine, lang: Lang) -> str:
    """The line's description in ``lang`` (for ``en`` the one pricing wrote)."""
    words = _WORDS[lang]
    if line.kind == "vat":
        rate = format((line.unit_price or 0) * 100, "f").rstrip("0").rstrip(".") if line.unit_price else "0"
        return f"{words['vat']} {rate.replace('.', ',') if lang == 'de' else rate} %"
    if line.kind == "flat":
        text = words["flat_workplace"] if line.meter == "workplace_month" else words["flat_host"]
        return f"{text}, {words['role']} {line.dim}" if line.dim else text
    text = _meter(line.meter, line.dim, lang)
    if line.kind == "adjustment":
        text = f"{text}: {words['late']} {line.period}"
    return text if line.unit_price is not None else f"{text} ({words['no_price']})"


_ASCII = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss", "×": "x", "·": "*"}
)


def ascii_text(text: str) -> str:
    """``text`` in printable ASCII (FOCUS ChargeDescription-C-002-M): German
    letters transliterated, accents dropped, anything else as ``?``."""
    folded = unicodedata.normalize("NFKD", text.translate(_ASCII))
    return "".join(c if " " <= c <= "~" else "?" for c in folded if not unicodedata.combining(c))
