"""Running the app under uvicorn, with the timeouts a server on an open port needs."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import logging.handlers
import queue
import resource
import time
from collections.abc import Iterator
from typing import Any

import uvicorn
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from .app import create_app
from .config import Config, ServerConfig
from .db import Target, describe
from .errors import ConfigError

__all__ = ["HeaderDeadline", "guarded_protocol", "logged_off_the_loop", "parse_listen", "serve", "uvicorn_options"]

log = logging.getLogger("leitstand.collector")


def parse_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"invalid listen address {listen!r}; expected HOST:PORT, e.g. 127.0.0.1:8470")
    return host.strip("[]") or "127.0.0.1", int(port)


class HeaderDeadline(asyncio.Protocol):
    """A deadline for a request's headers, mixed into uvicorn's HTTP protocol.

    uvicorn arms its keep-alive timer only after a response, and any byte
    received cancels it: a connection that never completes its first request
    line and headers (or trickles them a byte at a time, "slowloris") stays open
    for ever and holds a file descriptor. Here the deadline starts when the
    connection is made, or when the first byte of a further request arrives, and
    is not extended by more bytes; a request whose headers are not complete by
    then has its connection closed. The time an app takes to answer is not
    limited: the deadline only runs while no request of the connection is served.
    """

    header_timeout_s: float = 10.0
    _deadline: asyncio.TimerHandle | None = None
    _armed_for: object = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._deadline is None and self._idle():
            self._arm()
        super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        super().connection_lost(exc)

    def _cycle(self) -> object:
        # uvicorn's protocols (httptools and h11) keep the current request's cycle here
        return getattr(self, "cycle", None)

    def _idle(self) -> bool:
        cycle = self._cycle()
        return cycle is None or bool(getattr(cycle, "response_complete", True))

    def _arm(self) -> None:
        self._armed_for = self._cycle()
        self._deadline = asyncio.get_running_loop().call_later(self.header_timeout_s, self._expire)

    def _expire(self) -> None:
        self._deadline = None
        if self._cycle() is not self._armed_for:
            return  # a request's headers arrived in time
        if not self._idle():
            self._arm()  # a pipelined request waits for the one being served
            return
        transport: asyncio.BaseTransport | None = getattr(self, "transport", None)
        if transport is not None and not transport.is_closing():
            log.debug("closed a connection whose request headers took longer than %s s", self.header_timeout_s)
            transport.close()


def guarded_protocol(header_timeout_s: float) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol (httptools, else h11) with a header deadline."""
    return type(
        "GuardedHTTPProtocol", (HeaderDeadline, AutoHTTPProtocol), {"header_timeout_s": float(header_timeout_s)}
    )


def uvicorn_options(server: ServerConfig) -> dict[str, Any]:
    """Keyword arguments of uvicorn.run for the `[server]` section."""
    return {
        "http": guarded_protocol(server.header_timeout_s),
        "timeout_keep_alive": server.keep_alive_timeout_s,
        # beyond this many open connections (or running requests) uvicorn answers 503,
        # which an agent treats as "retry later"; slow-header connections count too,
        # so it is set well above the number a header deadline lets pile up
        "limit_concurrency": server.max_connections,
        "backlog": 2048,
        "log_level": "warning",
        "access_log": False,  # ours: collector/accesslog.py
        "server_header": False,
    }


def _raise_file_limit(connections: int) -> None:
    """Every connection is a file descriptor; the common soft limit of 1024 would
    refuse connections long before `server.max_connections`."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = connections + 256  # the database, logs, the writer's files
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        if new > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        if new < wanted:
            log.warning(
                "open files limited to %s (hard limit), fewer than server.max_connections = %s needs",
                new,
                connections,
            )


def _lean_runtime() -> None:
    """What every request pays for and nobody reads, switched off for the server process.

    Log records: the caller's file and line, thread and process are looked up
    for each record (the access log writes one per request) although the
    collector's log format shows none of them; the switches are the logging
    HOWTO's ("Optimization"). Garbage collection: what start-up built (modules,
    config, routes, caches) is moved out of the collector's sight with
    gc.freeze(), and the youngest generation is collected every 10,000 instead
    of every 700 allocations (the older ones every 10 of those): a request's
    objects die by reference counting. Measured in process (16 requests in flight,
    issue 18): collections cost 46 us of CPU per POST of
    10 reports before, 0.8 us after; 1.0-1.7 us and 0.5-1.2 us for 1 report."""
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


class _HandOver(logging.handlers.QueueHandler):
    """The logging cookbook's QueueHandler without two costs the event loop
    paid per access line (issue 18): the handler's lock around `emit` (the
    queue is thread-safe on its own) and the copy of each record that
    `prepare` makes because it rewrites the record's message. A record
    without arguments, exception or stack (every access line) needs no
    rewriting: the listener's handlers format it as they would have here."""

    def handle(self, record: logging.LogRecord) -> bool:
        admitted = bool(self.filter(record))
        if admitted:
            self.emit(record)
        return admitted

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        if record.args or record.exc_info or record.exc_text or record.stack_info:
            return super().prepare(record)
        return record


