"""SNMP poll throughput and CPU of the Leitstand poller next to prometheus-snmp-exporter,
and the agent's RSS with SNMP polling enabled vs disabled.

Everything runs on 127.0.0.1 against agents this script starts on free ports:

1. A net-snmp ``snmpd`` (community ``public``, and a v3 authPriv user),
   answering IF-MIB for this machine's interfaces. Every poller reads the same
   tables from it: the Leitstand ``switch`` profile (system group + 14
   ifTable/ifXTable columns) through the lean v2c engine and through pysnmp,
   and an snmp_exporter module walking the same 14 columns and getting the
   same 4 scalars. Reported: CPU per poll / scrape and per walked value, as
   ratios to snmp_exporter's; v3 (SHA / AES-128, authPriv) in its own table
   next to snmp_exporter's v3.
2. The Leitstand poller alone, N devices (default 1000) of the ``switch``
   profile against that snmpd, with its concurrency bound: devices per second
   and CPU per device (the poller runs in this process, pinned to core 0; the
   responder on core 1).
3. N printer polls against snmpsim serving the recordings of real printers
   (tests/snmp/recordings/), to answer "1,000 printers within 60 s on one core":
   the poller's CPU per printer (snmpsim's own CPU is not counted).
4. RSS of an agent process (imports + one sample) without devices, and with
   20 devices being polled (pysnmp loaded only then).

    .venv/bin/python bench/snmp_poll.py            # about 1-2 minutes
    .venv/bin/python bench/snmp_poll.py --quick    # about 30 s
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import (
    REPO,
    VENV_BIN,
    BenchError,
    TreeSampler,
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
    wait_ready,
)

from agent.snmp.devices import DeviceConfig, parse_devices
from agent.snmp.engine import Engine
from agent.snmp.poller import poll_device

IF_COLUMNS = {
    "ifDescr": ("1.3.6.1.2.1.2.2.1.2", "DisplayString"),
    "ifType": ("1.3.6.1.2.1.2.2.1.3", "gauge"),
    "ifSpeed": ("1.3.6.1.2.1.2.2.1.5", "gauge"),
    "ifAdminStatus": ("1.3.6.1.2.1.2.2.1.7", "gauge"),
    "ifOperStatus": ("1.3.6.1.2.1.2.2.1.8", "gauge"),
    "ifInOctets": ("1.3.6.1.2.1.2.2.1.10", "counter"),
    "ifInErrors": ("1.3.6.1.2.1.2.2.1.14", "counter"),
    "ifOutOctets": ("1.3.6.1.2.1.2.2.1.16", "counter"),
    "ifOutErrors": ("1.3.6.1.2.1.2.2.1.20", "counter"),
    "ifName": ("1.3.6.1.2.1.31.1.1.1.1", "DisplayString"),
    "ifHCInOctets": ("1.3.6.1.2.1.31.1.1.1.6", "counter"),
    "ifHCOutOctets": ("1.3.6.1.2.1.31.1.1.1.10", "counter"),
    "ifHighSpeed": ("1.3.6.1.2.1.31.1.1.1.15", "gauge"),
    "ifAlias": ("1.3.6.1.2.1.31.1.1.1.18", "DisplayString"),
}
SCALARS = {
    "sysDescr": ("1.3.6.1.2.1.1.1", "DisplayString"),
    "sysObjectID": ("1.3.6.1.2.1.1.2", "OctetString"),
    "sysUpTime": ("1.3.6.1.2.1.1.3", "gauge"),
    "sysName": ("1.3.6.1.2.1.1.5", "DisplayString"),
}


V3_USER, V3_AUTH, V3_PRIV = "lsbench", "bench-auth-4711", "bench-priv-0815"


def snmp_exporter_config(v3: bool = False) -> str:
    """A 0.21-format snmp.yml module equivalent to the Leitstand switch profile (v2c, or v3 authPriv)."""
    lines = ["if_mib:", "  version: 3" if v3 else "  version: 2", "  max_repetitions: 25", "  auth:"]
    if v3:
        lines += [f"    username: {V3_USER}", "    security_level: authPriv", f"    password: {V3_AUTH}"]
        lines += ["    auth_protocol: SHA", "    priv_protocol: AES", f"    priv_password: {V3_PRIV}"]
    else:
        lines += ["    community: public"]
    lines += ["  walk:"]
    lines += [f"  - {oid}" for oid, _ in IF_COLUMNS.values()]
    lines += ["  get:"] + [f"  - {oid}.0" for oid, _ in SCALARS.values()]
    lines += ["  metrics:"]
    for name, (oid, kind) in SCALARS.items():
        lines += [f"  - name: {name}", f"    oid: {oid}", f"    type: {kind}", f"    help: {name}"]
    for name, (oid, kind) in IF_COLUMNS.items():
        lines += [f"  - name: {name}", f"    oid: {oid}", f"    type: {kind}", f"    help: {name}"]
        lines += ["    indexes:", "    - labelname: ifIndex", "      type: gauge"]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def snmpd(work: Path) -> Iterator[int]:
    binary = peer_path("snmpd")
    if binary is None:
        raise BenchError("snmpd not installed (apt-get install snmpd)")
    port = free_port()  # TCP-free is a good hint for UDP on loopback; snmpd fails loudly otherwise
    conf = work / "snmpd.conf"
    conf.write_text(
        "rocommunity public 127.0.0.1\nsysName bench-snmpd\n"
        f"createUser {V3_USER} SHA {V3_AUTH} AES {V3_PRIV}\nrouser {V3_USER} priv\n"
    )
    env = dict(os.environ, MIBS="", MIBDIRS=str(work / "no-mibs"), SNMP_PERSISTENT_DIR=str(work / "persist"))
    argv = [binary, "-f", "-C", "-c", str(conf), "-Lf", str(work / "snmpd.log"), f"udp:127.0.0.1:{port}"]
    process = subprocess.Popen(
        ["taskset", "-c", "1", *argv] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        dev = device("ready", port, "public", timeout=0.3)
        wait_ready(lambda: poll_many([dev], 1)[0] == 1, what="snmpd", deadline_s=20)
        yield port
    finally:
        process.terminate()
        process.wait(10)


def device(
    dev_id: str, port: int, community: str, kind: str = "switch", timeout: float = 2.0, engine: str = "auto"
) -> DeviceConfig:
    """A v2c device, or (community ``v3``) the v3 authPriv user."""
    entry: dict[str, object] = {"id": dev_id, "address": "127.0.0.1", "port": port, "kind": kind, "engine": engine}
    if community == "v3":
        entry.update(version="3", user=V3_USER, auth="sha", auth_key=V3_AUTH, priv="aes128", priv_key=V3_PRIV)
    else:
        entry["community"] = community
    entry.update(timeout=timeout, retries=1)
    return parse_devices([entry], env={})[0]


def poll_many(devices: list[DeviceConfig], concurrency: int) -> tuple[int, int, float, float]:
    """(ok polls, values walked, CPU s, wall s) of polling every device once."""

    async def main() -> tuple[int, int]:
        engine = Engine()
        bound = asyncio.Semaphore(concurrency)
        values = 0

        async def one(d: DeviceConfig) -> bool:
            nonlocal values
            async with bound:
                r = await poll_device(engine, d)
            if r.ok and r.interfaces is not None:
                values += 4 + 14 * len(r.interfaces)
            return r.ok

        try:
            oks = await asyncio.gather(*(one(d) for d in devices))
        finally:
            engine.close()
        return sum(oks), values

    cpu0, wall0 = time.process_time(), time.monotonic()
    ok, values = asyncio.run(main())
    return ok, values, time.process_time() - cpu0, time.monotonic() - wall0


def bench_exporter(work: Path, snmpd_port: int, scrapes: int, v3: bool = False) -> tuple[str, float | None, int]:
    missing = missing_peer("prometheus-snmp-exporter", "prometheus-snmp-exporter")
    if missing:
        return missing, None, 0
    config = work / ("snmp-v3.yml" if v3 else "snmp.yml")
    config.write_text(snmp_exporter_config(v3))
    port = free_port()
    processes: list = []
    with running(processes):
        argv = [peer_path("prometheus-snmp-exporter") or "", f"--config.file={config}"]
        argv.append(f"--web.listen-address=127.0.0.1:{port}")
        if shutil.which("taskset"):
            argv = ["taskset", "-c", "0", *argv]
        proc = start_process("snmp_exporter", argv, log_dir=work)
        processes.append(proc)
        wait_ready(http_ok(f"http://127.0.0.1:{port}/metrics"), what="snmp_exporter", process=proc)
        url = f"http://127.0.0.1:{port}/snmp?target=127.0.0.1:{snmpd_port}&module=if_mib"
        status, body = http_get(url, timeout=10)
        if status != 200 or b"ifHCInOctets" not in body:
            raise BenchError(f"snmp_exporter scrape failed: {status} {body[:300]!r}\n{proc.tail()}")
        sampler = TreeSampler(proc.pid, pss=False)
        sampler.start_window()
        for _ in range(scrapes):
            http_get(url, timeout=10)
        stats = sampler.finish()
        series = sum(1 for line in body.decode().splitlines() if line.startswith("if"))
    return "ok", stats.cpu_s / scrapes, series


def per_value_row(
    label: str, port: int, community: str, engine: str, polls: int, exporter_cpu: float | None
) -> list[str]:
    """One poller's row: CPU per poll and per walked value, and the ratio to snmp_exporter's scrape."""
    devs = [device(f"sw{i}", port, community, engine=engine) for i in range(polls)]
    poll_many(devs[:5], 1)  # warm the engine
    ok, values, cpu, _wall = poll_many(devs, 1)
    if ok != len(devs):
        raise BenchError(f"{label}: only {ok} of {len(devs)} polls of snmpd succeeded")
    per_poll = cpu / ok
    per_value = values / ok
    ratio = per_poll / exporter_cpu if exporter_cpu else None
    return [label, fmt(per_poll * 1000, 2), fmt(per_value, 0), fmt(per_poll / per_value * 1e6, 1), fmt(ratio, 2)]


def exporter_row(label: str, status: str, cpu: float | None, values: str, series: int) -> list[str]:
    if cpu is None:
        return [label, status, "—", "—", "—"]
    per_value = float(values.replace(",", ""))
    return [label, fmt(cpu * 1000, 2), values, fmt(cpu / per_value * 1e6, 1), f"1 ({series} if* series)"]


def rss_of(code: str, env: dict[str, str]) -> float:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, cwd=REPO)
    if out.returncode != 0:
        raise BenchError(f"RSS probe failed: {out.stderr[-1500:]}")
    return float(out.stdout.strip().split()[-1])


RSS_CODE = """
import sys, time, asyncio
from agent import cli
from agent.config import load_config
cfg = load_config(sys.argv[1] if len(sys.argv) > 1 else {path!r})
sampler = cli._make_sampler(cfg)
sampler.sample(15)
if cfg.devices:
    from agent.snmp.poller import Poller
    p = Poller(cfg.devices, default_interval=1.0, concurrency=cfg.snmp_concurrency)
    p.start()
    deadline = time.monotonic() + 30
    while p.polls < 3 * len(cfg.devices) and time.monotonic() < deadline:
        time.sleep(0.1)
    sampler.sample(15)
    p.stop()
