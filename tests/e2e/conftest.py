"""A real collector process on a free port, restartable and killable."""

from __future__ import annotations

import os
import signal
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from collector import admin
from collector.db import connect, migrate
from tests.support import free_port, leitstand, wait_until


class CollectorProcess:
    def __init__(self, db: Path | str, log: Path, config: Path | None = None) -> None:
        # a SQLite file, or a postgresql:// URL
        self.db = db
        self.log = log
        self.config = config
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        argv = [leitstand("leitstand-collector"), "serve", "--db", str(self.db), "--listen", f"127.0.0.1:{self.port}"]
        if self.config is not None:
            argv += ["--config", str(self.config)]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                argv,
                stdout=log,
                stderr=log,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        wait_until(self._healthy, timeout=30, what=f"collector on {self.url}")

    def _healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"collector exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
        with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as resp:
            return bool(resp.status == 200)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def token(self, role: str, tenant: str | None = None) -> str:
        conn = connect(self.db)
        try:
            migrate(conn)
            if tenant and tenant not in {t["name"] for t in admin.list_tenants(conn)}:
                admin.add_tenant(conn, tenant, actor="test")
            return admin.create_token(conn, role, actor="test", tenant=tenant)[1]
        finally:
            conn.close()


@pytest.fixture
def collector_proc(tmp_path: Path) -> Iterator[CollectorProcess]:
    proc = CollectorProcess(tmp_path / "collector.db", tmp_path / "collector.log")
    yield proc
    proc.stop()
