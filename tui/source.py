"""The TUI's only way to the collector: its HTTP API, through httpx.

Errors are typed so the UI can tell them apart (the httpx model): a
``ConnectionLost`` (transport failure, timeout) is retried behind a banner; an
``ApiError`` (the collector answered 4xx/5xx with its error body) is reported
as a toast; ``NotAvailable`` is a 404 on a whole endpoint, meaning the
collector does not offer that feature (yet); ``Unauthorized`` means the token
is wrong. Bodies are returned as plain JSON (dicts); ``model.py`` shapes them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterable, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

__all__ = [
    "ApiError",
    "CollectorSource",
    "ConnectionLost",
    "NotAvailable",
    "SourceError",
    "Unauthorized",
    "gather_limited",
    "optional",
]

log = logging.getLogger("leitstand.tui.source")

T = TypeVar("T")


class SourceError(Exception):
    """Anything that kept a request from giving an answer the UI can show."""


class ConnectionLost(SourceError):
    """The collector could not be reached (refused, reset, timed out)."""


class ApiError(SourceError):
    """The collector answered with an error status and its error body."""

    def __init__(self, status: int, error: str, detail: Sequence[str] = (), path: str = "") -> None:
        self.status = status
        self.error = error
        self.detail = list(detail)
        self.path = path
        super().__init__(f"{status} {error}" + (f" ({'; '.join(self.detail)})" if self.detail else ""))


class Unauthorized(ApiError):
    """401/403: the token is unknown, revoked or lacks the role."""


class NotAvailable(ApiError):
    """404 on an endpoint: this collector does not offer the feature (or the object is gone)."""


def _q(segment: str) -> str:
    return quote(segment, safe="")


class CollectorSource:
    """Async client of the collector's read and admin API.

    ``transport`` lets tests drive the real collector app in process
    (``httpx.ASGITransport``) or contract-shaped JSON (``httpx.MockTransport``).
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        lang: str = "de",
    ) -> None:
        headers = {"Accept": "application/json", "User-Agent": "leitstand-tui"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.base_url = base_url.rstrip("/")
        self.lang = lang
        self._client = httpx.AsyncClient(base_url=self.base_url, headers=headers, transport=transport, timeout=timeout)

    async def aclose(self) -> None:
        await self._client.aclose()

    # -- plumbing ------------------------------------------------------------------

    async def _request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            resp = await self._client.request(method, path, **kw)
        except httpx.TransportError as exc:  # connect, read, write, timeouts, protocol
            log.info("%s %s failed: %s", method, path, exc)
            raise ConnectionLost(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from exc
        if resp.status_code >= 400:
            error, detail = _error_body(resp)
            cls: type[ApiError] = ApiError
            if resp.status_code in (401, 403):
                cls = Unauthorized
            elif resp.status_code == 404:
                cls = NotAvailable
            raise cls(resp.status_code, error, detail, path)
        return resp

    async def _json(self, method: str, path: str, **kw: Any) -> Any:
        resp = await self._request(method, path, **kw)
        if not resp.content:
            return {}
        try:
            return resp.json()
        except ValueError as exc:
            raise ApiError(resp.status_code, "response is not JSON", [str(exc)], path) from exc

    @staticmethod
    def _params(**kw: object) -> dict[str, str]:
        return {k: str(v) for k, v in kw.items() if v is not None and v != ""}

    # -- hosts -----------------------------------------------------------------------

    async def hosts(self, **filters: str | None) -> list[dict[str, Any]]:
        body = await self._json("GET", "/api/v1/hosts", params=self._params(**filters))
        return list(body.get("hosts", []))

    async def host(self, agent_id: str) -> dict[str, Any]:
        body: dict[str, Any] = await self._json("GET", f"/api/v1/hosts/{_q(agent_id)}")
        return body

    async def samples(
        self, agent_id: str, since: float | None = None, until: float | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        params = self._params(since=since, until=until, limit=limit)
        body = await self._json("GET", f"/api/v1/hosts/{_q(agent_id)}/samples", params=params)
        return list(body.get("samples", []))

    # -- devices ---------------------------------------------------------------------

    async def devices(self, **filters: str | None) -> list[dict[str, Any]]:
        body = await self._json("GET", "/api/v1/devices", params=self._params(**filters))
        return list(body.get("devices", []))

    async def device(self, device_id: str, tenant: str | None = None) -> dict[str, Any]:
        """A device with its latest reading. Device ids are unique per tenant
        only: `tenant` (from the list row) says whose."""
        body: dict[str, Any] = await self._json(
            "GET", f"/api/v1/devices/{_q(device_id)}", params=self._params(tenant=tenant)
        )
        return body

    async def device_readings(
        self,
        device_id: str,
        since: float | None = None,
        until: float | None = None,
        limit: int | None = None,
        tenant: str | None = None,
    ) -> list[dict[str, Any]]:
        params = self._params(since=since, until=until, limit=limit, tenant=tenant)
        body = await self._json("GET", f"/api/v1/devices/{_q(device_id)}/readings", params=params)
        return list(body.get("readings", []))

    # -- metering --------------------------------------------------------------------

    async def usage(self, tenant: str, period: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = await self._json(
            "GET", "/api/v1/usage", params=self._params(tenant=tenant, period=period)
        )
        return body

    async def periods(self, tenant: str | None = None) -> list[dict[str, Any]]:
        body = await self._json("GET", "/api/v1/periods", params=self._params(tenant=tenant))
        return list(body.get("periods", []))

    # -- readiness -------------------------------------------------------------------

    async def readiness(self, tenant: str | None = None) -> list[dict[str, Any]]:
        body = await self._json("GET", "/api/v1/readiness", params=self._params(tenant=tenant, lang=self.lang))
        return list(body.get("applications", []))

    async def readiness_detail(self, app: str) -> dict[str, Any]:
        body: dict[str, Any] = await self._json(
            "GET", f"/api/v1/readiness/{_q(app)}", params=self._params(lang=self.lang)
        )
        return body

    # -- alerts ----------------------------------------------------------------------

    async def alerts(
        self, state: str | None = None, tenant: str | None = None, severity: str | None = None
    ) -> list[dict[str, Any]]:
        params = self._params(state=state, tenant=tenant, severity=severity, lang=self.lang)
        body = await self._json("GET", "/api/v1/alerts", params=params)
        return list(body.get("alerts", []))

    async def ack(self, alert_id: str, comment: str) -> dict[str, Any]:
        body: dict[str, Any] = await self._json("POST", f"/api/v1/alerts/{_q(alert_id)}/ack", json={"comment": comment})
        return body

    async def silence(
        self, matchers: Iterable[dict[str, Any]], starts_at: float, ends_at: float, comment: str
    ) -> dict[str, Any]:
        """Silence alerts matching all `matchers` between two Unix times."""
        payload = {"matchers": list(matchers), "starts_at": starts_at, "ends_at": ends_at, "comment": comment}
        body: dict[str, Any] = await self._json("POST", "/api/v1/silences", json=payload)
        return body

    async def unsilence(self, silence_id: str) -> None:
        await self._request("DELETE", f"/api/v1/silences/{_q(silence_id)}")

    async def runbook(self, name: str, lang: str = "de") -> str:
        """The runbook's Markdown, its escalation block in ``lang`` (contacts filled: this source has a token)."""
        resp = await self._request(
            "GET", f"/api/v1/runbooks/{_q(name)}", params={"lang": lang}, headers={"Accept": "text/markdown"}
        )
        return resp.text


def _error_body(resp: httpx.Response) -> tuple[str, list[str]]:
    """The collector's one error shape, {"error", "detail"}; anything else as text."""
    try:
        body = resp.json()
    except ValueError:
        return (resp.reason_phrase or "error", [resp.text[:200]] if resp.text else [])
    if isinstance(body, dict):
        detail = body.get("detail") or []
        return str(body.get("error") or resp.reason_phrase), [str(d) for d in detail] if isinstance(detail, list) else [
            str(detail)
        ]
    return resp.reason_phrase or "error", []


async def gather_limited(calls: Iterable[Awaitable[T]], limit: int = 8) -> list[T | BaseException]:
    """Run awaitables with at most `limit` in flight; results (or exceptions) in order."""
    sem = asyncio.Semaphore(limit)

    async def one(call: Awaitable[T]) -> T:
        async with sem:
            return await call

    return list(await asyncio.gather(*(one(c) for c in calls), return_exceptions=True))


async def optional(call: Awaitable[T]) -> T | None:
    """The answer, or None when the collector does not offer the endpoint (404)."""
    try:
        return await call
    except NotAvailable:
        return None
