"""The SNMP side of the live fleet: snmpsim serves a copy of a recording of a real device
per simulated one (package data in `recordings/`, licences in its README), with page,
uptime and octet counters that advance with the clock, polled by the agent's own poller."""

from __future__ import annotations

import asyncio
import bz2
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from agent.wire import SnmpReading

if TYPE_CHECKING:  # the agent's poller needs pysnmp: imported where the farm starts it
    from agent.snmp.poller import Poller

from .model import OFFICE, OfficeHours, SimHost
from .procs import SimError, console_script, die_with_parent, free_udp_port

#: Recordings of real printers, UPS units and switches (snmprec files, community = device id)
#: that the demo serves: package data, licence-compatible with Apache-2.0 (README.md there).
RECORDINGS_DIR = "recordings"
#: The served counters (pages, uptime, octets) advance from their recorded values at this
#: instant (2026-01-01 00:00 UTC), as a function of the clock alone: a restarted simulator
#: continues them instead of turning them back, which the collector would take for a reboot.
SNMP_EPOCH = 1767225600.0
#: Pages are added in whole steps, all page counters of a printer at the same instants, so
#: the total stays mono + colour as the device counts them.
PAGE_TICK_S = 60.0

_LIFE_COUNT = "1.3.6.1.2.1.43.10.2.1.4.1.1"  # prtMarkerLifeCount of marker 1.1
_SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
_IF_TYPE = "1.3.6.1.2.1.2.2.1.3."
_IF_OPER = "1.3.6.1.2.1.2.2.1.8."
_IF_NAME = "1.3.6.1.2.1.31.1.1.1.1."
#: octet counter columns -> (direction, 64-bit)
_OCTETS = {
    "1.3.6.1.2.1.2.2.1.10.": ("in", False),  # ifInOctets
    "1.3.6.1.2.1.2.2.1.16.": ("out", False),  # ifOutOctets
    "1.3.6.1.2.1.31.1.1.1.6.": ("in", True),  # ifHCInOctets
    "1.3.6.1.2.1.31.1.1.1.10.": ("out", True),  # ifHCOutOctets
}
#: bytes per second on an uplink and on another port that is up: (in, out)
_UPLINK_BPS = (2_000_000, 1_500_000)
_PORT_BPS = (300_000, 200_000)
_INTEGER_TAGS = {"2", "65", "66", "67", "70"}


@dataclass(frozen=True)
class Recording:
    """A recording of a real device that snmpsim serves for a simulated one."""

    #: file name in collector/sim/recordings (`.bz2`: compressed)
    file: str
    kind: Literal["printer", "ups", "switch"]
    #: page counter OID -> pages it gains per PAGE_TICK_S (the OIDs of `<name>.expected.json`)
    pages: tuple[tuple[str, int], ...] = ()
    #: switch interfaces that are uplinks (names, as the [[devices]] key `uplinks` takes them)
    uplinks: tuple[str, ...] = ()
    colour: bool = False

    def resource(self) -> Traversable | None:
        """The recording in the installed package, or None when it is missing."""
        found = resources.files(__package__) / RECORDINGS_DIR / self.file
        return found if found.is_file() else None


