"""Plausibility: every delta and gauge is checked against physical limits
before it becomes a contribution; what fails is an anomaly carrying the same
quantity, never a contribution (pure, no I/O)."""

from __future__ import annotations

import itertools
import math
import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.metering.counters import INT64_MAX
from collector.metering.plausibility import RULES, Anomaly, Limits, Outcome
from collector.metering.points import DevicePoint, HostPoint, device_contributions, host_contributions

from .points_support import (
    GIB,
    T0,
    UNCHECKED,
    Ledger,
    device_points,
    dp,
    host_points,
    hp,
    in_order,
    quarantined,
    rules,
    totals,
)

LIMITS = Limits()


def host(prev: HostPoint | None, cur: HostPoint, limits: Limits = LIMITS) -> Outcome:
    return host_contributions(prev, cur, limits=limits)


def device(prev: DevicePoint | None, cur: DevicePoint, limits: Limits = LIMITS) -> Outcome:
    return device_contributions(prev, cur, limits=limits)


def only(outcome: Outcome) -> Anomaly:
    [anomaly] = outcome.anomalies
    assert anomaly.rule in RULES
    return anomaly


# -- CPU ---------------------------------------------------------------------------


def test_cpu_busy_jumping_by_9e12_on_4_cores_is_quarantined() -> None:
    outcome = host(hp(T0, busy=1000.0), hp(T0 + 60, busy=9e12))
    a = only(outcome)
    assert (a.rule, a.meter, a.start, a.end) == ("cpu_above_cores", "cpu_core_seconds", T0, T0 + 60)
    assert a.scaled == round((9e12 - 1000) * 10**6)
    assert a.evidence == "busy_seconds_total 1000 -> 9000000000000 in 60 s, 4 cores (limit 260 s)"
    assert a.raw["busy_before"] == 1000.0 and a.raw["cores"] == 4
    assert "cpu_core_seconds" not in totals(outcome)
    assert totals(outcome)["host_hours"] == 60_000  # the rest of the report is booked


def test_cpu_a_little_above_cores_times_wall_time_is_booked() -> None:
    # psutil's busy time can run ahead of cores x wall by a little
    assert totals(host(hp(T0, busy=0.0), hp(T0 + 60, busy=4 * 60 * 1.04)))["cpu_core_seconds"] == 249_600_000
    assert host(hp(T0, busy=0.0), hp(T0 + 1, busy=4 * 3.0)).anomalies == []  # the slack: 4 x (1.05 + 2) s


def test_cpu_limit_uses_the_larger_core_count_of_a_resized_vm() -> None:
    assert host(hp(T0, busy=0.0, cores=16), hp(T0 + 60, busy=900.0, cores=4)).anomalies == []


def test_cpu_reset_by_a_reboot_is_checked_too() -> None:
    outcome = host(hp(T0, busy=100.0), hp(T0 + 60, boot=T0 + 30, busy=5e6))
    assert rules(outcome) == {"cpu_above_cores"}
    assert "(reset)" in only(outcome).evidence


# -- memory and disks ----------------------------------------------------------------


def test_memory_used_above_total_is_quarantined_and_used_equal_total_is_fine() -> None:
    outcome = host(None, hp(T0, mem=9 * GIB, mem_total=8 * GIB))
    a = only(outcome)
    assert (a.rule, a.meter, a.start, a.end) == ("memory_above_total", "memory_gib_hours", T0 - 60, T0)
    assert a.scaled == 9 * GIB // 1024 * 60
    assert f"used_bytes {9 * GIB} of total_bytes {8 * GIB}" in a.evidence
    assert "memory_gib_hours" not in totals(outcome)
    assert host(None, hp(T0, mem=8 * GIB, mem_total=8 * GIB)).anomalies == []


