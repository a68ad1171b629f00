"""A served runbook as an HTML page, for a browser opening an alert's link
(``generatorURL``, ``runbook_url``). Raw HTML in the Markdown is escaped, not
passed through: the page shows text, never markup someone slipped into a file."""

from __future__ import annotations

import html

from markdown_it import MarkdownIt

__all__ = ["page"]

_MD = MarkdownIt("commonmark", {"html": False}).enable("table")
_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45}"
    "table{border-collapse:collapse}td,th{border:1px solid #999;padding:.25rem .5rem;text-align:left}"
    "code{background:#eee;padding:0 .2rem}blockquote{border-left:4px solid #c60;margin:0;padding:.2rem 1rem}"
    ".alert{background:#fff3cd;border:1px solid #c60;padding:.5rem 1rem}"
)
_ALERT = {
    "de": "Alarm <code>{id}</code>: Details (Objekt, Werte, Quittung) nur mit Token, in der TUI "
    "(<code>leitstand-tui</code>, Ansicht <b>Alarme</b>) oder auf dem Collector mit "
    "<code>leitstand-collector alerts list</code>.",
    "en": "Alert <code>{id}</code>: details (object, values, acknowledgement) need a token: in the TUI "
    "(<code>leitstand-tui</code>, view <b>Alerts</b>) or on the collector with "
    "<code>leitstand-collector alerts list</code>.",
}


def page(title: str, markdown: str, *, lang: str, alert_id: str = "", body_lang: str | None = None) -> str:
    """A whole HTML document: the alert's note (when the link names one), then the runbook.
    `body_lang` is the runbook body's own language when it differs from the one asked for
    (a runbook without a translation): the document says so, the note keeps its own."""
    doc_lang = body_lang or lang
    marked = f' lang="{lang}"' if doc_lang != lang else ""
    note = f'<p class="alert"{marked}>{_ALERT[lang].format(id=html.escape(alert_id))}</p>\n' if alert_id else ""
    return (
        f'<!DOCTYPE html>\n<html lang="{doc_lang}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)} – Leitstand</title>\n<style>{_STYLE}</style>\n</head>\n"
        f"<body>\n{note}{_MD.render(markdown)}</body>\n</html>\n"
    )
