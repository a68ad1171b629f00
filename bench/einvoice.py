"""What e-invoices cost: XRechnung and ZUGFeRD for every tenant of a month, next to FOCUS.

A provider the size of the seeds' example (`--thin-clients` 2,200 cloud
workplaces, `--servers` 154, `--printers` 40) bills `--tenants` 300 member
municipalities. The month's ledger state is written directly into the real
schema by bench/metering.py's `MonthBuilder` (the same generator, checked there
against real ingest): one closed month before it, then the month itself with
late data for the earlier one (adjustment lines), closed. The tariff book is
bench/metering.py's (VAT 0 for all but one tenant, which pays 19 %), the
`[invoice]` config has the seller and one buyer per tenant (a Leitweg-ID with
valid check digits; `vat_category = "O"`, § 2b UStG, where the tariff's VAT is
0).

Then the real CLI, `leitstand-collector meter export --all --period P
--format F --out DIR`, runs as a subprocess for FOCUS (the reference), for
XRechnung and for ZUGFeRD: each once as the first export of the closed month
(rendered, archived for ten years, invoice numbers assigned) and once as a
re-export (rendered again and verified byte-identical against the archive; the
files of both runs must be identical too). ZUGFeRD invoices are rendered
ahead in one worker process per CPU (`--jobs`, the default for --all from
100 tenants on); a third
ZUGFeRD run with `--jobs 1` renders in the CLI process alone, as the
single-process reference (verified against the same archive, so the workers'
bytes are the CLI's). Wall time and peak RSS are wait4's rusage of exactly
the CLI process (bench/metering.py's launcher); "tree MB" is the peak of the
summed PSS of the CLI and its workers, sampled every 20 ms. The table shows
seconds, the ratio to the FOCUS export of the same run, ms per invoice, peak
RSS and output size.

Goal printed next to the results: every format's whole month under 10 s and
under 500 MB RSS (the tree's, workers included).

    .venv/bin/python bench/einvoice.py              # about 2 minutes
    .venv/bin/python bench/einvoice.py --quick      # 30 tenants, about 30 s
    .venv/bin/python bench/einvoice.py --profile DIR   # plus cProfile of one ZUGFeRD export run (--jobs 1)
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

import psutil
from _common import REPO, VENV_BIN, BenchError, fmt, machine_notes, print_table, scratch_dir
from metering import TARIFFS, CliRun, MonthBuilder, TenantFleet, make_fleet, run_cli
from stdnum.iso7064 import mod_97_10

from collector.db import connect, migrate
from collector.metering import ledger
from collector.metering.cli import AHEAD_MIN
from collector.metering.einvoice.ahead import usable_cpus
from collector.metering.model import Period
from tests.collector.metering import einvoice_support as support

GOAL_S = 10.0
HEADER = [
    "`meter export --all`, closed month",
    *("wall s", "× FOCUS", "ms/tenant", "peak RSS MB", "tree MB", "files", "MB", "goal"),
]
GOAL_RSS_MB = 500.0
FORMATS = ("focus", "xrechnung", "zugferd")

#: the seller of the e-invoice tests, with the creditor number a seller needs for VAT category O
SELLER = '[invoice]\nnumber_pattern = "KDO-{year}-{seq:05d}"\n' + support.SELLER + 'seller_id = "KDO-KRED-4711"\n'


def leitweg_id(index: int) -> str:
    """A Leitweg-ID of Lower Saxony (03...) with valid check digits, one per tenant."""
    coarse, fine = f"03{4500 + index:06d}", f"{index:010d}"
    return f"{coarse}-{fine}-{mod_97_10.calc_check_digits(coarse + fine)}"


def invoice_config(tenants: Sequence[str], vat_tenant: str) -> str:
    parts = [SELLER]
    for i, tenant in enumerate(tenants):
        kind, place = tenant.split("-", 1)
        parts.append(
            f"\n[invoice.buyers.{tenant}]\n"
            f'name = "{kind.capitalize()} {place.capitalize()}"\n'
            f'street = "Rathausstraße {i % 90 + 1}"\n'
            f'postcode = "{49000 + i:05d}"\n'
            f'city = "{place.capitalize()} (Oldenburg)"\n'
            f'leitweg_id = "{leitweg_id(i + 1)}"\n' + ("" if tenant == vat_tenant else 'vat_category = "O"\n')
        )
    return "".join(parts)


@dataclass
class Month:
    period: Period
    fleet: list[TenantFleet]
    build_s: float
    close_s: float
    db: Path
    config: Path


def build_month(args: argparse.Namespace, workdir: Path) -> Month:
    period = Period.parse(args.period) if args.period else Period.containing(time.time()).previous()
    fleet = make_fleet(args.thin_clients, args.servers, args.printers, args.tenants)
    tenants = [t.name for t in fleet]
    print(
        f"building {period.previous()} and {period} for {args.thin_clients:,} thin clients, {args.servers} servers, "
        f"{args.printers} printers in {args.tenants} tenants …",
        flush=True,
    )
    start = time.perf_counter()
    db = workdir / "month.db"
    conn = connect(db)
    migrate(conn)
    builder = MonthBuilder(conn, fleet)
    builder.tenants()
    builder.month(period.previous())
    builder.hosts_and_devices()
    ledger.close_period(conn, period.previous(), actor="bench", now=time.time())
    builder.month(period, late_for=period.previous())
    builder.hosts_and_devices()
    build_s = time.perf_counter() - start
    start = time.perf_counter()
    closed = ledger.close_period(conn, period, actor="bench", now=time.time())
    close_s = time.perf_counter() - start
    if len(closed) != len(tenants):
        raise BenchError(f"close_period closed {len(closed)} of {len(tenants)} tenants")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    vat_tenant = tenants[min(1, len(tenants) - 1)]
    (workdir / "tariffs.toml").write_text(TARIFFS.replace("{vat_tenant}", vat_tenant))
    config = workdir / "collector.toml"
    config.write_text(
        f'[metering]\ntariffs = "{workdir / "tariffs.toml"}"\n\n' + invoice_config(tenants, vat_tenant),
        encoding="utf-8",
    )
    return Month(period, fleet, build_s, close_s, db, config)


@dataclass
class Row:
    run: CliRun
    fmt: str
    digest: str
    tree_mb: float = 0.0


def tree_peak(what: str, argv: list[str], env: dict[str, str], log: Path, out: Path | None) -> tuple[CliRun, float]:
    """run_cli, and the peak of the summed PSS of this process's children and
    their descendants (the launcher, the CLI, its fork server and workers):
    PSS, as the workers share the pages of the fork server they come from,
    which their RSS would count once each."""
    peak, done = [0], threading.Event()

    def sample() -> None:
        me = psutil.Process()
        while not done.wait(0.02):
            total = 0
            for proc in me.children(recursive=True):
                try:
                    total += proc.memory_full_info().pss
                except psutil.Error:
                    continue  # gone between listing and reading
            peak[0] = max(peak[0], total)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        run = run_cli(what, argv, env, log, out)
    finally:
        done.set()
        sampler.join()
    return run, peak[0] / 1e6


def export_all(month: Month, workdir: Path, profile: Path | None) -> list[Row]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "XDG_CONFIG_HOME": str(workdir / "xdg"),
        "XDG_DATA_HOME": str(workdir / "xdg"),
    }
    exe = str(VENV_BIN / "leitstand-collector")
    start_up = run_cli("`leitstand-collector --help` (start-up only)", [exe, "--help"], env, workdir / "h.log")
    rows = [Row(start_up, "", "")]
    for fmt_ in FORMATS:
        runs = [("first", "first export (stored)", []), ("again", "re-export (verified)", [])]
        if fmt_ == "zugferd":
            runs.append(("inline", "re-export `--jobs 1` (verified)", ["--jobs", "1"]))
        for tag, what, extra in runs:
            out = workdir / f"out-{fmt_}-{tag}"
            argv = [exe, "meter", "export", "--all", "--period", str(month.period), "--format", fmt_, *extra]
            argv += ["--out", str(out), "--db", str(month.db), "--config", str(month.config), "--quiet"]
            print(f"  {fmt_}, {what} …", flush=True)
            run, tree_mb = tree_peak(f"`--format {fmt_}`, {what}", argv, env, workdir / f"{fmt_}-{tag}.log", out)
            if run.files != len(month.fleet):
                raise BenchError(f"{fmt_}: {run.files} files for {len(month.fleet)} tenants")
            run.goal = fmt_ != "focus"
            rows.append(Row(run, fmt_, run.sha, tree_mb))
            if tag != "first" and rows[-1].digest != rows[-2].digest:
                raise BenchError(f"{fmt_}: the {what}'s files differ from the first export's")
    if profile is not None:
        profile.mkdir(parents=True, exist_ok=True)
        target = profile / "zugferd.prof"
        out = workdir / "out-profile"
        argv = [sys.executable, "-m", "cProfile", "-o", str(target), exe, "meter", "export", "--all"]
        argv += ["--period", str(month.period), "--format", "zugferd", "--out", str(out)]
        argv += ["--db", str(month.db), "--config", str(month.config), "--quiet", "--jobs", "1"]
        run_cli("profile", argv, env, workdir / "profile.log")
        import pstats

        print("\nZUGFeRD re-export under cProfile, by cumulative time:")
        pstats.Stats(str(target)).sort_stats("cumulative").print_stats(30)
    return rows


def report(month: Month, rows: list[Row]) -> None:
    tc = sum(t.count("thin-client") for t in month.fleet)
    srv = sum(t.count("server") for t in month.fleet)
    prn = sum(len(t.printers) for t in month.fleet)
    n = len(month.fleet)
    focus = {r.run.what.split(", ", 1)[1]: r.run.wall_s for r in rows if r.fmt == "focus"}
    focus_again = focus["re-export (verified)"]
    table = []
    for r in rows:
        run = r.run
        ref = focus.get(run.what.split(", ", 1)[1], focus_again) if r.fmt else None
        table.append(
            [
                run.what,
                f"{run.wall_s:.2f}",
                f"{run.wall_s / ref:.2f}" if ref else "—",
                fmt(run.wall_s / n * 1000, 1) if r.fmt else "—",
                fmt(run.rss_mb, 0),
                fmt(r.tree_mb, 0) if r.fmt else "—",
                fmt(run.files) if run.files else "—",
                fmt(run.out_bytes / 1e6, 1) if run.files else "—",
                replace(run, rss_mb=max(run.rss_mb, r.tree_mb)).verdict(GOAL_S, GOAL_RSS_MB),
            ]
        )
    print_table(
        HEADER,
        table,
        title=(
            f"\nE-invoices of {month.period} for {n} tenants ({tc:,} thin clients, {srv} servers, {prn} printers; "
            f"built in {month.build_s:.1f} s, closed in {month.close_s:.2f} s) through the CLI, "
            "including Python start-up"
        ),
    )
    print()
    print("  × FOCUS: wall time over the FOCUS export's of the same kind (first or re-export) in this run")
    if n >= AHEAD_MIN:
        print(f"  ZUGFeRD rendered ahead in {usable_cpus()} worker processes (one per CPU) but for `--jobs 1`")
    else:
        print(f"  every run renders in the CLI process alone (workers only from {AHEAD_MIN} tenants on)")
    print("  every re-export wrote the same bytes as the first export (and was verified against the archive)")
    print("  peak RSS: ru_maxrss of the CLI process itself (forked by bench/metering.py's small launcher);")
    print("  tree MB: peak summed PSS of the CLI, its fork server and workers (sampled, 20 ms); the goal")
    print("  column takes the larger of the two")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench/einvoice.py",
        description="XRechnung and ZUGFeRD e-invoices for every tenant of a closed month, next to FOCUS, via the CLI.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 30 tenants, a tenth of the fleet")
    parser.add_argument("--tenants", type=int, default=300, help="tenants (member municipalities) billed")
    parser.add_argument("--thin-clients", type=int, default=2200, help="cloud workplaces of the provider")
    parser.add_argument("--servers", type=int, default=154, help="servers of the provider")
    parser.add_argument("--printers", type=int, default=40, help="SNMP printers of the provider")
    parser.add_argument("--period", help="month to bill, YYYY-MM (default: the previous month)")
    parser.add_argument("--profile", type=Path, metavar="DIR", help="also cProfile a ZUGFeRD run; keep it in DIR")
    parser.add_argument("--keep", action="store_true", help="keep the temp directory (database, invoices, logs)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.quick:
        args.tenants, args.thin_clients, args.servers, args.printers = 30, 220, 16, 4
    if args.tenants < 1 or args.servers < 1 or args.thin_clients < args.tenants:
        print("bench/einvoice.py: --tenants and --servers at least 1, a thin client per tenant", file=sys.stderr)
        return 2
    print(f"machine: {machine_notes()}", flush=True)
    try:
        with scratch_dir("leitstand-bench-einvoice-", keep=args.keep) as workdir:
            month = build_month(args, workdir)
            print("exporting every tenant's month through the CLI …", flush=True)
            rows = export_all(month, workdir, args.profile)
            report(month, rows)
            sample = sorted((workdir / "out-zugferd-first").glob("*.pdf"))[0]
            print(f"  sample: {sample.name}, sha256 {hashlib.sha256(sample.read_bytes()).hexdigest()[:16]}…")
    except BenchError as exc:
        print(f"bench/einvoice.py: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
