"""`python -m collector.sim`: the fleet simulator's command line (soak, live, collector config)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from ..progress import Progress
from .faults import FAULTS, render_faults, run_faults
from .kritis import collector_config
from .live import live
from .model import KRITIS_APPS, SITES, TOWNS, build_fleet
from .procs import SimError
from .snmp import SNMP_EPOCH
from .soak import SoakOptions, own_collector, soak


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m collector.sim",
        description="Simulate a county IT provider's fleet against a Leitstand collector (wire format v1 over HTTP).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "soak:    python -m collector.sim --soak --agents 200 --hours 24   (own collector, temporary database)\n"
            "live:    python -m collector.sim --live --small --collector URL --enroll-token T [--enroll-token T2]\n"
            "config:  python -m collector.sim --small --collector-config collector.toml\n"
            "\n"
            "SNMP devices: --live serves them with snmpsim from recordings of real devices\n"
            "(package data, collector/sim/recordings) whose page, uptime and octet counters\n"
            "advance with the clock (pages: whole steps every minute), polled by the agent's SNMP\n"
            "poller; without snmpsim or the recordings (or with --no-snmpsim) their readings are\n"
            "synthesized. --soak always synthesizes them: it runs faster than real time."
        ),
    )
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--live", action="store_true", help="report in real time every --interval until Ctrl-C")
    mode.add_argument(
        "--soak", action="store_true", help="send simulated time as fast as possible, then check (SNMP synthesized)"
    )
    mode.add_argument(
        "--collector-config",
        type=Path,
        metavar="FILE",
        help="write the collector config declaring the --small fleet's data centres and KRITIS applications",
    )
    p.add_argument(
        "--small",
        action="store_true",
        help="the demo's fleet: 2 tenants, 10 hosts, town-hall printer, UPS and switch, 2 KRITIS applications",
    )
    p.add_argument("--agents", type=int, default=50, help="simulated hosts (default 50)")
    p.add_argument("--tenants", type=int, default=4, help=f"member municipalities, at most {len(TOWNS)} (default 4)")
    p.add_argument("--minutes", type=int, default=None, help="soak: simulated minutes (default 60)")
    p.add_argument("--hours", type=float, default=None, help="soak: simulated hours (instead of --minutes)")
    p.add_argument("--speedup", action="store_true", help="accepted for clarity: --soak never waits for the clock")
    p.add_argument("--seed", type=int, default=1, help="random seed; the same seed gives the same fleet and data")
    p.add_argument("--batch", type=int, default=15, help="soak: reports per request (a spooled agent's batch)")
    p.add_argument("--concurrency", type=int, default=8, help="soak: requests in flight")
    p.add_argument("--interval", type=float, default=60.0, help="live: seconds between reports (default 60)")
    p.add_argument("--no-snmpsim", action="store_true", help="live: synthesize the SNMP readings, start no snmpsim")
    p.add_argument(
        "--snmp-epoch",
        type=float,
        default=SNMP_EPOCH,
        help="live: Unix time at which the served counters have their recorded values (default 2026-01-01 00:00 UTC)",
    )
    p.add_argument("--quiet", action="store_true", help="soak: no progress lines on stderr (none without a terminal)")
    p.add_argument("--collector", help="URL of a running collector (default: --soak starts its own)")
    p.add_argument(
        "--enroll-token",
        action="append",
        default=[],
        help="enroll token; repeat for more tenants (simulated tenant i uses token i mod count)",
    )
    p.add_argument("--admin-token", help="admin or billing token for GET /api/v1/usage (soak with --collector)")
    p.add_argument(
        "--faults",
        help=f"soak: inject faults, a soak each against an own collector: comma-separated of {','.join(FAULTS)}",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    agents, tenants = (6, 2) if args.small else (args.agents, args.tenants)
    if args.collector_config:
        if not args.small:
            print("collector.sim: --collector-config needs --small (only the demo's fleet runs KRITIS applications)",
                  file=sys.stderr)  # fmt: skip
            return 2
        hosts = build_fleet(args.seed, agents=agents, tenants=tenants, small=True)
        args.collector_config.write_text(collector_config(hosts), encoding="utf-8")
        print(f"{args.collector_config}: {len(KRITIS_APPS)} KRITIS applications in {', '.join(SITES)}")
        return 0
    if args.live:
        if not args.collector or not args.enroll_token:
            print("collector.sim: --live needs --collector and --enroll-token", file=sys.stderr)
            return 2
        return _run_live(args, agents, tenants)
    minutes = args.minutes if args.minutes is not None else round((args.hours or 1) * 60)
    if minutes < 2:
        print("collector.sim: --soak needs at least 2 simulated minutes", file=sys.stderr)
        return 2
    kw = SoakOptions(
        agents=agents, minutes=minutes, seed=args.seed, batch=max(1, args.batch), concurrency=max(1, args.concurrency)
    )
    if args.faults is not None:
        faults = [f.strip() for f in args.faults.split(",") if f.strip()]
        unknown = sorted(set(faults) - set(FAULTS))
        if unknown or not faults or args.collector:
            print(f"collector.sim: --faults takes {','.join(FAULTS)} (not {','.join(unknown)}) and no --collector",
                  file=sys.stderr)  # fmt: skip
            return 2
        try:
            progress = Progress("faults", len(faults), quiet=args.quiet)
            outcomes = run_faults(faults, tenants=tenants, progress=progress, **kw)
        except SimError as exc:
            print(f"collector.sim: {exc}", file=sys.stderr)
            return 1
        print(render_faults(outcomes))
        return 0 if all(o.ok for o in outcomes) else 1
    sent = soak_progress(agents * minutes, quiet=args.quiet)
    try:
        if args.collector:
            if not args.enroll_token or not args.admin_token:
                print("collector.sim: --soak --collector needs --enroll-token and --admin-token", file=sys.stderr)
                return 2
            print("note: the tenants must receive no other data during the run, or the ledger check cannot agree")
            result = asyncio.run(
                soak(args.collector, args.enroll_token, args.admin_token, tenants=tenants, progress=sent, **kw)
            )
        else:
            with contextlib.ExitStack() as stack:
                tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="leitstand-fleet-")))
                url, enroll_tokens, admin_token, proc, db = stack.enter_context(own_collector(tmp, tenants))
                print(f"collector {url} (pid {proc.pid}), database {db}", flush=True)
                result = asyncio.run(soak(url, enroll_tokens, admin_token, pid=proc.pid, db=db, progress=sent, **kw))
                proc.stop()  # checkpoints the WAL, so the file size is the database's
                result.measure_db(db)
    except SimError as exc:
        print(f"collector.sim: {exc}", file=sys.stderr)
        return 1
    print(result.render())
    return 0 if result.ok else 1


#: progress lines of a soak: one per tenth of its reports
SOAK_STEPS = 10


def soak_progress(total: int, *, quiet: bool, stream: TextIO | None = None) -> Callable[[int], None]:
    """A line on stderr each time another tenth of the `total` reports was acknowledged
    (a terminal only, not with --quiet: collector/progress.py)."""
    progress = Progress("soak", SOAK_STEPS, quiet=quiet, stream=stream)
    shown = [0]

    def sent(reports: int) -> None:
        while shown[0] < SOAK_STEPS and reports * SOAK_STEPS >= (shown[0] + 1) * total:
            shown[0] += 1
            progress.step(f"{reports:,}/{total:,} reports acknowledged ({100 * shown[0] // SOAK_STEPS} %)")

    return sent


def _run_live(args: argparse.Namespace, agents: int, tenants: int) -> int:
    async def go() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await live(args.collector, args.enroll_token, agents=agents, tenants=tenants, seed=args.seed,
                   interval=args.interval, small=args.small, stop=stop, out=lambda s: print(s, flush=True),
                   snmpsim=not args.no_snmpsim, snmp_epoch=args.snmp_epoch)  # fmt: skip

    try:
        asyncio.run(go())
    except KeyboardInterrupt:
        pass  # a second Ctrl-C while the loop was closing: stopping anyway
    except SimError as exc:
        print(f"collector.sim: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
