"""Unknown fields stay accepted but never vanish without a trace, and no
nesting depth turns into a 500 (issues 13 and 14)."""

from __future__ import annotations

import json
import logging
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.wire import Batch, Report, WireError
from agent.wire import decode_batch as wire_decode
from collector.inbound import MAX_DEPTH, decode_batch
from tests.collector.conftest import Env, auth, batch, report

T0 = 1_764_000_000.0


def _printer_report(seq: int, **printer: Any) -> dict[str, Any]:
    return report(
        seq,
        T0 - 100 + seq,
        snmp=[{"device": "prn-1", "kind": "printer", "ts": T0 - 100 + seq, "printer": {"pages_total": 10, **printer}}],
    )


def test_a_batch_without_unknown_fields_decodes_as_the_wire_module_does() -> None:
    body = json.dumps(batch("a1", [_printer_report(1), _printer_report(2)])).encode()
    decoded = decode_batch(body)
    assert decoded.unknown == ()
    assert_same_batch(decoded.batch, wire_decode(body))


def assert_same_batch(decoded: Batch, expected: Batch) -> None:
    """The strict decoder's batch is built of subclasses of the wire types
    (they forbid unknown fields): the same fields, values and encoding."""
    assert isinstance(decoded, Batch)
    assert all(isinstance(r, Report) for r in decoded.reports)
    assert msgspec.to_builtins(decoded) == msgspec.to_builtins(expected)
    assert msgspec.json.encode(decoded) == msgspec.json.encode(expected)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    agent=st.dictionaries(st.sampled_from(["id", "hostname", "role", "boot_time"]), json_values, max_size=4),
    fields=st.dictionaries(
        st.sampled_from(["seq", "ts", "cpu", "memory", "disks", "net", "load1", "snmp"]), json_values, max_size=8
    ),
)
def test_whatever_the_wire_module_decodes_decodes_the_same_here(agent: dict[str, Any], fields: dict[str, Any]) -> None:
    # One decode where the strict one succeeds: its result must be the wire module's batch.
    body = json.dumps({"agent": {"id": "a1", "hostname": "a1", **agent}, "reports": [{**report(1, T0), **fields}]})
    try:
        expected = wire_decode(body.encode())
    except WireError as exc:
        with pytest.raises(WireError) as refused:
            decode_batch(body.encode())
        assert (str(refused.value), refused.value.detail) == (str(exc), exc.detail)
    else:
        assert_same_batch(decode_batch(body.encode()).batch, expected)


def test_unknown_paths_are_named_with_indices_folded() -> None:
    body = batch("a1", [_printer_report(1, pages_mono_total=5), _printer_report(2, pages_mono_total=6)])
    body["agent"]["colour"] = "blue"
    body["reports"][1]["cpu"]["temperature_c"] = {"core0": [41, 42]}
    decoded = decode_batch(json.dumps(body).encode())
    assert decoded.unknown == (
        "agent.colour",
        "reports[].snmp[].printer.pages_mono_total",
        "reports[].cpu.temperature_c",
    )
    # the known fields are decoded all the same
    assert decoded.batch.reports[0].snmp[0].printer is not None
    assert decoded.batch.reports[0].snmp[0].printer.pages_total == 10


def test_an_invalid_known_field_is_still_refused_when_unknown_ones_are_present() -> None:
    body = batch("a1", [report(1, T0, memory={"total_bytes": -1, "used_bytes": 1})])
    body["agent"]["extra"] = 1
    with pytest.raises(WireError) as err:
        decode_batch(json.dumps(body).encode())
    assert "$.reports[0].memory.total_bytes" in err.value.detail[0]


@pytest.mark.parametrize("depth", [MAX_DEPTH + 2, 100_000])
def test_deep_unknown_values_are_refused_not_crashed_on(depth: int) -> None:
    body = b'{"agent":{"id":"a1","hostname":"h","x":' + b"[" * depth + b"]" * depth + b'},"reports":'
    body += json.dumps([report(1, T0)]).encode() + b"}"
    with pytest.raises(WireError, match="nested too deeply"):
        decode_batch(body)


def test_unknown_values_as_deep_as_allowed_are_accepted() -> None:
    depth = MAX_DEPTH - 4
    body = b'{"agent":{"id":"a1","hostname":"h","x":' + b"[" * depth + b"]" * depth + b'},"reports":'
    body += json.dumps([report(1, T0)]).encode() + b"}"
    assert decode_batch(body).unknown == ("agent.x",)


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12).map(lambda s: "zz_" + s)
values = st.recursive(st.integers() | st.text(max_size=5) | st.none(), lambda v: st.lists(v, max_size=3), max_leaves=8)
places = st.sampled_from(["agent", "report", "cpu", "memory", "disk", "nic"])


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(extra=st.lists(st.tuples(places, names, values), max_size=6))
def test_inserted_unknown_fields_are_found_and_change_nothing_else(extra: list[tuple[str, str, Any]]) -> None:
    body = batch("a1", [report(1, T0), report(2, T0 + 15)])
    clean = json.dumps(body).encode()
    expected: set[str] = set()
    for place, name, value in extra:
        target, path = {
            "agent": (body["agent"], "agent"),
            "report": (body["reports"][0], "reports[]"),
            "cpu": (body["reports"][1]["cpu"], "reports[].cpu"),
            "memory": (body["reports"][0]["memory"], "reports[].memory"),
            "disk": (body["reports"][1]["disks"][0], "reports[].disks[]"),
            "nic": (body["reports"][0]["net"][0], "reports[].net[]"),
        }[place]
        target[name] = value
        expected.add(f"{path}.{name}")
    decoded = decode_batch(json.dumps(body).encode())
    assert set(decoded.unknown) == expected
    assert_same_batch(decoded.batch, wire_decode(clean))


