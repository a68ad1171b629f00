"""GET in chunks and GETBULK table walks, the same for both engines. No I/O of its own.

Each engine supplies one coroutine per request kind that sends a PDU and
returns ``(error_status, varbinds)`` (0 = noError, as RFC 3416 numbers them);
the logic of what to ask next and when a column ends lives here once, so the
lean path and the pysnmp path cannot read a table differently.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence

from agent.snmp.values import Snapshot, Val, oid_key

__all__ = ["TOO_BIG", "BulkFetch", "GetFetch", "get_chunked", "walk_columns"]

TOO_BIG = 1
#: (OIDs) -> (error-status, varbinds)
GetFetch = Callable[[Sequence[str]], Awaitable[tuple[int, list[tuple[str, Val]]]]]
#: (start OIDs, max-repetitions) -> (error-status, varbinds)
BulkFetch = Callable[[Sequence[str], int], Awaitable[tuple[int, list[tuple[str, Val]]]]]


async def get_chunked(fetch: GetFetch, oids: Sequence[str], chunk: int = 30) -> dict[str, Val]:
    """GET in chunks; OIDs the device lacks come back as noSuchObject/noSuchInstance."""
    out: dict[str, Val] = {}
    for start in range(0, len(oids), chunk):
        part = oids[start : start + chunk]
        status, binds = await fetch(part)
        if status:
            # An SNMPv1-style error (noSuchName, genErr) or tooBig on one PDU: ask one at a time.
            if len(part) > 1:
                for oid in part:
                    out.update(await get_chunked(fetch, [oid], chunk=1))
                continue
            out[part[0]] = Val("noSuchObject")
            continue
        out.update(binds)
    return out


async def walk_columns(fetch: BulkFetch, columns: Iterable[str], snap: Snapshot, max_rep: int, max_rows: int) -> None:
    """GETBULK-walk ``columns`` together into ``snap.columns``.

    A column ends when the device answers with an OID outside it, with
    endOfMibView, or with an OID that does not increase (a broken agent);
    ``max_rows`` values per column at most, after which the column is marked
    truncated. tooBig halves max-repetitions down to 1.
    """
    pending = {col: col for col in columns}
    for col in pending:
        snap.columns.setdefault(col, {})
    while pending:
        cols = list(pending)[:16]
        status, binds = await fetch([pending[c] for c in cols], max_rep)
        if status:
            if status == TOO_BIG and max_rep > 1:
                max_rep = max(1, max_rep // 2)
                continue
            for col in cols:
                snap.truncated.add(col)
                del pending[col]
            continue
        if not binds:
            for col in cols:
                del pending[col]
            continue
        done: set[str] = set()
        for i, (oid, val) in enumerate(binds):
            col = cols[i % len(cols)]
            if col in done:
                continue
            if val.tag == "endOfMibView" or not oid.startswith(col + "."):
                done.add(col)
                continue
            last = pending[col]
            if last != col and oid_key(oid) <= oid_key(last):
                snap.truncated.add(col)
                done.add(col)
                continue
            rows = snap.columns[col]
            rows[oid[len(col) + 1 :]] = val
            pending[col] = oid
            if len(rows) >= max_rows:
                snap.truncated.add(col)
                done.add(col)
        for col in done:
            pending.pop(col, None)
