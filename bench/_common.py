"""Shared helpers of the benchmark scripts: ports, readiness, processes, sampling, tables.

Standard library plus psutil only, so the scripts run from the project's
virtualenv without extra installs. Everything talks to 127.0.0.1; every loop
has a deadline.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from collector.sim.procs import ManagedProcess, free_port, http_get, http_ok, start_process, wait_ready
from collector.sim.procs import SimError as BenchError

__all__ = [
    "REPO",
    "VENV_BIN",
    "BenchError",
    "ManagedProcess",
    "Profiler",
    "TreeSampler",
    "TreeStats",
    "finish_profiler",
    "free_port",
    "http_get",
    "http_ok",
    "machine_notes",
    "missing_peer",
    "pinned",
    "print_table",
    "profile_summary",
    "scratch_dir",
    "start_process",
    "start_profiler",
    "wait_ready",
]

REPO = Path(__file__).resolve().parent.parent
# The scripts are started as `.venv/bin/python bench/x.py`; console scripts live next to it.
VENV_BIN = Path(sys.executable).parent


def tcp_open(port: int) -> Callable[[], bool]:
    def probe() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True

    return probe


@contextlib.contextmanager
def scratch_dir(prefix: str, *, keep: bool) -> Iterator[Path]:
    """A temporary directory for one benchmark run, removed afterwards unless `keep`."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        if keep:
            print(f"kept {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


def pinned(core: int, argv: Sequence[str]) -> list[str]:
    """`argv` prefixed with `taskset -c core` when taskset exists and the core does."""
    taskset = shutil.which("taskset")
    if taskset and core < (os.cpu_count() or 1):
        return [taskset, "-c", str(core), *argv]
    return list(argv)


def missing_peer(binary: str, package: str) -> str | None:
    """None when `binary` is on PATH (or in /usr/sbin), else the row text."""
    if shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/sbin:/usr/local/sbin"):
        return None
    return f"not installed (apt-get install {package})"


def peer_path(binary: str) -> str | None:
    return shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/sbin:/usr/local/sbin")


@contextlib.contextmanager
def running(processes: list[ManagedProcess]) -> Iterator[list[ManagedProcess]]:
    """Stops every process in the (growing) list on exit, whatever happened."""
    try:
        yield processes
    finally:
        for process in reversed(processes):
            process.stop()


# --- resource sampling --------------------------------------------------------


def _cpu_seconds(proc: psutil.Process) -> float:
    """CPU seconds of a live process: its threads' run time plus its reaped children's.

    Run time comes from Linux's /proc/PID/task/TID/schedstat in nanoseconds; the
    user/system times of cpu_times() come in 10 ms clock ticks, too coarse for
    agents that use a few hundredths of a second a minute (falls back to them
    where schedstat is missing). Children that exited and were waited for
    (zabbix_agentd runs `who` for system.users.num) are in children_user and
    children_system, so short-lived helpers are counted too.
    """
    times = proc.cpu_times()
    reaped = float(times.children_user + times.children_system)
    try:
        own = 0.0
        for tid in os.listdir(f"/proc/{proc.pid}/task"):
            with open(f"/proc/{proc.pid}/task/{tid}/schedstat") as f:
                own += int(f.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        own = float(times.user + times.system)
    return own + reaped


@dataclass
class TreeStats:
    """What a TreeSampler saw of one process tree during a window."""

    rss_mb: list[float] = field(default_factory=list)
    pss_mb: list[float] = field(default_factory=list)
    uss_mb: list[float] = field(default_factory=list)
    processes: int = 0
    cpu_s: float = 0.0
    wall_s: float = 0.0

    @property
    def rss_median(self) -> float:
        return statistics.median(self.rss_mb) if self.rss_mb else float("nan")

    @property
    def rss_max(self) -> float:
        return max(self.rss_mb) if self.rss_mb else float("nan")

    @property
    def pss_median(self) -> float | None:
        return statistics.median(self.pss_mb) if self.pss_mb else None

    @property
    def uss_median(self) -> float | None:
        return statistics.median(self.uss_mb) if self.uss_mb else None

    @property
    def cpu_s_per_min(self) -> float:
        return 60.0 * self.cpu_s / self.wall_s if self.wall_s > 0 else float("nan")


class TreeSampler:
    """Samples RSS/PSS (summed over a process and its descendants) and CPU time.

    CPU time is the difference of two snapshots of the tree's CPU seconds
    (see _cpu_seconds), at the start and at the end of the window; a thread
    that exits inside a live process takes its run time with it (none of the
    measured daemons churns threads). RSS over a tree
    double-counts shared pages (zabbix_agentd forks 5 processes), so PSS
    (shared pages divided among their users) and USS (pages of this tree
    alone) are recorded too where the kernel provides smaps_rollup.
    """

    def __init__(self, pid: int, *, interval_s: float = 1.0, pss: bool = True) -> None:
        self._root = psutil.Process(pid)
        self._interval_s = interval_s
        self._want_pss = pss
        self._cpu_base = 0.0
        self._cpu_last = 0.0
        self._lock = threading.Lock()
        self._stats: TreeStats | None = None
        self._started = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _tree(self) -> list[psutil.Process]:
        try:
            return [self._root, *self._root.children(recursive=True)]
        except psutil.Error:
            return []

    def _sample(self) -> None:
        rss = pss = uss = 0
        pss_ok = self._want_pss
        procs = self._tree()
        if procs:
            self._cpu_last = self._cpu_snapshot()
        for proc in procs:
            try:
                with proc.oneshot():
                    if pss_ok:
                        try:
                            full = proc.memory_full_info()
                            rss += full.rss
                            pss += getattr(full, "pss", 0)
                            uss += getattr(full, "uss", 0)
                        except (psutil.AccessDenied, AttributeError):
                            pss_ok = False
                            rss += proc.memory_info().rss
                    else:
                        rss += proc.memory_info().rss
            except psutil.Error:
                continue
        with self._lock:
            if self._stats is not None and procs:
                self._stats.rss_mb.append(rss / 1e6)
                if pss_ok:
                    self._stats.pss_mb.append(pss / 1e6)
                    self._stats.uss_mb.append(uss / 1e6)
                self._stats.processes = max(self._stats.processes, len(procs))

    def _cpu_snapshot(self) -> float:
        total = 0.0
        for proc in self._tree():
            with contextlib.suppress(psutil.Error):
                total += _cpu_seconds(proc)
        return total

    def start_window(self) -> None:
        """Begin measuring: resets samples, takes the CPU baseline, starts the thread."""
        base = self._cpu_snapshot()
        with self._lock:
            self._cpu_base = self._cpu_last = base
            self._stats = TreeStats()
            self._started = time.monotonic()
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="tree-sampler", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self._sample()
            next_at += self._interval_s
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def finish(self) -> TreeStats:
        """Stop sampling and return the window's statistics."""
        # A root that already exited has no CPU to read any more: its last sample stands.
        cpu_end = self._cpu_snapshot() if self._root.is_running() else self._cpu_last
        self._sample()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None
        with self._lock:
            stats = self._stats or TreeStats()
            stats.wall_s = time.monotonic() - self._started
            stats.cpu_s = cpu_end - self._cpu_base
            self._stats = None
        return stats


# --- output -------------------------------------------------------------------


def fmt(value: float | int | str | None, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return f"{value:,}"
    if value != value:  # NaN
        return "—"
    return f"{value:,.{digits}f}"


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]], *, title: str = "") -> str:
    """Print a Markdown table (aligned, so it reads in a terminal and pastes into README)."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [line(header), "| " + " | ".join("-" * w for w in widths) + " |", *(line(r) for r in rows)]
    text = "\n".join(out)
    if title:
        print(f"\n{title}\n")
    print(text, flush=True)
    return text


def machine_notes() -> str:
    model = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError):
        for raw in Path("/proc/cpuinfo").read_text().splitlines():
            if raw.startswith("model name"):
                model = raw.split(":", 1)[1].strip()
                break
    mem_gib = psutil.virtual_memory().total / 2**30
    kernel = platform.release()
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{now}; nproc {os.cpu_count()}, {model}, {mem_gib:.0f} GiB RAM; "
        f"Linux {kernel}; Python {platform.python_version()}"
    )


# --- py-spy ------------------------------------------------------------------------------


@dataclass
class Profiler:
    process: subprocess.Popen[bytes]
    raw: Path


def start_profiler(pid: int, duration_s: float, raw: Path, *, rate: int = 250, core: int | None = None) -> Profiler:
    """py-spy on a running server for `duration_s`, non-blocking (it reads the
    server's memory without stopping it), optionally pinned to `core`."""
    py_spy = shutil.which("py-spy") or str(VENV_BIN / "py-spy")
    if not Path(py_spy).exists():
        raise BenchError("--profile needs py-spy: .venv/bin/pip install py-spy")
    raw.parent.mkdir(parents=True, exist_ok=True)
    argv = [py_spy, "record", "--pid", str(pid), "--duration", str(max(1, int(duration_s) - 1)), "--nonblocking",
            "--rate", str(rate), "--threads", "--format", "raw", "-o", str(raw)]  # fmt: skip
    if core is not None:
        argv = pinned(core, argv)
    return Profiler(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), raw)


