"""Agent configuration: defaults, strict TOML, environment overrides, default paths."""

from __future__ import annotations

import os
from pathlib import Path, PureWindowsPath

import pytest

from agent.config import (
    AgentConfig,
    ConfigError,
    default_config_path,
    default_state_dir,
    load_config,
    windows_data_dir,
)
from agent.wire import find_key_line


@pytest.fixture(autouse=True)
def _no_systemd_state_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(text)
    return path


def test_defaults_without_a_config_file() -> None:
    config = load_config(is_root=False)
    assert config.source is None
    assert (config.sample_interval, config.send_interval, config.batch_max) == (15.0, 60.0, 100)
    assert config.spool_max_bytes == 50 * 1024 * 1024
    assert config.role is None  # detect
    assert config.collector_url is None
    assert config.state_dir == Path(os.environ["XDG_STATE_HOME"]) / "leitstand-agent"
    assert config.token_path == config.state_dir / "token"
    assert config.spool_path == config.state_dir / "spool.sqlite"


def test_reads_the_xdg_config_file() -> None:
    path = Path(os.environ["XDG_CONFIG_HOME"]) / "leitstand" / "agent.toml"
    path.parent.mkdir(parents=True)
    path.write_text('collector_url = "https://leitstand.kreis.example/"\nsample_interval = 30\nsite = "rathaus"\n')
    config = load_config(is_root=False)
    assert config.source == path
    assert config.collector_url == "https://leitstand.kreis.example"  # trailing slash dropped
    assert config.sample_interval == 30.0
    assert isinstance(config.sample_interval, float)
    assert config.site == "rathaus"


