"""Polls SNMP devices concurrently on one asyncio loop in a background thread.

Each device has its own schedule (its ``interval``, else the agent's
sample_interval); at most ``concurrency`` polls run at once, and each poll has
a deadline (:attr:`DeviceConfig.poll_deadline`), so a dead or slow device
delays nobody else. Finished readings wait in a buffer that the agent's
sampler drains into each report (:class:`SnmpSampler`), so sampling never
waits for SNMP.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec

from agent import wire
from agent.snmp import profiles
from agent.snmp.devices import DeviceConfig
from agent.snmp.engine import Engine, SnmpError
from agent.snmp.values import Snapshot

__all__ = ["Poller", "SnmpSampler", "poll_device", "poll_once"]

log = logging.getLogger("leitstand.agent.snmp")

_reading_decoder = msgspec.json.Decoder(wire.SnmpReading)
MAX_BUFFERED = 10000


def _failed(device: DeviceConfig, kind: str, error: str, ts: float) -> wire.SnmpReading:
    return wire.SnmpReading(
        device=device.id,
        kind=kind if kind in ("printer", "ups", "switch") else "generic",  # type: ignore[arg-type]
        ok=False,
        error=error[:1024],
        ts=ts,
        address=device.target,
    )


def _validated(reading: wire.SnmpReading, device: DeviceConfig, kind: str, ts: float) -> wire.SnmpReading:
    """Round-trip through the wire schema: a device's garbage must not break the whole report."""
    try:
        return _reading_decoder.decode(wire.encode(reading))
    except msgspec.ValidationError as exc:
        return _failed(device, kind, f"the device's answer breaks the wire format's bounds: {exc}", ts)


async def poll_device(
    engine: Engine,
    device: DeviceConfig,
    *,
    kind_cache: dict[str, str] | None = None,
    clock: Callable[[], float] = time.time,
) -> wire.SnmpReading:
    """One poll of one device; never raises for device trouble (the reading says it)."""
    kind = device.kind if device.kind != "auto" else (kind_cache or {}).get(device.id, "auto")
    try:
        async with asyncio.timeout(device.poll_deadline):
            client = await engine.client(device)
            snap = Snapshot()
            if kind == "auto":
                detected = await client.get(list(profiles.DETECT_OIDS))
                kind = profiles.detect(detected)
                if kind_cache is not None:
                    kind_cache[device.id] = kind
                snap.scalars.update(detected)
            plan = profiles.plan(kind)
            missing = [oid for oid in plan.scalars if oid not in snap.scalars]
            if missing:
                snap.scalars.update(await client.get(missing))
            if plan.columns:
                await client.walk(plan.columns, snap)
    except SnmpError as exc:
        return _failed(device, kind, str(exc), clock())
    except TimeoutError:
        return _failed(device, kind, f"poll took longer than {device.poll_deadline:.0f} s: device too slow", clock())
    ts = clock()
    return _validated(profiles.reading(device, kind, snap, ts), device, kind, ts)


async def poll_once(
    devices: Sequence[DeviceConfig], *, concurrency: int = 32, engine: Engine | None = None
) -> list[wire.SnmpReading]:
    """Poll every device once, concurrently (at most ``concurrency`` at a time); readings in config order."""
    own = engine is None
    eng = engine or Engine()
    bound = asyncio.Semaphore(concurrency)

    async def one(device: DeviceConfig) -> wire.SnmpReading:
        async with bound:
            return await poll_device(eng, device)

    try:
        return list(await asyncio.gather(*(one(d) for d in devices)))
    finally:
        if own:
            eng.close()


class Poller:
    """Polls ``devices`` forever in a daemon thread until :meth:`stop`."""

    def __init__(
        self,
        devices: Sequence[DeviceConfig],
        *,
        default_interval: float,
        concurrency: int = 32,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.devices = tuple(devices)
        self.default_interval = default_interval
        self.concurrency = concurrency
        self._clock = clock
        self._buffer: collections.deque[wire.SnmpReading] = collections.deque(maxlen=MAX_BUFFERED)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._kinds: dict[str, str] = {}
        self.polls = 0
        self.failures = 0

    def start(self) -> None:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="snmp-poller", daemon=True)
        self._thread.start()
        ready.wait(10)

    def stop(self, timeout: float = 10.0) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def drain(self, limit: int = 1000) -> list[wire.SnmpReading]:
        """Readings finished since the last drain, oldest first, at most ``limit``."""
        with self._lock:
            out: list[wire.SnmpReading] = []
            while self._buffer and len(out) < limit:
                out.append(self._buffer.popleft())
            return out

    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main(ready))
        finally:
            loop.close()

    async def _main(self, ready: threading.Event) -> None:
        self._stop = asyncio.Event()
        engine = Engine()
        bound = asyncio.Semaphore(self.concurrency)
        ready.set()
        tasks = [asyncio.create_task(self._device_loop(engine, d, bound, i)) for i, d in enumerate(self.devices)]
        try:
            await self._stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            engine.close()

    async def _device_loop(self, engine: Engine, device: DeviceConfig, bound: asyncio.Semaphore, n: int) -> None:
        interval = device.interval or self.default_interval
        # Spread the first polls over the interval so 1,000 devices do not start in one burst.
        await asyncio.sleep((n * 0.618034 % 1.0) * min(interval, 10.0))
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            async with bound:
                try:
                    result = await poll_device(engine, device, kind_cache=self._kinds, clock=self._clock)
                except Exception as exc:  # a bug in a profile must not stop the other devices
                    log.exception("polling %s failed", device.id)
                    result = _failed(device, device.kind, f"internal error: {type(exc).__name__}", self._clock())
            self.polls += 1
            if not result.ok:
                self.failures += 1
                if result.kind == "generic" and device.kind == "auto":
                    self._kinds.pop(device.id, None)
                log.info("SNMP %s: %s", device.id, result.error)
            with self._lock:
                self._buffer.append(result)
            next_at += interval
            now = loop.time()
            if next_at < now:  # overran: skip the missed slots instead of bursting
                next_at = now + interval - ((now - next_at) % interval)
            await asyncio.sleep(next_at - now)


class SnmpSampler:
    """Wraps the host sampler: each report carries the readings finished since the last one."""

    def __init__(self, inner: Any, poller: Poller) -> None:
        self._inner = inner
        self._poller = poller

    def agent_info(self, agent_id: str, version: str) -> wire.AgentInfo:
        info: wire.AgentInfo = self._inner.agent_info(agent_id, version)
        return info

    def sample(self, interval_s: float) -> Mapping[str, Any]:
        fields = dict(self._inner.sample(interval_s))
        fields["snmp"] = self._poller.drain()
        return fields
