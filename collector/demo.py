"""`leitstand demo` (what `make run` starts): a collector on its embedded
SQLite, a demo tenant, this machine's agent enrolled and running, and a live
view of the fleet. Nothing to configure; Ctrl-C stops everything.

With the simulated fleet (`python -m collector.sim --live --small`, the installed
package's simulator) the collector runs with a config from the fleet's model
(demo-data/collector.toml): its two data centres and two KRITIS applications, so
the readiness view shows real statuses; each application gets one recorded
(passed) failover test the first time."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from . import admin
from .db import connect, migrate
from .sim.kritis import collector_config
from .sim.model import TOWNS, build_fleet
from .sim.snmp import snmpsim_missing

__all__ = ["main"]

TENANT = "demo"
#: the simulated fleet's seed and size: the demo's small fleet (python -m collector.sim --small)
FLEET_SEED, FLEET_AGENTS, FLEET_TENANT_COUNT = 1, 6, 2
#: member municipalities of the simulated fleet
FLEET_TENANTS = tuple(name for name, _ in TOWNS[:FLEET_TENANT_COUNT])
#: the collector config the fleet writes into the data dir: its data centres and KRITIS applications
CONFIG_NAME = "collector.toml"
#: keeps the instant the fleet's SNMP counters (snmpsim) start from, so a restarted demo continues them
SNMP_EPOCH_NAME = "fleet-snmp-epoch"
FAILOVER_TEST_AGE_DAYS = 75


def _free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as s:
            # as uvicorn binds: a port in TIME_WAIT from the last run is free
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise OSError("no free TCP port on 127.0.0.1")


def _bin(name: str) -> str:
    candidate = Path(sys.executable).with_name(name)
    return str(candidate) if candidate.exists() else name


def _get(url: str, token: str) -> object:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


def _wait_ready(url: str, proc: subprocess.Popen[bytes], deadline_s: float = 30.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"collector exited with status {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise RuntimeError(f"collector not ready at {url} after {deadline_s:.0f} s")


def _prepare(db_path: Path) -> tuple[str, str]:
    """Demo tenant plus an enroll and an admin token (fresh ones each start:
    only hashes are stored, so old ones cannot be shown again)."""
    conn = connect(db_path)
    try:
        migrate(conn)
        if TENANT not in {t["name"] for t in admin.list_tenants(conn)}:
            admin.add_tenant(conn, TENANT, actor="demo")
        # replace=True: a second start re-enrolls the agents kept in demo-data
        enroll = admin.create_token(conn, "enroll", actor="demo", tenant=TENANT, label="demo", replace=True)[1]
        viewer = admin.create_token(conn, "admin", actor="demo", label="demo viewer")[1]
        return enroll, viewer
    finally:
        conn.close()


def _prepare_fleet(db_path: Path) -> list[str]:
    """The fleet's tenants and one enroll token for each."""
    conn = connect(db_path)
    try:
        existing = {t["name"] for t in admin.list_tenants(conn)}
        tokens = []
        for tenant in FLEET_TENANTS:
            if tenant not in existing:
                admin.add_tenant(conn, tenant, actor="demo")
            token = admin.create_token(conn, "enroll", actor="demo", tenant=tenant, label="demo fleet", replace=True)
            tokens.append(token[1])
        return tokens
    finally:
        conn.close()


# Fictional people with numbers no one answers: the runbooks' escalation block shows a filled table
DEMO_CONTACTS = """
# Whom on-call calls (README "Contacts and escalation"); the demo's people are made up.
[[contacts]]
role = "Rufbereitschaft IT-Betrieb (Demo)"
name = "Erika Mustermann"
phone = "0000 000-001"
hours = "24/7"

[[contacts]]
role = "Haustechnik (Demo)"
name = "Max Mustermann"
phone = "0000 000-002"
hours = "Mo–Fr 7–16 Uhr"
teams = ["haustechnik"]
"""


def write_fleet_config(data: Path) -> Path:
    """The collector config declaring the fleet's data centres and KRITIS applications,
    from the fleet's own model (one source for its host names, sites and device ids),
    and made-up contacts for the runbooks."""
    path = data / CONFIG_NAME
    hosts = build_fleet(FLEET_SEED, agents=FLEET_AGENTS, tenants=FLEET_TENANT_COUNT, small=True)
    path.write_text(collector_config(hosts) + DEMO_CONTACTS, encoding="utf-8")
    return path


