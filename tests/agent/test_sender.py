"""The sender against a real local HTTP server that scripts the collector's answers."""

from __future__ import annotations

import email.utils
import gzip
import http.server
import json
import random
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from agent import wire
from agent.sender import (
    MAX_RETRY_AFTER,
    AuthError,
    Backoff,
    BatchRefused,
    PayloadTooLarge,
    ProtocolError,
    RateLimited,
    RejectedError,
    Sender,
    TransportError,
    collector_says,
    enroll,
    parse_retry_after,
)
from agent.spool import encode_report

AGENT = wire.AgentInfo(id="agent-1", hostname="rathaus-tc-017", role="thin-client", site="rathaus")


# -- a scripted collector ------------------------------------------------------


@dataclass
class Seen:
    """One request as the stub received it (body already gunzipped)."""

    path: str
    headers: dict[str, str]
    raw: bytes
    body: bytes
    client: tuple[str, int]

    @property
    def seqs(self) -> list[int]:
        return [r.seq for r in wire.decode_batch(self.body).reports]


@dataclass
class Reply:
    status: int = 200
    body: object = None  # JSON-encodable; None means "no body"
    headers: dict[str, str] = field(default_factory=dict)
    close_silently: bool = False  # drop the connection afterwards without `Connection: close`
    hang_up: bool = False  # read the request, then close the connection without answering


Responder = Callable[["Seen"], Reply]


