"""Sampler and metric-family modules against a fake psutil holding recorded values."""

from __future__ import annotations

import math
import platform
import socket
import sys
from collections import namedtuple
from pathlib import Path
from typing import Any

import pytest

from agent import wire
from agent.sampling import Sampler, cpu, disks, memory, net, role, system
from agent.sampling.role import detect_role, dmi_hypervisor, systemd_detect_virt

GiB = 1 << 30
MiB = 1 << 20

# The shapes psutil 7 returns on Linux (only the fields the agent may touch matter).
scputimes = namedtuple("scputimes", "user nice system idle iowait irq softirq steal guest guest_nice")
svmem = namedtuple("svmem", "total available percent used free")
sswap = namedtuple("sswap", "total used free percent sin sout")
sdiskpart = namedtuple("sdiskpart", "device mountpoint fstype opts")
sdiskusage = namedtuple("sdiskusage", "total used free percent")
sdiskio = namedtuple("sdiskio", "read_count write_count read_bytes write_bytes")
snetio = namedtuple("snetio", "bytes_sent bytes_recv packets_sent packets_recv errin errout dropin dropout")
snicstats = namedtuple("snicstats", "isup duplex speed mtu flags")
suser = namedtuple("suser", "name terminal host started pid")


class FakePsutil:
    """Values recorded on a Debian file server, trimmed to what the sampler reads."""

    LINUX = True

    class Error(Exception):
        """Stands in for psutil.Error (not an OSError)."""

    def __init__(self) -> None:
        self.cpu_percent_calls: list[float | None] = []
        self.percents = iter([0.0, 37.5, 101.0])
        self.times = scputimes(
            user=1000.5,
            nice=20.0,
            system=300.25,
            idle=9000.0,
            iowait=50.0,
            irq=1.0,
            softirq=2.0,
            steal=3.0,
            guest=100.0,
            guest_nice=10.0,
        )
        self.partitions = [
            sdiskpart("/dev/sda1", "/var/lib/docker/volumes", "ext4", "rw"),  # bind mount of /
            sdiskpart("/dev/sda1", "/", "ext4", "rw"),
            sdiskpart("/dev/sdb1", "/srv/data", "xfs", "rw"),
            sdiskpart("/dev/loop3", "/snap/core22/1380", "squashfs", "ro"),
            sdiskpart("/dev/loop4", "/snap/lxd/29351", "ext4", "ro"),
            sdiskpart("tmpfs", "/run", "tmpfs", "rw"),
            sdiskpart("/dev/fuse", "/run/user/1000/doc", "fuse.portal", "rw"),
            sdiskpart("/dev/mapper/leitstand-test-vg0-home", "/home", "ext4", "rw"),
            sdiskpart("/dev/sdc1", "/mnt/locked", "ext4", "rw"),
        ]
        self.usage = {
            "/": sdiskusage(total=100 * GiB, used=40 * GiB, free=60 * GiB, percent=40.0),
            "/var/lib/docker/volumes": sdiskusage(total=100 * GiB, used=40 * GiB, free=60 * GiB, percent=40.0),
            "/srv/data": sdiskusage(total=2000 * GiB, used=1500 * GiB, free=500 * GiB, percent=75.0),
            "/home": sdiskusage(total=50 * GiB, used=5 * GiB, free=45 * GiB, percent=10.0),
        }
        self.io = {
            "sda": sdiskio(10, 20, 999, 999),  # the whole disk: must not be used for sda1
            "sda1": sdiskio(100, 200, 5 * GiB, 7 * GiB),
            "sdb1": sdiskio(300, 400, 11 * GiB, 13 * GiB),
        }
        self.nics = {
            "lo": snetio(5000, 5000, 10, 10, 0, 0, 0, 0),
            "lo0": snetio(7000, 7000, 10, 10, 0, 0, 0, 0),
            "eth0": snetio(2 * GiB, 30 * GiB, 1, 1, 4, 2, 0, 0),
            "wlan0": snetio(MiB, 3 * MiB, 1, 1, 0, 1, 0, 0),
        }
        self.nic_stats = {
            "lo": snicstats(True, 0, 0, 65536, "up,loopback,running"),
            "lo0": snicstats(True, 0, 0, 65536, "up,loopback,running"),
            "eth0": snicstats(True, 2, 1000, 1500, "up,broadcast,running,multicast"),
            "wlan0": snicstats(False, 0, 0, 1500, "broadcast,multicast"),
        }
        self.user_list = [
            suser("anna", "tty1", "", 1763800000.0, 812),
            suser("anna", "pts/0", "10.0.0.5", 1763800100.0, 901),
            suser("bernd", "pts/1", "10.0.0.6", 1763800200.0, 902),
            suser("anna", "pts/0", "10.0.0.5", 1763800100.0, 901),  # utmp lists it twice
            suser("carla", None, "", 1763800300.0, 950),
        ]

    def cpu_count(self, logical: bool = True) -> int:
        assert logical
        return 4

    def cpu_percent(self, interval: float | None = None) -> float:
        self.cpu_percent_calls.append(interval)
        return next(self.percents)

    def cpu_times(self) -> Any:
        return self.times

    def virtual_memory(self) -> Any:
        # psutil's own `used` (2 GiB) differs from total - available (3 GiB) on purpose.
        return svmem(total=8 * GiB, available=5 * GiB, percent=37.5, used=2 * GiB, free=1 * GiB)

    def swap_memory(self) -> Any:
        return sswap(total=2 * GiB, used=256 * MiB, free=2 * GiB - 256 * MiB, percent=12.5, sin=0, sout=0)

    def disk_partitions(self, all: bool = False) -> list[Any]:
        assert all is False
        return self.partitions

    def disk_usage(self, path: str) -> Any:
        if path == "/mnt/locked":
            raise PermissionError(13, "Permission denied", path)
        return self.usage[path]

    def disk_io_counters(self, perdisk: bool = False) -> dict[str, Any]:
        assert perdisk
        return self.io

    def net_io_counters(self, pernic: bool = False) -> dict[str, Any]:
        assert pernic
        return self.nics

    def net_if_stats(self) -> dict[str, Any]:
        return self.nic_stats

    def getloadavg(self) -> tuple[float, float, float]:
        return (0.42, 0.30, 0.20)

    def users(self) -> list[Any]:
        return self.user_list

    def boot_time(self) -> float:
        return 1763800000.0