def record_failover_tests(db_path: Path, config: Path, log: IO[bytes] | None = None) -> list[str]:
    """A passed failover test for each configured application that has none yet, recorded
    as an admin would (`leitstand-collector readiness record-test`, audited); their names."""
    apps = tomllib.loads(config.read_text(encoding="utf-8")).get("readiness", {}).get("applications", [])
    conn = connect(db_path)
    try:
        tested = {row[0] for row in conn.execute("SELECT DISTINCT app FROM failover_tests").fetchall()}
    finally:
        conn.close()
    day = dt.datetime.now(ZoneInfo("Europe/Berlin")).date() - dt.timedelta(days=FAILOVER_TEST_AGE_DAYS)
    recorded = []
    for app in apps:
        name = str(app["name"])
        if name in tested:
            continue
        subprocess.run(
            # --db and --config after the action: the action's own options (argparse keeps the last)
            [_bin("leitstand-collector"), "readiness", "record-test", "--db", str(db_path), "--config", str(config),
             "--app", name, "--date", day.isoformat(), "--result", "passed",
             "--note", "Demo: Umschalttest RZ Vechta -> RZ Magdeburg"],
            check=True, stdout=log, stderr=log,
        )  # fmt: skip
        recorded.append(name)
    return recorded


def snmp_epoch(data: Path) -> float:
    """When the fleet's served SNMP counters have their recorded values: the first demo's
    start, kept in the data dir (a later demo continues the counters instead of turning them
    back, which the collector would take for a device restart)."""
    path = data / SNMP_EPOCH_NAME
    try:
        return float(path.read_text().strip())
    except (OSError, ValueError):
        epoch = float(int(time.time()))
        path.write_text(f"{epoch:.0f}\n")
        return epoch


def fleet_argv(url: str, interval: float, enroll_tokens: Sequence[str], epoch: float) -> list[str]:
    """The live fleet, run by this interpreter from the installed package (not from a checkout)."""
    argv = [sys.executable, "-m", "collector.sim", "--live", "--small", "--seed", str(FLEET_SEED),
            "--collector", url, "--interval", str(interval), "--snmp-epoch", f"{epoch:.0f}"]  # fmt: skip
    for token in enroll_tokens:
        argv += ["--enroll-token", token]
    return argv


def _readiness_part(readiness: Any) -> str:
    apps = readiness.get("applications", []) if isinstance(readiness, dict) else []
    return "readiness " + ", ".join(f"{a['name']} {a['status']}" for a in apps) if apps else ""


