"""Builders and hypothesis strategies for metering points (pure tests)."""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from hypothesis import strategies as st

from collector.metering.plausibility import Anomaly, Contribution, Limits, Outcome
from collector.metering.points import DevicePoint, HostPoint, combine

T0 = 1_793_000_000.0  # 2026-10-26 05:33 UTC
GIB = 2**30

#: limits no real quantity reaches: everything measured is booked (but what
#: the ledger cannot hold is still value_out_of_range)
UNCHECKED = Limits(
    cpu_tolerance=math.inf,
    network_tolerance=math.inf,
    network_ceiling_bps=math.inf,
    pages_slack=math.inf,
)


def hp(ts: float, *, interval: float = 60.0, boot: float = T0 - 86400, role: str = "server",
       busy: float | None = 0.0, cores: int | None = 4, nics: dict[str, tuple[int, int]] | None = None,
       speeds: dict[str, int] | None = None, mem: int | None = GIB, mem_total: int | None = 8 * GIB,
       disks: Sequence[tuple[str, int, int]] = (("/", 10 * GIB, 100 * GIB),),
       sessions: int | None = None) -> HostPoint:  # fmt: skip
    return HostPoint(
        ts=ts,
        interval_s=interval,
        boot_time=boot,
        role=role,
        cpu_busy=busy,
        nics={"eth0": (0, 0)} if nics is None else nics,
        mem_used=mem,
        disk_used=sum(d[1] for d in disks) if disks else None,
        sessions=sessions,
        cpu_count=cores,
        mem_total=mem_total,
        disks=tuple(disks),
        nic_speeds=speeds or {},
    )


def dp(ts: float, total: int | None = None, *, mono: int | None = None, color: int | None = None,
       uptime: float | None = None, serial: str | None = "S1", model: str | None = "M1") -> DevicePoint:  # fmt: skip
    return DevicePoint(ts, uptime, total, mono, color, serial, model)


def totals(outcome: Outcome) -> dict[str, int]:
    """Booked quantity per meter."""
    out: dict[str, int] = {}
    for c in outcome.contributions:
        out[c.meter] = out.get(c.meter, 0) + c.scaled
    return out


def quarantined(outcome: Outcome) -> dict[str, int]:
    out: dict[str, int] = {}
    for a in outcome.anomalies:
        out[a.meter] = out.get(a.meter, 0) + a.scaled
    return out


def rules(outcome: Outcome) -> set[str]:
    return {a.rule for a in outcome.anomalies}


def anomaly_key(a: Anomaly) -> tuple[Any, ...]:
    """How the ledger keys a quarantine entry (per stream): plus what it holds."""
    return (a.start, a.end, a.rule, a.meter, a.dim, a.scaled, a.evidence)


class Ledger:
    """A reference model of how the ledger books a stream: each new point is
    paired with its neighbours; a point landing between two others books
    +(prev, new) +(new, next) -(prev, next), for contributions, anomalies and
    events alike."""

    def __init__(self, pair: Any) -> None:
        self.pair = pair
        self.points: list[Any] = []  # sorted by key
        self.keys: list[Any] = []
        self.booked: dict[tuple[str, str, int], int] = {}
        self.anomalies: Counter[tuple[Any, ...]] = Counter()
        self.events: Counter[tuple[Any, ...]] = Counter()

    def add(self, key: Any, point: Any) -> None:
        i = bisect.bisect_left(self.keys, key)
        prev = self.points[i - 1] if i else None
        nxt = self.points[i] if i < len(self.points) else None
        self.keys.insert(i, key)
        self.points.insert(i, point)
        terms = [(self.pair(prev, point), 1)]
        if nxt is not None:
            terms += [(self.pair(point, nxt), 1), (self.pair(prev, nxt), -1)]
        for outcome, sign in terms:
            for k, v in combine(outcome.contributions, signs=[sign]).items():
                self.booked[k] = self.booked.get(k, 0) + v
            for a in outcome.anomalies:
                self.anomalies[anomaly_key(a)] += sign
            for e in outcome.events:
                self.events[(e.kind, e.start, e.end, e.evidence)] += sign

    def state(self) -> tuple[dict[tuple[str, str, int], int], Counter[tuple[Any, ...]], Counter[tuple[Any, ...]]]:
        def clean(c: Counter[tuple[Any, ...]]) -> Counter[tuple[Any, ...]]:
            assert all(v >= 0 for v in c.values()), "a quarantine entry removed that was never added"
            return Counter({k: v for k, v in c.items() if v})

        return ({k: v for k, v in self.booked.items() if v}, clean(self.anomalies), clean(self.events))


