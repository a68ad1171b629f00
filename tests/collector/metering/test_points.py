"""Metering points and what a pair of them books: coverage, counters,
reboots, replacements and the NIC filter (pure, no I/O)."""

from __future__ import annotations

import itertools

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.wire import AgentInfo, Cpu, Disk, Memory, Nic, Printer, Report, SnmpReading, SnmpSys
from collector.metering.counters import to_scaled
from collector.metering.plausibility import Limits, NicFilter
from collector.metering.points import (
    DevicePoint,
    HostPoint,
    device_contributions,
    device_point,
    host_contributions,
    host_point,
)

from .points_support import GIB, T0, dp, hp, in_order, quarantined, rules, totals

LIMITS = Limits()
HOUR_MS = 3_600_000


def host(prev: HostPoint | None, cur: HostPoint) -> dict[str, int]:
    outcome = host_contributions(prev, cur, limits=LIMITS)
    assert outcome.anomalies == []
    return totals(outcome)


def pages(prev: DevicePoint | None, cur: DevicePoint) -> dict[str, int]:
    outcome = device_contributions(prev, cur, limits=LIMITS)
    assert outcome.anomalies == []
    return totals(outcome)


# -- coverage ----------------------------------------------------------------------


@pytest.mark.parametrize("interval", [60.0, 600.0, 900.0, 3600.0])
def test_reports_every_interval_are_covered_in_full(interval: float) -> None:
    # A month of reports every 10 or 15 minutes is billed in full (issue 13: 600 s covered 300 s).
    n = int(30 * 86400 / interval)
    points = [hp(T0 + i * interval, interval=interval, busy=None, nics={}) for i in range(1, n + 1)]
    ledger = in_order(lambda p, c: host_contributions(p, c, limits=LIMITS), points)
    booked, anomalies, _ = ledger.state()
    hours = sum(v for (meter, _, _), v in booked.items() if meter == "host_hours")
    assert hours == 30 * 24 * HOUR_MS
    memory = sum(v for (meter, _, _), v in booked.items() if meter == "memory_gib_hours")
    assert memory == 30 * 86400 * GIB // 1024  # KiB·s
    assert not anomalies


def test_a_silence_is_not_billed() -> None:
    # Two hours without a report: the next one covers only its declared minute.
    assert host(hp(T0), hp(T0 + 7200))["host_hours"] == 60_000


def test_a_restarted_agent_never_covers_time_twice() -> None:
    assert host(hp(T0), hp(T0 + 10))["host_hours"] == 10_000
    assert "host_hours" not in host(hp(T0), hp(T0))  # same ts: nothing new covered


def test_a_report_covers_at_most_max_interval() -> None:
    outcome = host_contributions(None, hp(T0, interval=3600), limits=Limits(max_interval_s=600))
    assert totals(outcome)["host_hours"] == 600_000


def test_the_first_point_is_the_baseline_of_every_counter() -> None:
    t = host(None, hp(T0, busy=1e6, nics={"eth0": (10**9, 10**9)}))
    assert "cpu_core_seconds" not in t
    assert "network_gib" not in t


# -- host counters and reboots ----------------------------------------------------


def test_counter_deltas_between_two_reports() -> None:
    t = host(hp(T0, busy=100.0, nics={"eth0": (1000, 50)}), hp(T0 + 60, busy=160.0, nics={"eth0": (3000, 150)}))
    assert t["cpu_core_seconds"] == 60 * 10**6
    assert t["network_gib"] == 2100


def test_a_reboot_resets_the_counters() -> None:
    before = hp(T0, busy=5000.0, nics={"eth0": (10**6, 10**6)})
    after = hp(T0 + 60, boot=T0 + 30, busy=20.0, nics={"eth0": (500, 700)})
    t = host(before, after)
    assert t["cpu_core_seconds"] == 20 * 10**6
    assert t["network_gib"] == 1200


def test_a_reboot_with_counters_already_above_the_old_values_is_still_a_reset() -> None:
    before = hp(T0, busy=10.0)
    after = hp(T0 + 60, boot=T0 + 30, busy=50.0)  # 50 s busy since the reboot, not 40
    assert host(before, after)["cpu_core_seconds"] == 50 * 10**6


def test_a_flapping_boot_time_is_not_a_series_of_reboots() -> None:
    # Every report claims another boot time, all long before the previous report:
    # a broken clock. Counters that grew are normal deltas.
    points = [hp(T0 + 60 * i, boot=T0 - 86400 - 997 * i, busy=1000.0 + 30 * i) for i in range(10)]
    ledger = in_order(lambda p, c: host_contributions(p, c, limits=LIMITS), points)
    booked, anomalies, _ = ledger.state()
    assert sum(v for (m, _, _), v in booked.items() if m == "cpu_core_seconds") == 9 * 30 * 10**6
    assert not anomalies


def test_a_counter_that_went_down_without_a_reboot_is_a_reset() -> None:
    t = host(hp(T0, busy=5000.0, nics={"eth0": (10**6, 0)}), hp(T0 + 60, busy=30.0, nics={"eth0": (400, 0)}))
    assert t["cpu_core_seconds"] == 30 * 10**6
    assert t["network_gib"] == 400


