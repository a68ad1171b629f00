"""Faults: every broken device gets a clear error or null fields, and the
other devices polled with it read exactly what they read alone."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest

from agent import wire
from agent.snmp.devices import parse_devices
from agent.snmp.poller import poll_once
from tests.snmp.servers import V3_AUTH_KEY, V3_PRIV_KEY, Snmpd, SnmpSim


def devices(*entries: dict[str, Any]) -> list[Any]:
    return list(parse_devices(list(entries), env={}))


def without_ts(reading: wire.SnmpReading) -> dict[str, Any]:
    data = msgspec.to_builtins(reading)
    data.pop("ts", None)
    return data


@pytest.fixture
def blackhole() -> Iterator[int]:
    """A UDP port that receives and never answers: a dead device."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def test_dead_device_times_out_and_delays_no_one(snmpsim: SnmpSim, blackhole: int) -> None:
    good = {"id": "good", "kind": "printer", **snmpsim.target("kyocera_cs-4053ci")}
    dead = {"id": "dead", "kind": "printer", "address": "127.0.0.1", "port": blackhole, "community": "x"}
    dead.update(timeout=1.5, retries=1)
    alone = asyncio.run(poll_once(devices(good)))[0]
    started = time.monotonic()
    both = asyncio.run(poll_once(devices(dead, good)))
    elapsed = time.monotonic() - started
    assert not both[0].ok
    assert "no response (timeout)" in both[0].error
    assert without_ts(both[1]) == without_ts(alone)
    # Concurrent: the two tries of 1.5 s of the dead device, not that plus the good poll.
    assert 2.5 < elapsed < 5.0


def test_wrong_community_is_a_clear_error_without_the_community(snmpsim: SnmpSim) -> None:
    reading = asyncio.run(
        poll_once(devices({"id": "p", **snmpsim.target("geheim-falsch"), "timeout": 0.5, "retries": 0}))
    )[0]
    assert not reading.ok
    assert "wrong community" in reading.error
    assert "geheim-falsch" not in wire.encode(reading).decode()


def test_wrong_v3_password_is_a_clear_error(snmpd: Snmpd, snmpsim: SnmpSim) -> None:
    wrong_auth = {"id": "wrong-auth", **snmpd.device("ls-sha", auth_key="falsches-passwort")}
    unknown = {**snmpd.device("ls-sha"), "id": "unknown-user", "user": "niemand"}
    right = {"id": "right", "kind": "generic", **snmpd.device("ls-sha")}
    readings = asyncio.run(poll_once(devices(wrong_auth, unknown, right)))
    assert not readings[0].ok and "SNMPv3 authentication failed" in readings[0].error
    assert not readings[1].ok and "SNMPv3 user unknown" in readings[1].error
    assert readings[2].ok and readings[2].sys.name == "leitstand-snmpd-test"
    text = wire.encode(readings).decode()
    for secret in ("falsches-passwort", V3_AUTH_KEY, V3_PRIV_KEY):
        assert secret not in text


def test_garbage_values_become_null_fields_with_notes(snmpsim: SnmpSim) -> None:
    reading = asyncio.run(poll_once(devices({"id": "g", "kind": "printer", **snmpsim.target("fault-garbage")})))[0]
    assert reading.ok
    assert reading.sys.uptime_s is None
    assert reading.printer is not None
    assert reading.printer.pages_total is None
    assert reading.printer.printer_status == "idle"
    assert reading.printer.supplies[0].level_raw is None
    assert reading.printer.supplies[0].percent is None
    assert reading.printer.supplies[0].description == "Black Toner"
    assert "sys.uptime_s: expected an integer, got str" in reading.notes
    assert "printer.pages_total: expected an integer, got str" in reading.notes
    assert "printer.supplies[1.1].level: expected an integer, got str" in reading.notes


def test_truncated_table_keeps_the_rows_it_has(snmpsim: SnmpSim) -> None:
    reading = asyncio.run(poll_once(devices({"id": "t", "kind": "printer", **snmpsim.target("fault-truncated")})))[0]
    assert reading.ok and reading.printer is not None
    supplies = {s.index: s for s in reading.printer.supplies}
    assert sorted(supplies) == ["1.1", "1.2", "1.3"]
    assert supplies["1.1"].percent == 25.0
    assert supplies["1.2"].max_capacity_raw is None and supplies["1.2"].percent is None
    assert supplies["1.3"].description is None and supplies["1.3"].level_state == "some_remaining"
    assert reading.printer.pages_total == 1234


def test_end_of_mib_view_in_the_middle_of_a_walk(snmpsim: SnmpSim) -> None:
    reading = asyncio.run(poll_once(devices({"id": "e", "kind": "printer", **snmpsim.target("fault-endofmib")})))[0]
    assert reading.ok and reading.printer is not None
    assert [(a.severity, a.group, a.code, a.description) for a in reading.printer.alerts] == [
        ("critical", "mediaPath", "jam", "Papierstau in Fach 2")
    ]
    assert reading.printer.supplies == [] and reading.printer.pages_total == 42