def test_every_key_can_be_set(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
collector_url = "http://127.0.0.1:8470"
token_file = "/etc/leitstand/agent.token"
state_dir = "/var/lib/leitstand-agent"
ca_bundle = "/etc/leitstand/ca.pem"
sample_interval = 10.5
send_interval = 120
batch_max = 500
spool_max_bytes = 1048576
role = "thin-client"
site = "bauhof"
textfile_dir = "/var/lib/leitstand-agent/textfile"
request_timeout = 5
agent_id = "host-17.rathaus"
""",
    )
    config = load_config(path)
    assert config == AgentConfig(
        state_dir=Path("/var/lib/leitstand-agent"),
        collector_url="http://127.0.0.1:8470",
        token_file=Path("/etc/leitstand/agent.token"),
        ca_bundle=Path("/etc/leitstand/ca.pem"),
        sample_interval=10.5,
        send_interval=120.0,
        batch_max=500,
        spool_max_bytes=1048576,
        role="thin-client",
        site="bauhof",
        textfile_dir=Path("/var/lib/leitstand-agent/textfile"),
        request_timeout=5.0,
        agent_id="host-17.rathaus",
        source=path,
    )


def test_an_explicit_config_file_must_exist(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match="cannot read") as caught:
        load_config(missing)
    assert caught.value.source == str(missing)


def test_unknown_key_names_file_key_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, '# agent\ncollector_url = "http://127.0.0.1:8470"\nsample_intervall = 30\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    exc = caught.value
    assert (exc.source, exc.key, exc.line) == (str(path), "sample_intervall", 3)
    assert str(exc).startswith(f"{path}:3: sample_intervall: unknown setting")
    assert "sample_interval" in exc.reason  # the known keys help spot the typo


def test_unknown_table_names_its_header_line(tmp_path: Path) -> None:
    path = write(tmp_path, 'site = "x"\n\n[agent]\nsite = "y"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert (caught.value.key, caught.value.line) == ("agent", 3)


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ('sample_interval = "15"', "sample_interval"),
        ("batch_max = 1.5", "batch_max"),
        ("batch_max = true", "batch_max"),
        ("site = 5", "site"),
        ("collector_url = 8470", "collector_url"),
        ("spool_max_bytes = 2024-01-01", "spool_max_bytes"),
    ],
)
def test_wrong_type_names_key_and_line(tmp_path: Path, line: str, key: str) -> None:
    path = write(tmp_path, f'role = "vm"\n\n{line}\n')
    with pytest.raises(ConfigError, match="expected") as caught:
        load_config(path)
    assert (caught.value.key, caught.value.line) == (key, 3)


@pytest.mark.parametrize(
    "line",
    [
        "batch_max = 0",
        "batch_max = 1001",
        "sample_interval = 0",
        "send_interval = -5",
        "request_timeout = 100000",
        "spool_max_bytes = 100",
        'role = "desktop"',
        'collector_url = "ftp://collector"',
        'collector_url = "leitstand.kreis.example"',
        'agent_id = "has spaces"',
        'state_dir = ""',
    ],
)
def test_out_of_range_value_is_an_error(tmp_path: Path, line: str) -> None:
    path = write(tmp_path, line + "\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.line == 1
    assert caught.value.key == line.split(" ")[0]


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, 'site = "rathaus"\nsample_interval = = 3\n')
    with pytest.raises(ConfigError, match="not valid TOML") as caught:
        load_config(path)
    assert caught.value.line == 2


def test_role_detect_means_autodetect(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, 'role = "detect"\n')).role is None
    assert load_config(write(tmp_path, 'role = "vm"\n')).role == "vm"


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, 'ca_bundle = "ca.pem"\ntextfile_dir = "~/textfile"\n'))
    assert config.ca_bundle == tmp_path / "ca.pem"
    assert config.textfile_dir == Path.home() / "textfile"


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, 'sample_interval = 15\ncollector_url = "http://a.example"\nbatch_max = 10\n')
    env = {
        "LEITSTAND_AGENT_SAMPLE_INTERVAL": "30",
        "LEITSTAND_AGENT_COLLECTOR_URL": "https://b.example",
        "LEITSTAND_AGENT_SPOOL_MAX_BYTES": "1048576",
        "LEITSTAND_AGENT_STATE_DIR": str(tmp_path / "state"),
    }
    config = load_config(path, env=env)
    assert config.sample_interval == 30.0
    assert config.collector_url == "https://b.example"
    assert config.batch_max == 10  # not overridden: the file's value
    assert config.spool_max_bytes == 1048576
    assert config.state_dir == tmp_path / "state"


def test_empty_environment_variable_unsets_an_optional_setting(tmp_path: Path) -> None:
    path = write(tmp_path, 'ca_bundle = "/etc/leitstand/ca.pem"\n')
    assert load_config(path, env={"LEITSTAND_AGENT_CA_BUNDLE": ""}).ca_bundle is None


def test_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(env={"LEITSTAND_AGENT_BATCH_MAX": "lots"}, is_root=False)
    assert (caught.value.source, caught.value.key) == ("environment", "LEITSTAND_AGENT_BATCH_MAX")
    assert str(caught.value) == "environment: LEITSTAND_AGENT_BATCH_MAX: expected an integer, got 'lots'"


def test_unknown_environment_variable_is_an_error() -> None:
    with pytest.raises(ConfigError, match="unknown setting") as caught:
        load_config(env={"LEITSTAND_AGENT_SAMPLE_INTERVALL": "30"}, is_root=False)
    assert caught.value.key == "LEITSTAND_AGENT_SAMPLE_INTERVALL"


def test_environment_of_the_process_is_used_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEITSTAND_AGENT_SITE", "bauhof")
    assert load_config(is_root=False).site == "bauhof"


# -- default locations ---------------------------------------------------------


def test_default_config_path_for_users_and_root(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path / "cfg"), "HOME": str(tmp_path)}
    etc = tmp_path / "etc" / "agent.toml"
    user = tmp_path / "cfg" / "leitstand" / "agent.toml"
    assert default_config_path(env, is_root=False, etc_path=etc) == user
    assert default_config_path(env, is_root=True, etc_path=etc) == user  # /etc file absent
    etc.parent.mkdir()
    etc.write_text("")
    assert default_config_path(env, is_root=True, etc_path=etc) == etc
    assert default_config_path(env, is_root=False, etc_path=etc) == user


def test_relative_xdg_variables_are_ignored(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": "relative/cfg", "XDG_STATE_HOME": "relative/state", "HOME": str(tmp_path)}
    assert default_config_path(env, is_root=False) == tmp_path / ".config" / "leitstand" / "agent.toml"
    assert default_state_dir(env, is_root=False) == tmp_path / ".local" / "state" / "leitstand-agent"


def test_default_state_dir(tmp_path: Path) -> None:
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}
    assert default_state_dir(env, is_root=False) == tmp_path / "state" / "leitstand-agent"
    assert default_state_dir(env, is_root=True) == Path("/var/lib/leitstand-agent")
    # systemd's StateDirectory= wins: the service runs as its own user, not as root.
    systemd = {**env, "STATE_DIRECTORY": "/var/lib/leitstand-agent:/var/lib/other"}
    assert default_state_dir(systemd, is_root=False) == Path("/var/lib/leitstand-agent")


@pytest.mark.parametrize(
    ("program_data", "expected"),
    [
        (r"C:\ProgramData", r"C:\ProgramData\Leitstand"),
        (r"D:\Daten\ProgramData", r"D:\Daten\ProgramData\Leitstand"),
        (None, r"C:\ProgramData\Leitstand"),  # not set (a stripped service environment)
        ("ProgramData", r"C:\ProgramData\Leitstand"),  # relative: ignored like a relative XDG variable
    ],
)
def test_windows_keeps_config_and_state_under_program_data(program_data: str | None, expected: str) -> None:
    env = {"XDG_CONFIG_HOME": "/home/x/.config", "STATE_DIRECTORY": "/var/lib/x"}  # not consulted on Windows
    if program_data is not None:
        env["ProgramData"] = program_data
    base = PureWindowsPath(expected)
    assert PureWindowsPath(windows_data_dir(env)) == base
    for is_root in (False, True):
        config = default_config_path(env, is_root=is_root, platform="win32")
        state = default_state_dir(env, is_root=is_root, platform="win32")
        assert PureWindowsPath(config) == base / "agent.toml"
        assert PureWindowsPath(state) == base / "state"


def test_the_spool_lives_in_the_windows_state_dir() -> None:
    state = default_state_dir({"ProgramData": r"C:\ProgramData"}, platform="win32")
    config = AgentConfig(state_dir=state)
    assert PureWindowsPath(config.spool_path) == PureWindowsPath(r"C:\ProgramData\Leitstand\state\spool.sqlite")
    assert PureWindowsPath(config.token_path) == PureWindowsPath(r"C:\ProgramData\Leitstand\state\token")


def test_find_key_line_respects_tables() -> None:
    text = 'site = "a"  # top\n\n[snmp]\nsite = "b"\n[snmp.devices]\n"site" = "c"\n'
    assert find_key_line(text, (), "site") == 1
    assert find_key_line(text, ("snmp",), "site") == 4
    assert find_key_line(text, ("snmp", "devices"), "site") == 6
    assert find_key_line(text, (), "snmp") == 3
    assert find_key_line(text, (), "absent") is None
