"""HTTP client of the agent: posts spooled reports to the collector, and enrolls.

HTTP through :mod:`agent.transport` (h11 over a socket) and gzip: thin clients
give the agent a tight RSS budget, and httpx, requests or even http.client (which
pulls in the email package) would cost several MB of imports for one POST a
minute. ssl is imported only for an ``https://`` collector.

Exception tree, modelled on httpx's (catch transport errors apart from status
errors)::

    SendError                  the request did not succeed
    ├── TransportError         network, TLS, timeout, 5xx: retry later, data stays spooled
    │   ├── RateLimited        429; retry_after seconds from Retry-After (None if absent)
    │   └── ProtocolError      a 2xx answer that is not the expected JSON
    └── RejectedError          other 4xx (and 3xx): a bug or a misconfiguration to report
        │                      loudly; data stays spooled, the same batch is not retried quickly
        ├── AuthError          401/403: unknown token, or not valid for this agent
        └── BatchRefused       400/422: the collector refused the batch, nothing of it stored;
            │                  the runner splits it to find the report(s) it cannot take
            └── PayloadTooLarge  413: the caller may retry with smaller batches

A 500 stays a TransportError (``status`` 500): the runner retries it, and only
when it repeats for the same batch treats it like a refusal.

Logging goes to the ``leitstand.agent`` logger; configuring it is the CLI's job.
"""

from __future__ import annotations

import gzip
import logging
import os
import random
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from datetime import UTC

import msgspec

from agent import __version__, transport, wire

__all__ = [
    "MAX_RETRY_AFTER",
    "AuthError",
    "Backoff",
    "BatchRefused",
    "PayloadTooLarge",
    "ProtocolError",
    "RateLimited",
    "RejectedError",
    "SendError",
    "Sender",
    "TransportError",
    "collector_says",
    "enroll",
    "parse_retry_after",
]

log = logging.getLogger("leitstand.agent")

REPORTS_PATH = "/api/v1/reports"
ENROLL_PATH = "/api/v1/enroll"
USER_AGENT = f"leitstand-agent/{__version__}"
# A Retry-After of days would silence the agent; an hour is the most we honour.
MAX_RETRY_AFTER = 3600.0
# Answers are tiny JSON; anything bigger is not our collector (a proxy's HTML page, say).
_MAX_RESPONSE = 1024 * 1024


class SendError(Exception):
    """Base of every error the sender raises."""


