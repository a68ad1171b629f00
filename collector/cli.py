"""`leitstand-collector`: serve the API and administer tenants and tokens.

The only place that configures logging and turns library errors into
messages and exit codes.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from . import __version__, admin, bundled
from .alerting import cli as alerting_cli
from .alerting.config import settings as alert_settings
from .backup import backup
from .config import Config, load_config
from .dashboards import cli as dashboards_cli
from .db import Connection, Target, connect, is_postgres, migrate
from .errors import CollectorError, ConfigError
from .metering import cli as metering_cli
from .paths import DEFAULT_LISTEN, default_config_path, default_db_path
from .readiness import cli as readiness_cli
from .timefmt import when as _when

__all__ = ["main"]

EXIT_USAGE = 2
EXIT_ERROR = 1

EPILOG = """\
examples:
  leitstand-collector serve
  leitstand-collector tenant add stadt-lohne
  leitstand-collector token create --role enroll --tenant stadt-lohne --expires 7d --uses 50
  leitstand-collector token list
  leitstand-collector token revoke 3f9a1c0b7d2e
"""


def _add_db(p: argparse.ArgumentParser) -> None:
    # SUPPRESS, not None: a nested action (`readiness record-test`) adds these
    # again, and its unset default would silently overwrite the parent's value.
    p.add_argument(
        "--db",
        default=argparse.SUPPRESS,
        metavar="PATH|URL",
        help="SQLite file or postgresql://user@host/dbname URL "
        f"(default: the config's server.db, $LEITSTAND_DB, or {default_db_path()})",
    )
    p.add_argument(
        "--config",
        type=Path,
        default=argparse.SUPPRESS,
        help=f"collector config TOML (default: {default_config_path()} if it exists)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="leitstand-collector",
        description="Leitstand collector: receives agent reports, stores them, serves the API.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the HTTP API", description="Run the HTTP API (uvicorn).")
    _add_db(serve)
    serve.add_argument("--listen", default=None, help=f"HOST:PORT (default: {DEFAULT_LISTEN})")

    tenant = sub.add_parser("tenant", help="manage tenants (member municipalities)")
    tsub = tenant.add_subparsers(dest="action", required=True, metavar="ACTION")
    t_add = tsub.add_parser("add", help="add a tenant")
    t_add.add_argument("name", help="lowercase name, e.g. stadt-lohne")
    _add_db(t_add)
    t_list = tsub.add_parser("list", help="list tenants")
    t_list.add_argument("--json", action="store_true", help="print JSON")
    _add_db(t_list)

    token = sub.add_parser("token", help="manage API tokens (stored hashed; shown once)")
    ksub = token.add_subparsers(dest="action", required=True, metavar="ACTION")
    k_create = ksub.add_parser("create", help="create a token and print it once")
    k_create.add_argument("--role", required=True, choices=["enroll", "tenant", "billing", "metrics", "admin"])
    k_create.add_argument("--tenant", help="tenant the token is bound to (enroll and tenant roles)")
    k_create.add_argument("--label", default="", help="free text shown by `token list`")
    k_create.add_argument(
        "--expires",
        metavar="DURATION",
        help='enroll tokens: lifetime such as 30m, 12h, 7d, or "never" (default: 7d)',
    )
    k_create.add_argument(
        "--uses", type=int, metavar="N", help="enroll tokens: at most N enrolments (default: no limit)"
    )
    k_create.add_argument(
        "--replace",
        action="store_true",
        help="enroll tokens: may re-enroll an agent id that is already enrolled (revokes its token; audited)",
    )
    _add_db(k_create)
    k_list = ksub.add_parser("list", help="list tokens (ids and roles, never the secrets)")
    k_list.add_argument("--all", action="store_true", help="include revoked tokens")
    k_list.add_argument("--json", action="store_true", help="print JSON")
    _add_db(k_list)
    k_revoke = ksub.add_parser("revoke", help="revoke a token by its id")
    k_revoke.add_argument("id", help="token id as shown by `token list`")
    _add_db(k_revoke)

    audit = sub.add_parser("audit", help="show the audit log of admin actions")
    audit.add_argument("--limit", type=int, default=50)
    _add_db(audit)

    metering_cli.add_parser(sub, _add_db)

    readiness_cli.add_parser(sub, _add_db)

    alerting_cli.add_parsers(sub, _add_db)

    dashboards_cli.add_parser(sub)

    check = sub.add_parser("check-config", help="validate a config file and exit")
    check.add_argument("file", type=Path)

    backup = sub.add_parser(
        "backup",
        help="copy the live SQLite database to a file (consistent while ingest runs)",
        description="Copy the SQLite database with SQLite's online backup API while the collector runs. "
        "The copy appears at --out only when complete. PostgreSQL: use pg_dump.",
    )
    backup.add_argument("--out", type=Path, required=True, help="file to write, e.g. /var/lib/leitstand/backup.db")
    backup.add_argument("--force", action="store_true", help="replace --out if it exists")
    _add_db(backup)

    files = sub.add_parser(
        "files", help="where the installed runbooks, dashboards, systemd units and default configs are"
    )
    files.add_argument("kind", nargs="?", choices=sorted(bundled.KINDS), help="print only this folder")
    return parser


def _config(args: argparse.Namespace) -> Config:
    path = getattr(args, "config", None)
    if path is None:
        default = default_config_path()
        path = default if default.exists() else None
    return load_config(path)


def _db_path(args: argparse.Namespace, config: Config) -> Target:
    for given in (getattr(args, "db", None), config.server.db, os.environ.get("LEITSTAND_DB")):
        if given:
            # a URL must stay a string: Path() would fold its "//"
            return str(given) if is_postgres(given) else Path(given)
    return default_db_path()


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows]]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.command == "check-config":
        from .preflight import prepare
        from .server import parse_listen

        config = load_config(args.file)
        parse_listen(config.server.listen)
        prepare(config)  # what serve builds before it opens the database: one code path
        print(f"{args.file}: OK")
        _einvoice_readiness(config)
        return 0
    if args.command == "dashboards":
        return dashboards_cli.run(args)
    if args.command == "files":
        kinds = [args.kind] if args.kind else sorted(bundled.KINDS)
        for kind in kinds:
            folder, what = bundled.KINDS[kind]
            print(bundled.path(folder) if args.kind else f"{kind:<13} {bundled.path(folder)}  ({what})")
        return 0
    config = _config(args)
    db_path = _db_path(args, config)
    if args.command == "backup":
        # before connect(): a backup copies the database as it is, never migrated
        result = backup(db_path, args.out, force=args.force)
        print(f"{result.out}: {result.size_bytes / 2**20:.1f} MiB from {result.source} in {result.seconds:.1f} s")
        return 0
    if args.command == "serve":
        from .server import serve

        serve(db_path, config, listen=args.listen or config.server.listen)
        return 0
    if args.command == "rules":
        return alerting_cli.run_rules(args, alert_settings(config.alerts, config.server.listen))
    conn = connect(db_path, synchronous=config.storage.synchronous)
    try:
        migrate(conn)
        if args.command == "meter":
            return metering_cli.run(args, conn, config, _actor())
        if args.command == "readiness":
            return readiness_cli.run(args, conn, config, _actor())
        if args.command == "alerts":
            return alerting_cli.run_alerts(args, conn, alert_settings(config.alerts, config.server.listen), _actor())
        return _admin(args, conn)
    finally:
        conn.close()


def _einvoice_readiness(config: Config) -> None:
    """Per tenant of [invoice.buyers], what an e-invoice would still miss."""
    from .metering.invoice_config import missing

    if not config.invoice.is_configured():
        return
    for tenant in sorted(config.invoice.buyers) or ["(no [invoice.buyers.<tenant>] yet)"]:
        keys = missing(config.invoice, tenant)
        print(f"{tenant}: e-invoice needs {', '.join(keys)}" if keys else f"{tenant}: e-invoice ready")


def _admin(args: argparse.Namespace, conn: Connection) -> int:
    actor = _actor()
    if args.command == "tenant" and args.action == "add":
        admin.add_tenant(conn, args.name, actor=actor)
        print(f"tenant {args.name} added")
    elif args.command == "tenant" and args.action == "list":
        tenants = admin.list_tenants(conn)
        if args.json:
            print(json.dumps(tenants, indent=2))
        else:
            rows = [[str(t["name"]), str(t["hosts"]), _when(t["created_at"])] for t in tenants]
            print(_table(rows, ["TENANT", "HOSTS", "CREATED"]) if rows else "no tenants yet")
    elif args.command == "token" and args.action == "create":
        expires_s = admin.DEFAULT if args.expires is None else admin.parse_lifetime(args.expires)
        token_id, token = admin.create_token(
            conn,
            args.role,
            actor=actor,
            tenant=args.tenant,
            label=args.label,
            expires_s=expires_s,
            uses=args.uses,
            replace=args.replace,
        )
        print(token)
        print(f"token id {token_id} ({args.role}); shown once, only its hash is stored", file=sys.stderr)
        if args.role == "enroll":
            info = next(i for i in admin.list_tokens(conn) if i.id == token_id)
            print(f"  {_enroll_terms(info, time.time())}", file=sys.stderr)
    elif args.command == "token" and args.action == "list":
        infos = admin.list_tokens(conn, include_revoked=args.all)
        now = time.time()
        if args.json:
            print(json.dumps([i.__dict__ for i in infos], indent=2))
        else:
            rows = [
                [
                    i.id,
                    i.role,
                    i.tenant or "-",
                    i.agent_id or "-",
                    i.label,
                    _when(i.created_at),
                    _when(i.revoked_at),
                    _expiry(i, now),
                    _uses(i),
                ]
                for i in infos
            ]
            header = ["ID", "ROLE", "TENANT", "AGENT", "LABEL", "CREATED", "REVOKED", "EXPIRES", "USES LEFT"]
            print(_table(rows, header) if rows else "no tokens")
    elif args.command == "token" and args.action == "revoke":
        admin.revoke_token(conn, args.id, actor=actor)
        print(f"token {args.id} revoked")
    elif args.command == "audit":
        for entry in reversed(admin.list_audit(conn, args.limit)):
            print(f"{_when(entry['ts'])}  {entry['actor']}  {entry['action']}  {entry['target']}  {entry['detail']}")
    return 0


def _expiry(info: admin.TokenInfo, now: float) -> str:
    if info.role != "enroll":
        return "-"
    if info.expires_at is None:
        return "never"
    return f"{_when(info.expires_at)}{' (expired)' if info.expires_at <= now else ''}"


def _uses(info: admin.TokenInfo) -> str:
    if info.role != "enroll":
        return "-"
    left = "unlimited" if info.uses_max is None else f"{info.uses_left}/{info.uses_max}"
    return f"{left}, may replace" if info.may_replace else left


def _enroll_terms(info: admin.TokenInfo, now: float) -> str:
    expires = "never expires" if info.expires_at is None else f"expires {_expiry(info, now)}"
    uses = "no use limit" if info.uses_max is None else f"{info.uses_max} enrolments"
    replace = "; may re-enroll (replace) enrolled agent ids" if info.may_replace else ""
    return f"{expires}, {uses}{replace}"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return run(args)
    except ConfigError as exc:
        print(f"leitstand-collector: config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CollectorError as exc:
        print(f"leitstand-collector: {exc.message}", file=sys.stderr)
        for line in exc.detail:
            print(f"  {line}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