class CollectorStub:
    """A collector on 127.0.0.1:<free port> whose answers the test scripts.

    ``script`` replies are used first, in order; then ``responder`` (default: store
    the batch and acknowledge its highest seq, like the collector). ``received``
    lists every seq of every batch that arrived, so duplicates would show.
    With ``listening=False`` the port is bound but refuses connections until
    :meth:`activate`.
    """

    def __init__(self, *, listening: bool = True, tls: ssl.SSLContext | None = None) -> None:
        self.requests: list[Seen] = []
        self.received: list[int] = []
        self.script: list[Reply] = []
        self.responder: Responder = self.ack_all
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like a real server
            timeout = 5  # an idle kept-alive client cannot pin the server thread at teardown
            # Buffered: the answer leaves in one write (flushed after each request), not
            # headers then body, which Nagle and delayed ACKs would hold up for 40 ms.
            wbufsize = 64 * 1024

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                gzipped = self.headers.get("Content-Encoding") == "gzip"
                seen = Seen(
                    path=self.path,
                    headers=dict(self.headers.items()),
                    raw=raw,
                    body=gzip.decompress(raw) if gzipped else raw,
                    client=self.client_address,
                )
                stub.requests.append(seen)
                reply = stub.script.pop(0) if stub.script else stub.responder(seen)
                if reply.hang_up:
                    self.close_connection = True
                    return
                if isinstance(reply.body, bytes):
                    payload = reply.body
                else:
                    payload = b"" if reply.body is None else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                if reply.close_silently:
                    self.close_connection = True

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = http.server.HTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
        self._server.server_bind()
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self._thread: threading.Thread | None = None
        if listening:
            self.activate()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def activate(self) -> None:
        """Start listening and serving (the socket queues connections from here on)."""
        self._server.server_activate()
        # A short poll interval keeps shutdown() (and so each test's teardown) quick.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="collector-stub", daemon=True
        )
        self._thread.start()

    def ack_all(self, seen: Seen) -> Reply:
        seqs = seen.seqs
        self.received.extend(seqs)
        return Reply(200, {"accepted_through_seq": max(seqs), "stored": len(seqs)})

    def close(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def __enter__(self) -> CollectorStub:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@pytest.fixture
def stub() -> Iterator[CollectorStub]:
    with CollectorStub() as collector:
        yield collector


def reports(*seqs: int) -> list[bytes]:
    return [encode_report(seq, {"ts": 1763812345.0 + seq, "interval_s": 15.0}) for seq in seqs]


# -- sending -------------------------------------------------------------------


def test_send_posts_gzipped_batch_with_bearer_token_and_returns_ack(stub: CollectorStub) -> None:
    with Sender(stub.url, "agent-secret") as sender:
        assert sender.send(AGENT, reports(1, 2, 3)).accepted_through_seq == 3

    (request,) = stub.requests
    assert request.path == "/api/v1/reports"
    assert request.headers["Authorization"] == "Bearer agent-secret"
    assert request.headers["Content-Encoding"] == "gzip"
    assert request.headers["Content-Type"] == "application/json"
    assert request.raw != request.body  # it really was compressed
    batch = wire.decode_batch(request.body)
    assert batch.agent == AGENT
    assert [r.seq for r in batch.reports] == [1, 2, 3]


def test_request_head_names_host_port_length_and_agent(stub: CollectorStub) -> None:
    # Host with the port: a reverse proxy in front of the collector routes by it.
    with Sender(stub.url, "t") as sender:
        sender.send(AGENT, reports(1))
    headers = stub.requests[0].headers
    assert headers["Host"] == f"127.0.0.1:{stub.port}"
    assert int(headers["Content-Length"]) == len(stub.requests[0].raw)
    assert headers["User-Agent"].startswith("leitstand-agent/")


def test_spooled_report_bytes_are_spliced_into_the_body_unchanged(stub: CollectorStub) -> None:
    bodies = reports(7, 8)
    with Sender(stub.url, "t") as sender:
        sender.send(AGENT, bodies)
    assert b"[" + b",".join(bodies) + b"]" in stub.requests[0].body


def test_collector_url_prefix_is_kept(stub: CollectorStub) -> None:
    with Sender(stub.url + "/leitstand/", "t") as sender:
        sender.send(AGENT, reports(1))
    assert stub.requests[0].path == "/leitstand/api/v1/reports"


def test_keep_alive_reuses_one_connection(stub: CollectorStub) -> None:
    with Sender(stub.url, "t") as sender:
        sender.send(AGENT, reports(1))
        sender.send(AGENT, reports(2))
    first, second = stub.requests
    assert first.client == second.client  # same client port: same TCP connection


def test_connection_closed_by_server_while_idle_is_retried_once(
    stub: CollectorStub, caplog: pytest.LogCaptureFixture
) -> None:
    stub.script.append(Reply(200, {"accepted_through_seq": 1}, close_silently=True))
    with Sender(stub.url, "t") as sender, caplog.at_level("DEBUG", logger="leitstand.agent"):
        assert sender.send(AGENT, reports(1)).accepted_through_seq == 1
        assert sender.send(AGENT, reports(2)).accepted_through_seq == 2  # the kept-alive socket is dead by now
    assert any("reconnecting" in r.getMessage() for r in caplog.records)
    assert [r.seqs for r in stub.requests] == [[1], [2]]
    assert stub.requests[0].client != stub.requests[1].client


def test_connection_dropped_without_answer_on_reuse_is_resent_once_on_a_fresh_one(stub: CollectorStub) -> None:
    # The race the staleness check cannot see: the socket looked open, the server
    # closed it on reading the request. The resend is safe because a seq counts once.
    stub.script += [Reply(200, {"accepted_through_seq": 1}), Reply(hang_up=True)]
    with Sender(stub.url, "t") as sender:
        sender.send(AGENT, reports(1))
        assert sender.send(AGENT, reports(2)).accepted_through_seq == 2
    assert [r.seqs for r in stub.requests] == [[1], [2], [2]]
    assert stub.requests[1].client == stub.requests[0].client != stub.requests[2].client


def test_connection_dropped_without_answer_on_a_fresh_connection_is_a_transport_error(stub: CollectorStub) -> None:
    stub.script.append(Reply(hang_up=True))
    with Sender(stub.url, "t") as sender, pytest.raises(TransportError, match="connection lost"):
        sender.send(AGENT, reports(1))
    assert len(stub.requests) == 1  # not resent: nothing says a fresh connection would fare better


def test_an_oversized_answer_is_cut_off_and_the_connection_dropped(stub: CollectorStub) -> None:
    stub.script += [
        Reply(502, b"<html>" + b"x" * (2 * 1024 * 1024) + b"</html>"),
        Reply(200, {"accepted_through_seq": 2}),
    ]
    with Sender(stub.url, "t") as sender:
        with pytest.raises(TransportError, match="HTTP 502 <html>xxx"):
            sender.send(AGENT, reports(1))
        sender.send(AGENT, reports(2))
    assert stub.requests[0].client != stub.requests[1].client


def test_an_answer_that_is_not_http_is_a_transport_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        url = f"http://127.0.0.1:{server.getsockname()[1]}"

        def answer_garbage() -> None:
            conn, _ = server.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")

        thread = threading.Thread(target=answer_garbage, daemon=True)
        thread.start()
        with Sender(url, "t", timeout=5) as sender, pytest.raises(TransportError, match=url):
            sender.send(AGENT, reports(1))
        thread.join(5)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_error_is_a_transport_error_to_retry(stub: CollectorStub, status: int) -> None:
    stub.script.append(Reply(status, {"error": "database is locked"}))
    with Sender(stub.url, "t") as sender, pytest.raises(TransportError) as caught:
        sender.send(AGENT, reports(1))
    assert caught.value.status == status
    assert not isinstance(caught.value, RejectedError | RateLimited)


def test_429_is_rate_limited_with_retry_after_seconds(stub: CollectorStub) -> None:
    stub.script.append(Reply(429, {"error": "slow down"}, headers={"Retry-After": "7"}))
    with Sender(stub.url, "t") as sender, pytest.raises(RateLimited) as caught:
        sender.send(AGENT, reports(1))
    assert caught.value.retry_after == 7.0
    assert isinstance(caught.value, TransportError)  # retry later, keep spooled


def test_429_with_http_date_retry_after(stub: CollectorStub) -> None:
    when = email.utils.formatdate(time.time() + 120, usegmt=True)
    stub.script.append(Reply(429, None, headers={"Retry-After": when}))
    with Sender(stub.url, "t") as sender, pytest.raises(RateLimited) as caught:
        sender.send(AGENT, reports(1))
    assert caught.value.retry_after is not None
    assert 100 < caught.value.retry_after <= 121


def test_400_is_rejected_with_the_collectors_error_body(stub: CollectorStub) -> None:
    error = {"error": "invalid report batch", "detail": ["Expected `float` <= 100 - at `$.reports[0].cpu.percent`"]}
    stub.script.append(Reply(400, error))
    with Sender(stub.url, "t") as sender, pytest.raises(RejectedError) as caught:
        sender.send(AGENT, reports(1))
    exc = caught.value
    assert not isinstance(exc, TransportError | AuthError)
    assert exc.status == 400
    assert exc.error == "invalid report batch"
    assert exc.detail == error["detail"]
    assert "cpu.percent" in str(exc)


@pytest.mark.parametrize("status", [401, 403])
def test_401_and_403_are_auth_errors(stub: CollectorStub, status: int) -> None:
    stub.script.append(Reply(status, {"error": "unknown token"}))
    with Sender(stub.url, "t") as sender, pytest.raises(AuthError) as caught:
        sender.send(AGENT, reports(1))
    assert caught.value.status == status
    assert isinstance(caught.value, RejectedError)


def test_413_is_payload_too_large(stub: CollectorStub) -> None:
    stub.script.append(Reply(413, {"error": "body too large"}))
    with Sender(stub.url, "t") as sender, pytest.raises(PayloadTooLarge):
        sender.send(AGENT, reports(1))


@pytest.mark.parametrize("status", [400, 413, 422])
def test_refusals_of_the_batch_are_told_apart(stub: CollectorStub, status: int) -> None:
    stub.script.append(Reply(status, {"error": "refused", "detail": ["$.reports[3].ts: too old"]}))
    with Sender(stub.url, "t") as sender, pytest.raises(BatchRefused) as caught:
        sender.send(AGENT, reports(1))
    assert caught.value.status == status
    assert not caught.value.about_agent_header
    assert collector_says(caught.value) == "refused: $.reports[3].ts: too old"


@pytest.mark.parametrize(
    ("detail", "expected"),
    [
        (["Expected `str` of length <= 128 - at `$.agent.hostname`"], True),
        (["$.agent.boot_time lies in the future"], True),
        (["$.agent.boot_time lies in the future", "$.reports[0].ts: seq 1 is stamped before 2026-11-01"], False),
        (["Expected `int` - at `$.reports[0].seq`"], False),
        ([], False),  # no path named: a report is the likelier culprit
    ],
)
def test_a_refusal_that_names_only_the_agent_header(stub: CollectorStub, detail: list[str], expected: bool) -> None:
    stub.script.append(Reply(400, {"error": "invalid report batch", "detail": detail}))
    with Sender(stub.url, "t") as sender, pytest.raises(BatchRefused) as caught:
        sender.send(AGENT, reports(1))
    assert caught.value.about_agent_header is expected


def test_a_500_keeps_the_collectors_words_for_a_dead_letter(stub: CollectorStub) -> None:
    stub.script.append(Reply(500, {"error": "internal error", "detail": ["OverflowError", "in metering"]}))
    with Sender(stub.url, "t") as sender, pytest.raises(TransportError) as caught:
        sender.send(AGENT, reports(1))
    assert caught.value.status == 500
    assert not isinstance(caught.value, RejectedError)
    assert collector_says(caught.value) == "internal error: OverflowError\nin metering"
    assert stub.url in str(caught.value)  # the log line still says where


def test_ack_carries_what_the_collector_refused_or_ignored(stub: CollectorStub) -> None:
    stub.script.append(
        Reply(200, {"accepted_through_seq": 1, "refused": ["device ups-1: tenant b"], "unknown_fields": ["x.y"]})
    )
    with Sender(stub.url, "t") as sender:
        ack = sender.send(AGENT, reports(1))
    assert (ack.accepted_through_seq, ack.refused, ack.unknown_fields) == (1, ["device ups-1: tenant b"], ["x.y"])


def test_redirect_is_rejected_not_followed(stub: CollectorStub) -> None:
    stub.script.append(Reply(301, None, headers={"Location": "https://elsewhere.example/api/v1/reports"}))
    with Sender(stub.url, "t") as sender, pytest.raises(RejectedError, match=r"elsewhere\.example"):
        sender.send(AGENT, reports(1))
    assert len(stub.requests) == 1


def test_success_without_acknowledgement_is_a_protocol_error(stub: CollectorStub) -> None:
    stub.script.append(Reply(200, b"<html>captive portal</html>"))
    with Sender(stub.url, "t") as sender, pytest.raises(ProtocolError, match="captive portal"):
        sender.send(AGENT, reports(1))


def test_connection_refused_is_a_transport_error() -> None:
    with CollectorStub(listening=False) as down, Sender(down.url, "t") as sender:
        with pytest.raises(TransportError) as caught:
            sender.send(AGENT, reports(1))
        assert caught.value.status is None


def test_no_answer_within_timeout_is_a_transport_error() -> None:
    # Listening but never accepting: the TCP handshake completes, the answer never comes.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with Sender(url, "t", timeout=0.2) as sender, pytest.raises(TransportError, match="no answer within"):
            sender.send(AGENT, reports(1))


def test_empty_batch_is_a_caller_bug(stub: CollectorStub) -> None:
    with Sender(stub.url, "t") as sender, pytest.raises(ValueError):
        sender.send(AGENT, [])
    assert stub.requests == []


def test_plain_http_to_a_remote_host_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="leitstand.agent"):
        Sender("http://collector.kreis.example", "t").close()
        Sender("http://127.0.0.1:9", "t").close()
    warnings = [r for r in caplog.records if "unencrypted" in r.getMessage()]
    assert len(warnings) == 1


