"""Which interfaces count for network_gib (pure)."""

from __future__ import annotations

import pytest

from collector.metering.nics import nic_counts, nic_matcher
from collector.metering.plausibility import NicFilter

DEFAULT = NicFilter()


@pytest.mark.parametrize(
    "name",
    ["eth0", "eno1", "enp3s0", "ens192", "em1", "wlan0", "bond0", "ib0", "Ethernet", "WLAN", "Ethernet 2"],
)
def test_physical_interfaces_and_bonds_count(name: str) -> None:
    assert nic_counts(DEFAULT, name)


@pytest.mark.parametrize(
    "name",
    [
        "lo",
        "lo0",
        "Loopback Pseudo-Interface 1",
        "br0",
        "br-3f2a9c",
        "virbr0",
        "virbr0-nic",
        "docker0",
        "podman0",
        "cni0",
        "cali12ab",
        "flannel.1",
        "vxlan.calico",
        "veth3f2a",
        "tap0",
        "tun0",
        "wg0",
        "vnet12",
        "kube-ipvs0",
        "cilium_host",
        "weave",
        "ovs-system",
        "genev_sys_6081",
        "macvtap0",
        "tailscale0",
        "zt7nnig26",
        "vEthernet (Default Switch)",
        "isatap.{1234}",
        "Teredo Tunneling Pseudo-Interface",
        "ifb0",
        "dummy0",
        "sit0",
        "gre0",
        "gretap0",
        "erspan0",
        "ip6tnl0",
        "ip_vti0",
        "tunl0",
    ],
)
def test_virtual_interfaces_do_not_count(name: str) -> None:
    assert not nic_counts(DEFAULT, name)


def test_bond_members_do_not_count_unless_configured() -> None:
    assert not nic_counts(DEFAULT, "eno1", "bond0")
    assert nic_counts(NicFilter(exclude_bond_members=False), "eno1", "bond0")


def test_include_and_exclude_globs() -> None:
    uplinks = NicFilter(include=("uplink*", "eno?"), exclude=("eno9",))
    assert nic_counts(uplinks, "uplink0")
    assert nic_counts(uplinks, "eno1")
    assert not nic_counts(uplinks, "eno9")
    assert not nic_counts(uplinks, "eno12")  # ? is one character
    assert not nic_counts(NicFilter(include=()), "eth0")  # no include: nothing counts
    assert nic_counts(NicFilter(exclude=()), "br0")


def test_globs_are_globs_not_regexes() -> None:
    assert not nic_counts(NicFilter(include=("eth.",)), "eth0")
    assert nic_counts(NicFilter(include=("eth.",)), "eth.")
    assert nic_counts(NicFilter(include=("[ab]*",)), "a1")


def test_a_filter_built_once_keeps_its_matcher() -> None:
    flt = NicFilter(include=("x*",))
    assert nic_matcher(flt) is nic_matcher(flt)
    assert nic_matcher(NicFilter(include=("x*",)))("x1", "")  # an equal filter built again answers the same


def test_many_distinct_names_stay_bounded() -> None:
    flt = NicFilter(include=("n*",))
    counts = nic_matcher(flt)
    assert all(counts(f"n{i}", "") for i in range(70_000))
    assert not counts("m", "")