#: Which recording serves which simulated device (SimDevice.recording).
RECORDINGS: dict[str, Recording] = {
    # Kyocera CS 4053ci (MIT, printmaster): prtMarkerLifeCount, the printer-function total,
    # pages by colour mode (printer B&W .1.1, printer full colour .1.3; the poller reads
    # mono = mode 1, colour = modes 2+3) and the device's total printed; 1 mono + 1 colour page per tick.
    "kyocera": Recording("kyocera_cs-4053ci.snmprec", "printer", colour=True, pages=(
        (_LIFE_COUNT, 2),
        ("1.3.6.1.4.1.1347.42.3.1.1.1.1.1", 2),
        ("1.3.6.1.4.1.1347.42.3.1.2.1.1.1.1", 1),
        ("1.3.6.1.4.1.1347.42.3.1.2.1.1.1.3", 1),
        ("1.3.6.1.4.1.1347.43.10.1.1.12.1.1", 2),
    )),
    # Kyocera ECOSYS P2040dw (MIT, printmaster), a mono laser printer: prtMarkerLifeCount and
    # the device's total printed, 1 page per tick.
    "kyocera-p2040": Recording("kyocera_ecosys-p2040dw.snmprec", "printer", pages=(
        (_LIFE_COUNT, 1),
        ("1.3.6.1.4.1.1347.43.10.1.1.12.1.1", 1),
    )),
    # Phoenixtec (BSD-2-Clause, snmpsim-data), a small UPS speaking the standard UPS-MIB: a town hall's UPS.
    "phoenixtec": Recording("phoenixtec-power.snmprec.bz2", "ups"),
    # Eaton 93E 80 kVA (BSD-2-Clause, snmpsim-data; UPS-MIB with runtime): a data centre's UPS.
    "eaton-93e": Recording("eaton-93e-80.snmprec.bz2", "ups"),
    # Cisco Catalyst 3560 (BSD-2-Clause, snmpsim-data; IF-MIB with 64-bit counters; Gi0/49 and
    # Gi0/50 are up): every switch.
    "cisco-c3560": Recording("cisco-c3560.snmprec.bz2", "switch", uplinks=("Gi0/49", "Gi0/50")),
}  # fmt: skip


def read_recording(rec: Recording) -> str:
    """The recording's text (decompressed), or SimError when the package lacks it."""
    found = rec.resource()
    if found is None:
        raise SimError(f"recording {rec.file} missing from the package (collector/sim/{RECORDINGS_DIR})")
    data = found.read_bytes()
    return (bz2.decompress(data) if rec.file.endswith(".bz2") else data).decode("iso-8859-1")


def _numeric(oid: str, tag: str, **settings: object) -> str:
    """`oid|tag:numeric|k=v,...`, a line for snmpsim's numeric variation module
    (snmpsim/variation/numeric.py), with `atime`: value = initial + function(now * rate) *
    scale + offset, clamped to [min, max] (or wrapped with `wrap`)."""
    return f"{oid}|{tag}:numeric|" + ",".join(f"{k}={v}" for k, v in settings.items())


def variated_recording(
    text: str,
    rec: Recording,
    *,
    epoch: float,
    tick_s: float = PAGE_TICK_S,
    speed: float = 1.0,
    hours: OfficeHours = OFFICE,
    now: float | None = None,
) -> tuple[str, dict[str, int]]:
    """The recording with its counters advancing from their recorded values at `epoch`:
    sysUpTime and the octet counters of the interfaces that are up (uplinks faster, scaled
    by `speed`) with the clock, in snmpsim's `numeric` module; the page counters (rec.pages,
    whole steps every `tick_s` in office `hours`) are writable (`writecache`), set to their
    value at `now` here and kept current by the farm's page writer, since offices print in
    office hours only, which no `numeric` function expresses. Every other line is served as
    recorded. Returns the text and the recorded values of the changed OIDs."""
    rows: list[tuple[str, str, str] | str] = []
    for line in text.split("\n"):
        parts = line.rstrip("\r").split("|", 2)
        rows.append((parts[0], parts[1], parts[2]) if len(parts) == 3 else line.rstrip("\r"))
    column = {oid: (tag, value) for row in rows if isinstance(row, tuple) for oid, tag, value in [row]}

    def text_of(oid: str) -> str:
        tag, value = column.get(oid, ("4", ""))
        return bytes.fromhex(value).decode("iso-8859-1") if tag.endswith("x") else value

    up: dict[str, bool] = {}  # ifIndex -> uplink
    for oid, (_, value) in column.items():
        if oid.startswith(_IF_OPER) and value.strip() == "1":
            index = oid[len(_IF_OPER) :]
            if text_of(_IF_TYPE + index).strip() not in ("1", "24"):  # not "other" (Null0), not loopback
                up[index] = text_of(_IF_NAME + index) in rec.uplinks
    pages = dict(rec.pages)
    printed = hours.ticks(epoch, time.time() if now is None else now, tick_s)
    started: dict[str, int] = {}
    out: list[str] = []
    for row in rows:
        if isinstance(row, str):
            out.append(row)
            continue
        oid, tag, value = row
        numeric = tag in _INTEGER_TAGS and value.strip().lstrip("-").isdigit()
        initial = int(value) if numeric else 0
        if numeric and oid in pages:
            out.append(f"{oid}|{tag}:writecache|value={initial + pages[oid] * printed}")
        elif numeric and oid == _SYS_UPTIME:
            out.append(_numeric(oid, tag, rate=100, offset=repr(-100 * epoch), initial=initial, min=initial, atime=1))
        elif numeric and (col := next((c for c in _OCTETS if oid.startswith(c)), None)) and oid[len(col) :] in up:
            direction, wide = _OCTETS[col]
            bps = round((_UPLINK_BPS if up[oid[len(col) :]] else _PORT_BPS)[direction == "out"] * speed)
            if wide:
                out.append(_numeric(oid, tag, rate=bps, offset=-bps * epoch, initial=initial, min=initial, atime=1))
            else:  # Counter32 wraps, as the device's does
                out.append(_numeric(oid, tag, rate=bps, offset=-bps * epoch, initial=initial, atime=1, wrap=1))
        else:
            if tag == "4" and value != value.strip():  # snmpsim strips lines: keep blanks, as hex
                tag, value = "4x", value.encode("iso-8859-1").hex()
            out.append(f"{oid}|{tag}|{value}")
            continue
        started[oid] = initial
    return "\n".join(out), started


