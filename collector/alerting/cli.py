"""`leitstand-collector alerts ...` and `leitstand-collector rules ...`.

Plugged into collector/cli.py, which owns logging, exit codes and error
messages. The CLI is its own process: it writes with its own connection in a
transaction (like `token create`), and records every write in the audit log
with `cli:<user>` as actor.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import admin
from ..db import Connection, transaction
from ..errors import ConflictError, NotFoundError, ValidationError
from ..timefmt import when as _when
from . import regex, storage
from .config import Settings
from .documents import alert_document, silence_document
from .export import prometheus_rules
from .limits import silence_window
from .model import Ack, Matcher, silencing
from .rules import RULES

__all__ = ["add_parsers", "parse_duration", "run_alerts", "run_rules"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")


def parse_duration(text: str) -> float:
    """`90`, `90s`, `30m`, `2h`, `1d` in seconds."""
    m = _DURATION.match(text)
    if not m:
        raise ValidationError(f"invalid duration {text!r}; e.g. 30m, 2h, 1d")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def _matcher(text: str) -> Matcher:
    name, op, value = re.split(r"(=~|=)", text, maxsplit=1) if "=" in text else (text, "", "")
    if not op or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
        raise ValidationError(f"invalid matcher {text!r}; use NAME=VALUE or NAME=~REGEX, e.g. site=rathaus")
    if op == "=~":
        try:
            regex.check(value)
        except ValidationError as exc:
            raise ValidationError(f"matcher {text!r}: {exc.message}", exc.detail) from exc
    return Matcher(name, value, op == "=~")


def add_parsers(sub: Any, add_db: Callable[[argparse.ArgumentParser], None]) -> None:
    alerts = sub.add_parser(
        "alerts",
        help="alerts: list, acknowledge, silence",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  leitstand-collector alerts list --state firing\n"
        "  leitstand-collector alerts ack 3f9a1c0b7d2e4f10 --comment 'Techniker ist unterwegs'\n"
        "  leitstand-collector alerts silence --match site=rathaus --match rule=~'ups_.*' --duration 2h "
        "--comment 'USV-Wartung'\n"
        "  leitstand-collector alerts unsilence 5e2f0c9a1b3d4e6f",
    )
    asub = alerts.add_subparsers(dest="action", required=True, metavar="ACTION")
    a_list = asub.add_parser("list", help="list alerts (open first, then history)")
    a_list.add_argument("--state", choices=["pending", "firing", "resolved"])
    a_list.add_argument("--tenant")
    a_list.add_argument("--severity", choices=["critical", "warning", "info"])
    a_list.add_argument("--limit", type=int, default=100)
    a_list.add_argument("--lang", choices=["de", "en"], default="de")
    a_list.add_argument("--json", action="store_true", help="print JSON")
    add_db(a_list)
    a_ack = asub.add_parser("ack", help="acknowledge an open alert")
    a_ack.add_argument("id", help="alert id as shown by `alerts list`")
    a_ack.add_argument("--comment", default="")
    add_db(a_ack)
    a_sil = asub.add_parser("silence", help="silence alerts matching labels for a while")
    a_sil.add_argument(
        "--match", action="append", required=True, metavar="NAME=VALUE", help="label matcher (=, or =~ for a regex)"
    )
    when = a_sil.add_mutually_exclusive_group(required=True)
    when.add_argument("--duration", help="e.g. 30m, 2h, 1d")
    when.add_argument("--until", type=float, help="end as Unix time")
    a_sil.add_argument("--comment", default="")
    add_db(a_sil)
    a_unsil = asub.add_parser("unsilence", help="end a silence now")
    a_unsil.add_argument("id", help="silence id as shown by `alerts silences`")
    add_db(a_unsil)
    a_sils = asub.add_parser("silences", help="list silences that have not ended")
    a_sils.add_argument("--json", action="store_true", help="print JSON")
    add_db(a_sils)

    rules = sub.add_parser("rules", help="alert rules: list them, export them for Prometheus")
    rsub = rules.add_subparsers(dest="action", required=True, metavar="ACTION")
    r_list = rsub.add_parser("list", help="list the rules with thresholds and runbooks")
    add_db(r_list)
    r_export = rsub.add_parser(
        "export",
        help="write the rules as a Prometheus alerting rule file (check it with promtool check rules)",
    )
    r_export.add_argument("--out", type=Path, help="file to write (default: stdout)")
    add_db(r_export)


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows]
    )


def run_rules(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "export":
        text = prometheus_rules(settings)
        if args.out is None:
            sys.stdout.write(text)
        else:
            tmp = args.out.with_name(f".{args.out.name}.tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(args.out)
            print(f"{args.out}: {len(RULES)} rules", file=sys.stderr)
        return 0
    rows = [
        [
            r.name,
            r.severity,
            f"{r.op} {settings.policy.thresholds.get(r.name, r.threshold):g} {r.unit}".rstrip(),
            f"{settings.policy.for_s.get(r.name, r.for_s):g} s",
            settings.runbook_link(r.runbook),
        ]
        for r in RULES
    ]
    print(_table(rows, ["RULE", "SEVERITY", "BREACHED WHEN", "FOR", "RUNBOOK"]))
    return 0


def run_alerts(args: argparse.Namespace, conn: Connection, settings: Settings, actor: str) -> int:
    now = time.time()
    if args.action == "list":
        flt = storage.AlertFilter(tenant=args.tenant, state=args.state, severity=args.severity, limit=args.limit)
        silences = storage.active_silences(conn, now)
        docs = []
        for a in storage.list_alerts(conn, flt):
            silence = silencing(a.all_labels(), silences, now) if a.open else None
            docs.append(alert_document(a, lang=args.lang, runbook_url=settings.runbook_url, silence=silence))
        if args.json:
            print(json.dumps(docs, indent=2, ensure_ascii=False))
        elif not docs:
            print("no alerts")
        else:
            rows = [
                [
                    d["id"],
                    d["state"] + (" (silenced)" if d["silenced"] else ""),
                    d["severity"],
                    d["tenant"],
                    _when(d["fired_at"] or d["started_at"]),
                    "ack " + d["acknowledged"]["by"] if d["acknowledged"] else "-",
                    d["summary"],
                ]
                for d in docs
            ]
            print(_table(rows, ["ID", "STATE", "SEVERITY", "TENANT", "SINCE", "ACK", "SUMMARY"]))
        return 0
    if args.action == "ack":
        with transaction(conn):
            alert = storage.get_alert(conn, args.id)
            if alert is None:
                raise NotFoundError(f"no alert {args.id!r} (see: leitstand-collector alerts list)")
            if not alert.open:
                raise ConflictError(f"alert {args.id!r} is already resolved")
            storage.set_ack(conn, args.id, Ack(by=actor, at=now, comment=args.comment))
            admin.audit(conn, actor, "alert.ack", args.id, rule=alert.rule, object=alert.object, comment=args.comment)
        print(f"alert {args.id} acknowledged")
        return 0
    if args.action == "silence":
        matchers = [_matcher(m) for m in args.match]
        until = args.until if args.until is not None else now + parse_duration(args.duration)
        _starts, ends = silence_window(None, until, now, settings.max_silence_s)
        with transaction(conn):
            silence = storage.add_silence(
                conn,
                matchers,
                starts_at=now,
                ends_at=ends,
                created_by=actor,
                comment=args.comment,
                tenant=None,
                now=now,
            )
            admin.audit(
                conn, actor, "silence.create", silence.id, matchers=args.match, starts_at=now, ends_at=ends,
                comment=args.comment, tenant=None,
            )  # fmt: skip
        print(f"silence {silence.id} until {_when(ends)}")
        return 0
    if args.action == "unsilence":
        with transaction(conn):
            if storage.get_silence(conn, args.id) is None:
                raise NotFoundError(f"no silence {args.id!r} (see: leitstand-collector alerts silences)")
            storage.end_silence(conn, args.id, by=actor, now=now)
            admin.audit(conn, actor, "silence.delete", args.id)
        print(f"silence {args.id} ended")
        return 0
    found = storage.list_silences(conn, tenant=None, since=now)
    if args.json:
        print(json.dumps([silence_document(s, now) for s in found], indent=2, ensure_ascii=False))
    elif not found:
        print("no silences")
    else:
        rows = [
            [
                s.id,
                s.state(now),
                ", ".join(f"{m.name}{'=~' if m.is_regex else '='}{m.value}" for m in s.matchers),
                _when(s.starts_at),
                _when(s.ends_at),
                s.created_by,
                s.comment,
            ]
            for s in found
        ]
        print(_table(rows, ["ID", "STATE", "MATCHERS", "FROM", "UNTIL", "BY", "COMMENT"]))
    return 0
