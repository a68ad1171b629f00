"""``leitstand-collector readiness``: status table (cron/audit exit code),
``record-test`` and ``report``. Wired into collector/cli.py, which owns error
handling and exit codes of library errors."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import Config
from ..db import Connection
from ..errors import NotFoundError, ValidationError
from .api import checks_document, summary_document
from .config import settings as readiness_settings
from .evaluate import BERLIN, evaluate, parse_test_date, record_failover_test, record_transitions
from .report import report_document, report_json, report_markdown

__all__ = ["EXIT_NOT_READY", "add_parser", "run"]

#: `readiness` exit code when a KRITIS application (or the --app given) is not ready
EXIT_NOT_READY = 3


def add_parser(sub: Any, add_db: Callable[[argparse.ArgumentParser], None]) -> None:
    readiness = sub.add_parser(
        "readiness",
        help="failover readiness of the configured applications",
        description="Evaluate readiness now. Exit 0 only if every KRITIS application is ready "
        f"(with --app: that application), {EXIT_NOT_READY} otherwise.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  leitstand-collector readiness\n"
        "  leitstand-collector readiness --app fachverfahren-emw --json\n"
        "  leitstand-collector readiness record-test --app fachverfahren-emw --date 2026-03-14 --result passed\n"
        "  leitstand-collector readiness report --tenant stadt-lohne --from 2026-01-01 --to 2026-12-31 --format md",
    )
    readiness.add_argument("--app", help="one application (default: all)")
    readiness.add_argument("--json", action="store_true", help="print JSON with checks and evidence")
    readiness.add_argument("--lang", choices=["de", "en"], default="de", help="language of titles and evidence")
    add_db(readiness)
    rsub = readiness.add_subparsers(dest="action", required=False, metavar="ACTION")
    rec = rsub.add_parser("record-test", help="record a failover test of an application (audited)")
    rec.add_argument("--app", required=True, help="application name from the config")
    rec.add_argument("--date", help="YYYY-MM-DD the test took place (default: today)")
    rec.add_argument("--result", required=True, choices=["passed", "failed"])
    rec.add_argument("--note", default="", help="free text, e.g. the test protocol's id")
    add_db(rec)
    rep = rsub.add_parser("report", help="readiness report of a tenant for the annual review (Markdown or JSON)")
    rep.add_argument("--tenant", required=True)
    rep.add_argument("--from", dest="start", help="YYYY-MM-DD (default: one year before --to)")
    rep.add_argument("--to", dest="end", help="YYYY-MM-DD (default: today)")
    rep.add_argument("--format", choices=["md", "json"], default="md")
    rep.add_argument("--all", action="store_true", help="every application of the tenant, not only KRITIS ones")
    rep.add_argument("--lang", choices=["de", "en"], default="de", help="language of the evidence texts")
    rep.add_argument("--out", type=Path, help="file to write (default: stdout)")
    add_db(rep)


def _date(raw: str, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw)
    except ValueError as exc:
        raise ValidationError(f"{what}: invalid date {raw!r}, use YYYY-MM-DD") from exc


def run(args: argparse.Namespace, conn: Connection, config: Config, actor: str) -> int:
    settings = readiness_settings(config.readiness)
    now = time.time()
    if args.action == "record-test":
        date = parse_test_date(args.date, now)
        record_failover_test(
            conn, settings, args.app, date=date, result=args.result, note=args.note, actor=actor, now=now
        )
        print(f"failover test of {args.app} on {date.isoformat()} recorded: {args.result}")
        return 0
    if args.action == "report":
        today = dt.datetime.fromtimestamp(now, BERLIN).date()
        end = _date(args.end, "--to") if args.end else today
        start = _date(args.start, "--from") if args.start else end.replace(year=end.year - 1) + dt.timedelta(days=1)
        if start > end:
            raise ValidationError("--from lies after --to")
        doc = report_document(
            conn, settings, args.tenant, start=start, end=end, now=now, lang=args.lang, include_all=args.all
        )
        content = report_markdown(doc) if args.format == "md" else report_json(doc)
        if args.out:
            args.out.write_bytes(content)
            print(f"{args.out}: {len(doc['applications'])} applications", file=sys.stderr)
        else:
            sys.stdout.buffer.write(content)
        return 0
    apps = settings.applications
    if args.app:
        one = settings.application(args.app)
        if one is None:
            known = ", ".join(a.name for a in apps) or "none configured"
            raise NotFoundError(f"unknown application {args.app!r} (configured: {known})")
        apps = (one,)
    evaluations = evaluate(conn, settings, now, apps)
    record_transitions(conn, evaluations)
    if args.json:
        docs = [{**summary_document(ev, None), "checks": checks_document(ev, args.lang)} for ev in evaluations]
        for doc in docs:
            del doc["since"]
        print(json.dumps({"applications": docs}, indent=2, ensure_ascii=False))
    elif not evaluations:
        print("no applications configured ([[readiness.applications]] in the collector config)")
    else:
        _print_table(evaluations, args.lang)
    relevant = evaluations if args.app else [ev for ev in evaluations if ev.app.criticality == "kritis"]
    return 0 if all(ev.status == "ready" for ev in relevant) else EXIT_NOT_READY


def _print_table(evaluations: list[Any], lang: str) -> None:
    rows = [
        [ev.app.name, ev.app.tenant, ev.app.criticality, ev.status, str(ev.score), ", ".join(ev.failed) or "-"]
        for ev in evaluations
    ]
    header = ["APPLICATION", "TENANT", "CRITICALITY", "STATUS", "SCORE", "FAILED"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    for ev in evaluations:
        for check in checks_document(ev, lang):
            if check["verdict"] == "pass":
                continue
            print(f"\n{ev.app.name}: {check['title']} [{check['verdict']}] runbook {check['runbook']}")
            for finding in check["evidence"]:
                if finding["verdict"] != "pass":
                    print(f"  - {finding['text']}")
