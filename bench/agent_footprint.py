"""Steady-state footprint of `leitstand-agent run` next to node_exporter and the Zabbix agents.

Every agent runs at the same time, each started by this script on free
loopback ports and each doing the same amount of work: the Leitstand agent
samples every `--interval` and sends to a real collector; node_exporter is
scraped by this script at the same interval; zabbix_agentd (and zabbix_agent2
when installed) are polled for a comparable set of items at the same interval
over the Zabbix passive-check protocol. After a warm-up, RSS (and PSS) of each
process tree is sampled every second and CPU seconds are taken from the tree's
cpu_times.

    .venv/bin/python bench/agent_footprint.py            # about 4 minutes
    .venv/bin/python bench/agent_footprint.py --quick    # about 1 minute
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    REPO,
    VENV_BIN,
    BenchError,
    ManagedProcess,
    TreeSampler,
    TreeStats,
    fmt,
    free_port,
    http_get,
    http_ok,
    machine_notes,
    missing_peer,
    peer_path,
    print_table,
    running,
    start_process,
    tcp_open,
    wait_ready,
)

LEITSTAND = "leitstand-agent"


@dataclass
class Subject:
    """One agent under measurement."""

    name: str
    process: ManagedProcess | None = None
    missing: str | None = None
    poll: Callable[[], int] | None = None  # one scrape/poll; returns bytes received
    polls_ok: int = 0
    polls_failed: int = 0
    bytes_polled: int = 0
    stats: TreeStats | None = None
    sampler: TreeSampler | None = None
    notes: list[str] = field(default_factory=list)


# --- peers ------------------------------------------------------------------------


def zabbix_get(port: int, key: str, timeout: float = 5.0) -> bytes:
    """One passive check over the Zabbix protocol (what zabbix_get does)."""
    data = key.encode()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(b"ZBXD\x01" + struct.pack("<Q", len(data)) + data)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    answer = b"".join(chunks)
    if not answer.startswith(b"ZBXD") or answer[13:].startswith(b"ZBX_NOTSUPPORTED"):
        raise OSError(f"{key}: {answer[13:60]!r}")
    return answer[13:]


def default_nic() -> str:
    import psutil

    for name, stats in psutil.net_if_stats().items():
        if name != "lo" and stats.isup:
            return name
    return "lo"


def zabbix_items() -> list[str]:
    """Items comparable to one Leitstand report: CPU, memory, root disk, one NIC, load, sessions."""
    nic = default_nic()
    return [
        "system.cpu.util",
        "system.cpu.num",
        "vm.memory.size[total]",
        "vm.memory.size[available]",
        "system.swap.size[,total]",
        "system.swap.size[,free]",
        "vfs.fs.size[/,total]",
        "vfs.fs.size[/,used]",
        "vfs.dev.read[,sectors]",
        "vfs.dev.write[,sectors]",
        f"net.if.in[{nic}]",
        f"net.if.out[{nic}]",
        "system.cpu.load[all,avg1]",
        "system.users.num",
    ]


def zabbix_poller(port: int, items: list[str]) -> Callable[[], int]:
    def poll() -> int:
        return sum(len(zabbix_get(port, key)) for key in items)

    return poll


def zabbix_config(path: Path, port: int, workdir: Path, name: str, agent2: bool) -> None:
    lines = [
        "LogType=console",
        f"PidFile={workdir / (name + '.pid')}",
        "ListenIP=127.0.0.1",
        f"ListenPort={port}",
        "Server=127.0.0.1",
        "ServerActive=",  # passive checks only: the bench polls like a Zabbix server would
        "Hostname=leitstand-bench",
    ]
    if agent2:
        lines.append(f"ControlSocket={workdir / (name + '.sock')}")
    else:
        lines.append("AllowRoot=1")  # as root it would switch to user zabbix; keep it simple
    path.write_text("\n".join(lines) + "\n")


def start_node_exporter(binary: str, workdir: Path, subject: Subject) -> None:
    port = free_port()
    subject.process = start_process(
        "node_exporter", [binary, f"--web.listen-address=127.0.0.1:{port}"], log_dir=workdir
    )
    url = f"http://127.0.0.1:{port}/metrics"
    wait_ready(http_ok(url), what="prometheus-node-exporter", process=subject.process)

    def scrape() -> int:
        status, body = http_get(url, timeout=10)
        if status != 200:
            raise OSError(f"/metrics answered {status}")
        return len(body)

    subject.poll = scrape


def start_zabbix(binary: str, workdir: Path, subject: Subject, agent2: bool) -> None:
    port = free_port(20000, 32767)  # Zabbix accepts ListenPort 1024-32767 only
    name = "zabbix_agent2" if agent2 else "zabbix_agentd"
    config = workdir / f"{name}.conf"
    zabbix_config(config, port, workdir, name, agent2)
    argv = [binary, "-c", str(config)] if agent2 else [binary, "-f", "-c", str(config)]
    subject.process = start_process(name, argv, log_dir=workdir)
    wait_ready(tcp_open(port), what=name, process=subject.process)
    # Ready means answering: the listener comes up before the collector process has data.
    wait_ready(lambda: zabbix_get(port, "agent.ping") == b"1", what=name, process=subject.process)
    items = zabbix_items()
    supported = []
    for key in items:
        try:
            zabbix_get(port, key)
            supported.append(key)
        except OSError:
            subject.notes.append(f"item not supported: {key}")
    subject.poll = zabbix_poller(port, supported)
    subject.notes.append(f"{len(supported)} items polled per interval")


# --- the Leitstand side: collector and agent -----------------------------------------


def console_script(name: str, module: str) -> list[str]:
    script = VENV_BIN / name
    return [str(script)] if script.exists() else [sys.executable, "-m", module]


def bench_env(workdir: Path) -> dict[str, str]:
    # PYTHONPATH: run the working tree's packages even where the editable install is stale.
    return {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "XDG_CONFIG_HOME": str(workdir / "xdg-config"),
        "XDG_STATE_HOME": str(workdir / "xdg-state"),
        "XDG_DATA_HOME": str(workdir / "xdg-data"),
    }


def run_cli(argv: Sequence[str], env: dict[str, str], what: str) -> str:
    proc = subprocess.run(list(argv), capture_output=True, text=True, env=env, timeout=60, cwd=REPO)
    if proc.returncode != 0:
        raise BenchError(f"{what} failed (exit {proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout.strip()


@dataclass
class CollectorHandle:
    process: ManagedProcess
    url: str
    admin_token: str


def start_collector(workdir: Path, env: dict[str, str]) -> tuple[CollectorHandle, str]:
    db = workdir / "collector.db"
    collector = console_script("leitstand-collector", "collector.cli")
    run_cli([*collector, "tenant", "add", "bench", "--db", str(db)], env, "leitstand-collector tenant add")
    enroll_token = run_cli(
        [*collector, "token", "create", "--role", "enroll", "--tenant", "bench", "--db", str(db)], env, "token create"
    )
    admin_token = run_cli([*collector, "token", "create", "--role", "admin", "--db", str(db)], env, "token create")
    port = free_port()
    process = start_process(
        "collector", [*collector, "serve", "--db", str(db), "--listen", f"127.0.0.1:{port}"], log_dir=workdir, env=env
    )
    url = f"http://127.0.0.1:{port}"
    wait_ready(http_ok(f"{url}/healthz"), what="leitstand-collector serve", process=process)
    return CollectorHandle(process, url, admin_token), enroll_token


def start_leitstand_agent(
    workdir: Path, env: dict[str, str], collector_url: str, enroll_token: str, args: argparse.Namespace
) -> ManagedProcess:
    state = workdir / "agent-state"
    config = workdir / "agent.toml"
    config.write_text(
        f'collector_url = "{collector_url}"\n'
        f'token_file = "{state / "token"}"\n'
        f'state_dir = "{state}"\n'
        f'agent_id = "bench-footprint"\n'
        f"sample_interval = {args.interval}\n"
        f"send_interval = {args.send_interval}\n"
    )
    agent = console_script(LEITSTAND, "agent.cli")
    run_cli(
        [*agent, "--config", str(config), "enroll", "--collector", collector_url, "--enroll-token", enroll_token],
        env,
        "leitstand-agent enroll",
    )
    return start_process(LEITSTAND, [*agent, "--config", str(config), "run"], log_dir=workdir, env=env)


def delivered(collector: CollectorHandle) -> int:
    status, body = http_get(
        f"{collector.url}/api/v1/hosts?tenant=bench", headers={"Authorization": f"Bearer {collector.admin_token}"}
    )
    if status != 200:
        return -1
    return sum(int(h["reports_total"]) for h in json.loads(body)["hosts"])


# --- import cost --------------------------------------------------------------------

_RSS_PROBE = (
    "import sys\n"
    "{imports}\n"
    "fields = dict(line.split(':', 1) for line in open('/proc/self/status') if ':' in line)\n"
    "print(int(fields['VmRSS'].split()[0]), int(fields['VmHWM'].split()[0]))\n"
)


def import_rss(imports: str, env: dict[str, str], runs: int = 3) -> tuple[float, float]:
    """Median RSS and peak RSS (MB) of a Python process after `imports`."""
    rss, hwm = [], []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", _RSS_PROBE.format(imports=imports)],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
            cwd=REPO,
        )
        if out.returncode != 0:
            raise BenchError(f"python -c {imports!r} failed: {out.stderr.strip().splitlines()[-1:]}")
        a, b = out.stdout.split()
        rss.append(int(a) * 1024 / 1e6)
        hwm.append(int(b) * 1024 / 1e6)
    return statistics.median(rss), statistics.median(hwm)


# What `run` with an http:// collector and no SNMP devices loads: the CLI, the sampler and a
# sender (which opens no connection here).
RUN_LOADS = (
    "import agent.cli, agent.sampling.sampler; agent.cli.build_parser(); "
    "agent.sender.Sender('http://127.0.0.1:9', 't').close()"
)

# Each step of issue 19 took one import off `run`'s path; putting it back shows what it cost.
IMPORT_CASES = [
    ("bare python", "pass"),
    ("python + psutil", "import psutil"),
    ("what `run` loads now (http:// collector, no SNMP devices)", RUN_LOADS),
    ("  + ssl (now only for an https:// collector)", RUN_LOADS + "; import ssl"),
    ("  + http.client (replaced by h11 over a socket)", RUN_LOADS + "; import http.client"),
    ("  + hashlib (machine-id hash: built-in sha256 now)", RUN_LOADS + "; import hashlib"),
    ("  + agent.snmp.probe (probe arguments: only for `snmp probe`)", RUN_LOADS + "; import agent.snmp.probe"),
    (
        "  + all four (what `run` loaded before)",
        RUN_LOADS + "; import ssl, http.client, hashlib, agent.snmp.probe",
    ),
    ("  + the SNMP poller (lean v2c; loaded when devices are configured)", RUN_LOADS + "; import agent.snmp.poller"),
    (
        '  + the poller and pysnmp (v3 devices, or engine = "pysnmp")',
        RUN_LOADS + "; import agent.snmp.poller, agent.snmp.pysnmp_engine",
    ),
]


# --- main -----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench/agent_footprint.py",
        description=(
            "Steady RSS and CPU of `leitstand-agent run` next to prometheus-node-exporter, zabbix_agentd "
            "and (if installed) zabbix_agent2, all doing the same work at the same interval."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 10 s warm-up, 40 s measurement")
    parser.add_argument("--minutes", type=float, default=3.0, help="measurement window in minutes")
    parser.add_argument("--warmup", type=float, default=30.0, help="seconds every agent runs before measuring")
    parser.add_argument(
        "--interval", type=float, default=10.0, help="seconds between samples, scrapes and polls, for every agent"
    )
    parser.add_argument(
        "--send-interval",
        type=float,
        default=None,
        help="leitstand-agent send_interval in seconds (default: same as --interval, like a scrape)",
    )
    parser.add_argument("--sample-every", type=float, default=1.0, help="seconds between RSS samples")
    parser.add_argument("--no-import-cost", action="store_true", help="skip the import-cost table")
    parser.add_argument(
        "--require-peers",
        action="store_true",
        help="exit non-zero when prometheus-node-exporter or zabbix_agentd is not installed",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp directory (configs, logs, databases)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.quick:
        args.warmup = min(args.warmup, 10.0)
        args.minutes = min(args.minutes, 40 / 60)
    if args.send_interval is None:
        args.send_interval = args.interval
    if args.interval <= 0 or args.minutes <= 0 or args.warmup < 0:
        print("bench/agent_footprint.py: --interval and --minutes must be positive", file=sys.stderr)
        return 2

    peers = {
        "prometheus-node-exporter": ("prometheus-node-exporter", "prometheus-node-exporter", True),
        "zabbix_agentd": ("zabbix_agentd", "zabbix-agent", True),
        "zabbix_agent2": ("zabbix_agent2", "zabbix-agent2", False),
    }
    missing = {name: missing_peer(binary, package) for name, (binary, package, _) in peers.items()}
    required_missing = [f"{n} {m}" for n, m in missing.items() if m and peers[n][2]]
    if args.require_peers and required_missing:
        print(f"bench/agent_footprint.py: {'; '.join(required_missing)}", file=sys.stderr)
        return 1

    print(f"machine: {machine_notes()}")
    workdir = Path(tempfile.mkdtemp(prefix="leitstand-bench-footprint-"))
    try:
        subjects = measure(args, workdir, missing, peers)
        report(args, subjects)
        if not args.no_import_cost:
            import_table(bench_env(workdir))
    except BenchError as exc:
        print(f"bench/agent_footprint.py: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


def measure(
    args: argparse.Namespace,
    workdir: Path,
    missing: dict[str, str | None],
    peers: dict[str, tuple[str, str, bool]],
) -> list[Subject]:
    env = bench_env(workdir)
    processes: list[ManagedProcess] = []
    subjects = [Subject(LEITSTAND), *(Subject(name, missing=missing[name]) for name in peers)]
    stop = threading.Event()
    with running(processes):
        collector, enroll_token = start_collector(workdir, env)
        processes.append(collector.process)
        leitstand = subjects[0]
        leitstand.process = start_leitstand_agent(workdir, env, collector.url, enroll_token, args)
        processes.append(leitstand.process)
        for subject in subjects[1:]:
            if subject.missing:
                continue
            binary = peer_path(peers[subject.name][0])
            assert binary is not None
            if subject.name == "prometheus-node-exporter":
                start_node_exporter(binary, workdir, subject)
            else:
                start_zabbix(binary, workdir, subject, agent2=subject.name == "zabbix_agent2")
            assert subject.process is not None
            processes.append(subject.process)
        live = [s for s in subjects if s.process is not None]
        print(f"running: {', '.join(s.name for s in live)}; interval {args.interval:g} s", flush=True)

        poller = threading.Thread(target=poll_loop, args=(live, args.interval, stop), daemon=True)
        poller.start()
        try:
            print(f"warm-up {args.warmup:.0f} s …", flush=True)
            sleep_checked(args.warmup, live)
            before = delivered(collector)
            for subject in live:
                assert subject.process is not None
                subject.sampler = TreeSampler(subject.process.pid, interval_s=args.sample_every)
                subject.sampler.start_window()
                subject.polls_ok = subject.polls_failed = subject.bytes_polled = 0
            window = args.minutes * 60
            print(f"measuring {window:.0f} s …", flush=True)
            sleep_checked(window, live, progress_every=60)
            for subject in live:
                assert subject.sampler is not None
                subject.stats = subject.sampler.finish()
        finally:
            stop.set()
            poller.join(args.interval + 15)
        # The agent's last send may land a moment after the window; give it one interval.
        time.sleep(min(2.0, args.send_interval))
        sent = delivered(collector) - before
        expected = window / args.send_interval
        leitstand.notes.append(
            f"delivered {sent} reports to the collector during the window "
            f"(~{window / args.interval:.0f} sampled, {expected:.0f} sends expected)"
        )
        if sent <= 0:
            raise BenchError(f"leitstand-agent delivered nothing during the window\n{leitstand.process.tail()}")
    return subjects


def sleep_checked(seconds: float, live: list[Subject], progress_every: float = 0.0) -> None:
    """Sleep, but fail early (with the log) when a measured process dies."""
    end = time.monotonic() + seconds
    next_progress = time.monotonic() + progress_every if progress_every else float("inf")
    while (left := end - time.monotonic()) > 0:
        time.sleep(min(1.0, left))
        for subject in live:
            assert subject.process is not None
            if subject.process.popen.poll() is not None:
                raise BenchError(
                    f"{subject.name} exited with code {subject.process.popen.returncode}\n{subject.process.tail()}"
                )
        if time.monotonic() >= next_progress:
            print(f"  … {max(0.0, end - time.monotonic()):.0f} s left", flush=True)
            next_progress += progress_every


def poll_loop(subjects: list[Subject], interval: float, stop: threading.Event) -> None:
    """Scrape/poll every peer once per interval, like a Prometheus or Zabbix server would."""
    next_at = time.monotonic()
    while not stop.is_set():
        for subject in subjects:
            if subject.poll is None:
                continue
            try:
                subject.bytes_polled += subject.poll()
                subject.polls_ok += 1
            except OSError:
                subject.polls_failed += 1
        next_at += interval
        stop.wait(max(0.0, next_at - time.monotonic()))


def report(args: argparse.Namespace, subjects: list[Subject]) -> None:
    header = [
        "process",
        "RSS median MB",
        "RSS max MB",
        "PSS median MB",
        "USS median MB",
        "CPU s/min",
        "CPU s/hour",
        "work done",
    ]
    rows = []
    for s in subjects:
        if s.stats is None:
            rows.append([s.name, s.missing or "not run", "", "", "", "", "", ""])
            continue
        st = s.stats
        name = s.name + (f" ({st.processes} processes)" if st.processes > 1 else "")
        if s.poll is None:
            work = f"sampled every {args.interval:g} s, sent every {args.send_interval:g} s"
        else:
            avg = s.bytes_polled / s.polls_ok / 1000 if s.polls_ok else 0
            work = f"{s.polls_ok} polls ({avg:.1f} KB each)" + (f", {s.polls_failed} FAILED" if s.polls_failed else "")
        rows.append(
            [
                name,
                fmt(st.rss_median, 1),
                fmt(st.rss_max, 1),
                fmt(st.pss_median, 1),
                fmt(st.uss_median, 1),
                fmt(st.cpu_s_per_min, 4),
                fmt(st.cpu_s_per_min * 60, 2),
                work,
            ]
        )
    print_table(
        header,
        rows,
        title=(
            f"Agents side by side: {args.minutes * 60:.0f} s measured after {args.warmup:.0f} s warm-up, "
            f"every {args.interval:g} s; RSS/PSS summed over the process tree, sampled every {args.sample_every:g} s"
        ),
    )
    for s in subjects:
        for note in s.notes:
            print(f"  {s.name}: {note}")
    ours = subjects[0].stats
    node = next((s.stats for s in subjects if s.name == "prometheus-node-exporter"), None)
    if ours is not None and node is not None:
        print("\ngoals (issue 19), as ratios to node_exporter in this run:")
        for what, mine, theirs, limit in (
            ("USS", ours.uss_median, node.uss_median, 0.9),
            ("RSS", ours.rss_median, node.rss_median, 1.2),
            ("CPU", ours.cpu_s_per_min, node.cpu_s_per_min, 1.0),
        ):
            if mine is None or not theirs:
                print(f"  {what}: not measured (no /proc smaps_rollup?)")
                continue
            ratio = mine / theirs
            print(f"  {what} {ratio:.2f}x (goal ≤ {limit:g}x) {'met' if ratio <= limit else 'MISSED'}")
    else:
        print("\ngoals: not comparable (node_exporter not measured)")


def import_table(env: dict[str, str]) -> None:
    rows = []
    reference: float | None = None
    for label, imports in IMPORT_CASES:
        try:
            rss, hwm = import_rss(imports, env)
        except BenchError as exc:
            rows.append([label, "failed", "", "", str(exc)[:60]])
            continue
        if imports == RUN_LOADS:
            reference = rss
        delta = "" if reference is None or imports == RUN_LOADS else f"{rss - reference:+.1f}"
        ratio = "" if reference is None else f"{rss / reference:.2f}x"
        rows.append([label, fmt(rss, 1), delta, ratio, fmt(hwm, 1)])
    print_table(
        ["python -c …", "RSS MB", "Δ vs `run` MB", "ratio to `run`", "peak RSS MB"],
        rows,
        title=f"Import cost by step (median of 3 fresh processes, {sys.executable})",
    )


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
    sys.exit(130)