def test_no_such_object_gives_null_fields(snmpsim: SnmpSim) -> None:
    reading = asyncio.run(poll_once(devices({"id": "u", "kind": "ups", **snmpsim.target("fault-sparse-ups")})))[0]
    assert reading.ok and reading.ups is not None
    assert reading.ups.source == "ups-mib"
    assert reading.ups.battery_status == "low"
    assert reading.ups.on_battery is True
    assert reading.ups.charge_pct is None and reading.ups.runtime_s is None
    assert "ups.charge_pct: noSuchObject" in reading.notes or "ups.charge_pct: noSuchInstance" in reading.notes
    # Asking a printer profile of a UPS: the printer fields are null, not zero.
    as_printer = asyncio.run(poll_once(devices({"id": "u2", "kind": "printer", **snmpsim.target("fault-sparse-ups")})))[
        0
    ]
    assert as_printer.printer is not None and as_printer.printer.pages_total is None


def test_faults_leave_every_other_device_unaffected(snmpsim: SnmpSim, blackhole: int) -> None:
    names = ["epson_cw-c6500au", "kyocera_cs-4053ci", "hp_laserjet-mfp-m130nw", "eaton_connectups-ups"]
    healthy = [{"id": n, "kind": "auto", **snmpsim.target(n)} for n in names]
    broken = [
        {"id": "dead", "address": "127.0.0.1", "port": blackhole, "community": "x", "timeout": 0.5, "retries": 0},
        {"id": "wrong", **snmpsim.target("nope"), "timeout": 0.5, "retries": 0},
        {"id": "garbage", "kind": "printer", **snmpsim.target("fault-garbage")},
        {"id": "truncated", "kind": "printer", **snmpsim.target("fault-truncated")},
    ]
    alone = [without_ts(r) for r in asyncio.run(poll_once(devices(*healthy)))]
    mixed = asyncio.run(poll_once(devices(*broken, *healthy), concurrency=3))
    assert [without_ts(r) for r in mixed[len(broken) :]] == alone
    assert [r.ok for r in mixed[: len(broken)]] == [False, False, True, True]


def test_counter32_wrap_and_reboot_are_told_apart(snmpsim: SnmpSim) -> None:
    """The same switch polled three times: its 32-bit counter goes down twice,
    once with sysUpTime going on (a wrap), once with it going back (a reboot)."""
    readings = [
        asyncio.run(poll_once(devices({"id": "sw", "kind": "switch", **snmpsim.target(f"sw-t{i}")})))[0]
        for i in range(3)
    ]
    ports = [r.interfaces[0] for r in readings if r.interfaces]
    assert [p.counter_bits for p in ports] == [32, 32, 32]
    assert ports[0].uplink  # its alias says "Uplink Rathaus"
    counters = [p.in_octets_total or 0 for p in ports]
    uptimes = [r.sys.uptime_s or 0 for r in readings]
    assert counters[1] < counters[0] and uptimes[1] > uptimes[0]  # wrap
    assert counters[2] < counters[1] and uptimes[2] < uptimes[1]  # reboot
    # What the collector computes from them: the wrap is 2**32 - old + new.
    assert (2**32 - counters[0] + counters[1]) == 2**32 - 4_294_000_000 + 1_500_000


def test_v3_auth_priv_against_net_snmp(snmpd: Snmpd) -> None:
    entries = [{"id": user, "kind": "auto", **snmpd.device(user)} for user in ("ls-sha256", "ls-sha", "ls-sha512")]
    readings = asyncio.run(poll_once(devices(*entries)))
    for r in readings:
        assert r.ok, r.error
        assert r.sys.name == "leitstand-snmpd-test"
        assert r.sys.location == "Serverraum Rathaus"
        assert r.sys.object_id and r.sys.object_id.startswith("1.3.6.1.4.1.8072.")
        assert r.sys.uptime_s is not None and r.sys.uptime_s >= 0
    # net-snmp's own interfaces (at least loopback) come through IF-MIB with 64-bit counters.
    switch = asyncio.run(poll_once(devices({**entries[0], "id": "as-switch", "kind": "switch"})))[0]
    assert switch.ok and switch.interfaces
    lo = [i for i in switch.interfaces if i.descr == "lo"]
    assert lo and lo[0].counter_bits == 64 and lo[0].oper_status == "up"


def test_poller_thread_feeds_readings_into_each_report(snmpsim: SnmpSim, blackhole: int) -> None:
    from agent.snmp.poller import Poller, SnmpSampler
    from tests.support import wait_until

    class HostSampler:
        def sample(self, interval_s: float) -> dict[str, Any]:
            return {"ts": 1.8e9, "interval_s": interval_s, "snmp": []}

    good = {"id": "good", "kind": "ups", "interval": 1, **snmpsim.target("eaton_connectups-ups")}
    dead = {"id": "dead", "address": "127.0.0.1", "port": blackhole, "community": "x", "timeout": 0.3, "retries": 0}
    poller = Poller(devices(good, {**dead, "interval": 1}), default_interval=60, concurrency=2)
    sampler = SnmpSampler(HostSampler(), poller)
    poller.start()
    try:
        seen: list[wire.SnmpReading] = []

        def enough() -> bool:
            seen.extend(sampler.sample(15)["snmp"])
            return sum(r.device == "good" for r in seen) >= 3

        wait_until(enough, timeout=30, what="three polls of the good device")
    finally:
        poller.stop()
    good_readings = [r for r in seen if r.device == "good"]
    assert all(r.ok and r.ups is not None and r.ups.charge_pct == 100 for r in good_readings)
    assert any(r.device == "dead" and not r.ok for r in seen)
    # Drained: each reading goes into exactly one report.
    assert len({(r.device, r.ts) for r in seen}) == len(seen)
