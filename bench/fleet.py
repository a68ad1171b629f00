"""A county IT provider in a box: simulated agents speaking wire format v1 over real HTTP.

The fleet is deterministic for a seed: member municipalities (tenants), town
halls and two data centres (sites), servers and VMs, thin clients with
office-hours sessions (Europe/Berlin), and SNMP devices (printers whose page
counters grow in office hours, UPS units, switches with uplinks) whose readings
ride in the reports of the server that polls them, as a real poller's would.

Modes:

  --live   real time, for the demo: every agent reports every --interval seconds
           until Ctrl-C / SIGTERM. The SNMP devices are served by snmpsim from
           recordings of real devices (tests/snmp/recordings, PyPI snmpsim-data) whose
           page, uptime and octet counters advance with the clock, and polled by
           the agent's own SNMP poller (agent/snmp); without snmpsim or the
           recordings their readings are synthesized (one line says why).
  --soak   N agents for M simulated minutes of 60 s samples, sent as fast as the
           collector takes them (timestamps generated in the recent past, never
           slept); prints throughput, ingest latency p50/p99, collector RSS and
           database growth per host per day, then checks the metering ledger
           against the simulator's own ground truth, exactly (exit 1 if not).
           SNMP readings are synthesized: snmpsim cannot run faster than the clock.
  --collector-config FILE
           writes the collector config (TOML) that declares the --small fleet's
           KRITIS applications and data centres for failover readiness.

The --small fleet (the demo's) also runs two KRITIS applications of the county
IT provider, each with a primary in rz-vechta and a standby in rz-magdeburg
(237 km apart): fachverfahren-emw (Einwohnermeldewesen, stadt-lohne, healthy)
and finanzwesen-kasse (gemeinde-dinklage, degraded: its replication lag is above
80 % of its RPO). Their servers report backup timestamps and replication lag as
textfile samples, and in each data centre an agent polls the UPS and core switch.

Without --collector, --soak starts its own collector on a free port and a
temporary database. Examples:

  .venv/bin/python bench/fleet.py --soak --agents 200 --hours 24
  .venv/bin/python bench/fleet.py --soak --agents 20 --hours 2 --faults kill,outage,slow,malformed,diskfull
  .venv/bin/python bench/fleet.py --live --small --collector URL --enroll-token T
  .venv/bin/python bench/fleet.py --small --collector-config collector.toml
"""

from __future__ import annotations

import argparse
import asyncio
import bz2
import contextlib
import copy
import datetime as dt
import errno
import gzip
import json
import math
import os
import random
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

import httpx
import psutil

if __package__ in (None, ""):  # run as a script: make `bench._common` and the packages importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.textfile import parse_exposition
from agent.wire import (
    AgentInfo,
    Batch,
    Cpu,
    Disk,
    Interface,
    Memory,
    Nic,
    Printer,
    PrinterSupply,
    Report,
    SnmpReading,
    SnmpSys,
    TextfileSample,
    Ups,
    encode,
)
from bench._common import REPO, VENV_BIN, BenchError, ManagedProcess, free_port, http_ok, start_process, wait_ready

__all__ = [
    "KRITIS_APPS",
    "RECORDINGS",
    "SITES",
    "Fleet",
    "GroundTruth",
    "KritisApp",
    "Recording",
    "SnmpFarm",
    "build_fleet",
    "collector_config",
    "main",
    "snmpsim_missing",
    "start_snmp_farm",
    "variated_recording",
]

BERLIN = ZoneInfo("Europe/Berlin")
GIB = 2**30
MIB = 2**20
STEP_S = 60  # soak sample interval
VERSION = "0.1.0-fleet"

#: Member municipalities of a (fictional) county IT provider, and their town halls.
TOWNS = [
    ("stadt-lohne", "lohne"),
    ("gemeinde-dinklage", "dinklage"),
    ("gemeinde-steinfeld", "steinfeld"),
    ("gemeinde-goldenstedt", "goldenstedt"),
    ("stadt-damme", "damme"),
    ("gemeinde-bakum", "bakum"),
    ("gemeinde-visbek", "visbek"),
    ("gemeinde-holdorf", "holdorf"),
]
DATA_CENTRES = ("rz-vechta", "rz-magdeburg")
#: WGS 84 coordinates of the data centres (the towns they are in): 237 km apart, beyond
#: the 200 km the BSI recommends for geo-redundant sites (readiness check site_distance)
SITES: dict[str, tuple[float, float]] = {"rz-vechta": (52.7306, 8.2867), "rz-magdeburg": (52.1205, 11.6276)}


@dataclass(frozen=True)
class KritisApp:
    """A KRITIS application of a member municipality: a database primary in the first data
    centre, its standby in the second. The primary's backup job writes the time of its last
    success and the standby the replication lag into the agent's textfile directory."""

    #: application name in the collector's [[readiness.applications]]
    name: str
    title: str
    tenant_index: int
    #: host name prefix: <town>-<short>-db-1 (primary), -db-2 (standby)
    short: str
    #: label `job` of backup_last_success_timestamp_seconds
    job: str
    rpo: str
    rto: str
    mta: str
    #: a backup succeeds every this many seconds (5 minutes past the slot)
    backup_every_s: float
    #: range of the standby's replication lag, seconds
    lag_s: tuple[float, float]


#: The --small fleet's KRITIS applications: one ready, one degraded (lag above 80 % of the 1 h RPO).
KRITIS_APPS = (
    KritisApp(name="fachverfahren-emw", title="Einwohnermeldewesen", tenant_index=0, short="emw", job="emw",
              rpo="4h", rto="4h", mta="3d", backup_every_s=3600, lag_s=(0.5, 12.0)),
    KritisApp(name="finanzwesen-kasse", title="Finanzwesen / Kasse", tenant_index=1, short="kasse", job="kasse",
              rpo="1h", rto="8h", mta="5d", backup_every_s=900, lag_s=(2950.0, 3250.0)),
)  # fmt: skip

#: Meters the soak checks, with the scale the ledger stores them in (collector/metering/model.py)
#: and the decimals the usage API shows. Duplicated on purpose: the truth must not import the collector.
CHECKED: dict[str, tuple[int, int]] = {
    "cpu_core_seconds": (10**6, 3),
    "network_gib": (2**30, 6),
    "host_hours": (3_600_000, 3),
    "memory_gib_hours": (2**20 * 3600, 6),
    "storage_gib_hours": (2**20 * 3600, 6),
    "printed_pages": (1, 0),
    "printed_pages_mono": (1, 0),
    "printed_pages_color": (1, 0),
    "workplace_days": (1, 0),
}


# --- the model -----------------------------------------------------------------------------


@dataclass
class SimDevice:
    """An SNMP device polled by a host; its counters advance with simulated time (synthesized
    readings), or it is served by snmpsim from `recording` (a key of RECORDINGS) in --live."""

    device: str
    kind: Literal["printer", "ups", "switch"]
    colour: bool = False
    recording: str = ""
    #: served by snmpsim and polled by the agent's poller: sample() takes its readings from the caller
    served: bool = False
    uptime_s: float = 0.0
    pages_mono: int = 0
    pages_color: int = 0
    toner_pct: float = 100.0
    #: switch ports: [in_octets, out_octets] per port
    octets: list[list[int]] = field(default_factory=list)


@dataclass
class SimHost:
    agent_id: str
    hostname: str
    tenant_index: int
    role: Literal["server", "vm", "thin-client"]
    site: str
    cores: int
    mem_total: int
    disk_total: int
    #: share of the cores busy in office hours and outside them
    busy_day: float
    busy_night: float
    devices: list[SimDevice] = field(default_factory=list)
    boot_time: float = 0.0
    busy_ms: int = 0
    rx: int = 0
    tx: int = 0
    disk_used: int = 0
    last_ts: float | None = None
    rng: random.Random = field(default_factory=random.Random)
    #: a KRITIS database server: its application and role
    kritis: tuple[KritisApp, Literal["primary", "standby"]] | None = None


def office_hours(ts: float) -> bool:
    """Monday to Friday, 07:00-17:00 in Europe/Berlin."""
    local = dt.datetime.fromtimestamp(ts, BERLIN)
    return local.weekday() < 5 and 7 <= local.hour < 17


