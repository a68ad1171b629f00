"""The fleet's SNMP devices in --live (collector.sim): snmpsim serves copies of recordings
of real devices whose counters advance with the clock, and the agent's own SNMP poller
reads them. The page counters must be the recording's values plus the advance since the
epoch, never synthesized ones, and they must grow between two polls."""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

import collector.sim.snmp
from agent.wire import SnmpReading
from collector.sim.model import AROUND_THE_CLOCK, SimHost, build_fleet
from collector.sim.sampling import sample
from collector.sim.snmp import RECORDINGS, SnmpFarm, snmpsim_missing, start_snmp_farm
from tests.support import wait_until

#: the recordings' expected readings (sources and licences in the README there)
EXPECTED_DIR = Path(__file__).resolve().parent.parent / "snmp" / "recordings"

#: pages advance every second here (every PAGE_TICK_S in the demo), so two polls see it
TICK_S = 1.0
LIFE_COUNT = "1.3.6.1.2.1.43.10.2.1.4.1.1"
HC_IN_OCTETS = "1.3.6.1.2.1.31.1.1.1.6."


def _require_snmpsim() -> None:
    """Skip naming what is missing; under CI=true that is a failure."""
    missing = snmpsim_missing()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(missing)
        pytest.skip(missing)


def _advance(pages_per_tick: int, epoch: float, t: float) -> int:
    """Pages a counter gained from `epoch` to `t` (every tick, around the clock)."""
    rate = 1 / TICK_S
    return pages_per_tick * (math.floor(t * rate) - math.floor(epoch * rate))


def _readings(farm: SnmpFarm, hosts: Sequence[SimHost], device: str, count: int) -> list[SnmpReading]:
    """`count` readings of `device` from the pollers, drained as the agent's sampler does."""
    out: list[SnmpReading] = []

    def enough() -> bool:
        for h in hosts:
            out.extend(r for r in farm.drain(h) if r.device == device)
        return len(out) >= count

    wait_until(enough, timeout=60, what=f"{count} readings of {device}")
    return out


@pytest.mark.slow
def test_page_counters_come_from_the_recording_and_advance(tmp_path: Path) -> None:
    _require_snmpsim()
    hosts = build_fleet(1, agents=6, tenants=2, small=True)
    poller = next(h for h in hosts if h.hostname == "lohne-srv-01")  # the town hall's poller agent
    printer = next(d for d in poller.devices if d.kind == "printer")
    switch = next(d for d in poller.devices if d.kind == "switch")
    assert RECORDINGS[printer.recording].file == "kyocera_cs-4053ci.snmprec"
    expected = json.loads((EXPECTED_DIR / "kyocera_cs-4053ci.expected.json").read_text())
    counts = expected["page_counts"]
    assert counts["total_oid"] == LIFE_COUNT
    total0, mono0, colour0 = counts["total"], counts["vendor"]["mono_total"], counts["vendor"]["colour_total"]

    epoch = time.time()
    # pages around the clock: the demo's office hours would make this test depend on the weekday
    farm, note = start_snmp_farm([poller], epoch=epoch, tick_s=TICK_S, work=tmp_path, hours=AROUND_THE_CLOCK)
    assert farm is not None, note
    try:
        assert "prn-lohne-1 <- kyocera_cs-4053ci.snmprec" in note
        assert printer.served and switch.served
        farm.wait_ready(deadline_s=90)
        # the served copy starts from the recorded values
        assert farm.started[printer.device][LIFE_COUNT] == total0
        polls_from = time.time()
        farm.start_pollers([poller], interval=0.5)
        readings = _readings(farm, [poller], printer.device, 4)
        switch_readings = _readings(farm, [poller], switch.device, 2)
        report = sample(poller, time.time(), 1.0, 1, None, readings[-1:])
    finally:
        farm.close()
    assert farm.process.poll() is not None, "snmpsim still running after close()"

    assert all(r.ok and r.printer is not None for r in readings), [r.error for r in readings]
    start = polls_from
    for r in readings:
        assert r.printer is not None and r.sys is not None
        # identity as recorded from the real device, not the simulator's synthesized printer
        assert r.sys.descr == expected["identity"]["sysDescr"]
        assert r.printer.model == expected["identity"]["hrDeviceDescr.1"] == "CS 4053ci"
        assert r.printer.serial == expected["identity"]["prtGeneralSerialNumber.1"]
        # each value was read while this poll ran: after the previous poll ended, before this one did
        for got, initial, per_tick in (
            (r.printer.pages_total, total0, 2),
            (r.printer.pages_mono, mono0, 1),
            (r.printer.pages_color, colour0, 1),
        ):
            assert got is not None
            # the page writer sets each tick's value within a quarter tick: a poll may see the previous one
            low = initial + _advance(per_tick, epoch, start - TICK_S)
            assert low <= got <= initial + _advance(per_tick, epoch, r.ts), (
                f"{got} is not the recorded {initial} plus {per_tick}/tick since the epoch"
            )
        start = r.ts
    first, last = readings[0].printer, readings[-1].printer
    assert first is not None and last is not None and first.pages_total is not None and last.pages_total is not None
    assert last.pages_total > first.pages_total, "the page counter did not advance between polls"
    assert last.pages_total - total0 > 0

    # the uplinks' 64-bit octet counters advance from the recorded values too
    octets = []
    for r in switch_readings:
        uplinks = [i for i in r.interfaces if i.uplink]
        assert [i.name for i in uplinks] == ["Gi0/49", "Gi0/50"]
        assert all(i.oper_status == "up" for i in uplinks)
        octets.append(uplinks[0].in_octets_total)
    recorded = farm.started[switch.device][HC_IN_OCTETS + "10149"]  # Gi0/49
    assert octets[0] is not None and octets[-1] is not None
    assert recorded < octets[0] < octets[-1]

    # the report of the poller agent carries the polled reading, not a synthesized one
    printers = [s for s in report.snmp if s.kind == "printer"]
    assert len(printers) == 1 and printers[0] is readings[-1]


def test_every_recording_the_fleet_serves_is_package_data() -> None:
    hosts = build_fleet(1, agents=6, tenants=2, small=True)
    used = {d.recording for h in hosts for d in h.devices}
    assert used == set(RECORDINGS)
    for key in used:
        text = collector.sim.snmp.read_recording(RECORDINGS[key])
        assert "\n1.3.6.1.2.1.1.1.0|" in "\n" + text, key  # a walk with sysDescr


def test_without_snmpsim_the_readings_are_synthesized(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(collector.sim.snmp, "console_script", lambda name: None)
    hosts = build_fleet(1, agents=6, tenants=2, small=True)
    farm, note = start_snmp_farm(hosts)
    assert farm is None
    assert note == (
        "fleet: SNMP readings synthesized: snmpsim-command-responder not installed (pip install 'leitstand[demo]')"
    )
    poller = next(h for h in hosts if h.hostname == "lohne-srv-01")
    report = sample(poller, time.time(), 60.0, 1, None)
    assert sorted(r.device for r in report.snmp) == ["prn-lohne-1", "sw-lohne-core", "ups-lohne-1"]
    assert not any(d.served for h in hosts for d in h.devices)
