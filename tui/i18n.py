"""Every visible string of the TUI, in German and English, in one catalog.

``t(key, **params)`` formats the string of the current language; the language
is chosen once per process (``set_language``, done by ``make_app``). The
default comes from the locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG``): German
when it starts with ``de``, else English. A test checks that every key used
under ``tui/`` exists here in both languages.
"""

from __future__ import annotations

import locale
import os

__all__ = ["CATALOG", "LANGS", "default_language", "get_language", "set_language", "t", "tv"]

LANGS = ("de", "en")

# key: (de, en)
CATALOG: dict[str, tuple[str, str]] = {
    # app and navigation
    "app.title": ("Leitstand", "Leitstand"),
    "app.subtitle": ("{url}", "{url}"),
    "view.overview": ("Übersicht", "Overview"),
    "view.hosts": ("Hosts", "Hosts"),
    "view.devices": ("Geräte", "Devices"),
    "view.metering": ("Mandanten & Abrechnung", "Tenants & metering"),
    "view.readiness": ("Bereitschaft", "Readiness"),
    "view.alerts": ("Alarme", "Alerts"),
    "view.host": ("Host {name}", "Host {name}"),
    "view.runbook": ("Runbook {name}", "Runbook {name}"),
    "bind.overview": ("Übersicht", "Overview"),
    "bind.hosts": ("Hosts", "Hosts"),
    "bind.devices": ("Geräte", "Devices"),
    "bind.metering": ("Abrechnung", "Metering"),
    "bind.readiness": ("Bereitschaft", "Readiness"),
    "bind.alerts": ("Alarme", "Alerts"),
    "bind.refresh": ("Neu laden", "Refresh"),
    "bind.quit": ("Beenden", "Quit"),
    "bind.back": ("Zurück", "Back"),
    "bind.filter": ("Filter", "Filter"),
    "bind.sort": ("Sortieren", "Sort"),
    "bind.reverse": ("Umkehren", "Reverse"),
    "bind.open": ("Öffnen", "Open"),
    "bind.ack": ("Quittieren", "Acknowledge"),
    "bind.silence": ("Stummschalten", "Silence"),
    "bind.unsilence": ("Stumm aufheben", "Unsilence"),
    "bind.runbook": ("Runbook", "Runbook"),
    "bind.state": ("Zustand", "State"),
    "bind.palette": ("Befehle", "Commands"),
    "palette.placeholder": ("Befehl suchen …", "Search for commands …"),
    "sys.theme": ("Farbschema", "Theme"),
    "sys.theme.help": ("Das Farbschema wechseln", "Change the current theme"),
    "sys.quit": ("Beenden", "Quit"),
    "sys.quit.help": ("Leitstand sofort beenden", "Quit the application as soon as possible"),
    "sys.keys": ("Tasten", "Keys"),
    "sys.keys.help": ("Die Tasten der Ansicht zeigen oder verbergen", "Show or hide the keys of the view"),
    "sys.maximize": ("Maximieren", "Maximize"),
    "sys.maximize.help": ("Das gewählte Element maximieren", "Maximize the focused widget"),
    "sys.minimize": ("Wiederherstellen", "Minimize"),
    "sys.minimize.help": ("Das Element wieder in normaler Größe zeigen", "Restore the widget to normal size"),
    "sys.screenshot": ("Bildschirmfoto", "Screenshot"),
    "sys.screenshot.help": ("Die Ansicht als SVG speichern", "Save an SVG 'screenshot' of the current screen"),
    "sys.bell": ("Glocke", "Bell"),
    "sys.bell.help": ("Die Glocke läuten", "Ring the bell"),
    "bind.help": ("Hilfe", "Help"),
    "cmd.view": ("Ansicht: {name}", "View: {name}"),
    "cmd.view.help": ("Zur Ansicht {name} wechseln", "Switch to the {name} view"),
    "cmd.host": ("Host: {name}", "Host: {name}"),
    "cmd.host.help": ("{tenant} · {site} · {state}", "{tenant} · {site} · {state}"),
    "cmd.refresh": ("Neu laden", "Refresh"),
    "cmd.refresh.help": ("Die aktuelle Ansicht vom Collector neu laden", "Reload the current view from the collector"),
    # connection
    "conn.lost": (
        "Collector {url} nicht erreichbar ({reason}). Neuer Versuch in {delay} s (Versuch {attempt}) – F5 sofort.",
        "Collector {url} unreachable ({reason}). Retrying in {delay} s (attempt {attempt}) – F5 retries now.",
    ),
    "conn.back": ("Verbindung zum Collector wiederhergestellt.", "Connection to the collector restored."),
    "err.unauthorized": (
        "Zugriff verweigert ({error}): Token prüfen (--token, LEITSTAND_TOKEN).",
        "Access denied ({error}): check the token (--token, LEITSTAND_TOKEN).",
    ),
    "err.api": ("Collector meldet: {error}", "Collector says: {error}"),
    "err.unexpected": ("Unerwartete Antwort: {error}", "Unexpected response: {error}"),
    "err.notavailable": ("{what}: auf diesem Collector nicht verfügbar", "{what}: not available on this collector"),
    # units and values
    "never": ("nie", "never"),
    "age.s": ("{n}s", "{n}s"),
    "age.m": ("{n}min", "{n}m"),
    "age.h": ("{n}h", "{n}h"),
    "age.d": ("{n}T", "{n}d"),
    "dur.min": ("{n} min", "{n} min"),
    "dur.h": ("{h} h {m} min", "{h} h {m} min"),
    "state.online": ("online", "online"),
    "state.offline": ("offline", "offline"),
    "state.up": ("ok", "up"),
    "state.unreachable": ("nicht erreichbar", "unreachable"),
    "state.stale": ("veraltet", "stale"),
    "state.firing": ("aktiv", "firing"),
    "state.pending": ("anstehend", "pending"),
    "state.resolved": ("behoben", "resolved"),
    "state.ready": ("bereit", "ready"),
    "state.degraded": ("eingeschränkt", "degraded"),
    "state.not_ready": ("nicht bereit", "not ready"),
    "state.open": ("offen", "open"),
    "state.closed": ("abgeschlossen", "closed"),
    "verdict.pass": ("ok", "pass"),
    "verdict.warn": ("Warnung", "warn"),
    "verdict.fail": ("Fehler", "fail"),
    "sev.critical": ("kritisch", "critical"),
    "sev.warning": ("Warnung", "warning"),
    "sev.info": ("Info", "info"),
    "loading": ("Lade …", "Loading …"),
    "none": ("–", "–"),
    # overview
    "ov.summary": (
        "Hosts {up}/{total} online · Geräte mit Problemen: {bad} · Alarme: {alerts} · KRITIS nicht bereit: {nr}",
        "Hosts {up}/{total} online · devices with problems: {bad} · alerts: {alerts} · KRITIS not ready: {nr}",
    ),
    "ov.col.tenant": ("Mandant / Standort", "Tenant / site"),
    "ov.col.up": ("online", "up"),
    "ov.col.down": ("offline", "down"),
    "ov.col.devices": ("Geräte!", "Devices!"),
    "ov.col.alerts": ("Alarme k/w/i", "Alerts c/w/i"),
    "ov.col.kritis": ("KRITIS!", "KRITIS!"),
    "ov.col.coverage": ("Abdeckung", "Coverage"),
    "ov.empty": ("Noch keine Hosts gemeldet.", "No hosts have reported yet."),
    # hosts
    "hosts.filter": (
        "Filter: Text, tenant: site: role: state:, cpu>80 …",
        "Filter: text, tenant: site: role: state:, cpu>80 …",
    ),
    "hosts.count": (
        "{shown} von {total} Hosts · sortiert nach {column}{dir}",
        "{shown} of {total} hosts · sorted by {column}{dir}",
    ),
    "col.host": ("Host", "Host"),
    "col.tenant": ("Mandant", "Tenant"),
    "col.site": ("Standort", "Site"),
    "col.role": ("Rolle", "Role"),
    "col.state": ("Zustand", "State"),
    "col.cpu": ("CPU", "CPU"),
    "col.mem": ("RAM", "Mem"),
    "col.disk": ("Disk", "Disk"),
    "col.load": ("Last", "Load"),
    "col.sessions": ("Sitz.", "Sess."),
    "col.last_seen": ("zuletzt", "seen"),
    "col.hostname": ("Host", "Host"),
    # host detail
    "host.info": (
        "{hostname} ({id}) · {tenant} · {site} · {role} · {os} · Agent {version} · {state}, zuletzt {seen}",
        "{hostname} ({id}) · {tenant} · {site} · {role} · {os} · agent {version} · {state}, last seen {seen}",
    ),
    "host.gaps": ("Datenlücken: {gaps}", "Data gaps: {gaps}"),
    "host.spark.cpu": ("CPU % (letzte {hours} h)", "CPU % (last {hours} h)"),
    "host.spark.mem": ("RAM % (letzte {hours} h)", "Memory % (last {hours} h)"),
    "host.spark.load": ("Last (letzte {hours} h)", "Load (last {hours} h)"),
    "host.spark.range": ("min {min} · max {max} · jetzt {now}", "min {min} · max {max} · now {now}"),
    "host.disks": ("Datenträger", "Disks"),
    "host.nics": ("Netzwerk", "Network"),
    "host.textfile": ("Textfile-Eingaben", "Textfile inputs"),
    "host.alerts": ("Alarme dieses Hosts", "This host's alerts"),
    "host.no_report": ("Noch kein Bericht.", "No report yet."),
    "col.mount": ("Mount", "Mount"),
    "col.device": ("Gerät", "Device"),
    "col.used": ("belegt", "used"),
    "col.size": ("Größe", "Size"),
    "col.nic": ("NIC", "NIC"),
    "col.rx": ("empfangen", "rx"),
    "col.tx": ("gesendet", "tx"),
    "col.errors": ("Fehler", "errors"),
    "col.metric": ("Metrik", "Metric"),
    "col.labels": ("Labels", "Labels"),
    "col.value": ("Wert", "Value"),
    # devices
    "col.kind": ("Art", "Kind"),
    "col.name": ("Name", "Name"),
    "col.summary": ("Messwerte", "Readings"),
    "col.problems": ("Probleme", "Problems"),
    "kind.printer": ("Drucker", "printer"),
    "kind.ups": ("USV", "UPS"),
    "kind.switch": ("Switch", "switch"),
    "kind.generic": ("Gerät", "device"),
    "dev.printer": ("{pages} Seiten · {status}", "{pages} pages · {status}"),
    "dev.ups": ("{state} · Laufzeit {runtime} · Ladung {charge}", "{state} · runtime {runtime} · charge {charge}"),
    "dev.switch": (
        "{up}/{total} Ports aktiv · Uplinks {uplinks_up}/{uplinks}",
        "{up}/{total} ports up · uplinks {uplinks_up}/{uplinks}",
    ),
    "dev.month_pages": ("Seiten diesen Monat: {pages}", "Pages this month: {pages}"),
    "dev.supplies": ("Verbrauchsmaterial", "Supplies"),
    "dev.interfaces": ("Schnittstellen", "Interfaces"),
    "dev.uplink": ("Uplink", "uplink"),
    "dev.error": ("Letzter Fehler: {error}", "Last error: {error}"),
    "dev.none": ("Keine SNMP-Geräte gemeldet.", "No SNMP devices reported."),
    "dev.ups_load": ("  Last {load} · Batterie {battery}", "  load {load} · battery {battery}"),
    # SNMP states as the devices report them (hrPrinterStatus, hrDeviceStatus,
    # upsBatteryStatus, ifOperStatus)
    "snmp.idle": ("bereit", "idle"),
    "snmp.printing": ("druckt", "printing"),
    "snmp.warmup": ("wärmt auf", "warming up"),
    "snmp.other": ("sonstiger Zustand", "other"),
    "snmp.unknown": ("unbekannt", "unknown"),
    "snmp.running": ("läuft", "running"),
    "snmp.warning": ("Warnung", "warning"),
    "snmp.testing": ("im Test", "testing"),
    "snmp.down": ("ausgefallen", "down"),
    "snmp.normal": ("normal", "normal"),
    "snmp.low": ("schwach", "low"),
    "snmp.depleted": ("erschöpft", "depleted"),
    "snmp.up": ("aktiv", "up"),
    "snmp.dormant": ("ruhend", "dormant"),
    "snmp.notPresent": ("nicht vorhanden", "not present"),
    "snmp.lowerLayerDown": ("Leitung unterbrochen", "lower layer down"),
    "ups.battery": ("auf Batterie", "on battery"),
    "ups.mains": ("Netzbetrieb", "on mains"),
    "problem.unreachable": ("nicht erreichbar", "unreachable"),
    "problem.stale": ("keine Daten", "no data"),
    "problem.supply_low": ("Material fast leer", "supply low"),
    "problem.printer_error": ("Druckerfehler", "printer error"),
    "problem.on_battery": ("auf Batterie", "on battery"),
    "problem.runtime_low": ("Restlaufzeit knapp", "runtime low"),
    "problem.uplink_down": ("Uplink ausgefallen", "uplink down"),
    # metering
    "met.col.tenant": ("Mandant", "Tenant"),
    "met.col.period": ("Zeitraum", "Period"),
    "met.col.status": ("Status", "Status"),
    "met.col.total": ("Summe", "Total"),
    "met.col.coverage": ("Abdeckung", "Coverage"),
    "met.col.meter": ("Zähler", "Meter"),
    "met.col.quantity": ("Menge", "Quantity"),
    "met.col.unit": ("Einheit", "Unit"),
    "met.col.price": ("Preis", "Price"),
    "met.col.amount": ("Betrag", "Amount"),
    "met.mtd": ("{tenant}: {period} bis heute ({status})", "{tenant}: {period} month to date ({status})"),
    "met.closed": ("Abgeschlossene Zeiträume: {periods}", "Closed periods: {periods}"),
    "met.no_tariff": ("kein Tarif", "no tariff"),
    # meter units the collector names in words (s, h, GiB, GiB·h read the same in both)
    "unit.pages": ("Seiten", "pages"),
    "unit.days": ("Tage", "days"),
    "met.none": ("Noch keine Verbrauchsdaten.", "No usage metered yet."),
    "met.col.quarantine": ("Quarantäne", "Quarantine"),
    "met.quarantine": (
        "Quarantäne (nicht abgerechnet): {pending} ungeprüft von {total}",
        "Quarantine (not billed): {pending} unreviewed of {total}",
    ),
    "met.quarantine.none": ("Quarantäne (nicht abgerechnet): leer", "Quarantine (not billed): empty"),
    "met.quarantine.review": (
        "Prüfen: leitstand-collector meter anomalies release|dismiss ID --reason …",
        "Review: leitstand-collector meter anomalies release|dismiss ID --reason …",
    ),
    "met.col.subject": ("Objekt", "Subject"),
    "met.col.rule": ("Regel", "Rule"),
    "met.col.span": ("Zeitraum", "Span"),
    "met.col.evidence": ("Nachweis", "Evidence"),
    "met.col.qstatus": ("Status", "Status"),
    "subject.host": ("Host", "host"),
    "subject.device": ("Gerät", "device"),
    "qrule.cpu_above_cores": ("CPU über Kerne × Zeit", "CPU above cores × time"),
    "qrule.memory_above_total": ("RAM über Gesamtspeicher", "memory above total"),
    "qrule.disk_above_total": ("Belegung über Plattengröße", "disk use above disk size"),
    "qrule.network_above_link": ("Verkehr über Link-Tempo × Zeit", "traffic above link speed × time"),
    "qrule.pages_above_ceiling": ("Seiten über Obergrenze pro Minute", "pages above the per-minute ceiling"),
    "qrule.value_out_of_range": ("Wert außerhalb des Speicherbereichs", "value beyond the storable range"),
    "qstatus.pending": ("ungeprüft", "pending"),
    "qstatus.released": ("freigegeben", "released"),
    "qstatus.dismissed": ("verworfen", "dismissed"),
    # readiness
    "rd.col.app": ("Anwendung", "Application"),
    "rd.col.criticality": ("Kritikalität", "Criticality"),
    "rd.col.score": ("Punkte", "Score"),
    "rd.col.failed": ("fehlgeschlagen", "failed checks"),
    "rd.col.check": ("Prüfung", "Check"),
    "rd.col.verdict": ("Ergebnis", "Verdict"),
    "rd.col.evidence": ("Nachweis", "Evidence"),
    "rd.col.runbook": ("Runbook", "Runbook"),
    "rd.none": ("Keine KRITIS-Anwendungen konfiguriert.", "No KRITIS applications configured."),
    "rd.detail": ("{name}: {status} · RPO {rpo} · RTO {rto}", "{name}: {status} · RPO {rpo} · RTO {rto}"),
    # alerts
    "al.col.severity": ("Schwere", "Severity"),
    "al.col.state": ("Zustand", "State"),
    "al.col.rule": ("Regel", "Rule"),
    "al.col.object": ("Objekt", "Object"),
    "al.col.since": ("seit", "since"),
    "al.col.flags": ("Q/S", "A/S"),
    "al.col.summary": ("Zusammenfassung", "Summary"),
    "al.filter": ("Zeige: {which} ({n})", "Showing: {which} ({n})"),
    "al.which.active": ("aktiv und anstehend", "firing and pending"),
    "al.which.firing": ("aktiv", "firing"),
    "al.which.pending": ("anstehend", "pending"),
    "al.which.silenced": ("stummgeschaltet", "silenced"),
    "al.which.resolved": ("behoben", "resolved"),
    "al.none": ("Keine Alarme.", "No alerts."),
    "al.detail": (
        "{summary}\n{description}\nRunbook: {runbook} · seit {started}{ack}",
        "{summary}\n{description}\nRunbook: {runbook} · since {started}{ack}",
    ),
    "al.acked_by": (" · quittiert von {by} ({at}): {comment}", " · acknowledged by {by} ({at}): {comment}"),
    "al.ack.title": ("Alarm quittieren: {rule} an {object}", "Acknowledge alert: {rule} on {object}"),
    "al.ack.comment": ("Kommentar (was wird getan?)", "Comment (what is being done?)"),
    "al.ack.done": ("Alarm {rule} an {object} quittiert.", "Alert {rule} on {object} acknowledged."),
    "al.ack.already": ("Bereits quittiert von {by}.", "Already acknowledged by {by}."),
    "al.silence.title": ("Stummschalten: {rule} an {object}", "Silence: {rule} on {object}"),
    "al.silence.duration": ("Dauer (30m, 2h, 1d)", "Duration (30m, 2h, 1d)"),
    "al.silence.matchers": ("Passend auf: {matchers}", "Matching: {matchers}"),
    "al.silence.bad_duration": ("Ungültige Dauer: {value}", "Invalid duration: {value}"),
    "al.silence.done": ("Stummgeschaltet bis {until} (Silence {id}).", "Silenced until {until} (silence {id})."),
    "al.unsilence.title": ("Stummschaltung {id} aufheben?", "Remove silence {id}?"),
    "al.unsilence.done": ("Stummschaltung {id} aufgehoben.", "Silence {id} removed."),
    "al.unsilence.none": ("Dieser Alarm ist nicht stummgeschaltet.", "This alert is not silenced."),
    "al.failed": ("Aktion fehlgeschlagen: {error}", "Action failed: {error}"),
    "al.no_runbook": ("Kein Runbook verknüpft.", "No runbook linked."),
    "dlg.confirm": ("Bestätigen", "Confirm"),
    "dlg.cancel": ("Abbrechen", "Cancel"),
    "dlg.comment_required": ("Bitte einen Kommentar eingeben.", "Please enter a comment."),
    # runbook
    "rb.missing": (
        "Runbook {name} ist auf dem Collector nicht vorhanden.{url}",
        "Runbook {name} is not available on the collector.{url}",
    ),
    "rb.url": ("\n\nExtern: {url}", "\n\nExternal: {url}"),
    "rb.link": ("Link (nicht geöffnet): {url}", "Link (not opened): {url}"),
}

_lang = "en"


def default_language(env: dict[str, str] | None = None) -> str:
    """German when the locale says so, else English."""
    environ = os.environ if env is None else env
    for var in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        value = environ.get(var)
        if value:
            return "de" if value.lower().startswith("de") else "en"
    if env is None:
        try:
            loc = locale.getlocale()[0] or ""
        except ValueError:
            loc = ""
        if loc.lower().startswith("de"):
            return "de"
    return "en"


def set_language(lang: str) -> None:
    global _lang
    if lang not in LANGS:
        raise ValueError(f"language must be one of {', '.join(LANGS)}, not {lang!r}")
    _lang = lang


def get_language() -> str:
    return _lang


def t(key: str, **params: object) -> str:
    """The catalog string of `key` in the current language, formatted with `params`."""
    de, en = CATALOG[key]
    text = de if _lang == "de" else en
    return text.format(**params) if params else text


def tv(prefix: str, value: object) -> str:
    """The translation of a value from the API (a state, a severity, a kind), or the value itself."""
    key = f"{prefix}.{value}"
    return t(key) if key in CATALOG else ("–" if value is None else str(value))