def build_fleet(seed: int, *, agents: int, tenants: int, small: bool = False) -> list[SimHost]:
    """The fleet for a seed: per tenant a town-hall server (which polls the town hall's
    printer, UPS and switch), VMs in the two data centres, and thin clients. The small
    fleet adds the KRITIS applications' primary and standby servers (KRITIS_APPS), the
    first of which in each data centre polls its UPS and core switch."""
    rng = random.Random(seed)
    tenants = max(1, min(tenants, len(TOWNS)))
    hosts: list[SimHost] = []

    def host(t: int, role: Literal["server", "vm", "thin-client"], site: str, name: str) -> SimHost:
        cores = {"server": rng.choice((8, 16, 32)), "vm": rng.choice((2, 4, 8)), "thin-client": 2}[role]
        mem = {"server": 64 * GIB, "vm": rng.choice((8, 16)) * GIB, "thin-client": 4 * GIB}[role]
        disk = {"server": 2000 * GIB, "vm": 200 * GIB, "thin-client": 16 * GIB}[role]
        h = SimHost(
            agent_id=f"fleet-{name}",
            hostname=name,
            tenant_index=t,
            role=role,
            site=site,
            cores=cores,
            mem_total=mem,
            disk_total=disk,
            busy_day=rng.uniform(0.15, 0.6),
            busy_night=rng.uniform(0.01, 0.1),
            rng=random.Random(f"{seed}:{name}"),
        )
        h.disk_used = (int(disk * rng.uniform(0.2, 0.7)) // MIB) * MIB
        return h

    per_tenant = [0] * tenants
    kinds: list[Literal["server", "vm", "thin-client"]] = (
        ["server", "thin-client", "vm"] if small else ["server", "thin-client", "vm", "thin-client", "vm"]
    )
    i = 0
    while len(hosts) < agents:
        t = i % tenants
        town = TOWNS[t][1]
        n = per_tenant[t]
        per_tenant[t] += 1
        role = kinds[n] if n < len(kinds) else ("thin-client" if n % 4 else "vm")
        if role == "server" and n == 0:
            h = host(t, role, f"rathaus-{town}", f"{town}-srv-01")
            printer = "kyocera" if t % 2 == 0 else "hp"  # a colour MFP, a mono laser printer
            h.devices = [
                SimDevice(f"prn-{town}-1", "printer", colour=RECORDINGS[printer].colour, recording=printer),
                SimDevice(f"ups-{town}-1", "ups", recording="eaton-connectups"),
                SimDevice(f"sw-{town}-core", "switch", octets=[[0, 0] for _ in range(4)], recording="cisco-c3560"),
            ]
            for d in h.devices:
                d.uptime_s = rng.uniform(1e5, 5e6)
                d.pages_mono = rng.randint(10_000, 90_000) if d.kind == "printer" else 0
                d.pages_color = rng.randint(1_000, 20_000) if d.kind == "printer" and d.colour else 0
        elif role == "thin-client":
            h = host(t, role, f"rathaus-{town}", f"{town}-tc-{n:03d}")
        else:
            h = host(t, role, DATA_CENTRES[n % 2], f"{town}-vm-{n:03d}")
        hosts.append(h)
        i += 1
    if small:
        hosts += _kritis_hosts(host, rng, tenants)
    return hosts


def _kritis_hosts(
    host: Callable[[int, Literal["server", "vm", "thin-client"], str, str], SimHost], rng: random.Random, tenants: int
) -> list[SimHost]:
    """Primary (first data centre) and standby (second) of each KRITIS application of the
    first `tenants` towns; the standby idles with room for the primary's load."""
    out: list[SimHost] = []
    polled: set[tuple[int, str]] = set()
    for app in KRITIS_APPS:
        if app.tenant_index >= tenants:
            continue
        town = TOWNS[app.tenant_index][1]
        for n, (role, site) in enumerate((("primary", DATA_CENTRES[0]), ("standby", DATA_CENTRES[1])), start=1):
            h = host(app.tenant_index, "server", site, f"{town}-{app.short}-db-{n}")
            h.cores, h.mem_total = 16, 64 * GIB
            h.busy_day, h.busy_night = (0.3, 0.08) if role == "primary" else (0.05, 0.03)
            h.kritis = (app, "primary" if role == "primary" else "standby")
            # The data centre's UPS and core switch, polled by each tenant's own agent: a
            # device is named within its tenant, and readiness reads the application's.
            if (app.tenant_index, site) not in polled:
                polled.add((app.tenant_index, site))
                h.devices = [
                    SimDevice(f"ups-{site}-1", "ups", recording="eaton-93e"),
                    SimDevice(f"sw-{site}-core", "switch", octets=[[0, 0] for _ in range(4)], recording="cisco-c3560"),
                ]
                for d in h.devices:
                    d.uptime_s = rng.uniform(1e6, 2e7)
            out.append(h)
    return out


# --- ground truth --------------------------------------------------------------------------


def _hour_of(ts: float) -> int:
    """The UTC hour a counter span ending at `ts` is booked into (spans are half-open on the left)."""
    hour = math.floor(ts / 3600) * 3600
    return hour - 3600 if hour == ts else hour


def _period_of_hour(hour: int) -> str:
    local = dt.datetime.fromtimestamp(hour, BERLIN)
    return f"{local.year:04d}-{local.month:02d}"


@dataclass
class GroundTruth:
    """What the ledger must contain, computed from what was sent, in the ledger's integer units.

    The simulator keeps every span inside one UTC hour (samples on whole minutes), so no
    quantity has to be split across hours: the truth is plain integer sums.
    """

    #: (tenant index, period, meter, dim) -> scaled integer
    scaled: dict[tuple[int, str, str, str], int] = field(default_factory=dict)
    workplace: set[tuple[str, dt.date]] = field(default_factory=set)

    def add(self, tenant: int, ts: float, meter: str, dim: str, scaled: int) -> None:
        if scaled:
            key = (tenant, _period_of_hour(_hour_of(ts)), meter, dim)
            self.scaled[key] = self.scaled.get(key, 0) + scaled

    def day(self, tenant: int, agent_id: str, ts: float) -> None:
        day = dt.datetime.fromtimestamp(ts, BERLIN).date()
        if (agent_id, day) not in self.workplace:
            self.workplace.add((agent_id, day))
            self.add(tenant, ts, "workplace_days", "", 1)

    def expected(self) -> dict[tuple[int, str], dict[tuple[str, str], str]]:
        """{(tenant index, period): {(meter, dim): quantity as the usage API shows it}}."""
        out: dict[tuple[int, str], dict[tuple[str, str], str]] = {}
        for (tenant, period, meter, dim), scaled in sorted(self.scaled.items()):
            scale, decimals = CHECKED[meter]
            quantum = Decimal(1).scaleb(-decimals)
            out.setdefault((tenant, period), {})[(meter, dim)] = format(
                (Decimal(scaled) / Decimal(scale)).quantize(quantum, rounding=ROUND_HALF_UP), "f"
            )
        return out


# --- sampling ------------------------------------------------------------------------------


def sample(
    h: SimHost,
    ts: float,
    interval_s: float,
    seq: int,
    truth: GroundTruth | None,
    polled: Sequence[SnmpReading] = (),
) -> Report:
    """Advance one host to `ts` and return its report; books the ground truth.

    `polled`: readings of the host's served devices (snmpsim, the agent's poller) finished
    since its last report; the other devices' readings are synthesized."""
    rng = h.rng
    day = office_hours(ts)
    share = h.busy_day if day else h.busy_night
    if h.role == "thin-client" and not day:
        share = 0.01
    busy_ms = int(h.cores * interval_s * 1000 * min(1.0, max(0.0, rng.gauss(share, share / 4))))
    scale = 50 if day else 5
    rx = rng.randint(0, 400_000) * scale
    tx = rng.randint(0, 150_000) * scale
    mem_used = (int(h.mem_total * (0.35 + 0.4 * share)) // 1024) * 1024
    h.disk_used = min(h.disk_total, h.disk_used + rng.randint(0, 64) * 1024 * (4 if day else 1))
    sessions = (1 if day else 0) if h.role == "thin-client" else (rng.randint(0, 2) if h.role == "server" else 0)
    first = h.last_ts is None
    h.busy_ms += busy_ms
    h.rx += rx
    h.tx += tx
    if truth is not None:
        t = h.tenant_index
        covered = interval_s if first or h.last_ts is None else ts - h.last_ts
        truth.add(t, ts, "host_hours", h.role, round(covered * 1000))
        truth.add(t, ts, "memory_gib_hours", "", mem_used // 1024 * round(covered))
        truth.add(t, ts, "storage_gib_hours", "", h.disk_used // 1024 * round(covered))
        if not first:
            truth.add(t, ts, "cpu_core_seconds", "", busy_ms * 1000)
            truth.add(t, ts, "network_gib", "", rx + tx)
        if h.role == "thin-client" and sessions:
            truth.day(t, h.agent_id, ts)
    snmp = [_poll(d, ts, interval_s, day, first, h.tenant_index, truth) for d in h.devices if not d.served]
    snmp += polled
    h.last_ts = ts
    return Report(
        seq=seq,
        ts=ts,
        interval_s=interval_s,
        cpu=Cpu(count=h.cores, percent=round(100 * busy_ms / (h.cores * interval_s * 1000), 1),
                busy_seconds_total=h.busy_ms / 1000),
        memory=Memory(total_bytes=h.mem_total, used_bytes=mem_used),
        disks=[Disk(mount="/", device="sda1", total_bytes=h.disk_total, used_bytes=h.disk_used,
                    read_bytes_total=h.rx // 3, write_bytes_total=h.tx // 2)],
        net=[Nic(nic="eth0", rx_bytes_total=h.rx, tx_bytes_total=h.tx)],
        load1=round(h.cores * share, 2),
        sessions=sessions,
        textfile=_textfile(h, ts),
        snmp=snmp,
    )  # fmt: skip


#: Seconds past its slot a backup job finishes.
BACKUP_OFFSET_S = 300


def _textfile(h: SimHost, ts: float) -> list[TextfileSample]:
    """What a KRITIS server's textfile directory holds at `ts`, read by the agent's parser:
    the primary's backup job writes its last success, the standby its replication lag."""
    if h.kritis is None:
        return []
    app, role = h.kritis
    if role == "primary":
        slot = math.floor((ts - BACKUP_OFFSET_S) / app.backup_every_s) * app.backup_every_s + BACKUP_OFFSET_S
        text = (
            "# HELP backup_last_success_timestamp_seconds Unix time of the last successful backup.\n"
            "# TYPE backup_last_success_timestamp_seconds gauge\n"
            f'backup_last_success_timestamp_seconds{{job="{app.job}"}} {slot:.0f}\n'
        )
    else:
        lag = h.rng.uniform(*app.lag_s)
        text = (
            "# HELP pg_replication_lag_seconds Replay lag of this standby behind its primary.\n"
            "# TYPE pg_replication_lag_seconds gauge\n"
            f"pg_replication_lag_seconds {lag:.1f}\n"
        )
    return parse_exposition(text).samples


def _poll(
    d: SimDevice, ts: float, interval_s: float, day: bool, first: bool, tenant: int, truth: GroundTruth | None
) -> SnmpReading:
    """One SNMP reading, modelled on the recordings in tests/snmp/recordings (Brother, Eaton, EdgeSwitch)."""
    d.uptime_s += interval_s
    sys_ = SnmpSys(descr=_DESCR[d.kind], name=d.device, uptime_s=round(d.uptime_s, 2))
    if d.kind == "printer":
        rng = random.Random(f"{d.device}:{ts}")
        mono = rng.randint(0, 6) if day else 0
        color = rng.randint(0, 2) if day and d.colour else 0
        d.pages_mono += mono
        d.pages_color += color
        d.toner_pct = max(3.0, d.toner_pct - 0.002 * (mono + color))
        if truth is not None and not first:
            truth.add(tenant, ts, "printed_pages", "", mono + color)
            truth.add(tenant, ts, "printed_pages_mono", "", mono)
            truth.add(tenant, ts, "printed_pages_color", "", color)
        printer = Printer(
            pages_total=d.pages_mono + d.pages_color,
            pages_mono=d.pages_mono,
            pages_color=d.pages_color if d.colour else None,
            pages_source="printer-mib+brother" if d.colour else "printer-mib+hp",
            model="Brother HL-L8260CDW series" if d.colour else "HP LaserJet MFP M130nw",
            serial="U64641E7J134163" if d.colour else "VNCRC48198",
            device_status="running",
            printer_status="printing" if mono + color else "idle",
            supplies=[
                PrinterSupply(index="1.1", description="Black Toner Cartridge", type="toner",
                              supply_class="consumed", unit="percent", level_raw=int(d.toner_pct),
                              max_capacity_raw=100, percent=round(d.toner_pct, 1)),
            ],
        )  # fmt: skip
        return SnmpReading(device=d.device, kind="printer", ts=ts, sys=sys_, printer=printer)
    if d.kind == "ups":
        ups = Ups(
            source="xups", on_battery=False, output_source="normal", battery_status="normal",
            charge_pct=100.0, runtime_s=2700.0, load_pct=31.0 if day else 22.0, battery_voltage_v=78.0,
            input_voltage_v=228.0, input_frequency_hz=50.0, output_voltage_v=230.0, output_frequency_hz=50.0,
        )  # fmt: skip
        return SnmpReading(device=d.device, kind="ups", ts=ts, sys=sys_, ups=ups)
    interfaces = []
    for i, port in enumerate(d.octets):
        uplink = i < 2
        port[0] += int((2_000_000 if uplink else 300_000) * interval_s * (1 if day else 0.1))
        port[1] += int((1_500_000 if uplink else 200_000) * interval_s * (1 if day else 0.1))
        interfaces.append(
            Interface(index=i + 1, name=f"0/{i + 1}", descr=f"Slot: 0 Port: {i + 1} Gigabit - Level",
                      alias="uplink rz" if uplink else "", type=6, admin_status="up", oper_status="up",
                      speed_bps=10**9, in_octets_total=port[0], out_octets_total=port[1], uplink=uplink)
        )  # fmt: skip
    return SnmpReading(device=d.device, kind="switch", ts=ts, sys=sys_, interfaces=interfaces)


_DESCR = {
    "printer": "Brother NC-8700w, Firmware Ver.Y  ,MID 84E-822",
    "ups": "ConnectUPS Web/SNMP Card V4.38",
    "switch": "EdgeSwitch 48-Port, 1.7.1.4993748, Linux 3.6.5-f4a26ed5",
}


# --- SNMP devices served by snmpsim ---------------------------------------------------------

#: Recordings of real printers, UPS units and switches (snmprec files, community = file stem),
#: with their sources and licences in the README there; tests and the demo read them from here.
SHARED_SNMP = REPO / "tests" / "snmp" / "recordings"
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

    #: file name: in tests/snmp/recordings, or under snmpsim_data/data (PyPI snmpsim-data)
    file: str
    source: Literal["shared", "snmpsim-data"]
    kind: Literal["printer", "ups", "switch"]
    #: page counter OID -> pages it gains per PAGE_TICK_S (the OIDs of `<name>.expected.json`)
    pages: tuple[tuple[str, int], ...] = ()
    #: switch interfaces that are uplinks (names, as the [[devices]] key `uplinks` takes them)
    uplinks: tuple[str, ...] = ()
    colour: bool = False

    def path(self) -> Path | None:
        """Where the recording is here, or None."""
        if self.source == "shared":
            path = SHARED_SNMP / self.file
        else:
            try:
                import snmpsim_data  # type: ignore[import-untyped]
            except ImportError:
                return None
            path = Path(snmpsim_data.__file__).parent / "data" / self.file
        return path if path.is_file() else None


#: Which recording serves which simulated device (SimDevice.recording).
RECORDINGS: dict[str, Recording] = {
    # Kyocera CS 4053ci: prtMarkerLifeCount, the printer-function total, pages by colour mode
    # (printer B&W .1.1, printer full colour .1.3; the poller reads mono = mode 1, colour = modes 2+3)
    # and the device's total printed; 1 mono + 1 colour page per tick.
    "kyocera": Recording("kyocera_cs-4053ci.snmprec", "shared", "printer", colour=True, pages=(
        (_LIFE_COUNT, 2),
        ("1.3.6.1.4.1.1347.42.3.1.1.1.1.1", 2),
        ("1.3.6.1.4.1.1347.42.3.1.2.1.1.1.1", 1),
        ("1.3.6.1.4.1.1347.42.3.1.2.1.1.1.3", 1),
        ("1.3.6.1.4.1.1347.43.10.1.1.12.1.1", 2),
    )),
    # HP LaserJet MFP M130nw (mono): prtMarkerLifeCount, total-engine and total-mono page counts.
    "hp": Recording("hp_laserjet-mfp-m130nw.snmprec", "shared", "printer", pages=(
        (_LIFE_COUNT, 1),
        ("1.3.6.1.4.1.11.2.3.9.4.2.1.4.1.2.5.0", 1),
        ("1.3.6.1.4.1.11.2.3.9.4.2.1.4.1.2.6.0", 1),
    )),
    # Eaton ConnectUPS card (XUPS-MIB; it does not tell the battery runtime): a town hall's UPS.
    "eaton-connectups": Recording("eaton_connectups-ups.snmprec", "shared", "ups"),
    # Eaton 93E 80 kVA (standard UPS-MIB with runtime): a data centre's UPS.
    "eaton-93e": Recording("UPS/eaton-93e-80.snmprec.bz2", "snmpsim-data", "ups"),
    # Cisco Catalyst 3560 (IF-MIB with 64-bit counters; Gi0/49 and Gi0/50 are up). The shared
    # EdgeSwitch recording has no interface table, so it cannot show an uplink.
    "cisco-c3560": Recording("network/switch/cisco-c3560.snmprec.bz2", "snmpsim-data", "switch",
                             uplinks=("Gi0/49", "Gi0/50")),
}  # fmt: skip


def _read_recording(path: Path) -> str:
    opener: Callable[..., Any] = bz2.open if path.suffix == ".bz2" else open
    with opener(path, "rb") as f:
        return f.read().decode("iso-8859-1")  # snmpsim reads its files as latin-1, byte for byte


def _numeric(oid: str, tag: str, **settings: object) -> str:
    """`oid|tag:numeric|k=v,...`, a line for snmpsim's numeric variation module
    (snmpsim/variation/numeric.py), with `atime`: value = initial + function(now * rate) *
    scale + offset, clamped to [min, max] (or wrapped with `wrap`)."""
    return f"{oid}|{tag}:numeric|" + ",".join(f"{k}={v}" for k, v in settings.items())


def variated_recording(
    text: str, rec: Recording, *, epoch: float, tick_s: float = PAGE_TICK_S, speed: float = 1.0
) -> tuple[str, dict[str, int]]:
    """The recording with its counters advancing from their recorded values at `epoch`:
    page counters (rec.pages, whole steps every `tick_s`), sysUpTime and the octet counters
    of the interfaces that are up (uplinks faster, scaled by `speed`). Every other line is
    served as recorded. Returns the text and the recorded values of the changed OIDs."""
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
    rate = 1 / tick_s
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
            k = pages[oid]
            offset = -k * math.floor(epoch * rate)
            out.append(_numeric(oid, tag, function="floor", rate=repr(rate), scale=k, offset=offset,
                                initial=initial, min=initial, atime=1))  # fmt: skip
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


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: SIGTERM the child when the simulator dies, so a killed fleet leaves no snmpsim behind."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG


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
    #: device id -> its [[devices]] entry, as in the polling agent's config
    entries: dict[str, dict[str, Any]]
    #: agent id -> poller of that host's served devices
    pollers: dict[str, Any] = field(default_factory=dict)
    _tmp: tempfile.TemporaryDirectory[str] | None = None

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
                raise BenchError(f"snmpsim exited with {self.process.returncode}: {self.log_tail()}")
            if asyncio.run(poll_once([device]))[0].ok:
                return time.monotonic() - start
            if time.monotonic() - start > deadline_s:
                raise BenchError(f"snmpsim not answering after {deadline_s:.0f} s: {self.log_tail()}")
            time.sleep(0.1)  # polling interval

    def log_tail(self) -> str:
        log = self.work / "snmpsim.log"
        return log.read_text(errors="replace")[-1500:] if log.exists() else ""

    def start_pollers(self, hosts: Sequence[SimHost], interval: float) -> None:
        from agent.snmp.devices import parse_devices
        from agent.snmp.poller import Poller

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


def snmpsim_missing() -> str | None:
    """Why snmpsim cannot serve the recordings here, or None."""
    if not SHARED_SNMP.is_dir():
        return f"{SHARED_SNMP} not found (the recordings of real devices)"
    if not (VENV_BIN / "snmpsim-command-responder").exists():
        return "snmpsim-command-responder not installed (pip install -e '.[dev]')"
    try:
        import pysnmp  # noqa: F401
    except ImportError:
        return "pysnmp not installed, the agent cannot poll (pip install 'leitstand[snmp]')"
    return None


def start_snmp_farm(
    hosts: Sequence[SimHost],
    *,
    epoch: float = SNMP_EPOCH,
    tick_s: float = PAGE_TICK_S,
    work: Path | None = None,
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
    entries: dict[str, dict[str, Any]] = {}
    absent: set[str] = set()
    texts: dict[str, str] = {}
    for d in devices:
        rec = RECORDINGS[d.recording]
        path = rec.path()
        if path is None:
            absent.add(rec.file)
            continue
        if d.recording not in texts:
            texts[d.recording] = _read_recording(path)
        speed = 0.6 + random.Random(d.device).random() * 0.8  # each switch its own traffic
        text, started[d.device] = variated_recording(texts[d.recording], rec, epoch=epoch, tick_s=tick_s, speed=speed)
        (data / f"{d.device}.snmprec").write_bytes(text.encode("iso-8859-1"))
        served[d.device] = d.recording
    if not served:
        if tmp is not None:
            tmp.cleanup()
        return None, f"fleet: SNMP readings synthesized: recordings not found ({', '.join(sorted(absent))})"
    port = _free_udp_port()
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
            [str(VENV_BIN / "snmpsim-command-responder"), f"--data-dir={data}", f"--cache-dir={work / 'cache'}",
             f"--agent-udpv4-endpoint=127.0.0.1:{port}"],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "SNMPSIM_ALLOW_ROOT": "true"},
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )  # fmt: skip
    finally:
        log.close()
    for d in devices:
        d.served = d.device in served
    farm = SnmpFarm(port=port, epoch=epoch, tick_s=tick_s, work=work, process=process, served=served,
                    started=started, entries=entries, _tmp=tmp)  # fmt: skip
    by_file = ", ".join(f"{dev} <- {RECORDINGS[key].file.rsplit('/', 1)[-1]}" for dev, key in served.items())
    note = f"fleet: snmpsim on udp 127.0.0.1:{port} serves {by_file}; polled by the agent's SNMP poller"
    if absent:
        note += f"; synthesized where not found: {', '.join(sorted(absent))}"
    return farm, note


# --- HTTP ----------------------------------------------------------------------------------


@dataclass
class Stats:
    latencies_ms: list[float] = field(default_factory=list)
    requests: int = 0
    reports: int = 0
    retries: int = 0
    errors: list[str] = field(default_factory=list)
    #: sends that failed before any answer (connection refused, reset, closed)
    transport_errors: int = 0
    #: HTTP status -> count, and the first body seen for each status
    statuses: dict[int, int] = field(default_factory=dict)
    bodies: dict[int, str] = field(default_factory=dict)
    #: when set and not open, agents hold their next send (a fault injector's pause)
    gate: asyncio.Event | None = None


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def enroll(client: httpx.AsyncClient, token: str, h: SimHost) -> tuple[str, str]:
    """(agent token, tenant name) for a simulated host."""
    r = await client.post("/api/v1/enroll", json={"agent_id": h.agent_id, "hostname": h.hostname}, headers=_auth(token))
    if r.status_code != 200:
        raise BenchError(f"enrolling {h.agent_id} failed: {r.status_code} {r.text}")
    body = r.json()
    return str(body["token"]), str(body["tenant"])


@dataclass(frozen=True)
class RetryPolicy:
    """How a simulated agent keeps an unacknowledged batch: `attempts` sends at most,
    exponential back-off from 0.1 s up to `backoff_cap_s` after transport errors, the
    collector's Retry-After (at most `retry_after_cap_s`) after 429 and 503."""

    attempts: int = 20
    backoff_cap_s: float = 5.0
    retry_after_cap_s: float = 60.0


async def post_batch(
    client: httpx.AsyncClient,
    token: str,
    h: SimHost,
    reports: list[Report],
    stats: Stats,
    policy: RetryPolicy = RetryPolicy(),
) -> None:
    """Post until acknowledged, as the agent does: 429, 503 and transport errors are retried, other 4xx are bugs."""
    info = AgentInfo(id=h.agent_id, hostname=h.hostname, version=VERSION, role=h.role, site=h.site,
                     os="Linux 6.1", boot_time=h.boot_time)  # fmt: skip
    body = gzip.compress(encode(Batch(agent=info, reports=reports)), compresslevel=1)
    headers = {**_auth(token), "Content-Type": "application/json", "Content-Encoding": "gzip"}
    last = ""
    for attempt in range(policy.attempts):
        start = time.perf_counter()
        try:
            r = await client.post("/api/v1/reports", content=body, headers=headers)
        except httpx.TransportError as exc:
            stats.retries += 1
            stats.transport_errors += 1
            await asyncio.sleep(min(policy.backoff_cap_s, 0.1 * 2 ** min(attempt, 16)))
            last = f"{type(exc).__name__}: {exc}"
            continue
        stats.latencies_ms.append((time.perf_counter() - start) * 1000)
        stats.requests += 1
        stats.statuses[r.status_code] = stats.statuses.get(r.status_code, 0) + 1
        stats.bodies.setdefault(r.status_code, r.text)
        if r.status_code == 200:
            ack = int(r.json()["accepted_through_seq"])
            if ack < reports[-1].seq:
                raise BenchError(f"{h.agent_id}: acknowledged through {ack}, sent through {reports[-1].seq}")
            stats.reports += len(reports)
            return
        if r.status_code in (429, 503):
            stats.retries += 1
            await asyncio.sleep(min(policy.retry_after_cap_s, float(r.headers.get("Retry-After", "1"))))
            last = f"{r.status_code} {r.text}"
            continue
        raise BenchError(f"{h.agent_id}: collector answered {r.status_code}: {r.text}")
    raise BenchError(f"{h.agent_id}: not acknowledged after {policy.attempts} attempts ({last})")


# --- soak ----------------------------------------------------------------------------------


@dataclass
class Fleet:
    hosts: list[SimHost]
    tokens: dict[str, str] = field(default_factory=dict)
    #: tenant index -> tenant name (as the collector enrolled it)
    tenant_names: dict[int, str] = field(default_factory=dict)


async def enroll_all(client: httpx.AsyncClient, fleet: Fleet, enroll_tokens: Sequence[str]) -> None:
    sem = asyncio.Semaphore(16)

    async def one(h: SimHost) -> None:
        async with sem:
            token, tenant = await enroll(client, enroll_tokens[h.tenant_index % len(enroll_tokens)], h)
        fleet.tokens[h.agent_id] = token
        fleet.tenant_names[h.tenant_index] = tenant

    await asyncio.gather(*(one(h) for h in fleet.hosts))


async def run_soak(
    client: httpx.AsyncClient,
    fleet: Fleet,
    *,
    minutes: int,
    batch: int,
    concurrency: int,
    now: float,
    stats: Stats | None = None,
    policy: RetryPolicy = RetryPolicy(),
) -> tuple[GroundTruth, Stats, float]:
    """Send `minutes` of 60 s samples per host ending at the last whole minute before `now`.

    Returns (truth, stats, wall seconds of the sending)."""
    truth = GroundTruth()
    stats = stats if stats is not None else Stats()
    end = math.floor(now / STEP_S) * STEP_S
    start = end - minutes * STEP_S
    for h in fleet.hosts:
        h.boot_time = float(start - h.rng.randint(3600, 40 * 86400))
    sem = asyncio.Semaphore(concurrency)

    async def agent(h: SimHost) -> None:
        token = fleet.tokens[h.agent_id]
        for first in range(1, minutes + 1, batch):
            steps = range(first, min(first + batch, minutes + 1))
            reports = [sample(h, start + k * STEP_S, STEP_S, k, truth) for k in steps]
            if stats.gate is not None:
                await stats.gate.wait()
            async with sem:
                await post_batch(client, token, h, reports, stats, policy)

    t0 = time.perf_counter()
    await asyncio.gather(*(agent(h) for h in fleet.hosts))
    return truth, stats, time.perf_counter() - t0


async def compare_ledger(client: httpx.AsyncClient, fleet: Fleet, truth: GroundTruth, usage_token: str) -> list[str]:
    """Differences between the usage API and the ground truth; empty when they agree exactly."""
    diffs: list[str] = []
    for (tenant_index, period), want in truth.expected().items():
        tenant = fleet.tenant_names[tenant_index]
        r = await client.get("/api/v1/usage", params={"tenant": tenant, "period": period}, headers=_auth(usage_token))
        if r.status_code != 200:
            diffs.append(f"{tenant} {period}: usage answered {r.status_code}: {r.text}")
            continue
        got = {(m["meter"], m.get("dim", "")): m["quantity"] for m in r.json()["meters"] if m["meter"] in CHECKED}
        for key in sorted(set(want) | set(got)):
            if want.get(key) != got.get(key):
                meter, dim = key
                name = f"{meter}[{dim}]" if dim else meter
                diffs.append(f"{tenant} {period} {name}: ledger {got.get(key)} != truth {want.get(key)}")
    return diffs


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


class RssSampler:
    """Peak RSS of the collector process, sampled in a thread."""

    def __init__(self, pid: int | None) -> None:
        self.peak = 0
        self._proc = psutil.Process(pid) if pid else None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rss", daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(0.25)

    def sample(self) -> int:
        if self._proc is None:
            return 0
        with contextlib.suppress(psutil.Error):
            rss = int(self._proc.memory_info().rss)
            self.peak = max(self.peak, rss)
            return rss
        return 0

    def __enter__(self) -> RssSampler:
        if self._proc is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2)


def db_bytes(db: Path) -> int:
    return sum(p.stat().st_size for p in (db, db.with_name(db.name + "-wal")) if p.exists())


@dataclass
class SoakResult:
    agents: int
    minutes: int
    reports: int
    requests: int
    retries: int
    wall_s: float
    p50_ms: float
    p99_ms: float
    rss_peak_mb: float | None
    differences: list[str]
    checked: int
    #: the meters the truth has a quantity for
    meters: frozenset[str] = frozenset()
    db_before: int = 0
    db_growth_per_host_day_kib: float | None = None

    def measure_db(self, db: Path) -> None:
        """Database growth per host per simulated day (call once the collector has stopped and checkpointed)."""
        self.db_growth_per_host_day_kib = (db_bytes(db) - self.db_before) / 1024 / self.agents / (self.minutes / 1440)

    @property
    def ok(self) -> bool:
        return not self.differences

    def render(self) -> str:
        rows = [
            ("agents", f"{self.agents}"),
            ("simulated time", f"{self.minutes} min of 60 s samples ({self.reports:,} reports)"),
            ("requests", f"{self.requests:,} ({self.retries} retried)"),
            ("wall time", f"{self.wall_s:.1f} s"),
            ("throughput", f"{self.reports / self.wall_s:,.0f} reports/s, {self.requests / self.wall_s:,.1f} req/s"),
            ("ingest latency", f"p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms"),
            ("collector RSS peak", f"{self.rss_peak_mb:.0f} MB" if self.rss_peak_mb is not None else "n/a (not ours)"),
            (
                "database growth",
                f"{self.db_growth_per_host_day_kib:,.0f} KiB per host per day"
                if self.db_growth_per_host_day_kib is not None
                else "n/a (not ours)",
            ),
        ]
        width = max(len(k) for k, _ in rows)
        lines = [f"{k.ljust(width)}  {v}" for k, v in rows]
        if self.ok:
            lines.append(f"ledger check: OK ({self.checked} meter totals equal the ground truth exactly)")
        else:
            lines.append(f"ledger check: MISMATCH ({len(self.differences)} of {self.checked})")
            lines += [f"  {d}" for d in self.differences]
        return "\n".join(lines)


@contextlib.contextmanager
def own_collector(log_dir: Path, tenants: int) -> Iterator[tuple[str, list[str], str, ManagedProcess, Path]]:
    """A collector on a free port and a fresh database: (url, enroll tokens, admin token, process, db)."""
    from collector import admin  # the bench's own collector: tenants and tokens go straight into its database
    from collector.db import connect, migrate

    db = log_dir / "collector.db"
    conn = connect(db)
    try:
        migrate(conn)
        enroll_tokens = []
        for tenant, _ in TOWNS[:tenants]:
            admin.add_tenant(conn, tenant, actor="fleet")
            enroll_tokens.append(admin.create_token(conn, "enroll", actor="fleet", tenant=tenant)[1])
        admin_token = admin.create_token(conn, "billing", actor="fleet", label="fleet soak")[1]
    finally:
        conn.close()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    collector_bin = VENV_BIN / "leitstand-collector"
    proc = start_process(
        "collector",
        [str(collector_bin), "serve", "--db", str(db), "--listen", f"127.0.0.1:{port}"],
        log_dir=log_dir,
    )
    try:
        wait_ready(http_ok(f"{url}/healthz"), deadline_s=30, what="collector", process=proc)
        yield url, enroll_tokens, admin_token, proc, db
    finally:
        proc.stop()


async def soak(
    url: str,
    enroll_tokens: Sequence[str],
    usage_token: str,
    *,
    agents: int,
    minutes: int,
    seed: int,
    batch: int,
    concurrency: int,
    pid: int | None = None,
    db: Path | None = None,
    tenants: int | None = None,
    now: float | None = None,
) -> SoakResult:
    fleet = Fleet(build_fleet(seed, agents=agents, tenants=tenants or len(enroll_tokens)))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        await enroll_all(client, fleet, enroll_tokens)
        size_before = db_bytes(db) if db else 0
        with RssSampler(pid) as rss:
            truth, stats, wall = await run_soak(
                client, fleet, minutes=minutes, batch=batch, concurrency=concurrency, now=now or time.time()
            )
            rss.sample()
        diffs = await compare_ledger(client, fleet, truth, usage_token)
    return SoakResult(
        agents=agents,
        minutes=minutes,
        reports=stats.reports,
        requests=stats.requests,
        retries=stats.retries,
        wall_s=wall,
        p50_ms=statistics.median(stats.latencies_ms) if stats.latencies_ms else float("nan"),
        p99_ms=percentile(stats.latencies_ms, 99),
        rss_peak_mb=rss.peak / 1e6 if pid else None,
        db_before=size_before,
        differences=diffs,
        checked=sum(len(v) for v in truth.expected().values()),
        meters=frozenset(meter for _, _, meter, _ in truth.scaled),
    )


# --- faults --------------------------------------------------------------------------------

#: Faults `--soak --faults` injects, each in a soak of its own against a fresh database.
FAULTS = ("kill", "outage", "slow", "malformed", "diskfull")

#: The error body of a write the database refused (collector/writer.py, README "HTTP API").
STORAGE_ERROR = "storage unavailable, nothing stored"


class Controller(Protocol):
    """A collector process the soak may kill and restart (same port, same database)."""

    url: str
    db: Path

    def start(self) -> None: ...

    def kill9(self) -> None: ...

    def stop(self) -> None: ...


class OwnCollectorProcess:
    """The bench's restartable collector: `leitstand-collector serve` on one fixed free port."""

    def __init__(self, db: Path, log_dir: Path) -> None:
        self.db = db
        self.log_dir = log_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: ManagedProcess | None = None

    def start(self) -> None:
        argv = [str(VENV_BIN / "leitstand-collector"), "serve", "--db", str(self.db),
                "--listen", f"127.0.0.1:{self.port}"]  # fmt: skip
        self.proc = start_process("collector", argv, log_dir=self.log_dir)
        wait_ready(http_ok(f"{self.url}/healthz"), deadline_s=30, what="collector", process=self.proc)

    def kill9(self) -> None:
        if self.proc is not None:
            self.proc.popen.send_signal(signal.SIGKILL)
            self.proc.popen.wait(10)
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
            self.proc = None


class MountError(BenchError):
    """A tmpfs cannot be mounted here (not root, or no CAP_SYS_ADMIN)."""


@contextlib.contextmanager
def small_disk(path: Path, size_mb: int) -> Iterator[Path]:
    """A tmpfs of `size_mb` MiB mounted at `path`, unmounted (lazily if busy) on the way out."""
    path.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(path)],
                              capture_output=True, text=True, timeout=20)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise MountError(f"cannot mount a tmpfs at {path}: {exc}") from exc
    if done.returncode != 0:
        raise MountError(f"cannot mount a tmpfs at {path}: {done.stderr.strip() or done.returncode}")
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True, timeout=20).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=20)


