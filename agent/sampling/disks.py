"""Disk family: every real filesystem with its size, use and the I/O of its block device."""

from __future__ import annotations

import logging
import os
from typing import Any, Final

from agent import wire

__all__ = ["FIELDS", "MAX_DISKS", "PSEUDO_FSTYPES", "is_real_filesystem", "sample_disks"]

log = logging.getLogger(__name__)

FIELDS: Final = (
    # (name, unit, help) -- one row per wire.Disk field
    ("mount", "", "Mount point of the filesystem (the shortest one when a device is mounted twice)."),
    ("device", "", "Block device name, e.g. sda1 or vg0-root."),
    ("total_bytes", "bytes", "Size of the filesystem."),
    ("used_bytes", "bytes", "Space in use: size minus free blocks, as df and node_exporter count it."),
    ("read_bytes_total", "bytes", "Bytes read from the device since boot."),
    ("write_bytes_total", "bytes", "Bytes written to the device since boot."),
)

# disk_partitions(all=False) already drops most "nodev" filesystems; this list is the
# second line of defence for the ones it lets through (squashfs images of snaps are
# backed by a loop device) and for platforms whose psutil filters less.
PSEUDO_FSTYPES: Final = frozenset(
    {
        "autofs",
        "binfmt_misc",
        "bpf",
        "cgroup",
        "cgroup2",
        "configfs",
        "debugfs",
        "devfs",
        "devpts",
        "devtmpfs",
        "efivarfs",
        "fusectl",
        "hugetlbfs",
        # Read-only optical media: always full, never consumption.
        "iso9660",
        "mqueue",
        "nsfs",
        "overlay",
        "proc",
        "pstore",
        "ramfs",
        "rpc_pipefs",
        "securityfs",
        "squashfs",
        "sysfs",
        "tmpfs",
        "tracefs",
    }
)
# FUSE filesystems that mirror other storage rather than hold their own data.
_PSEUDO_FUSE: Final = frozenset({"fuse.snapfuse", "fuse.lxcfs", "fuse.gvfsd-fuse", "fuse.portal"})
_SNAP_MOUNT_PREFIXES: Final = ("/snap/", "/var/lib/snapd/")
# wire.Report caps disks at 512; a larger list would get the whole batch rejected.
MAX_DISKS: Final = 512
_MAX_MOUNT_LEN: Final = 1024
_MAX_DEVICE_LEN: Final = 256


def is_real_filesystem(device: str, mountpoint: str, fstype: str) -> bool:
    """True for a filesystem that stores data of its own (worth metering)."""
    if not device or fstype in PSEUDO_FSTYPES or fstype in _PSEUDO_FUSE:
        return False
    if fstype.startswith("cgroup"):
        return False
    # Snaps mount their squashfs images from loop devices; the space belongs to the
    # filesystem the image file lives on, which is counted already.
    return not (os.path.basename(device).startswith("loop") and mountpoint.startswith(_SNAP_MOUNT_PREFIXES))


def _io_counters(ps: Any) -> dict[str, Any]:
    try:
        counters = ps.disk_io_counters(perdisk=True)
    except (OSError, RuntimeError):
        # No /proc/diskstats (some containers): sizes are still worth sending.
        log.debug("disk I/O counters unavailable", exc_info=True)
        return {}
    return counters or {}


def _io_for(device: str, counters: dict[str, Any]) -> Any | None:
    name = os.path.basename(device)
    if name in counters:
        return counters[name]
    # /dev/mapper/vg0-root is a symlink to /dev/dm-3, and diskstats knows only dm-3.
    resolved = os.path.basename(os.path.realpath(device))
    return counters.get(resolved)


def sample_disks(ps: Any) -> list[wire.Disk]:
    """Read the disk family from a psutil-like module, one entry per real device."""
    # A device mounted twice (bind mounts, btrfs subvolumes) is one filesystem; metering
    # it once per mount point would bill the same gigabytes twice. Keep the shortest
    # mount point, which is the one an admin recognises (/ rather than /var/lib/x).
    by_device: dict[str, Any] = {}
    for part in ps.disk_partitions(all=False):
        if not is_real_filesystem(part.device, part.mountpoint, part.fstype):
            continue
        if len(part.mountpoint) > _MAX_MOUNT_LEN:
            continue
        known = by_device.get(part.device)
        if known is None or len(part.mountpoint) < len(known.mountpoint):
            by_device[part.device] = part

    counters = _io_counters(ps)
    disks: list[wire.Disk] = []
    for device, part in sorted(by_device.items(), key=lambda item: item[1].mountpoint):
        try:
            usage = ps.disk_usage(part.mountpoint)
        except OSError:
            # Unmounted between the two calls, or not readable by the agent's user.
            log.debug("disk_usage(%s) failed", part.mountpoint, exc_info=True)
            continue
        io = _io_for(device, counters)
        disks.append(
            wire.Disk(
                mount=part.mountpoint,
                device=os.path.basename(device)[:_MAX_DEVICE_LEN],
                total_bytes=max(int(usage.total), 0),
                used_bytes=max(int(usage.used), 0),
                read_bytes_total=int(io.read_bytes) if io is not None else 0,
                write_bytes_total=int(io.write_bytes) if io is not None else 0,
            )
        )
    if len(disks) > MAX_DISKS:
        log.warning("%d filesystems found; reporting the first %d by mount point", len(disks), MAX_DISKS)
        del disks[MAX_DISKS:]
    return disks
