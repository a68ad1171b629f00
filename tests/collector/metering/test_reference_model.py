"""The pure metering math against an independent model of what really
happened: random printers and hosts consume plausible amounts, with
counter wraps, reboots, replacements, broken boot clocks and late arrivals,
and what is billed is exactly what was consumed and observable."""

from __future__ import annotations

import random
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.metering.counters import BOOT_TOLERANCE_S, WRAP32, to_scaled
from collector.metering.plausibility import Limits, Outcome
from collector.metering.points import DevicePoint, device_contributions, host_contributions

from .points_support import T0, Ledger, hp

LIMITS = Limits()


@dataclass
class Printer:
    """What a printer really did: its readings, and the pages billing must show."""

    readings: list[DevicePoint]
    printed: int


@st.composite
def printers(draw: st.DrawFn) -> Printer:
    counter = draw(st.sampled_from([0, 5_000, 2**31 - 10, WRAP32 - 2_000]))
    serial, uptime, ts = "S0", 10_000.0, T0
    readings = [DevicePoint(ts, uptime, counter, None, None, serial, "M")]
    printed = 0
    for i in range(draw(st.integers(min_value=1, max_value=25))):
        span = draw(st.sampled_from([60.0, 300.0, 3600.0, 2 * 86400.0]))
        ts += span
        uptime += span
        pages = draw(st.integers(min_value=0, max_value=int(LIMITS.pages_per_minute * span / 60)))
        event = draw(st.sampled_from(["print"] * 6 + ["reboot", "replace"]))
        if event == "replace":
            # a new unit: its counter starts where its last owner left it (a
            # small count, or one a long span makes plausible), then it prints
            serial = f"S{i + 1}"
            counter = draw(st.integers(min_value=0, max_value=int(LIMITS.pages_slack)))
            printed += counter
            counter += pages
        else:
            wraps = counter + pages >= WRAP32
            if event == "reboot" and not wraps:  # a reboot during a wrap is ambiguous: left out
                uptime = draw(st.floats(min_value=0, max_value=span))
            counter = (counter + pages) % WRAP32
        printed += pages
        readings.append(DevicePoint(ts, uptime, counter, None, None, serial, "M"))
    return Printer(readings, printed)


def _device(p: DevicePoint | None, c: DevicePoint) -> Outcome:
    return device_contributions(p, c, limits=LIMITS)


def _billed(ledger: Ledger, meter: str) -> int:
    booked, anomalies, _ = ledger.state()
    assert not anomalies
    return sum(v for (m, _, _), v in booked.items() if m == meter)


@settings(max_examples=300)
@given(printer=printers(), seed=st.integers(min_value=0, max_value=2**32))
def test_a_printer_bills_exactly_what_it_printed(printer: Printer, seed: int) -> None:
    order = list(range(len(printer.readings)))
    random.Random(seed).shuffle(order)
    ledger = Ledger(_device)
    for i in order:  # any arrival order: late readings are re-paired
        ledger.add(i, printer.readings[i])
    assert _billed(ledger, "printed_pages") == printer.printed
    replacements = sum(1 for a, b in zip(printer.readings, printer.readings[1:], strict=False) if a.serial != b.serial)
    assert sum(ledger.state()[2].values()) == replacements


@dataclass
class Host:
    points: list[object]
    busy_us: int  # CPU µs billing must show: all of it, except what a reboot hid


@st.composite
def hosts(draw: st.DrawFn) -> Host:
    cores = draw(st.sampled_from([1, 2, 8]))
    busy, ts = 500.0, T0
    boot = ts - 10**5
    points = [hp(ts, boot=boot, cores=cores, busy=busy, nics={})]
    billed = 0
    for _ in range(draw(st.integers(min_value=1, max_value=25))):
        span = draw(st.sampled_from([15.0, 60.0, 600.0, 900.0, 86400.0]))
        used = draw(st.floats(min_value=0, max_value=cores * span))
        event = draw(st.sampled_from(["run"] * 5 + ["reboot", "broken_clock"]))
        # boot times within BOOT_TOLERANCE_S are one boot (psutil's wobble): a reboot
        # must move the boot time further than that to be one
        latest_boot = ts + span - (BOOT_TOLERANCE_S + 1)
        if event == "reboot" and latest_boot > boot:
            # it rebooted inside the span: only what ran since the boot is observable
            since = draw(st.floats(min_value=0, max_value=min(span, ts + span - boot - BOOT_TOLERANCE_S - 1)))
            boot = ts + span - since
            busy = min(used, cores * since)
            billed += to_scaled(busy, 10**6)
        else:
            if event == "broken_clock":  # a boot time far from the span, every report another one
                boot = ts - draw(st.floats(min_value=10 * span + 10, max_value=10**8))
            before = busy
            busy += used
            billed += to_scaled(busy - before, 10**6)
        ts += span
        points.append(hp(ts, interval=span, boot=boot, cores=cores, busy=busy, nics={}))
    return Host(points, billed)


@settings(max_examples=300)
@given(host=hosts(), seed=st.integers(min_value=0, max_value=2**32))
def test_a_host_bills_exactly_the_cpu_it_used(host: Host, seed: int) -> None:
    order = list(range(len(host.points)))
    random.Random(seed).shuffle(order)
    ledger = Ledger(lambda p, c: host_contributions(p, c, limits=LIMITS))
    for i in order:
        ledger.add(i, host.points[i])
    assert _billed(ledger, "cpu_core_seconds") == host.busy_us
    # every report covered its declared interval exactly once
    total_s = sum(b.ts - a.ts for a, b in zip(host.points, host.points[1:], strict=False))  # type: ignore[attr-defined]
    assert _billed(ledger, "host_hours") == to_scaled(total_s + 60.0, 1000)  # + the first report's minute