EXPECTED = {
    "ts": 1763812345.25,
    "interval_s": 60.0,
    # busy = user + nice + system + irq + softirq + steal; guest columns are inside user/nice.
    "cpu": wire.Cpu(count=4, percent=37.5, busy_seconds_total=1326.75),
    "memory": wire.Memory(total_bytes=8 * GiB, used_bytes=3 * GiB, swap_total_bytes=2 * GiB, swap_used_bytes=256 * MiB),
    "disks": [
        wire.Disk(
            mount="/",
            device="sda1",
            total_bytes=100 * GiB,
            used_bytes=40 * GiB,
            read_bytes_total=5 * GiB,
            write_bytes_total=7 * GiB,
        ),
        # No I/O counters under that name: sizes still count, I/O reads as zero.
        wire.Disk(mount="/home", device="leitstand-test-vg0-home", total_bytes=50 * GiB, used_bytes=5 * GiB),
        wire.Disk(
            mount="/srv/data",
            device="sdb1",
            total_bytes=2000 * GiB,
            used_bytes=1500 * GiB,
            read_bytes_total=11 * GiB,
            write_bytes_total=13 * GiB,
        ),
    ],
    "net": [
        wire.Nic(
            nic="eth0",
            rx_bytes_total=30 * GiB,
            tx_bytes_total=2 * GiB,
            rx_errors_total=4,
            tx_errors_total=2,
            speed_bps=10**9,
        ),
        wire.Nic(nic="wlan0", rx_bytes_total=3 * MiB, tx_bytes_total=MiB, rx_errors_total=0, tx_errors_total=1),
    ],
    "load1": 0.42,
    "sessions": 4,
    "textfile": [],
    "textfile_errors": [],
    "snmp": [],
}


