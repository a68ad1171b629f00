"""Suite-wide isolation: no test reads the developer's config or data."""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _isolated_xdg(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    home = tmp_path_factory.mktemp("home")
    for var, sub in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_STATE_HOME", "state"),
        ("XDG_CACHE_HOME", "cache"),
    ):
        monkeypatch.setenv(var, str(Path(home) / sub))
    for var in list(os.environ):
        if var.startswith("LEITSTAND_"):
            monkeypatch.delenv(var)
    yield


# --- PostgreSQL -------------------------------------------------------------
# `postgres_server` is a real PostgreSQL from Debian's package, one per test
# session. With LEITSTAND_TEST_BACKEND=postgres, every in-process test that
# opens a SQLite path through collector.db.connect gets a PostgreSQL database
# instead (one per path), so the whole store suite runs on both backends.

_BACKEND = os.environ.get("LEITSTAND_TEST_BACKEND", "sqlite")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    from tests.pg_server import PostgresUnavailable, postgres_server

    try:
        with postgres_server(fsync=False) as server:
            yield server
    except PostgresUnavailable as exc:
        message = f"{exc} (make system-deps)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def postgres_url(postgres_server: Any) -> str:
    """A fresh, empty database on the session's server."""
    return str(postgres_server.create_database(f"t{next(_databases)}"))


_databases = itertools.count(1)


@pytest.fixture(autouse=True)
def _store_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    if _BACKEND != "postgres" or request.node.get_closest_marker("sqlite_only"):
        yield
        return
    import collector.db

    server = request.getfixturevalue("postgres_server")
    original = collector.db.connect
    urls: dict[str, str] = {}

    def connect(target: Any, **kw: Any) -> Any:
        if collector.db.is_postgres(target):
            return original(target, **kw)
        key = str(target) if str(target) == ":memory:" else str(Path(target).resolve())
        if key not in urls or key == ":memory:":
            urls[key] = server.create_database(f"t{next(_databases)}")
        conn = original(urls[key], **kw)
        opened.append(conn)
        return conn

    opened: list[Any] = []

    for name, module in list(sys.modules.items()):
        if (name.startswith(("collector", "tests", "bench")) or name == "collector") and getattr(
            module, "connect", None
        ) is original:
            monkeypatch.setattr(module, "connect", connect)
    yield
    # SQLite forgives a connection a test never closed; psycopg warns (-W error).
    for conn in opened:
        conn.close()
