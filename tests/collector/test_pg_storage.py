"""On PostgreSQL, the host row's update stays cheap before the first ANALYZE (issue 18).

Every report updates its host's row, guarded by the values the writer's
cache was built from; where the writer knows the row's role and site it
names them in the guard instead of storing them (`hostrow`). Those columns
and the tenant are hosts_tenant's: without statistics (a fleet enrolled into
a fresh database, until autovacuum's first ANALYZE up to a minute later) the
planner found that index as cheap as the primary key and took it, so each
update read every host of its tenant, site and role: with 10,000 agents the
server's CPU per report doubled and one collector missed the sustained p99
goal (bench/ingest_sustained.py). A real PostgreSQL (Debian's package)."""

from __future__ import annotations

import re

import psycopg
import pytest

from collector import admin, hostrow, pg
from collector.db import connect, migrate

pytestmark = pytest.mark.sqlite_only  # each test picks its backend itself


def test_host_updates_find_the_row_by_its_key_without_statistics(postgres_url: str) -> None:
    """A fleet enrolled into a fresh database, before autovacuum's first
    ANALYZE: the generic plan of every host update (the writer's statements
    are prepared) reads the one row through hosts_pkey. The old statements
    fail this: the two that name role and site took hosts_tenant."""
    conn = connect(postgres_url)
    try:
        migrate(conn)
        admin.add_tenant(conn, "t1", actor="test")
        # autovacuum would analyze the table some time after the insert: not in this test
        conn.execute("ALTER TABLE hosts SET (autovacuum_enabled = false)")
        conn.execute(
            "INSERT INTO hosts (agent_id, tenant, hostname, role, site, enrolled_at, latest) "
            "SELECT 'h' || g, 't1', 'h' || g, 'server', 'Rathaus', 0, repeat('x', 600) FROM generate_series(1, 5000) g"
        )
    finally:
        conn.close()
    plans: dict[tuple[object, ...], str] = {}
    with psycopg.connect(postgres_url, autocommit=True) as raw:
        assert raw.execute("SELECT last_analyze, last_autoanalyze FROM pg_stat_user_tables "
                           "WHERE relname = 'hosts'").fetchone() == (None, None)  # fmt: skip
        raw.execute("SET plan_cache_mode = force_generic_plan")
        # a deferred batch's updates (`update_all`) and one job's (`update`)
        statements = {**{("batch", *k): v for k, v in hostrow._ENFORCED.items()},
                      **{("job", *k): v for k, v in hostrow._PG_SQL.items()}}  # fmt: skip
        for key, sql in statements.items():
            named = pg.translate(sql)
            names = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", named)))
            positional = re.sub(r"%\((\w+)\)s", lambda m, names=names: f"${names.index(m.group(1)) + 1}", named)
            raw.execute(f"PREPARE q AS {positional}")
            plan = raw.execute(f"EXPLAIN EXECUTE q({', '.join('NULL' for _ in names)})").fetchall()
            raw.execute("DEALLOCATE q")
            plans[key] = " ".join(line for (line,) in plan if "Scan" in line)
    assert all("Index Scan using hosts_pkey on hosts" in plan for plan in plans.values()), plans
