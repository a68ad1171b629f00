"""CPU family: logical core count, utilisation since the previous sample, busy seconds."""

from __future__ import annotations

import sys
from typing import Any, Final

from agent import wire

__all__ = ["FIELDS", "busy_seconds", "sample_cpu"]

FIELDS: Final = (
    # (name, unit, help) -- one row per wire.Cpu field
    ("count", "cpus", "Logical CPUs the operating system schedules on."),
    ("percent", "percent", "Share of all CPUs busy since the previous sample (0-100)."),
    (
        "busy_seconds_total",
        "seconds",
        "CPU seconds spent not idle and not waiting for I/O, summed over all CPUs, since boot.",
    ),
)

# Time a CPU spent with nothing to run; iowait is idle time spent waiting for a disk.
_IDLE_FIELDS: Final = frozenset({"idle", "iowait"})
# The Linux kernel counts guest time inside user (and guest_nice inside nice) as well
# as in its own column, see kernel/sched/cputime.c account_guest_time(); adding the
# guest columns would bill a hypervisor's guest time twice. psutil's own cpu_percent
# subtracts them for the same reason.
_LINUX_DOUBLE_COUNTED: Final = frozenset({"guest", "guest_nice"})


def busy_seconds(times: Any, *, linux: bool) -> float:
    """Busy CPU seconds in one psutil ``cpu_times()`` tuple (never negative)."""
    skip = _IDLE_FIELDS | _LINUX_DOUBLE_COUNTED if linux else _IDLE_FIELDS
    busy = sum(float(v) for k, v in times._asdict().items() if k not in skip)
    return max(busy, 0.0)


def sample_cpu(ps: Any) -> wire.Cpu:
    """Read the CPU family from a psutil-like module."""
    linux = bool(getattr(ps, "LINUX", sys.platform.startswith("linux")))
    # cpu_count() is None where the OS will not tell; one CPU is the only safe floor.
    count = ps.cpu_count(logical=True) or 1
    # The caller primed cpu_percent(None) once, so this is the average since the last call.
    percent = min(max(float(ps.cpu_percent(None)), 0.0), 100.0)
    return wire.Cpu(count=int(count), percent=percent, busy_seconds_total=busy_seconds(ps.cpu_times(), linux=linux))
