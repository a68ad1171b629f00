"""Device config, secrets that never leak, the probe command, and pysnmp loaded only with devices."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from agent import wire
from agent.config import ConfigError, load_config
from agent.snmp.devices import Secret
from agent.snmp.printer import decode_brother_counters
from agent.snmp.profiles import reading
from agent.snmp.values import Snapshot, Val
from tests.snmp.servers import SnmpSim
from tests.support import leitstand, run_cli

SECRETS = ("community-geheim", "auth-geheim-123", "priv-geheim-456")


def write(tmp_path: Path, text: str, name: str = "agent.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_devices_and_secrets_from_file_and_environment(tmp_path: Path) -> None:
    write(tmp_path, '[drucker]\ncommunity = "community-geheim"\n[usv]\nauth_key = "auth-geheim-123"\n', "secrets.toml")
    config = write(
        tmp_path,
        'snmp_secrets_file = "secrets.toml"\nsnmp_concurrency = 8\n'
        '[[devices]]\nid = "drucker"\naddress = "10.1.2.30"\nkind = "printer"\n'
        '[[devices]]\nid = "usv"\naddress = "10.1.2.40:1161"\nport = 1161\nversion = "3"\nuser = "leitstand"\n'
        'auth = "sha512"\npriv = "aes256"\npriv_key_env = "USV_PRIV"\ninterval = 60\n',
    )
    cfg = load_config(config, env={"USV_PRIV": "priv-geheim-456"}, is_root=False)
    drucker, usv = cfg.devices
    assert cfg.snmp_concurrency == 8
    assert drucker.community == Secret("community-geheim") and drucker.kind == "printer" and drucker.port == 161
    assert usv.v3 is not None and usv.v3.level == "authPriv" and usv.interval == 60.0
    assert usv.v3.priv_key is not None and usv.v3.priv_key.reveal() == "priv-geheim-456"
    text = repr(cfg) + str(cfg.devices)
    for secret in SECRETS:
        assert secret not in text


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('id = "a"\naddress = "x"\ncommunity = "c"\nkind = "fax"', "devices[0] (a).kind: expected one of"),
        ('id = "a"\naddress = "x"', "devices[0] (a).community: required for SNMP v2c"),
        ('id = "a"\naddress = "x"\nversion = "3"\nuser = "u"\nauth = "md5"', "devices[0] (a).auth: expected one of"),
        ('id = "a"\naddress = "x"\ncommunity_env = "NOPE"', "environment variable NOPE is not set"),
        ('id = "a"\naddress = "x"\ncommunity = "c"\ncomunity = "d"', "devices[0].comunity: unknown setting"),
        ('id = "a"\naddress = "x"\nversion = "3"\nuser = "u"\nauth = "sha"\nauth_key = "short"', "at least 8"),
    ],
)
def test_bad_device_config_names_file_line_and_key(tmp_path: Path, entry: str, message: str) -> None:
    path = write(tmp_path, f"site = 'x'\n\n[[devices]]\n{entry}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={}, is_root=False)
    assert message in str(info.value)
    assert f"{path}:3" in str(info.value)


def test_broken_secrets_file_does_not_echo_its_content(tmp_path: Path) -> None:
    write(tmp_path, '[drucker]\ncommunity = "community-geheim\n', "secrets.toml")
    path = write(tmp_path, 'snmp_secrets_file = "secrets.toml"\n[[devices]]\nid = "drucker"\naddress = "x"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, env={}, is_root=False)
    assert "not valid TOML" in str(info.value) and "community-geheim" not in str(info.value)


def test_brother_counter_blob_and_bad_blob() -> None:
    blob = bytes.fromhex("0001040000134b02010400000c69010104000006e2ff")
    assert decode_brother_counters(blob) == {0: 4939, 2: 3177, 1: 1762}
    with pytest.raises(ValueError, match="unexpected record header"):
        decode_brother_counters(bytes.fromhex("00020400000001ff"))


def test_out_of_bounds_values_never_break_the_report() -> None:
    """A page counter of -5 (an Integer where a Counter belongs) is dropped, not sent."""
    from agent.snmp.devices import parse_devices
    from agent.snmp.poller import _validated

    device = parse_devices([{"id": "p", "address": "x", "community": "c"}], env={})[0]
    snap = Snapshot(
        scalars={"1.3.6.1.2.1.1.3.0": Val("ticks", 100)},
        columns={"1.3.6.1.2.1.43.10.2.1.4": {"1.1": Val("int", -5)}},
    )
    result = _validated(reading(device, "printer", snap, 1.8e9), device, "printer", 1.8e9)
    assert result.printer is not None and result.printer.pages_total is None
    wire.decode_batch(
        wire.encode(
            {
                "agent": {"id": "a", "hostname": "h"},
                "reports": [{"seq": 1, "ts": 1.8e9, "interval_s": 1, "snmp": [result]}],
            }
        )
    )


def test_probe_prints_the_wire_reading(snmpsim: SnmpSim, tmp_path: Path) -> None:
    result = run_cli(
        leitstand("leitstand-agent"),
        "snmp",
        "probe",
        f"127.0.0.1:{snmpsim.port}",
        "--community",
        "kyocera_cs-4053ci",
        "--id",
        "drucker-og",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    parsed = wire.decode_json(__import__("msgspec").json.Decoder(wire.SnmpReading), result.stdout.encode(), "reading")
    assert parsed.device == "drucker-og" and parsed.kind == "printer"
    assert data["printer"]["pages_total"] == 76498
    assert data["printer"]["pages_mono"] == 36347 and data["printer"]["pages_color"] == 39717
    text = run_cli(
        leitstand("leitstand-agent"),
        "snmp",
        "probe",
        f"127.0.0.1:{snmpsim.port}",
        "--community",
        "eaton_connectups-ups",
    )
    assert text.returncode == 0 and "charge_pct:" in text.stdout and "xups" in text.stdout


def test_probe_of_a_dead_device_exits_4_and_hides_the_community(tmp_path: Path) -> None:
    from tests.snmp.servers import free_udp_port

    result = run_cli(
        leitstand("leitstand-agent"),
        "snmp",
        "probe",
        f"127.0.0.1:{free_udp_port()}",
        "--community",
        "community-geheim",
        "--timeout",
        "0.2",
        "--retries",
        "0",
    )
    assert result.returncode == 4
    assert "no response (timeout)" in result.stdout
    assert "community-geheim" not in result.stdout + result.stderr


def test_probe_without_credentials_is_a_usage_error() -> None:
    result = run_cli(leitstand("leitstand-agent"), "snmp", "probe", "10.0.0.1")
    assert result.returncode == 2 and "--community" in result.stderr


def test_pysnmp_is_imported_only_when_devices_are_configured(tmp_path: Path) -> None:
    plain = write(tmp_path, 'site = "x"\n', "plain.toml")
    code = (
        "import sys; from agent import cli; from agent.config import load_config; "
        "c = load_config(sys.argv[1]); print(len(c.devices), any(m.startswith('pysnmp') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(plain)], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "False"]


def test_run_logs_never_show_secrets(snmpsim: SnmpSim, caplog: pytest.LogCaptureFixture) -> None:
    import asyncio

    from agent.snmp.devices import parse_devices
    from agent.snmp.poller import Poller, poll_once

    caplog.set_level(logging.DEBUG)
    device = parse_devices(
        [
            {
                "id": "x",
                "address": "127.0.0.1",
                "port": snmpsim.port,
                "community": "community-geheim",
                "timeout": 0.2,
                "retries": 0,
            }
        ],
        env={},
    )
    reading_ = asyncio.run(poll_once(device))[0]
    poller = Poller(device, default_interval=60)
    assert not reading_.ok
    assert "community-geheim" not in caplog.text + repr(poller.devices) + wire.encode(reading_).decode()
