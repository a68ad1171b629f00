"""The OpenAPI 3.1 document, generated from the same msgspec types that
validate requests, so the spec cannot drift from the code."""

from __future__ import annotations

from functools import cache
from typing import Any

import msgspec

from agent.wire import Batch, BatchAck, ErrorBody

from . import __version__
from .alerting import api as alerting_api
from .api_types import EnrollRequest, EnrollResponse, Health, HostDetail, HostList, RollupList, SampleList
from .devices import DeviceDetail, DeviceList, ReadingList
from .readiness import api as readiness_api

__all__ = ["openapi_document"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "invalid request; nothing stored",
        401: "missing, unknown or revoked token",
        403: "token not valid for this agent, tenant or role",
        404: "not found",
        408: "body not received within server.body_timeout_s; nothing stored, send again",
        409: "conflict",
        413: "body too large",
        429: "busy; retry after the Retry-After header",
        503: "storage unavailable; nothing stored",
    }
    return {
        str(c): {"description": text[c], "content": {"application/json": {"schema": _ref("ErrorBody")}}} for c in codes
    }


def _ok(name: str, description: str = "OK") -> dict[str, Any]:
    return {"200": {"description": description, "content": {"application/json": {"schema": _ref(name)}}}}


_NO_NUL = "^[^\\u0000]*$"


def _param(name: str, schema: dict[str, Any], where: str = "query", description: str = "") -> dict[str, Any]:
    if schema.get("type") == "string" and "enum" not in schema and "pattern" not in schema:
        schema = {**schema, "pattern": _NO_NUL}  # no text column can hold a NUL (400)
    if where == "query":
        # every handler takes `?name=` (empty) as "not given": the default
        schema = {"anyOf": [{"const": ""}, schema]}
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "schema": schema,
        "description": description,
    }


def _device_paths(security: list[dict[str, list[str]]]) -> dict[str, Any]:
    """The SNMP device inventory (collector/devices.py)."""
    device_id = _param("device_id", {"type": "string"}, "path", "device id from the polling agent's config")
    # a device id is unique within its tenant only: an admin names the tenant when several use it (else 409)
    owner = _param("tenant", {"type": "string"}, description="the device's tenant (admin; needed when ambiguous)")
    return {
        "/api/v1/devices": {
            "get": {
                "summary": "SNMP devices visible to the token, with state (up, unreachable, stale)",
                "security": security,
                "parameters": [
                    _param("tenant", {"type": "string"}),
                    _param("kind", {"type": "string", "enum": ["printer", "ups", "switch", "generic"]}),
                    _param("state", {"type": "string", "enum": ["up", "unreachable", "stale"]}),
                    _param("agent_id", {"type": "string"}, description="the polling agent"),
                ],
                "responses": {**_ok("DeviceList"), **_errors(400, 401, 403)},
            }
        },
        "/api/v1/devices/{device_id}": {
            "get": {
                "summary": "One SNMP device with its latest reading",
                "security": security,
                "parameters": [device_id, owner],
                "responses": {**_ok("DeviceDetail"), **_errors(400, 401, 403, 404, 409)},
            }
        },
        "/api/v1/devices/{device_id}/readings": {
            "get": {
                "summary": "Readings of a device between since and until (Unix seconds)",
                "security": security,
                "parameters": [
                    device_id,
                    owner,
                    _param("since", {"type": "number"}, description="default: until - 86400"),
                    _param("until", {"type": "number"}, description="default: now"),
                    _param("limit", {"type": "integer", "minimum": 1, "maximum": 10000}),
                ],
                "responses": {**_ok("ReadingList"), **_errors(400, 401, 403, 404, 409)},
            }
        },
    }


#: periods the API accepts (collector/metering/model.py FIRST_YEAR..LAST_YEAR); outside: 400
PERIOD_PATTERN = "^(20|21)[0-9]{2}-(0[1-9]|1[0-2])$"

