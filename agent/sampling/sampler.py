"""The Sampler: one call per interval turns psutil readings into wire structs."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psutil

from agent import wire
from agent.sampling import cpu, disks, memory, net, system
from agent.sampling.role import detect_role
from agent.textfile import read_textfiles

__all__ = ["Sampler"]

log = logging.getLogger(__name__)

T = TypeVar("T")

_MAX_SITE_LEN = 256
_MAX_INTERVAL_S = 86400.0  # wire.Report.interval_s upper bound


class Sampler:
    """Reads one host's utilisation.

    ``psutil_module`` is a parameter so tests can pass a fake that returns recorded
    values. psutil keeps ``cpu_percent``'s previous reading in module state, so one
    process should own one Sampler per psutil module.
    """

    def __init__(
        self,
        psutil_module: Any = psutil,
        *,
        role: str | None = None,
        site: str = "",
        textfile_dir: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if role is not None:
            detect_role(role)  # a typo in the config should stop start-up, not every report
        if len(site) > _MAX_SITE_LEN:
            raise ValueError(f"site is longer than {_MAX_SITE_LEN} characters")
        self._ps = psutil_module
        self._configured_role = role
        self._role: wire.Role | None = None
        self._site = site
        self._textfile_dir = textfile_dir
        self._clock = clock
        # A failing psutil call costs one family of one report, never the report.
        self._errors: tuple[type[BaseException], ...] = (OSError, getattr(psutil_module, "Error", OSError))
        # The first cpu_percent(None) compares against nothing and returns 0.0 (or a
        # since-boot average); priming it here makes the first report's figure real.
        self._ps.cpu_percent(None)

    def agent_info(self, agent_id: str, version: str) -> wire.AgentInfo:
        """Host facts for the batch header: hostname, role, site, OS and boot time."""
        if self._role is None:
            # Detection may run systemd-detect-virt; the answer cannot change while we run.
            self._role = detect_role(self._configured_role)
        boot = self._guarded("boot_time", system.boot_time, 0.0)
        return wire.AgentInfo(
            id=agent_id,
            hostname=system.hostname(),
            version=version,
            role=self._role,
            site=self._site,
            os=system.os_string(),
            boot_time=boot,
        )

    def sample(self, interval_s: float) -> dict[str, object]:
        """Every wire.Report field except ``seq``, which the caller assigns."""
        if not (math.isfinite(interval_s) and 0 < interval_s <= _MAX_INTERVAL_S):
            raise ValueError(f"interval_s must be in (0, {_MAX_INTERVAL_S:g}], got {interval_s!r}")
        ts = float(self._clock())
        cpu_now = self._guarded("cpu", cpu.sample_cpu, None)
        memory_now = self._guarded("memory", memory.sample_memory, None)
        disk_list: list[wire.Disk] = self._guarded("disks", disks.sample_disks, [])
        nic_list: list[wire.Nic] = self._guarded("net", net.sample_net, [])
        textfile: list[wire.TextfileSample] = []
        textfile_errors: list[str] = []
        if self._textfile_dir is not None:
            textfile, textfile_errors = read_textfiles(self._textfile_dir)
        return {
            "ts": ts,
            "interval_s": float(interval_s),
            "cpu": cpu_now,
            "memory": memory_now,
            "disks": disk_list,
            "net": nic_list,
            "load1": self._guarded("load1", system.load1, None),
            "sessions": self._guarded("sessions", system.session_count, None),
            "textfile": textfile,
            "textfile_errors": textfile_errors,
            # SNMP readings are polled elsewhere and added by the caller.
            "snmp": [],
        }

    def _guarded(self, family: str, read: Callable[[Any], T], default: T) -> T:
        try:
            return read(self._ps)
        except self._errors as exc:
            log.warning("sampling %s failed: %s", family, exc)
            return default