def fill_disk(filler: Path, *, limit_bytes: int = 4 * GIB) -> int:
    """Write `filler` until the filesystem is full (ENOSPC); returns the bytes written."""
    written = 0
    with filler.open("wb", buffering=0) as f:
        for chunk in (MIB, 4096, 512):
            block = b"\0" * chunk
            while written < limit_bytes:
                try:
                    written += f.write(block) or 0
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
    return written


def integrity(db: Path) -> str:
    """`PRAGMA integrity_check` of the database, read-only, next to the running collector."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return ", ".join(str(row[0]) for row in conn.execute("PRAGMA integrity_check"))
    finally:
        conn.close()


async def until(check: Callable[[], bool], *, deadline_s: float, what: str, interval_s: float = 0.01) -> float:
    """Poll `check` until true (seconds it took); BenchError after the deadline."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > deadline_s:
            raise BenchError(f"timed out after {deadline_s:g} s waiting for {what}")
        await asyncio.sleep(interval_s)  # polling interval, not a wait for readiness
    return time.monotonic() - start


@dataclass
class FaultOutcome:
    fault: str
    happened: str = ""
    recovered: bool = False
    ledger_ok: bool = False
    #: what the fault check itself found wrong (statuses, bodies, integrity)
    problems: list[str] = field(default_factory=list)
    result: SoakResult | None = None
    #: HTTP status each malformed request got, by name
    statuses: dict[str, int | str] = field(default_factory=dict)
    #: what the fault check saw, for tests: the 503 body, /healthz while full and after, integrity_check
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.recovered and self.ledger_ok and not self.problems


