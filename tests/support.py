"""Helpers for tests that run real processes: free ports, readiness polling
with a deadline (never a sleep to wait for a server), required tools."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

T = TypeVar("T")

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], T | None], *, timeout: float = 20.0, what: str = "condition") -> T:
    """Poll `check` until it returns something truthy; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        try:
            result = check()
        except OSError:
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(delay)  # polling interval, not a wait for readiness
        delay = min(delay * 2, 0.2)


def require_tool(binary: str, package: str) -> str:
    """Path of a system tool; skip (or, under CI=true, fail) when it is missing."""
    path = shutil.which(binary)
    if path:
        return path
    message = f"{binary} not found: install the Debian package {package} (make system-deps)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def leitstand(name: str) -> str:
    """A console script of this checkout's virtual environment."""
    return str(BIN / name)


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=60)


def stop_process(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, *, timeout: float = 30) -> int:
    """Ask a process to stop with `sig`; kill it if it has not after `timeout`. Its exit status."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    return int(proc.returncode)
