"""m009_device_tenancy on a database built by the migrations before it, with
old-style device rows (one global device id, first-come, assignments by id):
every device keeps its resolved owner, its readings and its metering streams
move with it, and ingest goes on from there. Runs on SQLite and, with
LEITSTAND_TEST_BACKEND=postgres, on PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import msgspec
from sqlite_utils import Database

from collector import db, pg
from collector.metering.points import DevicePoint
from collector.migrations import migrations
from tests.collector.conftest import Env, auth, batch, report
from tests.collector.test_devices import printer_reading

STEP = "m009_device_tenancy"
NOW = 1_764_000_000.0  # the conftest clock


def migrate_before(conn: db.Connection, stop: str) -> None:
    if isinstance(conn, sqlite3.Connection):
        migrations.apply(Database(conn), stop_before=stop)
        return
    assert isinstance(conn, pg.PgConnection)
    steps = [(m.name, m.fn) for m in migrations._migrations]
    pg.migrate(conn, steps[: [name for name, _ in steps].index(stop)])


def point(pages: int) -> bytes:
    return msgspec.msgpack.encode(DevicePoint(NOW - 120, 1000.0, pages, pages // 2, pages - pages // 2))


def old_database(path: Path) -> None:
    """Devices as the first-come schema had them:
    - drucker-eg: polled by stadt-a's agent, owned by stadt-a;
    - usv-1: polled by stadt-a's agent, assigned to stadt-b by the old config;
    - stadt-a/drucker-eg: an id whose old stream `d:stadt-a/drucker-eg` is
      exactly the new name of drucker-eg's stream (the rename must not collide).
    """
    conn = db.connect(path)
    try:
        migrate_before(conn, STEP)
        assert not conn.execute("SELECT 1 FROM devices").fetchall()
        latest = json.dumps(printer_reading("x", NOW - 120, 1000))
        with conn:
            conn.executemany(
                "INSERT INTO devices (device_id, poller_tenant, agent_id, kind, first_seen, last_seen, last_ts, ok, "
                "readings_total, latest) VALUES (?, 'stadt-a', 'poller-a', ?, ?, ?, ?, 1, 2, ?)",
                [
                    (dev, kind, NOW - 180, NOW - 120, NOW - 120, latest)
                    for dev, kind in (("drucker-eg", "printer"), ("usv-1", "ups"), ("stadt-a/drucker-eg", "printer"))
                ],
            )
            conn.execute("INSERT INTO device_assignments (device_id, tenant) VALUES ('usv-1', 'stadt-b')")
            conn.executemany(
                "INSERT INTO device_readings (device_id, ts, agent_id, received_at, ok, data) "
                "VALUES (?, ?, 'poller-a', ?, 1, ?)",
                [(dev, ts, ts, latest) for dev in ("drucker-eg", "usv-1") for ts in (NOW - 180, NOW - 120)],
            )
            conn.executemany(
                "INSERT INTO meter_points (stream, k1, k2, ts, tenant, data) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    ("d:drucker-eg", 0, NOW - 120, NOW - 120, "stadt-a", point(1000)),
                    ("d:stadt-a/drucker-eg", 0, NOW - 120, NOW - 120, "stadt-a", point(7)),
                    ("d:gone", 0, NOW - 120, NOW - 120, "stadt-c", point(3)),
                    ("h:poller-a", 0, 7, NOW - 120, "stadt-a", b"host-point"),
                ],
            )
            conn.executemany(
                "INSERT INTO point_horizons (stream, pruned_before) VALUES (?, ?)",
                [("d:drucker-eg", NOW - 86400), ("d:usv-1", NOW - 86400), ("d:vanished", NOW - 86400)],
            )
            conn.execute(
                "INSERT INTO ledger_subject (tenant, period, kind, subject, meter, dim, scaled) "
                "VALUES ('stadt-a', '2025-11', 'device', 'drucker-eg', 'printed_pages', '', 40)"
            )
    finally:
        conn.close()


def rows(env: Env, sql: str) -> list[tuple[Any, ...]]:
    conn = env.db()
    try:
        return [tuple(r) for r in conn.execute(sql).fetchall()]
    finally:
        conn.close()


async def test_old_devices_keep_their_owner_readings_and_streams(tmp_path: Path, make_env: Any) -> None:
    old_database(tmp_path / "collector.db")  # the path make_env opens and migrates
    env: Env = make_env()
    try:
        assert rows(env, "SELECT tenant, device_id, agent_id, readings_total FROM devices ORDER BY device_id") == [
            ("stadt-a", "drucker-eg", "poller-a", 2),
            ("stadt-a", "stadt-a/drucker-eg", "poller-a", 2),
            ("stadt-b", "usv-1", "poller-a", 2),
        ]
        readings = "SELECT tenant, device_id, count(*) FROM device_readings GROUP BY tenant, device_id ORDER BY 2"
        assert rows(env, readings) == [
            ("stadt-a", "drucker-eg", 2),
            ("stadt-b", "usv-1", 2),
        ]
        points = rows(env, "SELECT stream, data FROM meter_points ORDER BY stream")
        assert [(s, bytes(d)) for s, d in points] == [
            ("d:stadt-a/drucker-eg", point(1000)),
            ("d:stadt-a/stadt-a/drucker-eg", point(7)),
            ("d:stadt-c/gone", point(3)),
            ("h:poller-a", b"host-point"),
        ]
        assert rows(env, "SELECT stream FROM point_horizons ORDER BY stream") == [
            ("d:stadt-a/drucker-eg",),
            ("d:stadt-b/usv-1",),
        ]
        assert rows(env, "SELECT tenant, subject, scaled FROM ledger_subject") == [("stadt-a", "drucker-eg", 40)]
        # the old assignment named no pollers: it is the config's to say again
        assert rows(env, "SELECT count(*) FROM device_assignments") == [(0,)]

        # the API reads the migrated devices within their tenants
        env.tenant("stadt-b")
        reader_b = env.token("tenant", "stadt-b")
        r = await env.client.get("/api/v1/devices/usv-1/readings", headers=auth(reader_b))
        assert r.status_code == 200 and r.json()["count"] == 2
        r = await env.client.get("/api/v1/devices/drucker-eg", headers=auth(env.admin_token))
        assert r.status_code == 200 and r.json()["tenant"] == "stadt-a"
    finally:
        await env.client.aclose()


async def test_ingest_goes_on_from_the_migrated_history(tmp_path: Path, make_env: Any) -> None:
    old_database(tmp_path / "collector.db")
    env: Env = make_env()
    try:
        token = await env.enroll(env.tenant("stadt-a"), "poller-b")
        # the next reading pairs with the migrated metering point: 40 more pages, billed to the owner
        reading = printer_reading("drucker-eg", NOW - 60, 1040)
        r = await env.post(token, batch("poller-b", [report(1, NOW - 60, snmp=[reading])]))
        assert r.status_code == 200 and "refused" not in r.json()
        assert rows(env, "SELECT tenant, agent_id, readings_total FROM devices WHERE device_id = 'drucker-eg'") == [
            ("stadt-a", "poller-b", 3)
        ]
        assert rows(env, "SELECT count(*) FROM device_readings WHERE device_id = 'drucker-eg'") == [(3,)]
        assert rows(
            env,
            "SELECT tenant, scaled FROM ledger_subject WHERE subject = 'drucker-eg' AND meter = 'printed_pages'",
        ) == [("stadt-a", 80)]
    finally:
        await env.client.aclose()
