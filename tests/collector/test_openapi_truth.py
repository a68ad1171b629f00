"""The OpenAPI document says what the server enforces: numeric types of the
wire format, required bodies, query parameters. Real app, real SQLite file."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from tests.collector.alerting.test_alerts_api import alerts, fire_host_down
from tests.collector.conftest import Env, auth, batch, report

T0 = 1_764_000_000.0


def _printer_and_ups() -> list[dict[str, Any]]:
    printer = {
        "device": "drucker-1",
        "kind": "printer",
        "ts": T0,
        "sys": {"uptime_s": 1000},
        "printer": {"pages_total": 100, "pages_mono": 60, "pages_color": 40},
    }
    ups = {"device": "usv-1", "kind": "ups", "ts": T0, "ups": {"source": "ups-mib", "charge_pct": 90, "runtime_s": 600}}
    switch = {
        "device": "switch-1",
        "kind": "switch",
        "ts": T0,
        "interfaces": [{"index": 1, "speed_bps": 1000, "in_octets_total": 5, "out_octets_total": 6}],
    }
    return [printer, ups, switch]


def _base() -> dict[str, Any]:
    r = report(1, T0, snmp=_printer_and_ups(), textfile=[{"name": "backup_ok", "value": 1}])
    r["disks"][0].update(read_bytes_total=1, write_bytes_total=2)
    r["net"][0].update(rx_errors_total=0, tx_errors_total=0)
    return batch("a1", [r])


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    if "anyOf" in schema:
        non_null = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return _resolve(spec, non_null[0])
    return schema


def _numbers(spec: dict[str, Any], value: Any, schema: dict[str, Any], path: tuple[Any, ...]) -> Iterator[Any]:
    """(path, documented type) of every numeric value in the instance."""
    schema = _resolve(spec, schema)
    if isinstance(value, dict):
        for key, item in value.items():
            sub = schema.get("properties", {}).get(key)
            assert sub is not None, f"{'.'.join(map(str, (*path, key)))} is not in the document"
            yield from _numbers(spec, item, sub, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _numbers(spec, item, schema["items"], (*path, i))
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield path, schema.get("type")


def _set(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    target: Any = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


async def test_integer_fields_refuse_fractions_and_number_fields_take_them(env: Env) -> None:
    spec = (await env.client.get("/openapi.json")).json()
    token = await env.enroll(env.tenant("t1"), "a1")
    base = _base()
    fields = list(_numbers(spec, base, {"$ref": "#/components/schemas/Batch"}, ()))
    assert len(fields) > 30  # counters of host, disks, NICs, printer, UPS and interfaces
    seq = 0
    for path, documented in fields:
        if path[-1] == "seq":
            continue  # the sequence itself: kept increasing below
        seq += 1
        original = _resolve_value(base, path)
        body = _set(base, path, original + 0.5)
        body["reports"][0]["seq"] = seq
        r = await env.post(token, body)
        name = ".".join(map(str, path))
        if documented == "integer":
            assert r.status_code == 400, (name, r.text)
            detail = " ".join(r.json()["detail"])
            assert "got `float`" in detail and "Expected `int" in detail, (name, r.text)
        else:
            assert documented == "number", name
            assert r.status_code == 200, (name, r.text)
    # every counter (a `_total` field) is documented as an integer but the CPU seconds
    counters = {path[-1]: documented for path, documented in fields if str(path[-1]).endswith("_total")}
    assert counters.pop("busy_seconds_total") == "number"
    assert set(counters.values()) == {"integer"}, counters


def _resolve_value(doc: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


async def test_ack_needs_a_body_as_documented(env: Env) -> None:
    spec = (await env.client.get("/openapi.json")).json()
    assert spec["paths"]["/api/v1/alerts/{alert_id}/ack"]["post"]["requestBody"]["required"] is True
    alert = await fire_host_down(env, "t1", "srv-1")
    url = f"/api/v1/alerts/{alert['id']}/ack"
    headers = auth(env.admin_token)
    for empty in (b"", b"  \n"):
        r = await env.client.post(url, content=empty, headers=headers)
        assert r.status_code == 400, r.text
        assert r.json()["error"] == "acknowledgement needs a JSON body"
    assert (await alerts(env, state="firing"))[0]["acknowledged"] is None  # nothing recorded
    r = await env.client.post(url, json={}, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["acknowledged"]["comment"] == ""


async def test_unknown_query_parameter_and_nul_are_refused_naming_them(env: Env) -> None:
    headers = auth(env.admin_token)
    r = await env.client.get("/api/v1/hosts", params={"tenat": "t1"}, headers=headers)
    assert r.status_code == 400
    assert r.json() == {
        "error": "unknown query parameter 'tenat'",
        "detail": ["/api/v1/hosts takes: role, site, state, tenant"],
    }
    r = await env.client.get("/api/v1/alerts", params={"tenant": "t\x001"}, headers=headers)
    assert r.status_code == 400
    assert r.json()["error"] == "query parameter 'tenant' contains a NUL character"
    r = await env.client.get("/healthz", params={"x": "1"})
    assert r.status_code == 400
    assert r.json()["detail"] == ["/healthz takes: no query parameters"]
    r = await env.client.get("/api/v1/hosts?site=a&site=b", headers=headers)
    assert r.status_code == 400
    assert r.json()["error"] == "query parameter 'site' given more than once"
    # an integer as JSON Schema has it: 10.0 is one, 10.5 is not
    r = await env.client.get("/api/v1/alerts", params={"limit": "10.0"}, headers=headers)
    assert r.status_code == 200, r.text
    r = await env.client.get("/api/v1/alerts", params={"limit": "10.5"}, headers=headers)
    assert r.status_code == 400
    # documented ones, and empty ones (= not given), pass
    assert (
        await env.client.get("/api/v1/hosts", params={"tenant": "", "state": ""}, headers=headers)
    ).status_code == 200
    spec = (await env.client.get("/openapi.json")).json()
    assert all("400" in op["responses"] for ops in spec["paths"].values() for op in ops.values())
