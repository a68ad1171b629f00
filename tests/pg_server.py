"""A throwaway PostgreSQL server from Debian's `postgresql` package, for tests and benchmarks.

`initdb` a fresh cluster in a temporary directory, start `postgres` on a free
loopback port with trust authentication, hand out databases, and remove it all
on exit. Running as root (CI containers), the server runs as the `postgres`
user that the Debian package creates, since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PostgresServer", "PostgresUnavailable", "find_bindir", "postgres_server"]

PACKAGE = "postgresql"


class PostgresUnavailable(RuntimeError):
    """The server binaries are missing (install the Debian package `postgresql`)."""


def find_bindir() -> Path | None:
    """Debian keeps the server binaries off PATH, under /usr/lib/postgresql/<major>/bin."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_major, reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _major(path: str) -> int:
    try:
        return int(Path(path).parent.parent.name)
    except ValueError:
        return 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    bindir: Path
    datadir: Path
    port: int
    user: str = "postgres"
    process: subprocess.Popen[bytes] | None = None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database; returns its URL."""
        self.psql("postgres", f'CREATE DATABASE "{name}"')
        return self.url(name)

    def psql(self, database: str, sql: str) -> str:
        out = subprocess.run(
            ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql, self.url(database)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if out.returncode != 0:
            raise RuntimeError(f"psql failed: {out.stderr.strip()}")
        return out.stdout

    def ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                pass
        except OSError:
            return False
        probe = subprocess.run(
            [str(self.bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
            capture_output=True,
            timeout=10,
        )
        return probe.returncode == 0


def _as_postgres(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", "postgres", "--", *argv]


@contextlib.contextmanager
def postgres_server(*, fsync: bool = True, extra: dict[str, str] | None = None) -> Iterator[PostgresServer]:
    """Start a private PostgreSQL; raises PostgresUnavailable when it is not installed."""
    bindir = find_bindir()
    if bindir is None:
        raise PostgresUnavailable(f"PostgreSQL server not found: install the Debian package {PACKAGE}")
    if os.geteuid() == 0:
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError as exc:
            raise PostgresUnavailable("running as root but there is no `postgres` user to run the server") from exc
    root = Path(tempfile.mkdtemp(prefix="leitstand-pg-"))
    root.chmod(0o755)
    datadir = root / "data"
    datadir.mkdir()
    if os.geteuid() == 0:
        os.chown(root, pw.pw_uid, pw.pw_gid)
        os.chown(datadir, pw.pw_uid, pw.pw_gid)
    server = PostgresServer(bindir=bindir, datadir=datadir, port=_free_port())
    log = None
    try:
        init = subprocess.run(
            _as_postgres(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(datadir),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ]
            ),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if init.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {init.stderr.strip()[-500:]}")
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(server.port),
            "unix_socket_directories": str(root),
            "fsync": "on" if fsync else "off",
            "max_connections": "200",
            "shared_buffers": "128MB",
            **(extra or {}),
        }
        argv = [str(bindir / "postgres"), "-D", str(datadir)]
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        log = (root / "server.log").open("wb")  # closed in finally
        server.process = subprocess.Popen(_as_postgres(argv), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        delay = 0.02
        while not server.ready():
            if server.process.poll() is not None or time.monotonic() > deadline:
                tail = (root / "server.log").read_text(errors="replace")[-800:]
                raise PostgresUnavailable(f"postgres did not start: {tail}")
            time.sleep(delay)  # polling interval with a deadline
            delay = min(delay * 2, 0.2)
        yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            server.process.terminate()  # SIGTERM: smart shutdown
            try:
                server.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait()
        if log is not None:
            log.close()
        shutil.rmtree(root, ignore_errors=True)