rss = [l for l in open('/proc/self/status') if l.startswith('VmRSS')][0].split()[1]
print(int(rss) / 1000)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=1000, help="devices polled in the throughput runs (1000)")
    parser.add_argument("--concurrency", type=int, default=64, help="polls in flight at most (64)")
    parser.add_argument("--scrapes", type=int, default=200, help="polls / scrapes for the per-value comparison (200)")
    parser.add_argument("--quick", action="store_true", help="200 devices, 50 scrapes")
    parser.add_argument("--require-peers", action="store_true", help="exit 1 when a peer is missing")
    args = parser.parse_args()
    if args.quick:
        args.devices, args.scrapes = 200, 50
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {0})
    print(machine_notes())
    with tempfile.TemporaryDirectory(prefix="leitstand-snmp-bench-") as tmp:
        work = Path(tmp)
        with snmpd(work) as port:
            # 1. same tables, same agent: CPU per walked value, each engine, then snmp_exporter
            status, exp_cpu, series = bench_exporter(work, port, args.scrapes)
            if status != "ok" and args.require_peers:
                print(status)
                return 1
            rows = []
            for label, community, engine in (
                ("Leitstand, lean engine (v2c)", "public", "auto"),
                ("Leitstand, pysnmp engine (v2c)", "public", "pysnmp"),
            ):
                rows.append(per_value_row(label, port, community, engine, args.scrapes, exp_cpu))
            rows.append(exporter_row("prometheus-snmp-exporter (v2c)", status, exp_cpu, rows[0][2], series))
            print_table(
                ["poller", "CPU ms / poll", "values / poll", "CPU µs / value", "x snmp_exporter"],
                rows,
                title=f"v2c: same snmpd, same tables, {args.scrapes} polls each, one at a time "
                "(goal: lean ≤ 2x snmp_exporter per value)",
            )
            status3, exp3, series3 = bench_exporter(work, port, args.scrapes, v3=True)
            rows3 = [per_value_row("Leitstand, pysnmp engine (v3 authPriv)", port, "v3", "auto", args.scrapes, exp3)]
            rows3.append(exporter_row("prometheus-snmp-exporter (v3 authPriv)", status3, exp3, rows3[0][2], series3))
            print_table(
                ["poller", "CPU ms / poll", "values / poll", "CPU µs / value", "x snmp_exporter"],
                rows3,
                title=f"v3 (SHA, AES-128, authPriv): same snmpd and tables, {args.scrapes} polls each",
            )
            # 2. throughput: N devices at once
            many = [device(f"dev{i}", port, "public") for i in range(args.devices)]
            ok, _values, cpu, wall = poll_many(many, args.concurrency)
            print_table(
                ["devices", "ok", "concurrency", "wall s", "devices / s", "CPU s", "CPU ms / device"],
                [
                    [
                        fmt(args.devices),
                        fmt(ok),
                        fmt(args.concurrency),
                        fmt(wall, 2),
                        fmt(ok / wall, 0),
                        fmt(cpu, 2),
                        fmt(cpu / max(ok, 1) * 1000, 2),
                    ]
                ],
                title="Throughput: switch profile, N devices (all answered by one local snmpd on core 1)",
            )
        # 3. printers against snmpsim
        printer_row = bench_printers(work, args)
        if printer_row:
            print_table(
                ["printer polls", "ok", "wall s", "poller CPU s", "CPU ms / printer", "1,000 printers need"],
                [printer_row],
                title="Printers: real recordings served by snmpsim (goal: 1,000 printers in 60 s on one core)",
            )
        # 4. RSS
        env = dict(os.environ, XDG_CONFIG_HOME=str(work / "cfg"), XDG_STATE_HOME=str(work / "state"))
        plain = work / "plain.toml"
        plain.write_text(f'state_dir = "{work / "state"}"\n')
        with snmpd(work) as port:
            polled = work / "snmp.toml"
            text = f'state_dir = "{work / "state"}"\n'
            for i in range(20):
                text += f'[[devices]]\nid = "d{i}"\naddress = "127.0.0.1"\nport = {port}\ncommunity = "public"\n'
                text += 'kind = "switch"\n'
            polled.write_text(text)
            without = rss_of(RSS_CODE.format(path=str(plain)), env)
            with_snmp = rss_of(RSS_CODE.format(path=str(polled)), env)
        print_table(
            ["agent process", "RSS MB"],
            [["no devices (pysnmp not imported)", fmt(without, 1)], ["20 devices polled", fmt(with_snmp, 1)]],
            title="Agent RSS (imports + sampling; MB = 10^6 bytes)",
        )
    return 0


