"""Session-wide SNMP agents: one snmpsim serving every recording (real devices
plus the fault recordings written here), one net-snmp snmpd with v3 users."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.snmp.servers import Snmpd, SnmpSim, copy_recordings, run_snmpd, run_snmpsim

# Hand-written recordings for the fault tests: "<community>": snmprec text.
FAULT_RECORDINGS = {
    # Garbage: a page counter and a supply level as strings, uptime as a string.
    "fault-garbage": """\
1.3.6.1.2.1.1.1.0|4|Garbage Printer 1.0
1.3.6.1.2.1.1.3.0|4|yesterday
1.3.6.1.2.1.1.5.0|4|garbage
1.3.6.1.2.1.25.3.5.1.1.1|2|3
1.3.6.1.2.1.43.10.2.1.4.1.1|4|lots of pages
1.3.6.1.2.1.43.11.1.1.6.1.1|4|Black Toner
1.3.6.1.2.1.43.11.1.1.8.1.1|2|1000
1.3.6.1.2.1.43.11.1.1.9.1.1|4|half
""",
    # Truncated tables: the supplies table lost cells (a real agent's partial answer).
    "fault-truncated": """\
1.3.6.1.2.1.1.1.0|4|Truncated Printer
1.3.6.1.2.1.1.3.0|67|100
1.3.6.1.2.1.25.3.5.1.1.1|2|3
1.3.6.1.2.1.43.10.2.1.4.1.1|65|1234
1.3.6.1.2.1.43.11.1.1.6.1.1|4|Black Toner
1.3.6.1.2.1.43.11.1.1.6.1.2|4|Cyan Toner
1.3.6.1.2.1.43.11.1.1.8.1.1|2|1000
1.3.6.1.2.1.43.11.1.1.9.1.1|2|250
1.3.6.1.2.1.43.11.1.1.9.1.2|2|700
1.3.6.1.2.1.43.11.1.1.9.1.3|2|-3
""",
    # The MIB ends inside the alert table being walked: endOfMibView mid-walk.
    "fault-endofmib": """\
1.3.6.1.2.1.1.1.0|4|End Of MIB Printer
1.3.6.1.2.1.1.3.0|67|100
1.3.6.1.2.1.25.3.5.1.1.1|2|1
1.3.6.1.2.1.43.10.2.1.4.1.1|65|42
1.3.6.1.2.1.43.18.1.1.2.1.1|2|3
1.3.6.1.2.1.43.18.1.1.4.1.1|2|13
1.3.6.1.2.1.43.18.1.1.7.1.1|2|8
1.3.6.1.2.1.43.18.1.1.8.1.1|4|Papierstau in Fach 2
""",
    # A UPS whose UPS-MIB lacks most objects (noSuchObject / noSuchInstance).
    "fault-sparse-ups": """\
1.3.6.1.2.1.1.1.0|4|Sparse UPS
1.3.6.1.2.1.1.3.0|67|5000
1.3.6.1.2.1.33.1.2.1.0|2|3
1.3.6.1.2.1.33.1.4.1.0|2|5
""",
}


def _switch(uptime_ticks: int, in_octets: int, out_octets: int) -> str:
    """A one-port switch with only 32-bit counters (no ifXTable HC columns)."""
    return (
        "1.3.6.1.2.1.1.1.0|4|Old Switch\n"
        f"1.3.6.1.2.1.1.3.0|67|{uptime_ticks}\n"
        "1.3.6.1.2.1.2.1.0|2|1\n"
        "1.3.6.1.2.1.2.2.1.2.1|4|port1\n"
        "1.3.6.1.2.1.2.2.1.5.1|66|100000000\n"
        "1.3.6.1.2.1.2.2.1.8.1|2|1\n"
        f"1.3.6.1.2.1.2.2.1.10.1|65|{in_octets}\n"
        f"1.3.6.1.2.1.2.2.1.16.1|65|{out_octets}\n"
        "1.3.6.1.2.1.31.1.1.1.1.1|4|Gi0/1\n"
        "1.3.6.1.2.1.31.1.1.1.18.1|4|Uplink Rathaus\n"
    )


# The same switch at three moments: counter near 2**32; wrapped (uptime went on);
# after a reboot (uptime back near zero, counter small).
FAULT_RECORDINGS["sw-t0"] = _switch(360_000_00, 4_294_000_000, 1_000)
FAULT_RECORDINGS["sw-t1"] = _switch(360_060_00, 1_500_000, 2_000)
FAULT_RECORDINGS["sw-t2"] = _switch(30_00, 1_000, 50)


@pytest.fixture(scope="session")
def snmpsim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SnmpSim]:
    work = tmp_path_factory.mktemp("snmpsim")
    data = work / "data"
    copy_recordings(data)
    for name, text in FAULT_RECORDINGS.items():
        (data / f"{name}.snmprec").write_text(text)
    with run_snmpsim(data, work, ready_community="epson_cw-c6500au") as sim:
        yield sim


@pytest.fixture(scope="session")
def snmpd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Snmpd]:
    with run_snmpd(tmp_path_factory.mktemp("snmpd")) as server:
        yield server