class TransportError(SendError):
    """The collector could not be reached or failed (network, TLS, timeout, 5xx). Retry later."""

    def __init__(self, message: str, *, status: int | None = None, error: str = "", detail: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.status = status
        # The collector's error body, when it answered (5xx): kept with a dead letter.
        self.error = error
        self.detail = list(detail)


class RateLimited(TransportError):
    """429 Too Many Requests; ``retry_after`` is the collector's wish in seconds, if it said."""

    def __init__(self, message: str, *, retry_after: float | None) -> None:
        super().__init__(message, status=429)
        self.retry_after = retry_after


class ProtocolError(TransportError):
    """A success status with a body that is not the expected answer (a proxy in between?)."""


class RejectedError(SendError):
    """The collector refused the request (4xx other than 429). Not retried automatically."""

    def __init__(self, message: str, *, status: int, error: str = "", detail: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.detail = list(detail)


class AuthError(RejectedError):
    """401 (unknown token) or 403 (token not valid for this agent or tenant)."""


class BatchRefused(RejectedError):
    """400/422: the collector refused the batch and stored nothing of it."""

    @property
    def about_agent_header(self) -> bool:
        """The collector named only the batch's agent header (``$.agent...``), no report.

        Then no report is at fault and splitting the batch would refuse every piece.
        """
        paths = [d for d in self.detail if "$." in d]
        return bool(paths) and all("$.agent" in d and "$.reports" not in d for d in paths)


class PayloadTooLarge(BatchRefused):
    """413: the batch is bigger than the collector accepts."""


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), capped.

    Returns None when the header is absent or unparseable.
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        import email.utils  # only for the rare HTTP-date form; costs RSS at import

        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:  # "-0000" parses naive; HTTP dates are always GMT
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - (time.time() if now is None else now)
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


class Backoff:
    """Exponential backoff with full jitter: delay = uniform(0, min(cap, base * 2**attempt)).

    Full jitter spreads a fleet of agents that lost the collector at the same
    moment, so they do not all come back in the same second. ``floor`` (a
    Retry-After) is a lower bound on the returned delay.
    """

    def __init__(self, base: float = 1.0, cap: float = 300.0, *, rng: random.Random | None = None) -> None:
        if not 0 < base <= cap:
            raise ValueError("need 0 < base <= cap")
        self.base = base
        self.cap = cap
        self._rng = rng or random.Random()
        self._attempt = 0

    @property
    def attempt(self) -> int:
        """Failures since the last reset."""
        return self._attempt

    def next_delay(self, floor: float | None = None) -> float:
        # The exponent is bounded so a long outage cannot overflow the float.
        ceiling = min(self.cap, self.base * 2.0 ** min(self._attempt, 60))
        self._attempt += 1
        delay = self._rng.uniform(0.0, ceiling)
        if floor is not None:
            delay = max(delay, min(floor, MAX_RETRY_AFTER))
        return delay

    def reset(self) -> None:
        self._attempt = 0


class _Endpoint:
    """One collector base URL and a reusable (keep-alive) connection to it."""

    def __init__(self, base_url: str, *, ca_bundle: str | os.PathLike[str] | None, timeout: float) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"collector URL must be http(s)://host[:port][/prefix], got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._prefix = parts.path.rstrip("/")
        self._timeout = timeout
        # TLS failures are told apart only where TLS is used: an http:// agent never imports ssl.
        self._tls_errors: tuple[type[Exception], ...] = ()
        context = None
        if parts.scheme == "https":
            import ssl

            context = transport.tls_context(os.fspath(ca_bundle) if ca_bundle else None)
            self._tls_errors = (ssl.SSLError,)
        elif not _is_loopback(parts.hostname):
            log.warning("collector URL %s is plain http: the agent token travels unencrypted", self.base_url)
        port = parts.port or (443 if context is not None else 80)
        self._conn = transport.HTTPConnection(parts.hostname, port, timeout=timeout, tls=context)

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> transport.Response:
        """POST and return the answer; raises TransportError when no answer came."""
        url = self.base_url + path
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **headers}
        if self._conn.drop_if_stale():
            log.debug("kept-alive connection to %s was closed by the collector; reconnecting", url)
        for attempt in (1, 2):
            reused = self._conn.is_open
            try:
                return self._conn.request("POST", self._prefix + path, headers, body, max_body=_MAX_RESPONSE)
            except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError) as exc:
                # The server may close an idle keep-alive connection just as we reuse it;
                # one retry on a fresh connection is safe because a resent seq counts once.
                if reused and attempt == 1:
                    log.debug("kept-alive connection to %s was closed (%s); reconnecting", url, exc)
                    continue
                raise TransportError(f"POST {url}: connection lost: {exc}") from exc
            except TimeoutError as exc:
                raise TransportError(f"POST {url}: no answer within {self._timeout:g} s") from exc
            except self._tls_errors as exc:
                raise TransportError(f"POST {url}: TLS failed: {exc}") from exc
            except (OSError, transport.ResponseError) as exc:
                raise TransportError(f"POST {url}: {exc}") from exc
        raise AssertionError("unreachable")  # the loop either returns or raises

    def close(self) -> None:
        self._conn.close()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    import ipaddress  # once per sender; not worth its RSS for the whole run

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_status(url: str, status: int, headers: Mapping[str, str], data: bytes) -> None:
    """Raise the matching SendError unless ``status`` is a success (``headers`` lowercased)."""
    if 200 <= status < 300:
        return
    if status == 429:
        retry_after = parse_retry_after(headers.get("retry-after"))
        raise RateLimited(f"POST {url}: HTTP 429 rate limited (Retry-After: {retry_after})", retry_after=retry_after)
    if status >= 500 or status == 408:
        error, detail = _error_body(data)
        raise TransportError(f"POST {url}: HTTP {status} {_describe(data)}", status=status, error=error, detail=detail)
    if 300 <= status < 400:
        location = headers.get("location", "")
        raise RejectedError(f"POST {url}: HTTP {status} redirect to {location!r}: fix the collector URL", status=status)
    error, detail = _error_body(data)
    message = f"POST {url}: HTTP {status} {error}" + (f": {'; '.join(detail)}" if detail else "")
    if status in (401, 403):
        hint = "re-enroll the agent" if status == 401 else "token not valid for this agent or tenant"
        raise AuthError(f"{message} ({hint})", status=status, error=error, detail=detail)
    if status == 413:
        raise PayloadTooLarge(message, status=status, error=error, detail=detail)
    if status in (400, 422):
        raise BatchRefused(message, status=status, error=error, detail=detail)
    if status == 409:
        message += " (the agent's seq restarted, e.g. a wiped state directory: run `leitstand-agent enroll --force`)"
    raise RejectedError(message, status=status, error=error, detail=detail)


def _error_body(data: bytes) -> tuple[str, list[str]]:
    try:
        body = msgspec.json.decode(data, type=wire.ErrorBody)
    except msgspec.DecodeError:
        return _describe(data), []
    return body.error, list(body.detail)


