"""The server's log records are written by a thread of their own
(collector.server.logged_off_the_loop): every line still arrives, in order,
through the handlers configured before, and those are back afterwards."""

from __future__ import annotations

import logging
import queue
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