def render_faults(outcomes: Sequence[FaultOutcome]) -> str:
    rows = [("fault", "what happened", "recovered", "ledger")]
    for o in outcomes:
        ledger_text = "OK" if o.ledger_ok else ("MISMATCH" if o.result is not None else "-")
        rows.append((o.fault, o.happened, "yes" if o.recovered else "no", ledger_text))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:3], widths, strict=True)) + "  " + r[3] for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths) + "  ------")
    for o in outcomes:
        lines += [f"{o.fault}: {p}" for p in o.problems]
        if o.result is not None:
            lines += [f"{o.fault}: {d}" for d in o.result.differences]
    return "\n".join(lines)


def _probe_batch(h: SimHost, ts: float, seq: int) -> bytes:
    """A well-formed batch of one report of `h` (sampled on a copy: the simulation is untouched)."""
    twin = copy.deepcopy(h)
    info = AgentInfo(id=h.agent_id, hostname=h.hostname, version=VERSION, role=h.role, site=h.site,
                     os="Linux 6.1", boot_time=h.boot_time)  # fmt: skip
    return encode(Batch(agent=info, reports=[sample(twin, ts, STEP_S, seq, None)]))


def _gzip_bomb(prefix: bytes, inflated: int) -> bytes:
    """`prefix` and spaces up to `inflated` bytes, gzip'd in chunks (a few hundred KB on the wire)."""
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [z.compress(prefix)]
    block = b" " * MIB
    parts += [z.compress(block) for _ in range(max(1, (inflated - len(prefix)) // MIB))]
    parts.append(z.flush())
    return b"".join(parts)


async def _malformed(client: httpx.AsyncClient, token: str, h: SimHost, ts: float) -> dict[str, int | str]:
    """Send each bad request once; {name: status (or the transport error's name)}.

    The payloads that decode at all carry a real report of a real agent (seq far ahead,
    inside the soak's time range), so were any of them stored, the ledger would show it."""
    valid = _probe_batch(h, ts, 10**6)
    wrong = json.loads(valid)
    wrong["reports"][0]["cpu"]["count"] = "eight"
    wrong["reports"][0]["seq"] = "next"
    gz = {"Content-Encoding": "gzip"}
    cases: list[tuple[str, bytes, dict[str, str]]] = [
        ("garbage JSON", b'{"agent": {"id": "x", "reports": [1, 2,', {}),
        ("not JSON at all", b"\x00\xff binary \xfe", {}),
        ("wrong types", json.dumps(wrong).encode(), {}),
        ("broken gzip", gzip.compress(valid)[:-12], gz),
        ("unknown encoding", valid, {"Content-Encoding": "br"}),
        ("20 MB body", valid + b" " * (20 * MIB), {}),
        ("gzip bomb", _gzip_bomb(valid, 256 * MIB), gz),
    ]
    out: dict[str, int | str] = {}
    for name, body, extra in cases:
        headers = {**_auth(token), "Content-Type": "application/json", **extra}
        try:
            r = await client.post("/api/v1/reports", content=body, headers=headers)
            out[name] = r.status_code
        except httpx.TransportError as exc:
            out[name] = type(exc).__name__
    return out


#: The status every malformed request must get (README, "HTTP API").
MALFORMED_EXPECTED: dict[str, int] = {
    "garbage JSON": 400,
    "not JSON at all": 400,
    "wrong types": 400,
    "broken gzip": 400,
    "unknown encoding": 400,
    "20 MB body": 413,
    "gzip bomb": 413,
}


async def _slow_client(port: int, stop: asyncio.Event, sent: list[int], closed: list[bool], i: int) -> None:
    """Trickle a request one byte every 50 ms until `stop` (or the collector hangs up)."""
    request = (
        b"POST /api/v1/reports HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + b"X-Slow: " + b"s" * 4000 + b"\r\nContent-Length: 100000\r\n\r\n" + b"{" * 100_000
    )  # fmt: skip
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for byte in range(len(request)):  # bounded: the request's length
            if stop.is_set():
                return
            writer.write(request[byte : byte + 1])
            try:
                await writer.drain()
            except ConnectionError:
                closed[i] = True
                return
            sent[i] += 1
            if reader.at_eof():
                closed[i] = True
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=0.05)  # the trickle's pace, not a readiness wait
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def soak_with_fault(
    ctl: Controller,
    fault: str,
    enroll_tokens: Sequence[str],
    usage_token: str,
    *,
    agents: int,
    minutes: int,
    seed: int,
    batch: int,
    concurrency: int,
    now: float | None = None,
    outage_s: float = 2.0,
    slow_clients: int = 4,
    fault_deadline_s: float = 30.0,
) -> FaultOutcome:
    """A soak against the running collector `ctl` with `fault` injected mid-run; the soak's
    exact ledger check verifies that nothing was lost and nothing counted twice."""
    if fault not in FAULTS:
        raise BenchError(f"unknown fault {fault!r} (choose from {', '.join(FAULTS)})")
    outcome = FaultOutcome(fault)
    fleet = Fleet(build_fleet(seed, agents=agents, tenants=len(enroll_tokens)))
    total = agents * minutes
    stats = Stats()
    policy = RetryPolicy(attempts=2000, backoff_cap_s=0.25, retry_after_cap_s=0.5)
    port = int(ctl.url.rsplit(":", 1)[1])
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with (
        httpx.AsyncClient(base_url=ctl.url, timeout=60, limits=limits) as client,
        httpx.AsyncClient(base_url=ctl.url, timeout=60) as side,
    ):
        await enroll_all(client, fleet, enroll_tokens)
        start_ts = math.floor((now or time.time()) / STEP_S) * STEP_S - minutes * STEP_S

        async def progressed(fraction: float) -> int:
            await until(lambda: stats.reports >= total * fraction, deadline_s=fault_deadline_s, what="the load")
            return stats.reports

        async def kill() -> None:
            at = await progressed(0.3)
            before = stats.transport_errors
            await asyncio.to_thread(ctl.kill9)
            t0 = time.monotonic()
            await asyncio.to_thread(ctl.start)
            restart = time.monotonic() - t0
            back = stats.reports
            await until(lambda: stats.reports > back, deadline_s=fault_deadline_s, what="ingest after the restart")
            outcome.recovered = True
            outcome.happened = (
                f"SIGKILL at {at}/{total} reports, restarted in {restart:.1f} s; "
                f"{stats.transport_errors - before} sends failed, batches kept and resent"
            )

        async def outage() -> None:
            at = await progressed(0.3)
            # Hold new sends while the collector shuts down: on a fast machine the
            # rest of the load could otherwise finish inside its graceful stop.
            stats.gate = asyncio.Event()
            await asyncio.to_thread(ctl.stop)
            before = stats.transport_errors
            down = time.monotonic()
            stats.gate.set()
            try:
                # hold the collector down: the agents must find it unreachable and back off
                await until(lambda: stats.transport_errors >= before + agents, deadline_s=fault_deadline_s,
                            what="agents to notice the outage")  # fmt: skip
                await asyncio.sleep(max(0.0, outage_s - (time.monotonic() - down)))  # the outage's length
            finally:
                stuck = stats.reports
                await asyncio.to_thread(ctl.start)
            held = time.monotonic() - down
            await until(lambda: stats.reports > stuck, deadline_s=fault_deadline_s, what="ingest after the outage")
            outcome.recovered = stuck == at or stats.reports > stuck
            outcome.happened = (
                f"down {held:.1f} s at {at}/{total} reports; "
                f"{stats.transport_errors - before} refused sends, agents backed off and resent"
            )

        async def slow() -> None:
            stop = asyncio.Event()
            sent, closed = [0] * slow_clients, [False] * slow_clients
            tasks = [asyncio.create_task(_slow_client(port, stop, sent, closed, i)) for i in range(slow_clients)]
            try:
                await until(lambda: all(n > 0 for n in sent), deadline_s=fault_deadline_s, what="slow clients")
                at = stats.reports
                go.set()
                await until(lambda: stats.reports >= total, deadline_s=fault_deadline_s * 4, what="the load")
                open_ = sum(not c for c in closed)
                outcome.evidence.update(slow_sent=list(sent), slow_open=open_, reports_before_load=at)
                outcome.recovered = stats.reports > at
                outcome.happened = (
                    f"{slow_clients} sockets trickling 1 byte/50 ms ({sum(sent):,} bytes); "
                    f"all {total} reports ingested meanwhile; {open_} still open"
                )
            finally:
                stop.set()
                await asyncio.gather(*tasks, return_exceptions=True)

        async def malformed() -> None:
            at = await progressed(0.25)
            h = fleet.hosts[0]
            got = await _malformed(side, fleet.tokens[h.agent_id], h, start_ts + 90)
            outcome.statuses = got
            for name, want in MALFORMED_EXPECTED.items():
                if got.get(name) != want:
                    outcome.problems.append(f"{name}: expected {want}, got {got.get(name)}")
            await until(lambda: stats.reports > at, deadline_s=fault_deadline_s, what="ingest after the bad requests")
            outcome.recovered = True
            statuses = ", ".join(f"{n} {s}" for n, s in got.items())
            outcome.happened = f"sent at {at}/{total} reports: {statuses}"

        async def diskfull() -> None:
            at = await progressed(0.25)
            filler = ctl.db.parent / "filler"
            filled = await asyncio.to_thread(fill_disk, filler)
            try:
                before = stats.statuses.get(503, 0)
                await until(lambda: stats.statuses.get(503, 0) > before, deadline_s=fault_deadline_s,
                            what="a write to fail on the full disk")  # fmt: skip
                body = json.loads(stats.bodies.get(503, "{}"))
                if body.get("error") != STORAGE_ERROR or not body.get("detail"):
                    outcome.problems.append(f"503 body {body} is not the documented storage error")
                # A small commit can still fit into pages SQLite already owns, and
                # /healthz tells the last commit's fate: while the disk stays full
                # it must say "degraded" again soon, so poll it with a deadline.
                deadline = time.monotonic() + fault_deadline_s
                health = await side.get("/healthz")
                while health.status_code != 503 and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)  # polling interval
                    health = await side.get("/healthz")
                if health.status_code != 503 or health.json().get("status") != "degraded":
                    outcome.problems.append(f"/healthz on a full disk: {health.status_code} {health.text}")
                check = await asyncio.to_thread(integrity, ctl.db)
                outcome.evidence.update(body_503=body, healthz_full=(health.status_code, health.json()))
                outcome.evidence["integrity"] = check
                if check != "ok":
                    outcome.problems.append(f"integrity_check on a full disk: {check}")
            finally:
                filler.unlink()
            freed_at = stats.reports
            await until(lambda: stats.reports > freed_at, deadline_s=fault_deadline_s, what="ingest after freeing")
            # the collector stays degraded until a commit succeeds: poll it, within the deadline
            deadline = time.monotonic() + fault_deadline_s
            while True:
                health = await side.get("/healthz")
                outcome.recovered = health.status_code == 200 and health.json().get("status") == "ok"
                if outcome.recovered or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)  # polling interval
            outcome.evidence["healthz_after"] = (health.status_code, health.json())
            outcome.evidence["integrity_after"] = await asyncio.to_thread(integrity, ctl.db)
            outcome.happened = (
                f"{filled / MIB:.1f} MiB filler at {at}/{total} reports: 503 {body.get('error')!r} "
                f"({body.get('detail', [''])[0]}), /healthz degraded, integrity_check {check}; "
                f"{stats.statuses.get(503, 0) - before} refused batches resent after freeing"
            )
            if not outcome.recovered:
                outcome.problems.append(f"/healthz after freeing space: {health.status_code} {health.text}")

        injectors: dict[str, Callable[[], Awaitable[None]]] = {
            "kill": kill,
            "outage": outage,
            "slow": slow,
            "malformed": malformed,
            "diskfull": diskfull,
        }
        go = asyncio.Event()
        if fault != "slow":
            go.set()

        async def load() -> tuple[GroundTruth, Stats, float]:
            await go.wait()
            return await run_soak(client, fleet, minutes=minutes, batch=batch, concurrency=concurrency,
                                  now=now or time.time(), stats=stats, policy=policy)  # fmt: skip

        t0 = time.perf_counter()
        load_task = asyncio.create_task(load())
        try:
            await injectors[fault]()
        except BenchError as exc:
            outcome.problems.append(str(exc))
            go.set()
        truth, stats, _ = await load_task
        wall = time.perf_counter() - t0
        diffs = await compare_ledger(client, fleet, truth, usage_token)
    outcome.result = SoakResult(
        agents=agents,
        minutes=minutes,
        reports=stats.reports,
        requests=stats.requests,
        retries=stats.retries,
        wall_s=wall,
        p50_ms=statistics.median(stats.latencies_ms) if stats.latencies_ms else float("nan"),
        p99_ms=percentile(stats.latencies_ms, 99),
        rss_peak_mb=None,
        differences=diffs,
        checked=sum(len(v) for v in truth.expected().values()),
        meters=frozenset(meter for _, _, meter, _ in truth.scaled),
    )
    outcome.ledger_ok = not diffs and stats.reports == total
    return outcome


def prepare_db(db: Path, tenants: int) -> tuple[list[str], str]:
    """A fresh, migrated database with the first `tenants` towns: (enroll tokens, billing token)."""
    from collector import admin
    from collector.db import connect, migrate

    conn = connect(db)
    try:
        migrate(conn)
        enroll_tokens = []
        for tenant, _ in TOWNS[:tenants]:
            admin.add_tenant(conn, tenant, actor="fleet")
            enroll_tokens.append(admin.create_token(conn, "enroll", actor="fleet", tenant=tenant)[1])
        return enroll_tokens, admin.create_token(conn, "billing", actor="fleet", label="fleet soak")[1]
    finally:
        conn.close()


def run_faults(faults: Sequence[str], *, tenants: int, disk_mb: int = 16, **kw: Any) -> list[FaultOutcome]:
    """Each fault in a soak of its own: own collector, fresh database (for `diskfull` on a
    `disk_mb` MiB tmpfs; a row says so when mounting is not permitted)."""
    outcomes = []
    for fault in faults:
        with contextlib.ExitStack() as stack:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"leitstand-fault-{fault}-")))
            data = tmp
            if fault == "diskfull":
                try:
                    data = stack.enter_context(small_disk(tmp / "disk", disk_mb))
                except MountError as exc:
                    outcomes.append(FaultOutcome(fault, happened=f"skipped: {exc}", problems=[str(exc)]))
                    continue
            enroll_tokens, usage_token = prepare_db(data / "collector.db", tenants)
            ctl = OwnCollectorProcess(data / "collector.db", tmp)
            stack.callback(ctl.stop)
            ctl.start()
            outcomes.append(asyncio.run(soak_with_fault(ctl, fault, enroll_tokens, usage_token, **kw)))
    return outcomes


