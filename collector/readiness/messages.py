"""The catalog findings are rendered with: German (default) and English.

A finding carries a key and parameters; the text is made here, so the API
can answer in either language and tests assert on the parameters. Numbers
are written as the language writes them (`0,6 km`, `200 km` in German).
"""

from __future__ import annotations

from collections.abc import Mapping

from ..numbers import number
from .model import Finding

__all__ = ["LANGS", "TITLES", "fmt_duration", "render", "title"]

LANGS = ("de", "en")

TITLES: dict[str, tuple[str, str]] = {
    "instances_healthy": ("Genügend gesunde Instanzen", "Enough healthy instances"),
    "distinct_sites": ("Instanzen an verschiedenen Standorten", "Instances on distinct sites"),
    "site_loss": ("Kein Standort hält alle Instanzen", "No single site holds every instance"),
    "site_distance": ("Abstand der Standorte", "Distance between sites"),
    "backup_age": ("Alter der letzten Sicherung innerhalb RPO", "Backup age within RPO"),
    "replication_lag": ("Replikationsverzug innerhalb RPO", "Replication lag within RPO"),
    "standby_headroom": (
        "Reserve des Standby für die Last des Primärsystems",
        "Standby headroom for the primary's load",
    ),
    "ups_runtime": ("USV-Überbrückungszeit je Standort", "UPS runtime at each site"),
    "uplinks": ("Redundante Uplinks je Standort", "Redundant uplinks at each site"),
    "failover_test": ("Letzter Umschalttest bestanden und aktuell", "Last failover test passed and recent"),
    "certificate": ("Gültigkeit des Zertifikats", "Certificate validity"),
    "dns": ("DNS-Auflösung", "DNS resolution"),
    "evidence_fresh": ("Nachweise aktuell", "Evidence fresh"),
}