def in_order(pair: Any, points: Iterable[Any]) -> Ledger:
    ledger = Ledger(pair)
    for i, p in enumerate(points):
        ledger.add(i, p)
    return ledger


def contribution_total(contributions: Iterable[Contribution]) -> int:
    return sum(c.scaled for c in contributions)


# -- strategies ------------------------------------------------------------------

#: plausible and hostile counter values
counters = st.one_of(
    st.integers(min_value=0, max_value=10**12),
    st.integers(min_value=2**31, max_value=2**32 - 1),
    st.sampled_from([0, 2**32 - 1, 2**62, 2**63 - 1]),
)


@st.composite
def host_points(draw: st.DrawFn, n: int = 6) -> list[HostPoint]:
    """A host's stream: increasing ts, random intervals, reboots, flapping
    boot times, counter resets and hostile spikes."""
    ts = T0 + draw(st.floats(min_value=0, max_value=86400))
    boot = ts - 1000
    busy = 0.0
    rx = tx = 0
    out = []
    for _ in range(draw(st.integers(min_value=1, max_value=n))):
        step = draw(st.sampled_from([15.0, 60.0, 600.0, 900.0, 3600.0, 7 * 86400.0, 0.5]))
        ts += step
        interval = draw(st.sampled_from([step, 60.0, 600.0, 900.0, 86400.0]))
        event = draw(st.sampled_from(["normal"] * 6 + ["reboot", "flap", "reset", "spike", "overfull"]))
        cores = draw(st.sampled_from([1, 4, 64]))
        if event == "reboot":
            boot = ts - draw(st.floats(min_value=0, max_value=step))
            busy, rx, tx = 0.0, 0, 0
        elif event == "flap":
            boot = ts - draw(st.floats(min_value=10 * step, max_value=10**7))
        elif event == "reset":
            rx, tx = 0, 0
        busy += draw(st.floats(min_value=0, max_value=cores * step))
        rx += draw(st.integers(min_value=0, max_value=10**9))
        tx += draw(st.integers(min_value=0, max_value=10**9))
        mem, mem_total = draw(st.integers(min_value=0, max_value=64 * GIB)), 64 * GIB
        disks = [("/", draw(st.integers(min_value=0, max_value=2**40)), 2**40)]
        if event == "spike":
            busy = draw(st.sampled_from([9e12, (2**63 - 1) / 10**6]))
            rx = draw(counters)
        if event == "overfull":
            mem = draw(st.integers(min_value=mem_total + 1, max_value=2**63 - 1))
            disks.append(("/data", 2**62, 1))
        out.append(
            hp(
                ts,
                interval=interval,
                boot=boot,
                busy=busy,
                cores=cores,
                mem=mem,
                mem_total=mem_total,
                nics={"eth0": (min(rx, 2**63 - 1), min(tx, 2**63 - 1))},
                speeds=draw(st.sampled_from([{}, {"eth0": 10**9}])),
                disks=disks,
            )
        )
    return out


@st.composite
def device_points(draw: st.DrawFn, n: int = 8) -> list[DevicePoint]:
    """A printer's readings: wraps, reboots, resets, replacements, spikes."""
    ts = T0 + draw(st.floats(min_value=0, max_value=86400))
    pages = draw(st.sampled_from([0, 10_000, 2**32 - 500]))
    uptime = 1000.0
    serial = "S1"
    out = []
    for _ in range(draw(st.integers(min_value=1, max_value=n))):
        step = draw(st.sampled_from([60.0, 300.0, 3600.0, 1.0]))
        ts += step
        uptime += step
        event = draw(st.sampled_from(["normal"] * 5 + ["reboot", "reset", "replace", "spike"]))
        if event == "reboot":
            uptime = draw(st.floats(min_value=0, max_value=step))
        elif event == "reset":
            pages = 0
        elif event == "replace":
            serial = draw(st.sampled_from(["S2", "S3", "S4"]))
            pages = draw(st.integers(min_value=0, max_value=100_000))
        pages = (pages + draw(st.integers(min_value=0, max_value=int(step * 4)))) % 2**32
        value = draw(st.sampled_from([2**63 - 1, 2**62])) if event == "spike" else pages
        out.append(dp(ts, value, uptime=uptime, serial=serial))
    return out