@dataclass
class SnmpFarm:
    """snmpsim on a free UDP port serving a variated copy of a recording per served device
    (community = device id), and per polling host the agent's own SNMP poller
    (agent.snmp.poller.Poller, as `leitstand-agent run` starts it for [[devices]])."""

    port: int
    epoch: float
    tick_s: float
    work: Path
    process: subprocess.Popen[bytes]
    #: device id -> key of RECORDINGS
    served: dict[str, str]
    #: device id -> {OID: recorded value} of the counters that advance
    started: dict[str, dict[str, int]]
    #: device id -> {OID: snmprec tag} of the counters that advance
    tags: dict[str, dict[str, str]]
    #: device id -> its [[devices]] entry, as in the polling agent's config
    entries: dict[str, dict[str, Any]]
    #: agent id -> poller of that host's served devices
    pollers: dict[str, Poller] = field(default_factory=dict)
    #: when the printers print (their page counters advance)
    hours: OfficeHours = OFFICE
    _tmp: tempfile.TemporaryDirectory[str] | None = None
    _pages_stop: threading.Event = field(default_factory=threading.Event)
    _pages_thread: threading.Thread | None = None
    _pages_current: threading.Event = field(default_factory=threading.Event)

    def page_counters(self) -> dict[str, list[tuple[str, str, int, int]]]:
        """Printer device id -> its page counters: (OID, snmprec tag, pages per tick, recorded value)."""
        out: dict[str, list[tuple[str, str, int, int]]] = {}
        for device, key in self.served.items():
            rec = RECORDINGS[key]
            tags = self.tags.get(device, {})
            out[device] = [(oid, tags[oid], k, self.started[device][oid]) for oid, k in rec.pages if oid in tags]
        return {d: c for d, c in out.items() if c}

    def pages_at(self, ts: float) -> int:
        """Page ticks in office hours from the epoch to `ts` (each counter gains its pages per tick)."""
        return self.hours.ticks(self.epoch, ts, self.tick_s)

    def start_page_writer(self) -> None:
        """Keep the printers' page counters current in snmpsim (SNMP SET into `writecache`);
        returns once they are (the served file holds their value at the farm's start)."""
        if self._pages_thread is None and self.page_counters():
            self._pages_thread = threading.Thread(target=self._write_pages, name="sim-pages", daemon=True)
            self._pages_thread.start()
            if not self._pages_current.wait(30):
                raise SimError(f"snmpsim did not take the page counters within 30 s: {self.log_tail()}")

    def _write_pages(self) -> None:
        asyncio.run(self._page_loop())

    async def _page_loop(self) -> None:
        from pysnmp.hlapi.v3arch.asyncio import (
            CommunityData,
            ContextData,
            Counter32,
            Counter64,
            Gauge32,
            Integer32,
            ObjectIdentity,
            ObjectType,
            UdpTransportTarget,
            set_cmd,
        )

        types = {"2": Integer32, "65": Counter32, "66": Gauge32, "70": Counter64}
        counters = self.page_counters()
        from pysnmp.proto.rfc1902 import ObjectName

        from agent.snmp.engine import Engine

        # the agent's engine: OIDs resolve against an empty MIB view, never through pysmi
        agent_engine = Engine()
        engine = agent_engine.snmp
        mib_view = engine.cache["mibViewController"]
        target = await UdpTransportTarget.create(("127.0.0.1", self.port), timeout=1, retries=1)
        written: dict[str, int] = {}
        try:
            while not self._pages_stop.is_set():
                ticks = self.pages_at(time.time())
                for device, rows in counters.items():
                    if written.get(device) == ticks:
                        continue
                    binds = [
                        ObjectType(ObjectIdentity(ObjectName(oid)), types[tag](v + k * ticks)).resolve_with_mib(
                            mib_view
                        )
                        for oid, tag, k, v in rows
                    ]
                    error, status, _, _ = await set_cmd(
                        engine, CommunityData(device), target, ContextData(), *binds, lookupMib=False
                    )
                    if not error and not status:
                        written[device] = ticks
                if len(written) == len(counters):
                    self._pages_current.set()
                # a quarter tick (at most a second): a poll sees a new page within that
                await asyncio.to_thread(self._pages_stop.wait, min(1.0, self.tick_s / 4))
        finally:
            agent_engine.close()

    def wait_ready(self, deadline_s: float = 120.0) -> float:
        """Poll one served device until snmpsim answers (it indexes its files first); seconds it took."""
        from agent.snmp.devices import parse_devices
        from agent.snmp.poller import poll_once

        first = next(iter(self.served))
        probe = {**self.entries[first], "id": "ready", "kind": "generic", "timeout": 0.5, "retries": 0}
        device = parse_devices([probe], env={})[0]
        start = time.monotonic()
        while True:
            if self.process.poll() is not None:
                raise SimError(f"snmpsim exited with {self.process.returncode}: {self.log_tail()}")
            if asyncio.run(poll_once([device]))[0].ok:
                return time.monotonic() - start
            if time.monotonic() - start > deadline_s:
                raise SimError(f"snmpsim not answering after {deadline_s:.0f} s: {self.log_tail()}")
            time.sleep(0.1)  # polling interval

    def log_tail(self) -> str:
        log = self.work / "snmpsim.log"
        return log.read_text(errors="replace")[-1500:] if log.exists() else ""

    def start_pollers(self, hosts: Sequence[SimHost], interval: float) -> None:
        from agent.snmp.devices import parse_devices
        from agent.snmp.poller import Poller

        self.start_page_writer()
        for h in hosts:
            mine = [self.entries[d.device] for d in h.devices if d.device in self.served]
            if mine:
                poller = Poller(parse_devices(mine, env={}), default_interval=interval)
                poller.start()
                self.pollers[h.agent_id] = poller

    def drain(self, h: SimHost) -> list[SnmpReading]:
        """The readings of the host's served devices finished since the last call (SnmpSampler does the same)."""
        poller = self.pollers.get(h.agent_id)
        return list(poller.drain()) if poller is not None else []

    def close(self) -> None:
        self._pages_stop.set()
        if self._pages_thread is not None:
            self._pages_thread.join(10)
        for poller in self.pollers.values():
            poller.stop()
        self.pollers.clear()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