# key -> (German, English); str.format with the finding's params
CATALOG: dict[str, tuple[str, str]] = {
    "evidence.missing": ("{source}: kein Nachweis vorhanden", "{source}: no evidence"),
    "evidence.stale": (
        "{source}: Nachweis veraltet, letzter Stand vor {age} (Grenze {limit})",
        "{source}: evidence stale, last update {age} ago (limit {limit})",
    ),
    "evidence.fresh": (
        "{count} Nachweisquellen aktuell, älteste vor {age}",
        "{count} evidence sources fresh, oldest {age} ago",
    ),
    "instance.unknown": (
        "Host {host} ({role}, Standort {site}) ist im Mandanten {tenant} nicht angemeldet",
        "host {host} ({role}, site {site}) is not enrolled in tenant {tenant}",
    ),
    "instance.ambiguous": (
        "Host {host} ({role}, Standort {site}): der Hostname wird von mehreren Agenten des Mandanten "
        'beansprucht ({agents}); welcher die Instanz ist, ist nicht belegt. In der Konfiguration agent = "<Agent-ID>" '
        "angeben oder den falschen Agenten entfernen",
        "host {host} ({role}, site {site}): hostname {host} is claimed by agents {agents}; which one is the "
        'instance is not proven. Set agent = "<agent id>" in the config or remove the wrong agent',
    ),
    "source.ambiguous": (
        "{source}: der Hostname {host} wird von mehreren Agenten des Mandanten beansprucht ({agents}); "
        'kein Nachweis zählt, bis die Konfiguration agent = "<Agent-ID>" nennt',
        "{source}: hostname {host} is claimed by agents {agents}; no sample counts until the config "
        'names agent = "<agent id>"',
    ),
    "instance.healthy": (
        "Host {host} ({role}, Standort {site}) meldet, CPU {cpu} %, Speicher {memory} %",
        "host {host} ({role}, site {site}) reporting, CPU {cpu} %, memory {memory} %",
    ),
    "instance.overloaded": (
        "Host {host} ({role}, Standort {site}) überlastet: {what} {value} % (Grenze {target} %)",
        "host {host} ({role}, site {site}) overloaded: {what} {value} % (limit {target} %)",
    ),
    "instance.no_data": (
        "Host {host} ({role}, Standort {site}) meldet keine CPU- und Speicherwerte",
        "host {host} ({role}, site {site}) reports no CPU and memory figures",
    ),
    "instances.count": (
        "{healthy} von {total} Instanzen gesund (mindestens {target})",
        "{healthy} of {total} instances healthy (at least {target})",
    ),
    "instances.no_standby": (
        "kein gesunder Standby: Umschalten nicht möglich",
        "no healthy standby: failover impossible",
    ),
    "sites.count": (
        "Instanzen an {count} Standorten ({sites}), verlangt mindestens {target}",
        "instances on {count} sites ({sites}), at least {target} required",
    ),
    "sites.mismatch": (
        "Host {host}: laut Konfiguration Standort {site}, der Agent meldet {reported}",
        "host {host}: configured at site {site}, its agent reports {reported}",
    ),
    "sites.single": (
        "Standort {site} hält alle {count} Instanzen: fällt er aus, fällt die Anwendung aus",
        "site {site} holds all {count} instances: losing it loses the application",
    ),
    "sites.spread": ("Instanzen verteilt: {spread}", "instances spread: {spread}"),
    "distance.single_site": (
        "nur Standort {site}: kein Ausweichstandort",
        "only site {site}: no alternate site",
    ),
    "distance.pair": (
        "Standort {site} → nächster Ausweichstandort {other}: {km} km "
        "(Warnung unter {warn} km, Fehler unter {fail} km)",
        "site {site} → alternate site {other}: {km} km (warn below {warn} km, fail below {fail} km)",
    ),
    "backup.ok": (
        "Sicherung {series} auf {host} (Standort {site}): vor {age}, RPO {target}",
        "backup {series} on {host} (site {site}): {age} ago, RPO {target}",
    ),
    "backup.too_old": (
        "Sicherung {series} auf {host} (Standort {site}) ist {age} alt, RPO {target}",
        "backup {series} on {host} (site {site}) is {age} old, RPO {target}",
    ),
    "backup.near_rpo": (
        "Sicherung {series} auf {host} (Standort {site}) ist {age} alt, nahe am RPO {target}",
        "backup {series} on {host} (site {site}) is {age} old, close to RPO {target}",
    ),
    "backup.future": (
        "Sicherung {series} auf {host} (Standort {site}) liegt {age} in der Zukunft: Uhr prüfen",
        "backup {series} on {host} (site {site}) lies {age} in the future: check the clock",
    ),
    "replication.ok": (
        "Replikation {series} auf {host} (Standort {site}): Verzug {lag}, RPO {target}",
        "replication {series} on {host} (site {site}): lag {lag}, RPO {target}",
    ),
    "replication.too_high": (
        "Replikation {series} auf {host} (Standort {site}): Verzug {lag} überschreitet RPO {target}",
        "replication {series} on {host} (site {site}): lag {lag} exceeds RPO {target}",
    ),
    "replication.near_rpo": (
        "Replikation {series} auf {host} (Standort {site}): Verzug {lag} nahe am RPO {target}",
        "replication {series} on {host} (site {site}): lag {lag} close to RPO {target}",
    ),
    "headroom.cpu": (
        "Standby {host} (Standort {site}): {free} Kerne frei, Last von {primary}: {need} Kerne + {margin} % Reserve",
        "standby {host} (site {site}): {free} cores free, load of {primary}: {need} cores + {margin} % margin",
    ),
    "headroom.memory": (
        "Standby {host} (Standort {site}): {free} GiB Speicher frei, "
        "Last von {primary}: {need} GiB + {margin} % Reserve",
        "standby {host} (site {site}): {free} GiB memory free, load of {primary}: {need} GiB + {margin} % margin",
    ),
    "headroom.no_data": (
        "Host {host} (Standort {site}) meldet keine CPU- und Speicherwerte",
        "host {host} (site {site}) reports no CPU and memory figures",
    ),
    "ups.none": (
        "Standort {site}: keine USV konfiguriert (readiness.sites.{site}.ups)",
        "site {site}: no UPS configured (readiness.sites.{site}.ups)",
    ),
    "ups.ok": (
        "USV {device} (Standort {site}): Netzbetrieb, Überbrückung {runtime}, Minimum {target}",
        "UPS {device} (site {site}): on mains, runtime {runtime}, minimum {target}",
    ),
    "ups.runtime_low": (
        "USV {device} (Standort {site}): Überbrückung {runtime} unter Minimum {target}",
        "UPS {device} (site {site}): runtime {runtime} below minimum {target}",
    ),
    "ups.runtime_near": (
        "USV {device} (Standort {site}): Überbrückung {runtime} knapp über Minimum {target}",
        "UPS {device} (site {site}): runtime {runtime} just above minimum {target}",
    ),
    "ups.runtime_unknown": (
        "USV {device} (Standort {site}): meldet keine Überbrückungszeit",
        "UPS {device} (site {site}): reports no runtime",
    ),
    "ups.on_battery": (
        "USV {device} (Standort {site}): im Batteriebetrieb (Netzausfall), Überbrückung {runtime}",
        "UPS {device} (site {site}): on battery (mains failure), runtime {runtime}",
    ),
    "ups.battery": (
        "USV {device} (Standort {site}): Batteriezustand {status}",
        "UPS {device} (site {site}): battery status {status}",
    ),
    "ups.self_test_failed": (
        "USV {device} (Standort {site}): letzter Selbsttest {result}",
        "UPS {device} (site {site}): last self-test {result}",
    ),
    "device.unreachable": (
        "Gerät {device} (Standort {site}) nicht erreichbar: {error}",
        "device {device} (site {site}) unreachable: {error}",
    ),
    "uplinks.none_declared": (
        "Standort {site}: keine Switches konfiguriert (readiness.sites.{site}.switches)",
        "site {site}: no switches configured (readiness.sites.{site}.switches)",
    ),
    "uplinks.none_flagged": (
        "Standort {site}: kein Switch meldet Uplinks (uplinks in der Gerätekonfiguration des Agenten)",
        "site {site}: no switch reports uplinks (uplinks in the agent's device config)",
    ),
    "uplinks.down": (
        "Standort {site}: Uplink {interface} an {device} ist {status}",
        "site {site}: uplink {interface} on {device} is {status}",
    ),
    "uplinks.ok": (
        "Standort {site}: {up} Uplinks aktiv (mindestens {target})",
        "site {site}: {up} uplinks up (at least {target})",
    ),
    "uplinks.not_redundant": (
        "Standort {site}: nur {up} Uplink aktiv, nicht redundant (mindestens {target})",
        "site {site}: only {up} uplink up, not redundant (at least {target})",
    ),
    "uplinks.all_down": (
        "Standort {site}: kein Uplink aktiv (mindestens {target})",
        "site {site}: no uplink up (at least {target})",
    ),
    "failover.never": (
        "kein Umschalttest erfasst (leitstand-collector readiness record-test)",
        "no failover test recorded (leitstand-collector readiness record-test)",
    ),
    "failover.failed": (
        "letzter Umschalttest am {date} fehlgeschlagen{note}",
        "last failover test on {date} failed{note}",
    ),
    "failover.overdue": (
        "letzter Umschalttest am {date}, vor {age} Tagen (höchstens {target} Tage)",
        "last failover test on {date}, {age} days ago (at most {target} days)",
    ),
    "failover.due_soon": (
        "letzter Umschalttest am {date}, vor {age} Tagen: in {left} Tagen fällig",
        "last failover test on {date}, {age} days ago: due in {left} days",
    ),
    "failover.ok": (
        "letzter Umschalttest am {date} bestanden, vor {age} Tagen (höchstens {target} Tage)",
        "last failover test on {date} passed, {age} days ago (at most {target} days)",
    ),
    "cert.ok": (
        "Zertifikat {series} auf {host}: noch {days} Tage gültig",
        "certificate {series} on {host}: valid for {days} more days",
    ),
    "cert.expiring": (
        "Zertifikat {series} auf {host}: läuft in {days} Tagen ab (Warnung unter {warn}, Fehler unter {fail} Tagen)",
        "certificate {series} on {host}: expires in {days} days (warn below {warn}, fail below {fail} days)",
    ),
    "cert.expired": (
        "Zertifikat {series} auf {host}: seit {days} Tagen abgelaufen",
        "certificate {series} on {host}: expired {days} days ago",
    ),
    "dns.ok": ("DNS {series} auf {host}: löst auf", "DNS {series} on {host}: resolves"),
    "dns.failed": (
        "DNS {series} auf {host}: löst nicht wie erwartet auf (Wert {value})",
        "DNS {series} on {host}: does not resolve as expected (value {value})",
    ),
}


def fmt_duration(seconds: float) -> str:
    """Language-neutral short duration: 45 s, 95 min, 26 h 5 min, 3 d 4 h."""
    s = abs(seconds)
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    if s < 172800:
        h, rest = divmod(round(s / 60), 60)
        return f"{h} h {rest} min" if rest else f"{h} h"
    d, rest = divmod(round(s / 3600), 24)
    return f"{d} d {rest} h" if rest else f"{d} d"


def title(check: str, lang: str = "de") -> str:
    return TITLES[check][LANGS.index(lang)]


def render(finding: Finding, lang: str = "de") -> str:
    template = CATALOG[finding.key][LANGS.index(lang)]
    return template.format_map(_Params(finding.params, lang))


class _Params(dict[str, object]):
    def __init__(self, params: Mapping[str, object], lang: str) -> None:
        super().__init__({key: _text(value, lang) for key, value in params.items()})

    def __missing__(self, key: str) -> str:
        return "?"


def _text(value: object, lang: str) -> object:
    """German numbers with a decimal comma and a whole value without `,0`; English texts keep Python's."""
    if lang != "de" or not isinstance(value, int | float) or isinstance(value, bool):
        return value
    return number(int(value) if isinstance(value, float) and value.is_integer() else value, "", lang)
