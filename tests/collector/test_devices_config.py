"""`[devices.assign."<id>"]`: the tenant a device belongs to and the pollers
allowed to report it; every mistake names file, key and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.config import DeviceAssignment, load_config
from collector.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "collector.toml"
    path.write_text(text)
    return path


def test_assignment_names_tenant_and_pollers(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[devices]\nstale_after_s = 600\n\n[devices.assign."prn-rathaus-1"]\ntenant = "stadt-b"\n'
        'pollers = ["agent-id-1", "agent-id-2"]\n',
    )
    assign = load_config(path).devices.assign
    assert assign == {"prn-rathaus-1": DeviceAssignment(tenant="stadt-b", pollers=["agent-id-1", "agent-id-2"])}


def test_old_form_is_refused_with_the_new_one_spelled_out(tmp_path: Path) -> None:
    path = write(tmp_path, '[devices]\nstale_after_s = 600\nassign = {"prn-1" = "stadt-b"}\n')
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    message = str(exc.value)
    assert message.startswith(f"{path}:3: devices.assign.prn-1:")
    assert '[devices.assign."prn-1"] tenant = "stadt-b" pollers = [' in message


def test_old_form_as_a_table_names_the_devices_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[devices.assign]\n"usv-1" = "zweckverband"\n')
    with pytest.raises(ConfigError, match=r"collector.toml:2: devices.assign.usv-1: an assignment names the pollers"):
        load_config(path)


def test_an_assignment_without_pollers_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, '[devices.assign."prn-1"]\ntenant = "stadt-b"\npollers = []\n')
    with pytest.raises(ConfigError, match=r"toml:3: devices.assign.prn-1.pollers: Expected `array` of length"):
        load_config(path)


def test_unknown_key_in_an_assignment_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[devices.assign."prn-1"]\ntenant = "stadt-b"\npollers = ["a1"]\npoller = "a2"\n')
    with pytest.raises(ConfigError, match=r"collector.toml:4: devices.assign.prn-1.poller: .*unknown field"):
        load_config(path)


def test_missing_tenant_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, '[devices.assign."prn-1"]\npollers = ["a1"]\n')
    with pytest.raises(ConfigError, match=r"collector.toml:1: devices.assign.prn-1: .*missing required field `tenant`"):
        load_config(path)
