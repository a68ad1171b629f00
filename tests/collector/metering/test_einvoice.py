"""E-invoices of a closed month: XRechnung 3.0 (CII) and ZUGFeRD (PDF/A-3 with
the same invoice inside), checked with the official rules where ../shared has
them, and always against the JSON export's totals."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from facturx import get_xml_from_pdf
from lxml import etree
from pypdf import PdfReader

from collector import admin
from collector.cli import main as collector_main
from collector.config import Config, MeteringConfig, load_config
from collector.db import Connection, connect, migrate, transaction
from collector.errors import ConfigError, ConflictError, ValidationError
from collector.metering import einvoice, export, ledger
from collector.metering.einvoice._cii import render_cii
from collector.metering.invoice_config import EInvoiceConfigError, missing
from collector.metering.pricing import Invoice
from collector.metering.texts import LANGS, Lang, ascii_text, describe
from collector.usage import export_period, tariff_book
from tests.collector.conftest import Env
from tests.collector.metering import einvoice_support as S
from tests.collector.metering.test_reference_scenario import NOV, _report, _send, send_reference_month

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
}


def _validated(tmp_path: Path, name: str, xml: bytes, *, xrechnung: bool = True) -> None:
    """No fatal error from ../shared/einvoice/validate; skipped (with the
    reason) only where that checkout is absent."""
    if S.validator() is None:
        pytest.skip(f"../shared/einvoice/validate not found at {S.VALIDATOR.resolve()}: official rules not checked")
    path = tmp_path / name
    path.write_bytes(xml)
    result = S.validate(path, xrechnung=xrechnung)
    assert result.returncode == 0, result.stdout + result.stderr


def _totals(xml: bytes) -> dict[str, Decimal]:
    root = etree.fromstring(xml)
    sums = root.find(".//ram:SpecifiedTradeSettlementHeaderMonetarySummation", NS)
    assert sums is not None
    return {
        bt: Decimal(sums.findtext(f"ram:{tag}", namespaces=NS) or "nan")
        for bt, tag in (
            ("BT-106", "LineTotalAmount"),
            ("BT-109", "TaxBasisTotalAmount"),
            ("BT-110", "TaxTotalAmount"),
            ("BT-112", "GrandTotalAmount"),
        )
    }


def _assert_totals_match_json(xml: bytes, doc: dict[str, Any]) -> None:
    totals = _totals(xml)
    assert totals["BT-106"] == totals["BT-109"] == Decimal(doc["net"])
    assert totals["BT-110"] == Decimal(doc["vat"])
    assert totals["BT-112"] == Decimal(doc["total"])


def _render(usage: Any, invoice: Invoice, config_text: str = S.CONFIG, lang: Lang = "de") -> bytes:
    config = S.invoice_config(config_text)
    einvoice.check_ready(usage, invoice, config)
    doc = einvoice.build_einvoice(usage, invoice, config, number="KDO-2026-00001", lang=lang)
    return einvoice.render_xrechnung(doc)


# --- the hand-computed reference month, through the API and the CLI path ----------


async def test_reference_month_xrechnung_passes_the_official_rules_and_matches_the_json(
    make_env: Any, tmp_path: Path
) -> None:
    config_file = tmp_path / "collector.toml"
    config_file.write_text(S.CONFIG)
    env, tariffs = await send_reference_month(make_env, tmp_path, load_config(config_file))
    conn = env.db()
    try:
        ledger.close_period(conn, NOV, actor="test", now=env.clock.now)
        book = tariff_book(str(tariffs))
        invoicing = load_config(config_file).invoice
        with transaction(conn):
            doc = json.loads(export_period(conn, "stadt-lohne", NOV, "json", book, now=env.clock.now).content)
            xml = export_period(conn, "stadt-lohne", NOV, "xrechnung", book, now=env.clock.now, invoicing=invoicing)
            pdf = export_period(conn, "stadt-lohne", NOV, "zugferd", book, now=env.clock.now, invoicing=invoicing)
        assert (doc["net"], doc["vat"], doc["total"]) == ("488.85", "92.88", "581.73")
        _assert_totals_match_json(xml.content, doc)
        # both carry the one number, assigned once from the pattern
        assert xml.invoice_number == pdf.invoice_number == "KDO-2026-00001"
        embedded = get_xml_from_pdf(pdf.content, check_xsd=False)
        assert embedded[0] == "factur-x.xml"
        _assert_totals_match_json(embedded[1], doc)
        # the lines are the JSON export's lines (VAT is the tax breakdown, not a line)
        names = etree.fromstring(xml.content).findall(".//ram:SpecifiedTradeProduct/ram:Name", NS)
        json_lines = [line for line in doc["lines"] if line["kind"] != "vat"]
        assert len(names) == len(json_lines) == 9
        assert names[1].text == "belegter Arbeitsspeicher × Zeit"
        with transaction(conn):
            again = export_period(
                conn, "stadt-lohne", NOV, "xrechnung", book, now=env.clock.now + 86400, invoicing=invoicing
            )
        assert again.content == xml.content and again.verified
    finally:
        conn.close()
        await env.client.aclose()
    _validated(tmp_path, "reference.xml", xml.content)
    _validated(tmp_path, "embedded.xml", embedded[1], xrechnung=False)


# --- the other months the issue names -------------------------------------------


def test_vat_zero_not_subject_to_vat_under_section_2b(tmp_path: Path) -> None:
    book = S.tariff_book(tmp_path, S.TARIFFS.replace("vat_percent = 19", "vat_percent = 0"))
    usage = S.month()
    invoice = S.priced(usage, book)
    config = S.CONFIG.replace('name = "Kommunale', 'seller_id = "KDO-4711"\nname = "Kommunale') + 'vat_category = "O"\n'
    xml = _render(usage, invoice, config)
    root = etree.fromstring(xml)
    tax = root.find(".//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax", NS)
    assert tax is not None
    assert tax.findtext("ram:CategoryCode", namespaces=NS) == "O"
    assert "§ 2b UStG" in (tax.findtext("ram:ExemptionReason", namespaces=NS) or "")
    # BR-O-2: no VAT identifier on an invoice outside the scope of VAT
    assert root.find(".//ram:SellerTradeParty/ram:SpecifiedTaxRegistration", NS) is None
    _assert_totals_match_json(xml, export.usage_document(usage, invoice))
    _validated(tmp_path, "vat0.xml", xml)


def test_vat_zero_exempt_with_its_reason(tmp_path: Path) -> None:
    book = S.tariff_book(tmp_path, S.TARIFFS.replace("vat_percent = 19", "vat_percent = 0"))
    usage = S.month()
    invoice = S.priced(usage, book)
    config = S.CONFIG + 'vat_category = "E"\nvat_exemption_reason = "Steuerfrei nach § 4 Nr. 29 UStG"\n'
    xml = _render(usage, invoice, config)
    assert b"<ram:CategoryCode>E</ram:CategoryCode>" in xml
    assert "§ 4 Nr. 29 UStG".encode() in xml
    _validated(tmp_path, "exempt.xml", xml)


def test_vat_zero_without_a_category_is_refused_with_the_key() -> None:
    with pytest.raises(EInvoiceConfigError) as caught:
        einvoice.check_ready(
            S.month(), Invoice("stadt-lohne", "2026-11", "EUR", None, Decimal(0), (), D0, D0, D0), S.invoice_config()
        )
    assert caught.value.keys == [
        'invoice.buyers.stadt-lohne.vat_category (the tariff has no VAT: "O" e.g. § 2b UStG, or "E")'
    ]


D0 = Decimal("0.00")


def test_adjustments_of_an_earlier_month_carry_that_month(tmp_path: Path) -> None:
    usage = S.month(adjustments=True)
    invoice = S.priced(usage, S.tariff_book(tmp_path))
    xml = _render(usage, invoice)
    root = etree.fromstring(xml)
    periods = [
        (
            item.findtext(".//ram:SpecifiedTradeProduct/ram:Name", namespaces=NS),
            p.findtext(".//ram:StartDateTime/*", namespaces=NS),
        )
        for item in root.findall(".//ram:IncludedSupplyChainTradeLineItem", NS)
        for p in item.findall(".//ram:BillingSpecifiedPeriod", NS)
    ]
    assert ("CPU-Kernsekunden (Rechenzeit): Nachtrag für 2026-10", "20261001") in periods
    assert periods[0][1] == "20261101"
    _assert_totals_match_json(xml, export.usage_document(usage, invoice))
    _validated(tmp_path, "adjustments.xml", xml)


def test_a_month_with_only_flat_lines(tmp_path: Path) -> None:
    usage = S.flat_only(S.month())
    invoice = S.priced(usage, S.tariff_book(tmp_path))
    assert {line.kind for line in invoice.lines} == {"flat", "vat"}
    xml = _render(usage, invoice)
    _assert_totals_match_json(xml, export.usage_document(usage, invoice))
    _validated(tmp_path, "flat.xml", xml)


#: XMP namespaces a Factur-X PDF/A-3 declares
XMP = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "pdfaid": "http://www.aiim.org/pdfa/ns/id/",
    "pdfaExtension": "http://www.aiim.org/pdfa/ns/extension/",
    "pdfaSchema": "http://www.aiim.org/pdfa/ns/schema#",
    "pdfaProperty": "http://www.aiim.org/pdfa/ns/property#",
    "fx": "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
}


def test_zugferd_is_pdfa3_with_the_en16931_xml_and_byte_identical(tmp_path: Path) -> None:
    # veraPDF (the PDF/A reference validator) is not installable here (no Maven, no
    # Debian package): the PDF/A-3 and Factur-X structure is checked piece by piece
    usage = S.month(adjustments=True)
    invoice = S.priced(usage, S.tariff_book(tmp_path))
    config = S.invoice_config()
    doc = einvoice.build_einvoice(usage, invoice, config, number="KDO-2026-00042", lang="de")
    pdf = einvoice.render_zugferd(doc)
    assert einvoice.render_zugferd(doc) == pdf
    reader = PdfReader(__import__("io").BytesIO(pdf))
    page = reader.pages[0].extract_text()
    assert "Rechnung KDO-2026-00042" in page and "Leitweg-ID" in page and "475,68 EUR" in page
    # the XML inside is the EN 16931 CII of the same invoice, and the official rules take it
    name, xml = get_xml_from_pdf(pdf, check_xsd=True)
    assert name == "factur-x.xml"
    assert xml == render_cii(doc, "en16931")
    assert b"urn:cen.eu:en16931:2017</ram:ID>" in xml
    # PDF/A-3: the XML is the document's associated file (Data), a text/xml stream with its date
    root = reader.trailer["/Root"]
    (spec,) = [ref.get_object() for ref in root["/AF"]]
    assert (spec["/AFRelationship"], spec["/F"], spec["/UF"]) == ("/Data", "factur-x.xml", "factur-x.xml")
    assert root["/Names"]["/EmbeddedFiles"]["/Names"][0] == "factur-x.xml"
    stream = spec["/EF"]["/F"].get_object()
    assert stream["/Subtype"] == "/text/xml" and stream["/Params"]["/ModDate"].startswith("D:20261204")
    assert stream.get_data() == xml
    (intent,) = root["/OutputIntents"]
    assert intent["/S"] == "/GTS_PDFA1" and intent["/DestOutputProfile"].get_object().get_data()
    fonts = [f.get_object() for f in reader.pages[0]["/Resources"]["/Font"].values()]
    assert fonts and all(f["/DescendantFonts"][0]["/FontDescriptor"]["/FontFile2"] for f in fonts)
    # XMP: PDF/A-3B, and Factur-X's extension schema declaring the fx: properties it sets
    xmp = etree.fromstring(root["/Metadata"].get_object().get_data())
    assert xmp.findtext(".//pdfaid:part", namespaces=XMP) == "3"
    assert xmp.findtext(".//pdfaid:conformance", namespaces=XMP) == "B"
    (schema,) = xmp.findall(".//pdfaExtension:schemas/rdf:Bag/rdf:li", XMP)
    assert schema.findtext("pdfaSchema:namespaceURI", namespaces=XMP) == XMP["fx"]
    assert schema.findtext("pdfaSchema:prefix", namespaces=XMP) == "fx"
    declared = {p.findtext("pdfaProperty:name", namespaces=XMP) for p in schema.iterfind(".//rdf:Seq/rdf:li", XMP)}
    fx = {el.tag.split("}")[1]: el.text for el in xmp.iterfind(".//fx:*", XMP)}
    assert fx == {
        "DocumentType": "INVOICE",
        "DocumentFileName": "factur-x.xml",
        "Version": "1.0",
        "ConformanceLevel": "EN 16931",
    }
    assert set(fx) == declared
    assert xmp.findtext(".//dc:title/rdf:Alt/rdf:li", namespaces=XMP) == "Rechnung KDO-2026-00042"
    assert xmp.findtext(".//xmp:CreateDate", namespaces=XMP) == "2026-12-04T12:00:00+00:00"
    _validated(tmp_path, "zugferd.xml", xml, xrechnung=False)


def test_zugferd_sets_text_outside_the_latin_cut_in_the_full_font(tmp_path: Path) -> None:
    # the page is set in a Latin cut of DejaVu Sans; a name it cannot set must
    # still print (the PDF is set again in the full font), and stay deterministic
    usage = S.month()
    invoice = S.priced(usage, S.tariff_book(tmp_path))
    greek = "Δήμος Αθηναίων"
    config = S.invoice_config(S.CONFIG.replace('name = "Stadt Lohne (Oldenburg)"', f'name = "{greek}"'))
    doc = einvoice.build_einvoice(usage, invoice, config, number="KDO-2026-00043", lang="de")
    pdf = einvoice.render_zugferd(doc)
    assert einvoice.render_zugferd(doc) == pdf
    page = PdfReader(__import__("io").BytesIO(pdf)).pages[0].extract_text()
    assert greek in page and "Rechnung KDO-2026-00043" in page


def test_zugferd_refuses_text_no_font_can_show(tmp_path: Path) -> None:
    # DejaVu Sans has no CJK glyphs: the name would print as empty boxes
    usage = S.month()
    invoice = S.priced(usage, S.tariff_book(tmp_path))
    config = S.invoice_config(S.CONFIG.replace('name = "Stadt Lohne (Oldenburg)"', 'name = "東京都 Minato"'))
    doc = einvoice.build_einvoice(usage, invoice, config, number="KDO-2026-00044", lang="de")
    refused = re.escape("cannot show 京東都: DejaVu Sans has no glyph for U+4EAC, U+6771")
    with pytest.raises(ValidationError, match=refused):
        einvoice.render_zugferd(doc)
    assert b"Minato" in einvoice.render_xrechnung(doc)


def test_zugferd_with_a_glyph_set_after_the_fonts_are_cut_is_set_uncut(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the fonts are cut to the PDF's glyphs before fpdf2 writes it; should text
    # be set after that (here: the footer, left out of the cut), the PDF is made
    # again from the uncut fonts instead of failing
    from collector.metering.einvoice import _pdf

    usage = S.month()
    doc = einvoice.build_einvoice(
        usage, S.priced(usage, S.tariff_book(tmp_path)), S.invoice_config(), number="N-1", lang="de"
    )
    cut = _pdf._presubset
    monkeypatch.setattr(_pdf, "_REPERTOIRE", "")
    monkeypatch.setattr(_pdf, "_presubset", lambda font, more: cut(font, ""))
    page = PdfReader(__import__("io").BytesIO(einvoice.render_zugferd(doc))).pages[0].extract_text()
    assert "rechnung@kdo.example" in page and "Rechnung N-1" in page


# --- config: strict where set, and what is still missing --------------------------


def _load(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "collector.toml"
    path.write_text(text)
    return load_config(path)


def test_the_readme_config_example_loads_and_is_ready_for_every_buyer(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    blocks = [b for b in readme.split("```toml\n")[1:] if b.startswith("[invoice]\n")]
    assert len(blocks) == 1, "README has one [invoice] example"
    config = _load(tmp_path, blocks[0].split("```")[0]).invoice
    assert sorted(config.buyers) == ["gemeinde-bakum", "stadt-lohne"]
    for tenant, buyer in config.buyers.items():
        assert missing(config, tenant, vat_percent_zero=bool(buyer.vat_category)) == [], tenant


@pytest.mark.parametrize(
    ("wrong", "right", "key", "reason"),
    [
        (S.LEITWEG, "04011000-1234512345-07", "invoice.buyers.stadt-lohne.leitweg_id", "Leitweg-ID"),
        ('"DE02120300000000202051"', '"DE02120300000000202052"', "invoice.seller.iban", "IBAN"),
        ('"DE136695976"', '"DE123456789"', "invoice.seller.vat_id", "VAT id"),
        ('"KDO-{year}-{seq:05d}"', '"KDO-{year}"', "invoice.number_pattern", "unique"),
        ('"KDO-{year}-{seq:05d}"', '"KDO-{jahr}-{seq}"', "invoice.number_pattern", "placeholder"),
    ],
)
def test_a_malformed_value_is_refused_with_file_line_and_key(
    tmp_path: Path, wrong: str, right: str, key: str, reason: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, S.CONFIG.replace(wrong, right))
    message = str(caught.value)
    assert "collector.toml:" in message and f": {key}: " in message and reason in message
    line = int(message.split("collector.toml:")[1].split(":")[0])
    assert key.rsplit(".", 1)[1] in (tmp_path / "collector.toml").read_text().splitlines()[line - 1]


def test_an_unknown_invoice_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"invoice\.seller\.ibann"):
        _load(tmp_path, S.CONFIG.replace("iban =", "ibann ="))


def test_missing_names_every_key_an_e_invoice_still_needs(tmp_path: Path) -> None:
    config = _load(tmp_path, S.CONFIG.replace('contact_phone = "+49 441 97353-0"\n', "")).invoice
    assert missing(config, "stadt-lohne") == ["invoice.seller.contact_phone"]
    assert missing(config, "gemeinde-x") == [
        "invoice.seller.contact_phone",
        "invoice.buyers.gemeinde-x (the table: name, street, postcode, city, leitweg_id)",
    ]
    assert missing(_load(tmp_path, "").invoice, "stadt-lohne")[0] == "invoice.seller.name"


def _cli_db(tmp_path: Path, tenant: str = "stadt-lohne") -> Path:
    db = tmp_path / "collector.db"
    conn: Connection = connect(db)
    try:
        migrate(conn)
        admin.add_tenant(conn, tenant, actor="test")
    finally:
        conn.close()
    return db


def test_cli_refuses_a_missing_leitweg_id_with_key_and_file_before_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "collector.toml"
    config.write_text(S.CONFIG.replace(f'leitweg_id = "{S.LEITWEG}"\n', ""))
    db = _cli_db(tmp_path)
    out = tmp_path / "re.xml"
    argv = ["meter", "export", "--tenant", "stadt-lohne", "--period", "2026-11", "--format", "xrechnung"]
    code = collector_main([*argv, "--out", str(out), "--db", str(db), "--config", str(config)])
    err = capsys.readouterr().err
    assert code != 0
    assert "invoice.buyers.stadt-lohne.leitweg_id" in err and str(config) in err
    assert not out.exists() and not out.with_name("re.xml.sha256").exists()


def test_check_config_reports_per_tenant_what_an_e_invoice_misses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "collector.toml"
    config.write_text(
        S.CONFIG.replace('iban = "DE02120300000000202051"\n', "")
        + S.BUYER.replace("stadt-lohne", "gemeinde-b").replace(f'leitweg_id = "{S.LEITWEG}"\n', "")
    )
    assert collector_main(["check-config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "stadt-lohne: e-invoice needs invoice.seller.iban" in out
    assert "gemeinde-b: e-invoice needs invoice.seller.iban, invoice.buyers.gemeinde-b.leitweg_id" in out


# --- the archive, numbers and the closed-month rule --------------------------------


async def _closed_month_of_two_tenants(make_env: Any, tmp_path: Path) -> tuple[Env, Any]:
    """A server per tenant, reporting for an hour on Nov 2, then the month closed."""
    book = S.tariff_book(tmp_path)
    env: Env = make_env(Config(metering=MeteringConfig(tariffs=str(tmp_path / "tariffs.toml"))))
    env.clock.now = NOV.end_ts + 86400
    start = NOV.start_ts + 86400
    for tenant in ("stadt-lohne", "gemeinde-b"):
        token = await env.enroll(env.tenant(tenant), f"srv-{tenant}")
        agent = {"id": f"srv-{tenant}", "hostname": f"{tenant}-srv", "role": "server", "boot_time": start - 60}
        reports = [_report(k, start + 300 * k, 100.0 * k, 2**32, 0, []) for k in range(1, 13)]
        await _send(env, token, agent, reports)
    conn = env.db()
    try:
        ledger.close_period(conn, NOV, actor="test", now=env.clock.now)
    finally:
        conn.close()
    return env, book


async def test_an_open_month_is_refused(make_env: Any, tmp_path: Path) -> None:
    env: Env = make_env(Config())
    env.tenant("stadt-lohne")
    conn = env.db()
    try:
        with pytest.raises(ConflictError, match="closed month only"):
            export_period(
                conn, "stadt-lohne", NOV, "xrechnung", None, now=NOV.end_ts + 60, invoicing=S.invoice_config()
            )
    finally:
        conn.close()
        await env.client.aclose()


async def test_numbers_are_consecutive_stable_and_a_changed_invoice_is_refused(make_env: Any, tmp_path: Path) -> None:
    config_text = S.CONFIG + S.BUYER.replace("stadt-lohne", "gemeinde-b")
    env, book = await _closed_month_of_two_tenants(make_env, tmp_path)
    now = env.clock.now
    conn = env.db()
    try:
        config = S.invoice_config(config_text)
        with transaction(conn):
            a = export_period(conn, "stadt-lohne", NOV, "xrechnung", book, now=now, invoicing=config)
            b = export_period(conn, "gemeinde-b", NOV, "zugferd", book, now=now, invoicing=config)
            a_pdf = export_period(conn, "stadt-lohne", NOV, "zugferd", book, now=now, invoicing=config)
            a_en = export_period(conn, "stadt-lohne", NOV, "xrechnung", book, now=now, lang="en", invoicing=config)
        assert (a.invoice_number, b.invoice_number) == ("KDO-2026-00001", "KDO-2026-00002")
        assert a_pdf.invoice_number == a_en.invoice_number == "KDO-2026-00001"
        assert b"Stunden, die ein Host gemeldet hat" in a.content
        assert b"hours a host reported" in a_en.content
        # a new pattern does not renumber what was issued
        renumbered = S.invoice_config(config_text.replace("KDO-{year}-{seq:05d}", "NEU-{period}-{tenant}"))
        with transaction(conn):
            again = export_period(conn, "stadt-lohne", NOV, "xrechnung", book, now=now, invoicing=renumbered)
        assert again.verified and again.content == a.content
        moved = S.invoice_config(config_text.replace("Elsässer Straße 66", "Bahnhofstraße 1"))
        with pytest.raises(ConflictError) as caught, transaction(conn):
            export_period(conn, "stadt-lohne", NOV, "xrechnung", book, now=now, invoicing=moved)
        assert f"issued: sha256 {a.sha256}" in caught.value.detail
        assert any(line.startswith("now:    sha256 ") for line in caught.value.detail)
        stored = {row[0] for row in conn.execute("SELECT format FROM exports WHERE tenant = 'stadt-lohne'")}
        assert stored == {"xrechnung", "xrechnung.en", "zugferd"}
    finally:
        conn.close()
        await env.client.aclose()


# --- language and FOCUS --------------------------------------------------------------


def test_english_descriptions_are_those_pricing_writes_and_german_differs(tmp_path: Path) -> None:
    usage = S.month(adjustments=True)
    invoice = S.priced(usage, S.tariff_book(tmp_path))
    unpriced = S.priced(usage, S.tariff_book(tmp_path, S.TARIFFS.replace('cpu_core_seconds = "0.0001"\n', "")))
    for line in (*invoice.lines, *unpriced.lines):
        assert describe(line, "en") == line.description
        assert describe(line, "de") != line.description
    german = json.loads(export.render_json(usage, invoice, lang="de"))
    assert german["lines"][-1]["description"] == "USt. 19 %"
    assert "Pauschale je Host und Monat, Rolle server" in export.render_csv(usage, invoice, lang="de").decode()
    assert export.render_json(usage, invoice) == export.render_json(usage, invoice, lang="en")


def test_focus_descriptions_are_ascii_in_both_languages(tmp_path: Path) -> None:
    usage = S.month(adjustments=True)
    invoice = S.priced(usage, S.tariff_book(tmp_path))
    for lang in LANGS:
        text = export.render_focus(usage, invoice, lang=lang).decode()
        assert text.isascii()
    assert "belegter Arbeitsspeicher x Zeit" in export.render_focus(usage, invoice, lang="de").decode()
    assert ascii_text("Straße · Größe ×") == "Strasse * Groesse x"


def test_focus_of_a_tenant_without_usage_has_a_valid_zero_row(tmp_path: Path) -> None:
    usage = S.flat_only(S.month())
    usage = type(usage)(**{**usage.__dict__, "hosts_by_role": {}, "workplaces": 0})
    invoice = S.priced(usage, S.tariff_book(tmp_path, S.TARIFFS.replace("vat_percent = 19", "vat_percent = 0")))
    assert invoice.lines == ()
    rows = list(__import__("csv").DictReader(export.render_focus(usage, invoice).decode().splitlines()))
    assert len(rows) == 1
    row = rows[0]
    assert (row["ChargeCategory"], row["ChargeFrequency"], row["ServiceCategory"], row["ServiceSubcategory"]) == (
        "Usage",
        "Usage-Based",
        "Other",
        "Other (Other)",
    )
    assert row["BilledCost"] == "0.00" and row["ChargeDescription"].isascii()