class _GatheringListener(logging.handlers.QueueListener):
    """A QueueListener that lets lines gather for `GATHER_S` before it waits
    for the next one, and writes what gathered for a plain StreamHandler
    (stderr) in one write. A put into the queue wakes the listener (a futex
    call on the event loop's thread) only while the listener waits; waking
    it once per request cost the loop more than formatting the line. One
    write per line was a system call per request. Lines reach the handlers
    at most `GATHER_S` later, each handler's in the same order."""

    #: how long lines gather once the queue is empty (each wait for one is a wake-up later)
    GATHER_S = 0.02
    #: records held for one write at most (a queue that never runs empty still gets written)
    MOST_PENDING = 512

    def __init__(self, queue: Any, *handlers: logging.Handler, respect_handler_level: bool = False) -> None:
        super().__init__(queue, *handlers, respect_handler_level=respect_handler_level)
        self._pending: dict[logging.StreamHandler[Any], list[logging.LogRecord]] = {}
        self._held = 0

    def dequeue(self, block: bool) -> logging.LogRecord:
        if block and self.queue.empty():  # type: ignore[attr-defined]
            self._write_pending()
            time.sleep(self.GATHER_S)
        record: logging.LogRecord = super().dequeue(block)
        if record is self._sentinel:  # type: ignore[attr-defined]
            self._write_pending()
        return record

    def handle(self, record: logging.LogRecord) -> None:
        record = self.prepare(record)
        for handler in self.handlers:
            if self.respect_handler_level and record.levelno < handler.level:
                continue
            if isinstance(handler, logging.StreamHandler) and type(handler).emit is logging.StreamHandler.emit:
                self._pending.setdefault(handler, []).append(record)
                self._held += 1
            else:
                handler.handle(record)
        if self._held >= self.MOST_PENDING:
            self._write_pending()

    def _write_pending(self) -> None:
        pending, self._pending, self._held = self._pending, {}, 0
        for handler, records in pending.items():
            _emit_all(handler, records)


def _emit_all(handler: logging.StreamHandler[Any], records: list[logging.LogRecord]) -> None:
    """What `handler.handle` does for each record (filter, format, write,
    flush, handleError), with one write and one flush for all of them."""
    lines = []
    for record in records:
        if not handler.filter(record):
            continue
        try:
            lines.append(handler.format(record) + handler.terminator)
        except RecursionError:
            raise
        except Exception:
            handler.handleError(record)
    if not lines:
        return
    handler.acquire()
    try:
        handler.stream.write("".join(lines))
        handler.flush()
    except RecursionError:
        raise
    except Exception:
        handler.handleError(records[-1])
    finally:
        handler.release()


@contextlib.contextmanager
def logged_off_the_loop() -> Iterator[None]:
    """The root logger's handlers run in a thread of their own while this
    lasts, fed through a queue (the logging cookbook's QueueHandler and
    QueueListener): the event loop only hands each record over. Writing a
    line to stderr gives up the interpreter lock, and taking it back from the
    busy writer thread cost the event loop more than all the rest of the access
    log: 25 us of its CPU per request (batches of 1, issue 18). Lines still
    queued are written when it ends; a killed process loses those."""
    root = logging.getLogger()
    handlers = list(root.handlers)
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    listener = _GatheringListener(records, *handlers, respect_handler_level=True)
    handing_over = _HandOver(records)
    for handler in handlers:
        root.removeHandler(handler)
    root.addHandler(handing_over)
    listener.start()
    try:
        yield
    finally:
        root.removeHandler(handing_over)
        listener.stop()
        for handler in handlers:
            root.addHandler(handler)


def serve(db_path: Target, config: Config, *, listen: str) -> None:
    host, port = parse_listen(listen)
    app = create_app(db_path, config)
    _raise_file_limit(config.server.max_connections)
    _lean_runtime()
    log.info("collector on http://%s:%s, database %s", host, port, describe(db_path))
    with logged_off_the_loop():
        uvicorn.run(app, host=host, port=port, **uvicorn_options(config.server))
