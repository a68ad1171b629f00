"""Physical limits a metered quantity must respect, and what a breach is.

Pure: no I/O. `points.host_contributions` and `points.device_contributions`
check every delta and gauge against `Limits`; what fails is not a
contribution but an `Anomaly`, which the ledger puts into quarantine for a
billing operator's review instead of onto an invoice.

This module is the contract between the metering math (points, counters)
and the ledger (quarantine storage, review, exports).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import msgspec

__all__ = ["EVENTS", "RULES", "Anomaly", "Contribution", "Event", "Limits", "NicFilter", "Outcome"]

#: rule id -> what it means (English; the runbook explains them in German)
RULES: dict[str, str] = {
    "cpu_above_cores": "CPU busy time grew faster than cores x wall time",
    "memory_above_total": "memory in use above the host's total memory",
    "disk_above_total": "disk space in use above the disk's size",
    "network_above_link": "traffic above link speed x time (or the configured ceiling)",
    "pages_above_ceiling": "pages above the pages-per-minute ceiling x time",
    "value_out_of_range": "a quantity beyond what the ledger can hold",
}

#: event kind -> what it means (an inventory fact, not a quantity)
EVENTS: dict[str, str] = {
    "device_replaced": "the device's serial number or model changed: a new unit, its counters start again",
}

#: physical interfaces only: loopback, bridges, virtual pairs, tunnels and
#: container/VM plumbing carry traffic that a physical NIC already counts
DEFAULT_NIC_EXCLUDE: tuple[str, ...] = (
    "lo",
    "lo*",
    "Loopback*",
    "br*",
    "virbr*",
    "docker*",
    "podman*",
    "cni*",
    "cali*",
    "flannel*",
    "vxlan*",
    "veth*",
    "tap*",
    "tun*",
    "wg*",
    "vnet*",
    "kube-*",
    "cilium*",
    "weave*",
    "ovs-*",
    "genev_sys_*",
    "macvtap*",
    "tailscale*",
    "zt*",
    # traffic shaping mirrors (ifb), dummies, and Linux's own tunnel devices
    "ifb*",
    "dummy*",
    "nlmon*",
    "sit*",
    "gre*",
    "gretap*",
    "erspan*",
    "ip6tnl*",
    "ip6gre*",
    "ip_vti*",
    "ip6_vti*",
    # Windows: Hyper-V's virtual switch ports and IPv6 transition tunnels
    "vEthernet*",
    "isatap*",
    "Teredo*",
)


@dataclass(frozen=True)
class NicFilter:
    """Which interfaces count for `network_gib` (shell globs, case-sensitive).

    An interface counts when it matches one of `include`, none of `exclude`,
    and (with `exclude_bond_members`) is not enslaved to a bond: the bond
    itself carries its members' traffic.
    """

    include: tuple[str, ...] = ("*",)
    exclude: tuple[str, ...] = DEFAULT_NIC_EXCLUDE
    exclude_bond_members: bool = True


@dataclass(frozen=True)
class Limits:
    """Ceilings for plausibility checks (collector config `[metering.limits]`)."""

    #: CPU busy may exceed cores x wall time by this factor (clock jitter, rounding)
    cpu_tolerance: float = 1.05
    #: ...plus this many seconds of wall time (x cores)
    cpu_slack_s: float = 2.0
    #: bits per second per interface where the agent knows no link speed (100 Gbit/s)
    network_ceiling_bps: float = 100e9
    #: traffic may exceed speed x wall time by this factor (counters read a moment apart from ts)
    network_tolerance: float = 1.05
    #: ...plus this many seconds of wall time (x speed)
    network_slack_s: float = 2.0
    #: trust the link speed a VM reports (emulated NICs such as e1000 often
    #: run faster than their nominal 1 Gbit/s, so by default a VM's interfaces
    #: are held to the ceiling only)
    link_speed_on_vms: bool = False
    #: pages per minute per printer (the fastest office/production MFPs print ~150 ppm)
    pages_per_minute: float = 300.0
    #: ...plus this many pages (a printer may count a finished job at once)
    pages_slack: float = 20.0
    #: a report never covers more than this many seconds (the wire format's cap)
    max_interval_s: float = 86400.0
    #: which interfaces count for network_gib, by default and per tenant or role
    nics: NicFilter = field(default_factory=NicFilter)
    #: tenant -> filter (wins over a role's)
    nics_by_tenant: Mapping[str, NicFilter] = field(default_factory=dict)
    #: role -> filter
    nics_by_role: Mapping[str, NicFilter] = field(default_factory=dict)

    def nic_filter(self, tenant: str, role: str) -> NicFilter:
        """The filter for a host: its tenant's, else its role's, else the default."""
        found = self.nics_by_tenant.get(tenant)
        if found is None:
            found = self.nics_by_role.get(role, self.nics)
        return found


@dataclass(frozen=True)
class Anomaly:
    """An implausible quantity: never booked, kept for review with its evidence."""

    rule: str  # a key of RULES
    meter: str  # the meter it would have been booked to (model.METERS)
    dim: str
    #: what would have been booked, in the meter's scaled unit (may exceed 64 bits)
    scaled: int
    #: the span it covers (prev point's ts .. this point's ts; for a gauge the covered span)
    start: float
    end: float
    #: human-readable evidence naming the raw readings and the limit, e.g.
    #: "busy_seconds_total 1000 -> 9000000000000 in 60 s, 4 cores (limit 260 s)"
    evidence: str
    #: the raw readings the rule looked at (JSON-serializable scalars only)
    raw: dict[str, float | int | str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Event:
    """An inventory fact found between two points (e.g. a device replaced).

    Like an Anomaly it is a pure function of the pair: the ledger stores it
    keyed by (stream, start, end, kind) and drops it again when re-pairing
    negates that pair.
    """

    kind: str  # a key of EVENTS
    start: float  # prev point's ts
    end: float  # this point's ts
    evidence: str
    raw: dict[str, float | int | str | None] = field(default_factory=dict)


class Contribution(msgspec.Struct, frozen=True, gc=False):
    """A quantity booked to one meter, dimension and UTC hour (scaled unit).

    A Struct: several are made per report, and a frozen dataclass costs
    eight times as much to make (issue 18)."""

    meter: str
    dim: str
    hour: int
    scaled: int


class Outcome(msgspec.Struct, gc=False):
    """What a point adds: contributions to book, anomalies to quarantine, events to record.

    A Struct: one is made per point pair, and a dataclass with three default
    factories cost ten times as much to make. Untracked by the garbage
    collector: it only holds lists of values, never a cycle."""

    contributions: list[Contribution] = msgspec.field(default_factory=list)
    anomalies: list[Anomaly] = msgspec.field(default_factory=list)
    events: list[Event] = msgspec.field(default_factory=list)