def make_sampler(fake: FakePsutil | None = None, **kwargs: Any) -> Sampler:
    kwargs.setdefault("role", "server")
    kwargs.setdefault("clock", lambda: 1763812345.25)
    return Sampler(fake or FakePsutil(), **kwargs)


def test_sample_reports_every_field_from_recorded_values() -> None:
    fields = make_sampler().sample(60)

    assert fields == EXPECTED


def test_sample_covers_every_report_field_but_seq() -> None:
    fields = make_sampler().sample(60)

    assert set(fields) == set(wire.Report.__struct_fields__) - {"seq"}


def test_sample_builds_a_report_the_collector_accepts() -> None:
    sampler = make_sampler()
    report = wire.Report(seq=7, **sampler.sample(30))  # type: ignore[arg-type]
    batch = wire.Batch(agent=sampler.agent_info("tc-017", "0.1.0"), reports=[report])

    decoded = wire.decode_batch(wire.encode(batch))

    assert decoded.reports[0] == report
    assert decoded.agent.role == "server"


def test_no_user_name_leaves_the_host() -> None:
    sampler = make_sampler()
    body = wire.encode(wire.Report(seq=1, **sampler.sample(60)))  # type: ignore[arg-type]

    for name in (b"anna", b"bernd", b"carla"):
        assert name not in body


def test_cpu_percent_is_primed_once_at_start() -> None:
    fake = FakePsutil()
    sampler = make_sampler(fake)
    assert fake.cpu_percent_calls == [None]

    first = sampler.sample(60)["cpu"]
    second = sampler.sample(60)["cpu"]

    assert fake.cpu_percent_calls == [None, None, None]
    assert isinstance(first, wire.Cpu) and first.percent == 37.5
    # psutil can overshoot 100 by rounding; the wire bound is 0..100.
    assert isinstance(second, wire.Cpu) and second.percent == 100.0


def test_busy_seconds_leaves_out_guest_time_on_linux_only() -> None:
    times = FakePsutil().times

    assert cpu.busy_seconds(times, linux=True) == 1326.75
    # Elsewhere there are no guest columns to double count, so every busy column adds up.
    assert cpu.busy_seconds(times, linux=False) == 1326.75 + 110.0


def test_disks_resolve_device_mapper_links_to_their_dm_counters(tmp_path: Path) -> None:
    (tmp_path / "dm-3").touch()
    (tmp_path / "vg0-root").symlink_to(tmp_path / "dm-3")
    fake = FakePsutil()
    fake.partitions = [sdiskpart(str(tmp_path / "vg0-root"), "/", "ext4", "rw")]
    fake.io = {"dm-3": sdiskio(1, 2, 333, 444)}

    [disk] = disks.sample_disks(fake)

    assert (disk.device, disk.read_bytes_total, disk.write_bytes_total) == ("vg0-root", 333, 444)


def test_disks_without_io_counters_still_report_sizes() -> None:
    fake = FakePsutil()

    def no_diskstats(perdisk: bool = False) -> dict[str, Any]:
        raise FileNotFoundError(2, "No such file or directory", "/proc/diskstats")

    fake.disk_io_counters = no_diskstats  # type: ignore[method-assign]

    found = disks.sample_disks(fake)

    assert [d.mount for d in found] == ["/", "/home", "/srv/data"]
    assert all(d.read_bytes_total == 0 and d.write_bytes_total == 0 for d in found)