#: the usage document (collector/metering/export.py usage_document): plain dicts, so
#: written out here; quantities and money are decimal strings, never floats
_USAGE_SCHEMAS: dict[str, Any] = {
    "UsageDocument": {
        "type": "object",
        "required": [
            "tenant",
            "period",
            "status",
            "currency",
            "meters",
            "lines",
            "total",
            "quarantine",
            "quarantine_pending",
        ],
        "properties": {
            "tenant": {"type": "string"},
            "period": {"type": "string", "pattern": PERIOD_PATTERN},
            "status": {"enum": ["open", "closed"]},
            "currency": {"type": "string"},
            "meters": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["meter", "unit", "quantity", "coverage"],
                    "properties": {
                        "meter": {"type": "string"},
                        "unit": {"type": "string"},
                        "quantity": {"type": "string"},
                        "coverage": {"type": "string"},
                    },
                },
            },
            "lines": {"type": "array", "items": {"type": "object"}},
            "total": {"type": "string"},
            # held by the plausibility checks for review: in no total (README "Quarantine and review")
            "quarantine": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": [
                        "id",
                        "rule",
                        "meter",
                        "dim",
                        "subject_kind",
                        "subject",
                        "subject_name",
                        "agent_id",
                        "quantity",
                        "unit",
                        "start",
                        "end",
                        "evidence",
                        "status",
                    ],
                    "properties": {
                        "id": {"type": "string"},
                        "rule": {"type": "string"},
                        "meter": {"type": "string"},
                        "dim": {"type": "string"},
                        "subject_kind": {"enum": ["host", "device"]},
                        "subject": {"type": "string"},
                        "subject_name": {"type": "string"},
                        "agent_id": {"type": "string"},
                        "quantity": {"type": "string"},
                        "unit": {"type": "string"},
                        "start": {"type": "string", "format": "date-time"},
                        "end": {"type": "string", "format": "date-time"},
                        "evidence": {"type": "string"},
                        "status": {"enum": ["pending", "released", "dismissed"]},
                    },
                },
            },
            "quarantine_pending": {"type": "integer", "minimum": 0},
        },
    },
    "PeriodList": {
        "type": "object",
        "required": ["periods"],
        "properties": {
            "periods": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["tenant", "period", "status", "closed_at", "closed_by"],
                    "properties": {
                        "tenant": {"type": "string"},
                        "period": {"type": "string"},
                        "status": {"enum": ["open", "closed"]},
                        "closed_at": {"anyOf": [{"type": "number"}, {"type": "null"}]},
                        "closed_by": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                    },
                },
            }
        },
    },
}


def _usage_paths(security: list[dict[str, list[str]]]) -> dict[str, Any]:
    """Metering for billing offices and tenants (collector/usage.py)."""
    tenant = _param("tenant", {"type": "string"}, description="required unless the token reads one tenant only")
    return {
        "/api/v1/usage": {
            "get": {
                "summary": "Usage and invoice lines of a tenant for a billing month (Europe/Berlin)",
                "security": security,
                "parameters": [
                    tenant,
                    _param(
                        "period",
                        {"type": "string", "pattern": PERIOD_PATTERN},
                        description="YYYY-MM, default: the running month",
                    ),
                ],
                "responses": {**_ok("UsageDocument"), **_errors(400, 401, 403, 404)},
            }
        },
        "/api/v1/periods": {
            "get": {
                "summary": "Billing periods with data or closed, per readable tenant, newest first",
                "security": security,
                "parameters": [tenant],
                "responses": {**_ok("PeriodList"), **_errors(401, 403, 404)},
            }
        },
    }


def _metrics_path(security: list[dict[str, list[str]]]) -> dict[str, Any]:
    """GET /metrics (collector/metrics/http.py): the exposition is text, not JSON."""
    exposition = {"schema": {"type": "string"}}
    return {
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics of the fleet; a metrics or admin token reads every tenant, "
                "a tenant token its own (metrics.require_token, on by default)",
                "security": security,
                "parameters": [_param("tenant", {"type": "string"}, description="only this tenant")],
                "responses": {
                    "200": {
                        "description": "text exposition format (OpenMetrics when the Accept header asks for it)",
                        "content": {"text/plain": exposition},
                    },
                    **_errors(401, 403, 404, 503),
                },
            }
        }
    }


def _no_nul_in_strings(schema: Any) -> None:
    """Every request body is refused with a 400 if a JSON string in it holds a
    NUL (http.read_body): say so in the schema of every free-form string."""
    if isinstance(schema, dict):
        if schema.get("type") == "string" and not {"pattern", "enum", "const", "format"} & schema.keys():
            schema["pattern"] = _NO_NUL
        for value in schema.values():
            _no_nul_in_strings(value)
    elif isinstance(schema, list):
        for value in schema:
            _no_nul_in_strings(value)


