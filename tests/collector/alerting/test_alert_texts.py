"""Every alert rule's summary and description, rendered in German and English
with realistic values, reads right: no English word in German text (nor
German in English), numbers written as the language writes them and of a
sane magnitude (hours, not bytes), the unit named next to the number.

Both ways an alert is worded are checked: the collector's own evaluation
(`alert_document`, what the API, the CLI and the forwarders send) and the
rules `rules export` writes for Prometheus, whose Go templates are rendered
by the real `promtool test rules` over input series that breach every rule.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from collector.alerting.config import AlertsConfig, settings
from collector.alerting.documents import alert_document
from collector.alerting.export import prometheus_rules
from collector.alerting.model import Alert
from collector.alerting.rules import RULES, UNITS, Rule, unit_label
from tests.support import require_tool

TENANT = "zweckverband-kommunale-it-nord"
SITE = "rz-magdeburg-sued"
HOST = "srv-fachverfahren-01"

#: what gather.py passes per rule (names and kinds of values), realistic values
OBSERVED: dict[str, tuple[float, dict[str, Any]]] = {
    "host_down": (7.0, {"host": HOST, "silent_for": "7 min", "period_s": 60.0}),
    "disk_will_fill": (14.7, {"host": HOST, "mount": "/var", "used_pct": 85.3, "growth_gib_h": 0.56, "window_h": 6.0}),
    "disk_full": (95.0, {"host": HOST, "mount": "/srv/daten", "free_gib": 2.79, "size_gib": 55.88}),
    "memory_pressure": (97.5, {"host": HOST, "used_gib": 7.26, "total_gib": 7.45, "swap_pct": 42.0}),
    "cpu_saturated": (98.2, {"host": HOST, "cpu_count": 4, "load1": 7.42}),
    "agent_clock_skew": (300.0, {"host": HOST}),
    "agent_spool_backlog": (1800.0, {"host": HOST, "delay": "30 min"}),
    "agent_data_gaps": (2.0, {"host": HOST}),
    "printer_supply_low": (
        4.0,
        {
            "device": "prn-rathaus-og2",
            "supply": "Black Cartridge TN-2420",
            "supply_type": "Toner",
            "supply_type_en": "toner",
        },
    ),
    "printer_error": (
        2.0,
        {"device": "prn-rathaus-og2", "errors": "Papierstau, Klappe offen", "errors_en": "paper jam, door open"},
    ),
    "ups_on_battery": (
        1.0,
        {"device": "usv-serverraum", "on_battery_for": "4 min", "charge": "82 %", "runtime": "31 min"},
    ),
    "ups_runtime_low": (
        420.0,
        {"device": "usv-serverraum", "on_battery_for": "19 min", "charge": "23 %", "runtime": "7 min"},
    ),
    "uplink_down": (
        1.0,
        {
            "device": "sw-core-1",
            "interface": "Gi0/1",
            "alias": "WAN Telekom",
            "oper_status": "ausgefallen",
            "oper_status_en": "down",
        },
    ),
    "site_uplink_redundancy": (1.0, {"uplinks_total": 2}),
    "kritis_not_ready": (
        1.0,
        {
            "app": "einwohnermeldewesen",
            "checks": "Sicherung zu alt; Standby ohne Reserve",
            "checks_en": "backup too old; standby without headroom",
        },
    ),
    "kritis_degraded": (
        1.0,
        {"app": "einwohnermeldewesen", "checks": "Umschalttest überfällig", "checks_en": "failover test overdue"},
    ),
    "metering_coverage_low": (91.2, {"period": "2026-12", "arrived": 2627, "expected": 2880}),
    "metering_anomaly": (3.0, {"rules": "cpu_above_cores", "periods": "2026-11, 2026-12"}),
}

#: identifiers that are neither language: cut out of a text before its words are judged
NAMES = re.compile(
    r"zweckverband-kommunale-it-nord|rz-magdeburg-sued|srv-fachverfahren-01|prn-rathaus-og2|usv-serverraum|"
    r"sw-core-1|Gi0/1|einwohnermeldewesen|cpu_above_cores|Black Cartridge TN-2420|WAN Telekom|"
    r"/srv/daten|/var|\d{4}-\d\d|`[^`]*`|https?://\S+|Runbook|KRITIS|USV|UPS|CPU|Swap|GiB/h|GiB|Uplinks?|Agent|Host|Toner"
)
ENGLISH = {
    "the", "is", "of", "and", "on", "at", "for", "threshold", "value", "tenant", "site", "intervals", "gaps",
    "errors", "entries", "down", "up", "unknown", "testing", "battery", "full", "hours", "see", "not", "reporting",
    "free", "used", "toner", "printer", "memory", "filesystem", "runtime", "charge", "late", "clock", "ahead",
}  # fmt: skip
GERMAN = {
    "der", "die", "das", "und", "ist", "von", "auf", "seit", "Schwelle", "Wert", "Mandant", "Standort", "Intervalle",
    "Lücken", "Störungen", "Einträge", "läuft", "nicht", "Meldung", "voll", "belegt", "siehe", "Drucker",
    "Restlaufzeit", "Ladung", "frei", "Batterie", "Arbeitsspeicher", "Dateisystem", "ausgefallen",
}  # fmt: skip
#: units of a count: the text says how many, a threshold of 1 needs no unit
COUNTS = {"gaps", "errors", "entries"}
NUMBER = re.compile(r"(?<![\w/.,-])\d+(?:[.,]\d+)*(?![\w-])")


def check_text(rule: Rule, lang: str, summary: str, description: str, *, threshold: float) -> None:
    text = f"{summary} {description}"
    assert "?" not in text and "{" not in text and "}" not in text, text  # a parameter the template did not get
    plain = NAMES.sub(" ", text)
    words = set(re.findall(r"[A-Za-zÄÖÜäöüß]+", plain))
    foreign = words & (ENGLISH if lang == "de" else GERMAN)
    assert not foreign, f"{rule.name} ({lang}) has {sorted(foreign)}: {text}"
    for found in NUMBER.findall(plain):
        if lang == "de":
            assert "." not in found, f"{rule.name}: German numbers use a decimal comma, not {found!r}: {text}"
            value = float(found.replace(",", "."))
        else:
            assert "," not in found, f"{rule.name}: English numbers use a decimal point, not {found!r}: {text}"
            value = float(found)
        assert value <= 100_000, f"{rule.name}: {found} is not a sane magnitude for {rule.unit!r}: {text}"
    if rule.unit in COUNTS:
        listed = rule.name == "printer_error" and "Leitstand" not in text  # names each fault instead of counting
        assert listed or NUMBER.search(plain), f"{rule.name} ({lang}): the count is missing: {text}"
    elif rule.unit:
        label = unit_label(rule.unit, lang)
        assert re.search(rf"\d {re.escape(label)}\b|\d {re.escape(label)}$|\d {re.escape(label)}[ .,;)]", text), (
            f"{rule.name} ({lang}): no number with its unit {label!r}: {text}"
        )
        limit = f"{threshold:g}".replace(".", "," if lang == "de" else ".")
        assert f"{limit} {label}" in text, f"{rule.name} ({lang}): threshold without unit: {text}"


def test_every_rule_has_observed_values_and_a_worded_unit() -> None:
    assert set(OBSERVED) == {r.name for r in RULES}
    assert all(r.unit in UNITS for r in RULES)


@pytest.mark.parametrize("lang", ["de", "en"])
@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_collector_texts_read_right(rule: Rule, lang: str) -> None:
    value, params = OBSERVED[rule.name]
    alert = Alert(
        id="a1",
        rule=rule.name,
        object=f"{TENANT}/{rule.name}",
        tenant=TENANT,
        severity=rule.severity,
        state="firing",
        labels={"site": SITE, **{k: v for k, v in params.items() if k in ("host", "mount", "device", "app")}},
        params=params,
        value=value,
        threshold=rule.threshold,
        started_at=1764870000.0,
        updated_at=1764870000.0,
    )
    doc = alert_document(alert, lang=lang, runbook_url="https://leitstand.example/api/v1/runbooks/", silence=None)
    check_text(rule, lang, doc["summary"], doc["description"], threshold=rule.threshold)


def test_german_texts_write_numbers_the_german_way() -> None:
    value, params = OBSERVED["disk_full"]
    rule = next(r for r in RULES if r.name == "disk_full")
    alert = Alert("a1", rule.name, "o", TENANT, "critical", "firing", {"site": SITE}, params, value, 90.0, 0.0, 0.0)
    doc = alert_document(alert, lang="de", runbook_url="", silence=None)
    assert doc["summary"] == "Dateisystem /srv/daten auf srv-fachverfahren-01 zu 95,0 % belegt"
    assert "2,8 GiB frei von 55,9 GiB" in doc["description"]


# -- the exported rules, rendered by promtool --------------------------------------------------

HOST_LABELS = f'tenant="{TENANT}", site="{SITE}", role="server"'
DEVICE_LABELS = f'tenant="{TENANT}", site="{SITE}"'
EVAL = "117m"
#: one series per line: (series, values over 1-minute steps); each rule breaches by EVAL for longer than its `for`
SERIES = [
    # srv-fachverfahren-01 stopped reporting at minute 110 (every 60 s before)
    (f'leitstand_host_last_report_timestamp_seconds{{{HOST_LABELS}, host="{HOST}", agent_id="a1"}}',
     "0+60x110 6600x90"),
    (f'leitstand_host_send_interval_seconds{{{HOST_LABELS}, host="{HOST}", agent_id="a1"}}', "60x200"),
    # srv-dms-02: /var grows 10 MB a minute towards 60 GB, /srv/daten is 95 % full
    (f'leitstand_host_disk_used_bytes{{{HOST_LABELS}, host="srv-dms-02", agent_id="a2", mount="/var"}}',
     "50000000000+10000000x200"),
    (f'leitstand_host_disk_size_bytes{{{HOST_LABELS}, host="srv-dms-02", agent_id="a2", mount="/var"}}',
     "60000000000x200"),
    (f'leitstand_host_disk_used_bytes{{{HOST_LABELS}, host="srv-dms-02", agent_id="a2", mount="/srv/daten"}}',
     "57000000000x200"),
    (f'leitstand_host_disk_size_bytes{{{HOST_LABELS}, host="srv-dms-02", agent_id="a2", mount="/srv/daten"}}',
     "60000000000x200"),
    (f'leitstand_host_memory_used_bytes{{{HOST_LABELS}, host="srv-dms-02", agent_id="a2"}}', "7800000000x200"),
    (f'leitstand_host_memory_total_bytes{{{HOST_LABELS}, host="srv-dms-02", agent_id="a2"}}', "8000000000x200"),
    (f'leitstand_host_cpu_percent{{{HOST_LABELS}, host="srv-dms-02", agent_id="a2"}}', "98.2x200"),
    (f'leitstand_host_report_delay_seconds{{{HOST_LABELS}, host="srv-dms-02", agent_id="a2"}}', "-300x200"),
    (f'leitstand_host_report_delay_seconds{{{HOST_LABELS}, host="srv-mail-03", agent_id="a3"}}', "1800x200"),
    (f'leitstand_host_data_gaps{{{HOST_LABELS}, host="srv-mail-03", agent_id="a3"}}', "2x200"),
    (f'leitstand_printer_supply_level_percent{{{DEVICE_LABELS}, device="prn-rathaus-og2", supply="Black Cartridge"}}',
     "4x200"),
    (f'leitstand_printer_error{{{DEVICE_LABELS}, device="prn-rathaus-og2", error="jammed"}}', "1x200"),
    (f'leitstand_ups_on_battery{{{DEVICE_LABELS}, device="usv-serverraum"}}', "1x200"),
    (f'leitstand_ups_runtime_seconds{{{DEVICE_LABELS}, device="usv-serverraum"}}', "420x200"),
    (f'leitstand_switch_uplink_up{{{DEVICE_LABELS}, device="sw-core-1", interface="Gi0/1"}}', "0x200"),
    (f'leitstand_switch_uplink_up{{{DEVICE_LABELS}, device="sw-core-1", interface="Gi0/2"}}', "1x200"),
    (f'leitstand_readiness_status{{tenant="{TENANT}", app="einwohnermeldewesen", status="not_ready"}}', "1x200"),
    (f'leitstand_readiness_status{{tenant="{TENANT}", app="gewerbeamt", status="degraded"}}', "1x200"),
    (f'leitstand_metering_coverage_ratio{{tenant="{TENANT}", meter="host_hours"}}', "0.912x200"),
    (f'leitstand_metering_quarantine_pending{{tenant="{TENANT}"}}', "3x200"),
]  # fmt: skip
PROM_NAMES = re.compile(r"srv-dms-02|srv-mail-03|gewerbeamt|Black Cartridge|\(siehe Leitstand\)|\(see Leitstand\)")


def _rendered_by_promtool(tmp_path: Path, lang: str) -> dict[str, list[dict[str, str]]]:
    """alertname -> the annotations of its firing alerts at EVAL, as Prometheus renders them."""
    promtool = require_tool("promtool", "prometheus")
    rules = tmp_path / f"rules-{lang}.yml"
    rules.write_text(prometheus_rules(settings(AlertsConfig(lang=lang))))  # type: ignore[arg-type]
    # an expectation no alert meets: promtool then prints every alert it got, rendered
    tests = {
        "rule_files": [rules.name],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in SERIES],
                "alert_rule_test": [
                    {"eval_time": EVAL, "alertname": r.name, "exp_alerts": [{"exp_labels": {"never": "x"}}]}
                    for r in RULES
                ],
            }
        ],
    }
    test_file = tmp_path / f"test-{lang}.yml"
    test_file.write_text(json.dumps(tests))  # JSON is YAML
    run = subprocess.run([promtool, "test", "rules", test_file.name], cwd=tmp_path, capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    output = run.stdout + run.stderr
    got: dict[str, list[dict[str, str]]] = {}
    for block in re.split(r"\n\s*alertname: ", output)[1:]:
        name = block.split(",", 1)[0]
        annotations = re.findall(r"Annotations:\{(.*)\}\s*$", block.split("got:", 1)[1], flags=re.M)
        got[name] = [
            {k: json.loads(f'"{v}"') for k, v in re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', a)} for a in annotations
        ]
    assert got, output
    return got


@pytest.mark.parametrize("lang", ["de", "en"])
def test_exported_rule_texts_read_right_as_prometheus_renders_them(tmp_path: Path, lang: str) -> None:
    got = _rendered_by_promtool(tmp_path, lang)
    silent = [r.name for r in RULES if not got.get(r.name)]
    assert not silent, f"the input series breach every rule; these did not fire: {silent}"
    for rule in RULES:
        for texts in got[rule.name]:
            summary = PROM_NAMES.sub("Leitstand", texts["summary"])
            description = PROM_NAMES.sub("Leitstand", texts["description"])
            check_text(rule, lang, summary, description, threshold=rule.threshold)
    (will_fill,) = got["disk_will_fill"]
    # 8.83 GB free, growing 0.6 GB/h: about 14.7 hours, in hours
    hours = "14,7" if lang == "de" else "14.7"
    assert f" {hours} h" in will_fill["description"], will_fill
