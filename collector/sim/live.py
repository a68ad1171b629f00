"""The live fleet (the demo's): every host reports in real time until stopped, its SNMP
devices served by snmpsim and polled by the agent's poller."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

from agent.wire import Report, SnmpReading

from .model import SimHost, build_fleet
from .sampling import sample
from .snmp import SNMP_EPOCH, SnmpFarm, start_snmp_farm
from .wire import Fleet, RetryPolicy, Stats, enroll_all, post_batch

#: Reports a live host keeps unacknowledged (an hour at 5 s); older ones are dropped, as
#: a real agent's spool drops its oldest on overflow (the collector then records a gap).
SPOOL_LIMIT = 720
#: Reports per request when a host catches up after the collector was unreachable.
CATCH_UP_BATCH = 100
#: A live send is tried once; what is not acknowledged is resent with the next tick.
LIVE_RETRY = RetryPolicy(attempts=1, retry_after_cap_s=1.0)


@dataclass
class LiveAgent:
    """The wire state of one live host, as the agent keeps it: the next seq (from 1 each
    run: the fleet enrolls afresh, which lets the collector start a new sequence) and the
    spooled reports not yet acknowledged."""

    host: SimHost
    token: str
    seq: int = 0
    spool: list[Report] = field(default_factory=list)

    def next(self, ts: float, interval: float, polled: Sequence[SnmpReading]) -> None:
        self.seq += 1
        self.spool.append(sample(self.host, ts, interval, self.seq, None, polled))
        del self.spool[:-SPOOL_LIMIT]

    async def send(self, client: httpx.AsyncClient, stats: Stats) -> None:
        """Post the spool, oldest first, until it is empty or a send fails (kept for the next tick)."""
        while self.spool:
            batch = self.spool[:CATCH_UP_BATCH]
            await post_batch(client, self.token, self.host, batch, stats, LIVE_RETRY)
            del self.spool[: len(batch)]


async def live(url: str, enroll_tokens: Sequence[str], *, agents: int, tenants: int, seed: int, interval: float,
               small: bool, stop: asyncio.Event, out: Callable[[str], None], snmpsim: bool = True,
               snmp_epoch: float = SNMP_EPOCH) -> None:  # fmt: skip
    """Every host reports every `interval` seconds at the real time until `stop` is set.

    Each host numbers its reports 1, 2, 3, ... and keeps what the collector did not
    acknowledge, as the agent does, so the collector sees no gap in the sequence.
    With `snmpsim` (and snmpsim installed) the SNMP devices are served by snmpsim and
    polled by the agent's poller (start_snmp_farm); otherwise synthesized."""
    fleet = Fleet(build_fleet(seed, agents=agents, tenants=tenants, small=small))
    boot = time.time()
    for h in fleet.hosts:
        h.boot_time = boot  # a restarted simulator is a rebooted fleet: counters start again
    farm: SnmpFarm | None = None
    try:
        if snmpsim:
            farm, note = start_snmp_farm(fleet.hosts, epoch=snmp_epoch)
            out(note)
            if farm is not None:
                took = await asyncio.to_thread(farm.wait_ready)
                out(f"fleet: snmpsim ready after {took:.1f} s")
                farm.start_pollers(fleet.hosts, interval)
        else:
            out("fleet: SNMP readings synthesized (--no-snmpsim)")
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            await enroll_all(client, fleet, enroll_tokens)
            names = ", ".join(sorted(set(fleet.tenant_names.values())))
            out(f"fleet: {len(fleet.hosts)} simulated hosts in {names}, reporting every {interval:g} s to {url}")
            spools = [LiveAgent(h, fleet.tokens[h.agent_id]) for h in fleet.hosts]
            stats = Stats()
            tick = time.monotonic()
            while not stop.is_set():
                ts = time.time()
                for a in spools:
                    a.next(ts, interval, farm.drain(a.host) if farm else ())
                results = await asyncio.gather(*(a.send(client, stats) for a in spools), return_exceptions=True)
                failed = [exc for exc in results if isinstance(exc, Exception)]
                if failed:  # one line per tick, not one per host: the cause is usually the same
                    out(f"fleet: {len(failed)} of {len(spools)} hosts keep their reports for later: {failed[0]}")
                # the next tick on the interval's grid; a late tick is not made up for by skipping seqs
                tick = max(tick + interval, time.monotonic())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=max(0.0, tick - time.monotonic()))
    finally:
        if farm is not None:
            await asyncio.to_thread(farm.close)
