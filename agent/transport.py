"""One keep-alive HTTP/1.1 connection to the collector: h11 over a plain or TLS socket.

Why not http.client: it pulls in the email package for header parsing, about
5 MB of RSS in an agent whose whole budget is about 20 MB, for one POST a
minute. h11 is the protocol state machine httpx and uvicorn build on; this
module only moves its bytes over a socket. ssl is imported only for an
``https://`` collector.

Errors are the socket's own (``OSError``: ``TimeoutError``,
``ConnectionError``, and ``ssl.SSLError`` on a TLS connection) plus
:class:`ResponseError` for an answer h11 cannot parse; the sender maps them
to its exception tree. A connection the server closed before answering raises
:class:`ConnectionClosedError` (a ``ConnectionResetError``), as http.client's
``RemoteDisconnected`` did: that is what a stale kept-alive socket looks like.
"""

from __future__ import annotations

import select
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import h11

if TYPE_CHECKING:
    import ssl

__all__ = ["ConnectionClosedError", "HTTPConnection", "Response", "ResponseError", "tls_context"]

_CHUNK = 64 * 1024


class ResponseError(Exception):
    """The server's bytes are not a valid HTTP/1.1 response."""


class ConnectionClosedError(ConnectionResetError):
    """The server closed the connection without sending (all of) an answer."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]  # names lowercased; a repeated header keeps its last value
    body: bytes
    truncated: bool  # the body was longer than the caller's limit; the connection is closed


def tls_context(ca_bundle: str | None) -> ssl.SSLContext:
    """A verifying client context; ``ca_bundle=None`` means the system trust store."""
    import ssl

    return ssl.create_default_context(cafile=ca_bundle)


class HTTPConnection:
    """A lazily opened, reused connection to one host; not thread-safe (one sender each)."""

    def __init__(self, host: str, port: int, *, timeout: float, tls: ssl.SSLContext | None = None) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self._tls = tls
        self._sock: socket.socket | None = None
        self._h11: h11.Connection | None = None

    @property
    def is_open(self) -> bool:
        return self._sock is not None

    def _host_header(self) -> bytes:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self._tls is not None else 80
        return (host if self.port == default else f"{host}:{self.port}").encode("idna")

    def _open(self) -> tuple[socket.socket, h11.Connection]:
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        try:
            # Request head and body leave in one sendall; Nagle would only add latency.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._tls is not None:
                sock = self._tls.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise
        self._sock, self._h11 = sock, h11.Connection(our_role=h11.CLIENT)
        return self._sock, self._h11

    def drop_if_stale(self) -> bool:
        """Close a kept-alive socket the server has closed meanwhile; True if it did.

        Readable before we asked anything means EOF (or junk): either way not reusable.
        The race this cannot see (closed just after the check) the caller handles.
        """
        if self._sock is None:
            return False
        try:
            readable, _, _ = select.select([self._sock], [], [], 0)
        except (OSError, ValueError):
            readable = [self._sock]
        if readable:
            self.close()
        return bool(readable)

    def request(self, method: str, target: str, headers: Mapping[str, str], body: bytes, *, max_body: int) -> Response:
        """Send one request and read its answer (at most ``max_body`` bytes of body)."""
        sock, conn = (self._sock, self._h11) if self._sock is not None and self._h11 is not None else self._open()
        head = [(b"Host", self._host_header()), (b"Content-Length", str(len(body)).encode())]
        head += [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]
        try:
            out = conn.send(h11.Request(method=method, target=target, headers=head))
            out += conn.send(h11.Data(data=body)) + conn.send(h11.EndOfMessage())
        except h11.LocalProtocolError as exc:  # a header value we were handed is not sendable
            self.close()
            raise ValueError(f"cannot send this request: {exc}") from exc
        try:
            sock.sendall(out)
            return self._read_response(sock, conn, max_body)
        except BaseException:
            self.close()
            raise

    def _read_response(self, sock: socket.socket, conn: h11.Connection, max_body: int) -> Response:
        status, size, eof = 0, 0, False
        headers: dict[str, str] = {}
        chunks: list[bytes] = []
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                if eof:  # cut off mid-answer: the connection was lost, the bytes were fine
                    raise ConnectionClosedError(f"the server closed the connection: {exc}") from exc
                raise ResponseError(str(exc)) from exc
            if event is h11.NEED_DATA:
                data = sock.recv(_CHUNK)
                if not data and status == 0:
                    raise ConnectionClosedError("the server closed the connection without answering")
                eof = not data
                conn.receive_data(data)
            elif isinstance(event, h11.Response):
                status = event.status_code
                headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in event.headers}
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
                size += len(event.data)
                if size > max_body:
                    self.close()
                    return Response(status, headers, b"".join(chunks), truncated=True)
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionClosedError("the server closed the connection in the middle of its answer")
            # InformationalResponse (100 Continue and the like) carries nothing for us.
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            conn.start_next_cycle()
        else:  # Connection: close, or HTTP/1.0
            self.close()
        return Response(status, headers, b"".join(chunks), truncated=False)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock = self._h11 = None