def test_one_overfull_disk_is_quarantined_the_others_are_booked() -> None:
    disks = [("/", 10 * GIB, 100 * GIB), ("/srv", 300 * GIB, 200 * GIB), ("/var", 5 * GIB, 50 * GIB)]
    outcome = host(None, hp(T0, disks=disks))
    a = only(outcome)
    assert (a.rule, a.meter) == ("disk_above_total", "storage_gib_hours")
    assert a.scaled == 300 * GIB // 1024 * 60
    assert a.raw["disk0.mount"] == "/srv"
    assert "/srv used_bytes" in a.evidence
    assert totals(outcome)["storage_gib_hours"] == 15 * GIB // 1024 * 60


def test_many_overfull_disks_are_one_anomaly_with_bounded_evidence() -> None:
    disks = [(f"/m{i}", 2, 1) for i in range(500)]
    a = only(host(None, hp(T0, disks=disks)))
    assert "and 492 more" in a.evidence
    assert len(a.raw) < 40


# -- network -------------------------------------------------------------------------


def test_traffic_above_link_speed_is_quarantined() -> None:
    # 1 Gbit/s for 60 s is 7.5 GB per direction; 20 GB received is impossible
    prev = hp(T0, nics={"eth0": (0, 0)}, speeds={"eth0": 10**9})
    outcome = host(prev, hp(T0 + 60, nics={"eth0": (20 * 10**9, 10**6)}, speeds={"eth0": 10**9}))
    a = only(outcome)
    assert (a.rule, a.meter, a.scaled) == ("network_above_link", "network_gib", 20 * 10**9 + 10**6)
    assert "eth0 rx +20000000000 tx +1000000 bytes (1000000000 bit/s" in a.evidence
    assert "network_gib" not in totals(outcome)


def test_traffic_at_line_rate_is_booked() -> None:
    prev = hp(T0, nics={"eth0": (0, 0)}, speeds={"eth0": 10**9})
    line_rate = 10**9 // 8 * 60
    outcome = host(prev, hp(T0 + 60, nics={"eth0": (line_rate, line_rate)}, speeds={"eth0": 10**9}))
    assert outcome.anomalies == []
    assert totals(outcome)["network_gib"] == 2 * line_rate


def test_only_the_implausible_interface_is_quarantined() -> None:
    prev = hp(T0, nics={"eth0": (0, 0), "eth1": (0, 0)}, speeds={"eth1": 10**8})
    outcome = host(prev, hp(T0 + 60, nics={"eth0": (5000, 5000), "eth1": (10**10, 0)}))
    assert quarantined(outcome) == {"network_gib": 10**10}
    assert totals(outcome)["network_gib"] == 10_000


def test_without_a_known_speed_the_ceiling_applies() -> None:
    prev = hp(T0, nics={"eth0": (0, 0)})
    ok = host(prev, hp(T0 + 60, nics={"eth0": (10**11, 0)}))  # 100 GB in 60 s: under 100 Gbit/s
    assert ok.anomalies == []
    bad = host(prev, hp(T0 + 60, nics={"eth0": (10**12, 0)}))
    assert rules(bad) == {"network_above_link"}
    assert "speed unknown" in only(bad).evidence
    tight = Limits(network_ceiling_bps=10**9)
    assert rules(host(prev, hp(T0 + 60, nics={"eth0": (10**11, 0)}), tight)) == {"network_above_link"}


def test_a_vms_nominal_link_speed_is_not_trusted_by_default() -> None:
    # an emulated e1000 says 1 Gbit/s and moves more
    prev = hp(T0, role="vm", nics={"eth0": (0, 0)}, speeds={"eth0": 10**9})
    cur = hp(T0 + 60, role="vm", nics={"eth0": (3 * 10**10, 0)}, speeds={"eth0": 10**9})
    assert host(prev, cur).anomalies == []
    assert rules(host(prev, cur, Limits(link_speed_on_vms=True))) == {"network_above_link"}


