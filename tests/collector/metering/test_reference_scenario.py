"""A month of a small town, computed by hand, through the real API and SQLite
file: a server that polls a printer, reboots and loses two reports, a thin
client on weekdays, a collector outage whose reports arrive late and out of
order. The invoice must match to the cent, and the export must be
reproducible after the month is closed."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from msgspec.structs import replace

from collector.config import Config, MeteringConfig
from collector.metering import ledger
from collector.metering.model import BERLIN, Period
from collector.usage import export_period, tariff_book
from tests.collector.conftest import Env, auth

GIB = 2**30
NOV = Period(2026, 11)
T = NOV.start_ts  # 2026-11-01 00:00 Europe/Berlin
STEP = 300  # the agents' interval, seconds

TARIFFS = """
[[tariff]]
valid_from = "2026-01"
vat_percent = 19
[tariff.prices]
cpu_core_seconds = "0.0001"
memory_gib_hours = "0.005"
printed_pages_mono = "0.02"
printed_pages_color = "0.08"
workplace_days = "1.50"
[tariff.prices.host_hours]
server = "0.05"
thin-client = "0.01"
[tariff.flat]
workplace_month = "10.00"
"""


def _report(seq: int, ts: float, busy: float, mem: int, sessions: int, snmp: list[Any]) -> dict[str, Any]:
    return {
        "seq": seq,
        "ts": ts,
        "interval_s": STEP,
        "cpu": {"count": 4, "percent": 50.0, "busy_seconds_total": busy},
        "memory": {"total_bytes": 16 * GIB, "used_bytes": mem},
        "sessions": sessions,
        "snmp": snmp,
    }


def _printer(k: int, ts: float) -> dict[str, Any]:
    hours = k // 12
    return {
        "device": "prn-rathaus-1",
        "kind": "printer",
        "ok": True,
        "ts": ts,
        "sys": {"uptime_s": 1_000_000.0 + 3600 * hours},
        # the total (Counter32) starts 100 pages below 2**32 and wraps after 9 hours
        "printer": {
            "pages_total": (2**32 - 100 + 12 * hours) % 2**32,
            "pages_mono": 10 * hours,
            "pages_color": 2 * hours,
        },
    }


def server_reports() -> list[dict[str, Any]]:
    """Every 5 minutes all month; off 10:00-12:00 on Nov 20 (a reboot: its CPU
    counter restarts); two reports lost from the spool on Nov 25."""
    off = (
        dt.datetime(2026, 11, 20, 10, tzinfo=BERLIN).timestamp(),
        dt.datetime(2026, 11, 20, 12, tzinfo=BERLIN).timestamp(),
    )
    lost = {dt.datetime(2026, 11, 25, 9, m, tzinfo=BERLIN).timestamp() for m in (5, 10)}
    out, seq, busy = [], 0, 1000.0
    for k in range(1, 8640):  # 00:05 on Nov 1 up to 23:55 on Nov 30
        ts = T + STEP * k
        if off[0] < ts <= off[1]:
            continue  # powered off: nothing sampled
        seq += 1
        busy = 150.0 if ts == off[1] + STEP else busy + 150.0  # first sample after the reboot
        if ts in lost:
            continue  # sampled, then dropped from a full spool: a seq gap
        snmp = [_printer(k, ts)] if k % 12 == 0 else []
        out.append(_report(seq, ts, busy, 4 * GIB, 0, snmp))
    return out


def thin_client_reports() -> list[dict[str, Any]]:
    """Weekdays 08:05-16:00 with a session; switched on every morning."""
    out, seq = [], 0
    day = dt.date(2026, 11, 1)
    while day.month == 11:
        if day.weekday() < 5:
            start = dt.datetime(day.year, day.month, day.day, 8, tzinfo=BERLIN).timestamp()
            for i in range(1, 97):
                seq += 1
                out.append(_report(seq, start + STEP * i, 30.0 * i, 2 * GIB, 1, []))
        day += dt.timedelta(days=1)
    return out


async def _send(env: Env, token: str, agent: dict[str, Any], reports: list[dict[str, Any]]) -> None:
    for i in range(0, len(reports), 500):
        r = await env.client.post(
            "/api/v1/reports", json={"agent": agent, "reports": reports[i : i + 500]}, headers=auth(token)
        )
        assert r.status_code == 200, r.text


async def send_reference_month(make_env: Any, tmp_path: Path, config: Config | None = None) -> tuple[Env, Path]:
    """The month of this module through the API, into a fresh env (returned
    with the tariff file); the e-invoice tests bill it too."""
    tariffs = tmp_path / "tariffs.toml"
    tariffs.write_text(TARIFFS)
    base = config or Config()
    env: Env = make_env(replace(base, metering=MeteringConfig(tariffs=str(tariffs))))
    env.clock.now = NOV.end_ts + 86400
    enroll = env.tenant("stadt-lohne")
    srv_token = await env.enroll(enroll, "srv-1")
    tc_token = await env.enroll(enroll, "tc-1")

    srv = server_reports()
    boot_before = T - 86400
    boot_after = dt.datetime(2026, 11, 20, 12, tzinfo=BERLIN).timestamp()
    srv_agent = {"id": "srv-1", "hostname": "rathaus-srv-1", "role": "server", "boot_time": boot_before}
    reboot = next(i for i, r in enumerate(srv) if r["ts"] > boot_after)
    # The collector was down on Nov 15, 12:00-15:00: those reports arrive after
    # the ones that followed them.
    down = (
        dt.datetime(2026, 11, 15, 12, tzinfo=BERLIN).timestamp(),
        dt.datetime(2026, 11, 15, 15, tzinfo=BERLIN).timestamp(),
    )
    outage = [i for i, r in enumerate(srv) if down[0] < r["ts"] <= down[1]]
    late = [srv[i] for i in outage]
    on_time = [r for i, r in enumerate(srv[:reboot]) if i not in set(outage)]
    await _send(env, srv_token, srv_agent, on_time)
    await _send(env, srv_token, srv_agent, late)
    await _send(env, srv_token, {**srv_agent, "boot_time": boot_after}, srv[reboot:])
    tc = thin_client_reports()
    tc_days = {dt.datetime.fromtimestamp(r["ts"], BERLIN).date() for r in tc}
    for day in sorted(tc_days):  # rebooted every morning
        boot = dt.datetime(day.year, day.month, day.day, 7, 55, tzinfo=BERLIN).timestamp()
        todays = [r for r in tc if dt.datetime.fromtimestamp(r["ts"], BERLIN).date() == day]
        await _send(
            env, tc_token, {"id": "tc-1", "hostname": "rathaus-tc-1", "role": "thin-client", "boot_time": boot}, todays
        )
    return env, tariffs


async def test_a_month_matches_the_hand_computed_invoice_to_the_cent(make_env: Any, tmp_path: Path) -> None:
    env, tariffs = await send_reference_month(make_env, tmp_path)
    srv, tc = server_reports(), thin_client_reports()
    tc_days = {dt.datetime.fromtimestamp(r["ts"], BERLIN).date() for r in tc}

    # By hand:
    # server: 8639 five-minute slots, 24 powered off, 2 lost -> 8613 reports of 300 s
    srv_seconds = (8639 - 24 - 2) * 300
    assert len(srv) == 8613
    # CPU: 8612 pairs; each +150 s, except the pair across the lost reports
    # (+450 s) and the pair across the reboot (the new counter, 150 s).
    srv_cpu = 8611 * 150 + 450
    # thin client: 21 weekdays in November 2026, 96 reports each
    assert len(tc_days) == 21
    tc_seconds = 21 * 96 * 300
    tc_cpu = (21 * 96 - 1) * 30  # every pair 30 s, a morning after reboot too
    # printer: 717 hourly readings (two fell in the power cut), from 01:00
    # on Nov 1 to 23:00 on Nov 30: 718 hours of 10 mono and 2 colour pages
    mono, color = 7180, 1436
    lines = {
        ("cpu_core_seconds", ""): (Decimal(srv_cpu + tc_cpu), Decimal("135.26")),  # 1,352,550 s × 0.0001 = 135.255
        ("memory_gib_hours", ""): (Decimal("3207.000000"), Decimal("16.04")),  # 3207 GiB·h × 0.005 = 16.035
        ("printed_pages_mono", ""): (Decimal(mono), Decimal("143.60")),
        ("printed_pages_color", ""): (Decimal(color), Decimal("114.88")),
        ("workplace_days", ""): (Decimal(21), Decimal("31.50")),
        ("host_hours", "server"): (Decimal("717.750"), Decimal("35.89")),  # 2,583,900 s × 0.05/h = 35.8875
        ("host_hours", "thin-client"): (Decimal("168.000"), Decimal("1.68")),
    }
    # memory: 4 GiB × 717.75 h + 2 GiB × 168 h = 3207 GiB·h
    assert (Decimal(4 * srv_seconds) + Decimal(2 * tc_seconds)) / 3600 == Decimal(3207)

    r = await env.client.get("/api/v1/usage?tenant=stadt-lohne&period=2026-11", headers=auth(env.admin_token))
    doc = r.json()
    got = {(line["meter"], line.get("dim") or ""): line for line in doc["lines"] if line["kind"] == "usage"}
    for key, (quantity, amount) in lines.items():
        if quantity is not None:
            assert Decimal(got[key]["quantity"]) == quantity, key
        assert Decimal(got[key]["amount"]) == amount, key
    flat = [line for line in doc["lines"] if line["kind"] == "flat"]
    assert [(Decimal(f["quantity"]), Decimal(f["amount"])) for f in flat] == [(Decimal(1), Decimal("10.00"))]
    # net 488.85, VAT 19 % = 92.8815 -> 92.88, total 581.73
    assert Decimal(doc["net"]) == Decimal("488.85")
    assert Decimal(doc["vat"]) == Decimal("92.88")
    assert Decimal(doc["total"]) == Decimal("581.73")
    # two lost reports out of 8,613 + 2 expected (server); the thin client lost none
    cov = {m["meter"]: m["coverage"] for m in doc["meters"]}
    assert cov["cpu_core_seconds"] == str((Decimal(8613 + 2016) / Decimal(8615 + 2016)).quantize(Decimal("0.0001")))
    assert cov["workplace_days"] == "1.0000"
    assert [(g["subject"], g["to_seq"] - g["from_seq"] + 1) for g in doc["gaps"]] == [("srv-1", 2)]

    # Close the month; the export is stored and a re-export is byte-identical.
    conn = env.db()
    try:
        ledger.close_period(conn, NOV, actor="test", now=env.clock.now)
        book = tariff_book(str(tariffs))
        first = export_period(conn, "stadt-lohne", NOV, "csv", book, now=env.clock.now)
        again = export_period(conn, "stadt-lohne", NOV, "csv", book, now=env.clock.now)
        assert again.content == first.content
        assert again.verified
        closed_json = export_period(conn, "stadt-lohne", NOV, "json", book, now=env.clock.now)
        assert json.loads(closed_json.content)["total"] == "581.73"
    finally:
        conn.close()
    await env.client.aclose()