# --- live ----------------------------------------------------------------------------------


async def live(url: str, enroll_tokens: Sequence[str], *, agents: int, tenants: int, seed: int, interval: float,
               small: bool, stop: asyncio.Event, out: Callable[[str], None], snmpsim: bool = True,
               snmp_epoch: float = SNMP_EPOCH) -> None:  # fmt: skip
    """Every host reports every `interval` seconds at the real time until `stop` is set.

    With `snmpsim` (and snmpsim and the recordings here) the SNMP devices are served by
    snmpsim and polled by the agent's poller (start_snmp_farm); otherwise synthesized."""
    fleet = Fleet(build_fleet(seed, agents=agents, tenants=tenants, small=small))
    boot = time.time()
    for h in fleet.hosts:
        h.boot_time = boot  # a restarted simulator is a rebooted fleet: counters start again
    farm: SnmpFarm | None = None
    try:
        if snmpsim:
            farm, note = start_snmp_farm(fleet.hosts, epoch=snmp_epoch)
            out(note)
            if farm is not None:
                took = await asyncio.to_thread(farm.wait_ready)
                out(f"fleet: snmpsim ready after {took:.1f} s")
                farm.start_pollers(fleet.hosts, interval)
        else:
            out("fleet: SNMP readings synthesized (--no-snmpsim)")
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            await enroll_all(client, fleet, enroll_tokens)
            names = ", ".join(sorted(set(fleet.tenant_names.values())))
            out(f"fleet: {len(fleet.hosts)} simulated hosts in {names}, reporting every {interval:g} s to {url}")
            stats = Stats()
            while not stop.is_set():
                ts = time.time()
                seq = int(ts // interval)  # consecutive per tick, and above every seq of an earlier run
                results = await asyncio.gather(
                    *(post_batch(client, fleet.tokens[h.agent_id], h,
                                 [sample(h, ts, interval, seq, None, farm.drain(h) if farm else ())], stats)
                      for h in fleet.hosts),
                    return_exceptions=True,
                )  # fmt: skip
                for exc in results:
                    if isinstance(exc, Exception):
                        out(f"fleet: {exc}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=max(0.0, (seq + 1) * interval - time.time()))
    finally:
        if farm is not None:
            await asyncio.to_thread(farm.close)


# --- collector config: the KRITIS applications -----------------------------------------------


def _toml_str(value: str) -> str:
    return json.dumps(value)  # a TOML basic string for the plain ASCII written here


def collector_config(hosts: Sequence[SimHost]) -> str:
    """A collector config (TOML) declaring the fleet's data centres (coordinates, the UPS and
    core switch polled there) and its KRITIS applications with their instances and evidence
    (README "Failover readiness"); empty applications when the fleet has no KRITIS servers."""
    devices: dict[str, list[SimDevice]] = {}
    for h in hosts:
        if h.site in SITES:
            devices.setdefault(h.site, []).extend(h.devices)
    lines = [
        "# The simulated fleet's data centres and KRITIS applications (bench/fleet.py --collector-config).",
        "# Failover tests are recorded with `leitstand-collector readiness record-test`.",
        "",
    ]
    for site, (lat, lon) in SITES.items():
        ups = list(dict.fromkeys(d.device for d in devices.get(site, []) if d.kind == "ups"))
        switches = list(dict.fromkeys(d.device for d in devices.get(site, []) if d.kind == "switch"))
        lines += [
            f"[readiness.sites.{site}]",
            f"lat = {lat}",
            f"lon = {lon}",
            f"ups = [{', '.join(map(_toml_str, ups))}]",
            f"switches = [{', '.join(map(_toml_str, switches))}]",
            "",
        ]
    for app in KRITIS_APPS:
        servers = {role: [h for h in hosts if h.kritis == (app, role)] for role in ("primary", "standby")}
        if not servers["primary"]:
            continue
        instances = [f'  {{host = {_toml_str(h.hostname)}, site = {_toml_str(h.site)}, role = "{role}"}},'
                     for role, group in servers.items() for h in group]  # fmt: skip
        standby = servers["standby"][0].hostname
        lines += [
            f"# {app.title}",
            "[[readiness.applications]]",
            f"name = {_toml_str(app.name)}",
            f"tenant = {_toml_str(TOWNS[app.tenant_index][0])}",
            'criticality = "kritis"',
            f"rpo = {_toml_str(app.rpo)}",
            f"rto = {_toml_str(app.rto)}",
            f"mta = {_toml_str(app.mta)}",
            "instances = [",
            *instances,
            "]",
            f'backup = {{metric = "backup_last_success_timestamp_seconds", labels = {{job = {_toml_str(app.job)}}}}}',
            f'replication = {{metric = "pg_replication_lag_seconds", host = {_toml_str(standby)}}}',
            "",
        ]
    return "\n".join(lines)


# --- CLI -----------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fleet.py",
        description="Simulate a county IT provider's fleet against a Leitstand collector (wire format v1 over HTTP).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "soak:    fleet.py --soak --agents 200 --hours 24     (own collector, temporary database)\n"
            "live:    fleet.py --live --small --collector URL --enroll-token T [--enroll-token T2]\n"
            "config:  fleet.py --small --collector-config collector.toml\n"
            "\n"
            "SNMP devices: --live serves them with snmpsim from recordings of real devices\n"
            f"({SHARED_SNMP}, PyPI snmpsim-data) whose page, uptime and octet counters\n"
            "advance with the clock (pages: whole steps every minute), polled by the agent's SNMP\n"
            "poller; without snmpsim or the recordings (or with --no-snmpsim) their readings are\n"
            "synthesized. --soak always synthesizes them: it runs faster than real time."
        ),
    )
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--live", action="store_true", help="report in real time every --interval until Ctrl-C")
    mode.add_argument(
        "--soak", action="store_true", help="send simulated time as fast as possible, then check (SNMP synthesized)"
    )
    mode.add_argument(
        "--collector-config",
        type=Path,
        metavar="FILE",
        help="write the collector config declaring the --small fleet's data centres and KRITIS applications",
    )
    p.add_argument(
        "--small",
        action="store_true",
        help="the demo's fleet: 2 tenants, 10 hosts, town-hall printer, UPS and switch, 2 KRITIS applications",
    )
    p.add_argument("--agents", type=int, default=50, help="simulated hosts (default 50)")
    p.add_argument("--tenants", type=int, default=4, help=f"member municipalities, at most {len(TOWNS)} (default 4)")
    p.add_argument("--minutes", type=int, default=None, help="soak: simulated minutes (default 60)")
    p.add_argument("--hours", type=float, default=None, help="soak: simulated hours (instead of --minutes)")
    p.add_argument("--speedup", action="store_true", help="accepted for clarity: --soak never waits for the clock")
    p.add_argument("--seed", type=int, default=1, help="random seed; the same seed gives the same fleet and data")
    p.add_argument("--batch", type=int, default=15, help="soak: reports per request (a spooled agent's batch)")
    p.add_argument("--concurrency", type=int, default=8, help="soak: requests in flight")
    p.add_argument("--interval", type=float, default=60.0, help="live: seconds between reports (default 60)")
    p.add_argument("--no-snmpsim", action="store_true", help="live: synthesize the SNMP readings, start no snmpsim")
    p.add_argument(
        "--snmp-epoch",
        type=float,
        default=SNMP_EPOCH,
        help="live: Unix time at which the served counters have their recorded values (default 2026-01-01 00:00 UTC)",
    )
    p.add_argument("--collector", help="URL of a running collector (default: --soak starts its own)")
    p.add_argument(
        "--enroll-token",
        action="append",
        default=[],
        help="enroll token; repeat for more tenants (simulated tenant i uses token i mod count)",
    )
    p.add_argument("--admin-token", help="admin or billing token for GET /api/v1/usage (soak with --collector)")
    p.add_argument(
        "--faults",
        help=f"soak: inject faults, a soak each against an own collector: comma-separated of {','.join(FAULTS)}",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    agents, tenants = (6, 2) if args.small else (args.agents, args.tenants)
    if args.collector_config:
        if not args.small:
            print("fleet.py: --collector-config needs --small (only the demo's fleet runs KRITIS applications)",
                  file=sys.stderr)  # fmt: skip
            return 2
        hosts = build_fleet(args.seed, agents=agents, tenants=tenants, small=True)
        args.collector_config.write_text(collector_config(hosts), encoding="utf-8")
        print(f"{args.collector_config}: {len(KRITIS_APPS)} KRITIS applications in {', '.join(SITES)}")
        return 0
    if args.live:
        if not args.collector or not args.enroll_token:
            print("fleet.py: --live needs --collector and --enroll-token", file=sys.stderr)
            return 2
        return _run_live(args, agents, tenants)
    minutes = args.minutes if args.minutes is not None else round((args.hours or 1) * 60)
    if minutes < 2:
        print("fleet.py: --soak needs at least 2 simulated minutes", file=sys.stderr)
        return 2
    kw: dict[str, Any] = {
        "agents": agents,
        "minutes": minutes,
        "seed": args.seed,
        "batch": max(1, args.batch),
        "concurrency": max(1, args.concurrency),
    }
    if args.faults is not None:
        faults = [f.strip() for f in args.faults.split(",") if f.strip()]
        unknown = sorted(set(faults) - set(FAULTS))
        if unknown or not faults or args.collector:
            print(f"fleet.py: --faults takes {','.join(FAULTS)} (not {','.join(unknown)}) and no --collector",
                  file=sys.stderr)  # fmt: skip
            return 2
        try:
            outcomes = run_faults(faults, tenants=tenants, **kw)
        except BenchError as exc:
            print(f"fleet.py: {exc}", file=sys.stderr)
            return 1
        print(render_faults(outcomes))
        return 0 if all(o.ok for o in outcomes) else 1
    try:
        if args.collector:
            if not args.enroll_token or not args.admin_token:
                print("fleet.py: --soak --collector needs --enroll-token and --admin-token", file=sys.stderr)
                return 2
            print("note: the tenants must receive no other data during the run, or the ledger check cannot agree")
            result = asyncio.run(soak(args.collector, args.enroll_token, args.admin_token, tenants=tenants, **kw))
        else:
            with contextlib.ExitStack() as stack:
                tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="leitstand-fleet-")))
                url, enroll_tokens, admin_token, proc, db = stack.enter_context(own_collector(tmp, tenants))
                print(f"collector {url} (pid {proc.pid}), database {db}", flush=True)
                result = asyncio.run(soak(url, enroll_tokens, admin_token, pid=proc.pid, db=db, **kw))
                proc.stop()  # checkpoints the WAL, so the file size is the database's
                result.measure_db(db)
    except BenchError as exc:
        print(f"fleet.py: {exc}", file=sys.stderr)
        return 1
    print(result.render())
    return 0 if result.ok else 1


def _run_live(args: argparse.Namespace, agents: int, tenants: int) -> int:
    async def go() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await live(args.collector, args.enroll_token, agents=agents, tenants=tenants, seed=args.seed,
                   interval=args.interval, small=args.small, stop=stop, out=lambda s: print(s, flush=True),
                   snmpsim=not args.no_snmpsim, snmp_epoch=args.snmp_epoch)  # fmt: skip

    try:
        asyncio.run(go())
    except KeyboardInterrupt:
        pass  # a second Ctrl-C while the loop was closing: stopping anyway
    except BenchError as exc:
        print(f"fleet.py: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