@pytest.mark.parametrize(
    ("device", "mountpoint", "fstype", "real"),
    [
        ("/dev/sda1", "/", "ext4", True),
        ("rpool/ROOT/pve-1", "/", "zfs", True),
        ("/dev/loop0", "/mnt/image", "ext4", True),  # a disk image an admin mounted
        ("/dev/loop0", "/snap/core/1", "ext4", False),
        ("/dev/loop1", "/mnt/iso", "squashfs", False),
        ("overlay", "/", "overlay", False),
        ("cgroup", "/sys/fs/cgroup/cpu", "cgroup", False),
        ("cgroup2", "/sys/fs/cgroup", "cgroup2", False),
        ("snapfuse", "/snap/x/1", "fuse.snapfuse", False),
        ("", "/mnt/empty", "ext4", False),
    ],
)
def test_real_filesystem_filter(device: str, mountpoint: str, fstype: str, real: bool) -> None:
    assert disks.is_real_filesystem(device, mountpoint, fstype) is real


def test_disk_and_nic_lists_are_capped_at_the_wire_limit() -> None:
    fake = FakePsutil()
    fake.nics = {f"veth{i:04d}": snetio(1, 1, 1, 1, 0, 0, 0, 0) for i in range(600)}
    fake.nic_stats = {}
    fake.partitions = [sdiskpart(f"/dev/sd{i}", f"/m/{i:04d}", "ext4", "rw") for i in range(600)]
    fake.usage = {p.mountpoint: sdiskusage(1, 1, 0, 100.0) for p in fake.partitions}

    fields = make_sampler(fake).sample(60)
    report = wire.Report(seq=1, **fields)  # type: ignore[arg-type]
    batch = wire.Batch(agent=wire.AgentInfo(id="a", hostname="h"), reports=[report])

    assert len(report.net) == net.MAX_NICS == 512
    assert len(report.disks) == disks.MAX_DISKS == 512
    assert report.net[0].nic == "veth0000"
    wire.decode_batch(wire.encode(batch))  # raises if the report broke a wire bound


def test_loopback_is_skipped_by_flag_even_without_the_name_lo() -> None:
    nics = net.sample_net(FakePsutil())

    assert [n.nic for n in nics] == ["eth0", "wlan0"]


def test_loopback_is_skipped_by_name_when_flags_are_unavailable() -> None:
    fake = FakePsutil()

    def broken_stats() -> dict[str, Any]:
        raise OSError("ioctl failed")

    fake.net_if_stats = broken_stats  # type: ignore[method-assign]

    assert [n.nic for n in net.sample_net(fake)] == ["eth0", "lo0", "wlan0"]


def test_link_speed_is_reported_in_bits_per_second_and_zero_when_unknown() -> None:
    fake = FakePsutil()
    fake.nic_stats["wlan0"] = snicstats(True, 0, 65535, 1500, "up")  # a driver's "unknown"

    speeds = {n.nic: n.speed_bps for n in net.sample_net(fake)}

    assert speeds == {"eth0": 1_000_000_000, "wlan0": 0}


def test_bond_members_name_their_bond(tmp_path: Path) -> None:
    (tmp_path / "bond0" / "bonding").mkdir(parents=True)
    (tmp_path / "bond0" / "bonding" / "slaves").write_text("eth0 eth1\n")
    (tmp_path / "eth0").mkdir()
    fake = FakePsutil()
    fake.nics["bond0"] = snetio(1, 1, 1, 1, 0, 0, 0, 0)

    nics = {n.nic: n.bond for n in net.sample_net(fake, sysfs=tmp_path)}

    assert nics == {"bond0": "", "eth0": "bond0", "wlan0": ""}
    assert net.bond_members(tmp_path / "missing") == {}


def test_memory_used_is_total_minus_available_never_negative() -> None:
    fake = FakePsutil()
    assert memory.sample_memory(fake).used_bytes == 3 * GiB

    fake.virtual_memory = lambda: svmem(  # type: ignore[method-assign]
        total=8 * GiB, available=9 * GiB, percent=0.0, used=0, free=0
    )
    assert memory.sample_memory(fake).used_bytes == 0


def test_sessions_count_terminals_once_each() -> None:
    fake = FakePsutil()
    # tty1, pts/0 (listed twice), pts/1, and one session without a terminal
    assert system.session_count(fake) == 4

    fake.user_list = []
    assert system.session_count(fake) == 0


