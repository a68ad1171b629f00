"""The built-in alert rules: plain frozen data, one per thing that can go wrong.

A rule compares one number per object (a host, a filesystem, a printer supply,
a UPS, an uplink, a site, a KRITIS application, a tenant) with its threshold;
the gathering step (``gather.py``) computes that number, the evaluation
(``evaluate.py``) applies threshold and ``for``. Thresholds and ``for`` can be
overridden per tenant, site or host in the collector's TOML (``policy.py``).
Texts are German first, English available (``Text``); the templates take the
alert's labels and parameters (``str.format`` fields).
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from ..numbers import number
from ..readiness.model import RUNBOOKS as READINESS_RUNBOOKS
from . import metric_names as m

__all__ = [
    "LANGS",
    "RULES",
    "UNITS",
    "Op",
    "Rule",
    "Severity",
    "Text",
    "by_name",
    "number",
    "render",
    "unit_label",
]

Op = Literal[">=", ">", "<=", "<"]
Severity = Literal["critical", "warning", "info"]
LANGS = ("de", "en")


@dataclass(frozen=True)
class Text:
    de: str
    en: str

    def get(self, lang: str = "de") -> str:
        return self.en if lang == "en" else self.de


@dataclass(frozen=True)
class Rule:
    name: str
    severity: Severity
    #: the kind of object the number is about: host, disk, printer, supply, ups, uplink, site, application, tenant
    watches: str
    #: the comparison that breaches: value <op> threshold
    op: Op
    threshold: float
    unit: str
    #: seconds the breach must last before the alert fires
    for_s: float
    runbook: str
    summary: Text
    description: Text
    #: one sentence on what the rule watches (docs, exported rules)
    help: Text
    #: PromQL over metric_names, with {threshold}; for `rules export`
    expr: str
    #: static labels added to every alert of the rule
    labels: tuple[tuple[str, str], ...] = ()
    #: host roles the rule applies to (empty: all)
    roles: tuple[str, ...] = ()
    #: seconds a firing alert stays firing after its condition clears
    keep_firing_for_s: float = 0.0
    #: further runbooks its description links to (KRITIS checks)
    related_runbooks: tuple[str, ...] = ()

    def breached(self, value: float, threshold: float) -> bool:
        if math.isnan(value):
            return False
        if self.op == ">=":
            return value >= threshold
        if self.op == ">":
            return value > threshold
        if self.op == "<=":
            return value <= threshold
        return value < threshold

    def worse(self, a: float, b: float) -> float:
        """The value of two observations of one object that is further into breach."""
        return max(a, b) if self.op in (">=", ">") else min(a, b)

    @property
    def runbooks(self) -> tuple[str, ...]:
        return (self.runbook, *self.related_runbooks)


#: how each rule unit reads in a text; a unit missing here fails the alert text tests
UNITS: dict[str, Text] = {
    "": Text("", ""),
    "%": Text("%", "%"),
    "h": Text("h", "h"),
    "s": Text("s", "s"),
    "intervals": Text("Intervalle", "intervals"),
    "gaps": Text("Lücken", "gaps"),
    "errors": Text("Störungen", "errors"),
    "uplinks": Text("Uplinks", "uplinks"),
    "entries": Text("Einträge", "entries"),
}


def unit_label(unit: str, lang: str) -> str:
    return UNITS[unit].get(lang) if unit in UNITS else unit


class _Lenient(dict[str, object]):
    def __missing__(self, key: str) -> str:
        return "?"


def render(template: str, params: Mapping[str, object], lang: str = "en") -> str:
    """Fill a template; a missing parameter shows as `?`, a bad format spec as
    the raw value; numbers are written as `lang` writes them (`number`)."""
    values = _Lenient(params)
    out = []
    for literal, field, spec, _conv in string.Formatter().parse(template):
        out.append(literal)
        if field is None:
            continue
        value = values[field]
        try:
            if isinstance(value, int | float) and not isinstance(value, bool):
                out.append(number(value, spec or "", lang))
            else:
                out.append(format(value, spec or ""))
        except (TypeError, ValueError):
            out.append(str(value))
    return "".join(out)


_HOST = 'role=~"server|vm"'

RULES: tuple[Rule, ...] = (
    Rule(
        name="host_down",
        severity="critical",
        watches="host",
        op=">=",
        threshold=3,
        unit="intervals",
        for_s=120,
        roles=("server", "vm"),
        runbook="host-down",
        summary=Text("Host {host} meldet sich nicht", "Host {host} is not reporting"),
        description=Text(
            "Seit {silent_for} keine Meldung von {host} (Standort {site}, Mandant {tenant}); "
            "erwartet etwa alle {period_s:.0f} s, Schwelle {threshold:g} Intervalle.",
            "No report from {host} (site {site}, tenant {tenant}) for {silent_for}; "
            "expected about every {period_s:.0f} s, threshold {threshold:g} intervals.",
        ),
        help=Text(
            "Ein Server oder eine VM hat mehrere Sendeintervalle lang nichts gemeldet.",
            "A server or VM has not reported for several send intervals.",
        ),
        expr=(
            f"(time() - {m.HOST_LAST_REPORT_TIMESTAMP}{{{_HOST}}}) / {m.HOST_SEND_INTERVAL}{{{_HOST}}} >= {{threshold}}"
        ),
    ),
    Rule(
        name="disk_will_fill",
        severity="warning",
        watches="disk",
        op="<",
        threshold=24,
        unit="h",
        for_s=1800,
        runbook="disk-will-fill",
        summary=Text(
            "Dateisystem {mount} auf {host} ist in etwa {value:.0f} h voll",
            "Filesystem {mount} on {host} will be full in about {value:.0f} h",
        ),
        description=Text(
            "{mount} auf {host} ist zu {used_pct:.1f} % belegt und wächst um {growth_gib_h:.2f} GiB/h "
            "(lineare Hochrechnung über {window_h:g} h); Schwelle {threshold:g} h.",
            "{mount} on {host} is {used_pct:.1f} % used and grows by {growth_gib_h:.2f} GiB/h "
            "(linear projection over {window_h:g} h); threshold {threshold:g} h.",
        ),
        help=Text(
            "Lineare Hochrechnung der Belegung eines Dateisystems: voll innerhalb der Schwelle (Stunden).",
            "Linear projection of a filesystem's usage: full within the threshold (hours).",
        ),
        # the value is hours until full, as in the collector's own evaluation ({window}: the projection window)
        expr=(
            f"({m.HOST_DISK_SIZE_BYTES} - {m.HOST_DISK_USED_BYTES})"
            f" / (deriv({m.HOST_DISK_USED_BYTES}[{{window}}]) * 3600) < {{threshold}}"
            f" and deriv({m.HOST_DISK_USED_BYTES}[{{window}}]) > 0"
        ),
    ),
    Rule(
        name="disk_full",
        severity="critical",
        watches="disk",
        op=">=",
        threshold=90,
        unit="%",
        for_s=300,
        runbook="disk-full",
        summary=Text(
            "Dateisystem {mount} auf {host} zu {value:.1f} % belegt",
            "Filesystem {mount} on {host} is {value:.1f} % full",
        ),
        description=Text(
            "{mount} auf {host} (Mandant {tenant}): {free_gib:.1f} GiB frei von {size_gib:.1f} GiB; "
            "Schwelle {threshold:g} %.",
            "{mount} on {host} (tenant {tenant}): {free_gib:.1f} GiB free of {size_gib:.1f} GiB; "
            "threshold {threshold:g} %.",
        ),
        help=Text(
            "Belegung eines Dateisystems über der Schwelle (Prozent).",
            "Filesystem usage above the threshold (percent).",
        ),
        expr=f"100 * {m.HOST_DISK_USED_BYTES} / {m.HOST_DISK_SIZE_BYTES} >= {{threshold}}",
    ),
    Rule(
        name="memory_pressure",
        severity="warning",
        watches="host",
        op=">=",
        threshold=95,
        unit="%",
        for_s=600,
        runbook="memory-pressure",
        summary=Text("Arbeitsspeicher auf {host} zu {value:.1f} % belegt", "Memory on {host} is {value:.1f} % used"),
        description=Text(
            "{host}: {used_gib:.1f} von {total_gib:.1f} GiB belegt, Swap {swap_pct:.0f} %; Schwelle {threshold:g} %.",
            "{host}: {used_gib:.1f} of {total_gib:.1f} GiB used, swap {swap_pct:.0f} %; threshold {threshold:g} %.",
        ),
        help=Text(
            "Belegter Arbeitsspeicher über der Schwelle (Prozent).", "Memory in use above the threshold (percent)."
        ),
        expr=f"100 * {m.HOST_MEMORY_USED_BYTES} / {m.HOST_MEMORY_TOTAL_BYTES} >= {{threshold}}",
    ),
    Rule(
        name="cpu_saturated",
        severity="warning",
        watches="host",
        op=">=",
        threshold=95,
        unit="%",
        for_s=900,
        runbook="cpu-saturated",
        summary=Text("CPU auf {host} ausgelastet ({value:.0f} %)", "CPU on {host} saturated ({value:.0f} %)"),
        description=Text(
            "{host} ({cpu_count} Kerne, Last {load1}) liegt dauerhaft über {threshold:g} % CPU.",
            "{host} ({cpu_count} cores, load {load1}) stays above {threshold:g} % CPU.",
        ),
        help=Text(
            "CPU-Auslastung dauerhaft über der Schwelle (Prozent).", "CPU busy above the threshold for long (percent)."
        ),
        expr=f"{m.HOST_CPU_PERCENT} >= {{threshold}}",
    ),
    Rule(
        name="agent_clock_skew",
        severity="warning",
        watches="host",
        op=">=",
        threshold=120,
        unit="s",
        for_s=600,
        runbook="agent-clock-skew",
        summary=Text("Uhr auf {host} geht {value:.0f} s vor", "Clock on {host} is {value:.0f} s ahead"),
        description=Text(
            "Die neueste Meldung von {host} trägt einen Zeitstempel {value:.0f} s nach ihrem Eingang; "
            "Schwelle {threshold:g} s. Zeitreihen und Abrechnung werden falsch zugeordnet.",
            "The newest report of {host} is stamped {value:.0f} s after it arrived; threshold {threshold:g} s. "
            "Time series and metering are misattributed.",
        ),
        help=Text(
            "Die Uhr des Agenten geht gegenüber dem Collector vor.", "The agent's clock runs ahead of the collector's."
        ),
        expr=f"-{m.HOST_REPORT_DELAY} >= {{threshold}}",
    ),
    Rule(
        name="agent_spool_backlog",
        severity="warning",
        watches="host",
        op=">=",
        threshold=900,
        unit="s",
        for_s=600,
        runbook="agent-spool-backlog",
        summary=Text("Agent auf {host} liefert {delay} verspätet", "Agent on {host} delivers {delay} late"),
        description=Text(
            "Die neueste Meldung von {host} kam {delay} nach ihrem Zeitstempel an (Schwelle {threshold:g} s): "
            "der Agent arbeitet einen Rückstau ab oder seine Uhr geht nach.",
            "The newest report of {host} arrived {delay} after its timestamp (threshold {threshold:g} s): "
            "the agent is draining a backlog or its clock is behind.",
        ),
        help=Text(
            "Meldungen kommen lange nach ihrem Zeitstempel an (Rückstau im Spool oder Uhr geht nach).",
            "Reports arrive long after their timestamp (spool backlog or a clock behind).",
        ),
        expr=f"{m.HOST_REPORT_DELAY} >= {{threshold}}",
    ),
    Rule(
        name="agent_data_gaps",
        severity="warning",
        watches="host",
        op=">=",
        threshold=1,
        unit="gaps",
        for_s=1800,
        runbook="agent-data-gaps",
        summary=Text("Datenlücken bei {host}", "Data gaps from {host}"),
        description=Text(
            "{host} hat {value:.0f} offene Lücke(n) in der Meldungsfolge: Meldungen gingen verloren "
            "(Spool übergelaufen) und fehlen in Zeitreihen und Abrechnung.",
            "{host} has {value:.0f} open gap(s) in its report sequence: reports were lost (spool overflow) "
            "and are missing from time series and metering.",
        ),
        help=Text("Offene Lücken in der Meldungsfolge eines Agenten.", "Open gaps in an agent's report sequence."),
        expr=f"{m.HOST_DATA_GAPS} >= {{threshold}}",
    ),
    Rule(
        name="printer_supply_low",
        severity="warning",
        watches="supply",
        op="<=",
        threshold=10,
        unit="%",
        for_s=0,
        runbook="printer-supply-low",
        summary=Text(
            "Drucker {device}: {supply} fast leer ({value:.0f} %)",
            "Printer {device}: {supply} almost empty ({value:.0f} %)",
        ),
        description=Text(
            "{supply} ({supply_type}) in {device} (Standort {site}, Mandant {tenant}) steht bei {value:.0f} %; "
            "Schwelle {threshold:g} %. Bei Resttonerbehältern ist es der freie Platz.",
            "{supply} ({supply_type}) in {device} (site {site}, tenant {tenant}) is at {value:.0f} %; "
            "threshold {threshold:g} %. For waste toner boxes it is the space left.",
        ),
        help=Text(
            "Füllstand eines Druckerverbrauchsmaterials (SNMP) unter der Schwelle (Prozent).",
            "A printer supply's level (SNMP) below the threshold (percent).",
        ),
        expr=f"{m.PRINTER_SUPPLY_LEVEL_PERCENT} <= {{threshold}}",
    ),
    Rule(
        name="printer_error",
        severity="warning",
        watches="printer",
        op=">=",
        threshold=1,
        unit="errors",
        for_s=120,
        runbook="printer-error",
        summary=Text("Drucker {device} gestört: {errors}", "Printer {device} has a fault: {errors}"),
        description=Text(
            "{device} (Standort {site}, Mandant {tenant}) meldet: {errors}.",
            "{device} (site {site}, tenant {tenant}) reports: {errors}.",
        ),
        help=Text(
            "Der Drucker meldet eine Störung (Papierstau, Klappe offen, offline, Wartung, kritische Meldung).",
            "The printer reports a fault (jam, door open, offline, service, critical alert).",
        ),
        expr=f"count by (tenant, site, device) ({m.PRINTER_ERROR} == 1) >= {{threshold}}",
    ),
    Rule(
        name="ups_on_battery",
        severity="critical",
        watches="ups",
        op=">=",
        threshold=1,
        unit="",
        for_s=0,
        runbook="ups-on-battery",
        summary=Text("USV {device} läuft auf Batterie", "UPS {device} is on battery"),
        description=Text(
            "{device} (Standort {site}) versorgt seit {on_battery_for} aus der Batterie; "
            "Ladung {charge}, Restlaufzeit {runtime}.",
            "{device} (site {site}) has been on battery for {on_battery_for}; charge {charge}, runtime {runtime}.",
        ),
        help=Text(
            "Die USV hat keinen Netzstrom und läuft auf Batterie.", "The UPS lost mains power and runs on battery."
        ),
        expr=f"{m.UPS_ON_BATTERY} >= {{threshold}}",
    ),
    Rule(
        name="ups_runtime_low",
        severity="critical",
        watches="ups",
        op="<=",
        threshold=600,
        unit="s",
        for_s=0,
        runbook="ups-runtime-low",
        summary=Text("USV {device}: Restlaufzeit nur {runtime}", "UPS {device}: only {runtime} runtime left"),
        description=Text(
            "{device} (Standort {site}) schätzt {runtime} Batterielaufzeit (Schwelle {threshold:g} s); "
            "Ladung {charge}.",
            "{device} (site {site}) estimates {runtime} of battery runtime (threshold {threshold:g} s); "
            "charge {charge}.",
        ),
        help=Text(
            "Geschätzte Batterielaufzeit der USV unter der Schwelle (Sekunden).",
            "The UPS's estimated runtime below the threshold (seconds).",
        ),
        expr=f"{m.UPS_RUNTIME_SECONDS} <= {{threshold}}",
    ),
    Rule(
        name="uplink_down",
        severity="warning",
        watches="uplink",
        op=">=",
        threshold=1,
        unit="",
        for_s=60,
        runbook="uplink-down",
        summary=Text("Uplink {interface} an {device} ausgefallen", "Uplink {interface} on {device} is down"),
        description=Text(
            "Uplink {interface} ({alias}) an Switch {device} (Standort {site}) ist {oper_status}.",
            "Uplink {interface} ({alias}) on switch {device} (site {site}) is {oper_status}.",
        ),
        help=Text(
            "Ein als Uplink markierter Switch-Port ist nicht betriebsbereit.",
            "A switch port marked as uplink is not operationally up.",
        ),
        expr=f"1 - {m.SWITCH_UPLINK_UP} >= {{threshold}}",
    ),
    Rule(
        name="site_uplink_redundancy",
        severity="critical",
        watches="site",
        op="<",
        threshold=2,
        unit="uplinks",
        for_s=300,
        runbook="site-uplink-redundancy",
        summary=Text("Standort {site} ohne redundante Anbindung", "Site {site} without redundant uplink"),
        description=Text(
            "Am Standort {site} (Mandant {tenant}) sind {value:.0f} von {uplinks_total} Uplinks aktiv; "
            "mindestens {threshold:g} nötig. Fällt der letzte aus, ist der Standort abgeschnitten.",
            "At site {site} (tenant {tenant}) {value:.0f} of {uplinks_total} uplinks are up; at least "
            "{threshold:g} needed. If the last one fails, the site is cut off.",
        ),
        help=Text(
            "Weniger aktive Uplinks an einem Standort als die Schwelle.",
            "Fewer active uplinks at a site than the threshold.",
        ),
        expr=f"sum by (tenant, site) ({m.SWITCH_UPLINK_UP}) < {{threshold}}",
    ),
    Rule(
        name="kritis_not_ready",
        severity="critical",
        watches="application",
        op=">=",
        threshold=1,
        unit="",
        for_s=0,
        runbook="kritis-not-ready",
        summary=Text("KRITIS-Anwendung {app} nicht ausfallbereit", "KRITIS application {app} not ready for failover"),
        description=Text(
            "{app} (Mandant {tenant}) ist nicht ausfallbereit. Fehlgeschlagene Prüfungen: {checks}.",
            "{app} (tenant {tenant}) is not ready for failover. Failed checks: {checks}.",
        ),
        help=Text(
            "Die Ausfallbereitschaft einer KRITIS-Anwendung ist `not_ready` (mindestens eine Prüfung fehlgeschlagen).",
            "A KRITIS application's readiness is `not_ready` (at least one check failed).",
        ),
        expr=f'{m.READINESS_STATUS}{{status="not_ready"}} >= {{threshold}}',
        related_runbooks=tuple(sorted(set(READINESS_RUNBOOKS.values()))),
    ),
    Rule(
        name="kritis_degraded",
        severity="warning",
        watches="application",
        op=">=",
        threshold=1,
        unit="",
        for_s=300,
        runbook="kritis-degraded",
        summary=Text("KRITIS-Anwendung {app} eingeschränkt", "KRITIS application {app} degraded"),
        description=Text(
            "{app} (Mandant {tenant}) ist eingeschränkt ausfallbereit. Warnungen: {checks}.",
            "{app} (tenant {tenant}) is degraded. Warnings: {checks}.",
        ),
        help=Text(
            "Die Ausfallbereitschaft einer KRITIS-Anwendung ist `degraded` (Warnungen, kein Fehler).",
            "A KRITIS application's readiness is `degraded` (warnings, no failure).",
        ),
        expr=f'{m.READINESS_STATUS}{{status="degraded"}} >= {{threshold}}',
        related_runbooks=tuple(sorted(set(READINESS_RUNBOOKS.values()))),
    ),
    Rule(
        name="metering_coverage_low",
        severity="warning",
        watches="tenant",
        op="<",
        threshold=95,
        unit="%",
        for_s=3600,
        runbook="metering-coverage-low",
        summary=Text(
            "Abrechnungsdaten für {tenant} unvollständig ({value:.1f} %)",
            "Metering data for {tenant} incomplete ({value:.1f} %)",
        ),
        description=Text(
            "Im Zeitraum {period} kamen {arrived} von {expected} erwarteten Meldungen an ({value:.2f} %; Schwelle "
            "{threshold:g} %). Die Rechnung wäre zu niedrig.",
            "In period {period} {arrived} of {expected} expected reports arrived ({value:.2f} %; threshold "
            "{threshold:g} %). The invoice would be too low.",
        ),
        help=Text(
            "Abdeckung der Abrechnungsdaten eines Mandanten im laufenden Monat unter der Schwelle (Prozent).",
            "A tenant's metering coverage in the running month below the threshold (percent).",
        ),
        expr=f'100 * {m.METERING_COVERAGE_RATIO}{{meter="host_hours"}} < {{threshold}}',
    ),
    Rule(
        name="metering_anomaly",
        severity="warning",
        watches="tenant",
        op=">=",
        threshold=1,
        unit="entries",
        for_s=0,
        runbook="metering-anomaly",
        summary=Text(
            "Unplausible Verbrauchswerte von {tenant} in Quarantäne ({value:.0f})",
            "Implausible usage of {tenant} held in quarantine ({value:.0f})",
        ),
        description=Text(
            "{value:.0f} Verbrauchswerte des Mandanten {tenant} haben die Plausibilitätsprüfung nicht bestanden "
            "(Regeln: {rules}; Zeiträume: {periods}). Sie werden nicht abgerechnet, bis jemand aus der "
            "Abrechnung sie freigibt oder verwirft; vorher lässt sich der Monat nicht abschließen.",
            "{value:.0f} usage quantities of tenant {tenant} failed the plausibility checks (rules: {rules}; "
            "periods: {periods}). They are not billed until a billing operator releases or dismisses them; "
            "until then the month cannot be closed.",
        ),
        help=Text(
            "Ein Mandant hat ungeprüfte Verbrauchswerte in Quarantäne (Anzahl).",
            "A tenant has unreviewed usage quantities in quarantine (count).",
        ),
        expr=f"{m.METERING_QUARANTINE_PENDING} >= {{threshold}}",
    ),
)

_BY_NAME = {r.name: r for r in RULES}


def by_name(name: str) -> Rule | None:
    return _BY_NAME.get(name)