def _status_line(hosts: dict[str, object], started: float, readiness: str = "") -> str:
    items = hosts.get("hosts", [])
    assert isinstance(items, list)
    online = sum(1 for h in items if h.get("state") == "online")
    parts = [f"{time.strftime('%H:%M:%S %Z')}  hosts {online}/{len(items)} online"]
    if readiness:
        parts.append(readiness)
    for h in items[:3]:
        m = h.get("metrics") or {}
        seen = h.get("last_seen")
        ago = f"{time.time() - seen:.0f}s ago" if isinstance(seen, float) else "never"
        parts.append(
            f"{h['hostname']}: cpu {m.get('cpu_percent', 0) or 0:.0f}% "
            f"mem {m.get('memory_used_percent', 0) or 0:.0f}% "
            f"disk {m.get('disk_used_percent_max', 0) or 0:.0f}% "
            f"reports {h.get('reports_total')} (last {ago})"
        )
    return "  |  ".join(parts)


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="leitstand",
        description="Leitstand demo: collector + local agent + live fleet view, in ./demo-data.",
        epilog=(
            "needs the demo extra: pip install 'leitstand[demo]' (without snmpsim the SNMP devices are synthesized)\n\n"
            "examples:\n"
            "  leitstand demo                      collector, this host's agent, the simulated fleet, terminal UI\n"
            "  leitstand demo --no-tui             a live status line instead of the terminal UI (Ctrl-C stops)\n"
            "  leitstand demo --no-fleet --data-dir /tmp/ls   only this host's agent, files in /tmp/ls"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", nargs="?", default="demo", choices=["demo"], help="what to run (the only one: demo)")
    parser.add_argument("--data-dir", type=Path, default=Path("demo-data"), help="where the demo keeps its files")
    parser.add_argument("--port", type=int, default=8470, help="preferred collector port (a free one if taken)")
    parser.add_argument("--interval", type=float, default=5.0, help="agent sample and send interval, seconds")
    parser.add_argument(
        "--no-tui", action="store_true", help="print a live status line instead of opening the terminal UI"
    )
    parser.add_argument(
        "--no-fleet",
        action="store_true",
        help="do not start the simulated fleet (python -m collector.sim --live --small)",
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)  # stop everything as on Ctrl-C

    data = args.data_dir.resolve()
    data.mkdir(parents=True, exist_ok=True)
    db_path = data / "collector.db"
    enroll_token, viewer_token = _prepare(db_path)
    port = _free_port(args.port)
    url = f"http://127.0.0.1:{port}"
    procs: list[subprocess.Popen[bytes]] = []
    log = (data / "demo.log").open("ab")
    fleet_on = not args.no_fleet
    try:
        serve = [_bin("leitstand-collector"), "serve", "--db", str(db_path), "--listen", f"127.0.0.1:{port}"]
        if fleet_on:
            config = write_fleet_config(data)
            record_failover_tests(db_path, config, log)
            serve += ["--config", str(config)]
        collector = subprocess.Popen(serve, stdout=log, stderr=log)
        procs.append(collector)
        names = {id(collector): "collector"}
        _wait_ready(url, collector)
        agent_cfg = data / "agent.toml"
        agent_cfg.write_text(
            f'collector_url = "{url}"\n'
            f'state_dir = "{data / "agent-state"}"\n'
            f"sample_interval = {args.interval}\n"
            f"send_interval = {args.interval}\n"
        )
        subprocess.run(
            # --force: a second `make run` re-enrolls the agent kept in demo-data
            [_bin("leitstand-agent"), "--config", str(agent_cfg), "enroll", "--collector", url,
             "--enroll-token", enroll_token, "--force"],
            check=True, stdout=log, stderr=log,
        )  # fmt: skip
        agent = subprocess.Popen([_bin("leitstand-agent"), "--config", str(agent_cfg), "run"], stdout=log, stderr=log)
        procs.append(agent)
        names[id(agent)] = "agent"
        if fleet_on:
            argv = fleet_argv(url, args.interval, _prepare_fleet(db_path), snmp_epoch(data))
            fleet = subprocess.Popen(argv, stdout=log, stderr=log)
            procs.append(fleet)
            names[id(fleet)] = "fleet simulator"
        print(f"Leitstand demo: collector {url}, data in {data}, log {data / 'demo.log'}")
        if fleet_on and (missing := snmpsim_missing()):
            # said where the user looks, not only in the log: the devices are not real SNMP agents then
            print(f"Fleet: SNMP devices synthesized, {missing}")
        print(f"Admin token for this session (API, curl):\n  {viewer_token}")
        print(f"  e.g. curl -H 'Authorization: Bearer {viewer_token}' {url}/metrics")
        if not args.no_tui and sys.stdin.isatty() and sys.stdout.isatty():
            # the TUI in the foreground; quitting it (q) stops everything (finally below)
            tui = subprocess.run([_bin("leitstand-tui"), "--collector", url, "--token", viewer_token], check=False)
            print("stopping ...")
            return tui.returncode
        print("Ctrl-C stops everything.\n")
        started = time.time()
        while True:
            for proc in procs:
                if proc.poll() is not None:
                    print(f"\n{names[id(proc)]} exited with status {proc.returncode}; see {data / 'demo.log'}")
                    return 1
            try:
                ready = _readiness_part(_get(f"{url}/api/v1/readiness", viewer_token)) if fleet_on else ""
                line = _status_line(_get(f"{url}/api/v1/hosts", viewer_token), started, ready)  # type: ignore[arg-type]
            except (urllib.error.URLError, OSError) as exc:
                line = f"collector unreachable: {exc}"
            sys.stdout.write("\r\033[K" + line[: os.get_terminal_size().columns - 1 if sys.stdout.isatty() else 400])
            if not sys.stdout.isatty():
                sys.stdout.write("\n")
            sys.stdout.flush()
            time.sleep(2.0)
    except KeyboardInterrupt:
        print("\nstopping ...")
        return 0
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"leitstand demo: {exc}; see {data / 'demo.log'}", file=sys.stderr)
        return 1
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()


if __name__ == "__main__":
    sys.exit(main())