# -- through the real app ----------------------------------------------------------


async def test_unknown_fields_are_acknowledged_counted_and_shown_in_the_host(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    token = await env.enroll(env.tenant("stadt-a"), "a1")
    caplog.set_level(logging.WARNING, logger="leitstand.collector.ingest")
    for seq in (1, 2):
        r = await env.post(token, batch("a1", [_printer_report(seq, pages_mono_total=seq)], version="9.9.0"))
        assert r.status_code == 200, r.text
        assert r.json()["unknown_fields"] == ["reports[].snmp[].printer.pages_mono_total"]
    host = (await env.client.get("/api/v1/hosts/a1", headers=auth(env.admin_token))).json()
    assert host["health"]["unknown_fields"] == ["reports[].snmp[].printer.pages_mono_total"]
    assert host["health"]["unknown_fields_batches"] == 2
    warnings = [r.getMessage() for r in caplog.records if "does not know" in r.getMessage()]
    assert len(warnings) == 1, warnings  # once per agent and version, not once per batch
    assert "pages_mono_total" in warnings[0] and "9.9.0" in warnings[0]
    # a clean batch leaves the count alone and acknowledges no unknown fields
    r = await env.post(token, batch("a1", [_printer_report(3)], version="9.9.0"))
    assert "unknown_fields" not in r.json()
    assert env.count("SELECT unknown_fields_total FROM hosts WHERE agent_id = 'a1'") == 2


async def test_the_agents_dead_letter_count_reaches_its_host_detail(env: Env) -> None:
    token = await env.enroll(env.tenant("stadt-a"), "a1")
    r = await env.post(token, batch("a1", [report(1, T0)], dead_letters=3))
    assert r.status_code == 200, r.text
    host = (await env.client.get("/api/v1/hosts/a1", headers=auth(env.admin_token))).json()
    assert host["health"]["dead_letters"] == 3


async def test_deep_nesting_is_a_400_and_other_agents_go_on(env: Env) -> None:
    enroll = env.tenant("stadt-a")
    hostile = await env.enroll(enroll, "evil")
    other = await env.enroll(env.tenant("stadt-b"), "good")
    deep = b'{"agent":{"id":"evil","hostname":"h","x":' + b"[" * 100_000 + b"]" * 100_000 + b'},"reports":'
    deep += json.dumps([report(1, T0)]).encode() + b"}"
    r = await env.client.post(
        "/api/v1/reports", content=deep, headers={**auth(hostile), "Content-Type": "application/json"}
    )
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "JSON nested too deeply"
    assert env.count("SELECT count(*) FROM samples WHERE agent_id = 'evil'") == 0
    r = await env.post(other, batch("good", [report(1, T0)]))
    assert r.status_code == 200 and r.json()["stored"] == 1


@pytest.mark.parametrize(
    ("where", "value", "field"),
    [
        ("net", [{"nic": "eth0", "rx_bytes_total": 2**64}], "$.reports[0].net[0].rx_bytes_total"),
        ("cpu", {"count": 4, "percent": 1, "busy_seconds_total": 1e15}, "$.reports[0].cpu.busy_seconds_total"),
        (
            "snmp",
            [{"device": "sw", "kind": "switch", "interfaces": [{"index": 1, "in_octets_total": 2**64 - 1}]}],
            "$.reports[0].snmp[0].interfaces[0].in_octets_total",
        ),
    ],
)
async def test_values_beyond_the_store_are_refused_naming_the_field(
    env: Env, where: str, value: Any, field: str
) -> None:
    token = await env.enroll(env.tenant("stadt-a"), "a1")
    r = await env.post(token, batch("a1", [report(1, T0, **{where: value})]))
    assert r.status_code == 400, r.text
    assert field in r.json()["detail"][0]


async def test_unknown_fields_and_dead_letters_reach_metrics(env: Env) -> None:
    token = await env.enroll(env.tenant("stadt-a"), "a1")
    r = await env.post(token, batch("a1", [_printer_report(1, pages_mono_total=1)], dead_letters=2))
    assert r.status_code == 200, r.text
    text = (await env.client.get("/metrics", headers=auth(env.admin_token))).text
    lines = [ln for ln in text.splitlines() if 'agent_id="a1"' in ln]
    assert any(ln.startswith("leitstand_host_unknown_field_batches_total{") and ln.endswith(" 1.0") for ln in lines)
    assert any(ln.startswith("leitstand_host_dead_letters{") and ln.endswith(" 2.0") for ln in lines)
