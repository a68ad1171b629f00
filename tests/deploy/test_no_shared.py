"""`make test` passes in a clone with no ../shared next to it: nothing in the
repository reaches ../shared except the optional official e-invoice check, and
that check skips, naming the path, where the folder is absent. (Cheap stand-ins
for running the whole suite in such a clone, which no test should do.)"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.collector.metering import einvoice_support, test_einvoice
from tests.support import require_tool

ROOT = Path(__file__).resolve().parents[2]

# ../shared/einvoice/validate: the official XRechnung/EN 16931 rules, optional (skips with a message)
ALLOWED = {
    "README.md",  # says where the optional check looks
    "pyproject.toml",  # comment on the dev extra that check runs on
    "tests/collector/metering/einvoice_support.py",
    "tests/collector/metering/test_einvoice.py",
    "tests/deploy/test_no_shared.py",  # this test's own patterns
}
# "../shared/...", ".." / "shared" / ..., 'shared' / ...; not "shared_buffers" or "a shared machine"
SHARED = re.compile(r"\.\./shared\b|[\"']shared[\"'/]")


def tracked_files() -> list[str]:
    git = require_tool("git", "git")
    out = subprocess.run([git, "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=30).stdout
    return [name for name in out.decode().split("\0") if name]


def test_only_the_optional_einvoice_check_refers_to_shared() -> None:
    referring = set()
    for name in tracked_files():
        path = ROOT / name
        if path.is_symlink() or not path.is_file():
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        if SHARED.search(text):
            referring.add(name)
    assert referring - ALLOWED == set(), "these files need ../shared; copy what they use into the repository"
    # the allow-list stays honest: a file that no longer refers to ../shared leaves it
    assert referring == ALLOWED


def test_the_pattern_finds_the_ways_code_names_shared() -> None:
    for text in (
        'Path("../shared/snmp")',
        'ROOT / ".." / "shared" / "snmp"',
        "cd ../shared && ls",
        "parents[2].parent / 'shared' / 'x'",
    ):
        assert SHARED.search(text), text
    assert not SHARED.search("shared_buffers = 128MB; a shared 2-core machine")


def test_the_einvoice_check_skips_naming_the_path_without_shared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    absent = tmp_path / "no-shared" / "einvoice" / "validate"
    monkeypatch.setattr(einvoice_support, "VALIDATOR", absent)
    assert einvoice_support.validator() is None
    with pytest.raises(pytest.skip.Exception, match=re.escape(str(absent))):
        test_einvoice._validated(tmp_path, "invoice.xml", b"<x/>")


def test_the_einvoice_check_runs_where_shared_has_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Positive control: with a validator in place the check runs it (and fails on its verdict)."""
    fake = tmp_path / "shared" / "einvoice" / "validate"
    fake.parent.mkdir(parents=True)
    # a stand-in for the official validator (its rules are not what is tested here): rejects everything
    fake.write_text("import sys\nprint('fatal: stand-in rejects', sys.argv[-1])\nsys.exit(1)\n")
    monkeypatch.setattr(einvoice_support, "VALIDATOR", fake)
    assert einvoice_support.validator() == fake.resolve()
    with pytest.raises(AssertionError, match="stand-in rejects"):
        test_einvoice._validated(tmp_path, "invoice.xml", b"<x/>")