def collector_says(exc: SendError) -> str:
    """What the collector said, without our side of it (URL, status): the error, then
    one line per detail; the first detail shares the first line, as it usually names
    the field at fault."""
    error = getattr(exc, "error", "") or ""
    detail: list[str] = list(getattr(exc, "detail", ()) or ())
    if not error:
        return str(exc)
    if not detail:
        return error
    return "\n".join([f"{error}: {detail[0]}", *detail[1:]])


def _describe(data: bytes) -> str:
    text = data[:300].decode("utf-8", errors="replace").strip()
    return text or "(empty body)"


class _EnrollAnswer(msgspec.Struct):
    token: str


class Sender:
    """Posts batches of spooled reports to ``{collector_url}/api/v1/reports``.

    The connection is kept alive between calls; :meth:`close` drops it (the
    runner does after each flush, so an idle agent holds no collector socket).
    """

    def __init__(
        self,
        collector_url: str,
        token: str,
        *,
        ca_bundle: str | os.PathLike[str] | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._endpoint = _Endpoint(collector_url, ca_bundle=ca_bundle, timeout=timeout)
        self._token = token

    @property
    def collector_url(self) -> str:
        return self._endpoint.base_url

    def send(self, agent: wire.AgentInfo, reports: Sequence[bytes]) -> wire.BatchAck:
        """Post one batch; ``reports`` are encoded wire.Report JSON objects (as spooled).

        Returns the collector's acknowledgement (``accepted_through_seq``, and what it
        refused or ignored). Raises a SendError subclass otherwise; the caller keeps
        the reports spooled.
        """
        if not reports:
            raise ValueError("a batch needs at least one report")
        # The spooled JSON is spliced in as is: no decode/encode round trip per report.
        body = b'{"agent":' + wire.encode(agent) + b',"reports":[' + b",".join(reports) + b"]}"
        headers = {
            "Authorization": f"Bearer {self._token}",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        }
        url = self._endpoint.base_url + REPORTS_PATH
        answer = self._endpoint.post(REPORTS_PATH, gzip.compress(body, compresslevel=6, mtime=0), headers)
        status, data = answer.status, answer.body
        _check_status(url, status, answer.headers, data)
        try:
            ack = msgspec.json.decode(data, type=wire.BatchAck)
        except msgspec.DecodeError as exc:
            raise ProtocolError(f"POST {url}: HTTP {status} but no acknowledgement: {_describe(data)}") from exc
        log.debug("collector acknowledged through seq %s (%s reports sent)", ack.accepted_through_seq, len(reports))
        return ack

    def close(self) -> None:
        self._endpoint.close()

    def __enter__(self) -> Sender:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


_ENROLL_HINTS = {
    401: "ask the collector's admin for a new enroll token: `leitstand-collector token create --role enroll`",
    403: "this token cannot enroll (used up, or not an enroll token): ask for a new one",
    409: "this agent id is enrolled already: re-enrolling it needs an enroll token created with --replace",
}


def enroll(
    collector_url: str,
    enroll_token: str,
    agent_id: str,
    hostname: str,
    ca_bundle: str | os.PathLike[str] | None = None,
    *,
    timeout: float = 10.0,
) -> str:
    """Trade an enroll token for this agent's own token (``POST /api/v1/enroll``)."""
    endpoint = _Endpoint(collector_url, ca_bundle=ca_bundle, timeout=timeout)
    url = endpoint.base_url + ENROLL_PATH
    body = wire.encode({"agent_id": agent_id, "hostname": hostname})
    headers = {"Authorization": f"Bearer {enroll_token}", "Content-Type": "application/json"}
    try:
        answer = endpoint.post(ENROLL_PATH, body, headers)
    finally:
        endpoint.close()
    status, data = answer.status, answer.body
    if status in (401, 403, 409):
        # The collector's own words name the cause (an expired or used-up enroll
        # token, an agent id already enrolled); the hints of a report POST would mislead.
        error, detail = _error_body(data)
        message = f"POST {url}: HTTP {status} {error}" + (f": {'; '.join(detail)}" if detail else "")
        hint = _ENROLL_HINTS[status]
        exc_type = AuthError if status != 409 else RejectedError
        raise exc_type(f"{message} ({hint})", status=status, error=error, detail=detail)
    _check_status(url, status, answer.headers, data)
    try:
        token = msgspec.json.decode(data, type=_EnrollAnswer)
    except msgspec.DecodeError as exc:
        raise ProtocolError(f"POST {url}: HTTP {status} but no token: {_describe(data)}") from exc
    return token.token