def test_two_interfaces_near_two_to_the_62_are_out_of_range_not_an_overflow() -> None:
    prev = hp(T0, nics={"a": (0, 0), "b": (0, 0)})
    cur = hp(T0 + 60, nics={"a": (2**62, 2**62), "b": (2**62, 2**62)})
    outcome = host(prev, cur, UNCHECKED)
    a = only(outcome)
    assert (a.rule, a.meter, a.scaled) == ("value_out_of_range", "network_gib", 2**64)
    assert f"(limit {INT64_MAX})" in a.evidence


# -- pages -------------------------------------------------------------------------


def test_pages_jumping_by_two_to_the_63_are_quarantined() -> None:
    outcome = device(dp(T0, 1000), dp(T0 + 300, 2**63 - 1))
    a = only(outcome)
    assert (a.rule, a.meter, a.scaled, a.start, a.end) == (
        "pages_above_ceiling",
        "printed_pages",
        2**63 - 1001,
        T0,
        T0 + 300,
    )
    assert a.evidence == "printed_pages 1000 -> 9223372036854775807 in 300 s (limit 1520 pages at 300/min)"
    assert totals(outcome) == {}


def test_pages_at_the_fastest_mfps_rate_are_booked() -> None:
    assert totals(device(dp(T0, 0), dp(T0 + 60, 150)))["printed_pages"] == 150
    assert device(dp(T0, 0), dp(T0 + 60, 321)).anomalies != []  # 300/min + 20 slack


def test_a_wrap_is_only_unwrapped_within_the_page_limit() -> None:
    # from the top half, but 2^31 pages in a minute is no wrap: a reset to 5
    assert totals(device(dp(T0, 2**31 + 10), dp(T0 + 60, 5))) == {"printed_pages": 5}


def test_each_page_counter_is_checked_on_its_own() -> None:
    outcome = device(dp(T0, 100, mono=60, color=40), dp(T0 + 60, 2**40, mono=70, color=2**40 - 70))
    assert totals(outcome) == {"printed_pages_mono": 10}
    assert set(quarantined(outcome)) == {"printed_pages", "printed_pages_color"}


# -- defaults never quarantine a normal host -------------------------------------------


@given(
    cores=st.integers(min_value=1, max_value=256),
    load=st.floats(min_value=0, max_value=1.04),
    step=st.floats(min_value=1, max_value=7 * 86400),
    mem_share=st.floats(min_value=0, max_value=1),
    link=st.sampled_from([0, 10**8, 10**9, 10**10]),
    traffic_share=st.floats(min_value=0, max_value=1),
    role=st.sampled_from(["server", "vm", "thin-client"]),
)
def test_a_normal_host_is_never_quarantined(
    cores: int, load: float, step: float, mem_share: float, link: int, traffic_share: float, role: str
) -> None:
    total = 64 * GIB
    rate = (link or 10**9) / 8  # bytes/s a link carries per direction
    bytes_ = int(rate * step * traffic_share)
    prev = hp(T0, role=role, cores=cores, busy=1e6, nics={"eth0": (10**12, 10**12)}, speeds={"eth0": link})
    cur = hp(T0 + step, role=role, cores=cores, busy=1e6 + cores * step * load, mem=int(total * mem_share),
             mem_total=total, nics={"eth0": (10**12 + bytes_, 10**12 + bytes_)}, speeds={"eth0": link},
             disks=[("/", 2**40, 2**40)])  # fmt: skip
    assert host(prev, cur).anomalies == []


# -- properties over random streams ------------------------------------------------


def _measured(outcome: Outcome) -> dict[str, int]:
    """Booked + quarantined per meter (value_out_of_range excluded: it never books)."""
    out = totals(outcome)
    for a in outcome.anomalies:
        out[a.meter] = out.get(a.meter, 0) + a.scaled
    return {k: v for k, v in out.items() if v}