def test_a_failing_family_costs_only_that_family(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakePsutil()

    def gone(all: bool = False) -> list[Any]:
        raise OSError(5, "Input/output error")

    def denied() -> Any:
        raise FakePsutil.Error("access denied")

    fake.disk_partitions = gone  # type: ignore[method-assign]
    fake.virtual_memory = denied  # type: ignore[method-assign]

    fields = make_sampler(fake).sample(60)

    assert fields["disks"] == []
    assert fields["memory"] is None
    assert fields["cpu"] == EXPECTED["cpu"]
    assert fields["net"] == EXPECTED["net"]
    assert "sampling disks failed" in caplog.text
    assert "sampling memory failed" in caplog.text


def test_programming_errors_are_not_swallowed() -> None:
    fake = FakePsutil()
    fake.cpu_times = lambda: None  # type: ignore[method-assign]

    with pytest.raises(AttributeError):
        make_sampler(fake).sample(60)


@pytest.mark.parametrize("interval", [0.0, -1.0, 86400.5, math.nan, math.inf])
def test_interval_outside_the_wire_bounds_is_refused(interval: float) -> None:
    with pytest.raises(ValueError, match="interval_s"):
        make_sampler().sample(interval)


def test_ts_comes_from_the_clock() -> None:
    ticks = iter([1000.0, 1060.5])
    sampler = make_sampler(clock=lambda: next(ticks))

    assert [sampler.sample(60)["ts"], sampler.sample(60)["ts"]] == [1000.0, 1060.5]


def test_agent_info_from_config_and_host() -> None:
    sampler = make_sampler(role="thin-client", site="rathaus")

    info = sampler.agent_info("rathaus-tc-017", "0.1.0")

    assert info == wire.AgentInfo(
        id="rathaus-tc-017",
        hostname=socket.gethostname()[:128],
        version="0.1.0",
        role="thin-client",
        site="rathaus",
        os=f"{platform.system()} {platform.release()}",
        boot_time=1763800000.0,
    )
    assert 1 <= len(info.hostname) <= 128


def test_agent_info_detects_the_role_once_when_not_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str | None] = []

    def fake_detect(configured: str | None = None) -> wire.Role:
        calls.append(configured)
        return "vm"

    monkeypatch.setattr("agent.sampling.sampler.detect_role", fake_detect)
    sampler = Sampler(FakePsutil())

    roles = [sampler.agent_info("a", "1").role, sampler.agent_info("a", "1").role]

    assert roles == ["vm", "vm"]
    assert calls == [None]


def test_unknown_configured_role_stops_start_up() -> None:
    with pytest.raises(ValueError, match="unknown role 'desktop'"):
        Sampler(FakePsutil(), role="desktop")


def test_textfile_samples_and_errors_travel_in_the_sample(tmp_path: Path) -> None:
    (tmp_path / "backup.prom").write_text('backup_last_success_timestamp_seconds{job="emw"} 1763800000\n')
    (tmp_path / "broken.prom").write_text("backup_ok{job=emw} 1\n")

    fields = make_sampler(textfile_dir=str(tmp_path)).sample(60)

    assert fields["textfile"] == [
        wire.TextfileSample(name="backup_last_success_timestamp_seconds", value=1763800000.0, labels={"job": "emw"})
    ]
    errors = fields["textfile_errors"]
    assert isinstance(errors, list) and len(errors) == 1
    assert errors[0].startswith("broken.prom: line 1:")


@pytest.mark.parametrize(
    ("module", "struct"),
    [(cpu, wire.Cpu), (memory, wire.Memory), (disks, wire.Disk), (net, wire.Nic)],
)
def test_fields_table_documents_every_wire_field(module: Any, struct: Any) -> None:
    assert [row[0] for row in module.FIELDS] == list(struct.__struct_fields__)
    assert all(isinstance(unit, str) and help_text.endswith(".") for _, unit, help_text in module.FIELDS)