#: the console script of PyPI snmpsim (extra `demo`)
SNMPSIM = "snmpsim-command-responder"


def snmpsim_missing() -> str | None:
    """Why snmpsim cannot serve the recordings here, or None."""
    if console_script(SNMPSIM) is None:
        return f"{SNMPSIM} not installed (pip install 'leitstand[demo]')"
    try:
        import pysnmp  # noqa: F401
    except ImportError:
        return "pysnmp not installed, the agent cannot poll (pip install 'leitstand[demo]')"
    return None


def start_snmp_farm(
    hosts: Sequence[SimHost],
    *,
    epoch: float = SNMP_EPOCH,
    tick_s: float = PAGE_TICK_S,
    work: Path | None = None,
    hours: OfficeHours = OFFICE,
) -> tuple[SnmpFarm | None, str]:
    """Write the served recordings and start snmpsim (not waiting for it: SnmpFarm.wait_ready).

    Returns (farm or None, one line saying what serves the SNMP devices and why). Devices
    whose recording is not here keep synthesized readings; the devices served get `served`."""
    devices = [d for h in hosts for d in h.devices if d.recording]
    if not devices:
        return None, "fleet: no SNMP devices to serve"
    missing = snmpsim_missing()
    if missing:
        return None, f"fleet: SNMP readings synthesized: {missing}"
    tmp: tempfile.TemporaryDirectory[str] | None = None
    if work is None:
        tmp = tempfile.TemporaryDirectory(prefix="leitstand-fleet-snmpsim-")
        work = Path(tmp.name)
    data = work / "data"
    data.mkdir(parents=True, exist_ok=True)
    served: dict[str, str] = {}
    started: dict[str, dict[str, int]] = {}
    tags: dict[str, dict[str, str]] = {}
    entries: dict[str, dict[str, Any]] = {}
    absent: set[str] = set()
    texts: dict[str, str] = {}
    for d in devices:
        rec = RECORDINGS[d.recording]
        if rec.resource() is None:
            absent.add(rec.file)
            continue
        if d.recording not in texts:
            texts[d.recording] = read_recording(rec)
        speed = 0.6 + random.Random(d.device).random() * 0.8  # each switch its own traffic
        text, started[d.device] = variated_recording(
            texts[d.recording], rec, epoch=epoch, tick_s=tick_s, speed=speed, hours=hours
        )
        tags[d.device] = {
            oid: tag.split(":", 1)[0]
            for oid, tag, _ in (line.split("|", 2) for line in text.split("\n") if ":writecache|" in line)
        }
        (data / f"{d.device}.snmprec").write_bytes(text.encode("iso-8859-1"))
        served[d.device] = d.recording
    if not served:
        if tmp is not None:
            tmp.cleanup()
        return None, f"fleet: SNMP readings synthesized: recordings not found ({', '.join(sorted(absent))})"
    port = free_udp_port()
    for dev_id, key in served.items():
        rec = RECORDINGS[key]
        entry: dict[str, Any] = {"id": dev_id, "address": "127.0.0.1", "port": port, "kind": rec.kind,
                                 "community": dev_id}  # fmt: skip
        if rec.uplinks:
            entry["uplinks"] = list(rec.uplinks)
        entries[dev_id] = entry
    log = (work / "snmpsim.log").open("wb")
    try:
        process = subprocess.Popen(
            [str(console_script(SNMPSIM)), f"--data-dir={data}", f"--cache-dir={work / 'cache'}",
             f"--agent-udpv4-endpoint=127.0.0.1:{port}"],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "SNMPSIM_ALLOW_ROOT": "true"},
            preexec_fn=die_with_parent if sys.platform == "linux" else None,
        )  # fmt: skip
    finally:
        log.close()
    for d in devices:
        d.served = d.device in served
    farm = SnmpFarm(port=port, epoch=epoch, tick_s=tick_s, work=work, process=process, served=served,
                    started=started, tags=tags, entries=entries, hours=hours, _tmp=tmp)  # fmt: skip
    by_file = ", ".join(f"{dev} <- {RECORDINGS[key].file}" for dev, key in served.items())
    note = f"fleet: snmpsim on udp 127.0.0.1:{port} serves {by_file}; polled by the agent's SNMP poller"
    if absent:
        note += f"; synthesized where not found: {', '.join(sorted(absent))}"
    return farm, note