def bench_printers(work: Path, args: argparse.Namespace) -> list[str] | None:
    shared = REPO / "tests" / "snmp" / "recordings"
    responder = VENV_BIN / "snmpsim-command-responder"
    if not shared.is_dir() or not responder.exists():
        print("\nprinters: skipped (needs tests/snmp/recordings/ and PyPI snmpsim)")
        return None
    data = work / "printers"
    data.mkdir()
    names = []
    for exp in shared.glob("*.expected.json"):
        if '"kind": "printer"' in exp.read_text():
            name = exp.name.removesuffix(".expected.json")
            shutil.copyfile(shared / f"{name}.snmprec", data / f"{name}.snmprec")
            names.append(name)
    port = free_port()
    argv = [str(responder), f"--data-dir={data}", f"--cache-dir={work / 'simcache'}"]
    argv.append(f"--agent-udpv4-endpoint=127.0.0.1:{port}")
    if shutil.which("taskset"):
        argv = ["taskset", "-c", "1", *argv]
    processes: list = []
    with running(processes):
        proc = start_process("snmpsim", argv, log_dir=work, env=dict(os.environ, SNMPSIM_ALLOW_ROOT="true"))
        processes.append(proc)
        probe = device("probe", port, names[0], kind="printer", timeout=0.5)
        wait_ready(lambda: poll_many([probe], 1)[0] == 1, what="snmpsim", process=proc, deadline_s=90)
        n = args.devices // 4  # snmpsim answers slowly; the poller's CPU per printer is what counts
        printers = [device(f"p{i}", port, names[i % len(names)], kind="printer", timeout=5) for i in range(n)]
        ok, _values, cpu, wall = poll_many(printers, args.concurrency)
    per = cpu / max(ok, 1)
    return [fmt(n), fmt(ok), fmt(wall, 2), fmt(cpu, 2), fmt(per * 1000, 2), f"{per * 1000:.1f} s CPU of 60 s"]


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
