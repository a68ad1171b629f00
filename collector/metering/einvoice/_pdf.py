"""The ZUGFeRD / Factur-X invoice: a readable PDF/A-3 with the CII XML inside.

Two maintained libraries, each for what it does well:

- fpdf2 lays out the page (DIN 5008 letter: return line and address field,
  information block, subject, line table, totals, payment and bank details)
  as PDF/A-3B (``enforce_compliance``: embedded fonts, sRGB output intent)
  and attaches the XML as ``factur-x.xml``, the document's associated file
  (AFRelationship Data).
- factur-x makes the XMP metadata with its Factur-X extension schema that
  tells a reader the profile (EN 16931). Its own attach step would read the
  finished PDF back with pypdf and write it again (a fifth of a ZUGFeRD's
  time); fpdf2 writes the same structure in one pass (:func:`_attach`).

Speed (bench/einvoice.py): fpdf2 parses a TrueType file in ``add_font`` and
subsets it for every PDF, which for DejaVu Sans (6,000 glyphs) was most of a
ZUGFeRD export. Two things keep that small: each font file is parsed once
per process and every PDF gets a fresh copy of the parsed metrics
(:func:`_add_font`), and the page is set in a Latin cut of DejaVu Sans (Basic
Latin up to Latin Extended-B, general punctuation, €, ™, minus: 40 kB, no
hinting or OpenType layout tables, which fpdf2 drops anyway). Should an
invoice's text need a glyph the cut lacks (a buyer's name in another script),
that PDF is set again in the full fonts, so nothing is ever printed as a box.
fpdf2 cuts the font down to the glyphs a PDF uses when it writes it; that
costs about as much for the 700 glyphs of the cut as for the full font, so
the font it gets is cut to those glyphs already (:func:`_presubset`), once
per set of glyphs: a fixed repertoire (printable ASCII and the letters and
signs of the texts) is always embedded, picked first so that its characters
have the same codes in every PDF. Most invoices then embed the very same font
objects, which fpdf2 makes once per process (:class:`_Producer`).
The cuts are made from the shipped fonts with fontTools::

    pyftsubset DejaVuSans.ttf --unicodes=U+0000-024F,U+2000-206F,U+20AC,U+2122,U+2212 \
        --layout-features= --drop-tables+=GSUB,GPOS,GDEF,FFTM,kern --no-hinting \
        --output-file=DejaVuSans-Latin.ttf      # and the same for DejaVuSans-Bold.ttf

Determinism: every date in the file is the issue date (creation date, XMP,
the attachment's ModDate), fpdf2 derives the file id from the content, and
the fonts ship with the package.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import io
from decimal import Decimal
from pathlib import Path

import fpdf as fpdf_package
from facturx import facturx
from fontTools import subset as ftsubset
from fontTools import ttLib
from fpdf import FPDF
from fpdf.enums import OutputIntentSubType, PageMode, XPos, YPos
from fpdf.fonts import SubsetMap, TTFFont
from fpdf.output import OutputProducer, PDFExtGState, PDFFont, PDFICCProfile, PDFType3Font, PDFXObject
from fpdf.pattern import Pattern
from fpdf.syntax import PDFObject
from lxml import etree, objectify

from ...errors import ValidationError
from .model import EInvoice

__all__ = ["render_pdf"]

_FONTS = Path(__file__).parent / "fonts"
#: the sRGB profile fpdf2 ships for PDF/A output intents
_SRGB = Path(fpdf_package.__file__ or "").parent / "data" / "color_profiles" / "sRGB2014.icc"
_FONT = "DejaVu"
#: (regular, bold): the Latin cut first, the full fonts for text it cannot set
_CUTS = (
    ("DejaVuSans-Latin.ttf", "DejaVuSans-Bold-Latin.ttf"),
    ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
)
_LEFT, _RIGHT, _TOP = 25.0, 20.0, 15.0
#: Info /Producer and its XMP twin pdf:Producer
_PRODUCER = f"fpdf2 {fpdf_package.__version__}"
_FX = "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#"
_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_PDF_NS = "http://ns.adobe.com/pdf/1.3/"

_LABELS = {
    "de": {
        "invoice": "Rechnung",
        "number": "Rechnungsnummer",
        "date": "Rechnungsdatum",
        "period": "Leistungszeitraum",
        "leitweg": "Leitweg-ID",
        "customer": "Mandant",
        "order": "Ihre Bestellung",
        "due": "Fällig am",
        "pos": "Pos.",
        "description": "Beschreibung",
        "quantity": "Menge",
        "unit": "Einheit",
        "price": "Einzelpreis",
        "amount": "Betrag",
        "net": "Nettobetrag",
        "vat": "Umsatzsteuer",
        "total": "Gesamtbetrag",
        "bank": "Bankverbindung",
        "vat_id": "USt-IdNr.",
        "tax_number": "Steuernummer",
        "contact": "Ansprechpartner",
        "embedded": "Diese Rechnung enthält die strukturierten Rechnungsdaten (factur-x.xml, EN 16931).",
    },
    "en": {
        "invoice": "Invoice",
        "number": "Invoice number",
        "date": "Invoice date",
        "period": "Billing period",
        "leitweg": "Leitweg-ID",
        "customer": "Tenant",
        "order": "Your order",
        "due": "Due date",
        "pos": "No.",
        "description": "Description",
        "quantity": "Quantity",
        "unit": "Unit",
        "price": "Unit price",
        "amount": "Amount",
        "net": "Net amount",
        "vat": "VAT",
        "total": "Total",
        "bank": "Bank details",
        "vat_id": "VAT id",
        "tax_number": "Tax number",
        "contact": "Contact",
        "embedded": "This invoice carries its structured data (factur-x.xml, EN 16931).",
    },
}


_GERMAN_DIGITS = str.maketrans(",.", ".,")
_UNITS = {"pages": "Seiten", "days": "Tage", "workplaces": "Arbeitsplätze", "hosts": "Hosts"}


def _num(value: Decimal, lang: str, places: int | None = None) -> str:
    text = format(value, f",.{places}f") if places is not None else format(value, ",f")
    return text.translate(_GERMAN_DIGITS) if lang == "de" else text


def _date(value: dt.date, lang: str) -> str:
    return f"{value:%d.%m.%Y}" if lang == "de" else value.isoformat()


def _money(value: Decimal, inv: EInvoice) -> str:
    return f"{_num(value, inv.lang, 2)} {inv.currency}"


def _footer_lines(inv: EInvoice) -> list[str]:
    words, s = _LABELS[inv.lang], inv.seller
    ids = [
        f"{words['vat_id']} {s.vat_id}" if s.vat_id else "",
        f"{words['tax_number']} {s.tax_number}" if s.tax_number else "",
    ]
    bank = [f"{words['bank']}: IBAN {s.iban}", f"BIC {s.bic}" if s.bic else ""]
    return [
        f"{s.name} · {s.street} · {s.postcode} {s.city}",
        " · ".join(x for x in (*ids, *bank) if x),
        f"{words['contact']}: {s.contact_name} · {s.contact_phone} · {s.contact_email}",
    ]


class _Letter(FPDF):
    def __init__(self, inv: EInvoice) -> None:
        super().__init__(format="A4", enforce_compliance="PDF/A-3B")
        self.inv = inv

    def footer(self) -> None:
        self.set_y(-22)
        self.set_font(_FONT, size=7)
        lines = _footer_lines(self.inv)
        for line in lines:
            self.cell(0, 3.5, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_xy(-_RIGHT - 20, -8)
        self.cell(20, 3.5, f"{self.page_no()}/{{nb}}", align="R")


@functools.cache
def _parsed(name: str, style: str) -> tuple[TTFFont, bytes]:
    """The font file parsed by fpdf2 once, and its bytes."""
    scratch = FPDF()
    scratch.add_font(_FONT, style, _FONTS / name)
    font = scratch.fonts[f"{_FONT.lower()}{style}"]
    assert isinstance(font, TTFFont)  # add_font of a .ttf file
    return font, (_FONTS / name).read_bytes()


def _add_font(pdf: FPDF, name: str, style: str) -> TTFFont:
    """``pdf.add_font`` without parsing the file again: the metrics (widths, cmap,
    glyph ids) are shared read-only; what one PDF changes is its own: the subset
    of glyphs it uses, the font descriptor it numbers, and the fontTools font that
    fpdf2 subsets in place when it writes the PDF (loaded lazily from the bytes)."""
    parsed, raw = _parsed(name, style)
    font = copy.copy(parsed)
    font.i = len(pdf.fonts) + 1
    font.desc = copy.copy(parsed.desc)
    font.ttfont = ttLib.TTFont(io.BytesIO(raw), recalcTimestamp=False, recalcBBoxes=False, lazy=True)
    font.subset = SubsetMap(font)
    font.missing_glyphs = []
    font.biggest_size_pt = 0
    # the repertoire first, in its order: its characters get the same codes in
    # every PDF, so most PDFs embed the very same font objects (see _Producer)
    for char in _REPERTOIRE:
        font.subset.pick(ord(char))
    pdf.fonts[f"{_FONT.lower()}{style}"] = font
    return font


def render_pdf(inv: EInvoice, xml: bytes) -> bytes:
    """The invoice as PDF/A-3B with ``xml`` attached as factur-x.xml."""
    for regular, bold in _CUTS:
        pdf = _layout(inv, regular, bold)
        missing = {c for font in pdf.fonts.values() if isinstance(font, TTFFont) for c in font.missing_glyphs}
        if not missing:
            break
    if missing:
        # printed as empty boxes, the text would vanish from the invoice a town hall books
        raise ValidationError(
            f"the ZUGFeRD PDF of {inv.tenant} cannot show {''.join(sorted(map(chr, missing)))}: "
            "DejaVu Sans has no glyph for " + ", ".join(f"U+{c:04X}" for c in sorted(missing)),
            [
                "write the names and addresses of the [invoice] config in Latin, Greek or Cyrillic script, "
                "or export --format xrechnung, which has no such limit"
            ],
        )
    # output() sets the last page's footer after the fonts are cut here: its text joins the repertoire
    footer = "".join(_footer_lines(inv))
    for font in pdf.fonts.values():
        if isinstance(font, TTFFont):
            _presubset(font, footer)
    _attach(pdf, inv, xml)
    try:
        return bytes(pdf.output(output_producer_class=_Producer))
    except ftsubset.Subsetter.MissingGlyphsSubsettingError:
        # a glyph set after the cut (none known): the same PDF from the uncut fonts
        pdf = _layout(inv, regular, bold)
        _attach(pdf, inv, xml)
        return bytes(pdf.output(output_producer_class=_Producer))


#: glyphs every PDF embeds, used or not, in this order: printable ASCII and
#: what the invoice texts and labels hold beyond it, so that most invoices
#: embed the same set (and :func:`_cut` and :class:`_Producer` find it made already)
_REPERTOIRE = "".join(map(chr, range(0x20, 0x7F))) + "§·ÄÖ×Üßäöü–—€™„“”‘’…"
_SUBSET_OPTIONS = {"notdef_outline": True, "recommended_glyphs": True, "glyph_names": True}


def _presubset(font: TTFFont, more: str) -> None:
    """Hand fpdf2 a font that holds just the glyphs this PDF uses (and the
    repertoire): fpdf2 subsets the font when it writes the PDF, which costs
    about as much for the 700 glyphs of the Latin cut as for the full font;
    for a font already cut to the same glyphs it is quick, and the cut is made
    once per set of glyphs (see :func:`_cut`)."""
    for char in more:
        font.subset.pick(ord(char))
    glyphs = frozenset(font.subset.get_all_glyph_names())
    raw = _cut(str(font.ttffile), glyphs)
    font.ttfont = ttLib.TTFont(io.BytesIO(raw), recalcTimestamp=False, recalcBBoxes=False, lazy=True)


@functools.lru_cache(maxsize=64)
def _cut(path: str, glyphs: frozenset[str]) -> bytes:
    font = ttLib.TTFont(io.BytesIO(Path(path).read_bytes()), recalcTimestamp=False, recalcBBoxes=False, lazy=True)
    subsetter = ftsubset.Subsetter(ftsubset.Options(**_SUBSET_OPTIONS))
    subsetter.populate(glyphs=sorted(glyphs))
    subsetter.subset(font)
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


#: a font (file, glyphs and their codes) -> the PDF objects fpdf2 made for it, the font first
_EMBEDDED: dict[tuple[object, ...], tuple[tuple[PDFObject, str | None], ...]] = {}
_EMBEDDED_MAX = 64


def _embedding(font: TTFFont) -> tuple[object, ...]:
    """What fpdf2's objects for ``font`` depend on: its file, name, and the glyphs it
    embeds with the codes the page text uses for them (their widths come with the file)."""
    glyphs = tuple((g.glyph_id, g.glyph_name, g.unicode, code) for g, code in font.subset.items() if g is not None)
    return (str(font.ttffile), font.name, glyphs)


class _Producer(OutputProducer):
    """fpdf2's writer (``output(output_producer_class=...)``), with the objects of
    each embedded font made once per process and glyph set: fpdf2 subsets the font
    program with fontTools, compiles it and builds a 128 kB CIDToGIDMap for every
    PDF, nearly half of a ZUGFeRD's time, to the same bytes whenever the font's
    glyphs and codes are the same (:func:`_embedding`). The first PDF of a set is
    written by fpdf2 as ever and its font objects are kept; a later one gets the
    same objects, numbered anew in its own file."""

    def __init__(self, fpdf: FPDF) -> None:
        super().__init__(fpdf)
        self._recording: list[tuple[PDFObject, str | None]] | None = None

    def _add_pdf_obj(self, pdf_obj: PDFObject, trace_label: str | None = None) -> int:
        if self._recording is not None:
            self._recording.append((pdf_obj, trace_label))
        return super()._add_pdf_obj(pdf_obj, trace_label)

    def _add_fonts(
        self,
        image_objects_per_index: dict[int, PDFXObject],
        gfxstate_objs_per_name: dict[str, PDFExtGState],
        pattern_objs_per_name: dict[str, Pattern],
    ) -> dict[int, PDFFont | PDFType3Font]:
        fonts = sorted(self.fpdf.fonts.values(), key=lambda font: font.i)
        keys = [_embedding(f) if isinstance(f, TTFFont) and not f.color_font else None for f in fonts]
        if all(key in _EMBEDDED for key in keys):
            made: dict[int, PDFFont | PDFType3Font] = {}
            for font, key in zip(fonts, keys, strict=True):
                assert key is not None and isinstance(font, TTFFont)  # all(...) above
                for obj, label in _EMBEDDED[key]:
                    self._add_pdf_obj(obj, label)
                # as fpdf2 ends a font: its caches hold every SubsetMap of the process until cleared
                font.subset.pick.cache_clear()
                font.subset.get_glyph.cache_clear()
                font.close()
                top = _EMBEDDED[key][0][0]
                assert isinstance(top, PDFFont)
                made[font.i] = top
            return made
        added: list[tuple[PDFObject, str | None]] = []
        self._recording = added
        try:
            made = super()._add_fonts(image_objects_per_index, gfxstate_objs_per_name, pattern_objs_per_name)
        finally:
            self._recording = None
        # each font's objects begin with the one that stands for it
        starts = [next(n for n, (obj, _) in enumerate(added) if obj is made[f.i]) for f in fonts] + [len(added)]
        for key, start, end in zip(keys, starts, starts[1:], strict=False):
            if key is not None:
                if len(_EMBEDDED) >= _EMBEDDED_MAX:
                    del _EMBEDDED[next(iter(_EMBEDDED))]
                _EMBEDDED[key] = tuple(added[start:end])
        return made


def _layout(inv: EInvoice, regular: str, bold: str) -> FPDF:
    words = _LABELS[inv.lang]
    pdf = _Letter(inv)
    pdf.set_creation_date(_issued(inv))
    pdf.set_lang("de-DE" if inv.lang == "de" else "en-GB")
    pdf.set_title(f"{words['invoice']} {inv.number}")
    pdf.set_author(inv.seller.name)
    pdf.set_subject(f"{words['invoice']} {inv.number} {inv.seller.name}")
    pdf.set_creator("Leitstand")
    pdf.set_producer(_PRODUCER)
    pdf.set_keywords("Factur-X, ZUGFeRD, EN 16931")
    pdf.add_output_intent(
        OutputIntentSubType.PDFA,
        output_condition_identifier="sRGB",
        dest_output_profile=PDFICCProfile(
            contents=_srgb(),
            n=3,
            alternate="DeviceRGB",
        ),
        info="sRGB2014 (v2)",
    )
    _add_font(pdf, regular, "")
    _add_font(pdf, bold, "B")
    pdf.set_margins(_LEFT, _TOP, _RIGHT)
    pdf.set_auto_page_break(True, margin=28)
    pdf.alias_nb_pages()
    pdf.add_page()
    _letterhead(pdf, inv)
    _lines(pdf, inv)
    _totals(pdf, inv)
    return pdf


def _issued(inv: EInvoice) -> dt.datetime:
    """The document's one date (creation, XMP, attachment): noon of the issue date."""
    return dt.datetime.combine(inv.issue_date, dt.time(12), dt.UTC)


