"""The FinOps Foundation's own focus-validator (2.x, FOCUS 1.2) on our FOCUS
files: a month with usage, flat rates, late data and German descriptions, and
a tenant without usage. It needs Python >= 3.12 (this suite runs on 3.11), so
it runs from its own venv: LEITSTAND_FOCUS_VALIDATOR names its executable,
else `focus-validator` on the PATH; without one the test skips, saying how to
install it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from collector.metering import export
from collector.metering.texts import LANGS, Lang
from tests.collector.metering import einvoice_support as S

INSTALL = (
    "focus-validator (FOCUS 1.2) not installed: it needs Python >= 3.12, e.g. "
    "python3.12 -m venv ~/focus && ~/focus/bin/pip install 'focus-validator>=2,<3' "
    "&& export LEITSTAND_FOCUS_VALIDATOR=~/focus/bin/focus-validator"
)
_FAILED_MANDATORY = re.compile(r"\b([A-Za-z]+-[A-Z]-\d{3}-M)\b.*\bFAIL", re.IGNORECASE)


def _validator() -> str:
    tool = os.environ.get("LEITSTAND_FOCUS_VALIDATOR") or shutil.which("focus-validator")
    if not tool:
        pytest.skip(INSTALL)
    return tool


@pytest.mark.slow
@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("case", ["month", "no-usage"])
def test_focus_validator_finds_no_failed_mandatory_rule(tmp_path: Path, case: str, lang: Lang) -> None:
    tool = _validator()
    usage = S.month(adjustments=True)
    if case == "no-usage":
        usage = replace(S.flat_only(usage), adjustments=[], hosts_by_role={}, workplaces=0)
    book = S.tariff_book(
        tmp_path, S.TARIFFS if case == "month" else S.TARIFFS.replace("vat_percent = 19", "vat_percent = 0")
    )
    path = tmp_path / f"{case}-{lang}.csv"
    path.write_bytes(export.render_focus(usage, S.priced(usage, book), lang=lang))
    result = subprocess.run(
        [tool, "--data-file", str(path), "--validate-version", "1.2"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    assert not _FAILED_MANDATORY.findall(output), output
    assert result.returncode == 0, output
