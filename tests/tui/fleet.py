"""A realistic small fleet in the real collector app (in process, no socket):
three tenants, two sites, thin clients, servers and VMs with half an hour of
reports each, an offline host, textfile inputs, and an SNMP poller with a
printer (one toner nearly empty), a UPS and a switch (one uplink down)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette

from collector import admin
from collector.app import create_app
from collector.config import Config
from collector.db import connect, migrate
from collector.readiness.config import ApplicationConfig, InstanceConfig, ReadinessConfig, SampleSelector, SiteConfig
from tests.collector.conftest import FakeClock, auth, batch, report

NOW = 1_764_000_000.0  # 2025-11-24 16:00 UTC

#: (agent id, tenant, site, role, cpu base, minutes since last report)
HOSTS = [
    ("lohne-srv-01", "stadt-lohne", "rathaus", "server", 35.0, 0),
    ("lohne-srv-02", "stadt-lohne", "bauhof", "server", 12.0, 0),
    ("lohne-vm-fach", "stadt-lohne", "rathaus", "vm", 55.0, 0),
    ("lohne-tc-001", "stadt-lohne", "rathaus", "thin-client", 8.0, 0),
    ("lohne-tc-002", "stadt-lohne", "rathaus", "thin-client", 95.0, 0),
    ("lohne-tc-003", "stadt-lohne", "bauhof", "thin-client", 4.0, 90),  # offline
    ("steinfeld-srv-01", "gemeinde-steinfeld", "rathaus", "server", 20.0, 0),
    ("steinfeld-tc-001", "gemeinde-steinfeld", "rathaus", "thin-client", 15.0, 0),
    ("zv-poller", "zweckverband", "rz-nord", "vm", 10.0, 0),
]
POLLER = "zv-poller"
REPORTS = 30


def collector_config() -> Config:
    return Config()


def kritis_config(name: Callable[[str], str] = str) -> Config:
    """A KRITIS application on two servers at two sites; `name` renames hosts and sites."""
    return Config(
        readiness=ReadinessConfig(
            sites={
                "rathaus": SiteConfig(lat=52.667, lon=8.238),
                name("bauhof"): SiteConfig(lat=52.671, lon=8.245),  # 1 km apart: one flood takes both
            },
            applications=[
                ApplicationConfig(
                    name="einwohnermeldewesen",
                    tenant="stadt-lohne",
                    criticality="kritis",
                    rpo="4h",
                    rto="8h",
                    instances=[
                        InstanceConfig(host=name("lohne-srv-01"), site="rathaus", role="primary"),
                        InstanceConfig(host=name("lohne-srv-02"), site=name("bauhof"), role="standby"),
                    ],
                    backup=SampleSelector(metric="backup_last_success_timestamp_seconds", labels={"job": "emw"}),
                )
            ],
        )
    )


@dataclass
class Fleet:
    app: Starlette
    db_path: Path
    clock: FakeClock
    admin_token: str

    def transport(self) -> httpx.ASGITransport:
        return httpx.ASGITransport(app=self.app)

    def close(self) -> None:
        self.app.state.collector.close()


def _tokens(db_path: Path, tenants: list[str]) -> tuple[str, dict[str, str]]:
    conn = connect(db_path)
    try:
        migrate(conn)
        admin_token = admin.create_token(conn, "admin", actor="test")[1]
        enroll = {}
        for tenant in tenants:
            admin.add_tenant(conn, tenant, actor="test")
            enroll[tenant] = admin.create_token(conn, "enroll", actor="test", tenant=tenant)[1]
        return admin_token, enroll
    finally:
        conn.close()


def _snmp(ts: float, i: int) -> list[dict[str, Any]]:
    printer = {
        "device": "drucker-rathaus-eg",
        "kind": "printer",
        "ts": ts,
        "address": "10.1.2.30:161",
        "sys": {"descr": "KYOCERA ECOSYS M5526cdn", "name": "drucker-eg", "uptime_s": 86400.0 + i * 60},
        "printer": {
            "pages_total": 10000 + 3 * i,
            "pages_mono": 8000 + 2 * i,
            "pages_color": 2000 + i,
            "printer_status": "idle",
            "supplies": [
                {"index": "1", "description": "Toner Schwarz", "type": "toner", "percent": 62.0},
                {"index": "2", "description": "Toner Cyan", "type": "toner", "percent": 7.0},
            ],
        },
    }
    ups = {
        "device": "usv-serverraum",
        "kind": "ups",
        "ts": ts,
        "address": "10.1.2.40:161",
        "sys": {"descr": "APC Smart-UPS 1500", "name": "usv-sr"},
        "ups": {"source": "ups-mib", "on_battery": False, "charge_pct": 100.0, "runtime_s": 2700.0, "load_pct": 31.0},
    }
    switch = {
        "device": "switch-core",
        "kind": "switch",
        "ts": ts,
        "address": "10.1.2.2:161",
        "sys": {"descr": "HPE Aruba 2930F", "name": "sw-core"},
        "interfaces": [
            {"index": 1, "name": "1/1", "oper_status": "up", "speed_bps": 1_000_000_000, "uplink": True,
             "in_octets_total": 10**9 + i * 10**6, "out_octets_total": 10**9 + i * 10**6},
            {"index": 2, "name": "1/2", "oper_status": "down", "speed_bps": 1_000_000_000, "uplink": True},
            {"index": 3, "name": "1/3", "oper_status": "up", "speed_bps": 100_000_000},
            {"index": 4, "name": "1/4", "oper_status": "down", "speed_bps": 0},
        ],
    }  # fmt: skip
    return [printer, ups, switch]


def _reports(agent_id: str, cpu: float, minutes_ago: int, with_snmp: bool) -> list[dict[str, Any]]:
    out = []
    end = NOW - minutes_ago * 60
    for i in range(1, REPORTS + 1):
        ts = end - (REPORTS - i) * 60
        wave = cpu + 10 * math.sin(i / 3)
        extra: dict[str, Any] = {
            "interval_s": 60,
            "cpu": {"count": 4, "percent": max(0.0, min(100.0, round(wave, 1))), "busy_seconds_total": 1000.0 + i * 30},
            "memory": {"total_bytes": 8 << 30, "used_bytes": (3 << 30) + (i % 7) * (100 << 20)},
            "load1": round(cpu / 25 + (i % 5) / 10, 2),
            "sessions": 1 if "-tc-" in agent_id else 0,
        }
        if agent_id.startswith("lohne-srv"):
            extra["disks"] = [
                {"mount": "/", "device": "sda1", "total_bytes": 50 << 30, "used_bytes": 21 << 30},
                {"mount": "/srv", "device": "sdb1", "total_bytes": 500 << 30, "used_bytes": 460 << 30},
            ]
            extra["textfile"] = [
                {"name": "backup_last_success_timestamp_seconds", "labels": {"job": "emw"}, "value": NOW - 5 * 3600},
            ]
        if with_snmp:
            extra["snmp"] = _snmp(ts, i)
        out.append(report(i, ts, **extra))
    return out


async def build_fleet(
    tmp_path: Path,
    config: Config | None = None,
    *,
    hosts: list[tuple[str, str, str, str, float, int]] = HOSTS,
    poller: str = POLLER,
) -> Fleet:
    """The fleet in a fresh collector; `hosts` like HOSTS (the snapshots rename them long)."""
    db_path = tmp_path / "collector.db"
    tenants = sorted({h[1] for h in hosts})
    admin_token, enroll = _tokens(db_path, tenants)
    clock = FakeClock(NOW)
    app = create_app(db_path, config or collector_config(), clock=clock)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://collector") as client:
        for agent_id, tenant, site, role, cpu, minutes_ago in hosts:
            r = await client.post(
                "/api/v1/enroll", json={"agent_id": agent_id, "hostname": agent_id}, headers=auth(enroll[tenant])
            )
            assert r.status_code == 200, r.text
            token = r.json()["token"]
            clock.now = NOW - minutes_ago * 60  # the collector received it then
            body = batch(agent_id, _reports(agent_id, cpu, minutes_ago, agent_id == poller), role=role, site=site,
                         os="Debian 12", version="0.1.0")  # fmt: skip
            r = await client.post("/api/v1/reports", json=body, headers=auth(token))
            assert r.status_code == 200, r.text
    clock.now = NOW
    return Fleet(app=app, db_path=db_path, clock=clock, admin_token=admin_token)
