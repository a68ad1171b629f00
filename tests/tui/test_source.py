"""The HTTP source: typed errors (httpx MockTransport), token and paths."""

from __future__ import annotations

import httpx
import pytest

from tui.source import ApiError, CollectorSource, ConnectionLost, NotAvailable, Unauthorized, optional


def source(handler: object) -> CollectorSource:
    return CollectorSource("http://c/", "tok", transport=httpx.MockTransport(handler))  # type: ignore[arg-type]


async def test_token_paths_and_params() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"hosts": [{"id": "a/b"}], "count": 1})

    s = source(handler)
    assert await s.hosts(state="offline", tenant=None) == [{"id": "a/b"}]
    await s.host("a/b")
    assert seen[0].headers["authorization"] == "Bearer tok"
    assert str(seen[0].url) == "http://c/api/v1/hosts?state=offline"
    assert seen[1].url.raw_path == b"/api/v1/hosts/a%2Fb"
    await s.aclose()


@pytest.mark.parametrize(
    ("status", "cls"), [(401, Unauthorized), (403, Unauthorized), (404, NotAvailable), (400, ApiError), (503, ApiError)]
)
async def test_error_statuses_become_typed_errors(status: int, cls: type[ApiError]) -> None:
    s = source(lambda r: httpx.Response(status, json={"error": "nope", "detail": ["because"]}))
    with pytest.raises(cls) as info:
        await s.devices()
    assert info.value.status == status and info.value.error == "nope" and info.value.detail == ["because"]
    assert str(info.value) == f"{status} nope (because)"


async def test_non_json_error_body_is_kept_short() -> None:
    s = source(lambda r: httpx.Response(502, text="<html>bad gateway</html>"))
    with pytest.raises(ApiError) as info:
        await s.periods()
    assert info.value.status == 502 and "bad gateway" in info.value.detail[0]


async def test_transport_failures_are_a_lost_connection() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    for handler in (refuse, slow):
        with pytest.raises(ConnectionLost):
            await source(handler).hosts()


async def test_optional_turns_404_into_none() -> None:
    s = source(lambda r: httpx.Response(404, json={"error": "not found", "detail": []}))
    assert await optional(s.alerts()) is None


async def test_runbook_is_markdown_text_and_writes_send_json() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.startswith("/api/v1/runbooks/"):
            return httpx.Response(200, text="# Host down\n")
        if request.method == "DELETE":
            return httpx.Response(204)
        return httpx.Response(200, json={"id": "s-1"})

    s = source(handler)
    assert await s.runbook("host-down") == "# Host down\n"
    await s.ack("a 1", "on it")
    assert (await s.silence([{"name": "rule", "value": "x", "is_regex": False}], 1.0, 2.0, "c"))["id"] == "s-1"
    await s.unsilence("s-1")
    assert [(r.method, r.url.raw_path) for r in seen[1:]] == [
        ("POST", b"/api/v1/alerts/a%201/ack"),
        ("POST", b"/api/v1/silences"),
        ("DELETE", b"/api/v1/silences/s-1"),
    ]
    assert (
        seen[2].read()
        == b'{"matchers":[{"name":"rule","value":"x","is_regex":false}],"starts_at":1.0,"ends_at":2.0,"comment":"c"}'
    )
