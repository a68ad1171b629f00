"""Memory family: physical memory and swap.

"Used" memory is ``total - available`` (MemTotal - MemAvailable on Linux), the figure
node_exporter users compute as ``node_memory_MemTotal_bytes - node_memory_MemAvailable_bytes``
and the one that matters for billing: page cache and reclaimable slab are given back the
moment a program asks, so they are not consumption. psutil's own ``used`` field subtracts
a different set of kernel counters and would disagree with every Grafana dashboard.
"""

from __future__ import annotations

from typing import Any, Final

from agent import wire

__all__ = ["FIELDS", "sample_memory"]

FIELDS: Final = (
    # (name, unit, help) -- one row per wire.Memory field
    ("total_bytes", "bytes", "Physical memory usable by the kernel (MemTotal)."),
    ("used_bytes", "bytes", "Physical memory in use: total minus available (MemTotal - MemAvailable)."),
    ("swap_total_bytes", "bytes", "Swap space configured."),
    ("swap_used_bytes", "bytes", "Swap space in use."),
)


def sample_memory(ps: Any) -> wire.Memory:
    """Read the memory family from a psutil-like module."""
    vm = ps.virtual_memory()
    sw = ps.swap_memory()
    total = int(vm.total)
    # available can exceed total for a moment while the kernel updates its counters.
    used = min(max(total - int(vm.available), 0), total)
    return wire.Memory(
        total_bytes=total,
        used_bytes=used,
        swap_total_bytes=max(int(sw.total), 0),
        swap_used_bytes=max(int(sw.used), 0),
    )
