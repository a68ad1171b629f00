"""Which network interfaces count for `network_gib`. Pure: no I/O.

Traffic is counted where it crosses a physical interface. Loopback never
leaves the host; bridges, veth/tap pairs, tunnels and container networks
carry traffic that a physical interface already counts (a VM's packet
passes tap -> bridge -> eth0), and a bond carries its members' traffic.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from functools import lru_cache

from .plausibility import NicFilter

__all__ = ["nic_counts", "nic_matcher"]


def nic_counts(flt: NicFilter, name: str, bond: str = "") -> bool:
    """Whether interface `name` (a member of bond `bond`, if any) counts."""
    return nic_matcher(flt)(name, bond)


def nic_matcher(flt: NicFilter) -> Callable[[str, str], bool]:
    """A fast predicate for one filter: the globs compiled once into one
    regex each, and each interface name's answer remembered (a fleet has few
    distinct names). Looked up by identity first: the collector builds its
    filters once, and hashing one costs more than the lookup it saves."""
    found = _by_id.get(id(flt))
    if found is not None and found[0] is flt:
        return found[1]
    matcher = _matcher(flt)
    if len(_by_id) >= 256:
        _by_id.clear()
    _by_id[id(flt)] = (flt, matcher)  # holds flt, so its id is not reused while cached
    return matcher


_by_id: dict[int, tuple[NicFilter, Callable[[str, str], bool]]] = {}


@lru_cache(maxsize=256)
def _matcher(flt: NicFilter) -> Callable[[str, str], bool]:
    include = _compile(flt.include)
    exclude = _compile(flt.exclude)
    skip_members = flt.exclude_bond_members
    seen: dict[tuple[str, str], bool] = {}

    def counts(name: str, bond: str) -> bool:
        key = (name, bond)
        known = seen.get(key)
        if known is None:
            known = bool(include.match(name)) and not exclude.match(name) and not (skip_members and bond)
            if len(seen) < 65536:  # bounded: names come from untrusted agents
                seen[key] = known
        return known

    return counts


def _compile(globs: tuple[str, ...]) -> re.Pattern[str]:
    if not globs:
        return re.compile(r"(?!)")  # matches nothing
    return re.compile("|".join(f"(?:{fnmatch.translate(g)})" for g in globs))
