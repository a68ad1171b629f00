"""The collector config (TOML) that declares the small fleet's data centres and KRITIS
applications for failover readiness."""

from __future__ import annotations

import json
from collections.abc import Sequence

from .model import KRITIS_APPS, SITES, TOWNS, SimDevice, SimHost


def _toml_str(value: str) -> str:
    return json.dumps(value)  # a TOML basic string for the plain ASCII written here


def collector_config(hosts: Sequence[SimHost]) -> str:
    """A collector config (TOML) declaring the fleet's data centres (coordinates, the UPS and
    core switch polled there) and its KRITIS applications with their instances and evidence
    (README "Failover readiness"); empty applications when the fleet has no KRITIS servers."""
    devices: dict[str, list[SimDevice]] = {}
    for h in hosts:
        if h.site in SITES:
            devices.setdefault(h.site, []).extend(h.devices)
    lines = [
        "# The simulated fleet's data centres and KRITIS applications (python -m collector.sim --collector-config).",
        "# Failover tests are recorded with `leitstand-collector readiness record-test`.",
        "",
    ]
    for site, (lat, lon) in SITES.items():
        ups = list(dict.fromkeys(d.device for d in devices.get(site, []) if d.kind == "ups"))
        switches = list(dict.fromkeys(d.device for d in devices.get(site, []) if d.kind == "switch"))
        lines += [
            f"[readiness.sites.{site}]",
            f"lat = {lat}",
            f"lon = {lon}",
            f"ups = [{', '.join(map(_toml_str, ups))}]",
            f"switches = [{', '.join(map(_toml_str, switches))}]",
            "",
        ]
    for app in KRITIS_APPS:
        servers = {role: [h for h in hosts if h.kritis == (app, role)] for role in ("primary", "standby")}
        if not servers["primary"]:
            continue
        instances = [f'  {{host = {_toml_str(h.hostname)}, site = {_toml_str(h.site)}, role = "{role}"}},'
                     for role, group in servers.items() for h in group]  # fmt: skip
        standby = servers["standby"][0].hostname
        lines += [
            f"# {app.title}",
            "[[readiness.applications]]",
            f"name = {_toml_str(app.name)}",
            f"tenant = {_toml_str(TOWNS[app.tenant_index][0])}",
            'criticality = "kritis"',
            f"rpo = {_toml_str(app.rpo)}",
            f"rto = {_toml_str(app.rto)}",
            f"mta = {_toml_str(app.mta)}",
            "instances = [",
            *instances,
            "]",
            f'backup = {{metric = "backup_last_success_timestamp_seconds", labels = {{job = {_toml_str(app.job)}}}}}',
            f'replication = {{metric = "pg_replication_lag_seconds", host = {_toml_str(standby)}}}',
            "",
        ]
    return "\n".join(lines)
