"""One report of a simulated host: its counters advance to a timestamp, KRITIS servers add
textfile evidence (backup timestamps, replication lag), and SNMP devices not served by
snmpsim get synthesized readings."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from agent.textfile import parse_exposition
from agent.wire import (
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
)

from .model import SimDevice, SimHost, office_hours
from .truth import GroundTruth


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