def _unknown_query_is_400(paths: dict[str, Any]) -> dict[str, Any]:
    """An unknown query parameter, or a NUL in any, is refused on every route
    (collector/http.py KnownQueryParams): each operation documents the 400."""
    for ops in paths.values():
        for op in ops.values():
            op["responses"] = dict(sorted({**_errors(400), **op["responses"]}.items()))
    return paths


@cache
def openapi_document() -> dict[str, Any]:
    _, components = msgspec.json.schema_components(
        [
            Batch,
            BatchAck,
            ErrorBody,
            EnrollRequest,
            EnrollResponse,
            HostList,
            HostDetail,
            SampleList,
            RollupList,
            Health,
            DeviceList,
            DeviceDetail,
            ReadingList,
            *readiness_api.SCHEMAS,
            *alerting_api.SCHEMAS,
        ],
        ref_template="#/components/schemas/{name}",
    )
    components.update(_USAGE_SCHEMAS)
    _no_nul_in_strings(components)
    security: list[dict[str, list[str]]] = [{"bearer": []}]
    agent_id = _param("agent_id", {"type": "string"}, "path", "agent id")
    json_body = {"application/json": {"schema": _ref("Batch")}}
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "Leitstand collector", "version": __version__},
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": {
            "/api/v1/reports": {
                "post": {
                    "summary": "Ingest a batch of agent reports (wire format v1)",
                    "security": security,
                    "requestBody": {"required": True, "content": json_body},
                    "responses": {
                        **_ok("BatchAck", "stored or acknowledged as already stored"),
                        **_errors(400, 401, 403, 408, 409, 413, 429, 503),
                    },
                }
            },
            "/api/v1/enroll": {
                "post": {
                    "summary": "Enroll an agent with an enroll token; returns its agent token",
                    "security": security,
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("EnrollRequest")}},
                    },
                    "responses": {**_ok("EnrollResponse"), **_errors(400, 401, 403, 408, 409, 413, 429, 503)},
                }
            },
            "/api/v1/hosts": {
                "get": {
                    "summary": "Hosts visible to the token, with latest values and state",
                    "security": security,
                    "parameters": [
                        _param("tenant", {"type": "string"}),
                        _param("role", {"type": "string", "enum": ["server", "vm", "thin-client"]}),
                        _param("site", {"type": "string"}),
                        _param("state", {"type": "string", "enum": ["online", "offline"]}),
                    ],
                    "responses": {**_ok("HostList"), **_errors(400, 401, 403)},
                }
            },
            "/api/v1/hosts/{agent_id}": {
                "get": {
                    "summary": "One host: latest full report and open data gaps",
                    "security": security,
                    "parameters": [agent_id],
                    "responses": {**_ok("HostDetail"), **_errors(401, 403, 404)},
                }
            },
            "/api/v1/hosts/{agent_id}/samples": {
                "get": {
                    "summary": "Raw reports of a host between since and until (Unix seconds)",
                    "security": security,
                    "parameters": [
                        agent_id,
                        _param("since", {"type": "number"}, description="default: until - 3600"),
                        _param("until", {"type": "number"}, description="default: now"),
                        _param("limit", {"type": "integer", "minimum": 1, "maximum": 10000}),
                    ],
                    "responses": {**_ok("SampleList"), **_errors(400, 401, 403, 404)},
                }
            },
            "/api/v1/hosts/{agent_id}/rollups": {
                "get": {
                    "summary": "5-minute rollups of a host whose bucket starts between since and until",
                    "security": security,
                    "parameters": [
                        agent_id,
                        _param("since", {"type": "number"}, description="default: until - 7 days"),
                        _param("until", {"type": "number"}, description="default: now"),
                    ],
                    "responses": {**_ok("RollupList"), **_errors(400, 401, 403, 404)},
                }
            },
            **_device_paths(security),
            **_usage_paths(security),
            **readiness_api.openapi_paths(security, _ok, _errors, _param),
            **alerting_api.openapi_paths(security, _ok, _errors, _param),
            **_metrics_path(security),
            "/healthz": {
                "get": {
                    "summary": "Liveness and writer health",
                    "responses": {
                        **_ok("Health"),
                        "503": {
                            "description": "storage failing",
                            "content": {"application/json": {"schema": _ref("Health")}},
                        },
                    },
                }
            },
        },
    }
    _unknown_query_is_400(document["paths"])
    return document
