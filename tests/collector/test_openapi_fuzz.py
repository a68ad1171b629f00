"""Fuzz the API from its own OpenAPI document (schemathesis) with all of its
checks: no 5xx, documented status codes, content types, headers and response
schemas, schema-violating input refused, schema-valid input accepted, auth not
ignored. Every operation runs with the tokens that use it: admin, tenant,
agent, enroll and metrics."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks
from starlette.applications import Starlette

from collector import admin
from collector.app import create_app
from collector.db import connect, migrate
from collector.enroll import enroll
from collector.metering.model import FIRST_YEAR, LAST_YEAR, Period
from collector.openapi import PERIOD_PATTERN, openapi_document

#: per operation and token, positive and negative cases together; keeps the file under a minute
EXAMPLES = 15


@pytest.fixture
def fuzz_app(tmp_path: Path) -> Iterator[tuple[Starlette, dict[str, str]]]:
    db = tmp_path / "fuzz.db"
    conn = connect(db)
    migrate(conn)
    admin.add_tenant(conn, "t1", actor="test")
    tokens = {
        "admin": admin.create_token(conn, "admin", actor="test")[1],
        "enroll": admin.create_token(conn, "enroll", actor="test", tenant="t1")[1],
        "tenant": admin.create_token(conn, "tenant", actor="test", tenant="t1")[1],
        "metrics": admin.create_token(conn, "metrics", actor="test")[1],
    }
    enroller = admin.authenticate(conn, f"Bearer {tokens['enroll']}")
    # Reports are fuzzed with a real agent token, so bodies reach decoding and
    # validation instead of stopping at a 403.
    tokens["agent"] = enroll(conn, enroller, "fuzz-agent", "fuzz-host").token
    conn.close()
    app = create_app(db)
    yield app, tokens
    app.state.collector.close()


OPERATIONS = [
    ("/api/v1/reports", "POST"),
    ("/api/v1/enroll", "POST"),
    ("/api/v1/hosts", "GET"),
    ("/api/v1/hosts/{agent_id}", "GET"),
    ("/api/v1/hosts/{agent_id}/samples", "GET"),
    ("/api/v1/hosts/{agent_id}/rollups", "GET"),
    ("/api/v1/usage", "GET"),
    ("/api/v1/periods", "GET"),
    ("/api/v1/devices", "GET"),
    ("/api/v1/devices/{device_id}", "GET"),
    ("/api/v1/devices/{device_id}/readings", "GET"),
    ("/api/v1/readiness", "GET"),
    ("/api/v1/readiness/{app}", "GET"),
    ("/api/v1/alerts", "GET"),
    ("/api/v1/alerts/{alert_id}", "GET"),
    ("/api/v1/alerts/{alert_id}/ack", "POST"),
    ("/api/v1/silences", "GET"),
    ("/api/v1/silences", "POST"),
    ("/api/v1/silences/{silence_id}", "DELETE"),
    ("/api/v1/rules", "GET"),
    ("/api/v1/runbooks/{name}", "GET"),
    ("/metrics", "GET"),
    ("/healthz", "GET"),
]

#: the tokens an operation is fuzzed with; every other operation: admin and tenant
WHO = {
    "/api/v1/reports": ("agent",),
    "/api/v1/enroll": ("enroll",),
    "/metrics": ("metrics", "tenant"),
    "/healthz": ("admin",),
}

#: Rules across values no schema can express: a report stamped far in the future
#: or before the previous month (against the collector's clock), `since` after
#: `until`, a silence that must end after it starts and after now. For these a
#: 400 on schema-valid input is right; every other check still runs.
CROSS_FIELD = {
    "/api/v1/reports",
    "/api/v1/hosts/{agent_id}/samples",
    "/api/v1/hosts/{agent_id}/rollups",
    "/api/v1/devices/{device_id}/readings",
    "/api/v1/silences",
}

CASES = [(path, method, who) for path, method in OPERATIONS for who in WHO.get(path, ("admin", "tenant"))]


def test_every_route_is_fuzzed(fuzz_app: tuple[Starlette, dict[str, str]]) -> None:
    app, _ = fuzz_app
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    documented = {(op.path, op.method.upper()) for op in (r.ok() for r in schema.get_all_operations())}
    assert documented == set(OPERATIONS)
    served = {route.path for route in app.routes} - {"/openapi.json"}
    assert served == {path for path, _ in OPERATIONS}  # no route left out of the document


def test_period_pattern_is_the_range_the_server_accepts() -> None:
    import re

    pattern = re.compile(PERIOD_PATTERN)
    for year in (FIRST_YEAR - 1, FIRST_YEAR, LAST_YEAR, LAST_YEAR + 1, 9999):
        text = f"{year:04d}-12"
        try:
            Period.parse(text)
            accepted = True
        except ValueError:
            accepted = False
        assert bool(pattern.match(text)) == accepted, text


def test_metrics_is_documented_as_text_with_a_token() -> None:
    op = openapi_document()["paths"]["/metrics"]["get"]
    assert op["security"] == [{"bearer": []}]
    assert "text/plain" in op["responses"]["200"]["content"]
    assert {"401", "403"} <= set(op["responses"])


@pytest.mark.parametrize(("path", "method", "who"), CASES)
def test_api_passes_all_schemathesis_checks(
    path: str, method: str, who: str, fuzz_app: tuple[Starlette, dict[str, str]]
) -> None:
    app, tokens = fuzz_app
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operation = schema[path][method]
    load_all_checks()
    checks = list(CHECKS.get_all())
    if path in CROSS_FIELD:
        checks.remove(schemathesis.checks.positive_data_acceptance)
    # the token as an explicit header: negative cases then leave it alone instead of dropping it
    headers = {"Authorization": f"Bearer {tokens[who]}"}
    cases = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE, headers=headers),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE, headers=headers),
    )

    # The strategies are driven by hand rather than through schemathesis' pytest
    # plugin, whose collection hooks do not work with pytest 9.
    @given(case=cases)
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case: Any) -> None:
        # a query parameter whose value is [] or {} is sent as nothing at all: the
        # "invalid" request the server sees is valid, and accepting it is right
        if any(isinstance(v, list | dict) and not v for v in (case.query or {}).values()):
            reject()
        case.call_and_validate(checks=checks)

    check()
