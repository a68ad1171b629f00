"""Every error path answers with the one error body (datasette's test_error_shape)."""

from __future__ import annotations

from tests.collector.conftest import Env, auth


async def test_unknown_route_and_wrong_method_use_the_error_shape(env: Env) -> None:
    for method, path in (("GET", "/nope"), ("GET", "/api/v1/reports"), ("DELETE", "/api/v1/hosts")):
        r = await env.client.request(method, path, headers=auth(env.admin_token))
        assert r.status_code in (404, 405)
        assert set(r.json()) == {"error", "detail"}
        assert isinstance(r.json()["detail"], list)


async def test_every_documented_error_status_uses_the_error_schema(env: Env) -> None:
    spec = (await env.client.get("/openapi.json")).json()
    for path, ops in spec["paths"].items():
        for op in ops.values():
            for status, resp in op["responses"].items():
                if int(status) >= 400 and path != "/healthz":
                    schema = resp["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (path, status)


async def test_overload_answers_429_with_retry_after(env: Env) -> None:
    from collector.errors import OverloadedError

    writer = env.app.state.collector.writer

    def full(*job: object) -> None:  # the writer's queue, full
        raise OverloadedError("collector is busy, retry later", retry_after_s=7)

    writer._put = full
    enroll = env.tenant("t1")
    r = await env.client.post("/api/v1/enroll", json={"agent_id": "a1"}, headers=auth(enroll))
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "7"
    assert set(r.json()) == {"error", "detail"}
