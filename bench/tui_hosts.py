"""How fast the TUI's hosts view is with a big fleet (default 10,000 hosts).

Measures, on synthetic /api/v1/hosts JSON (no collector, no network):

- building the cached rows from the JSON (once per refresh),
- filtering and sorting them in plain Python (every keystroke / sort key),
- a typed filter character end to end in the running app (headless Textual):
  key press → filter → table update → next frame rendered,
- for comparison, Textual's DataTable cleared and refilled with the same rows.

Prints a Markdown table. ``--hosts N`` changes the fleet size, ``--repeat`` the
number of runs each timing takes the median of.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from tui.app import make_app
from tui.model import apply_query, host_rows, parse_query, sort_rows
from tui.source import CollectorSource
from tui.widgets import VirtualTable

NOW = 1_764_000_000.0


def fleet(n: int, seed: int = 7) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    tenants = [f"gemeinde-{i:02d}" for i in range(40)]
    sites = ["rathaus", "bauhof", "schule", "feuerwehr", "klaeranlage"]
    roles = ["thin-client"] * 6 + ["vm", "server"]
    hosts = []
    for i in range(n):
        tenant, site, role = rnd.choice(tenants), rnd.choice(sites), rnd.choice(roles)
        online = rnd.random() > 0.03
        hosts.append(
            {
                "id": f"{tenant}-{site}-{i:05d}",
                "hostname": f"{site[:3]}-{role[:2]}-{i:05d}",
                "tenant": tenant,
                "site": site,
                "role": role,
                "state": "online" if online else "offline",
                "last_seen": NOW - (rnd.random() * 60 if online else 3600 + rnd.random() * 86400),
                "metrics": {
                    "cpu_percent": round(rnd.random() * 100, 1),
                    "memory_used_percent": round(rnd.random() * 100, 1),
                    "disk_used_percent_max": round(rnd.random() * 100, 1),
                    "load1": round(rnd.random() * 4, 2),
                    "sessions": rnd.choice([0, 1]),
                },
            }
        )
    return hosts


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


async def app_timings(hosts: list[dict[str, Any]], repeat: int) -> dict[str, float]:
    body = {"hosts": hosts, "count": len(hosts)}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/hosts":
            return httpx.Response(200, json=body)
        return httpx.Response(404, json={"error": "not found", "detail": []})

    source = CollectorSource("http://bench", "t", transport=httpx.MockTransport(handler))
    app = make_app(source, lang="en", clock=lambda: NOW, refresh_s=0, blink=False)
    out: dict[str, float] = {}
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("h")
        for _ in range(3):
            await pilot.pause()
            await app.workers.wait_for_complete()
        table = app.screen.query_one(VirtualTable)
        assert len(table.rows) == len(hosts), len(table.rows)
        base = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            await pilot.press("f12")  # bound to nothing: what the test harness itself costs
            await pilot.pause()
            base.append((time.perf_counter() - t0) * 1000)
        out["baseline: a key bound to nothing, to the next frame (harness cost)"] = statistics.median(base)
        await pilot.press("slash")
        keys: list[float] = []
        for _ in range(repeat):
            for char in ("r", "a", "t"):
                t0 = time.perf_counter()
                await pilot.press(char)
                await pilot.pause()  # the frame after the keystroke
                keys.append((time.perf_counter() - t0) * 1000)
            for _ in range(3):
                t0 = time.perf_counter()
                await pilot.press("backspace")
                await pilot.pause()
                keys.append((time.perf_counter() - t0) * 1000)
        out["keystroke in the filter, to the next frame (median)"] = statistics.median(keys)
        out["keystroke in the filter, to the next frame (worst)"] = max(keys)
        await pilot.press("escape")
        sorts = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            await pilot.press("s")
            await pilot.pause()
            sorts.append((time.perf_counter() - t0) * 1000)
        out["`s` (next sort column), to the next frame (median)"] = statistics.median(sorts)
        t0 = time.perf_counter()
        await pilot.press("end")
        await pilot.pause()
        out["`End` (jump to the last host), to the next frame"] = (time.perf_counter() - t0) * 1000
    return out


async def datatable_timing(hosts: list[dict[str, Any]]) -> float:
    from textual.app import App, ComposeResult
    from textual.widgets import DataTable

    rows = [
        (h["hostname"], h["tenant"], h["site"], h["role"], h["state"], str(h["metrics"]["cpu_percent"])) for h in hosts
    ]

    class Plain(App[None]):
        def compose(self) -> ComposeResult:
            yield DataTable()

    app = Plain()
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.query_one(DataTable)
        table.add_columns("host", "tenant", "site", "role", "state", "cpu")
        t0 = time.perf_counter()
        table.clear()
        table.add_rows(rows)
        await pilot.pause()
        return (time.perf_counter() - t0) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10_000, help="fleet size (default 10000)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per timing, median taken (default 5)")
    args = parser.parse_args()
    hosts = fleet(args.hosts)
    rows = host_rows(hosts)
    by_cpu = sort_rows(rows, "cpu", reverse=True)
    results: list[tuple[str, float]] = [
        ("rows from the JSON (per refresh)", median_ms(lambda: host_rows(hosts), args.repeat)),
        ("sort by host name", median_ms(lambda: sort_rows(rows, "hostname"), args.repeat)),
        ("sort by CPU, worst first", median_ms(lambda: sort_rows(rows, "cpu", reverse=True), args.repeat)),
        ("filter `rat` (free text)", median_ms(lambda: apply_query(by_cpu, parse_query("rat")), args.repeat)),
        (
            "filter `tenant:gemeinde-07 state:offline cpu>50`",
            median_ms(lambda: apply_query(by_cpu, parse_query("tenant:gemeinde-07 state:offline cpu>50")), args.repeat),
        ),
    ]
    results += list(asyncio.run(app_timings(hosts, args.repeat)).items())
    results.append(
        ("for comparison: Textual DataTable refilled, to the next frame", asyncio.run(datatable_timing(hosts)))
    )
    print(f"\nTUI hosts view, {args.hosts:,} hosts (median of {args.repeat} runs, milliseconds)\n")
    print("| step | ms |")
    print("| --- | ---: |")
    for name, ms in results:
        print(f"| {name} | {ms:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
