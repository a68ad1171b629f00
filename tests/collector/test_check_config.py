"""`check-config` runs what `serve` runs on the config before it opens the
database (collector.preflight): a config it calls OK is one serve starts
with, and one serve refuses it refuses with the same message."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.app import create_app
from collector.config import load_config
from collector.errors import ConfigError
from tests.support import leitstand, run_cli

TARIFF_OK = '[[tariff]]\nvalid_from = "2026-01"\nvat_percent = 0\n'

BROKEN = {
    "missing tariff file": ('[metering]\ntariffs = "{dir}/nope.toml"\n', "cannot read tariffs"),
    "tariff with an unknown key": ('[metering]\ntariffs = "{dir}/bad-tariff.toml"\n', "unknown field `foo`"),
    "listen without a port": ('[server]\nlisten = "127.0.0.1"\n', "invalid listen address"),
}


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "bad-tariff.toml").write_text("foo = 1\n")
    (tmp_path / "tariffs.toml").write_text(TARIFF_OK)
    path = tmp_path / "collector.toml"
    path.write_text(text.format(dir=tmp_path))
    return path


def _serve_refusal(path: Path, tmp_path: Path) -> str:
    """What serve says: load the config and build the app on a real database file."""
    from collector.server import parse_listen

    with pytest.raises(ConfigError) as exc:
        config = load_config(path)
        parse_listen(config.server.listen)
        create_app(tmp_path / "c.db", config)
    return str(exc.value)


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_check_config_refuses_what_serve_refuses_with_the_same_message(tmp_path: Path, case: str) -> None:
    text, expected = BROKEN[case]
    path = _write(tmp_path, text)
    served = _serve_refusal(path, tmp_path)
    assert expected in served
    checked = run_cli(leitstand("leitstand-collector"), "check-config", str(path))
    assert checked.returncode == 2
    assert "OK" not in checked.stdout
    assert checked.stderr.strip() == f"leitstand-collector: config error: {served}"


def test_a_config_check_config_accepts_serves(tmp_path: Path) -> None:
    path = _write(tmp_path, '[metering]\ntariffs = "{dir}/tariffs.toml"\n')
    checked = run_cli(leitstand("leitstand-collector"), "check-config", str(path))
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.strip() == f"{path}: OK"
    app = create_app(tmp_path / "c.db", load_config(path))
    try:
        assert app.state.collector.tariffs is not None
    finally:
        app.state.collector.close()
