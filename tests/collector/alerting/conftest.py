"""Helpers for alerting tests: one evaluation round on demand, SNMP readings."""

from __future__ import annotations

from typing import Any

from collector.alerting import service
from tests.collector.conftest import Env


async def tick(env: Env, *, deliver: bool = True) -> service.TickResult:
    """One evaluation round at the env's fake clock (what the background task does every interval)."""
    return await service.tick(env.app.state.collector, env.app.state.alerting, deliver_now=deliver)


def snmp(device: str, kind: str, ts: float, **section: Any) -> dict[str, Any]:
    return {
        "device": device,
        "kind": kind,
        "ok": True,
        "ts": ts,
        "address": "10.1.2.30:161",
        "sys": {"descr": f"test {kind}", "name": device, "uptime_s": 1000.0},
        **section,
    }


def printer(device: str, ts: float, *, toner: float = 80.0, errors: tuple[str, ...] = ()) -> dict[str, Any]:
    return snmp(
        device,
        "printer",
        ts,
        printer={
            "pages_total": 1000,
            "device_status": "running",
            "detected_errors": list(errors),
            "supplies": [
                {"index": "1.1", "description": "Black Toner", "type": "toner", "supply_class": "consumed",
                 "percent": toner},
                {"index": "1.2", "description": "Waste Toner Box", "type": "wasteToner", "percent": 70.0},
            ],
        },
    )  # fmt: skip


def ups(device: str, ts: float, *, on_battery: bool, runtime_s: float = 1800.0) -> dict[str, Any]:
    return snmp(
        device,
        "ups",
        ts,
        ups={"source": "ups-mib", "on_battery": on_battery, "runtime_s": runtime_s, "charge_pct": 80.0},
    )


def switch(device: str, ts: float, *, up: tuple[bool, ...]) -> dict[str, Any]:
    return snmp(
        device,
        "switch",
        ts,
        interfaces=[
            {"index": i + 1, "name": f"Gi0/{i + 1}", "alias": f"uplink {i + 1}", "admin_status": "up",
             "oper_status": "up" if state else "down", "uplink": True}
            for i, state in enumerate(up)
        ]
        + [{"index": 99, "name": "Gi0/99", "admin_status": "up", "oper_status": "down", "uplink": False}],
    )  # fmt: skip