def test_a_new_interface_starts_with_a_baseline() -> None:
    t = host(hp(T0, nics={"eth0": (0, 0)}), hp(T0 + 60, nics={"eth0": (100, 0), "eth1": (10**9, 10**9)}))
    assert t["network_gib"] == 100


def test_a_report_stamped_before_the_previous_one_books_nothing() -> None:
    # A clock stepped back: the previous report already covered this time.
    assert host(hp(T0 + 60, busy=100.0), hp(T0, busy=200.0)) == {}


# -- printers -------------------------------------------------------------------


def test_printed_pages_between_two_readings() -> None:
    t = pages(dp(T0, 1000, mono=800, color=200), dp(T0 + 300, 1100, mono=870, color=230))
    assert t == {"printed_pages": 100, "printed_pages_mono": 70, "printed_pages_color": 30}


def test_total_is_mono_plus_color_where_the_printer_has_no_total() -> None:
    t = pages(dp(T0, None, mono=800, color=200), dp(T0 + 300, None, mono=870, color=230))
    assert t["printed_pages"] == 100


def test_a_32bit_wrap_from_the_top_half_is_unwrapped() -> None:
    assert pages(dp(T0, 2**32 - 100), dp(T0 + 60, 50)) == {"printed_pages": 150}


def test_replacement_with_higher_uptime_and_lower_counter_is_not_two_to_the_32() -> None:
    # Issue 13's regression: the leased unit swapped under the same device id;
    # uptime did not go back, the counter went from 15,000 to 11,340.
    old = dp(T0, 15_000, uptime=1000.0, serial=None, model=None)
    new = dp(T0 + 300, 11_340, uptime=90_000.0, serial=None, model=None)
    outcome = device_contributions(old, new, limits=LIMITS)
    assert totals(outcome) == {}
    # 11,340 pages in 5 minutes is beyond 300/min: kept for review, not billed
    assert quarantined(outcome) == {"printed_pages": 11_340}
    assert rules(outcome) == {"pages_above_ceiling"}
    # The same swap over a weekend is plausible and bills the new unit's counter.
    weekend = dp(T0 + 2 * 86400, 11_340, uptime=90_000.0, serial=None, model=None)
    assert pages(old, weekend) == {"printed_pages": 11_340}
    # And afterwards the new unit's pages, nothing else.
    assert pages(weekend, dp(T0 + 2 * 86400 + 300, 11_500, uptime=90_300.0)) == {"printed_pages": 160}


def test_a_new_serial_number_is_a_replacement_event_and_a_reset() -> None:
    old = dp(T0, 2**32 - 100, serial="CNB1234", model="HP M507")
    new = dp(T0 + 600, 20, serial="CNB9999", model="HP M507")
    outcome = device_contributions(old, new, limits=LIMITS)
    assert totals(outcome) == {"printed_pages": 20}  # not a wrap to 120
    [event] = outcome.events
    assert (event.kind, event.start, event.end) == ("device_replaced", T0, T0 + 600)
    assert "CNB1234 -> CNB9999" in event.evidence
    assert event.raw["serial_before"] == "CNB1234"


def test_a_new_model_is_a_replacement_even_when_the_counter_grew() -> None:
    outcome = device_contributions(dp(T0, 500, model="A"), dp(T0 + 600, 600, model="B"), limits=LIMITS)
    assert totals(outcome) == {"printed_pages": 600}
    assert [e.kind for e in outcome.events] == ["device_replaced"]


def test_an_unknown_serial_is_no_evidence_of_a_replacement() -> None:
    outcome = device_contributions(dp(T0, 500, serial="S1"), dp(T0 + 60, 510, serial=None), limits=LIMITS)
    assert outcome.events == []
    assert totals(outcome) == {"printed_pages": 10}


def test_a_printer_reboot_keeps_its_lifetime_counter() -> None:
    # Page counters survive a reboot: uptime going back is not a reset of pages.
    assert pages(dp(T0, 50_000, uptime=10**6), dp(T0 + 300, 50_040, uptime=100.0)) == {"printed_pages": 40}


def test_a_printer_reboot_with_a_lower_counter_is_a_reset_not_a_wrap() -> None:
    assert pages(dp(T0, 2**32 - 100, uptime=10**6), dp(T0 + 300, 50, uptime=100.0)) == {"printed_pages": 50}


def test_device_readings_out_of_order_book_nothing() -> None:
    assert device_contributions(dp(T0 + 60, 10), dp(T0, 20), limits=LIMITS).contributions == []
    assert device_contributions(None, dp(T0, 20), limits=LIMITS).contributions == []


# -- what a point keeps ------------------------------------------------------------


def _report(nics: list[Nic]) -> Report:
    return Report(
        seq=1,
        ts=T0,
        interval_s=60,
        cpu=Cpu(count=8, percent=1.0, busy_seconds_total=10.0),
        memory=Memory(total_bytes=16 * GIB, used_bytes=GIB),
        disks=[Disk(mount="/", total_bytes=100, used_bytes=10), Disk(mount="/srv", total_bytes=50, used_bytes=5)],
        net=nics,
    )


