"""The ``dashboards`` subcommand of leitstand-collector."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from ..errors import CollectorError, ConfigError
from .catalog import DASHBOARDS

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    dashboards = sub.add_parser("dashboards", help="Grafana dashboards: push them to a Grafana")
    dsub = dashboards.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = dsub.add_parser(
        "push",
        help="create the folder, map the datasource, write changed dashboards by uid",
        description="Push the Leitstand dashboards to Grafana over its HTTP API and report what changed.",
    )
    p.add_argument("--grafana-url", required=True, help="e.g. https://grafana.example.org")
    p.add_argument("--token", default=os.environ.get("GRAFANA_TOKEN"), help="service account token ($GRAFANA_TOKEN)")
    p.add_argument("--folder", default="Leitstand", help="folder title (default: Leitstand)")
    p.add_argument("--datasource", default=None, help="Prometheus datasource name (default: Grafana's default one)")
    p.add_argument(
        "--dir", type=Path, default=None, help="push the *.json of this directory instead of the built-in ones"
    )


def _load(directory: Path | None) -> dict[str, Any]:
    if directory is None:
        return {name: d.render() for name, d in DASHBOARDS.items()}
    files = sorted(directory.glob("*.json"))
    if not files:
        raise ConfigError(f"{directory}: no dashboard *.json files")
    out = {}
    for path in files:
        try:
            out[path.name] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: not a dashboard JSON file: {exc}") from exc
    return out


def run(args: argparse.Namespace) -> int:
    try:
        from grafana_client import GrafanaApi

        from .push import push
    except ImportError as exc:
        # an extra of its own: its HTTP stack would shadow urllib3 everywhere else
        raise CollectorError(
            "dashboards push needs grafana-client, which is not installed",
            [
                "install it with: pip install 'leitstand[grafana]'",
                "(or use the dashboards' file provisioning, which needs nothing: see the README)",
            ],
        ) from exc

    if not args.token:
        raise ConfigError("a Grafana token is needed: --token or $GRAFANA_TOKEN")
    api = GrafanaApi.from_url(args.grafana_url, credential=args.token, timeout=30)
    changes = push(api, _load(args.dir), url=args.grafana_url, folder=args.folder, datasource=args.datasource)
    for change in changes:
        print(change)
    written = sum(c.action in ("created", "updated") for c in changes if c.what == "dashboard")
    print(f"{written} dashboard(s) written, {sum(c.action == 'unchanged' for c in changes)} unchanged")
    return 0
