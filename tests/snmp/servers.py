"""SNMP agents for tests: snmpsim serving recordings, and a real net-snmp snmpd.

Both are started on free UDP ports on 127.0.0.1 and found ready by polling
with a deadline (never a sleep). Recordings are copied (bz2 ones unpacked)
into a per-session temp directory; nothing of them is written into the repo.
"""

from __future__ import annotations

import asyncio
import bz2
import contextlib
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import BIN, require_tool, wait_until

REPO = Path(__file__).resolve().parents[2]
#: recordings of real printers, UPS units and switches, with sources and licences (README there)
SHARED_SNMP = Path(__file__).resolve().parent / "recordings"

# Recordings of PyPI snmpsim-data: the UPS files that carry the standard UPS-MIB
# and a 57-port switch, served as community "<name>".
SNMPSIM_DATA = {
    "eaton-93e-80": "UPS/eaton-93e-80.snmprec.bz2",
    "phoenixtec-power": "UPS/phoenixtec-power.snmprec.bz2",
    "cisco-c3560": "network/switch/cisco-c3560.snmprec.bz2",
}

V3_USERS = {
    # user: (auth protocol for snmpd, for us, priv for snmpd, for us)
    "ls-sha256": ("SHA-256", "sha256", "AES-256", "aes256"),
    "ls-sha": ("SHA", "sha", "AES", "aes128"),
    "ls-sha512": ("SHA-512", "sha512", "AES-256", "aes256"),
}
V3_AUTH_KEY = "auth-geheim-4711"
V3_PRIV_KEY = "priv-geheim-0815"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _missing(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def shared_recordings() -> Path:
    if not SHARED_SNMP.is_dir():
        _missing(f"{SHARED_SNMP} not found: the recordings of real printers, UPS and switches live in the repository")
    return SHARED_SNMP


def snmpsim_data_dir() -> Path:
    try:
        import snmpsim_data
    except ImportError:
        _missing("PyPI package snmpsim-data not installed (pip install -e '.[dev]')")
    return Path(snmpsim_data.__file__).parent / "data"


def read_snmprec(path: Path) -> dict[str, tuple[str, str]]:
    """A recording as {oid: (type tag, value text)}, read independently of the poller."""
    opener = bz2.open if path.suffix == ".bz2" else open
    out = {}
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:  # type: ignore[operator]
        for line in f:
            line = line.rstrip("\r\n")
            if not line or line.startswith("#"):
                continue
            oid, tag, value = line.split("|", 2)
            out[oid] = (tag, value)
    return out


@dataclass
class SnmpSim:
    port: int
    data_dir: Path
    process: subprocess.Popen[bytes]

    def target(self, community: str) -> dict[str, object]:
        """A [[devices]] entry for the recording served as ``community``."""
        return {"address": "127.0.0.1", "port": self.port, "community": community, "timeout": 2.0, "retries": 1}


def _poll_ready(port: int, community: str, **extra: object) -> bool:
    from agent.snmp.devices import parse_devices
    from agent.snmp.poller import poll_once

    entry = {"id": "ready", "address": "127.0.0.1", "port": port, "kind": "generic", "timeout": 0.3, "retries": 0}
    entry.update(extra)
    if "version" not in extra:
        entry["community"] = community
    device = parse_devices([entry], env={})[0]
    return asyncio.run(poll_once([device]))[0].ok


@contextlib.contextmanager
def run_snmpsim(data_dir: Path, work: Path, ready_community: str) -> Iterator[SnmpSim]:
    responder = BIN / "snmpsim-command-responder"
    if not responder.exists():
        _missing("snmpsim-command-responder not found: install PyPI snmpsim and pysmi (pip install -e '.[dev]')")
    port = free_udp_port()
    log = (work / "snmpsim.log").open("wb")
    env = dict(os.environ, SNMPSIM_ALLOW_ROOT="true")
    process = subprocess.Popen(
        [
            str(responder),
            f"--data-dir={data_dir}",
            f"--cache-dir={work / 'cache'}",
            f"--agent-udpv4-endpoint=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:

        def ready() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"snmpsim exited: {(work / 'snmpsim.log').read_text()[-2000:]}")
            return _poll_ready(port, ready_community)

        wait_until(ready, timeout=90, what="snmpsim to answer")
        yield SnmpSim(port=port, data_dir=data_dir, process=process)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        log.close()


@dataclass
class Snmpd:
    port: int

    def device(self, user: str, **over: object) -> dict[str, object]:
        _, auth, _, priv = V3_USERS[user]
        entry: dict[str, object] = {
            "address": "127.0.0.1",
            "port": self.port,
            "version": "3",
            "user": user,
            "auth": auth,
            "priv": priv,
            "auth_key": V3_AUTH_KEY,
            "priv_key": V3_PRIV_KEY,
            "timeout": 1.0,
            "retries": 1,
        }
        entry.update(over)
        return entry


@contextlib.contextmanager
def run_snmpd(work: Path) -> Iterator[Snmpd]:
    binary = require_tool("snmpd", "snmpd")
    port = free_udp_port()
    conf = work / "snmpd.conf"
    lines = [f'createUser {u} {a} "{V3_AUTH_KEY}" {p} "{V3_PRIV_KEY}"' for u, (a, _, p, _) in V3_USERS.items()]
    lines += [f"rouser {u} priv" for u in V3_USERS]
    lines += ["sysName leitstand-snmpd-test", "sysLocation Serverraum Rathaus", "sysContact it@rathaus.example"]
    conf.write_text("\n".join(lines) + "\n")
    persist = work / "persist"
    persist.mkdir(exist_ok=True)
    env = dict(os.environ, MIBS="", MIBDIRS=str(work / "no-mibs"), SNMP_PERSISTENT_DIR=str(persist))
    log = work / "snmpd.log"
    process = subprocess.Popen(
        [binary, "-f", "-C", "-c", str(conf), "-Lf", str(log), "-p", str(work / "snmpd.pid"), f"udp:127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:

        def ready() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"snmpd exited: {log.read_text()[-2000:] if log.exists() else ''}")
            snmpd = Snmpd(port)
            entry = {k: v for k, v in snmpd.device("ls-sha256").items() if k not in ("address", "port")}
            return _poll_ready(port, "", **{**entry, "timeout": 0.3, "retries": 0})

        wait_until(ready, timeout=30, what="snmpd to answer")
        yield Snmpd(port=port)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _keep_whitespace(data: bytes) -> bytes:
    """snmpsim strips each line, so a string value of blanks (Epson's error state
    0x20) would arrive empty: such values are rewritten as hex, byte for byte."""
    out = []
    for line in data.split(b"\n"):
        parts = line.rstrip(b"\r").split(b"|", 2)
        if len(parts) == 3 and parts[1] == b"4" and parts[2] != parts[2].strip():
            line = parts[0] + b"|4x|" + parts[2].hex().encode()
        out.append(line)
    return b"\n".join(out)


def copy_recordings(dest: Path) -> None:
    """The shared recordings and the chosen snmpsim-data ones, unpacked, into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for rec in shared_recordings().glob("*.snmprec"):
        (dest / rec.name).write_bytes(_keep_whitespace(rec.read_bytes()))
    data = snmpsim_data_dir()
    for name, rel in SNMPSIM_DATA.items():
        with bz2.open(data / rel, "rb") as src, (dest / f"{name}.snmprec").open("wb") as out:
            shutil.copyfileobj(src, out)