VM_HOST_NICS = [
    Nic(nic="lo"),
    Nic(nic="eno1", speed_bps=10**9),
    Nic(nic="eno2", bond="bond0", speed_bps=10**10),
    Nic(nic="eno3", bond="bond0", speed_bps=10**10),
    Nic(nic="bond0", speed_bps=2 * 10**10),
    Nic(nic="br0"),
    Nic(nic="virbr0"),
    Nic(nic="vnet3"),
    Nic(nic="tap0"),
    Nic(nic="veth1a2b"),
    Nic(nic="docker0"),
    Nic(nic="wg0"),
    Nic(nic="tun0"),
    Nic(nic="cni0"),
]


def test_a_point_keeps_physical_interfaces_only_by_default() -> None:
    point = host_point(AgentInfo(id="a", hostname="h"), _report(VM_HOST_NICS), tenant="t", limits=LIMITS)
    assert sorted(point.nics) == ["bond0", "eno1"]
    assert point.nic_speeds == {"eno1": 10**9, "bond0": 2 * 10**10}


def test_the_nic_filter_is_chosen_by_tenant_then_role() -> None:
    limits = Limits(
        nics_by_tenant={"stadt": NicFilter(include=("eno*",), exclude=(), exclude_bond_members=False)},
        nics_by_role={"vm": NicFilter(include=("*",), exclude=("lo",))},
    )
    report = _report(VM_HOST_NICS)
    stadt = host_point(AgentInfo(id="a", hostname="h", role="vm"), report, tenant="stadt", limits=limits)
    assert sorted(stadt.nics) == ["eno1", "eno2", "eno3"]
    vm = host_point(AgentInfo(id="a", hostname="h", role="vm"), report, tenant="kreis", limits=limits)
    assert "br0" in vm.nics and "lo" not in vm.nics and "eno2" not in vm.nics
    server = host_point(AgentInfo(id="a", hostname="h"), report, tenant="kreis", limits=limits)
    assert sorted(server.nics) == ["bond0", "eno1"]


def test_a_point_keeps_the_totals_the_checks_need() -> None:
    point = host_point(AgentInfo(id="a", hostname="h", boot_time=5.0), _report([]), tenant="t", limits=LIMITS)
    assert (point.cpu_count, point.mem_total, point.disk_used) == (8, 16 * GIB, 15)
    assert point.disks == (("/", 10, 100), ("/srv", 5, 50))


def test_a_device_point_keeps_serial_and_model() -> None:
    reading = SnmpReading(
        device="drucker-1",
        kind="printer",
        ts=T0,
        sys=SnmpSys(uptime_s=100.0),
        printer=Printer(pages_total=10, serial="CNB1234", model="HP M507"),
    )
    assert device_point(reading) == DevicePoint(T0, 100.0, 10, None, None, "CNB1234", "HP M507")


def test_points_stored_before_the_new_fields_still_decode() -> None:
    # meter_points written by the previous release: 9 and 5 array fields
    old_host = msgspec.msgpack.encode([T0, 60.0, T0 - 10, "server", 1.5, {"eth0": [1, 2]}, GIB, 2 * GIB, None])
    point = msgspec.msgpack.decode(old_host, type=HostPoint)
    assert (point.cpu_count, point.mem_total, point.disks, point.nic_speeds) == (None, None, (), {})
    old_device = msgspec.msgpack.encode([T0, 100.0, 10, None, None])
    assert msgspec.msgpack.decode(old_device, type=DevicePoint).serial is None
    # and an old point pairs with a new one: storage from disk_used, no checks it cannot make
    t = host(point, hp(T0 + 60, busy=3.5, nics={"eth0": (11, 2)}))
    assert t["cpu_core_seconds"] == 2 * 10**6
    assert t["network_gib"] == 10


@given(
    steps=st.lists(st.floats(min_value=1, max_value=3600), min_size=2, max_size=12),
    boots=st.lists(st.floats(min_value=0, max_value=2e9), min_size=12, max_size=12),
    busy=st.lists(st.floats(min_value=0, max_value=1), min_size=12, max_size=12),
)
def test_boot_times_outside_the_span_never_reset_growing_counters(
    steps: list[float], boots: list[float], busy: list[float]
) -> None:
    """Whatever a broken clock says the boot time is, as long as it does not
    fall between two reports, growing counters are billed as they grew."""
    ts, total, points = T0, 1000.0, []
    for i, step in enumerate(steps):
        ts += step
        total += 4 * step * busy[i]
        boot = boots[i]
        if ts - step - 10 <= boot <= ts + 10:
            boot = ts - 10**7  # keep it outside the span (and away from the tolerance)
        points.append(hp(ts, boot=boot, busy=total, nics={}))
    booked, anomalies, _ = in_order(lambda p, c: host_contributions(p, c, limits=LIMITS), points).state()
    cpu = sum(v for (m, _, _), v in booked.items() if m == "cpu_core_seconds")
    assert cpu == sum(to_scaled(b.cpu_busy - a.cpu_busy, 10**6) for a, b in itertools.pairwise(points))
    assert not anomalies