# -- TLS -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command (Debian package openssl)")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def tls_stub(certificate: tuple[Path, Path]) -> Iterator[CollectorStub]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    with CollectorStub(tls=context) as collector:
        yield collector


def test_https_with_custom_ca_bundle(tls_stub: CollectorStub, certificate: tuple[Path, Path]) -> None:
    url = f"https://127.0.0.1:{tls_stub.port}"
    with Sender(url, "t", ca_bundle=certificate[0]) as sender:
        assert sender.send(AGENT, reports(1)).accepted_through_seq == 1


def test_https_with_untrusted_certificate_is_a_transport_error(tls_stub: CollectorStub) -> None:
    url = f"https://127.0.0.1:{tls_stub.port}"
    with Sender(url, "t") as sender, pytest.raises(TransportError, match="TLS"):
        sender.send(AGENT, reports(1))
    assert tls_stub.requests == []


# -- enrollment ----------------------------------------------------------------


def test_enroll_trades_the_enroll_token_for_an_agent_token(stub: CollectorStub) -> None:
    stub.script.append(Reply(200, {"token": "agent-token-123"}))
    token = enroll(stub.url, "enroll-secret", "agent-1", "rathaus-tc-017")
    assert token == "agent-token-123"
    (request,) = stub.requests
    assert request.path == "/api/v1/enroll"
    assert request.headers["Authorization"] == "Bearer enroll-secret"
    assert json.loads(request.body) == {"agent_id": "agent-1", "hostname": "rathaus-tc-017"}


