"""The five Leitstand dashboards, as code. ``python -m collector.dashboards``
writes them to ``dashboards/*.json`` (committed; a test checks that
regenerating gives the committed files)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .model import Dashboard, Panel, query_var

__all__ = ["DASHBOARDS", "render_all", "write_all"]

T = 'tenant=~"$tenant"'
TS = 'tenant=~"$tenant", site=~"$site"'
H = 'tenant=~"$tenant", site=~"$site", host=~"$host"'
RED_ABOVE_80_90 = (("green", None), ("orange", 80.0), ("red", 90.0))
UP_MAP = [
    {"type": "value", "options": {"0": {"text": "offline", "color": "red"}, "1": {"text": "online", "color": "green"}}}
]
TENANT = query_var("tenant", "Mandant", "leitstand_host_up", "tenant")
SITE = query_var("site", "Standort", 'leitstand_host_up{tenant=~"$tenant"}', "site")

FLEET = Dashboard(
    uid="leitstand-fleet",
    title="Leitstand · Flotte",
    description="All hosts at a glance: who is online, who is full or busy, open alerts, collector health.",
    variables=[TENANT, SITE],
    rows=[
        (
            "Überblick",
            [
                Panel("Hosts online", "stat", [f"sum(leitstand_host_up{{{TS}}})"], thresholds=(("blue", None),)),
                Panel(
                    "Hosts offline",
                    "stat",
                    [f"count(leitstand_host_up{{{TS}}} == 0) or vector(0)"],
                    thresholds=(("green", None), ("red", 1.0)),
                ),
                Panel(
                    "Alarme (feuernd, kritisch)",
                    "stat",
                    [f'sum(leitstand_alerts{{{T}, severity="critical", state="firing"}})'],
                    thresholds=(("green", None), ("red", 1.0)),
                ),
                Panel(
                    "Alarme (feuernd, Warnung)",
                    "stat",
                    [f'sum(leitstand_alerts{{{T}, severity="warning", state="firing"}})'],
                    thresholds=(("green", None), ("orange", 1.0)),
                ),
                Panel(
                    "Datenlücken",
                    "stat",
                    [f"sum(leitstand_host_data_gaps{{{TS}}})"],
                    thresholds=(("green", None), ("orange", 1.0)),
                ),
                Panel(
                    "Sitzungen",
                    "stat",
                    [f"sum(leitstand_host_sessions{{{TS}}})"],
                    thresholds=(("blue", None),),
                ),
            ],
        ),
        (
            "Auslastung",
            [
                Panel(
                    "CPU, höchste 10",
                    "bargauge",
                    [f"topk(10, leitstand_host_cpu_percent{{{TS}}})"],
                    unit="percent",
                    legend="{{host}}",
                    thresholds=RED_ABOVE_80_90,
                    minmax=(0, 100),
                ),
                Panel(
                    "Arbeitsspeicher, höchste 10",
                    "bargauge",
                    [
                        f"topk(10, 100 * leitstand_host_memory_used_bytes{{{TS}}}"
                        f" / leitstand_host_memory_total_bytes{{{TS}}})"
                    ],
                    unit="percent",
                    legend="{{host}}",
                    thresholds=RED_ABOVE_80_90,
                    minmax=(0, 100),
                ),
                Panel(
                    "Dateisysteme, vollste 10",
                    "bargauge",
                    [
                        f"topk(10, 100 * leitstand_host_disk_used_bytes{{{TS}}}"
                        f" / leitstand_host_disk_size_bytes{{{TS}}})"
                    ],
                    unit="percent",
                    legend="{{host}} {{mount}}",
                    thresholds=RED_ABOVE_80_90,
                    minmax=(0, 100),
                ),
                Panel(
                    "Hosts online je Mandant",
                    "timeseries",
                    [f"sum by (tenant) (leitstand_host_up{{{TS}}})"],
                    legend="{{tenant}}",
                ),
                Panel(
                    "Meldeverzug (größter je Mandant)",
                    "timeseries",
                    [f"max by (tenant) (leitstand_host_report_delay_seconds{{{TS}}})"],
                    unit="s",
                    legend="{{tenant}}",
                    thresholds=(("green", None), ("orange", 300.0), ("red", 900.0)),
                ),
                Panel(
                    "Hosts",
                    "table",
                    [f"leitstand_host_up{{{TS}}}"],
                    width=24,
                    mappings=UP_MAP,
                ),
            ],
        ),
        (
            "Collector",
            [
                Panel(
                    "Schreib-Warteschlange",
                    "stat",
                    ["leitstand_collector_writer_queue_depth"],
                    thresholds=(("green", None), ("orange", 1000.0), ("red", 4000.0)),
                ),
                Panel(
                    "Commits/s",
                    "stat",
                    ["rate(leitstand_collector_writer_commits_total[$__rate_interval])"],
                    unit="ops",
                    decimals=2,
                ),
                Panel(
                    "Letzter Commit fehlgeschlagen",
                    "stat",
                    ["leitstand_collector_writer_last_commit_failed"],
                    thresholds=(("green", None), ("red", 1.0)),
                    mappings=[{"type": "value", "options": {"0": {"text": "nein"}, "1": {"text": "ja"}}}],
                ),
                Panel("Datenbank", "stat", ["leitstand_collector_database_size_bytes"], unit="bytes"),
                Panel(
                    "Scrape-Dauer",
                    "stat",
                    ["leitstand_collector_scrape_duration_seconds"],
                    unit="s",
                    thresholds=(("green", None), ("orange", 1.0), ("red", 2.0)),
                ),
                Panel(
                    "Jobs/s",
                    "stat",
                    ["rate(leitstand_collector_writer_jobs_total[$__rate_interval])"],
                    unit="ops",
                    decimals=2,
                ),
            ],
        ),
    ],
)

HOST = Dashboard(
    uid="leitstand-host",
    title="Leitstand · Host",
    description="One host in detail: CPU, memory, filesystems, network, sessions, reporting.",
    variables=[
        TENANT,
        SITE,
        query_var("host", "Host", 'leitstand_host_up{tenant=~"$tenant", site=~"$site"}', "host", multi=False),
    ],
    rows=[
        (
            "Zustand",
            [
                Panel(
                    "Status",
                    "stat",
                    [f"leitstand_host_up{{{H}}}"],
                    mappings=UP_MAP,
                    thresholds=(("red", None), ("green", 1.0)),
                    legend="{{host}}",
                ),
                Panel(
                    "Letzte Meldung vor",
                    "stat",
                    [f"time() - leitstand_host_last_report_timestamp_seconds{{{H}}}"],
                    unit="s",
                    thresholds=(("green", None), ("orange", 300.0), ("red", 900.0)),
                    legend="{{host}}",
                ),
                Panel(
                    "Sendeintervall",
                    "stat",
                    [f"leitstand_host_send_interval_seconds{{{H}}}"],
                    unit="s",
                    legend="{{host}}",
                ),
                Panel(
                    "Datenlücken",
                    "stat",
                    [f"leitstand_host_data_gaps{{{H}}}"],
                    thresholds=(("green", None), ("orange", 1.0)),
                    legend="{{host}}",
                ),
                Panel(
                    "Laufzeit",
                    "stat",
                    [f"time() - leitstand_host_boot_time_seconds{{{H}}}"],
                    unit="s",
                    legend="{{host}}",
                ),
                Panel("Sitzungen", "stat", [f"leitstand_host_sessions{{{H}}}"], legend="{{host}}"),
            ],
        ),
        (
            "Auslastung",
            [
                Panel(
                    "CPU",
                    "timeseries",
                    [f"leitstand_host_cpu_percent{{{H}}}"],
                    unit="percent",
                    legend="{{host}}",
                    thresholds=RED_ABOVE_80_90,
                    minmax=(0, 100),
                ),
                Panel(
                    "Last (1 min) je CPU",
                    "timeseries",
                    [f"leitstand_host_load1{{{H}}} / leitstand_host_cpus{{{H}}}"],
                    legend="{{host}}",
                    decimals=2,
                ),
                Panel(
                    "Arbeitsspeicher",
                    "timeseries",
                    [
                        f"leitstand_host_memory_used_bytes{{{H}}}",
                        f"leitstand_host_memory_total_bytes{{{H}}}",
                        f"leitstand_host_swap_used_bytes{{{H}}}",
                    ],
                    unit="bytes",
                ),
                Panel(
                    "Dateisysteme belegt",
                    "timeseries",
                    [f"100 * leitstand_host_disk_used_bytes{{{H}}} / leitstand_host_disk_size_bytes{{{H}}}"],
                    unit="percent",
                    legend="{{mount}}",
                    thresholds=RED_ABOVE_80_90,
                    minmax=(0, 100),
                ),
                Panel(
                    "Datenträger lesen/schreiben",
                    "timeseries",
                    [
                        f"rate(leitstand_host_disk_read_bytes_total{{{H}}}[$__rate_interval])",
                        f"rate(leitstand_host_disk_written_bytes_total{{{H}}}[$__rate_interval])",
                    ],
                    unit="Bps",
                    legend="{{mount}}",
                ),
                Panel(
                    "Netzwerk",
                    "timeseries",
                    [
                        f"rate(leitstand_host_network_receive_bytes_total{{{H}}}[$__rate_interval]) * 8",
                        f"rate(leitstand_host_network_transmit_bytes_total{{{H}}}[$__rate_interval]) * 8",
                    ],
                    unit="bps",
                    legend="{{nic}}",
                ),
                Panel(
                    "Netzwerkfehler",
                    "timeseries",
                    [
                        f"rate(leitstand_host_network_receive_errors_total{{{H}}}[$__rate_interval])",
                        f"rate(leitstand_host_network_transmit_errors_total{{{H}}}[$__rate_interval])",
                    ],
                    unit="pps",
                    legend="{{nic}}",
                ),
                Panel(
                    "Meldeverzug",
                    "timeseries",
                    [f"leitstand_host_report_delay_seconds{{{H}}}"],
                    unit="s",
                    legend="{{host}}",
                ),
            ],
        ),
    ],
)

D = 'tenant=~"$tenant", site=~"$site"'
DEVICES = Dashboard(
    uid="leitstand-snmp",
    title="Leitstand · SNMP-Geräte",
    description="Printers (pages, supplies, errors), UPS (battery, runtime) and switches (uplinks, traffic).",
    variables=[TENANT, query_var("site", "Standort", 'leitstand_device_up{tenant=~"$tenant"}', "site")],
    rows=[
        (
            "Geräte",
            [
                Panel("Geräte erreichbar", "stat", [f"sum(leitstand_device_up{{{D}}})"], thresholds=(("blue", None),)),
                Panel(
                    "Geräte gestört",
                    "stat",
                    [f"count(leitstand_device_up{{{D}}} == 0) or vector(0)"],
                    thresholds=(("green", None), ("red", 1.0)),
                ),
                Panel("Geräte", "table", [f"leitstand_device_up{{{D}}}"], width=16, mappings=UP_MAP),
            ],
        ),
        (
            "Drucker",
            [
                Panel(
                    "Verbrauchsmaterial",
                    "bargauge",
                    [f"leitstand_printer_supply_level_percent{{{D}}}"],
                    unit="percent",
                    legend="{{device}} {{supply}}",
                    minmax=(0, 100),
                    thresholds=(("red", None), ("orange", 10.0), ("green", 25.0)),
                ),
                Panel(
                    "Seiten je Stunde",
                    "timeseries",
                    [f"sum by (device) (rate(leitstand_printer_pages_total{{{D}}}[$__rate_interval])) * 3600"],
                    legend="{{device}}",
                ),
                Panel("Störungen", "table", [f"sum by (device, error) (leitstand_printer_error{{{D}}})"], width=12),
                Panel("Seitenzähler", "table", [f"leitstand_printer_pages_total{{{D}}}"], width=12),
            ],
        ),
        (
            "USV",
            [
                Panel(
                    "Restlaufzeit",
                    "bargauge",
                    [f"leitstand_ups_runtime_seconds{{{D}}}"],
                    unit="s",
                    legend="{{device}}",
                    thresholds=(("red", None), ("orange", 600.0), ("green", 1200.0)),
                ),
                Panel(
                    "Auf Batterie",
                    "stat",
                    [f"sum(leitstand_ups_on_battery{{{D}}})"],
                    thresholds=(("green", None), ("red", 1.0)),
                ),
                Panel(
                    "Ladung",
                    "gauge",
                    [f"min(leitstand_ups_battery_charge_percent{{{D}}})"],
                    unit="percent",
                    minmax=(0, 100),
                    thresholds=(("red", None), ("orange", 50.0), ("green", 90.0)),
                ),
                Panel(
                    "Last",
                    "timeseries",
                    [f"leitstand_ups_load_percent{{{D}}}"],
                    unit="percent",
                    legend="{{device}}",
                    thresholds=RED_ABOVE_80_90,
                ),
            ],
        ),
        (
            "Switches",
            [
                Panel(
                    "Uplinks oben", "stat", [f"sum(leitstand_switch_uplink_up{{{D}}})"], thresholds=(("blue", None),)
                ),
                Panel(
                    "Uplinks unten",
                    "stat",
                    [f"count(leitstand_switch_uplink_up{{{D}}} == 0) or vector(0)"],
                    thresholds=(("green", None), ("red", 1.0)),
                ),
                Panel("Uplinks", "table", [f"leitstand_switch_uplink_up{{{D}}}"], width=16, mappings=UP_MAP),
                Panel(
                    "Datenverkehr der Uplinks",
                    "timeseries",
                    [
                        f"rate(leitstand_switch_interface_receive_bytes_total{{{D}}}[$__rate_interval]) * 8"
                        f" * on (tenant, site, device, interface) group_left leitstand_switch_uplink_up{{{D}}}",
                        f"rate(leitstand_switch_interface_transmit_bytes_total{{{D}}}[$__rate_interval]) * 8"
                        f" * on (tenant, site, device, interface) group_left leitstand_switch_uplink_up{{{D}}}",
                    ],
                    unit="bps",
                    legend="{{device}} {{interface}}",
                    width=24,
                ),
            ],
        ),
    ],
)

METERING = Dashboard(
    uid="leitstand-metering",
    title="Leitstand · Verbrauch im laufenden Monat",
    description="Per tenant: the running billing month (Europe/Berlin) so far, per meter, with cost if priced.",
    variables=[query_var("tenant", "Mandant", "leitstand_metering_period_quantity", "tenant")],
    time_from="now/M",
    rows=[
        (
            "Monat bis heute",
            [
                Panel(
                    "Kosten netto",
                    "stat",
                    [f'sum(leitstand_metering_period_cost{{{T}, line!="vat"}}) or vector(0)'],
                    unit="currencyEUR",
                    description="Priced lines of the running month; 0 without tariffs.",
                    decimals=2,
                ),
                Panel(
                    "CPU-Kernstunden",
                    "stat",
                    [f'sum(leitstand_metering_period_quantity{{{T}, meter="cpu_core_seconds"}}) / 3600'],
                    decimals=1,
                ),
                Panel(
                    "Arbeitsspeicher GiB·h",
                    "stat",
                    [f'sum(leitstand_metering_period_quantity{{{T}, meter="memory_gib_hours"}})'],
                    decimals=1,
                ),
                Panel(
                    "Speicher GiB·h",
                    "stat",
                    [f'sum(leitstand_metering_period_quantity{{{T}, meter="storage_gib_hours"}})'],
                    decimals=1,
                ),
                Panel(
                    "Netzwerk",
                    "stat",
                    [f'sum(leitstand_metering_period_quantity{{{T}, meter="network_gib"}}) * 2^30'],
                    unit="bytes",
                ),
                Panel(
                    "Host-Stunden",
                    "stat",
                    [f'sum(leitstand_metering_period_quantity{{{T}, meter="host_hours"}})'],
                    decimals=1,
                ),
                Panel(
                    "Gedruckte Seiten",
                    "stat",
                    [f'sum(leitstand_metering_period_quantity{{{T}, meter="printed_pages"}}) or vector(0)'],
                ),
                Panel(
                    "Arbeitsplatz-Tage",
                    "stat",
                    [f'sum(leitstand_metering_period_quantity{{{T}, meter="workplace_days"}}) or vector(0)'],
                ),
                Panel(
                    "Abdeckung (Host-Stunden)",
                    "gauge",
                    [f'min(leitstand_metering_coverage_ratio{{{T}, meter="host_hours"}})'],
                    unit="percentunit",
                    minmax=(0, 1),
                    thresholds=(("red", None), ("orange", 0.95), ("green", 0.99)),
                ),
                Panel("Zähler je Mandant", "table", [f"leitstand_metering_period_quantity{{{T}}}"], width=20),
            ],
        ),
        (
            "Verlauf",
            [
                Panel(
                    "CPU-Kerne im Mittel",
                    "timeseries",
                    [f"sum by (tenant) (rate(leitstand_metering_cpu_seconds_total{{{T}}}[$__rate_interval]))"],
                    legend="{{tenant}}",
                    decimals=2,
                ),
                Panel(
                    "Hosts meldend, je Rolle",
                    "timeseries",
                    [f"sum by (tenant, role) (rate(leitstand_metering_host_seconds_total{{{T}}}[$__rate_interval]))"],
                    legend="{{tenant}} {{role}}",
                    decimals=1,
                ),
                Panel(
                    "Arbeitsspeicher (Mittel)",
                    "timeseries",
                    [f"sum by (tenant) (rate(leitstand_metering_memory_byte_seconds_total{{{T}}}[$__rate_interval]))"],
                    unit="bytes",
                    legend="{{tenant}}",
                ),
                Panel(
                    "Netzwerk",
                    "timeseries",
                    [f"sum by (tenant) (rate(leitstand_metering_network_bytes_total{{{T}}}[$__rate_interval]))"],
                    unit="Bps",
                    legend="{{tenant}}",
                ),
                Panel("Kosten je Posten", "table", [f"leitstand_metering_period_cost{{{T}}}"], width=24),
            ],
        ),
    ],
)

A = 'tenant=~"$tenant", app=~"$app"'
KRITIS = Dashboard(
    uid="leitstand-kritis",
    title="Leitstand · KRITIS-Bereitschaft",
    description="Failover readiness per application: status, score, and every check's verdict.",
    variables=[
        query_var("tenant", "Mandant", "leitstand_readiness_score_ratio", "tenant"),
        query_var("app", "Anwendung", 'leitstand_readiness_score_ratio{tenant=~"$tenant"}', "app"),
    ],
    rows=[
        (
            "Bereitschaft",
            [
                Panel(
                    "Bereit",
                    "stat",
                    [f'sum(leitstand_readiness_status{{{A}, status="ready"}})'],
                    thresholds=(("blue", None),),
                ),
                Panel(
                    "Eingeschränkt",
                    "stat",
                    [f'sum(leitstand_readiness_status{{{A}, status="degraded"}})'],
                    thresholds=(("green", None), ("orange", 1.0)),
                ),
                Panel(
                    "Nicht bereit",
                    "stat",
                    [f'sum(leitstand_readiness_status{{{A}, status="not_ready"}})'],
                    thresholds=(("green", None), ("red", 1.0)),
                ),
                Panel(
                    "Punktzahl",
                    "bargauge",
                    [f"leitstand_readiness_score_ratio{{{A}}}"],
                    unit="percentunit",
                    legend="{{app}}",
                    minmax=(0, 1),
                    thresholds=(("red", None), ("orange", 0.75), ("green", 1.0)),
                    width=12,
                ),
                Panel(
                    "Status im Verlauf",
                    "timeseries",
                    [
                        f'sum by (tenant, app) (leitstand_readiness_status{{{A}, status="ready"}})'
                        f' + 0.5 * sum by (tenant, app) (leitstand_readiness_status{{{A}, status="degraded"}})'
                    ],
                    legend="{{app}}",
                    minmax=(0, 1),
                ),
                Panel(
                    "Prüfungen nicht bestanden",
                    "table",
                    [f'sum by (tenant, app, check) (leitstand_readiness_check_verdict{{{A}, verdict!="pass"}})'],
                    width=12,
                ),
                Panel("Alarme je Schwere", "table", ['sum by (severity, state) (leitstand_alerts{tenant=~"$tenant"})']),
            ],
        ),
    ],
)

DASHBOARDS: dict[str, Dashboard] = {
    "fleet-overview.json": FLEET,
    "host-detail.json": HOST,
    "snmp-devices.json": DEVICES,
    "tenant-metering.json": METERING,
    "kritis-readiness.json": KRITIS,
}


def _dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def render_all() -> dict[str, str]:
    """File name -> JSON text, exactly as committed under dashboards/."""
    return {name: _dumps(d.render()) for name, d in DASHBOARDS.items()}


def write_all(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for name, text in render_all().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        out.append(path)
    return out
