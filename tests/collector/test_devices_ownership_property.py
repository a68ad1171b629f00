"""Ownership as a property: for random assignments and random batches of
readings from agents of several tenants, the inventory, the refusal counts and
each ack's `refused` lines equal a reference model, and no tenant is billed
for a device it does not own. Through store.ingest on a real database (SQLite,
or PostgreSQL with LEITSTAND_TEST_BACKEND=postgres)."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.wire import Batch
from collector import admin, devices, store
from collector.config import DeviceAssignment
from collector.db import connect, migrate, transaction

AGENTS = {"a1": "stadt-a", "a2": "stadt-a", "b1": "stadt-b", "c1": "stadt-c"}
TENANTS = sorted(set(AGENTS.values()))
DEVICES = ("prn-1", "prn-2", "usv-1")
T0 = 1_764_000_000.0

assignments = st.dictionaries(
    st.sampled_from(DEVICES),
    st.tuples(st.sampled_from(TENANTS), st.frozensets(st.sampled_from(sorted(AGENTS)), min_size=1)),
    max_size=len(DEVICES),
)
batches = st.lists(
    st.tuples(st.sampled_from(sorted(AGENTS)), st.lists(st.sampled_from(DEVICES), min_size=1, max_size=4)),
    min_size=1,
    max_size=10,
)


def model_owner(device: str, agent: str, assign: dict[str, tuple[str, frozenset[str]]]) -> str | None:
    if device not in assign:
        return AGENTS[agent]
    tenant, pollers = assign[device]
    return tenant if agent in pollers else None


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(assign=assignments, sent=batches)
def test_ownership_equals_the_model(
    assign: dict[str, tuple[str, frozenset[str]]], sent: list[tuple[str, list[str]]]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        conn = connect(Path(tmp) / "c.db")
        try:
            migrate(conn)
            for tenant in TENANTS:
                admin.add_tenant(conn, tenant, actor="test")
            for agent, tenant in AGENTS.items():
                conn.execute(
                    "INSERT INTO hosts (agent_id, tenant, hostname, enrolled_at) VALUES (?, ?, ?, ?)",
                    (agent, tenant, agent, T0),
                )
            config = {d: DeviceAssignment(tenant=t, pollers=sorted(p)) for d, (t, p) in assign.items()}
            devices.sync_assignments(conn, config)

            inventory: Counter[tuple[str, str]] = Counter()
            refusals: Counter[tuple[str, str]] = Counter()
            seqs: Counter[str] = Counter()
            for n, (agent, ids) in enumerate(sent):
                seqs[agent] += 1
                ts = T0 + 60 * n
                snmp = [
                    {"device": d, "kind": "printer", "ts": ts + i / 1000, "sys": {"uptime_s": 1e6 + ts},
                     "printer": {"pages_total": 10 * n + i}}
                    for i, d in enumerate(ids)
                ]  # fmt: skip
                body = {"agent": {"id": agent, "hostname": agent, "version": "0.1.0"},
                        "reports": [{"seq": seqs[agent], "ts": ts, "interval_s": 60, "snmp": snmp}]}  # fmt: skip
                principal = admin.Principal(token_id="t", role="agent", tenant=AGENTS[agent], agent_id=agent)
                with transaction(conn):
                    ack = store.ingest(conn, principal, msgspec.convert(body, Batch), ts + 1)
                refused_here = set()
                for d in ids:
                    owner = model_owner(d, agent, assign)
                    if owner is None:
                        refusals[(agent, d)] += 1
                        refused_here.add(d)
                    else:
                        inventory[(owner, d)] += 1
                assert ack.stored == 1
                assert ack.refused == [devices.refusal_line(d) for d in sorted(refused_here)]

            got = {(t, d): n for t, d, n in conn.execute("SELECT tenant, device_id, readings_total FROM devices")}
            assert got == dict(inventory)
            got = {
                (a, d): n for a, d, n in conn.execute("SELECT agent_id, device_id, refused_total FROM device_refusals")
            }
            assert got == dict(refusals)
            stored = Counter((t, d) for t, d in conn.execute("SELECT tenant, device_id FROM device_readings"))
            assert stored == inventory
            billed = {
                (t, s) for t, s in conn.execute("SELECT tenant, subject FROM ledger_subject WHERE kind = 'device'")
            }
            assert billed <= set(inventory)
            assert conn.execute("SELECT count(*) FROM samples").fetchone()[0] == len(sent)
        finally:
            conn.close()
