"""Processes the simulator (and the benchmarks built on it) start: free ports, readiness
polling with a deadline, child processes whose output goes to a log file.

Standard library plus psutil; everything talks to 127.0.0.1 and every loop has a deadline.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

__all__ = [
    "ManagedProcess",
    "SimError",
    "collector_argv",
    "console_script",
    "die_with_parent",
    "free_port",
    "free_udp_port",
    "http_get",
    "http_ok",
    "start_process",
    "wait_ready",
]


class SimError(Exception):
    """The simulation cannot go on; the message says why and what to do."""


def console_script(name: str) -> str | None:
    """The console script `name` of this Python's environment (next to the interpreter),
    else the one on PATH, else None."""
    beside = Path(sys.executable).with_name(name)
    if beside.exists():
        return str(beside)
    return shutil.which(name)


def collector_argv(*args: str) -> list[str]:
    """`leitstand-collector ARGS` as this interpreter runs it: the same code as the simulator's
    (an installed wheel, or the checkout on PYTHONPATH), whatever console scripts are on PATH."""
    return [sys.executable, "-m", "collector.cli", *args]


def free_port(low: int | None = None, high: int | None = None) -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago.

    The kernel picks it, unless a range is given (zabbix_agentd accepts
    ListenPort 1024-32767 only, below Linux's ephemeral range): then random
    ports of the range are tried, a bounded number of times.
    """
    if low is None or high is None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
            return port
    rng = random.Random()
    for _ in range(200):
        candidate = rng.randint(low, high)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return candidate
    raise SimError(f"no free TCP port in {low}-{high} on 127.0.0.1")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(url: str, *, headers: dict[str, str] | None = None, timeout: float = 5.0) -> tuple[int, bytes]:
    """GET a loopback URL; returns (status, body), never raises for HTTP status codes."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def http_ok(url: str) -> Callable[[], bool]:
    def probe() -> bool:
        status, _ = http_get(url, timeout=1.0)
        return status == 200

    return probe


@dataclass
class ManagedProcess:
    """A subprocess the simulator started; its output goes to a log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(f"  | {line}" for line in text.splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM to this process (and the children it started), SIGKILL after `timeout`."""
        if self.popen.poll() is not None:
            return
        try:
            children = psutil.Process(self.popen.pid).children(recursive=True)
        except psutil.Error:
            children = []
        self.popen.terminate()
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout)
        for child in children:
            with contextlib.suppress(psutil.Error):
                child.terminate()
        _gone, alive = psutil.wait_procs(children, timeout=timeout)
        for child in alive:
            with contextlib.suppress(psutil.Error):
                child.kill()


def start_process(
    name: str,
    argv: Sequence[str],
    *,
    log_dir: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> ManagedProcess:
    log_path = log_dir / f"{name.replace(' ', '_')}.log"
    log_file = log_path.open("wb")
    try:
        popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
        )
    except OSError as exc:
        raise SimError(f"cannot start {name} ({argv[0]}): {exc}") from exc
    finally:
        log_file.close()
    return ManagedProcess(name=name, popen=popen, log_path=log_path)


def wait_ready(
    probe: Callable[[], bool],
    *,
    deadline_s: float = 20.0,
    what: str = "service",
    process: ManagedProcess | None = None,
    interval_s: float = 0.05,
) -> float:
    """Poll `probe` until it returns True; returns the seconds it took.

    Raises SimError when the deadline passes or `process` exits first (with
    the tail of its log, so the reason is on screen).
    """
    start = time.monotonic()
    deadline = start + deadline_s
    while time.monotonic() < deadline:
        if process is not None and process.popen.poll() is not None:
            raise SimError(f"{what} exited with code {process.popen.returncode} before it was ready\n{process.tail()}")
        with contextlib.suppress(OSError, ValueError):
            if probe():
                return time.monotonic() - start
        time.sleep(interval_s)  # polling interval
    tail = process.tail() if process is not None else ""
    raise SimError(f"{what} not ready after {deadline_s:.0f} s\n{tail}")


def die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: SIGTERM the child when the simulator dies, so a killed fleet leaves no snmpsim behind."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
