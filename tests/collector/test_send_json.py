"""send_json (the reports fast path's acknowledgement) sends exactly the
messages json_response's Response sends."""

from __future__ import annotations

import asyncio
from typing import Any

from agent.wire import BatchAck
from collector.http import json_response, send_json
from tests.collector.conftest import asgi_scope


def test_send_json_sends_what_json_response_sends() -> None:
    async def both(body: object) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        straight: list[dict[str, Any]] = []
        built: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.disconnect"}

        async def send_straight(message: Any) -> None:
            straight.append(message)

        async def send_built(message: Any) -> None:
            built.append(message)

        await send_json(send_straight, body)
        await json_response(body)(asgi_scope("/api/v1/reports", []), receive, send_built)
        return straight, built

    for body in (BatchAck(accepted_through_seq=7, stored=1), BatchAck(accepted_through_seq=1, unknown_fields=["x"])):
        straight, built = asyncio.run(both(body))
        assert straight == built
