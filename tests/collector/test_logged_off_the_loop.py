"""The server's log records are written by a thread of their own
(collector.server.logged_off_the_loop): every line still arrives, in order,
through the handlers configured before, and those are back afterwards."""

from __future__ import annotations

import io
import logging
import queue
import sys
import threading

from collector.server import logged_off_the_loop


class Collecting(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.lines: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((threading.current_thread().name, self.format(record)))


def test_every_record_reaches_the_handlers_from_another_thread_and_they_are_restored() -> None:
    root = logging.getLogger()
    handler = Collecting()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    before = list(root.handlers)
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.DEBUG)
    try:
        with logged_off_the_loop():
            assert handler not in root.handlers  # the queue's handler instead
            log = logging.getLogger("leitstand.collector.access")
            for i in range(200):
                log.info("method=POST status=%s", 200 + i % 2)
            log.debug("below the handler's level")
            try:
                raise ValueError("boom")
            except ValueError:
                logging.getLogger("leitstand.collector.api").exception("crashed")
        # written when it ended, by the listener's thread, in order
        assert [line for _, line in handler.lines[:200]] == [
            f"INFO leitstand.collector.access: method=POST status={200 + i % 2}" for i in range(200)
        ]
        assert handler.lines[200][1].startswith("ERROR leitstand.collector.api: crashed\nTraceback")
        assert "ValueError: boom" in handler.lines[200][1]
        assert len(handler.lines) == 201
        assert {name for name, _ in handler.lines} != {threading.current_thread().name}
        assert root.handlers == [*before, handler]
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_a_record_without_arguments_is_handed_over_as_it_is() -> None:
    # no copy, no rewriting: the listener's handlers format the record itself
    from collector.server import _HandOver

    handing_over = _HandOver(queue.SimpleQueue())
    plain = logging.LogRecord("leitstand.collector.access", logging.INFO, "", 0, "method=POST status=200", None, None)
    assert handing_over.prepare(plain) is plain
    with_args = logging.LogRecord("x", logging.INFO, "", 0, "status=%s", (200,), None)
    prepared = handing_over.prepare(with_args)
    assert prepared is not with_args
    assert (prepared.msg, prepared.args, with_args.args) == ("status=200", None, (200,))


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def test_a_stream_handler_gets_the_gathered_lines_in_one_write_as_it_would_have_written_them() -> None:
    root = logging.getLogger()
    fmt = logging.Formatter("%(levelname)s %(name)s: %(message)s")
    gathered, direct = CountingStream(), CountingStream()
    handler = logging.StreamHandler(gathered)
    handler.setFormatter(fmt)
    handler.setLevel(logging.INFO)
    per_record = Collecting()  # not a plain StreamHandler: handed each record as before
    per_record.setFormatter(fmt)
    before, level = list(root.handlers), root.level
    root.addHandler(handler)
    root.addHandler(per_record)
    root.setLevel(logging.DEBUG)
    log = logging.getLogger("leitstand.collector.access")
    try:
        raise ValueError("boom")
    except ValueError:
        crash = sys.exc_info()
    try:
        with logged_off_the_loop():
            for i in range(300):
                log.info("method=POST status=%s", 200 + i % 2)
                log.debug("below the handler's level")
                if i == 150:
                    logging.getLogger("leitstand.collector.api").error("crashed", exc_info=crash)
    finally:
        root.removeHandler(handler)
        root.removeHandler(per_record)
        root.setLevel(level)
    assert root.handlers == before
    # what a StreamHandler on its own writes for the same records, one write each
    alone = logging.StreamHandler(direct)
    alone.setFormatter(fmt)
    alone.setLevel(logging.INFO)
    for i in range(300):
        alone.handle(log.makeRecord(log.name, logging.INFO, "", 0, "method=POST status=%s", (200 + i % 2,), None))
        if i == 150:
            alone.handle(log.makeRecord("leitstand.collector.api", logging.ERROR, "", 0, "crashed", None, crash))
    assert gathered.getvalue() == direct.getvalue()
    assert gathered.getvalue().count("\n") > 301 and "ValueError: boom" in gathered.getvalue()
    assert gathered.writes < 30  # gathered, not one write per line
    assert len(per_record.lines) == 301
