"""Network family: byte and error counters of every interface except loopback."""

from __future__ import annotations

import logging
from typing import Any, Final

from agent import wire

__all__ = ["FIELDS", "MAX_NICS", "sample_net"]

log = logging.getLogger(__name__)

FIELDS: Final = (
    # (name, unit, help) -- one row per wire.Nic field
    ("nic", "", "Interface name as the operating system calls it."),
    ("rx_bytes_total", "bytes", "Bytes received since the interface came up."),
    ("tx_bytes_total", "bytes", "Bytes sent since the interface came up."),
    ("rx_errors_total", "packets", "Receive errors since the interface came up."),
    ("tx_errors_total", "packets", "Transmit errors since the interface came up."),
)

# wire.Report caps NICs at 512 (a container host can have thousands of veths).
MAX_NICS: Final = 512
_MAX_NAME_LEN: Final = 128


def _loopbacks(ps: Any) -> set[str]:
    try:
        stats = ps.net_if_stats()
    except OSError:
        log.debug("net_if_stats failed; falling back to interface names", exc_info=True)
        return set()
    # psutil only grew `flags` in 5.9.3; older versions fall back to the name check.
    return {name for name, st in stats.items() if "loopback" in getattr(st, "flags", "").split(",")}


def _is_loopback(name: str, loopbacks: set[str]) -> bool:
    # Loopback traffic never leaves the host, so it is not network consumption.
    return name in loopbacks or name == "lo" or name.startswith("Loopback")


def sample_net(ps: Any) -> list[wire.Nic]:
    """Read the network family from a psutil-like module."""
    counters = ps.net_io_counters(pernic=True) or {}
    loopbacks = _loopbacks(ps)
    nics = [
        wire.Nic(
            nic=name,
            rx_bytes_total=max(int(c.bytes_recv), 0),
            tx_bytes_total=max(int(c.bytes_sent), 0),
            rx_errors_total=max(int(c.errin), 0),
            tx_errors_total=max(int(c.errout), 0),
        )
        for name, c in sorted(counters.items())
        if name and len(name) <= _MAX_NAME_LEN and not _is_loopback(name, loopbacks)
    ]
    if len(nics) > MAX_NICS:
        log.warning("%d interfaces found; reporting the first %d by name", len(nics), MAX_NICS)
        del nics[MAX_NICS:]
    return nics
