"""A collector whose runbook directory is missing refuses to start, naming it:
otherwise every runbook link of every alert would answer 404."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from collector.alerting.config import AlertsConfig, settings
from collector.alerting.runbooks import MissingRunbooksError
from tests.support import leitstand


def test_missing_runbook_dir_is_a_typed_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(MissingRunbooksError, match=str(missing)):
        settings(AlertsConfig(runbooks_dir=str(missing)))
    (tmp_path / "empty").mkdir()
    with pytest.raises(MissingRunbooksError, match="holds no runbook"):
        settings(AlertsConfig(runbooks_dir=str(tmp_path / "empty")))


def test_default_runbook_dir_holds_the_runbooks() -> None:
    assert (settings(AlertsConfig()).runbooks_dir / "host-down.md").is_file()


def test_serve_refuses_to_start_and_names_the_directory(tmp_path: Path) -> None:
    config = tmp_path / "collector.toml"
    config.write_text(f'[alerts]\nrunbooks_dir = "{tmp_path / "runbooks"}"\n')
    done = subprocess.run(
        [leitstand("leitstand-collector"), "serve", "--config", str(config), "--db", str(tmp_path / "c.db"),
         "--listen", "127.0.0.1:0"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert f"runbook directory {tmp_path / 'runbooks'} does not exist" in done.stderr