def test_enroll_with_a_bad_enroll_token_is_an_auth_error(stub: CollectorStub) -> None:
    stub.script.append(Reply(401, {"error": "unknown token"}))
    with pytest.raises(AuthError, match="unknown token"):
        enroll(stub.url, "wrong", "agent-1", "host")


def test_enroll_answer_without_token_is_a_protocol_error(stub: CollectorStub) -> None:
    stub.script.append(Reply(200, {"tokn": "x"}))
    with pytest.raises(ProtocolError):
        enroll(stub.url, "enroll-secret", "agent-1", "host")


# -- Retry-After and backoff ---------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("999999", MAX_RETRY_AFTER),
        ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0),  # in the past: no wait
        ("soon", None),
        ("-5", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_parse_retry_after_http_date_is_relative_to_now() -> None:
    now = 1_800_000_000.0
    header = email.utils.formatdate(now + 90, usegmt=True)
    assert parse_retry_after(header, now=now) == pytest.approx(90.0)


def test_backoff_is_full_jitter_below_an_exponential_ceiling() -> None:
    backoff = Backoff(base=1.0, cap=300.0, rng=random.Random(42))
    delays = [backoff.next_delay() for _ in range(20)]
    ceilings = [min(300.0, 2.0**n) for n in range(20)]
    assert all(0.0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert max(delays) <= 300.0
    assert max(delays[10:]) > 16.0  # it does grow (jitter draws from the whole range)
    assert backoff.attempt == 20


def test_backoff_spreads_a_fleet() -> None:
    # Full jitter: 100 agents failing at the same moment do not retry in the same second.
    first_retries = {round(Backoff(base=1.0, cap=300.0, rng=random.Random(i)).next_delay(), 2) for i in range(100)}
    assert len(first_retries) > 50


def test_backoff_honours_a_floor_and_resets() -> None:
    backoff = Backoff(base=1.0, cap=300.0, rng=random.Random(1))
    assert backoff.next_delay(floor=120.0) >= 120.0
    assert backoff.next_delay(floor=10 * MAX_RETRY_AFTER) == MAX_RETRY_AFTER
    backoff.reset()
    assert backoff.attempt == 0
    assert backoff.next_delay() <= 1.0


def test_backoff_survives_a_very_long_outage() -> None:
    backoff = Backoff(base=1.0, cap=300.0, rng=random.Random(3))
    for _ in range(5000):
        assert 0.0 <= backoff.next_delay() <= 300.0
