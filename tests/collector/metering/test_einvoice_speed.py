"""What makes ZUGFeRD exports fast must not change a byte: the font objects
made once per process are those fpdf2 makes for every PDF, and e-invoices
rendered ahead in worker processes are those the CLI renders itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fontTools import ttLib
from fpdf.fonts import SubsetMap
from fpdf.output import OutputProducer

from collector.cli import main as collector_main
from collector.metering import einvoice
from collector.metering.einvoice import _pdf
from collector.metering.einvoice.ahead import RenderedAhead
from tests.collector.metering import einvoice_support as S
from tests.collector.metering.test_einvoice import _closed_month_of_two_tenants


def _docs(tmp_path: Path) -> list[einvoice.EInvoice]:
    usage = S.month(adjustments=True)
    invoice = S.priced(usage, S.tariff_book(tmp_path))
    config = S.invoice_config()
    return [
        einvoice.build_einvoice(usage, invoice, config, number=f"KDO-2026-{n:05d}", lang=lang)
        for n, lang in ((1, "de"), (2, "en"), (3, "de"))
    ]


def test_font_objects_made_once_are_those_fpdf2_makes_for_each_pdf(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = _docs(tmp_path)
    monkeypatch.setattr(_pdf, "_EMBEDDED", {})
    first = [einvoice.render_zugferd(doc) for doc in docs]
    # German and English invoices set in the same glyphs: one entry per font (regular, bold)
    assert len(_pdf._EMBEDDED) == 2
    again = [einvoice.render_zugferd(doc) for doc in docs]
    # fpdf2's class-wide caches would keep every PDF's glyph map alive were they not cleared
    assert SubsetMap.pick.cache_info().currsize == 0
    monkeypatch.setattr(_pdf, "_Producer", OutputProducer)  # fpdf2's own writer, fonts made per PDF
    plain = [einvoice.render_zugferd(doc) for doc in docs]
    assert first == again == plain
    assert len(set(plain)) == 3


def test_a_name_outside_the_repertoire_gets_its_own_font_objects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    usage = S.month()
    invoice = S.priced(usage, S.tariff_book(tmp_path))
    config = S.invoice_config(S.CONFIG.replace('name = "Stadt Lohne (Oldenburg)"', 'name = "Ville de Saint-Étienne"'))
    doc = einvoice.build_einvoice(usage, invoice, config, number="KDO-2026-00009", lang="de")
    monkeypatch.setattr(_pdf, "_EMBEDDED", {})
    einvoice.render_zugferd(_docs(tmp_path)[0])
    cached = set(_pdf._EMBEDDED)
    pdf = einvoice.render_zugferd(doc)
    assert len(set(_pdf._EMBEDDED) - cached) == 1  # É, in the address field: another set of the regular font
    monkeypatch.setattr(_pdf, "_Producer", OutputProducer)
    assert einvoice.render_zugferd(doc) == pdf


def test_the_repertoire_is_in_the_latin_cut() -> None:
    # a repertoire character the cut lacked would send every PDF to the full fonts
    for cut in _pdf._CUTS[0]:
        cmap = ttLib.TTFont(_pdf._FONTS / cut).getBestCmap()
        assert [c for c in _pdf._REPERTOIRE if ord(c) not in cmap] == [], cut


def test_rendered_ahead_answers_a_draft_from_a_worker_and_anything_else_inline(tmp_path: Path) -> None:
    docs = _docs(tmp_path)
    inline = [einvoice.render_xrechnung(doc) for doc in docs]
    with RenderedAhead(einvoice.render_xrechnung, docs[:2], workers=2) as ahead:
        assert [ahead(doc) for doc in docs] == inline  # docs[2] was no draft
        assert ahead(docs[0]) == inline[0]  # asked twice: the second time inline


async def test_cli_with_workers_writes_the_bytes_it_writes_alone(make_env: Any, tmp_path: Path) -> None:
    env, _book = await _closed_month_of_two_tenants(make_env, tmp_path)
    config = tmp_path / "collector.toml"
    config.write_text(
        f'[metering]\ntariffs = "{tmp_path / "tariffs.toml"}"\n\n'
        + S.CONFIG
        + S.BUYER.replace("stadt-lohne", "gemeinde-b")
    )
    base = ["meter", "export", "--all", "--period", "2026-11", "--format", "zugferd", "--quiet"]
    base += ["--db", str(env.db_path), "--config", str(config)]
    # first export in two workers (numbers assigned, archived), then alone: verified against that archive
    assert collector_main([*base, "--out", str(tmp_path / "ahead"), "--jobs", "2"]) == 0
    assert collector_main([*base, "--out", str(tmp_path / "alone"), "--jobs", "1"]) == 0
    ahead = {p.name: p.read_bytes() for p in (tmp_path / "ahead").iterdir()}
    alone = {p.name: p.read_bytes() for p in (tmp_path / "alone").iterdir()}
    assert len(ahead) == 4 and ahead == alone
    await env.client.aclose()


def test_cli_refuses_jobs_that_are_no_count(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["meter", "export", "--all", "--period", "2026-11", "--format", "zugferd", "--jobs", "0"]
    with pytest.raises(SystemExit) as exit_:
        collector_main(argv)
    assert exit_.value.code == 2
    assert "--jobs must be a whole number of processes, 1 or more, not '0'" in capsys.readouterr().err
