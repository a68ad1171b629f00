"""The agent's numbers agree with node_exporter's on the same host.

Billing and dashboards mix the two (Grafana users know node_exporter's figures), so a
systematic difference would be a billing error. Reads happen node, agent, node: a
counter read by the agent must lie between node_exporter's two readings.

Needs the Debian package ``prometheus-node-exporter``; skipped without it, except in CI
(CI=true), where a missing peer must fail rather than pass silently.
"""

from __future__ import annotations

import math
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from agent import wire
from agent.sampling import Sampler
from agent.sampling.disks import PSEUDO_FSTYPES
from agent.textfile import parse_exposition

pytestmark = pytest.mark.slow

BINARY = "prometheus-node-exporter"
COLLECTORS = ("cpu", "filesystem", "meminfo", "netdev", "stat")
START_DEADLINE_S = 20.0
MEMORY_TOLERANCE = 0.02  # of total memory: other processes allocate between the reads
DISK_TOLERANCE = 0.005  # of filesystem size: something may write between the reads

Metrics = dict[tuple[str, frozenset[tuple[str, str]]], float]


def require_node_exporter() -> str:
    path = shutil.which(BINARY)
    if path is None:
        message = (
            f"{BINARY} is not on PATH; install the Debian package `prometheus-node-exporter` "
            "(`make system-deps`) to compare the agent with node_exporter"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# Never go through a proxy from the environment to reach our own child process.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def fetch(url: str) -> str:
    with _opener.open(url, timeout=5) as response:
        body: bytes = response.read()
    return body.decode("utf-8")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def start_node_exporter(binary: str, log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start it on a free port and return once /metrics answers."""
    for _attempt in range(3):
        port = free_port()
        url = f"http://127.0.0.1:{port}/metrics"
        command = [
            binary,
            f"--web.listen-address=127.0.0.1:{port}",
            "--collector.disable-defaults",
            *(f"--collector.{name}" for name in COLLECTORS),
        ]
        with log_path.open("ab") as log:
            proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_DEADLINE_S
        while time.monotonic() < deadline:
            try:
                fetch(url)
            except (urllib.error.URLError, ConnectionError):
                pass
            else:
                return proc, url
            # Waiting on the process both paces the polling and notices a crash at once.
            try:
                proc.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                continue
            break
        if proc.poll() is None:
            stop(proc)
            pytest.fail(f"node_exporter did not answer within {START_DEADLINE_S}s:\n{log_path.read_text()}")
        if "address already in use" not in log_path.read_text():
            pytest.fail(f"node_exporter exited with {proc.returncode}:\n{log_path.read_text()}")
        # Someone took the port between free_port() and the bind: try another one.
    pytest.fail(f"node_exporter found no free port in 3 attempts:\n{log_path.read_text()}")


@pytest.fixture(scope="module")
def node_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = require_node_exporter()
    proc, url = start_node_exporter(binary, tmp_path_factory.mktemp("node-exporter") / "output.log")
    try:
        yield url
    finally:
        stop(proc)


def scrape(url: str) -> Metrics:
    # prometheus_client's parser, not ours: the comparison must not trust the code under test.
    metrics: Metrics = {}
    for family in text_string_to_metric_families(fetch(url)):
        for s in family.samples:
            metrics[(s.name, frozenset(s.labels.items()))] = s.value
    return metrics


def series(metrics: Metrics, name: str, label: str) -> dict[str, float]:
    """{label value: sample value} of every sample of ``name``."""
    return {dict(labels)[label]: value for (n, labels), value in metrics.items() if n == name}


def scalar(metrics: Metrics, name: str) -> float:
    return metrics[(name, frozenset())]


class Readings(NamedTuple):
    before: Metrics
    agent: dict[str, Any]
    after: Metrics


@pytest.fixture(scope="module")
def readings(node_url: str) -> Readings:
    sampler = Sampler(psutil, role="server")
    before = scrape(node_url)
    agent = sampler.sample(60)
    after = scrape(node_url)
    return Readings(before, agent, after)


def between(value: float, first: float, second: float, slack: float = 0.0) -> bool:
    return min(first, second) - slack <= value <= max(first, second) + slack


def test_memory_total_equal_and_used_within_a_few_percent(readings: Readings) -> None:
    memory = readings.agent["memory"]
    assert isinstance(memory, wire.Memory)
    total = scalar(readings.before, "node_memory_MemTotal_bytes")
    used = [total - scalar(m, "node_memory_MemAvailable_bytes") for m in (readings.before, readings.after)]

    assert memory.total_bytes == total
    assert between(memory.used_bytes, *used, slack=MEMORY_TOLERANCE * total), (memory.used_bytes, used)


def test_every_filesystem_size_equal_and_used_close(readings: Readings) -> None:
    disks = readings.agent["disks"]
    sizes = series(readings.before, "node_filesystem_size_bytes", "mountpoint")
    free = [series(m, "node_filesystem_free_bytes", "mountpoint") for m in (readings.before, readings.after)]
    compared = []
    for disk in disks:
        if disk.mount not in sizes:
            continue  # node_exporter's default excludes (/mnt, /media, /run, ...) hide it
        size = sizes[disk.mount]
        used = [size - f[disk.mount] for f in free]
        assert disk.total_bytes == size, disk
        assert between(disk.used_bytes, *used, slack=DISK_TOLERANCE * size), (disk, used)
        compared.append(disk.mount)

    assert compared, f"no filesystem in common: agent {[d.mount for d in disks]}, node {sorted(sizes)}"


def test_no_real_filesystem_that_node_exporter_sees_is_missing(readings: Readings) -> None:
    agent_mounts = {d.mount for d in readings.agent["disks"]}
    agent_devices = {d.device for d in readings.agent["disks"]}
    missing = [
        (dict(labels)["mountpoint"], dict(labels)["device"])
        for (name, labels), _ in readings.before.items()
        if name == "node_filesystem_size_bytes"
        and dict(labels)["fstype"] not in PSEUDO_FSTYPES
        and dict(labels)["device"].startswith("/dev/")
        and dict(labels)["mountpoint"] not in agent_mounts
        # A second mount of a device the agent already counts (it keeps one per device).
        and os.path.basename(dict(labels)["device"]) not in agent_devices
    ]

    assert missing == []


def test_nic_counters_lie_between_two_node_readings(readings: Readings) -> None:
    nics = {n.nic: n for n in readings.agent["net"]}
    pairs = {
        "rx_bytes_total": "node_network_receive_bytes_total",
        "tx_bytes_total": "node_network_transmit_bytes_total",
        "rx_errors_total": "node_network_receive_errs_total",
        "tx_errors_total": "node_network_transmit_errs_total",
    }
    node_nics = set(series(readings.before, "node_network_receive_bytes_total", "device"))

    assert set(nics) == node_nics - {"lo"}
    for field, metric in pairs.items():
        first = series(readings.before, metric, "device")
        second = series(readings.after, metric, "device")
        for name, nic in nics.items():
            assert first[name] <= second[name], f"{metric}{{device={name}}} went backwards"
            assert between(getattr(nic, field), first[name], second[name]), (name, field, nic, first, second)


def node_busy_seconds(metrics: Metrics) -> float:
    busy_modes = {"user", "nice", "system", "irq", "softirq", "steal"}
    return sum(
        value
        for (name, labels), value in metrics.items()
        if name == "node_cpu_seconds_total" and dict(labels)["mode"] in busy_modes
    )


def test_cpu_busy_seconds_lie_between_two_node_readings(readings: Readings) -> None:
    cpu = readings.agent["cpu"]
    assert isinstance(cpu, wire.Cpu)
    count = len(series(readings.before, "node_cpu_seconds_total", "cpu"))
    # node_exporter sums per-CPU lines of /proc/stat, psutil reads the total line; each
    # per-CPU column is rounded down to a tick (10 ms), so allow a tick per column.
    slack = count * 8 * 0.01

    assert cpu.count == count
    assert between(cpu.busy_seconds_total, node_busy_seconds(readings.before), node_busy_seconds(readings.after), slack)


def test_boot_time_equal(readings: Readings) -> None:
    info = Sampler(psutil, role="server").agent_info("probe", "0")

    assert abs(info.boot_time - scalar(readings.before, "node_boot_time_seconds")) <= 1.0


def test_our_parser_reads_node_exporter_output_like_prometheus_client(node_url: str) -> None:
    text = fetch(node_url)
    theirs = {
        (s.name, frozenset(s.labels.items()), s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if math.isfinite(s.value)
    }

    result = parse_exposition(text)
    ours = {(s.name, frozenset(s.labels.items()), s.value) for s in result.samples}

    assert len(ours) > 50
    assert ours == theirs


def test_missing_binary_skips_locally_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)

    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="Debian package `prometheus-node-exporter`"):
        require_node_exporter()

    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="Debian package `prometheus-node-exporter`"):
        require_node_exporter()
