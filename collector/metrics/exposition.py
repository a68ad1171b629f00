"""The exposition writer: the Prometheus text format (0.0.4) rendered
straight from the families' rows.

prometheus_client's ``generate_latest`` builds a Sample and a label dict per
series, then sorts, validates and escapes every label of every sample again;
at 10,000 hosts that was most of a scrape. Here a label string is built once
per distinct set of label values (a host's five labels are shared by every
host family) and each value is escaped once per scrape. The output parses
to the same samples as ``generate_latest`` of ``LeitstandCollector``
(tests/collector/test_metrics_exposition.py); values are formatted by
prometheus_client's own ``floatToGoString``.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.utils import floatToGoString

from .source import Family

__all__ = ["CONTENT_TYPE", "Writer"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape_value(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


class Writer:
    """One scrape's writer: the caches live as long as the scrape."""

    def __init__(self) -> None:
        self._escaped: dict[str, str] = {}
        #: label names -> label values -> `{name="value",...} `
        self._labels: dict[tuple[str, ...], dict[tuple[str, ...], str]] = {}

    def _escape(self, value: str) -> str:
        escaped = self._escaped.get(value)
        if escaped is None:
            escaped = self._escaped[value] = _escape_value(value)
        return escaped

    def render(self, families: Iterable[Family]) -> str:
        out: list[str] = []
        for family in families:
            name = family.sample_name
            doc = family.documentation.replace("\\", r"\\").replace("\n", r"\n")
            out.append(f"# HELP {name} {doc}\n# TYPE {name} {family.type}\n")
            names = family.labelnames
            if not names:
                out.extend(f"{name} {floatToGoString(value)}\n" for _, value in family.rows)
                continue
            built = self._labels.setdefault(names, {})
            escape = self._escape
            for labels, value in family.rows:
                key = tuple(labels)
                text = built.get(key)
                if text is None:
                    # names sorted, as generate_latest writes them
                    pairs = sorted(zip(names, key, strict=False))
                    text = built[key] = "{" + ",".join(f'{n}="{escape(v)}"' for n, v in pairs) + "} "
                out.append(f"{name}{text}{floatToGoString(value)}\n")
        return "".join(out)
