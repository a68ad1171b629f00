"""Network family: byte and error counters of every interface except loopback,
with its link speed and, on Linux, the bond it belongs to.

The agent reports every other interface; which ones count for metering
(physical ones by default) is the collector's decision, configurable per
tenant and role.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Final

from agent import wire

__all__ = ["FIELDS", "MAX_NICS", "SYSFS_NET", "bond_members", "sample_net"]

log = logging.getLogger(__name__)

FIELDS: Final = (
    # (name, unit, help) -- one row per wire.Nic field
    ("nic", "", "Interface name as the operating system calls it."),
    ("rx_bytes_total", "bytes", "Bytes received since the interface came up."),
    ("tx_bytes_total", "bytes", "Bytes sent since the interface came up."),
    ("rx_errors_total", "packets", "Receive errors since the interface came up."),
    ("tx_errors_total", "packets", "Transmit errors since the interface came up."),
    ("speed_bps", "bit/s", "Link speed as the driver reports it; 0 when unknown (virtual interfaces, no carrier)."),
    ("bond", "", "The bond (Linux bonding driver) this interface is a member of; empty if none."),
)

#: where Linux lists interfaces; each bond has `bonding/slaves`
SYSFS_NET: Final = Path("/sys/class/net")

# wire.Report caps NICs at 512 (a container host can have thousands of veths).
MAX_NICS: Final = 512
_MAX_NAME_LEN: Final = 128


def _stats(ps: Any) -> dict[str, Any]:
    try:
        return dict(ps.net_if_stats())
    except OSError:
        log.debug("net_if_stats failed; falling back to interface names", exc_info=True)
        return {}


def _loopbacks(stats: dict[str, Any]) -> set[str]:
    # psutil only grew `flags` in 5.9.3; older versions fall back to the name check.
    return {name for name, st in stats.items() if "loopback" in getattr(st, "flags", "").split(",")}


def _speed_bps(stats: dict[str, Any], name: str) -> int:
    # psutil reports Mbit/s, 0 when unknown; some drivers say -1 or 65535 for "unknown".
    speed = getattr(stats.get(name), "speed", 0) or 0
    return int(speed) * 1_000_000 if 0 < speed < 65535 else 0


def bond_members(sysfs: Path = SYSFS_NET) -> dict[str, str]:
    """Interface -> the bond it is enslaved to, from Linux's sysfs (empty elsewhere)."""
    members: dict[str, str] = {}
    try:
        slaves = sorted(sysfs.glob("*/bonding/slaves"))
    except OSError:
        return members
    for path in slaves:
        try:
            names = path.read_text(encoding="utf-8").split()
        except OSError:
            continue
        for name in names:
            members[name] = path.parent.parent.name
    return members


def _is_loopback(name: str, loopbacks: set[str]) -> bool:
    # Loopback traffic never leaves the host, so it is not network consumption.
    return name in loopbacks or name == "lo" or name.startswith("Loopback")


def sample_net(ps: Any, sysfs: Path = SYSFS_NET) -> list[wire.Nic]:
    """Read the network family from a psutil-like module (and bonds from sysfs)."""
    counters = ps.net_io_counters(pernic=True) or {}
    stats = _stats(ps)
    loopbacks = _loopbacks(stats)
    bonds = bond_members(sysfs)
    nics = [
        wire.Nic(
            nic=name,
            rx_bytes_total=max(int(c.bytes_recv), 0),
            tx_bytes_total=max(int(c.bytes_sent), 0),
            rx_errors_total=max(int(c.errin), 0),
            tx_errors_total=max(int(c.errout), 0),
            speed_bps=_speed_bps(stats, name),
            bond=bonds.get(name, "")[:256],
        )
        for name, c in sorted(counters.items())
        if name and len(name) <= _MAX_NAME_LEN and not _is_loopback(name, loopbacks)
    ]
    if len(nics) > MAX_NICS:
        log.warning("%d interfaces found; reporting the first %d by name", len(nics), MAX_NICS)
        del nics[MAX_NICS:]
    return nics