def finish_profiler(profiler: Profiler, name: str, *, top: int = 18, wait_s: float = 30) -> str:
    """Wait for py-spy, then the summary of where the CPU went (or why there is none)."""
    try:
        profiler.process.wait(wait_s)
    except subprocess.TimeoutExpired:
        profiler.process.kill()
        profiler.process.wait()
    if not profiler.raw.exists():
        return f"  py-spy wrote no profile for {name} (exit {profiler.process.returncode})"
    return profile_summary(profiler.raw, name, top)


def profile_summary(raw: Path, name: str, top: int = 18) -> str:
    """Inclusive share of CPU samples per function and per thread, from py-spy's collapsed stacks."""
    inclusive: dict[str, int] = {}
    threads: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        thread = frames[0]
        threads[thread] = threads.get(thread, 0) + count
        for frame in set(frames[1:]):
            inclusive[frame] = inclusive.get(frame, 0) + count
    if not total:
        return f"  py-spy: no samples for {name}"
    lines = [f"\n  where the server's CPU went ({name}; py-spy, {total} samples, share of busy samples):"]
    for thread, count in sorted(threads.items(), key=lambda kv: -kv[1]):
        lines.append(f"    {100 * count / total:5.1f} %  {thread}")
    for frame, count in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"    {100 * count / total:5.1f} %  {frame}")
    lines.append(f"  collapsed stacks: {raw} (flamegraph.pl or speedscope.app read them)")
    return "\n".join(lines)
