"""Numbers as a language writes them, for texts the collector makes (alerts, readiness evidence).

German swaps the points: `12,5` and `1.234,5`; English stays `12.5` and `1,234.5`.
Pure; the TUI formats with Babel on its side (it is no dependency of the collector).
"""

from __future__ import annotations

__all__ = ["number"]

_DE_DIGITS = str.maketrans({".": ",", ",": "."})


def number(value: float, spec: str, lang: str) -> str:
    """A number as the language writes it: `12,5` in German, `12.5` in English
    (thousands `1.234,5` / `1,234.5` with a `,` in the spec)."""
    text = format(value, spec)
    return text.translate(_DE_DIGITS) if lang == "de" else text
