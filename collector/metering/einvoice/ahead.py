"""E-invoices of many tenants rendered ahead, in worker processes.

A ZUGFeRD costs some 15 ms of CPU (layout, PDF, the CII XML); for 300
tenants that is most of a month's ``meter export --all``. The
export loop stays as it is, one tenant after the other, each tenant's
invoice number and archive entry in one transaction of the parent: this
only renders, ahead and on every core, the documents the loop is going to
ask for (the caller predicts them), and answers the loop with a rendering
only when the document it asks for equals the one rendered; any other
document is rendered inline. Rendering is a pure function of the document,
so the bytes are the same either way.

The workers start from a fork server that imported the renderers (never
forked from the CLI itself, whose database connection a child must not
inherit: closing a PostgreSQL socket in a child ends the parent's session).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import TracebackType

from .model import EInvoice

__all__ = ["RenderedAhead", "usable_cpus"]

Render = Callable[[EInvoice], bytes]


def usable_cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class RenderedAhead:
    """``render`` of each of ``drafts`` in ``workers`` processes, started now.

    Call it with a document to get its rendering (the worker's, if that
    document was among the drafts); close it (or use it as a context
    manager) to stop the workers and drop what was not asked for."""

    def __init__(self, render: Render, drafts: Iterable[EInvoice], workers: int) -> None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([render.__module__])
        self._render = render
        self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
        self._futures: dict[EInvoice, Future[bytes]] = {}
        for doc in drafts:
            self._futures.setdefault(doc, self._pool.submit(render, doc))

    def __call__(self, doc: EInvoice) -> bytes:
        future = self._futures.pop(doc, None)
        if future is not None:
            try:
                return future.result()
            except BrokenProcessPool:
                pass  # a worker died (killed, out of memory): this one is rendered here
        return self._render(doc)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._futures.clear()

    def __enter__(self) -> RenderedAhead:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()
