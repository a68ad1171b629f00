"""The simulated fleet of a county IT provider, deterministic for a seed: member
municipalities (tenants), town halls and two data centres (sites), servers, VMs and thin
clients, the SNMP devices the town-hall and data-centre servers poll, and the KRITIS
applications of the demo's small fleet."""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal
from zoneinfo import ZoneInfo

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


@dataclass(frozen=True)
class OfficeHours:
    """When the town halls work, use their thin clients and print: the first `weekdays`
    days of the week (Monday first) from `start` to `end` o'clock in Europe/Berlin."""

    start: int = 7
    end: int = 17
    weekdays: int = 5

    def holds(self, ts: float) -> bool:
        local = dt.datetime.fromtimestamp(ts, BERLIN)
        return local.weekday() < self.weekdays and self.start <= local.hour < self.end

    def _window(self, day: dt.date) -> tuple[float, float]:
        """The office hours of `day` as Unix times [from, to) (wall-clock, so DST days are right)."""
        midnight = dt.datetime(day.year, day.month, day.day, tzinfo=BERLIN)
        frm = midnight + dt.timedelta(hours=self.start)
        to = midnight + dt.timedelta(hours=self.end)
        return frm.timestamp(), to.timestamp()

    def ticks(self, since: float, until: float, tick_s: float) -> int:
        """How many instants k * `tick_s` with `since` < instant <= `until` fall into office hours."""
        if until <= since:
            return 0
        count = 0
        day = dt.datetime.fromtimestamp(since, BERLIN).date()
        last = dt.datetime.fromtimestamp(until, BERLIN).date()
        first_k, last_k = math.floor(since / tick_s) + 1, math.floor(until / tick_s)
        while day <= last:
            if day.weekday() < self.weekdays:
                frm, to = self._window(day)
                lo, hi = max(first_k, math.ceil(frm / tick_s)), min(last_k, math.ceil(to / tick_s) - 1)
                count += max(0, hi - lo + 1)
            day += dt.timedelta(days=1)
        return count


#: Monday to Friday, 07:00-17:00 in Europe/Berlin
OFFICE = OfficeHours()
#: every hour of every day (tests that cannot wait for a weekday morning)
AROUND_THE_CLOCK = OfficeHours(start=0, end=24, weekdays=7)


def office_hours(ts: float) -> bool:
    """Monday to Friday, 07:00-17:00 in Europe/Berlin."""
    return OFFICE.holds(ts)


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
            colour = t % 2 == 0  # a colour MFP, a mono laser printer
            h.devices = [
                SimDevice(
                    f"prn-{town}-1", "printer", colour=colour, recording="kyocera" if colour else "kyocera-p2040"
                ),
                SimDevice(f"ups-{town}-1", "ups", recording="phoenixtec"),
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
