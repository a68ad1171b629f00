"""The live fleet (the demo's): every host reports in real time until stopped, its SNMP
devices served by snmpsim and polled by the agent's poller."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence

import httpx

from .model import build_fleet
from .sampling import sample
from .snmp import SNMP_EPOCH, SnmpFarm, start_snmp_farm
from .wire import Fleet, Stats, enroll_all, post_batch


async def live(url: str, enroll_tokens: Sequence[str], *, agents: int, tenants: int, seed: int, interval: float,
               small: bool, stop: asyncio.Event, out: Callable[[str], None], snmpsim: bool = True,
               snmp_epoch: float = SNMP_EPOCH) -> None:  # fmt: skip
    """Every host reports every `interval` seconds at the real time until `stop` is set.

    With `snmpsim` (and snmpsim and the recordings here) the SNMP devices are served by
    snmpsim and polled by the agent's poller (start_snmp_farm); otherwise synthesized."""
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
            stats = Stats()
            while not stop.is_set():
                ts = time.time()
                seq = int(ts // interval)  # consecutive per tick, and above every seq of an earlier run
                results = await asyncio.gather(
                    *(post_batch(client, fleet.tokens[h.agent_id], h,
                                 [sample(h, ts, interval, seq, None, farm.drain(h) if farm else ())], stats)
                      for h in fleet.hosts),
                    return_exceptions=True,
                )  # fmt: skip
                for exc in results:
                    if isinstance(exc, Exception):
                        out(f"fleet: {exc}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=max(0.0, (seq + 1) * interval - time.time()))
    finally:
        if farm is not None:
            await asyncio.to_thread(farm.close)