def _pairs(points: list[Any]) -> list[tuple[Any, Any]]:
    return [(None, points[0]), *itertools.pairwise(points)]


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(points=host_points())
def test_host_checks_move_quantities_never_change_them(points: list[HostPoint]) -> None:
    """Conservation: booked + quarantined is what was measured, with or without checks."""
    for prev, cur in _pairs(points):
        checked, unchecked = host(prev, cur), host(prev, cur, UNCHECKED)
        assert _measured(checked) == _measured(unchecked)
        # what no tolerance widens: used above total, and what the ledger cannot hold
        assert rules(unchecked) <= {"value_out_of_range", "memory_above_total", "disk_above_total"}


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(points=device_points())
def test_device_checks_move_quantities_never_change_them(points: list[DevicePoint]) -> None:
    for prev, cur in _pairs(points):
        # a wrap depends on the limit, so compare with limits at least as wide as the wrap
        checked = device(prev, cur)
        assert all(a.scaled > 0 for a in checked.anomalies)
        unchecked = device(prev, cur, Limits(pages_slack=math.inf))
        assert sum(totals(unchecked).values()) >= sum(totals(checked).values())


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(points=host_points())
def test_no_quarantined_quantity_reaches_a_contribution(points: list[HostPoint]) -> None:
    for prev, cur in _pairs(points):
        outcome = host(prev, cur)
        booked = totals(outcome)
        assert all(abs(c.scaled) <= INT64_MAX for c in outcome.contributions)
        for a in outcome.anomalies:
            assert a.scaled != 0
            assert a.start <= a.end
        if prev is not None and prev.ts < cur.ts:
            span = cur.ts - prev.ts
            cores = max(c for c in (prev.cpu_count, cur.cpu_count) if c is not None)
            limit_us = cores * (span * LIMITS.cpu_tolerance + LIMITS.cpu_slack_s) * 10**6
            assert booked.get("cpu_core_seconds", 0) <= limit_us + 1
            wall = span * LIMITS.network_tolerance + LIMITS.network_slack_s
            assert booked.get("network_gib", 0) <= 2 * LIMITS.network_ceiling_bps / 8 * wall
        if cur.mem_used is not None and cur.mem_total is not None and cur.mem_used > cur.mem_total:
            assert "memory_gib_hours" not in booked
            assert "memory_above_total" in rules(outcome)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(points=device_points())
def test_no_page_count_beyond_the_ceiling_reaches_a_contribution(points: list[DevicePoint]) -> None:
    for prev, cur in _pairs(points):
        outcome = device(prev, cur)
        if prev is None:
            continue
        limit = LIMITS.pages_per_minute * (cur.ts - prev.ts) / 60 + LIMITS.pages_slack
        for meter, value in totals(outcome).items():
            assert 0 <= value <= limit, meter
        assert all(a.scaled > limit for a in outcome.anomalies)


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(points=host_points(n=7), seed=st.integers(min_value=0, max_value=2**32))
def test_host_booking_does_not_depend_on_arrival_order(points: list[HostPoint], seed: int) -> None:
    """Re-pairing late points (+new pairs, -the pair they split) gives the same
    contributions, anomalies and events as arrival in order."""

    def pair(p: HostPoint | None, c: HostPoint) -> Outcome:
        return host(p, c)

    expected = in_order(pair, points).state()
    order = list(range(len(points)))
    random.Random(seed).shuffle(order)
    late = Ledger(pair)
    for i in order:
        late.add(i, points[i])
    assert late.state() == expected


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(points=device_points(n=8), seed=st.integers(min_value=0, max_value=2**32))
def test_device_booking_does_not_depend_on_arrival_order(points: list[DevicePoint], seed: int) -> None:
    def pair(p: DevicePoint | None, c: DevicePoint) -> Outcome:
        return device(p, c)

    expected = in_order(pair, points).state()
    order = list(range(len(points)))
    random.Random(seed).shuffle(order)
    late = Ledger(pair)
    for i in order:
        late.add(i, points[i])
    assert late.state() == expected


@given(points=host_points(n=3))
def test_the_same_pair_always_gives_the_same_outcome(points: list[HostPoint]) -> None:
    for prev, cur in _pairs(points):
        assert host(prev, cur) == host(prev, cur)