@functools.cache
def _srgb() -> bytes:
    return _SRGB.read_bytes()


def _letterhead(pdf: FPDF, inv: EInvoice) -> None:
    words, s, b = _LABELS[inv.lang], inv.seller, inv.buyer
    pdf.set_font(_FONT, "B", 14)
    pdf.cell(0, 7, s.name, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    # DIN 5008 form B: the address field starts 45 mm from the top, with the return line
    pdf.set_xy(_LEFT, 45)
    pdf.set_font(_FONT, size=7)
    pdf.cell(85, 4, f"{s.name} · {s.street} · {s.postcode} {s.city}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(_FONT, size=10)
    for text in (b.name, b.street, f"{b.postcode} {b.city}"):
        pdf.cell(85, 5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    info = [
        (words["number"], inv.number),
        (words["date"], _date(inv.issue_date, inv.lang)),
        (words["period"], f"{_date(inv.period_start, inv.lang)} – {_date(inv.period_end, inv.lang)}"),
        (words["leitweg"], b.leitweg_id),
        (words["customer"], inv.tenant),
    ]
    if b.order_reference:
        info.append((words["order"], b.order_reference))
    info.append((words["due"], _date(inv.due_date, inv.lang)))
    pdf.set_font(_FONT, size=8.5)
    for i, (label, value) in enumerate(info):
        pdf.set_xy(120, 50 + 4.5 * i)
        pdf.cell(28, 4.5, label)
        pdf.set_x(155)
        pdf.cell(35, 4.5, value)
    pdf.set_xy(_LEFT, 100)
    pdf.set_font(_FONT, "B", 12)
    pdf.cell(0, 7, f"{words['invoice']} {inv.number}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(_FONT, size=9)
    for note in inv.notes:
        _paragraph(pdf, 4.5, note)
    pdf.ln(3)


#: the line table: column widths (mm) and alignments; the description (index 1) wraps
_COLUMNS = (9.0, 62.0, 25.0, 20.0, 22.0, 27.0)
_ALIGN = ("R", "L", "R", "L", "R", "R")
_LINE_H = 4.2
_PAD = 1.0


def _wrap(pdf: FPDF, text: str, width: float) -> list[str]:
    """``text`` broken at spaces into lines no wider than ``width`` (a word wider
    than that stands alone). fpdf2's table would break every cell twice, with
    its full text-shaping line breaker: most of a ZUGFeRD's time."""
    if pdf.get_string_width(text) <= width:
        return [text]
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if current and pdf.get_string_width(candidate) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    return [*lines, current]


def _paragraph(pdf: FPDF, height: float, text: str) -> None:
    """``text`` across the page, wrapped (what ``multi_cell`` does, without its line breaker)."""
    for line in _wrap(pdf, text, pdf.epw - 2 * pdf.c_margin):
        pdf.cell(0, height, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _table_row(pdf: FPDF, cells: tuple[str, ...], *, bold: bool = False) -> None:
    pdf.set_font(_FONT, "B" if bold else "", 8)
    inner = _COLUMNS[1] - 2 * _PAD
    description = [line for part in cells[1].split("\n") for line in _wrap(pdf, part, inner)]
    height = len(description) * _LINE_H + 2 * _PAD
    if pdf.get_y() + height > pdf.page_break_trigger:
        pdf.add_page()
        if not bold:
            _table_head(pdf)
            pdf.set_font(_FONT, "", 8)
    top, x = pdf.get_y() + _PAD, _LEFT
    # text() where cell() would put it (baseline as cell's, inside its margins): a
    # cell costs twice as much, and every PDF has some 150 of them
    baseline = top + 0.5 * _LINE_H + 0.3 * pdf.font_size
    for index, (width, align, text) in enumerate(zip(_COLUMNS, _ALIGN, cells, strict=True)):
        for n, line in enumerate(description if index == 1 else [text]):
            left = x + _PAD + pdf.c_margin
            if align == "R":
                left = x + width - _PAD - pdf.c_margin - pdf.get_string_width(line)
            pdf.text(left, baseline + n * _LINE_H, line)
        x += width
    pdf.set_y(top + height - _PAD)
    pdf.line(_LEFT, pdf.get_y(), _LEFT + sum(_COLUMNS), pdf.get_y())


def _table_head(pdf: FPDF) -> None:
    words = _LABELS[pdf.inv.lang] if isinstance(pdf, _Letter) else _LABELS["de"]
    headings = (words["pos"], words["description"], words["quantity"], words["unit"], words["price"], words["amount"])
    pdf.line(_LEFT, pdf.get_y(), _LEFT + sum(_COLUMNS), pdf.get_y())
    _table_row(pdf, headings, bold=True)


def _lines(pdf: FPDF, inv: EInvoice) -> None:
    words = _LABELS[inv.lang]
    pdf.set_draw_color(0)
    pdf.set_line_width(0.2)
    _table_head(pdf)
    for line in inv.lines:
        description = "\n".join((line.name, *line.notes))
        if line.start != inv.period_start:
            description += f"\n{words['period']}: {_date(line.start, inv.lang)} – {_date(line.end, inv.lang)}"
        _table_row(
            pdf,
            (
                str(line.id),
                description,
                _num(line.quantity, inv.lang),
                _UNITS.get(line.unit, line.unit) if inv.lang == "de" else line.unit,
                _num(line.unit_price, inv.lang),
                _money(line.amount, inv),
            ),
        )
    pdf.set_x(_LEFT)


def _totals(pdf: FPDF, inv: EInvoice) -> None:
    words = _LABELS[inv.lang]
    pdf.ln(3)
    vat_label = f"{words['vat']} {_num(inv.vat.percent.normalize(), inv.lang)} %"
    rows = [(words["net"], inv.net, ""), (vat_label, inv.vat_total, ""), (words["total"], inv.total, "B")]
    for label, value, style in rows:
        pdf.set_font(_FONT, style, 9)
        pdf.set_x(_LEFT + 95)
        pdf.cell(45, 5.5, label)
        pdf.cell(25, 5.5, _money(value, inv), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    pdf.set_font(_FONT, size=9)
    if inv.vat.reason:
        _paragraph(pdf, 4.5, inv.vat.reason)
        pdf.ln(1)
    s = inv.seller
    _paragraph(pdf, 4.5, inv.payment_terms)
    bank = f"{words['bank']}: IBAN {s.iban}" + (f", BIC {s.bic}" if s.bic else "")
    _paragraph(pdf, 4.5, bank)
    pdf.ln(2)
    pdf.set_font(_FONT, size=7)
    _paragraph(pdf, 3.5, words["embedded"])


def _attach(pdf: FPDF, inv: EInvoice, xml: bytes) -> None:
    """``xml`` as factur-x.xml, the associated file of the document (AFRelationship
    Data), and the XMP that names it: PDF/A-3B plus factur-x's own extension
    schema (fx: document type INVOICE, file name, version, EN 16931)."""
    issued = _issued(inv)
    pdf.embed_file(
        bytes=xml,
        basename=facturx.FACTURX_FILENAME,
        modification_date=issued,
        mime_type="text/xml",
        associated_file_relationship="Data",
        desc="Factur-X XML file",
        compress=True,
        checksum=True,
    )
    pdf.page_mode = PageMode.USE_ATTACHMENTS
    xmp = facturx.generate_xmp_object(
        {
            "pdfa3_flavor": "B",
            "title": pdf.title,
            "author": pdf.author,
            "subject": pdf.subject,
            "producer": _PRODUCER,
            "creator_tool": pdf.creator,
            "timestamp": issued.isoformat(timespec="seconds"),
            "documenttype": "INVOICE",
            "xml_filename": facturx.FACTURX_FILENAME,
            "version": "1.0",
            "xmp_level": facturx.FACTURX_LEVEL2xmp["en16931"],
            "urn": _FX,
        }
    )
    # PDF/A: every document information entry has its XMP twin (factur-x writes none for the keywords)
    rdf, pdf_ns = (objectify.ElementMaker(namespace=ns, nsmap=xmp.nsmap, annotate=False) for ns in (_RDF, _PDF_NS))
    next(xmp.iterchildren()).append(rdf.Description(pdf_ns.Keywords(pdf.keywords)))
    pdf.set_xmp_metadata(etree.tostring(xmp, encoding="unicode"))