def test_system_fields_name_real_wire_fields() -> None:
    known = set(wire.Report.__struct_fields__) | set(wire.AgentInfo.__struct_fields__)

    assert {row[0] for row in system.FIELDS} <= known


# --- role detection -------------------------------------------------------------


def write_dmi(directory: Path, vendor: str, product: str) -> Path:
    directory.mkdir(exist_ok=True)
    (directory / "sys_vendor").write_text(vendor + "\n")
    (directory / "product_name").write_text(product + "\n")
    return directory


def never_called() -> str | None:
    raise AssertionError("detection must not run when the role is configured")


@pytest.mark.parametrize("configured", ["server", "vm", "thin-client"])
def test_configured_role_wins_without_detection(configured: str) -> None:
    assert detect_role(configured, detect_virt=never_called) == configured


@pytest.mark.parametrize(("virt", "expected"), [("kvm", "vm"), ("microsoft", "vm"), ("none", "server")])
def test_systemd_detect_virt_decides_when_it_answers(tmp_path: Path, virt: str, expected: str) -> None:
    # DMI says QEMU, but systemd's answer (which looks at more than DMI) wins.
    dmi = write_dmi(tmp_path / "dmi", "QEMU", "Standard PC (i440FX + PIIX, 1996)")

    assert detect_role(None, detect_virt=lambda: virt, dmi_dir=dmi) == expected


@pytest.mark.parametrize(
    ("vendor", "product", "expected"),
    [
        ("QEMU", "Standard PC (Q35 + ICH9, 2009)", "vm"),
        ("VMware, Inc.", "VMware Virtual Platform", "vm"),
        ("innotek GmbH", "VirtualBox", "vm"),
        ("Xen", "HVM domU", "vm"),
        ("Microsoft Corporation", "Virtual Machine", "vm"),
        ("Amazon EC2", "t3.medium", "vm"),
        ("Google", "Google Compute Engine", "vm"),
        ("Proxmox", "whatever", "vm"),
        ("Dell Inc.", "PowerEdge R750", "server"),
        ("Microsoft Corporation", "Surface Laptop 5", "server"),
        ("Amazon EC2", "c5.metal", "server"),
        ("Fujitsu", "FUTRO S740", "server"),  # a thin client: only config can say so
    ],
)
def test_dmi_fallback_when_systemd_cannot_tell(tmp_path: Path, vendor: str, product: str, expected: str) -> None:
    dmi = write_dmi(tmp_path / "dmi", vendor, product)

    assert detect_role(None, detect_virt=lambda: None, dmi_dir=dmi) == expected


def test_no_dmi_and_no_systemd_means_server(tmp_path: Path) -> None:
    assert dmi_hypervisor(tmp_path / "missing") is None
    assert detect_role(None, detect_virt=lambda: None, dmi_dir=tmp_path / "missing") == "server"


def fake_tool(tmp_path: Path, output: str, status: int) -> str:
    script = tmp_path / "systemd-detect-virt"
    script.write_text(f"#!/bin/sh\nprintf '%s\\n' '{output}'\nexit {status}\n")
    script.chmod(0o755)
    return str(script)


@pytest.mark.skipif(sys.platform == "win32", reason="shell script stands in for the tool")
@pytest.mark.parametrize(
    ("output", "status", "expected"), [("kvm", 0, "kvm"), ("none", 1, "none"), ("", 2, None), ("kvm", 1, None)]
)
def test_systemd_detect_virt_reads_the_tool(tmp_path: Path, output: str, status: int, expected: str | None) -> None:
    script = fake_tool(tmp_path, output, status)

    assert systemd_detect_virt((script, "--vm")) == expected


def test_systemd_detect_virt_absent(tmp_path: Path) -> None:
    assert systemd_detect_virt((str(tmp_path / "systemd-detect-virt"), "--vm")) is None


def test_role_detection_defaults_to_systemd_detect_virt_with_vm_only() -> None:
    # Containers must not count as "vm": the tool is asked about hypervisors only.
    assert role.DETECT_VIRT == ("systemd-detect-virt", "--vm")
